package syncer

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"vpconnect/syncer/store"
)

// Contacts both ways: each rule of docs/behaviour.md §4.2 and §4.4.

func (e *env) outlookContact(c MailboxContact) MailboxContact {
	e.t.Helper()
	var folder string
	e.st.View(context.Background(), func(tx *store.Tx) error { folder, _ = tx.Meta(metaContactFolder); return nil })
	if folder == "" {
		e.t.Fatal("the mailbox has no contact folder")
	}
	e.mb.mu.Lock()
	defer e.mb.mu.Unlock()
	return e.mb.putContact(folder, c)
}

func (e *env) editOutlookContact(id string, fn func(*MailboxContact)) {
	e.mb.mu.Lock()
	defer e.mb.mu.Unlock()
	c := e.mb.tw().contacts[id]
	next := c.MailboxContact
	fn(&next)
	e.mb.putContact(c.folder, next)
}

func (e *env) deleteOutlookContact(id string) {
	e.mb.mu.Lock()
	defer e.mb.mu.Unlock()
	e.mb.removeContact(id)
}

func (e *env) writes() int {
	e.mb.mu.Lock()
	n := e.mb.tw().writes
	e.mb.mu.Unlock()
	e.vp.mu.Lock()
	defer e.vp.mu.Unlock()
	return n + e.vp.writes
}

func (e *env) quiet() {
	e.t.Helper()
	before := e.writes()
	b := e.run()
	if after := e.writes(); after != before {
		e.t.Fatalf("a batch without changes wrote %d times: %+v", after-before, b)
	}
}

func vpContact(first, last, email, firm string) Contact {
	return Contact{FirstName: first, LastName: last, Email: email, ClientID: firm, Owner: "E001", Status: "A", Title: "Engineer", Phone: "+1 555 0100"}
}

func findOutlook(e *env, email string) []MailboxContact {
	var out []MailboxContact
	for _, c := range e.mb.folderContacts() {
		if strings.EqualFold(c.Email, email) {
			out = append(out, c)
		}
	}
	return out
}

func findVP(e *env, email string) []Contact {
	var out []Contact
	for _, c := range e.vp.ownContacts("E001") {
		if strings.EqualFold(c.Email, email) {
			out = append(out, c)
		}
	}
	return out
}

func TestInitializationCreatesTheFolderAndMarksTheMailbox(t *testing.T) {
	e := newEnv(t, func(o *Options) {
		o.Mark = MailboxMark{URL: "https://vp.example/api", Database: "PROD", Employee: "E001"}
	})
	var folders []ContactFolder
	for _, f := range e.mb.tw().contactFolders {
		folders = append(folders, f)
	}
	if len(folders) != 1 || folders[0].DisplayName != "Vantagepoint" {
		t.Fatalf("contact folders = %+v", folders)
	}
	if !strings.Contains(e.mb.tw().marks[folders[0].ID], `"database":"PROD"`) {
		t.Errorf("mark = %q", e.mb.tw().marks[folders[0].ID])
	}
	for _, c := range []string{"Vantagepoint", "Vantagepoint: Synced", "Vantagepoint: Sync Error"} {
		if !contains(e.mb.cats, c) {
			t.Errorf("master category %q missing: %v", c, e.mb.cats)
		}
	}
	// Initializing again for the same user is fine; for another database
	// it is refused until the user re-initializes.
	if err := e.eng.InitializeMailbox(context.Background(), false); err != nil {
		t.Fatalf("second initialization: %v", err)
	}
	other := New(e.mb, e.vp, e.st, Options{Employee: "E001", Now: e.eng.opts.Now, Mark: MailboxMark{URL: "https://vp.example/api", Database: "TEST", Employee: "E001"}})
	err := other.InitializeMailbox(context.Background(), false)
	if err == nil || !strings.Contains(err.Error(), "Foreign customization detected: this mailbox is linked to another Vantagepoint user or database") {
		t.Fatalf("foreign mark: %v", err)
	}
	if err := other.InitializeMailbox(context.Background(), true); err != nil {
		t.Fatalf("re-initialize: %v", err)
	}
}

func TestVantagepointContactIsCopiedToOutlook(t *testing.T) {
	e := newEnv(t)
	e.vp.addContact(vpContact("Alice", "Ng", "Alice.Ng@Fabrikam.example", "F-FABRIKAM"))
	inactive := vpContact("Ivan", "Old", "ivan@x.example", "")
	inactive.Status = "I"
	e.vp.addContact(inactive)
	theirs := vpContact("Olga", "Other", "olga@x.example", "")
	theirs.Owner = "E999"
	e.vp.addContact(theirs)

	b := e.run()
	got := e.mb.folderContacts()
	if len(got) != 1 {
		t.Fatalf("Outlook contacts = %+v", got)
	}
	c := got[0]
	if c.GivenName != "Alice" || c.Surname != "Ng" || c.Email != "Alice.Ng@Fabrikam.example" || c.CompanyName != "Fabrikam" ||
		c.JobTitle != "Engineer" || c.BusinessPhone != "+1 555 0100" || c.VPID == "" {
		t.Errorf("Outlook contact = %+v", c)
	}
	if b.Counts[TypeContacts].Created != 1 {
		t.Errorf("counts = %+v", b.Counts[TypeContacts])
	}
	e.quiet()
}

func TestOutlookContactBecomesAVantagepointContactOwnedByTheUser(t *testing.T) {
	e := newEnv(t)
	e.outlookContact(MailboxContact{GivenName: "Nora", Surname: "Quinn", Email: "nora@northwind.example", CompanyName: "northwind traders", MobilePhone: "+1 555 0199"})
	e.outlookContact(MailboxContact{GivenName: "Uma", Surname: "Unknown", Email: "uma@startup.example", CompanyName: "A Startup Inc"})
	e.run()
	nora := findVP(e, "nora@northwind.example")
	if len(nora) != 1 || nora[0].Owner != "E001" || nora[0].ClientID != "F-NORTHWIND" || nora[0].CellPhone != "+1 555 0199" {
		t.Fatalf("Vantagepoint contact for Nora = %+v", nora)
	}
	uma := findVP(e, "uma@startup.example")
	if len(uma) != 1 || uma[0].ClientID != "" {
		t.Fatalf("a firm was invented for an unknown company: %+v", uma)
	}
	e.quiet()
	if n := len(e.vp.firms); n != 2 {
		t.Errorf("firms = %d, a new firm was created", n)
	}
}

func TestFirstSyncMatchesBeforeCreating(t *testing.T) {
	cases := []struct {
		name      string
		outlook   MailboxContact
		vp        []Contact
		wantPairs bool
		wantIssue string
	}{
		{"by e-mail, ignoring case", MailboxContact{GivenName: "Al", Surname: "Ng", Email: "ALICE@fabrikam.example"},
			[]Contact{vpContact("Alice", "Ng", "alice@fabrikam.example", "F-FABRIKAM")}, true, ""},
		{"by first name, last name and firm", MailboxContact{GivenName: "alice", Surname: "NG", CompanyName: "Fabrikam"},
			[]Contact{vpContact("Alice", "Ng", "alice@fabrikam.example", "F-FABRIKAM")}, true, ""},
		{"by preferred name", MailboxContact{GivenName: "Ally", Surname: "Ng", CompanyName: "Fabrikam"},
			[]Contact{func() Contact { c := vpContact("Alice", "Ng", "", "F-FABRIKAM"); c.PreferredName = "Ally"; return c }()}, true, ""},
		{"two candidates: an issue, nothing created", MailboxContact{GivenName: "Sam", Surname: "Lee", Email: "sam@x.example"},
			[]Contact{vpContact("Sam", "Lee", "sam@x.example", ""), vpContact("Samuel", "Lee", "SAM@x.example", "")}, false, "2 Vantagepoint contacts match"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			e := newEnv(t)
			for _, v := range c.vp {
				e.vp.addContact(v)
			}
			e.outlookContact(c.outlook)
			b := e.run()
			outlook, vp := e.mb.folderContacts(), e.vp.ownContacts("E001")
			if c.wantPairs {
				if len(outlook) != 1 || len(vp) != 1 {
					t.Fatalf("after matching: %d Outlook, %d Vantagepoint contacts; want one each", len(outlook), len(vp))
				}
				// Vantagepoint is the system of record: its fields win.
				if outlook[0].GivenName != vp[0].FirstName || !strings.EqualFold(outlook[0].Email, vp[0].Email) {
					t.Errorf("fields not reconciled: %+v vs %+v", outlook[0], vp[0])
				}
				e.quiet()
				return
			}
			if len(vp) != len(c.vp) {
				t.Errorf("%d Vantagepoint contacts, want %d (nothing created)", len(vp), len(c.vp))
			}
			found := false
			for _, i := range b.Issues {
				found = found || strings.Contains(i.Reason, c.wantIssue)
			}
			if !found {
				t.Errorf("issues = %+v, want %q", b.Issues, c.wantIssue)
			}
		})
	}
}

func pairedContact(t *testing.T, origin string) (*env, MailboxContact, Contact) {
	e := newEnv(t)
	switch origin {
	case originVantagepoint:
		e.vp.addContact(vpContact("Vera", "Paul", "vera@x.example", "F-FABRIKAM"))
	case originMailbox:
		e.outlookContact(MailboxContact{GivenName: "Vera", Surname: "Paul", Email: "vera@x.example", CompanyName: "Fabrikam"})
	case originBoth:
		e.vp.addContact(vpContact("Vera", "Paul", "vera@x.example", "F-FABRIKAM"))
		e.outlookContact(MailboxContact{GivenName: "Vera", Surname: "Paul", Email: "vera@x.example", CompanyName: "Fabrikam"})
	}
	e.run()
	o, v := findOutlook(e, "vera@x.example"), findVP(e, "vera@x.example")
	if len(o) != 1 || len(v) != 1 {
		t.Fatalf("setup: %d Outlook, %d Vantagepoint", len(o), len(v))
	}
	return e, o[0], v[0]
}

func TestContactChangesFlowBothWays(t *testing.T) {
	e, o, v := pairedContact(t, originVantagepoint)
	e.editOutlookContact(o.ID, func(c *MailboxContact) { c.JobTitle = "Director" })
	b := e.run()
	if got := findVP(e, "vera@x.example")[0]; got.Title != "Director" || b.Counts[TypeContacts].Updated != 1 {
		t.Fatalf("Outlook edit: VP title %q, counts %+v", got.Title, b.Counts[TypeContacts])
	}
	e.vp.editContact(v.ID, func(c *Contact) { c.CellPhone = "+1 555 0777" })
	e.run()
	if got := findOutlook(e, "vera@x.example")[0]; got.MobilePhone != "+1 555 0777" {
		t.Fatalf("Vantagepoint edit: Outlook mobile %q", got.MobilePhone)
	}
	e.quiet()
}

func TestNewVersionWithSameFieldsIsNoChange(t *testing.T) {
	e, o, v := pairedContact(t, originVantagepoint)
	e.editOutlookContact(o.ID, func(c *MailboxContact) {}) // new changeKey only
	e.vp.editContact(v.ID, func(c *Contact) {})            // new ModDate only
	e.quiet()
}

func TestConflictPolicies(t *testing.T) {
	cases := []struct {
		policy     string
		outlookNew bool // the Outlook edit is the newer one
		want       string
	}{
		{ConflictVantagepoint, true, "VP title"},
		{ConflictMailbox, false, "Outlook title"},
		{ConflictNewest, true, "Outlook title"},
		{ConflictNewest, false, "VP title"},
	}
	for _, c := range cases {
		t.Run(fmt.Sprintf("%s/outlook newer %v", c.policy, c.outlookNew), func(t *testing.T) {
			e, o, v := pairedContact(t, originBoth)
			e.eng.opts.Conflict = c.policy
			editOutlook := func() { e.editOutlookContact(o.ID, func(m *MailboxContact) { m.JobTitle = "Outlook title" }) }
			editVP := func() { e.vp.editContact(v.ID, func(m *Contact) { m.Title = "VP title" }) }
			// The fakes' clocks: Outlook's LastModified is its sequence in
			// seconds since 1970, Vantagepoint's ModDate is in 2026; make
			// "newer" explicit instead.
			editOutlook()
			editVP()
			if c.outlookNew {
				e.mb.mu.Lock()
				e.mb.tw().contacts[o.ID].LastModified = e.eng.opts.Now().AddDate(1, 0, 0)
				e.mb.mu.Unlock()
			}
			e.run()
			ot, vt := findOutlook(e, "vera@x.example")[0].JobTitle, findVP(e, "vera@x.example")[0].Title
			if ot != c.want || vt != c.want {
				t.Errorf("after the conflict: Outlook %q, Vantagepoint %q; want both %q", ot, vt, c.want)
			}
			e.quiet()
		})
	}
}

func TestContactDeletes(t *testing.T) {
	cases := []struct {
		origin     string
		deleteSide string
		// what remains: the Outlook item, the Vantagepoint item
		outlook, vp bool
		counts      store.Counts
	}{
		{originVantagepoint, SideVantagepoint, false, false, store.Counts{Deleted: 1}}, // original deleted → copy deleted
		{originVantagepoint, SideMailbox, false, true, store.Counts{Unlinked: 1}},      // copy deleted → original unlinked
		{originMailbox, SideMailbox, false, false, store.Counts{Deleted: 1}},           // original deleted → copy deleted
		{originMailbox, SideVantagepoint, true, false, store.Counts{Unlinked: 1}},      // copy deleted → original unlinked
		{originBoth, SideMailbox, false, true, store.Counts{Unlinked: 1}},              // matched originals: unlink only
		{originBoth, SideVantagepoint, true, false, store.Counts{Unlinked: 1}},
	}
	for _, c := range cases {
		t.Run(c.origin+" deleted in "+c.deleteSide, func(t *testing.T) {
			e, o, v := pairedContact(t, c.origin)
			// Force the hourly full Vantagepoint listing, the only way a
			// deletion there is seen.
			e.st.Update(context.Background(), func(tx *store.Tx) error { return tx.SetMeta("vp_full:contacts", "") })
			if c.deleteSide == SideMailbox {
				e.deleteOutlookContact(o.ID)
			} else {
				e.vp.removeContact(v.ID)
			}
			b := e.run()
			gotO, gotV := len(findOutlook(e, "vera@x.example")) == 1, len(findVP(e, "vera@x.example")) == 1
			if gotO != c.outlook || gotV != c.vp {
				t.Fatalf("after the delete: Outlook %v, Vantagepoint %v; want %v, %v", gotO, gotV, c.outlook, c.vp)
			}
			got := b.Counts[TypeContacts]
			if got.Deleted != c.counts.Deleted || got.Unlinked != c.counts.Unlinked {
				t.Errorf("counts = %+v, want deleted %d unlinked %d", got, c.counts.Deleted, c.counts.Unlinked)
			}
			// The survivor of an unlink is not copied again.
			e.st.Update(context.Background(), func(tx *store.Tx) error { return tx.SetMeta("vp_full:contacts", "") })
			e.quiet()
			if n := len(findOutlook(e, "vera@x.example")) + len(findVP(e, "vera@x.example")); n > 1 {
				t.Errorf("the unlinked original was copied again (%d items)", n)
			}
		})
	}
}

func TestFailedListingsAreNeverDeletions(t *testing.T) {
	e, _, _ := pairedContact(t, originVantagepoint)
	e.mb.fail["ContactChanges"] = []error{fmt.Errorf("page 2: %w", ErrUnavailable)}
	if _, err := e.eng.Run(context.Background(), TriggerSchedule); err == nil {
		t.Fatal("a failed listing did not fail the batch")
	}
	e.mb.forgetAll = true // 410 on the next round: a full re-listing
	b := e.run()
	if len(e.mb.folderContacts()) != 1 || len(e.vp.ownContacts("E001")) != 1 || b.Counts[TypeContacts].Deleted != 0 {
		t.Fatalf("after a failed listing and a resync: %+v", b)
	}
	e.quiet()
}

func TestEmptySideGuardHoldsBackMassDeletes(t *testing.T) {
	e := newEnv(t)
	for i := range 12 {
		e.vp.addContact(vpContact("P", fmt.Sprintf("Person%02d", i), fmt.Sprintf("p%02d@x.example", i), ""))
	}
	e.run()
	if n := len(e.mb.folderContacts()); n != 12 {
		t.Fatalf("setup: %d Outlook contacts", n)
	}
	// Vantagepoint suddenly lists none of them.
	e.vp.mu.Lock()
	e.vp.contacts = nil
	e.vp.mu.Unlock()
	e.st.Update(context.Background(), func(tx *store.Tx) error { return tx.SetMeta("vp_full:contacts", "") })
	b := e.run()
	if n := len(e.mb.folderContacts()); n != 12 {
		t.Fatalf("the guard let %d deletions through", 12-n)
	}
	if b.Outcome != OutcomeIssues || !strings.Contains(fmt.Sprint(b.Issues), "no deletion was applied") {
		t.Fatalf("batch = %+v", b)
	}
	// The user confirms: the deletions go through.
	if err := e.eng.ConfirmDeletes(context.Background(), TypeContacts); err != nil {
		t.Fatal(err)
	}
	e.st.Update(context.Background(), func(tx *store.Tx) error { return tx.SetMeta("vp_full:contacts", "") })
	e.run()
	if n := len(e.mb.folderContacts()); n != 0 {
		t.Fatalf("%d Outlook contacts after the confirmation", n)
	}
}

func TestMoreThanHalfDeletedInOutlookIsHeldBack(t *testing.T) {
	e, b := heldOutlookDeletes(t)
	if n := len(e.vp.ownContacts("E001")); n != 10 {
		t.Fatalf("%d Vantagepoint contacts left; the guard should hold all 10", n)
	}
	if b.Outcome != OutcomeIssues {
		t.Errorf("outcome %q", b.Outcome)
	}
}

func TestLostCreateRepliesAreRecoveredByNaturalKey(t *testing.T) {
	e := newEnv(t)
	e.outlookContact(MailboxContact{GivenName: "Lana", Surname: "Lost", Email: "lana@x.example"})
	e.vp.addContact(vpContact("Otto", "Orphan", "otto@x.example", ""))
	e.vp.fail["CreateContact:lost"] = []error{fmt.Errorf("reset: %w", ErrUnavailable)}
	e.mb.fail["CreateContact:lost"] = []error{fmt.Errorf("reset: %w", ErrUnavailable)}
	b := e.run()
	if b.Outcome != OutcomeIssues {
		t.Fatalf("batch with lost replies = %+v", b)
	}
	e.run()
	if n := len(findVP(e, "lana@x.example")); n != 1 {
		t.Errorf("%d Vantagepoint contacts for Lana, want 1", n)
	}
	if n := len(findOutlook(e, "otto@x.example")); n != 1 {
		t.Errorf("%d Outlook contacts for Otto, want 1", n)
	}
	e.quiet()
	var j []store.JournalEntry
	e.st.View(context.Background(), func(tx *store.Tx) error { j, _ = tx.Journal(); return nil })
	if len(j) != 0 {
		t.Errorf("journal not empty: %+v", j)
	}
}

func TestRefusedWriteIsRetriedNextBatchWithoutAChange(t *testing.T) {
	e := newEnv(t)
	e.outlookContact(MailboxContact{GivenName: "Rita", Surname: "Retry", Email: "rita@x.example"})
	e.vp.fail["CreateContact"] = []error{fmt.Errorf("400 bad phone: %w", ErrInvalid)}
	b := e.run()
	if b.Counts[TypeContacts].Failed != 1 || len(b.Issues) != 1 || b.Issues[0].Side != SideVantagepoint {
		t.Fatalf("batch = %+v", b)
	}
	b = e.run()
	if len(findVP(e, "rita@x.example")) != 1 || b.Outcome != OutcomeOK {
		t.Fatalf("retry batch = %+v", b)
	}
	var open []store.Issue
	e.st.View(context.Background(), func(tx *store.Tx) error { open, _ = tx.OpenIssues(); return nil })
	if len(open) != 0 {
		t.Errorf("open issues after the retry: %+v", open)
	}
	e.quiet()
}

func TestDeactivateRemovesTheAgentsData(t *testing.T) {
	e := newEnv(t)
	e.vp.addContact(vpContact("Dee", "Act", "dee@x.example", ""))
	e.vp.addActivity(meeting("Kickoff", now.Add(48*time.Hour)))
	own := e.mb.putEventLocked(MailboxEvent{Subject: "My own tagged meeting", Start: now.Add(24 * time.Hour), End: now.Add(25 * time.Hour),
		Categories: []string{"Vantagepoint"}, IsOrganizer: true})
	e.run()
	if len(e.mb.allEvents()) != 2 || len(e.mb.folderContacts()) != 1 {
		t.Fatalf("setup: %d events, %d contacts", len(e.mb.allEvents()), len(e.mb.folderContacts()))
	}
	if err := e.eng.Deactivate(context.Background()); err != nil {
		t.Fatal(err)
	}
	evs := e.mb.allEvents()
	if len(evs) != 1 || evs[0].ID != own.ID {
		t.Errorf("events after deactivation = %+v; only the user's own should remain", evs)
	}
	if len(e.mb.tw().contactFolders) != 0 || len(e.mb.folderContacts()) != 0 {
		t.Error("the contact folder is still there")
	}
	if len(e.mb.cats) != 0 {
		t.Errorf("categories left: %v", e.mb.cats)
	}
	if len(e.vp.ownContacts("E001")) != 1 {
		t.Error("deactivation touched Vantagepoint")
	}
}

// With sync.createFirms, a company name no firm has becomes one firm, shared
// by every contact typed with it, and found by name in later batches.
func TestCreateFirmsMakesOneFirmPerNewCompany(t *testing.T) {
	e := newEnv(t, func(o *Options) { o.CreateFirms = true })
	e.outlookContact(MailboxContact{GivenName: "Uma", Surname: "Unknown", Email: "uma@startup.example", CompanyName: "A Startup Inc"})
	e.outlookContact(MailboxContact{GivenName: "Sam", Surname: "Seed", Email: "sam@startup.example", CompanyName: " a startup inc "})
	e.outlookContact(MailboxContact{GivenName: "Nora", Surname: "Quinn", Email: "nora@northwind.example", CompanyName: "Northwind Traders"})
	e.run()
	if n := len(e.vp.firms); n != 3 {
		t.Fatalf("firms = %+v; want the 2 seeded and one new", e.vp.firms)
	}
	newFirm := e.vp.firms[2]
	if newFirm.Name != "A Startup Inc" {
		t.Errorf("new firm = %+v", newFirm)
	}
	for _, addr := range []string{"uma@startup.example", "sam@startup.example"} {
		if c := findVP(e, addr); len(c) != 1 || c[0].ClientID != newFirm.ID {
			t.Errorf("contact %s = %+v; want it in firm %s", addr, c, newFirm.ID)
		}
	}
	if c := findVP(e, "nora@northwind.example"); len(c) != 1 || c[0].ClientID != "F-NORTHWIND" {
		t.Errorf("an existing firm was not used: %+v", c)
	}
	e.quiet()
	e.outlookContact(MailboxContact{GivenName: "Lee", Surname: "Later", Email: "lee@startup.example", CompanyName: "A Startup Inc"})
	e.run()
	if n := len(e.vp.firms); n != 3 {
		t.Errorf("a later batch created the firm again: %+v", e.vp.firms)
	}
	if c := findVP(e, "lee@startup.example"); len(c) != 1 || c[0].ClientID != newFirm.ID {
		t.Errorf("contact of a later batch = %+v", c)
	}
}

// heldOutlookDeletes pairs 10 contacts made in Outlook, then deletes 6 of
// them there: the guard holds the deletions of their Vantagepoint copies.
func heldOutlookDeletes(t *testing.T) (*env, store.Batch) {
	t.Helper()
	e := newEnv(t)
	var ids []string
	for i := range 10 {
		ids = append(ids, e.outlookContact(MailboxContact{GivenName: "Q", Surname: fmt.Sprintf("Q%02d", i), Email: fmt.Sprintf("q%02d@x.example", i)}).ID)
	}
	e.run()
	for _, id := range ids[:6] {
		e.deleteOutlookContact(id)
	}
	return e, e.run()
}

// The guard's issue says what a confirmation would delete: how many, on
// which side, and the first names.
func TestHeldDeletionsNameWhatWouldBeDeleted(t *testing.T) {
	_, b := heldOutlookDeletes(t)
	var reason string
	for _, i := range b.Issues {
		if i.Item == HeldBack {
			reason = i.Reason
		}
	}
	if !strings.Contains(reason, "Confirming deletes 6 contacts in Vantagepoint: ") || !strings.Contains(reason, " and 1 more.") {
		t.Fatalf("issue reason %q", reason)
	}
	if n := strings.Count(reason, `"`); n != 2*namesShown {
		t.Errorf("%d names in %q, want %d", n/2, reason, namesShown)
	}
	if !strings.Contains(reason, "Q00") {
		t.Errorf("the first deleted contact is not named: %q", reason)
	}
}

// Refused, held-back deletions delete nothing: the items left are copied
// back to where they disappeared, once; the refusal does not answer the
// next time the guard holds.
func TestRefusedDeletionsAreCopiedBack(t *testing.T) {
	e, _ := heldOutlookDeletes(t)
	if err := e.eng.RefuseDeletes(context.Background(), TypeContacts); err != nil {
		t.Fatal(err)
	}
	b := e.run()
	if n := len(e.vp.ownContacts("E001")); n != 10 {
		t.Fatalf("%d Vantagepoint contacts after the refusal, want all 10", n)
	}
	if n := len(e.mb.folderContacts()); n != 10 {
		t.Fatalf("%d Outlook contacts after the refusal, want the 6 copied back", n)
	}
	if c := b.Counts[TypeContacts]; c.Created != 6 || c.Deleted != 0 || b.Outcome != OutcomeOK {
		t.Fatalf("the refusal's batch: %+v", b)
	}
	e.quiet()
	// Deleted again: held again, not answered by the old refusal.
	var ids []string
	for _, c := range e.mb.folderContacts() {
		ids = append(ids, c.ID)
	}
	for _, id := range ids[:6] {
		e.deleteOutlookContact(id)
	}
	if b := e.run(); b.Outcome != OutcomeIssues || len(e.vp.ownContacts("E001")) != 10 || len(e.mb.folderContacts()) != 4 {
		t.Fatalf("deleted again: %+v, %d in Vantagepoint", b, len(e.vp.ownContacts("E001")))
	}
}

// Deletions held back in Outlook stay held batch after batch, and are
// applied at the first batch after the user confirms them (the mailbox's
// cursor does not move past them while they are held).
func TestConfirmedOutlookDeletionsAreAppliedThen(t *testing.T) {
	e, _ := heldOutlookDeletes(t)
	if b := e.run(); b.Outcome != OutcomeIssues || len(e.vp.ownContacts("E001")) != 10 {
		t.Fatalf("a second batch before the answer: %+v", b)
	}
	if err := e.eng.ConfirmDeletes(context.Background(), TypeContacts); err != nil {
		t.Fatal(err)
	}
	b := e.run()
	if n := len(e.vp.ownContacts("E001")); n != 4 || b.Counts[TypeContacts].Deleted != 6 {
		t.Fatalf("after the confirmation: %d Vantagepoint contacts, batch %+v", n, b)
	}
	// Answered: the guard's issue is no longer open.
	var open []store.Issue
	e.st.View(context.Background(), func(tx *store.Tx) error { var err error; open, err = tx.OpenIssues(); return err })
	if len(open) != 0 {
		t.Fatalf("open issues after the confirmation: %+v", open)
	}
	e.quiet()
}
