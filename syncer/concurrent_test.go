package syncer

import (
	"context"
	"fmt"
	"testing"
	"time"

	"vpconnect/syncer/store"
)

// Edits made while a batch runs (docs/behaviour.md §4.4: never overwrite a change the
// engine has not seen): an update is based on the version the engine
// listed. Outlook refuses a PATCH whose If-Match is stale (412); a
// Vantagepoint record is compared with the read that precedes its PUT.

// syncedPair is one paired item of either two-way type, with one mapped
// field that the tests edit on either side: the job title of a contact,
// the location of a meeting.
type syncedPair struct {
	typ          string
	editOutlook  func(value string)
	touchOutlook func() // a new changeKey, the same content (a category set)
	editVP       func(value string)
	outlook, vp  func() string
}

func newSyncedPair(t *testing.T, typ string) (*env, syncedPair) {
	t.Helper()
	if typ == TypeContacts {
		e, o, v := pairedContact(t, originBoth)
		return e, syncedPair{
			typ:          typ,
			editOutlook:  func(s string) { e.editOutlookContact(o.ID, func(c *MailboxContact) { c.JobTitle = s }) },
			touchOutlook: func() { e.editOutlookContact(o.ID, func(*MailboxContact) {}) },
			editVP:       func(s string) { e.vp.editContact(v.ID, func(c *Contact) { c.Title = s }) },
			outlook:      func() string { return findOutlook(e, "vera@x.example")[0].JobTitle },
			vp:           func() string { return findVP(e, "vera@x.example")[0].Title },
		}
	}
	e := newEnv(t)
	a := e.vp.addActivity(meeting("Standup", now.Add(30*time.Hour).Truncate(time.Hour)))
	e.run()
	evs := eventsNamed(e, "Standup")
	if len(evs) != 1 {
		t.Fatalf("setup: Outlook events %+v", e.mb.allEvents())
	}
	id := evs[0].ID
	return e, syncedPair{
		typ:          typ,
		editOutlook:  func(s string) { e.editOutlookEvent(id, func(ev *MailboxEvent) { ev.Location = s }) },
		touchOutlook: func() { e.editOutlookEvent(id, func(*MailboxEvent) {}) },
		editVP:       func(s string) { e.vp.editActivity(a.ID, func(x *Activity) { x.Location = s }) },
		outlook:      func() string { return eventsNamed(e, "Standup")[0].Location },
		vp:           func() string { return meetingsNamed(e, "Standup")[0].Location },
	}
}

func (e *env) pairings(typ string) []store.Pairing {
	var out []store.Pairing
	e.st.View(context.Background(), func(tx *store.Tx) error {
		return tx.Pairings(typ, func(p store.Pairing) error { out = append(out, p); return nil })
	})
	return out
}

func (e *env) conflicts() int {
	e.mb.mu.Lock()
	defer e.mb.mu.Unlock()
	return e.mb.tw().conflicts
}

// atStep runs fn the first time the engine reaches the step: the user's
// edit lands between the listing and the write.
func (e *env) atStep(step string, fn func()) *bool {
	fired := new(bool)
	e.eng.stepHook = func(name string) error {
		if name == step && !*fired {
			*fired = true
			fn()
		}
		return nil
	}
	return fired
}

func TestEditDuringTheBatchIsNotOverwritten(t *testing.T) {
	for _, typ := range []string{TypeContacts, TypeEvents} {
		for _, edited := range []string{SideMailbox, SideVantagepoint} {
			for _, policy := range []string{ConflictVantagepoint, ConflictMailbox} {
				t.Run(fmt.Sprintf("%s edited in %s, conflict=%s", typ, edited, policy), func(t *testing.T) {
					e, p := newSyncedPair(t, typ)
					e.eng.opts.Conflict = policy
					// One side changes before the batch; the batch lists it
					// and, while it writes it to the other side, the user
					// edits that other side too.
					var fired *bool
					if edited == SideMailbox {
						p.editVP("VP value")
						fired = e.atStep(typ+":update-mailbox:send", func() { p.editOutlook("Outlook value") })
					} else {
						p.editOutlook("Outlook value")
						fired = e.atStep(typ+":update-vp:send", func() { p.editVP("VP value") })
					}
					before := e.pairings(typ)
					b := e.run()
					e.eng.stepHook = nil
					if !*fired {
						t.Fatal("the batch never wrote: the scenario did not happen")
					}
					if o, v := p.outlook(), p.vp(); o != "Outlook value" || v != "VP value" {
						t.Fatalf("after the batch: Outlook %q, Vantagepoint %q; the concurrent edit was overwritten", o, v)
					}
					c := b.Counts[typ]
					if c.Updated != 0 || c.Failed != 0 || len(b.Issues) != 0 || b.Outcome != OutcomeOK {
						t.Errorf("batch = %+v, %+v", c, b)
					}
					if after := e.pairings(typ); fmt.Sprint(after) != fmt.Sprint(before) {
						t.Errorf("the pair was marked synced:\n before %+v\n after  %+v", before, after)
					}

					// The next batch sees both edits: sync.conflict decides,
					// and the winner is written on the version just listed.
					conflicts := e.conflicts()
					b = e.run()
					want := "VP value"
					if policy == ConflictMailbox {
						want = "Outlook value"
					}
					if o, v := p.outlook(), p.vp(); o != want || v != want {
						t.Fatalf("next batch: Outlook %q, Vantagepoint %q; want both %q", o, v, want)
					}
					if c := b.Counts[typ]; c.Updated != 1 || len(b.Issues) != 0 || e.conflicts() != conflicts {
						t.Errorf("next batch = %+v, issues %v, %d refused updates", c, b.Issues, e.conflicts()-conflicts)
					}
					e.quiet()
				})
			}
		}
	}
}

func TestOnlyTheChangeKeyMovedDuringTheBatch(t *testing.T) {
	for _, typ := range []string{TypeContacts, TypeEvents} {
		t.Run(typ, func(t *testing.T) {
			e, p := newSyncedPair(t, typ)
			p.editVP("VP value")
			fired := e.atStep(typ+":update-mailbox:send", p.touchOutlook)
			b := e.run()
			e.eng.stepHook = nil
			if !*fired || e.conflicts() != 1 {
				t.Fatalf("the update did not meet a 412 (%d refused)", e.conflicts())
			}
			if o := p.outlook(); o != "VP value" || b.Counts[typ].Updated != 1 || len(b.Issues) != 0 {
				t.Fatalf("Outlook %q, batch %+v, issues %v; want the update applied in this batch", o, b.Counts[typ], b.Issues)
			}
			e.quiet()
		})
	}
}

func TestAnItemThatKeepsChangingIsAnIssueAndRetried(t *testing.T) {
	e, p := newSyncedPair(t, TypeContacts)
	p.editVP("VP value")
	moved := fmt.Errorf("412 ErrorIrresolvableConflict: %w", ErrConflict)
	e.mb.fail["UpdateContact"] = []error{moved, moved}
	b := e.run()
	if c := b.Counts[TypeContacts]; c.Failed != 1 || c.Updated != 0 || len(b.Issues) != 1 || b.Issues[0].Side != SideMailbox {
		t.Fatalf("batch = %+v, issues %+v", c, b.Issues)
	}
	b = e.run()
	if o := p.outlook(); o != "VP value" || b.Outcome != OutcomeOK {
		t.Fatalf("retry batch: Outlook %q, %+v", o, b)
	}
	e.quiet()
}

func TestAChangeKeyOnlyChangeKeepsTheBaseVersionCurrent(t *testing.T) {
	for _, typ := range []string{TypeContacts, TypeEvents} {
		t.Run(typ, func(t *testing.T) {
			e, p := newSyncedPair(t, typ)
			p.touchOutlook()
			e.quiet()
			p.editVP("VP value")
			e.run()
			if o := p.outlook(); o != "VP value" || e.conflicts() != 0 {
				t.Fatalf("Outlook %q after %d refused updates; want the update sent on the changeKey the delta round reported", o, e.conflicts())
			}
		})
	}
}

func TestMatchedItemEditedDuringTheBatchIsMatchedAgain(t *testing.T) {
	e := newEnv(t)
	e.vp.addContact(vpContact("Mia", "Match", "mia@x.example", ""))
	o := e.outlookContact(MailboxContact{GivenName: "Mia", Surname: "Match", Email: "mia@x.example", JobTitle: "Old title"})
	fired := e.atStep(TypeContacts+":match-update:send", func() {
		e.editOutlookContact(o.ID, func(c *MailboxContact) { c.JobTitle = "Outlook title" })
	})
	b := e.run()
	e.eng.stepHook = nil
	if !*fired {
		t.Fatal("the matched pair was not updated")
	}
	if got := findOutlook(e, "mia@x.example"); len(got) != 1 || got[0].JobTitle != "Outlook title" {
		t.Fatalf("Outlook after the batch: %+v", got)
	}
	if n := len(e.pairings(TypeContacts)); n != 0 || len(b.Issues) != 0 {
		t.Fatalf("%d pairings, issues %v; want none until the edit is seen", n, b.Issues)
	}
	e.run()
	o2, v := findOutlook(e, "mia@x.example"), findVP(e, "mia@x.example")
	if len(o2) != 1 || len(v) != 1 || o2[0].JobTitle != "Engineer" || v[0].Title != "Engineer" || len(e.pairings(TypeContacts)) != 1 {
		t.Fatalf("next batch: Outlook %+v, Vantagepoint %+v", o2, v)
	}
	e.quiet()
}
