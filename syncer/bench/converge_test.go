package bench

import (
	"context"
	"fmt"
	"log/slog"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/oauth2"

	"vpconnect/syncer"
	"vpconnect/syncer/graph"
	"vpconnect/syncer/graph/graphsim"
	"vpconnect/syncer/store"
	"vpconnect/syncer/vantagepoint"
	"vpconnect/syncer/vantagepoint/vpsim"
)

// docs/behaviour.md §8: faults from the simulators at random during a large sync —
// 5xx, 429 with Retry-After, connection resets, slow and malformed answers,
// 410 — and still: it converges, nothing is lost, nothing is duplicated.
// The sync has 2,000 tagged e-mails, and contacts and meetings created on
// both sides (some of them present on both, to be matched, not copied).
func TestFaultsDuringALargeSyncConverge(t *testing.T) {
	const (
		messages = 2000
		contacts = 200 // per side, of which `shared` exist on both
		meetings = 150 // per side, of which `shared` exist on both
		shared   = 20
	)
	ctx := context.Background()
	now := time.Now().UTC()

	g := graphsim.New(graphsim.Options{User: graphsim.User{DisplayName: "Pat", Mail: benchUser, UserPrincipalName: benchUser}})
	if _, err := g.Start("127.0.0.1:0"); err != nil {
		t.Fatal(err)
	}
	defer g.Close()
	v := vpsim.New(vpsim.Options{Database: "FAULTS"})
	if _, err := v.Start("127.0.0.1:0"); err != nil {
		t.Fatal(err)
	}
	defer v.Close()
	v.AddEmployee(vpsim.Employee{Employee: benchEmployee, FirstName: "Pat", LastName: "Bench", EMail: benchUser, Status: "A"})
	v.AddUser("PBENCH", "bench", benchEmployee)
	v.AddFirm(vpsim.Firm{ClientID: "F1", Name: "Firm One"})
	for i := range 50 {
		v.AddContact(vpsim.Contact{ClientID: "F1", FirstName: "C", LastName: fmt.Sprintf("Contact%02d", i),
			Email: fmt.Sprintf("c%02d@client.example", i), ContactStatus: "A", Owner: "99999"})
	}
	tagged := map[string]bool{}
	for i := range messages {
		m := g.AddMessage("inbox", graphsim.Message{
			Subject: fmt.Sprintf("Message %04d", i), BodyType: "text", Body: "Hello",
			From:         graphsim.Recipient{Address: fmt.Sprintf("c%02d@client.example", i%50)},
			To:           []graphsim.Recipient{{Address: benchUser}},
			SentDateTime: now.Add(-time.Duration(i) * time.Minute),
			Categories:   []string{"Vantagepoint"},
		})
		tagged[m.InternetMessageID] = true
	}

	st, err := store.Open(filepath.Join(t.TempDir(), "sync.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	log := slog.New(slog.DiscardHandler)
	mb, err := graph.New(graph.Options{GraphURL: g.GraphURL(), TokenSource: g.TokenSource(), Logger: log})
	if err != nil {
		t.Fatal(err)
	}
	vp, err := vantagepoint.New(vantagepoint.Options{APIURL: v.APIURL(), TokenSource: oauth2.StaticTokenSource(&oauth2.Token{AccessToken: v.IssueAccessToken("PBENCH")}), Logger: log,
		RetryBase: time.Millisecond, MaxBackoff: 50 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	eng := syncer.New(mb, vp, st, syncer.Options{Employee: benchEmployee, Logger: log})
	if err := eng.Prepare(ctx); err != nil {
		t.Fatal(err)
	}
	// Contacts and meetings on both sides; the first `shared` of each exist
	// on both sides already and must be paired, not copied.
	var folder string
	for _, f := range g.ContactFolders() {
		if f.DisplayName == "Vantagepoint" {
			folder = f.ID
		}
	}
	if folder == "" {
		t.Fatal("initialization made no contact folder")
	}
	wantContacts := map[string]bool{}   // e-mail addresses
	wantMeetings := map[string]bool{}   // subjects
	day := now.Truncate(24 * time.Hour) // inside the window: the next days
	for i := range contacts {
		addr := fmt.Sprintf("vp%03d@partner.example", i)
		v.AddContact(vpsim.Contact{ClientID: "F1", FirstName: "Vee", LastName: fmt.Sprintf("Pee%03d", i), Email: addr,
			Title: "Engineer", ContactStatus: "A", Owner: benchEmployee})
		wantContacts[addr] = true
		if i >= shared {
			addr = fmt.Sprintf("ol%03d@partner.example", i)
			wantContacts[addr] = true
		}
		g.AddContact(folder, graphsim.Contact{GivenName: "Oh", Surname: fmt.Sprintf("El%03d", i), CompanyName: "Firm One",
			EmailAddresses: []graphsim.Recipient{{Address: addr}}, JobTitle: "Engineer"})
	}
	for i := range meetings {
		start := day.Add(time.Duration(24+i) * time.Hour)
		subject := fmt.Sprintf("VP meeting %03d", i)
		v.AddActivity(vpsim.Activity{Type: "Meeting", Subject: subject, StartDate: vpsim.FormatDate(start),
			EndDate: vpsim.FormatDate(start.Add(time.Hour)), Notes: "Agenda", PrivateInd: "N", AllDayEventInd: "N",
			Owner: benchEmployee, Employee: benchEmployee})
		wantMeetings[subject] = true
		if i >= shared {
			start = start.Add(30 * time.Minute)
			subject = fmt.Sprintf("Outlook meeting %03d", i)
			wantMeetings[subject] = true
		}
		g.AddEvent(graphsim.Event{Subject: subject, BodyType: "text", Body: "Agenda", Start: start, End: start.Add(time.Hour),
			Categories: []string{"Vantagepoint"}, Type: "singleInstance"})
	}
	// Faults everywhere, at random.
	for _, f := range []graphsim.Fault{
		{Status: 503, RetryAfter: 10 * time.Millisecond, Probability: 0.01},
		{Status: 429, RetryAfter: 20 * time.Millisecond, Probability: 0.01},
		{ResetConnection: true, Probability: 0.005},
		{Malformed: true, Method: "GET", Probability: 0.005},
		{Latency: 30 * time.Millisecond, Probability: 0.01},
	} {
		g.InjectFault(f)
	}
	for _, f := range []vpsim.Fault{
		{Status: 500, Probability: 0.02},
		{Status: 503, Probability: 0.02},
		{ResetConnection: true, Probability: 0.02}, // on a POST: the create may or may not have happened
		{Malformed: true, Method: "GET", Probability: 0.01},
	} {
		v.InjectFault(f)
	}

	for i := 0; ; i++ {
		if i == 3 {
			g.ExpireDeltaTokens() // a 410 in the middle of it all
		}
		b, _ := eng.Run(ctx, syncer.TriggerSchedule)
		if i >= 6 {
			g.ClearFaults()
			v.ClearFaults()
		}
		if i > 12 && b.Outcome == syncer.OutcomeOK && !wrote(b) {
			break
		}
		if i > 40 {
			t.Fatalf("no convergence after %d batches; last %+v", i, b)
		}
	}

	// Nothing lost, nothing duplicated.
	perMessage := map[string]int{}
	for _, a := range v.Activities() {
		if a.Type != "EMail" {
			continue
		}
		notes := vantagepoint.NotesText(a.Notes) // kept as rich text
		i := strings.Index(notes, "Message-ID: ")
		if i < 0 {
			t.Fatalf("activity %s without a message reference", a.ActivityID)
		}
		perMessage[strings.TrimSpace(notes[i+len("Message-ID: "):])]++
	}
	for id := range tagged {
		if perMessage[id] != 1 {
			t.Errorf("message %s has %d activities, want 1", id, perMessage[id])
		}
	}
	if len(perMessage) != len(tagged) {
		t.Errorf("%d messages have activities, want %d", len(perMessage), len(tagged))
	}
	unmarked := 0
	for _, m := range g.Messages(g.FolderID("inbox")) {
		if !contains(m.Categories, "Vantagepoint: Synced") || contains(m.Categories, "Vantagepoint: Sync Error") {
			unmarked++
		}
	}
	if unmarked > 0 {
		t.Errorf("%d messages are not marked Synced", unmarked)
	}

	// Contacts and meetings: each exactly once on each side.
	vpContacts, olContacts := map[string]int{}, map[string]int{}
	for _, c := range v.Contacts() {
		if c.Owner == benchEmployee {
			vpContacts[strings.ToLower(c.Email)]++
		}
	}
	for _, c := range g.Contacts(folder) {
		for _, a := range c.EmailAddresses[:1] {
			olContacts[strings.ToLower(a.Address)]++
		}
	}
	exactlyOnce(t, "Vantagepoint contacts", wantContacts, vpContacts)
	exactlyOnce(t, "Outlook contacts", wantContacts, olContacts)
	vpMeetings, olMeetings := map[string]int{}, map[string]int{}
	for _, a := range v.Activities() {
		if a.Type == "Meeting" {
			vpMeetings[a.Subject]++
		}
	}
	for _, ev := range g.Events() {
		olMeetings[ev.Subject]++
	}
	exactlyOnce(t, "Vantagepoint meetings", wantMeetings, vpMeetings)
	exactlyOnce(t, "Outlook meetings", wantMeetings, olMeetings)
}

func wrote(b store.Batch) bool {
	for _, c := range b.Counts {
		if c.Created+c.Updated+c.Deleted+c.Unlinked > 0 {
			return true
		}
	}
	return false
}

// exactlyOnce checks that every wanted key is present once and nothing else
// is.
func exactlyOnce(t *testing.T, where string, want map[string]bool, got map[string]int) {
	t.Helper()
	for k := range want {
		if got[k] != 1 {
			t.Errorf("%s: %q is there %d times, want once", where, k, got[k])
		}
	}
	for k := range got {
		if !want[k] {
			t.Errorf("%s: unexpected %q", where, k)
		}
	}
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}
