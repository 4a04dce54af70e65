package syncer

import (
	"context"
	"testing"
	"time"

	"vpconnect/syncer/store"
)

// A batch that a mailbox change or a track request starts (ScopeMailbox)
// takes Outlook's changes to Vantagepoint without listing Vantagepoint: the
// fleet's budget is spent on the polls (docs/behaviour.md §4.6).

func (e *env) runMailbox() store.Batch {
	e.t.Helper()
	b, err := e.eng.RunScoped(context.Background(), TriggerSchedule, ScopeMailbox)
	if err != nil {
		e.t.Fatalf("mailbox batch failed: %v (%+v)", err, b)
	}
	return b
}

func TestMailboxBatchTakesOutlookChangesWithoutListingVantagepoint(t *testing.T) {
	e, o, v := pairedContact(t, originVantagepoint)

	if b := e.runMailbox(); b.Requests["vantagepoint"] != 0 {
		t.Errorf("a quiet mailbox batch made %d Vantagepoint requests, want 0", b.Requests["vantagepoint"])
	}
	if b := e.run(); b.Requests["vantagepoint"] != 2 {
		t.Errorf("a quiet full batch made %d Vantagepoint requests, want 2 (contacts and meetings)", b.Requests["vantagepoint"])
	}

	e.editOutlookContact(o.ID, func(c *MailboxContact) { c.JobTitle = "Director" })
	b := e.runMailbox()
	if got := findVP(e, "vera@x.example")[0]; got.Title != "Director" || b.Counts[TypeContacts].Updated != 1 {
		t.Fatalf("Outlook edit in a mailbox batch: Vantagepoint title %q, counts %+v", got.Title, b.Counts[TypeContacts])
	}

	// A Vantagepoint change waits for the next poll, and is not lost by
	// the mailbox batches before it.
	e.vp.editContact(v.ID, func(c *Contact) { c.CellPhone = "+1 555 0777" })
	e.runMailbox()
	if got := findOutlook(e, "vera@x.example")[0]; got.MobilePhone != "" {
		t.Fatalf("a mailbox batch copied a Vantagepoint change: Outlook mobile %q", got.MobilePhone)
	}
	e.run()
	if got := findOutlook(e, "vera@x.example")[0]; got.MobilePhone != "+1 555 0777" {
		t.Fatalf("the poll after mailbox batches: Outlook mobile %q, want the Vantagepoint change", got.MobilePhone)
	}
	e.quiet()
}

func TestMailboxBatchNeverOverwritesAnUnlistedVantagepointEdit(t *testing.T) {
	e, o, v := pairedContact(t, originBoth)
	e.eng.opts.Conflict = ConflictVantagepoint
	e.vp.editContact(v.ID, func(c *Contact) { c.Title = "VP title" })
	e.editOutlookContact(o.ID, func(c *MailboxContact) { c.JobTitle = "Outlook title" })

	e.runMailbox()
	if got := findVP(e, "vera@x.example")[0].Title; got != "VP title" {
		t.Fatalf("the mailbox batch overwrote an edit it had not listed: Vantagepoint title %q", got)
	}
	// The next batch, whatever its scope, sees both edits and lets
	// sync.conflict decide.
	e.runMailbox()
	ot, vt := findOutlook(e, "vera@x.example")[0].JobTitle, findVP(e, "vera@x.example")[0].Title
	if ot != "VP title" || vt != "VP title" {
		t.Fatalf("after the conflict: Outlook %q, Vantagepoint %q; want both %q (sync.conflict = vantagepoint)", ot, vt, "VP title")
	}
	e.quiet()
}

func TestMailboxBatchMatchesANewOutlookContactBeforeCreating(t *testing.T) {
	e := newEnv(t)
	e.run()
	e.vp.addContact(vpContact("Vera", "Paul", "vera@x.example", "F-FABRIKAM"))
	e.outlookContact(MailboxContact{GivenName: "Vera", Surname: "Paul", Email: "vera@x.example", CompanyName: "Fabrikam"})
	e.runMailbox()
	if o, v := findOutlook(e, "vera@x.example"), findVP(e, "vera@x.example"); len(o) != 1 || len(v) != 1 {
		t.Fatalf("a contact new on both sides, found by a mailbox batch: %d in Outlook, %d in Vantagepoint; want one each, paired", len(o), len(v))
	}
	e.run()
	e.quiet()
}

// A light poll (ScopeMeetings) brings Vantagepoint's meetings and leaves
// its contacts to the next whole poll, which loses none of them.
func TestMeetingsPollLeavesContactsToTheNextWholePoll(t *testing.T) {
	e, _, v := pairedContact(t, originVantagepoint)
	e.vp.editContact(v.ID, func(c *Contact) { c.CellPhone = "+1 555 0777" })
	e.vp.addActivity(meeting("Site walk", now.Add(72*time.Hour)))

	b, err := e.eng.RunScoped(context.Background(), TriggerSchedule, ScopeMeetings)
	if err != nil {
		t.Fatal(err)
	}
	if n := len(eventsNamed(e, "Site walk")); n != 1 {
		t.Fatalf("the meetings poll made %d Outlook events of the new meeting, want 1", n)
	}
	if got := findOutlook(e, "vera@x.example")[0]; got.MobilePhone != "" {
		t.Fatalf("the meetings poll copied a contact change: Outlook mobile %q", got.MobilePhone)
	}
	if n := b.Requests["vantagepoint"]; n != 1 {
		t.Errorf("the meetings poll made %d Vantagepoint requests, want 1 (the meetings listing)", n)
	}
	e.run()
	if got := findOutlook(e, "vera@x.example")[0]; got.MobilePhone != "+1 555 0777" {
		t.Fatalf("the whole poll after it: Outlook mobile %q, want the Vantagepoint change", got.MobilePhone)
	}
	e.quiet()
}
