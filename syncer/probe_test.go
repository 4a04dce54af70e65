package syncer

import (
	"context"
	"testing"
	"time"

	"vpconnect/syncer/store"
)

// The mailbox probe of docs/behaviour.md §4.6: between Vantagepoint polls the agent asks
// the mailbox, one delta round per collection, whether a batch is worth
// running.

func (e *env) probe() bool {
	e.t.Helper()
	vpBefore := e.vp.Requests()
	changed, err := e.eng.MailboxChanged(context.Background())
	if err != nil {
		e.t.Fatalf("MailboxChanged: %v", err)
	}
	if n := e.vp.Requests() - vpBefore; n != 0 {
		e.t.Errorf("the mailbox probe sent %d requests to Vantagepoint", n)
	}
	return changed
}

func TestMailboxProbeSeesUserChangesNotTheAgentsOwnWrites(t *testing.T) {
	e := newEnv(t)
	if !e.probe() {
		t.Fatal("before the first batch the probe must ask for one")
	}
	e.mb.add("inbox", tagged("Site visit", "alice@fabrikam.com", "dana@contoso.com"))
	e.vp.CreateContact(context.Background(), vpContact("Ana", "Ruiz", "ana@fabrikam.com", "F1"))
	e.outlookMeeting("Design review", now.Add(48*time.Hour))
	e.run()
	// The batch filed the e-mail (a category write), copied the contact to
	// Outlook and the meeting to Vantagepoint: none of that is news.
	if e.probe() {
		t.Fatal("the agent's own writes woke the probe")
	}

	// Untagged mail arriving is not worth a batch.
	e.mb.add("inbox", Message{MessageChange: MessageChange{InternetMessageID: "<lunch@x>", Subject: "Lunch?", SentAt: now}})
	if e.probe() {
		t.Error("an untagged e-mail woke the probe")
	}

	cases := []struct {
		name string
		edit func()
	}{
		{"a tagged e-mail", func() { e.mb.add("sentitems", tagged("Invoice 42", "dana@contoso.com", "alice@fabrikam.com")) }},
		{"an edited contact", func() {
			c := findOutlook(e, "ana@fabrikam.com")[0]
			e.editOutlookContact(c.ID, func(c *MailboxContact) { c.JobTitle = "Partner" })
		}},
		{"a new contact", func() {
			e.outlookContact(MailboxContact{GivenName: "Ben", Surname: "Okafor", Email: "ben@fabrikam.com"})
		}},
		{"a moved meeting", func() {
			ev := eventsNamed(e, "Design review")[0]
			e.editOutlookEvent(ev.ID, func(ev *MailboxEvent) { ev.Start, ev.End = ev.Start.Add(time.Hour), ev.End.Add(time.Hour) })
		}},
		{"a deleted contact", func() { e.deleteOutlookContact(findOutlook(e, "ana@fabrikam.com")[0].ID) }},
	}
	for _, c := range cases {
		c.edit()
		if !e.probe() {
			t.Errorf("%s did not wake the probe", c.name)
		}
		// The probe keeps no cursor: the batch sees the change, and after
		// it all is quiet again.
		if b := e.run(); !wrote(b) {
			t.Errorf("%s: the batch after the probe changed nothing: %+v", c.name, b.Counts)
		}
		if e.probe() {
			t.Errorf("%s: the probe still sees news after the batch", c.name)
		}
	}
}

func wrote(b store.Batch) bool {
	for _, c := range b.Counts {
		if c.Created+c.Updated+c.Deleted+c.Unlinked > 0 {
			return true
		}
	}
	return false
}
