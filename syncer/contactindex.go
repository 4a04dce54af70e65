package syncer

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"strings"
	"time"

	"vpconnect/syncer/store"
)

// The contact index links e-mail correspondents and meeting attendees to
// Vantagepoint contacts (docs/behaviour.md §4.1, §4.3): every company contact with an
// e-mail address, by address and by id. It lives in the state store between
// batches (and engines), and a batch that needs it (it files an e-mail, or
// writes a meeting with attendees) brings it up to date with ONE listing of
// the contacts changed since the latest ModDate it saw, instead of listing
// every contact of the company again (docs/behaviour.md §7: matching from one listing per
// batch, and gentle on the server a whole company shares). A batch that
// links nothing does not touch it.
//
// It is a cache and decides nothing the per-batch listing did not: when it
// is missing (a new or recreated state file), was listed from another
// Vantagepoint, is older than contactIndexFullEvery, or the incremental
// listing is refused, one listing of every contact replaces it.

const (
	// contactIndexFullEvery is how old the last full listing may get. A
	// contact deleted in Vantagepoint leaves no ModDate behind, so only a
	// full listing takes it out of the index (or a link to it that
	// Vantagepoint refuses: see checkLinkedContact). A full listing of a
	// large company is tens of requests per agent, so it is rare: at 7
	// days it was 3 of a 5,000-agent fleet's 20 requests/s (BenchmarkFleet).
	contactIndexFullEvery = 30 * 24 * time.Hour
	// An engine does not list in full because of the index's age during
	// its first contactIndexSettle (plus a random part of up to
	// contactIndexSettleJitter), unless the index is twice as old as
	// contactIndexFullEvery: a morning's login wave must not become a wave
	// of full listings of the index that fell due overnight.
	contactIndexSettle = time.Hour
	// The jitter spreads a fleet's full listings over the working day
	// rather than its morning (BenchmarkFleet).
	contactIndexSettleJitter = 7 * time.Hour
	// contactIndexOverlap: an incremental listing starts this long before
	// the latest ModDate seen, so that a contact stamped just before it but
	// visible only later (the same millisecond, a slow commit, another
	// application server's clock, a change made while a listing paged)
	// is not missed. Listing a contact twice is harmless: upserts.
	contactIndexOverlap = 2 * time.Minute
	// contactIndexFuture: a ModDate further ahead of the agent's clock than
	// this is bad data, not the server's clock, and does not become the
	// high-water mark (it would hide every later change until the next full
	// listing). The mark itself is only ever a ModDate the server sent.
	contactIndexFuture = 24 * time.Hour
	// contactIndexVersion changes when what the index keeps changes, so
	// that an index of an older build is listed again.
	contactIndexVersion = "1"
)

// contactIndexFields are what the index keeps of a contact.
var contactIndexFields = []string{"ContactID", "ClientID", "FirstName", "LastName", "Email", "ContactStatus", "ModDate"}

// contactIndexSource names the Vantagepoint database the index is listed
// from: a state file reused for another one does not link to its contacts.
func (e *Engine) contactIndexSource() string {
	url := strings.ToLower(strings.TrimRight(strings.TrimSpace(e.opts.Mark.URL), "/"))
	return contactIndexVersion + " " + url + " " + strings.ToLower(strings.TrimSpace(e.opts.Mark.Database))
}

// contactIndex returns the contacts with an e-mail by address (lower-cased)
// and by id. It is read from the store and brought up to date once per
// batch, at the first call; later calls of the batch answer from memory.
func (e *Engine) contactIndex(ctx context.Context) (byEmail, byID map[string]Contact, err error) {
	if e.contacts != nil {
		return e.contacts, e.contactsByID, nil
	}
	now := e.opts.Now().UTC()
	source := e.contactIndexSource()
	var marks store.ContactIndexMarks
	full := false
	byID = map[string]Contact{}
	if err := e.store.View(ctx, func(tx *store.Tx) error {
		var err error
		if marks, err = tx.ContactIndexMarks(); err != nil {
			return err
		}
		if full = e.contactIndexDue(marks, source, now); full {
			return nil // replaced anyway: do not read it
		}
		return tx.IndexedContacts(func(c store.IndexedContact) error {
			byID[c.ContactID] = fromIndexed(c)
			return nil
		})
	}); err != nil {
		return nil, nil, fmt.Errorf("read the contact index: %w", err)
	}
	if !full {
		err := e.refreshContactIndex(ctx, byID, marks, now)
		switch {
		case errors.Is(err, ErrResyncRequired) || errors.Is(err, ErrInvalid):
			// Vantagepoint refused the ModDate filter itself: the mark is
			// not one it takes, so the index cannot be brought up to date.
			e.log.Info("the listing of changed contacts was refused; listing every contact", "error", err)
			full = true
		case err != nil:
			return nil, nil, fmt.Errorf("list Vantagepoint contacts changed since %s: %w", marks.HighWater.Format(time.RFC3339), err)
		}
	}
	if full {
		if byID, err = e.relistContactIndex(ctx, source, now); err != nil {
			return nil, nil, fmt.Errorf("list Vantagepoint contacts: %w", err)
		}
	}
	e.contactsByID, e.contacts = byID, electByEmail(byID)
	return e.contacts, e.contactsByID, nil
}

// contactIndexDue says whether the stored index must be replaced by a full
// listing.
func (e *Engine) contactIndexDue(m store.ContactIndexMarks, source string, now time.Time) bool {
	switch {
	case m.FullListed.IsZero() || m.HighWater.IsZero() || m.Source != source:
		return true // none, or not this Vantagepoint's
	case now.Before(m.FullListed):
		return true // the clock went back: the index's age is unknown
	}
	age := now.Sub(m.FullListed)
	if age >= 2*contactIndexFullEvery {
		return true
	}
	return age >= contactIndexFullEvery && now.Sub(e.started) >= e.indexSettle
}

// laterMark is the high-water mark after a contact with ModDate mod was
// listed.
func laterMark(mark, mod, now time.Time) time.Time {
	if mod.After(mark) && !mod.After(now.Add(contactIndexFuture)) {
		return mod
	}
	return mark
}

// refreshContactIndex lists the contacts changed since the high-water mark
// (less the overlap), applies them to byID and saves them. The listing
// asks for contacts with or without an e-mail: a contact whose address was
// removed must be seen to leave the index.
func (e *Engine) refreshContactIndex(ctx context.Context, byID map[string]Contact, marks store.ContactIndexMarks, now time.Time) error {
	var changed []Contact
	high := marks.HighWater
	q := ContactQuery{ModifiedSince: marks.HighWater.Add(-contactIndexOverlap), Fields: contactIndexFields}
	if err := e.vp.Contacts(ctx, q, func(page []Contact) error {
		for _, c := range page {
			if c.ID == "" {
				continue
			}
			changed = append(changed, c)
			high = laterMark(high, c.ModDate, now)
		}
		return nil
	}); err != nil {
		return err
	}
	rows := make([]store.IndexedContact, 0, len(changed))
	for _, c := range changed {
		if normalizeAddress(c.Email) == "" {
			delete(byID, c.ID)
		} else {
			byID[c.ID] = c
		}
		rows = append(rows, toIndexed(c))
	}
	marks.HighWater = high
	if err := e.store.Update(ctx, func(tx *store.Tx) error {
		if err := tx.PutIndexedContacts(rows...); err != nil {
			return err
		}
		return tx.SetContactIndexMarks(marks)
	}); err != nil {
		// A cache: this batch links from memory; the mark did not move, so
		// the next batch lists these contacts again.
		e.log.Warn("the contact index was not saved", "error", err)
	}
	return nil
}

// relistContactIndex lists every contact with an e-mail and replaces the
// stored index with them. Nothing is written before the listing completed:
// a failed listing leaves the previous index as it was.
func (e *Engine) relistContactIndex(ctx context.Context, source string, now time.Time) (map[string]Contact, error) {
	byID := map[string]Contact{}
	var high time.Time
	if err := e.vp.Contacts(ctx, ContactQuery{WithEmail: true, Fields: contactIndexFields}, func(page []Contact) error {
		for _, c := range page {
			if c.ID == "" || normalizeAddress(c.Email) == "" {
				continue
			}
			byID[c.ID] = c
			high = laterMark(high, c.ModDate, now)
		}
		return nil
	}); err != nil {
		return nil, err
	}
	rows := make([]store.IndexedContact, 0, len(byID))
	for _, c := range byID {
		rows = append(rows, toIndexed(c))
	}
	if err := e.store.Update(ctx, func(tx *store.Tx) error {
		if err := tx.ClearContactIndex(); err != nil {
			return err
		}
		if err := tx.PutIndexedContacts(rows...); err != nil {
			return err
		}
		return tx.SetContactIndexMarks(store.ContactIndexMarks{HighWater: high, FullListed: now, Source: source})
	}); err != nil {
		e.log.Warn("the contact index was not saved", "error", err)
	}
	e.log.Debug("contact index listed in full", "contacts", len(byID))
	return byID, nil
}

func toIndexed(c Contact) store.IndexedContact {
	return store.IndexedContact{ContactID: c.ID, ClientID: c.ClientID, FirstName: c.FirstName, LastName: c.LastName,
		Email: c.Email, Status: c.Status, ModDate: c.ModDate}
}

func fromIndexed(c store.IndexedContact) Contact {
	return Contact{ID: c.ContactID, ClientID: c.ClientID, FirstName: c.FirstName, LastName: c.LastName,
		Email: c.Email, Status: c.Status, ModDate: c.ModDate}
}

// preferContact says whether c links an address rather than than, when
// both have it: an active contact before an inactive one, then the lower
// ContactID (the first in Vantagepoint's order), so that the choice does not
// depend on which listing brought which contact.
func preferContact(c, than Contact) bool {
	if (c.Status == "A") != (than.Status == "A") {
		return c.Status == "A"
	}
	return c.ID < than.ID
}

// electByEmail maps each address to the contact that links it.
func electByEmail(byID map[string]Contact) map[string]Contact {
	byEmail := make(map[string]Contact, len(byID))
	for _, c := range byID {
		addr := normalizeAddress(c.Email)
		if addr == "" {
			continue
		}
		if prev, dup := byEmail[addr]; !dup || preferContact(c, prev) {
			byEmail[addr] = c
		}
	}
	return byEmail
}

// electAddress chooses again the contact that links addr, after the one
// that did left it.
func (e *Engine) electAddress(addr string) {
	for _, c := range e.contactsByID {
		if normalizeAddress(c.Email) != addr {
			continue
		}
		if prev, dup := e.contacts[addr]; !dup || preferContact(c, prev) {
			e.contacts[addr] = c
		}
	}
}

// indexContact keeps the index current after the engine wrote a contact, so
// that a meeting later in the same batch links to a contact created from
// Outlook moments before. The stored index gets it too; its high-water mark
// does not move (changes by others before this write's ModDate may not have
// been listed yet), so the next listing brings the contact again.
func (e *Engine) indexContact(ctx context.Context, c Contact) {
	if c.ID == "" {
		return
	}
	if err := e.store.Update(ctx, func(tx *store.Tx) error { return tx.PutIndexedContacts(toIndexed(c)) }); err != nil {
		e.log.Warn("the contact index was not updated", "contact", c.ID, "error", err)
	}
	if e.contacts == nil {
		return // not loaded in this batch: the store is enough
	}
	addr := normalizeAddress(c.Email)
	old, had := e.contactsByID[c.ID]
	if addr == "" {
		delete(e.contactsByID, c.ID)
	} else {
		e.contactsByID[c.ID] = c
	}
	if had {
		if oldAddr := normalizeAddress(old.Email); oldAddr != "" && e.contacts[oldAddr].ID == c.ID {
			if oldAddr == addr && (c.Status == "A" || old.Status != "A") {
				e.contacts[addr] = c // still the one that links it
				return
			}
			delete(e.contacts, oldAddr)
			e.electAddress(oldAddr)
		}
	}
	if addr != "" {
		if prev, dup := e.contacts[addr]; !dup || prev.ID == c.ID || preferContact(c, prev) {
			e.contacts[addr] = c
		}
	}
}

// unindexContact takes a contact that no longer exists out of the index.
func (e *Engine) unindexContact(ctx context.Context, id string) {
	if err := e.store.Update(ctx, func(tx *store.Tx) error { return tx.DeleteIndexedContact(id) }); err != nil {
		e.log.Warn("the contact index was not updated", "contact", id, "error", err)
	}
	if e.contacts == nil {
		return
	}
	old, had := e.contactsByID[id]
	if !had {
		return
	}
	delete(e.contactsByID, id)
	if addr := normalizeAddress(old.Email); addr != "" && e.contacts[addr].ID == id {
		delete(e.contacts, addr)
		e.electAddress(addr)
	}
}

// checkLinkedContact runs when Vantagepoint refused an activity that links
// a contact of the index. A contact deleted in Vantagepoint stays in the
// index until its next full listing; a link to it must not fail every batch
// until then. One read tells: a contact that is gone leaves the index, and
// the item's retry links without it.
func (e *Engine) checkLinkedContact(ctx context.Context, contactID string, cause error) {
	if contactID == "" || !errors.Is(cause, ErrInvalid) || e.contactsByID == nil {
		return
	}
	if _, ok := e.contactsByID[contactID]; !ok {
		return
	}
	recs, ok := e.vp.(VantagepointRecords)
	if !ok {
		return
	}
	if _, err := recs.Contact(ctx, contactID); errors.Is(err, ErrNotFound) {
		e.log.Info("a contact of the index no longer exists in Vantagepoint", "contact", contactID)
		e.unindexContact(ctx, contactID)
	}
}

// newIndexSettle draws how long an engine waits before a full listing that
// is due only because of the index's age.
func newIndexSettle() time.Duration {
	return contactIndexSettle + rand.N(contactIndexSettleJitter)
}
