package syncer

import (
	"fmt"
	"testing"
)

// Matching before any create (docs/behaviour.md §4.2, §4.4) must hold across batches: an
// item left unpaired by a failed or ambiguous match is matched again later,
// never copied to the other side next to its twin.

func TestFailedMatchUpdateIsMatchedAgainNotCopied(t *testing.T) {
	for _, tc := range []struct {
		name, method string
		onVP         bool
	}{
		{"the Outlook write fails", "UpdateContact", false},
		{"the Vantagepoint write fails", "UpdateContact", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t, func(o *Options) {
				if tc.onVP {
					o.Conflict = ConflictMailbox
				}
			})
			// The same person on both sides, with different details: the
			// match writes the winner's content to the other side first.
			e.outlookContact(MailboxContact{GivenName: "Tess", Surname: "Twin", Email: "tess@x.example", JobTitle: "Architect"})
			e.vp.addContact(vpContact("Tess", "Twin", "tess@x.example", ""))
			if tc.onVP {
				e.vp.fail[tc.method] = []error{fmt.Errorf("503: %w", ErrUnavailable)}
			} else {
				e.mb.fail[tc.method] = []error{fmt.Errorf("503: %w", ErrUnavailable)}
			}
			if b := e.run(); b.Counts[TypeContacts].Failed != 1 {
				t.Fatalf("first batch = %+v", b.Counts)
			}
			e.run()
			if n, m := len(findVP(e, "tess@x.example")), len(findOutlook(e, "tess@x.example")); n != 1 || m != 1 {
				t.Fatalf("after the retry: %d in Vantagepoint, %d in Outlook; want 1 and 1", n, m)
			}
			// A resync of the mailbox (410) lists everything again: still
			// one of each.
			e.mb.forgetAll = true
			e.run()
			e.quiet()
			if n, m := len(findVP(e, "tess@x.example")), len(findOutlook(e, "tess@x.example")); n != 1 || m != 1 {
				t.Fatalf("after a resync: %d in Vantagepoint, %d in Outlook; want 1 and 1", n, m)
			}
		})
	}
}

func TestAmbiguousMatchWaitsForTheUserThenPairs(t *testing.T) {
	e := newEnv(t)
	e.outlookContact(MailboxContact{GivenName: "Abe", Surname: "Ambig", Email: "abe@x.example"})
	first := e.vp.addContact(vpContact("Abe", "Ambig", "abe@x.example", ""))
	e.vp.addContact(vpContact("Abraham", "Ambig", "abe@x.example", ""))
	b := e.run()
	if len(b.Issues) != 1 {
		t.Fatalf("first batch issues = %+v", b.Issues)
	}
	for range 2 {
		e.run()
	}
	if n, m := len(findVP(e, "abe@x.example")), len(findOutlook(e, "abe@x.example")); n != 2 || m != 1 {
		t.Fatalf("while ambiguous: %d in Vantagepoint, %d in Outlook; want 2 and 1 (nothing created)", n, m)
	}
	// The user removes the duplicate in Vantagepoint: the Outlook contact
	// pairs with the one left, without any change of its own.
	for _, c := range findVP(e, "abe@x.example") {
		if c.ID != first.ID {
			e.vp.removeContact(c.ID)
		}
	}
	e.run()
	e.quiet()
	if n, m := len(findVP(e, "abe@x.example")), len(findOutlook(e, "abe@x.example")); n != 1 || m != 1 {
		t.Fatalf("after the fix: %d in Vantagepoint, %d in Outlook; want 1 and 1", n, m)
	}
	// Paired: an edit in Outlook reaches the Vantagepoint contact.
	e.editOutlookContact(findOutlook(e, "abe@x.example")[0].ID, func(c *MailboxContact) { c.JobTitle = "Principal" })
	e.run()
	if got := findVP(e, "abe@x.example")[0].Title; got != "Principal" {
		t.Errorf("Vantagepoint title %q after the Outlook edit; the two are not paired", got)
	}
}
