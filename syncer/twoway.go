package syncer

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"

	"vpconnect/syncer/store"
)

// This file is the three-way reconciliation of the two-way types (contacts,
// events): each side's changes are compared with the pairings of the state
// store, and one decision is taken per item: create, update, delete, unlink,
// resolve a conflict, or nothing. Every write is committed with its pairing
// on its own, so one failure never blocks the rest (SPEC §4.2–§4.4).
//
// Change detection compares mapped content, not versions: the pairing keeps a
// hash of each side's mapped fields as last synced, so a new changeKey or
// ModDate with the same fields (the agent's own write coming back, say) is no
// change, and a mapping that loses a detail on one side cannot ping-pong.

// Origins of a pairing: which side held the original.
const (
	originMailbox      = "mailbox"      // created in Outlook; the Vantagepoint record is the agent's copy
	originVantagepoint = "vantagepoint" // created in Vantagepoint; the Outlook item is the agent's copy
	originBoth         = "both"         // existed on both sides and was matched: both are originals
	originUnlinked     = "unlinked"     // was paired, one side went: the other is left alone for good
)

// Conflict policies (sync.conflict).
const (
	ConflictVantagepoint = "vantagepoint"
	ConflictMailbox      = "mailbox"
	ConflictNewest       = "newest"
)

// guardMinimum is the number of pairings from which the empty-side guard
// holds back deletions (SPEC §4.4).
const guardMinimum = 10

// fullListingEvery is how often the Vantagepoint side is listed in full, the
// only way to see records deleted there (the REST API has no deletion feed).
const fullListingEvery = time.Hour

// item is one side's view of a contact or an event, reduced to what the
// rules compare.
type item struct {
	id       string
	removed  bool
	modified time.Time
	fields   map[string]string
	// outOfScope says why the item is not synced ("" when it is).
	outOfScope string
	// issue, when set, is reported once per issueKey (e.g. one per
	// recurring series, not one per occurrence).
	issue, issueKey string
	label           string // how issues name the item
	raw             any    // the side's own type, for writes
	// version is a mailbox item's changeKey: an update based on this
	// listing sends it (If-Match), so that an edit made since is never
	// overwritten unseen. Empty for Vantagepoint records, which have none.
	version string
	// readOnly, for a mailbox item, says why the agent must not change it
	// ("" when it may): a meeting with attendees, which Exchange would
	// send an update (or a cancellation) to every attendee for.
	readOnly string
}

// errMailboxReadOnly: the Outlook item must not be changed by the agent
// (item.readOnly); nothing was written.
var errMailboxReadOnly = errors.New("the Outlook item must not be changed by the agent")

// readOnlyIssue is what the user is told when a Vantagepoint change cannot
// be copied onto an Outlook meeting with attendees.
const readOnlyIssue = "not copied to Outlook: the Outlook meeting has attendees, and changing it would send them an update; change it in Outlook"

func (it item) hash() string {
	keys := make([]string, 0, len(it.fields))
	for k := range it.fields {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	h := sha256.New()
	for _, k := range keys {
		fmt.Fprintf(h, "%s=%s\n", k, it.fields[k])
	}
	return hex.EncodeToString(h.Sum(nil)[:12])
}

// kind adapts one two-way item type to the reconciliation.
type kind interface {
	name() string
	// ready says whether the type can sync (initialized, supported by the
	// adapters); a reason when not.
	ready(ctx context.Context) (bool, string, error)
	// mailboxCursorKey names the mailbox cursor; it changes when the
	// listing's scope does (the calendar window moves every day).
	mailboxCursorKey() string
	mailboxRound(ctx context.Context, cursor string, fn func(item) error) (string, error)
	mailboxGet(ctx context.Context, id string) (item, bool, error)
	// vpList lists the Vantagepoint side: changes after since, or every
	// record in scope when since is zero.
	vpList(ctx context.Context, since time.Time, fn func(item) error) error
	vpGet(ctx context.Context, id string) (item, bool, error)
	createVP(ctx context.Context, src item) (item, error)
	// updateVP writes src's fields onto the record vpID. base is the hash
	// of the record's content the decision was based on ("" for none): a
	// record whose content differs is not written (ErrConflict).
	updateVP(ctx context.Context, vpID, base string, src item) (item, error)
	deleteVP(ctx context.Context, id string) error
	createMailbox(ctx context.Context, src item) (item, error)
	// updateMailbox writes src's fields onto the item mbID, based on its
	// version (changeKey; "" writes unconditionally): ErrConflict when the
	// item has another version now, and nothing was written.
	updateMailbox(ctx context.Context, mbID, version string, src item) (item, error)
	deleteMailbox(ctx context.Context, id string) error
	// findVP lists the records a journaled create from src may have made:
	// the unpaired ones (taken says which are paired) that share a natural
	// key with src; recoverKind picks among them. findMailbox finds the
	// item a create from the record vpID made, by the id stamped on it.
	// Both are the natural-key lookups of crash recovery.
	findVP(ctx context.Context, src item, taken func(string) bool) ([]item, error)
	findMailbox(ctx context.Context, vpID string) (item, bool, error)
	// asCreated is the item a create from src made on side, as it was
	// right after the create: what recovery records as synced, so that an
	// edit made to the copy before the create was confirmed is a change.
	asCreated(ctx context.Context, side string, src item) (item, error)
	// matchKeys are the keys two items are matched by before any create,
	// strongest first.
	matchKeys(it item) []string
	// noun names one item in messages ("contact", "meeting").
	noun() string
}

// errKilled is what a test's step hook returns to stop the engine dead, as
// a killed process would: no further write of any kind.
var errKilled = errors.New("killed by the test harness")

// step marks a point where a crash leaves a distinct state. Tests kill the
// engine at every one of them.
func (e *Engine) step(name string) error {
	if e.stepHook != nil {
		return e.stepHook(name)
	}
	return nil
}

type pendingDelete struct {
	side string // the side where the item was deleted
	p    store.Pairing
}

// kindRun is the state of one type during one batch.
type kindRun struct {
	k      kind
	b      *batchRun
	counts *store.Counts
	byMB   map[string]store.Pairing
	byVP   map[string]store.Pairing
	real   int // pairings that link two live items
	// retries are the retry entries of the journal by key; failedNow the
	// keys that failed again in this batch.
	retries   map[string]store.JournalEntry
	failedNow map[string]bool
	reported  map[string]bool
}

func retryKey(side, id string) string { return side + ":" + id }

// syncKind runs one batch of one two-way type.
func (e *Engine) syncKind(ctx context.Context, b *batchRun, k kind) error {
	ok, why, err := k.ready(ctx)
	if err != nil {
		return err
	}
	if !ok {
		e.log.Debug("type not synced", "type", k.name(), "reason", why)
		return nil
	}
	r := &kindRun{k: k, b: b, counts: b.count(k.name()), byMB: map[string]store.Pairing{}, byVP: map[string]store.Pairing{},
		retries: map[string]store.JournalEntry{}, failedNow: map[string]bool{}, reported: map[string]bool{}}
	if err := e.loadPairings(ctx, r); err != nil {
		return err
	}
	if err := e.recoverKind(ctx, r); err != nil {
		return err
	}

	// The mailbox side: one delta round. A resync lists everything again;
	// what a resync's listing lacks is never taken for deleted.
	cursorKey := k.mailboxCursorKey()
	var cursor string
	if err := e.store.View(ctx, func(tx *store.Tx) error { var err error; cursor, err = tx.Cursor(cursorKey); return err }); err != nil {
		return err
	}
	mb := map[string]item{}
	collectMB := func(it item) error { mb[it.id] = it; return nil }
	mbNext, err := k.mailboxRound(ctx, cursor, collectMB)
	resynced := false
	if errors.Is(err, ErrResyncRequired) && cursor != "" {
		e.log.Info("mailbox listing needs a full resync", "type", k.name())
		clear(mb)
		resynced = true
		mbNext, err = k.mailboxRound(ctx, "", collectMB)
	}
	if err != nil {
		return fmt.Errorf("list %s in the mailbox: %w", k.name(), err)
	}
	mbFull := cursor == "" || resynced

	// The Vantagepoint side: changes since the watermark, and every hour
	// (or the first time) everything in scope, to see deletions.
	watermark, lastFull, err := e.vpMarks(ctx, k.name())
	if err != nil {
		return err
	}
	now := e.opts.Now().UTC()
	vpFull := watermark.IsZero() || now.Sub(lastFull) >= fullListingEvery || now.Before(lastFull)
	since := watermark
	if vpFull {
		since = time.Time{}
	}
	vp := map[string]item{}
	maxMod := watermark
	if err := k.vpList(ctx, since, func(it item) error {
		vp[it.id] = it
		if it.modified.After(maxMod) {
			maxMod = it.modified
		}
		return nil
	}); err != nil {
		return fmt.Errorf("list %s in Vantagepoint: %w", k.name(), err)
	}
	r.counts.Scanned += len(mb) + len(vp)

	// Items that failed in an earlier batch come back even if unchanged.
	if err := e.loadRetries(ctx, r, mb, vp); err != nil {
		return err
	}

	if err := e.reconcile(ctx, r, mb, vp, mbFull, resynced, vpFull); err != nil {
		return err
	}
	if err := e.clearRetries(ctx, r); err != nil {
		return err
	}
	if err := e.step(k.name() + ":cursors"); err != nil {
		return err
	}
	return e.store.Update(ctx, func(tx *store.Tx) error {
		if err := tx.SetCursor(cursorKey, mbNext, now); err != nil {
			return err
		}
		if !maxMod.IsZero() {
			if err := tx.SetMeta("vp_watermark:"+k.name(), maxMod.UTC().Format(time.RFC3339Nano)); err != nil {
				return err
			}
		}
		if vpFull {
			return tx.SetMeta("vp_full:"+k.name(), now.Format(time.RFC3339Nano))
		}
		return nil
	})
}

func (e *Engine) vpMarks(ctx context.Context, typ string) (watermark, lastFull time.Time, err error) {
	err = e.store.View(ctx, func(tx *store.Tx) error {
		w, err := tx.Meta("vp_watermark:" + typ)
		if err != nil {
			return err
		}
		f, err := tx.Meta("vp_full:" + typ)
		if err != nil {
			return err
		}
		watermark, _ = time.Parse(time.RFC3339Nano, w)
		lastFull, _ = time.Parse(time.RFC3339Nano, f)
		return nil
	})
	return
}

func (e *Engine) loadPairings(ctx context.Context, r *kindRun) error {
	return e.store.View(ctx, func(tx *store.Tx) error {
		return tx.Pairings(r.k.name(), func(p store.Pairing) error {
			r.byMB[p.MailboxID] = p
			r.byVP[p.VPID] = p
			if p.Origin != originUnlinked {
				r.real++
			}
			return nil
		})
	})
}

// loadRetries brings back the items whose last write failed.
func (e *Engine) loadRetries(ctx context.Context, r *kindRun, mb, vp map[string]item) error {
	var entries []store.JournalEntry
	if err := e.store.View(ctx, func(tx *store.Tx) error { var err error; entries, err = tx.Journal(); return err }); err != nil {
		return err
	}
	for _, j := range entries {
		if j.Type != r.k.name() || j.Op != "retry" {
			continue
		}
		side, id, _ := strings.Cut(j.Key, ":")
		r.retries[j.Key] = j
		switch side {
		case SideMailbox:
			if _, ok := mb[id]; ok {
				continue
			}
			it, found, err := r.k.mailboxGet(ctx, id)
			if err != nil {
				return fmt.Errorf("read %s %s again: %w", r.k.noun(), id, err)
			}
			if !found {
				it = item{id: id, removed: true}
			}
			mb[id] = it
		case SideVantagepoint:
			if _, ok := vp[id]; ok {
				continue
			}
			it, found, err := r.k.vpGet(ctx, id)
			if err != nil {
				return fmt.Errorf("read %s %s again: %w", r.k.noun(), id, err)
			}
			if !found {
				it = item{id: id, removed: true}
			}
			vp[id] = it
		}
	}
	return nil
}

// itemFailed records a failed item: an issue for the user on the side that
// failed, and a retry entry for the item (which lives on itemSide) so that
// the next batch takes it up even if nothing changes.
func (e *Engine) itemFailed(ctx context.Context, r *kindRun, side, itemSide string, it item, what string, cause error) error {
	if errors.Is(cause, ErrAuthRejected) || errors.Is(cause, errKilled) || ctx.Err() != nil {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		return cause
	}
	r.counts.Failed++
	label := it.label
	if label == "" {
		label = it.id
	}
	r.b.issue(r.k.name(), side, label, fmt.Sprintf("%s: %v", what, cause))
	return e.retryLater(ctx, r, itemSide, it.id, label)
}

// retryLater brings an item back in the next batch even if it does not
// change. Every item in scope that a batch leaves unpaired gets one: the
// delta cursor moves past it, and matching before a create looks at this
// batch's new items and these, so its twin on the other side would
// otherwise be copied next to it.
func (e *Engine) retryLater(ctx context.Context, r *kindRun, itemSide, id, label string) error {
	key := retryKey(itemSide, id)
	r.failedNow[key] = true
	if _, ok := r.retries[key]; ok {
		return nil
	}
	return e.store.Update(ctx, func(tx *store.Tx) error {
		j := store.JournalEntry{Type: r.k.name(), Op: "retry", Key: key, Payload: label, Created: e.opts.Now()}
		var err error
		j.ID, err = tx.AddJournal(j)
		r.retries[key] = j
		return err
	})
}

// itemDone closes the issue of an item that synced.
func (e *Engine) itemDone(tx *store.Tx, r *kindRun, side string, it item) error {
	label := it.label
	if label == "" {
		label = it.id
	}
	// A failure may have been reported on either side (a create fails on
	// the side it writes to): close both.
	r.b.resolve(r.k.name(), SideMailbox, label)
	r.b.resolve(r.k.name(), SideVantagepoint, label)
	return nil
}

// clearRetries removes the retry entries of items that did not fail again,
// and closes their issues: they synced, or need nothing any more.
func (e *Engine) clearRetries(ctx context.Context, r *kindRun) error {
	return e.store.Update(ctx, func(tx *store.Tx) error {
		for key, j := range r.retries {
			if r.failedNow[key] {
				continue
			}
			if err := tx.DeleteJournal(j.ID); err != nil {
				return err
			}
			r.b.resolve(r.k.name(), SideMailbox, j.Payload)
			r.b.resolve(r.k.name(), SideVantagepoint, j.Payload)
			delete(r.retries, key)
		}
		return nil
	})
}

func (e *Engine) reconcile(ctx context.Context, r *kindRun, mb, vp map[string]item, mbFull, resynced, vpFull bool) error {
	k := r.k
	type change struct {
		p      store.Pairing
		mb, vp *item
	}
	changes := map[string]*change{} // by pairing's mailbox id
	newKeys := map[string]string{}  // mailbox id → changeKey, for items whose content did not change
	var mbNew, vpNew []item
	var deletes []pendingDelete

	for _, id := range sortedKeys(mb) {
		it := mb[id]
		if it.issue != "" && !r.reported[it.issueKey] {
			r.reported[it.issueKey] = true
			r.counts.Skipped++
			r.b.issue(k.name(), SideMailbox, it.label, it.issue)
		}
		p, paired := r.byMB[id]
		if !paired {
			if !it.removed && it.outOfScope == "" {
				mbNew = append(mbNew, it)
			}
			continue
		}
		if p.Origin == originUnlinked {
			continue
		}
		if it.removed {
			// Verify: calendarView delta also reports events that only
			// left its window, and a folder delta items moved elsewhere.
			cur, found, err := k.mailboxGet(ctx, id)
			if err != nil {
				if err := e.itemFailed(ctx, r, SideMailbox, SideMailbox, it, "check whether it was deleted", err); err != nil {
					return err
				}
				continue
			}
			if found {
				it = cur
			} else {
				deletes = append(deletes, pendingDelete{side: SideMailbox, p: p})
				continue
			}
		}
		if it.outOfScope != "" {
			continue // left the scope (window, category): leave both alone
		}
		if it.hash() != p.MailboxVersion {
			c := changes[p.MailboxID]
			if c == nil {
				c = &change{p: p}
				changes[p.MailboxID] = c
			}
			c.mb = &it
		} else if it.version != "" && it.version != p.MailboxChangeKey {
			newKeys[id] = it.version
		}
	}
	if err := e.refreshChangeKeys(ctx, r, newKeys); err != nil {
		return err
	}
	for _, id := range sortedKeys(vp) {
		it := vp[id]
		p, paired := r.byVP[id]
		if !paired {
			if !it.removed && it.outOfScope == "" {
				vpNew = append(vpNew, it)
			}
			continue
		}
		if p.Origin == originUnlinked {
			continue
		}
		if it.removed {
			deletes = append(deletes, pendingDelete{side: SideVantagepoint, p: p})
			continue
		}
		if it.outOfScope != "" {
			continue
		}
		if it.hash() != p.VPVersion {
			c := changes[p.MailboxID]
			if c == nil {
				c = &change{p: p}
				changes[p.MailboxID] = c
			}
			c.vp = &it
		}
	}
	// A complete Vantagepoint listing is the only sign of a deletion there.
	vpListedNone := vpFull && len(vp) == 0
	if vpFull {
		for _, vpID := range sortedKeys(r.byVP) {
			p := r.byVP[vpID]
			if p.Origin == originUnlinked {
				continue
			}
			if _, listed := vp[vpID]; listed {
				continue
			}
			_, found, err := k.vpGet(ctx, vpID)
			if err != nil {
				if err := e.itemFailed(ctx, r, SideVantagepoint, SideVantagepoint, item{id: vpID}, "check whether it was deleted", err); err != nil {
					return err
				}
				continue
			}
			if !found {
				deletes = append(deletes, pendingDelete{side: SideVantagepoint, p: p})
			}
		}
	}
	// A first listing (not a resync: SPEC §4.4) may show mailbox deletions
	// too, e.g. after the calendar window moved.
	mbListedNone := mbFull && len(mb) == 0
	if mbFull && !resynced {
		for _, mbID := range sortedKeys(r.byMB) {
			p := r.byMB[mbID]
			if p.Origin == originUnlinked {
				continue
			}
			if _, listed := mb[mbID]; listed {
				continue
			}
			_, found, err := k.mailboxGet(ctx, mbID)
			if err != nil {
				if err := e.itemFailed(ctx, r, SideMailbox, SideMailbox, item{id: mbID}, "check whether it was deleted", err); err != nil {
					return err
				}
				continue
			}
			if !found {
				deletes = append(deletes, pendingDelete{side: SideMailbox, p: p})
			}
		}
	}

	// Changes of paired items.
	for _, id := range sortedKeys(changes) {
		c := changes[id]
		if err := e.applyChange(ctx, r, c.p, c.mb, c.vp); err != nil {
			return err
		}
	}

	// New items: match before any create.
	if err := e.pairNew(ctx, r, mbNew, vpNew); err != nil {
		return err
	}

	return e.applyDeletes(ctx, r, deletes, mbListedNone, vpListedNone)
}

// applyChange brings a changed pair together again.
func (e *Engine) applyChange(ctx context.Context, r *kindRun, p store.Pairing, m, v *item) error {
	switch {
	case m != nil && v != nil:
		if m.hash() == v.hash() || sameContent(*m, *v) {
			return e.savePair(ctx, r, p, *m, *v)
		}
		if m.readOnly != "" {
			// The meeting in Outlook is what attendees were sent: it wins,
			// and the user hears of the Vantagepoint edit it replaced.
			if err := e.pushToVP(ctx, r, p, *m, v); err != nil {
				return err
			}
			r.b.issue(r.k.name(), SideVantagepoint, v.label, "the Vantagepoint change was replaced by the Outlook meeting's: it has attendees, and changing it in Outlook would send them an update; change it in Outlook")
			return nil
		}
		if e.mailboxWins(*m, *v) {
			return e.pushToVP(ctx, r, p, *m, v)
		}
		return e.pushToMailbox(ctx, r, p, *v, m)
	case m != nil:
		return e.pushToVP(ctx, r, p, *m, nil)
	case v != nil:
		return e.pushToMailbox(ctx, r, p, *v, nil)
	}
	return nil
}

// refreshChangeKeys keeps the changeKey of paired items whose content did
// not change (a category set, a flag, a move) as the version their next
// update is based on, so that the update does not meet a 412 for nothing.
func (e *Engine) refreshChangeKeys(ctx context.Context, r *kindRun, keys map[string]string) error {
	if len(keys) == 0 {
		return nil
	}
	return e.store.Update(ctx, func(tx *store.Tx) error {
		for _, id := range sortedKeys(keys) {
			p := r.byMB[id]
			p.MailboxChangeKey = keys[id]
			if err := tx.PutPairing(p); err != nil {
				return err
			}
			r.byMB[p.MailboxID], r.byVP[p.VPID] = p, p
		}
		return nil
	})
}

func sameContent(a, b item) bool {
	if len(a.fields) != len(b.fields) {
		return false
	}
	for k, v := range a.fields {
		if b.fields[k] != v {
			return false
		}
	}
	return true
}

// mailboxWins applies sync.conflict to a pair changed on both sides.
func (e *Engine) mailboxWins(m, v item) bool {
	switch e.opts.Conflict {
	case ConflictMailbox:
		return true
	case ConflictNewest:
		return m.modified.After(v.modified)
	default:
		return false
	}
}

func (e *Engine) savePair(ctx context.Context, r *kindRun, p store.Pairing, m, v item) error {
	p.MailboxVersion, p.VPVersion, p.Updated = m.hash(), v.hash(), e.opts.Now()
	p.MailboxChangeKey = m.version
	return e.store.Update(ctx, func(tx *store.Tx) error {
		if err := e.itemDone(tx, r, SideMailbox, m); err != nil {
			return err
		}
		if err := e.itemDone(tx, r, SideVantagepoint, v); err != nil {
			return err
		}
		return tx.PutPairing(p)
	})
}

// pushToVP writes the Outlook item m onto its Vantagepoint record. v is the
// record as this batch listed it, nil when it did not change: the write is
// based on that version, or on the one last synced.
func (e *Engine) pushToVP(ctx context.Context, r *kindRun, p store.Pairing, m item, v *item) error {
	if err := e.step(r.k.name() + ":update-vp:send"); err != nil {
		return err
	}
	base := p.VPVersion
	if v != nil {
		base = v.hash()
	}
	got, err := r.k.updateVP(ctx, p.VPID, base, m)
	if errors.Is(err, ErrNotFound) {
		return e.applyDeletes(ctx, r, []pendingDelete{{side: SideVantagepoint, p: p}}, false, false)
	}
	if errors.Is(err, ErrConflict) {
		return e.editedMeanwhile(ctx, r, p, m.label)
	}
	if err != nil {
		return e.itemFailed(ctx, r, SideVantagepoint, SideMailbox, m, "update the Vantagepoint "+r.k.noun(), err)
	}
	if err := e.step(r.k.name() + ":update-vp:sent"); err != nil {
		return err
	}
	r.counts.Updated++
	return e.savePair(ctx, r, p, m, got)
}

// pushToMailbox writes the Vantagepoint record v onto its Outlook item. m is
// the item as this batch listed it, nil when it did not change: the write
// is based on that version, or on the one last synced.
func (e *Engine) pushToMailbox(ctx context.Context, r *kindRun, p store.Pairing, v item, m *item) error {
	if err := e.step(r.k.name() + ":update-mailbox:send"); err != nil {
		return err
	}
	baseKey, baseHash := p.MailboxChangeKey, p.MailboxVersion
	if m != nil {
		baseKey, baseHash = m.version, m.hash()
	}
	got, err := e.updateMailboxBasedOn(ctx, r, p.MailboxID, baseKey, baseHash, v)
	if errors.Is(err, errMailboxReadOnly) {
		// Reported, and recorded as seen on both sides: it is not tried
		// again every batch; a later change in Outlook is copied over.
		r.counts.Skipped++
		if err := e.savePair(ctx, r, p, got, v); err != nil {
			return err
		}
		r.b.issue(r.k.name(), SideMailbox, v.label, "the Vantagepoint change was "+readOnlyIssue)
		return nil
	}
	if errors.Is(err, ErrNotFound) {
		return e.applyDeletes(ctx, r, []pendingDelete{{side: SideMailbox, p: p}}, false, false)
	}
	if errors.Is(err, errEditedMeanwhile) {
		return e.editedMeanwhile(ctx, r, p, v.label)
	}
	if err != nil {
		return e.itemFailed(ctx, r, SideMailbox, SideVantagepoint, v, "update the Outlook "+r.k.noun(), err)
	}
	if err := e.step(r.k.name() + ":update-mailbox:sent"); err != nil {
		return err
	}
	r.counts.Updated++
	return e.savePair(ctx, r, p, got, v)
}

// errEditedMeanwhile: the Outlook item an update was to overwrite was
// edited after the listing the decision was based on; nothing was written.
var errEditedMeanwhile = errors.New("edited in Outlook since it was listed")

// updateMailboxBasedOn writes src onto the Outlook item mbID, based on the
// version of it the decision was made on: baseKey, its changeKey (sent as
// If-Match), and baseHash, its content. When the item has another version
// now (ErrConflict), it is read again: if its content is still baseHash
// (only the changeKey moved: a category set, a flag, an echo the pairing
// did not keep), the update is sent once more on the fresh version; if it
// already has src's content, there is nothing to write; otherwise nothing
// is written and errEditedMeanwhile says so. A second conflict is returned
// as an error (the item keeps changing).
func (e *Engine) updateMailboxBasedOn(ctx context.Context, r *kindRun, mbID, baseKey, baseHash string, src item) (item, error) {
	got, err := r.k.updateMailbox(ctx, mbID, baseKey, src)
	if !errors.Is(err, ErrConflict) {
		return got, err
	}
	cur, found, rerr := r.k.mailboxGet(ctx, mbID)
	switch {
	case rerr != nil:
		return item{}, fmt.Errorf("read the Outlook %s again after a conflict: %w", r.k.noun(), rerr)
	case !found:
		return item{}, fmt.Errorf("the Outlook %s is gone: %w", r.k.noun(), ErrNotFound)
	case sameContent(cur, src):
		return cur, nil // it already says what the update says (a retried write's lost answer, say)
	case cur.hash() != baseHash:
		return item{}, errEditedMeanwhile
	}
	got, err = r.k.updateMailbox(ctx, mbID, cur.version, src)
	if errors.Is(err, ErrConflict) {
		return item{}, fmt.Errorf("it changed again while it was being updated: %w", err)
	}
	return got, err
}

// editedMeanwhile leaves a pair alone whose target was edited between the
// listing and the write: nothing is written and the pairing keeps the
// versions last synced (the pair is not marked synced), so the edit is
// never overwritten unseen. Both items come back in the next batch (a
// retry entry each: the delta cursor and the Vantagepoint watermark move
// past them), where the edit is a change like any other and, with the
// other side's change, a conflict that sync.conflict decides.
func (e *Engine) editedMeanwhile(ctx context.Context, r *kindRun, p store.Pairing, label string) error {
	e.log.Info("edited during the batch: taken up again in the next batch", "type", r.k.name(), "item", label)
	r.counts.Skipped++
	if err := e.retryLater(ctx, r, SideMailbox, p.MailboxID, label); err != nil {
		return err
	}
	return e.retryLater(ctx, r, SideVantagepoint, p.VPID, label)
}

// pairNew matches new items with each other and with the other side, and
// creates the copies of those that match nothing.
func (e *Engine) pairNew(ctx context.Context, r *kindRun, mbNew, vpNew []item) error {
	k := r.k
	if len(mbNew) == 0 && len(vpNew) == 0 {
		return nil
	}
	// Candidates on the Vantagepoint side: the new records of this batch,
	// plus, when the mailbox has new items, every unpaired record in scope.
	vpCand := map[string]item{}
	for _, it := range vpNew {
		vpCand[it.id] = it
	}
	if len(mbNew) > 0 && len(vpNew) == 0 {
		if err := k.vpList(ctx, time.Time{}, func(it item) error {
			if _, paired := r.byVP[it.id]; !paired && !it.removed && it.outOfScope == "" {
				vpCand[it.id] = it
			}
			return nil
		}); err != nil {
			return fmt.Errorf("list %s in Vantagepoint to match new Outlook items: %w", k.name(), err)
		}
	}
	vpIndex := index(k, vpCand)
	taken := map[string]bool{} // Vantagepoint ids paired in this pass

	for _, m := range mbNew {
		cands, key := matchOne(k, m, vpIndex, taken)
		switch {
		case len(cands) == 1:
			v := vpCand[cands[0]]
			taken[v.id] = true
			if err := e.pairMatched(ctx, r, m, v); err != nil {
				return err
			}
		case len(cands) > 1:
			r.counts.Skipped++
			_, what, _ := strings.Cut(key, ":")
			r.b.issue(k.name(), SideMailbox, m.label, fmt.Sprintf("%d Vantagepoint %ss match %s: nothing was created; make the match unique",
				len(cands), k.noun(), what))
			if err := e.retryLater(ctx, r, SideMailbox, m.id, m.label); err != nil {
				return err
			}
		default:
			if err := e.createInVP(ctx, r, m); err != nil {
				return err
			}
		}
	}
	mbIndex := index(k, itemsByID(mbNew))
	for _, v := range vpNew {
		if taken[v.id] {
			continue
		}
		if cands, _ := matchOne(k, v, mbIndex, nil); len(cands) > 0 {
			// The Outlook side of this record was new too and has been
			// handled above: held back as ambiguous, or paired with
			// another record by a stronger key. This one stays unpaired,
			// and the watermark moves past it: it comes back next batch
			// like every item left unpaired, or the user's fix of the
			// ambiguity (a renamed twin) would be matched without it and
			// the Outlook item copied next to it.
			if err := e.retryLater(ctx, r, SideVantagepoint, v.id, v.label); err != nil {
				return err
			}
			continue
		}
		if err := e.createInMailbox(ctx, r, v); err != nil {
			return err
		}
	}
	return nil
}

func itemsByID(items []item) map[string]item {
	m := make(map[string]item, len(items))
	for _, it := range items {
		m[it.id] = it
	}
	return m
}

// index maps match keys to item ids.
func index(k kind, items map[string]item) map[string][]string {
	idx := map[string][]string{}
	for _, id := range sortedKeys(items) {
		for _, key := range k.matchKeys(items[id]) {
			if !contains(idx[key], id) {
				idx[key] = append(idx[key], id)
			}
		}
	}
	return idx
}

// matchOne returns the candidates of the strongest key that has any.
func matchOne(k kind, it item, idx map[string][]string, taken map[string]bool) ([]string, string) {
	for _, key := range k.matchKeys(it) {
		var cands []string
		for _, id := range idx[key] {
			if !taken[id] {
				cands = append(cands, id)
			}
		}
		if len(cands) > 0 {
			return cands, key
		}
	}
	return nil, ""
}

// pairMatched pairs two originals found to be the same thing; when their
// content differs, sync.conflict decides which side's content both get. The
// write comes before the pairing: a crash between the two leaves two
// unpaired items with the same content, which the next batch matches again.
func (e *Engine) pairMatched(ctx context.Context, r *kindRun, m, v item) error {
	k := r.k
	if !sameContent(m, v) {
		if err := e.step(k.name() + ":match-update:send"); err != nil {
			return err
		}
		// A failed write leaves both unpaired: both come back next batch
		// to be matched again. A meeting with attendees is never written:
		// Outlook's content is copied to Vantagepoint.
		if m.readOnly != "" || e.mailboxWins(m, v) {
			got, err := k.updateVP(ctx, v.id, v.hash(), m)
			if errors.Is(err, ErrConflict) {
				return e.matchEditedMeanwhile(ctx, r, m, v)
			}
			if err != nil {
				if err := e.itemFailed(ctx, r, SideVantagepoint, SideMailbox, m, "update the matching Vantagepoint "+k.noun(), err); err != nil {
					return err
				}
				return e.retryLater(ctx, r, SideVantagepoint, v.id, v.label)
			}
			v = got
		} else {
			got, err := e.updateMailboxBasedOn(ctx, r, m.id, m.version, m.hash(), v)
			if errors.Is(err, errEditedMeanwhile) {
				return e.matchEditedMeanwhile(ctx, r, m, v)
			}
			if err != nil {
				if err := e.itemFailed(ctx, r, SideMailbox, SideVantagepoint, v, "update the matching Outlook "+k.noun(), err); err != nil {
					return err
				}
				return e.retryLater(ctx, r, SideMailbox, m.id, m.label)
			}
			m = got
		}
		r.counts.Updated++
		if err := e.step(k.name() + ":match-update:sent"); err != nil {
			return err
		}
	}
	p := store.Pairing{Type: k.name(), MailboxID: m.id, VPID: v.id, Origin: originBoth}
	if err := e.savePair(ctx, r, p, m, v); err != nil {
		return err
	}
	r.byMB[m.id], r.byVP[v.id] = p, p
	r.real++
	return e.step(k.name() + ":paired")
}

// matchEditedMeanwhile leaves two matched items unpaired when the one to be
// overwritten was edited since it was listed: both come back in the next
// batch and are matched again, with the edit seen.
func (e *Engine) matchEditedMeanwhile(ctx context.Context, r *kindRun, m, v item) error {
	e.log.Info("edited during the batch: matched again in the next batch", "type", r.k.name(), "item", m.label)
	r.counts.Skipped++
	if err := e.retryLater(ctx, r, SideMailbox, m.id, m.label); err != nil {
		return err
	}
	return e.retryLater(ctx, r, SideVantagepoint, v.id, v.label)
}

// journaledCreate is the payload of a create's journal entry: the source
// item, enough to find the created copy by its natural key after a crash.
type journaledCreate struct {
	ID     string            `json:"id"`
	Label  string            `json:"label"`
	Fields map[string]string `json:"fields"`
	// Version is the source's changeKey when it is an Outlook item.
	Version string `json:"version,omitempty"`
}

func (e *Engine) createInVP(ctx context.Context, r *kindRun, m item) error {
	k := r.k
	payload, _ := json.Marshal(journaledCreate{ID: m.id, Label: m.label, Fields: m.fields, Version: m.version})
	var jid int64
	if err := e.store.Update(ctx, func(tx *store.Tx) error {
		var err error
		jid, err = tx.AddJournal(store.JournalEntry{Type: k.name(), Op: "create-vp", Key: m.id, Payload: string(payload), Created: e.opts.Now()})
		return err
	}); err != nil {
		return err
	}
	if err := e.step(k.name() + ":create-vp:journaled"); err != nil {
		return err
	}
	v, err := k.createVP(ctx, m)
	if err != nil {
		if !errors.Is(err, ErrUnavailable) {
			// Refused: nothing was created; forget the entry.
			if derr := e.store.Update(ctx, func(tx *store.Tx) error { return tx.DeleteJournal(jid) }); derr != nil {
				return derr
			}
		}
		return e.itemFailed(ctx, r, SideVantagepoint, SideMailbox, m, "create the Vantagepoint "+k.noun(), err)
	}
	if err := e.step(k.name() + ":create-vp:sent"); err != nil {
		return err
	}
	p := store.Pairing{Type: k.name(), MailboxID: m.id, VPID: v.id, Origin: originMailbox,
		MailboxVersion: m.hash(), VPVersion: v.hash(), MailboxChangeKey: m.version, Updated: e.opts.Now()}
	if err := e.store.Update(ctx, func(tx *store.Tx) error {
		if err := tx.DeleteJournal(jid); err != nil {
			return err
		}
		if err := e.itemDone(tx, r, SideMailbox, m); err != nil {
			return err
		}
		return tx.PutPairing(p)
	}); err != nil {
		return err
	}
	r.byMB[m.id], r.byVP[v.id] = p, p
	r.real++
	r.counts.Created++
	return e.step(k.name() + ":create-vp:committed")
}

func (e *Engine) createInMailbox(ctx context.Context, r *kindRun, v item) error {
	k := r.k
	payload, _ := json.Marshal(journaledCreate{ID: v.id, Label: v.label, Fields: v.fields})
	var jid int64
	if err := e.store.Update(ctx, func(tx *store.Tx) error {
		var err error
		jid, err = tx.AddJournal(store.JournalEntry{Type: k.name(), Op: "create-mailbox", Key: v.id, Payload: string(payload), Created: e.opts.Now()})
		return err
	}); err != nil {
		return err
	}
	if err := e.step(k.name() + ":create-mailbox:journaled"); err != nil {
		return err
	}
	m, err := k.createMailbox(ctx, v)
	if err != nil {
		if !errors.Is(err, ErrUnavailable) {
			if derr := e.store.Update(ctx, func(tx *store.Tx) error { return tx.DeleteJournal(jid) }); derr != nil {
				return derr
			}
		}
		return e.itemFailed(ctx, r, SideMailbox, SideVantagepoint, v, "create the Outlook "+k.noun(), err)
	}
	if err := e.step(k.name() + ":create-mailbox:sent"); err != nil {
		return err
	}
	p := store.Pairing{Type: k.name(), MailboxID: m.id, VPID: v.id, Origin: originVantagepoint,
		MailboxVersion: m.hash(), VPVersion: v.hash(), MailboxChangeKey: m.version, Updated: e.opts.Now()}
	if err := e.store.Update(ctx, func(tx *store.Tx) error {
		if err := tx.DeleteJournal(jid); err != nil {
			return err
		}
		if err := e.itemDone(tx, r, SideVantagepoint, v); err != nil {
			return err
		}
		return tx.PutPairing(p)
	}); err != nil {
		return err
	}
	r.byMB[m.id], r.byVP[v.id] = p, p
	r.real++
	r.counts.Created++
	return e.step(k.name() + ":create-mailbox:committed")
}

// recoverKind settles the creates a crash left unknown, by natural key.
func (e *Engine) recoverKind(ctx context.Context, r *kindRun) error {
	k := r.k
	var entries []store.JournalEntry
	if err := e.store.View(ctx, func(tx *store.Tx) error { var err error; entries, err = tx.Journal(); return err }); err != nil {
		return err
	}
	for _, j := range entries {
		if j.Type != k.name() || (j.Op != "create-vp" && j.Op != "create-mailbox") {
			continue
		}
		var src journaledCreate
		if err := json.Unmarshal([]byte(j.Payload), &src); err != nil {
			return fmt.Errorf("read journal entry %d: %w", j.ID, err)
		}
		srcItem := item{id: src.ID, label: src.Label, fields: src.Fields, version: src.Version}
		var (
			found item
			ok    bool
			err   error
			p     store.Pairing
		)
		// The copy is recorded as the create made it, not as it is now:
		// an edit made to it between the create and this look-up is a
		// change that the comparison of this batch sees and copies (a
		// recorded version taken from the copy as found would hide it for
		// good).
		var made item
		if j.Op == "create-vp" {
			var cands []item
			cands, err = k.findVP(ctx, srcItem, func(id string) bool { _, paired := r.byVP[id]; return paired })
			found, ok = pickRecovered(k, srcItem, cands)
			if err == nil && ok {
				made, err = k.asCreated(ctx, SideVantagepoint, srcItem)
			}
			p = store.Pairing{Type: k.name(), MailboxID: src.ID, VPID: found.id, Origin: originMailbox,
				MailboxVersion: srcItem.hash(), VPVersion: made.hash(), MailboxChangeKey: srcItem.version}
		} else {
			found, ok, err = k.findMailbox(ctx, src.ID)
			if err == nil && ok {
				made, err = k.asCreated(ctx, SideMailbox, srcItem)
			}
			p = store.Pairing{Type: k.name(), MailboxID: found.id, VPID: src.ID, Origin: originVantagepoint,
				MailboxVersion: made.hash(), VPVersion: srcItem.hash()}
			if ok && sameContent(found, made) {
				// The changeKey goes with the content recorded, not with
				// an edit made since.
				p.MailboxChangeKey = found.version
			}
		}
		if err != nil {
			if errors.Is(err, ErrAuthRejected) {
				return err
			}
			// Never create blindly: keep the entry for the next batch.
			r.b.issue(k.name(), SideVantagepoint, src.Label, fmt.Sprintf("could not check whether an interrupted create happened: %v", err))
			return fmt.Errorf("check an interrupted %s create: %w", k.noun(), err)
		}
		if err := e.store.Update(ctx, func(tx *store.Tx) error {
			if err := tx.DeleteJournal(j.ID); err != nil {
				return err
			}
			if !ok {
				return nil // never arrived: the listing brings the source again
			}
			p.Updated = e.opts.Now()
			return tx.PutPairing(p)
		}); err != nil {
			return err
		}
		if ok {
			r.byMB[p.MailboxID], r.byVP[p.VPID] = p, p
			r.real++
			r.counts.Created++
		}
	}
	return nil
}

// pickRecovered chooses, among the unpaired records that share a natural
// key with the source of an interrupted create, the one the create made:
// the record with the source's content, or else the only one with the
// source's strongest match key (the copy may have been edited since, or
// mapped with a loss). Anything else is not taken for the copy. A record
// that only shares the lookup's coarser key (a meeting of the same subject
// and start but another end, which the user made in Vantagepoint) is
// another item: taking it would pair the Outlook original with it, leave
// the record the create made to be copied back to Outlook as a duplicate,
// and never bring the user's record to Outlook. Two or more candidates with
// the key are left to matching, which reports them instead of creating
// anything.
func pickRecovered(k kind, src item, cands []item) (item, bool) {
	for _, c := range cands {
		if sameContent(c, src) {
			return c, true
		}
	}
	for _, key := range k.matchKeys(src) {
		var with []item
		for _, c := range cands {
			if contains(k.matchKeys(c), key) {
				with = append(with, c)
			}
		}
		switch len(with) {
		case 0:
			continue
		case 1:
			return with[0], true
		default:
			return item{}, false
		}
	}
	return item{}, false
}

// applyDeletes applies deletions, unless the empty-side guard holds them
// back: a side that had guardMinimum or more pairings and lists none, or
// loses more than half in one batch, looks like a broken listing, not like
// a user who deleted everything (SPEC §4.4).
func (e *Engine) applyDeletes(ctx context.Context, r *kindRun, deletes []pendingDelete, mbListedNone, vpListedNone bool) error {
	if len(deletes) == 0 {
		return nil
	}
	k := r.k
	perSide := map[string]int{}
	for _, d := range deletes {
		perSide[d.side]++
	}
	var confirmed string
	if err := e.store.View(ctx, func(tx *store.Tx) error {
		var err error
		confirmed, err = tx.Meta("confirm_deletes:" + k.name())
		return err
	}); err != nil {
		return err
	}
	for side, n := range perSide {
		listedNone := (side == SideMailbox && mbListedNone) || (side == SideVantagepoint && vpListedNone)
		if r.real >= guardMinimum && (listedNone || 2*n > r.real) && confirmed == "" {
			where := "Outlook"
			if side == SideVantagepoint {
				where = "Vantagepoint"
			}
			r.b.issue(k.name(), side, "deletions held back",
				fmt.Sprintf("%d of %d synced %ss disappeared from %s in one batch; no deletion was applied. If this is intended, confirm it in Sync Options.", n, r.real, k.noun(), where))
			var keep []pendingDelete
			for _, d := range deletes {
				if d.side != side {
					keep = append(keep, d)
				}
			}
			deletes = keep
		}
	}
	if confirmed != "" {
		if err := e.store.Update(ctx, func(tx *store.Tx) error { return tx.SetMeta("confirm_deletes:"+k.name(), "") }); err != nil {
			return err
		}
	}
	for _, d := range deletes {
		if err := e.applyDelete(ctx, r, d); err != nil {
			return err
		}
	}
	return nil
}

// applyDelete: deleting an original deletes the agent's copy; deleting a
// copy, or one of two matched originals, only unlinks (SPEC §4.4).
func (e *Engine) applyDelete(ctx context.Context, r *kindRun, d pendingDelete) error {
	k, p := r.k, d.p
	copyOnOtherSide := (d.side == SideMailbox && p.Origin == originMailbox) || (d.side == SideVantagepoint && p.Origin == originVantagepoint)
	if copyOnOtherSide {
		if err := e.step(k.name() + ":delete:send"); err != nil {
			return err
		}
		var err error
		if d.side == SideMailbox {
			err = k.deleteVP(ctx, p.VPID)
		} else {
			err = k.deleteMailbox(ctx, p.MailboxID)
		}
		if errors.Is(err, errMailboxReadOnly) {
			// Deleting it would cancel the meeting for every attendee:
			// the Outlook meeting stays, unlinked, and the user is told.
			r.b.issue(k.name(), SideMailbox, p.MailboxID, "deleted in Vantagepoint; the Outlook meeting has attendees, and deleting it would cancel it for them: it was left in Outlook (cancel it there if it is cancelled)")
			return e.unlink(ctx, r, d)
		}
		if err != nil && !errors.Is(err, ErrNotFound) {
			other := SideVantagepoint
			if d.side == SideVantagepoint {
				other = SideMailbox
			}
			id := p.VPID
			if other == SideMailbox {
				id = p.MailboxID
			}
			return e.itemFailed(ctx, r, other, other, item{id: id}, "delete the copy of a deleted "+k.noun(), err)
		}
		if err := e.step(k.name() + ":delete:sent"); err != nil {
			return err
		}
		r.counts.Deleted++
		if err := e.store.Update(ctx, func(tx *store.Tx) error { return tx.DeletePairing(k.name(), p.MailboxID) }); err != nil {
			return err
		}
		delete(r.byMB, p.MailboxID)
		delete(r.byVP, p.VPID)
		r.real--
		return nil
	}
	return e.unlink(ctx, r, d)
}

// unlink forgets a pair one side of which is gone, keeping a marker so the
// surviving item is not copied again.
func (e *Engine) unlink(ctx context.Context, r *kindRun, d pendingDelete) error {
	k, p := r.k, d.p
	u := p
	u.Origin, u.Updated = originUnlinked, e.opts.Now()
	if d.side == SideMailbox {
		u.MailboxID = "gone:" + p.MailboxID
	} else {
		u.VPID = "gone:" + p.VPID
	}
	if err := e.store.Update(ctx, func(tx *store.Tx) error {
		if err := tx.DeletePairing(k.name(), p.MailboxID); err != nil {
			return err
		}
		return tx.PutPairing(u)
	}); err != nil {
		return err
	}
	delete(r.byMB, p.MailboxID)
	delete(r.byVP, p.VPID)
	r.byMB[u.MailboxID], r.byVP[u.VPID] = u, u
	r.real--
	r.counts.Unlinked++
	return nil
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// ConfirmDeletes lets the next batch apply the deletions of a type that the
// empty-side guard held back (the user confirmed them in Sync Options).
func (e *Engine) ConfirmDeletes(ctx context.Context, typ string) error {
	return e.store.Update(ctx, func(tx *store.Tx) error { return tx.SetMeta("confirm_deletes:"+typ, "yes") })
}
