package graph

import (
	"context"
	"strconv"
	"testing"
	"time"

	"vpconnect/syncer"
	"vpconnect/syncer/graph/graphsim"
)

// BenchmarkInitialListing100k lists a 100,000-message folder through the
// client and the simulator over loopback HTTP: the initial scan of docs/behaviour.md §7.
// It reports Graph requests per listing (target: items/page size + 2).
// Run with: go test -run '^$' -bench InitialListing -benchtime 3x ./syncer/graph/
func BenchmarkInitialListing100k(b *testing.B) {
	const n = 100_000
	e := newEnv(b, Options{})
	inbox := e.inbox(b)
	for i := range n {
		e.sim.AddMessage(inbox, graphsim.Message{
			Subject: "Message " + strconv.Itoa(i),
			From:    graphsim.Recipient{Name: "Dana Swope", Address: "danas@contoso.com"},
			To:      []graphsim.Recipient{{Name: "Adele Vance", Address: "AdeleV@contoso.onmicrosoft.com"}},
			Body:    "<p>Hello</p>",
		})
	}
	e.sim.Observe(nil)
	ctx := context.Background()
	var requests int64
	b.ReportAllocs()
	for b.Loop() {
		before := e.sim.Requests()
		got := 0
		_, err := e.client.MessageChanges(ctx, inbox, "", func(p []syncer.MessageChange) error {
			got += len(p)
			return nil
		})
		if err != nil {
			b.Fatal(err)
		}
		if got != n {
			b.Fatalf("listed %d, want %d", got, n)
		}
		requests = e.sim.Requests() - before
	}
	b.ReportMetric(float64(requests), "requests/op")
	b.ReportMetric(float64(n), "messages/op")
}

// BenchmarkInitialContacts5k lists a 5,000-contact folder (docs/behaviour.md §7).
// Run with: go test -run '^$' -bench 'Initial(Contacts|Events)' -benchtime 3x ./syncer/graph/
func BenchmarkInitialContacts5k(b *testing.B) {
	const n = 5_000
	e := newEnv(b, Options{})
	f := e.sim.AddContactFolder("Vantagepoint")
	for i := range n {
		e.sim.AddContact(f.ID, graphsim.Contact{GivenName: "Given" + strconv.Itoa(i), Surname: "Surname",
			EmailAddresses: []graphsim.Recipient{{Name: "Given Surname", Address: "c" + strconv.Itoa(i) + "@client.example"}},
			BusinessPhones: []string{"+1 555 0100"}, CompanyName: "Fabrikam", JobTitle: "Engineer"})
	}
	e.sim.Observe(nil)
	ctx := context.Background()
	var requests int64
	b.ReportAllocs()
	for b.Loop() {
		before := e.sim.Requests()
		got := 0
		if _, err := e.client.ContactChanges(ctx, f.ID, "", func(p []syncer.MailboxContact) error { got += len(p); return nil }); err != nil {
			b.Fatal(err)
		}
		if got != n {
			b.Fatalf("listed %d, want %d", got, n)
		}
		requests = e.sim.Requests() - before
	}
	b.ReportMetric(float64(requests), "requests/op")
}

// BenchmarkInitialEvents5k lists 5,000 events of a calendar view (docs/behaviour.md §7).
func BenchmarkInitialEvents5k(b *testing.B) {
	const n = 5_000
	e := newEnv(b, Options{})
	day := time.Date(2026, 11, 2, 8, 0, 0, 0, time.UTC)
	for i := range n {
		st := day.Add(time.Duration(i%180*24+i%9) * time.Hour)
		e.sim.AddEvent(graphsim.Event{Subject: "Meeting " + strconv.Itoa(i), Start: st, End: st.Add(time.Hour),
			Body: "<p>Agenda</p>", Location: "Room 1", Categories: []string{"Vantagepoint"},
			Attendees: []graphsim.Attendee{{Type: "required", Name: "Dana", Address: "dana@contoso.com"}}})
	}
	e.sim.Observe(nil)
	ctx := context.Background()
	var requests int64
	b.ReportAllocs()
	for b.Loop() {
		before := e.sim.Requests()
		got := 0
		if _, err := e.client.EventChanges(ctx, day.AddDate(0, 0, -14), day.AddDate(0, 0, 181), "", func(p []syncer.MailboxEvent) error { got += len(p); return nil }); err != nil {
			b.Fatal(err)
		}
		if got != n {
			b.Fatalf("listed %d, want %d", got, n)
		}
		requests = e.sim.Requests() - before
	}
	b.ReportMetric(float64(requests), "requests/op")
}
