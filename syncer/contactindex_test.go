package syncer

import (
	"context"
	"fmt"
	"testing"
	"time"

	"vpconnect/syncer/store"
)

// The contact index (contactindex.go): kept in the store, brought up to
// date by one ModDate listing per batch that links something, listed in
// full only when there is none or it is old.

// withClock makes the engine's clock a variable the test moves.
func withClock(clock *time.Time) func(*Options) {
	return func(o *Options) { o.Now = func() time.Time { return *clock } }
}

// dateSeeds gives the seeded contacts a ModDate, as every real one has.
func (e *env) dateSeeds() {
	for _, id := range []string{"C-ALICE", "C-BOB"} {
		e.vp.editContact(id, func(*Contact) {})
	}
}

// indexListings are the contact index's listings since the n-th.
func (e *env) indexListings(from int) []ContactQuery {
	e.vp.mu.Lock()
	defer e.vp.mu.Unlock()
	return append([]ContactQuery(nil), e.vp.indexQueries[from:]...)
}

func (e *env) indexCount() int {
	e.vp.mu.Lock()
	defer e.vp.mu.Unlock()
	return len(e.vp.indexQueries)
}

func isFull(q ContactQuery) bool { return q.ModifiedSince.IsZero() && q.WithEmail }

// activityNamed is the one activity with the subject.
func (e *env) activityNamed(subject string) Activity {
	e.t.Helper()
	var found []Activity
	for _, a := range e.vp.all() {
		if a.Subject == subject {
			found = append(found, a)
		}
	}
	if len(found) != 1 {
		e.t.Fatalf("activities named %q: %+v", subject, found)
	}
	return found[0]
}

func (e *env) indexedIDs() map[string]string {
	e.t.Helper()
	out := map[string]string{}
	err := e.st.View(context.Background(), func(tx *store.Tx) error {
		return tx.IndexedContacts(func(c store.IndexedContact) error { out[c.ContactID] = c.Email; return nil })
	})
	if err != nil {
		e.t.Fatal(err)
	}
	return out
}

func TestSecondBatchListsOnlyTheContactsChangedSinceTheFirst(t *testing.T) {
	clock := now
	e := newEnv(t, withClock(&clock))
	e.dateSeeds()
	e.mb.add("inbox", tagged("Kick-off", "alice@fabrikam.com", "dana@contoso.com"))
	e.run()
	first := e.indexListings(0)
	if len(first) != 1 || !isFull(first[0]) {
		t.Fatalf("first batch's index listings = %+v, want one full listing", first)
	}

	// Created in Vantagepoint between the batches, by someone else.
	carol := e.vp.addContact(Contact{ClientID: "F-LITWARE", FirstName: "Carol", LastName: "Wu", Email: "Carol.Wu@Litware.example", Status: "A", Owner: "E777"})
	clock = clock.Add(2 * time.Minute)
	e.mb.add("inbox", tagged("Follow-up", "carol.wu@litware.example", "dana@contoso.com"))
	b := e.run()

	got := e.indexListings(1)
	if len(got) != 1 {
		t.Fatalf("second batch listed contacts for the index %d times (%+v), want once", len(got), got)
	}
	if got[0].ModifiedSince.IsZero() || got[0].ModifiedSince.After(carol.ModDate) {
		t.Errorf("second batch's listing = %+v, want the contacts changed since the first's latest ModDate", got[0])
	}
	if a := e.activityNamed("Follow-up"); a.ContactID != carol.ID || a.ClientID != "F-LITWARE" {
		t.Errorf("the e-mail is linked to %q/%q, want %s/F-LITWARE", a.ContactID, a.ClientID, carol.ID)
	}
	// One listing per collection (contacts, meetings), the index's one
	// listing, and the activity's create.
	if n := b.Requests["vantagepoint"]; n != 4 {
		t.Errorf("a batch filing one e-mail sent %d Vantagepoint requests, want 4", n)
	}

	// A batch that links nothing does not touch the index (docs/behaviour.md §4.6: a
	// no-change batch is one request per collection).
	n := e.indexCount()
	if b := e.run(); b.Requests["vantagepoint"] != 2 || e.indexCount() != n {
		t.Errorf("a no-change batch sent %d Vantagepoint requests and %d index listings", b.Requests["vantagepoint"], e.indexCount()-n)
	}

	// The next listing starts from the latest ModDate Vantagepoint sent
	// (Carol's), less the overlap: the server's clock, not the agent's.
	dave := e.vp.addContact(Contact{FirstName: "Dave", LastName: "Li", Email: "dave@litware.example", Status: "A"})
	clock = clock.Add(time.Minute)
	e.mb.add("inbox", tagged("Third", "dave@litware.example"))
	e.run()
	got = e.indexListings(n)
	if len(got) != 1 || !got[0].ModifiedSince.Equal(carol.ModDate.Add(-contactIndexOverlap)) {
		t.Fatalf("third listing = %+v, want the contacts changed since %v less %v", got, carol.ModDate, contactIndexOverlap)
	}
	if a := e.activityNamed("Third"); a.ContactID != dave.ID {
		t.Errorf("linked to %q, want %s", a.ContactID, dave.ID)
	}
}

func TestAModDateFromTheFutureIsNotTheMark(t *testing.T) {
	e := newEnv(t)
	e.dateSeeds()
	e.mb.add("inbox", tagged("One", "alice@fabrikam.com"))
	e.run()
	// Bad data: a contact stamped years ahead.
	odd := e.vp.addContact(Contact{FirstName: "Odd", LastName: "Date", Email: "odd@example.com", Status: "A"})
	e.vp.mu.Lock()
	for i := range e.vp.contacts {
		if e.vp.contacts[i].ID == odd.ID {
			e.vp.contacts[i].ModDate = time.Date(2099, 1, 1, 0, 0, 0, 0, time.UTC)
		}
	}
	e.vp.mu.Unlock()
	e.mb.add("inbox", tagged("Two", "odd@example.com"))
	e.run()
	if a := e.activityNamed("Two"); a.ContactID != odd.ID {
		t.Fatalf("linked to %q, want %s", a.ContactID, odd.ID)
	}
	// A contact made after it is still seen by the next listing.
	erin := e.vp.addContact(Contact{FirstName: "Erin", LastName: "Ho", Email: "erin@example.com", Status: "A"})
	e.mb.add("inbox", tagged("Three", "erin@example.com"))
	e.run()
	if a := e.activityNamed("Three"); a.ContactID != erin.ID {
		t.Errorf("linked to %q after a future ModDate, want %s", a.ContactID, erin.ID)
	}
}

func TestAContactsChangedAddressLinksUnderTheNewOneOnly(t *testing.T) {
	e := newEnv(t)
	e.dateSeeds()
	e.mb.add("inbox", tagged("Before", "alice@fabrikam.com"))
	e.run()
	if a := e.activityNamed("Before"); a.ContactID != "C-ALICE" {
		t.Fatalf("linked to %q before the change", a.ContactID)
	}

	e.vp.editContact("C-ALICE", func(c *Contact) { c.Email = "Alice.Ng@Fabrikam.example" })
	e.vp.editContact("C-BOB", func(c *Contact) { c.Email = "" })
	from := e.indexCount()
	e.mb.add("inbox", tagged("To the old address", "alice@fabrikam.com"))
	e.mb.add("inbox", tagged("To the new address", "alice.ng@fabrikam.example"))
	e.mb.add("inbox", tagged("To a removed address", "bob@northwind.example"))
	e.run()
	if got := e.indexListings(from); len(got) != 1 || isFull(got[0]) {
		t.Fatalf("index listings = %+v, want one incremental listing", got)
	}
	if a := e.activityNamed("To the old address"); a.ContactID != "" {
		t.Errorf("the old address still links to %q", a.ContactID)
	}
	if a := e.activityNamed("To the new address"); a.ContactID != "C-ALICE" || a.ClientID != "F-FABRIKAM" {
		t.Errorf("the new address links to %q/%q, want C-ALICE/F-FABRIKAM", a.ContactID, a.ClientID)
	}
	if a := e.activityNamed("To a removed address"); a.ContactID != "" {
		t.Errorf("an address removed in Vantagepoint still links to %q", a.ContactID)
	}
	if ids := e.indexedIDs(); ids["C-ALICE"] != "Alice.Ng@Fabrikam.example" || ids["C-BOB"] != "" {
		t.Errorf("stored index = %v", ids)
	}
}

func TestAnActiveContactLinksASharedAddress(t *testing.T) {
	e := newEnv(t)
	e.vp.editContact("C-ALICE", func(c *Contact) { c.Status = "I" })
	e.dateSeeds()
	// Shares Alice's address; active, though listed after her.
	other := e.vp.addContact(Contact{FirstName: "Alice", LastName: "Ng (new)", Email: "ALICE@fabrikam.com", Status: "A"})
	e.mb.add("inbox", tagged("One", "alice@fabrikam.com"))
	e.run()
	if a := e.activityNamed("One"); a.ContactID != other.ID {
		t.Fatalf("a shared address links to %q, want the active %s", a.ContactID, other.ID)
	}
	// The active one moves away: the inactive one is all that is left.
	e.vp.editContact(other.ID, func(c *Contact) { c.Email = "alice@elsewhere.example" })
	e.mb.add("inbox", tagged("Two", "alice@fabrikam.com"))
	e.mb.add("inbox", tagged("Three", "alice@elsewhere.example"))
	e.run()
	if a := e.activityNamed("Two"); a.ContactID != "C-ALICE" {
		t.Errorf("after the active contact moved, the address links to %q, want C-ALICE", a.ContactID)
	}
	if a := e.activityNamed("Three"); a.ContactID != other.ID {
		t.Errorf("the moved contact's new address links to %q, want %s", a.ContactID, other.ID)
	}
}

func TestAContactDeletedInVantagepointStopsLinkingAfterTheFullListingPeriod(t *testing.T) {
	clock := now
	e := newEnv(t, withClock(&clock))
	e.dateSeeds()
	e.mb.add("inbox", tagged("One", "alice@fabrikam.com"))
	e.run()
	e.vp.removeContact("C-ALICE") // a hard delete leaves no ModDate

	clock = now.Add(time.Hour)
	from := e.indexCount()
	e.mb.add("inbox", tagged("Two", "bob@northwind.example"))
	e.run()
	if got := e.indexListings(from); len(got) != 1 || isFull(got[0]) {
		t.Fatalf("index listings an hour later = %+v, want one incremental listing", got)
	}

	clock = now.Add(contactIndexFullEvery + time.Minute)
	from = e.indexCount()
	e.mb.add("inbox", tagged("Three", "alice@fabrikam.com"))
	e.run()
	if got := e.indexListings(from); len(got) != 1 || !isFull(got[0]) {
		t.Fatalf("index listings after %v = %+v, want one full listing", contactIndexFullEvery, got)
	}
	if a := e.activityNamed("Three"); a.ContactID != "" {
		t.Errorf("a contact deleted in Vantagepoint still links: %q", a.ContactID)
	}
	if _, ok := e.indexedIDs()["C-ALICE"]; ok {
		t.Error("the deleted contact is still in the stored index")
	}
}

func TestARestartDoesNotListEveryContactAgain(t *testing.T) {
	clock := now
	e := newEnv(t, withClock(&clock))
	e.dateSeeds()
	e.mb.add("inbox", tagged("One", "alice@fabrikam.com"))
	e.run()

	carol := e.vp.addContact(Contact{FirstName: "Carol", LastName: "Wu", Email: "carol@litware.example", Status: "A"})
	clock = clock.Add(10 * time.Hour) // overnight
	e.restart()
	from := e.indexCount()
	e.mb.add("inbox", tagged("Two", "carol@litware.example"))
	e.run()
	if got := e.indexListings(from); len(got) != 1 || isFull(got[0]) {
		t.Fatalf("index listings after a restart = %+v, want one incremental listing", got)
	}
	if a := e.activityNamed("Two"); a.ContactID != carol.ID {
		t.Errorf("linked to %q after a restart, want %s", a.ContactID, carol.ID)
	}

	// An index listed from another Vantagepoint database is none.
	e.eng.opts.Mark.Database = "OTHER"
	e.restart()
	from = e.indexCount()
	e.mb.add("inbox", tagged("Three", "carol@litware.example"))
	e.run()
	if got := e.indexListings(from); len(got) != 1 || !isFull(got[0]) {
		t.Errorf("index listings with another database = %+v, want one full listing", got)
	}
}

func TestAFreshEngineDefersTheFullListingThatFellDueOvernight(t *testing.T) {
	clock := now
	e := newEnv(t, withClock(&clock))
	e.dateSeeds()
	e.mb.add("inbox", tagged("Day one", "alice@fabrikam.com"))
	e.run()

	// The index fell due while the computer was off; the morning's first
	// batches bring it up to date instead of listing every contact.
	clock = now.Add(contactIndexFullEvery + 10*time.Hour)
	e.restart()
	from := e.indexCount()
	e.mb.add("inbox", tagged("Morning", "alice@fabrikam.com"))
	e.run()
	if got := e.indexListings(from); len(got) != 1 || isFull(got[0]) {
		t.Fatalf("index listings at the first batch after a start = %+v, want one incremental listing", got)
	}
	clock = clock.Add(contactIndexSettle + contactIndexSettleJitter)
	from = e.indexCount()
	e.mb.add("inbox", tagged("Noon", "alice@fabrikam.com"))
	e.run()
	if got := e.indexListings(from); len(got) != 1 || !isFull(got[0]) {
		t.Fatalf("index listings once the engine settled = %+v, want one full listing", got)
	}

	// Twice as old as the period, it is listed in full at once.
	clock = clock.Add(2 * contactIndexFullEvery)
	e.restart()
	from = e.indexCount()
	e.mb.add("inbox", tagged("Back from holidays", "alice@fabrikam.com"))
	e.run()
	if got := e.indexListings(from); len(got) != 1 || !isFull(got[0]) {
		t.Fatalf("index listings of a very old index = %+v, want one full listing", got)
	}
}

func TestALostStateFileListsEveryContactOnce(t *testing.T) {
	e := newEnv(t)
	e.dateSeeds()
	e.mb.add("inbox", tagged("One", "alice@fabrikam.com"))
	e.run()
	// A new state file (deleted, or recreated after corruption).
	st, err := store.Open(t.TempDir() + "/sync.db")
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	e.st = st
	e.restart()
	if err := e.eng.Prepare(context.Background()); err != nil {
		t.Fatal(err)
	}
	from := e.indexCount()
	e.mb.add("inbox", tagged("Two", "bob@northwind.example"))
	e.run()
	e.mb.add("inbox", tagged("Three", "alice@fabrikam.com"))
	e.run()
	got := e.indexListings(from)
	if len(got) != 2 || !isFull(got[0]) || isFull(got[1]) {
		t.Fatalf("index listings over a new state file = %+v, want one full, then one incremental", got)
	}
	if a := e.activityNamed("Two"); a.ContactID != "C-BOB" {
		t.Errorf("linked to %q over a new state file", a.ContactID)
	}
}

func TestARefusedIncrementalListingListsEveryContact(t *testing.T) {
	e := newEnv(t)
	e.dateSeeds()
	e.mb.add("inbox", tagged("One", "alice@fabrikam.com"))
	e.run()

	// Refused as invalid: the index cannot be brought up to date from its
	// mark, so it is listed again in the same batch.
	from := e.indexCount()
	e.vp.fail["Contacts"] = []error{fmt.Errorf("GET contact: 400 bad filter: %w", ErrInvalid)}
	e.mb.add("inbox", tagged("Two", "alice@fabrikam.com"))
	e.run()
	got := e.indexListings(from)
	if len(got) != 2 || isFull(got[0]) || !isFull(got[1]) {
		t.Fatalf("index listings after a refused one = %+v, want the incremental, then a full one", got)
	}
	if a := e.activityNamed("Two"); a.ContactID != "C-ALICE" {
		t.Errorf("linked to %q", a.ContactID)
	}

	// Unavailable is not the index's fault: the e-mail waits for the next
	// batch, as it did when every batch listed every contact.
	from = e.indexCount()
	e.vp.fail["Contacts"] = []error{fmt.Errorf("GET contact: 503: %w", ErrUnavailable)}
	e.mb.add("inbox", tagged("Three", "alice@fabrikam.com"))
	b, _ := e.eng.Run(context.Background(), TriggerManual)
	if got := e.indexListings(from); len(got) != 1 || isFull(got[0]) || b.Counts[TypeEmails].Failed != 1 {
		t.Fatalf("index listings when Vantagepoint is unavailable = %+v, batch %+v", got, b)
	}
	e.run()
	if a := e.activityNamed("Three"); a.ContactID != "C-ALICE" {
		t.Errorf("linked to %q on the retry", a.ContactID)
	}
}

func TestARefusedLinkToADeletedContactLeavesTheIndex(t *testing.T) {
	e := newEnv(t)
	e.dateSeeds()
	e.mb.add("inbox", tagged("One", "alice@fabrikam.com"))
	e.run()
	e.vp.removeContact("C-ALICE")

	// Vantagepoint refuses an activity linked to a contact it no longer
	// has: one read of the contact takes it out of the index.
	e.vp.fail["CreateActivity"] = []error{fmt.Errorf("POST activity: 400 Invalid ContactID: %w", ErrInvalid)}
	e.mb.add("inbox", tagged("Two", "alice@fabrikam.com"))
	b, _ := e.eng.Run(context.Background(), TriggerManual)
	if b.Counts[TypeEmails].Failed != 1 {
		t.Fatalf("batch = %+v", b)
	}
	if _, ok := e.indexedIDs()["C-ALICE"]; ok {
		t.Fatal("a contact Vantagepoint no longer has is still in the index")
	}
	e.run()
	if a := e.activityNamed("Two"); a.ContactID != "" {
		t.Errorf("the retried e-mail links to %q", a.ContactID)
	}

	// A refusal for another reason costs no read.
	reqs := e.vp.Requests()
	e.vp.fail["CreateActivity"] = []error{fmt.Errorf("POST activity: 400 Subject too long: %w", ErrInvalid)}
	e.mb.add("inbox", tagged("Three", "bob@northwind.example"))
	e.eng.Run(context.Background(), TriggerManual)
	// contacts + meetings listings, the index listing, the refused create,
	// and the read of Bob, who exists.
	if n := e.vp.Requests() - reqs; n != 5 {
		t.Errorf("a refused create sent %d requests", n)
	}
	if _, ok := e.indexedIDs()["C-BOB"]; !ok {
		t.Error("a contact that exists left the index")
	}
}

func TestAContactStampedJustBeforeTheMarkIsNotMissed(t *testing.T) {
	e := newEnv(t)
	e.dateSeeds()
	e.mb.add("inbox", tagged("One", "alice@fabrikam.com"))
	e.run()
	carol := e.vp.addContact(Contact{FirstName: "Carol", LastName: "Wu", Email: "carol@litware.example", Status: "A"})
	e.mb.add("inbox", tagged("Two", "carol@litware.example"))
	e.run()
	// Stamped a second before Carol but committed (visible) only now: a
	// slow save, or another application server's clock.
	late := e.vp.addContact(Contact{FirstName: "Late", LastName: "Save", Email: "late@litware.example", Status: "A"})
	e.vp.mu.Lock()
	for i := range e.vp.contacts {
		if e.vp.contacts[i].ID == late.ID {
			e.vp.contacts[i].ModDate = carol.ModDate.Add(-time.Second)
		}
	}
	e.vp.mu.Unlock()
	e.mb.add("inbox", tagged("Three", "late@litware.example"))
	e.run()
	if a := e.activityNamed("Three"); a.ContactID != late.ID {
		t.Errorf("linked to %q, want %s (stamped inside the overlap)", a.ContactID, late.ID)
	}
}

func TestContactsTheEngineWritesAreIndexedAtOnce(t *testing.T) {
	e := newEnv(t)
	e.dateSeeds()
	nora := e.outlookContact(MailboxContact{GivenName: "Nora", Surname: "Quinn", Email: "nora@northwind.example", CompanyName: "Northwind Traders"})
	e.mb.add("inbox", tagged("Hi", "alice@fabrikam.com"))
	e.run()
	vpNora := findVP(e, "nora@northwind.example")
	if len(vpNora) != 1 {
		t.Fatalf("Nora in Vantagepoint = %+v", vpNora)
	}
	if got := e.indexedIDs()[vpNora[0].ID]; got != "nora@northwind.example" {
		t.Fatalf("the contact the engine created is indexed as %q", got)
	}

	// In one batch: an e-mail loads the index, Nora's address changes in
	// Outlook (the engine writes it to Vantagepoint), and two meetings name
	// her old and her new address.
	e.mb.add("inbox", tagged("Hello again", "alice@fabrikam.com"))
	e.editOutlookContact(nora.ID, func(c *MailboxContact) { c.Email = "nora.quinn@northwind.example" })
	start := now.Add(50 * time.Hour).Truncate(time.Hour)
	e.outlookMeeting("With the new address", start, func(ev *MailboxEvent) {
		ev.Attendees = []Address{{Address: "Nora.Quinn@northwind.example"}}
	})
	e.outlookMeeting("With the old address", start.Add(2*time.Hour), func(ev *MailboxEvent) {
		ev.Attendees = []Address{{Address: "nora@northwind.example"}}
	})
	from := e.indexCount()
	e.run()
	if n := e.indexCount() - from; n != 1 {
		t.Errorf("%d index listings in the batch, want 1", n)
	}
	if got := meetingsNamed(e, "With the new address"); len(got) != 1 || got[0].ContactID != vpNora[0].ID {
		t.Errorf("meeting with the new address = %+v, want it linked to %s", got, vpNora[0].ID)
	}
	if got := meetingsNamed(e, "With the old address"); len(got) != 1 || got[0].ContactID != "" {
		t.Errorf("meeting with the old address = %+v, want it unlinked", got)
	}
	if got := e.indexedIDs()[vpNora[0].ID]; got != "nora.quinn@northwind.example" {
		t.Errorf("the stored index has Nora at %q", got)
	}
}
