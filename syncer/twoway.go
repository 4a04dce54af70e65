package syncer

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
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
// resolve a conflict, or nothing. A batch of one type lists both sides
// (sides.go), reads again what a listing says is gone where the listing
// can be wrong, makes a plan without I/O (plan.go) and carries it out
// (execute.go). Every write is committed with its pairing on its own, so
// one failure never blocks the rest (docs/behaviour.md §4.2–§4.4).
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
// holds back deletions (docs/behaviour.md §4.4).
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

// kind is one two-way item type: its two sides and the rules that are the
// type's own.
type kind interface {
	name() string
	// noun names one item in messages ("contact", "meeting").
	noun() string
	// ready says whether the type can sync (initialized, supported by the
	// adapters); a reason when not.
	ready(ctx context.Context) (bool, string, error)
	// sides are the mailbox and Vantagepoint sides, indexed by onMailbox
	// and onVP.
	sides() [2]side
	// matchKeys are the keys two items are matched by before any create,
	// strongest first.
	matchKeys(it item) []string
	// mailboxCursorKey names the mailbox cursor; it changes when the
	// listing's scope does (the calendar window moves every day).
	// mailboxRound is one delta round of the mailbox side. The mailbox
	// side lists with them; a probe reads them between batches.
	mailboxCursorKey() string
	mailboxRound(ctx context.Context, cursor string, fn func(item) error) (string, error)
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

// kindRun is the state of one type during one batch.
type kindRun struct {
	k      kind
	sides  [2]side
	b      *batchRun
	counts *store.Counts
	// pairs are the pairings by each side's id.
	pairs [2]map[string]store.Pairing
	real  int // pairings that link two live items
	// retries are the retry entries of the journal by key; failedNow the
	// keys that failed again in this batch.
	retries   map[string]store.JournalEntry
	failedNow map[string]bool
}

func (r *kindRun) setPair(p store.Pairing) {
	r.pairs[onMailbox][p.MailboxID], r.pairs[onVP][p.VPID] = p, p
}

func (r *kindRun) forget(p store.Pairing) {
	delete(r.pairs[onMailbox], p.MailboxID)
	delete(r.pairs[onVP], p.VPID)
}

func retryKey(side sideIndex, id string) string { return side.name() + ":" + id }

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
	r := &kindRun{k: k, sides: k.sides(), b: b, counts: b.count(k.name()),
		pairs:   [2]map[string]store.Pairing{{}, {}},
		retries: map[string]store.JournalEntry{}, failedNow: map[string]bool{}}
	if err := e.loadPairings(ctx, r); err != nil {
		return err
	}
	if err := e.recoverKind(ctx, r); err != nil {
		return err
	}

	in := planInput{noun: k.noun(), keys: k.matchKeys, conflict: e.opts.Conflict}
	var ls [2]listing
	for _, s := range bothSides {
		if s == onVP && !b.scope.listsVP(k.name()) {
			// Nothing listed, nothing learnt: the watermark stays.
			ls[s] = listing{items: map[string]item{}, save: func(*store.Tx) error { return nil }}
			continue
		}
		if ls[s], err = r.sides[s].list(ctx); err != nil {
			return err
		}
	}
	r.counts.Scanned += len(ls[onMailbox].items) + len(ls[onVP].items)
	// Items that failed in an earlier batch come back even if unchanged.
	if err := e.loadRetries(ctx, r, &ls); err != nil {
		return err
	}
	for _, s := range bothSides {
		in.listedNone[s] = ls[s].full && len(ls[s].items) == 0
	}
	if err := e.checkGone(ctx, r, &ls); err != nil {
		return err
	}
	for _, s := range bothSides {
		in.listed[s] = ls[s].items
	}
	if in.candidates, err = e.offerCandidates(ctx, r, in.listed); err != nil {
		return err
	}
	if err := e.store.View(ctx, func(tx *store.Tx) error {
		answer, err := tx.Meta(deletesAnswerKey + k.name())
		in.confirmed, in.refused = answer == answerConfirm, answer == answerRefuse
		return err
	}); err != nil {
		return err
	}
	in.pairs, in.live = r.pairs, r.real

	acts := makePlan(in)
	// A side whose deletions the guard held back keeps its listing mark:
	// the next batch sees the same items gone, so that the user's answer
	// (confirm or refuse) has them to act on, and the issue stays until
	// then.
	var held [2]bool
	for _, a := range acts {
		if a.op == opHoldDeletes {
			held[a.side] = true
		}
	}
	if err := e.execute(ctx, r, acts); err != nil {
		return err
	}
	for _, s := range bothSides {
		if !held[s] {
			// Answered, or the items came back: the guard's issue goes.
			r.b.resolve(k.name(), s.name(), HeldBack)
		}
	}
	if err := e.clearRetries(ctx, r); err != nil {
		return err
	}
	if err := e.step(k.name() + ":cursors"); err != nil {
		return err
	}
	return e.store.Update(ctx, func(tx *store.Tx) error {
		for _, s := range bothSides {
			if held[s] {
				continue
			}
			if err := ls[s].save(tx); err != nil {
				return err
			}
		}
		return nil
	})
}

func (e *Engine) loadPairings(ctx context.Context, r *kindRun) error {
	return e.store.View(ctx, func(tx *store.Tx) error {
		return tx.Pairings(r.k.name(), func(p store.Pairing) error {
			r.setPair(p)
			if p.Origin != originUnlinked {
				r.real++
			}
			return nil
		})
	})
}

// loadRetries brings back the items whose last write failed.
func (e *Engine) loadRetries(ctx context.Context, r *kindRun, ls *[2]listing) error {
	var entries []store.JournalEntry
	if err := e.store.View(ctx, func(tx *store.Tx) error { var err error; entries, err = tx.Journal(); return err }); err != nil {
		return err
	}
	for _, j := range entries {
		if j.Type != r.k.name() || j.Op != "retry" {
			continue
		}
		name, id, _ := strings.Cut(j.Key, ":")
		r.retries[j.Key] = j
		s, ok := sideNamed(name)
		if !ok {
			continue
		}
		if _, listed := ls[s].items[id]; listed {
			continue
		}
		it, found, err := r.sides[s].get(ctx, id)
		if err != nil {
			return fmt.Errorf("read %s %s again: %w", r.k.noun(), id, err)
		}
		if !found {
			it = item{id: id, removed: true}
		}
		ls[s].items[id] = it
	}
	return nil
}

// checkGone reads again the paired items a listing says are gone where
// the listing can be wrong (ls.checkRemovals), and those a complete
// listing lacks (ls.checkAbsent: the only sign of a deletion in
// Vantagepoint). What is gone is left in the listing as removed; what is
// there after all, as it is; what cannot be read, out of this batch.
func (e *Engine) checkGone(ctx context.Context, r *kindRun, ls *[2]listing) error {
	unknown := [2]map[string]bool{{}, {}}
	check := func(s sideIndex, id string, it item) (item, bool, error) {
		cur, found, err := r.sides[s].get(ctx, id)
		if err != nil {
			unknown[s][id] = true
			return it, false, e.itemFailed(ctx, r, s, s, it, "check whether it was deleted", err)
		}
		if !found {
			return item{id: id, removed: true}, true, nil
		}
		return cur, true, nil
	}
	for _, s := range bothSides {
		if !ls[s].checkRemovals {
			continue
		}
		for _, id := range sortedKeys(ls[s].items) {
			it := ls[s].items[id]
			if p, paired := r.pairs[s][id]; !it.removed || !paired || p.Origin == originUnlinked {
				continue
			}
			cur, ok, err := check(s, id, it)
			if err != nil {
				return err
			}
			if ok {
				ls[s].items[id] = cur
			}
		}
	}
	for _, s := range [2]sideIndex{onVP, onMailbox} {
		if !ls[s].checkAbsent {
			continue
		}
		for _, id := range sortedKeys(r.pairs[s]) {
			if _, listed := ls[s].items[id]; listed || r.pairs[s][id].Origin == originUnlinked {
				continue
			}
			cur, ok, err := check(s, id, item{id: id})
			if err != nil {
				return err
			}
			if ok && cur.removed {
				ls[s].items[id] = cur
			}
		}
	}
	for _, s := range bothSides {
		for id := range unknown[s] {
			delete(ls[s].items, id)
		}
	}
	return nil
}

// offerCandidates lists, for a side whose new items have no new items of
// the other side to match, every unpaired item in scope of the other side,
// when that side can list them all (fullLister): a twin made before the
// pairing existed, or left unpaired by an earlier batch, is matched
// instead of copied next to it.
func (e *Engine) offerCandidates(ctx context.Context, r *kindRun, listed [2]map[string]item) ([2]map[string]item, error) {
	var cands [2]map[string]item
	for _, s := range bothSides {
		o := s.other()
		fl, ok := r.sides[o].(fullLister)
		if !ok || len(newItems(listed[s], r.pairs[s])) == 0 || len(newItems(listed[o], r.pairs[o])) > 0 {
			continue
		}
		cands[o] = map[string]item{}
		if err := fl.listAll(ctx, func(it item) error {
			if _, paired := r.pairs[o][it.id]; !paired && !it.removed && it.outOfScope == "" {
				cands[o][it.id] = it
			}
			return nil
		}); err != nil {
			return cands, fmt.Errorf("list %s in %s to match new %s items: %w", r.k.name(), o.title(), s.title(), err)
		}
	}
	return cands, nil
}

// itemFailed records a failed item: an issue for the user on the side that
// failed, and a retry entry for the item (which lives on itemSide) so that
// the next batch takes it up even if nothing changes.
func (e *Engine) itemFailed(ctx context.Context, r *kindRun, side, itemSide sideIndex, it item, what string, cause error) error {
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
	r.b.issue(r.k.name(), side.name(), label, fmt.Sprintf("%s: %v", what, cause))
	return e.retryLater(ctx, r, itemSide, it.id, label)
}

// retryLater brings an item back in the next batch even if it does not
// change. Every item in scope that a batch leaves unpaired gets one: the
// delta cursor moves past it, and matching before a create looks at this
// batch's new items and these, so its twin on the other side would
// otherwise be copied next to it.
func (e *Engine) retryLater(ctx context.Context, r *kindRun, itemSide sideIndex, id, label string) error {
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

// itemDone closes the issue of an item that synced. A failure may have
// been reported on either side (a create fails on the side it writes to):
// both are closed.
func (r *kindRun) itemDone(it item) {
	label := it.label
	if label == "" {
		label = it.id
	}
	r.b.resolve(r.k.name(), SideMailbox, label)
	r.b.resolve(r.k.name(), SideVantagepoint, label)
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

// errEditedMeanwhile: the item an update was to overwrite was edited after
// the listing the decision was based on; nothing was written.
var errEditedMeanwhile = errors.New("edited since it was listed")

// The user's answer to the deletions of a type that the empty-side guard
// held back, kept until the batch that acts on it. (The key and "yes" are
// what a confirmation was before refusals existed.)
const (
	deletesAnswerKey = "confirm_deletes:"
	answerConfirm    = "yes"
	answerRefuse     = "refuse"
)

// ConfirmDeletes lets the next batch apply the deletions of a type that the
// empty-side guard held back (the user confirmed them in Sync Options or
// the tray).
func (e *Engine) ConfirmDeletes(ctx context.Context, typ string) error {
	return e.store.Update(ctx, func(tx *store.Tx) error { return tx.SetMeta(deletesAnswerKey+typ, answerConfirm) })
}

// RefuseDeletes is the other answer: the next batch deletes nothing of
// what the guard held back, and copies each item left on one side back
// to the side it disappeared from (docs/behaviour.md §4.4).
func (e *Engine) RefuseDeletes(ctx context.Context, typ string) error {
	return e.store.Update(ctx, func(tx *store.Tx) error { return tx.SetMeta(deletesAnswerKey+typ, answerRefuse) })
}
