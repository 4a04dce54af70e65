package syncer

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"vpconnect/syncer/store"
)

// This file carries a plan out (plan.go decides). Every write is committed
// with its pairing on its own, so one failure never blocks the rest and a
// crash leaves a state the next batch settles (docs/behaviour.md §4.2–§4.4). Each step
// is written once for both directions: from is the side whose item is the
// source, to the side that is written.

// execute carries out a plan's actions in order.
func (e *Engine) execute(ctx context.Context, r *kindRun, acts []action) error {
	if err := e.keepTags(ctx, r, acts); err != nil {
		return err
	}
	for _, a := range acts {
		if err := e.do(ctx, r, a); err != nil {
			return err
		}
	}
	return nil
}

// do carries out one action.
func (e *Engine) do(ctx context.Context, r *kindRun, a action) error {
	name := r.k.name()
	switch a.op {
	case opReport:
		r.counts.Skipped++
		r.b.issue(name, a.side.name(), a.items[a.side].label, a.note)
	case opSave:
		_, err := e.savePair(ctx, r, a.p, [2]item{*a.items[onMailbox], *a.items[onVP]})
		return err
	case opPush:
		err := e.push(ctx, r, a)
		if err == nil && a.note != "" {
			r.b.issue(name, a.side.other().name(), a.items[a.side.other()].label, a.note)
		}
		return err
	case opMatch:
		return e.pairMatched(ctx, r, a)
	case opHold:
		it := a.items[a.side]
		r.counts.Skipped++
		r.b.issue(name, a.side.name(), it.label, a.note)
		return e.retryLater(ctx, r, a.side, it.id, it.label)
	case opWait:
		it := a.items[a.side]
		return e.retryLater(ctx, r, a.side, it.id, it.label)
	case opCreate:
		return e.createCopy(ctx, r, a.side, *a.items[a.side])
	case opHoldDeletes:
		r.b.issue(name, a.side.name(), HeldBack, a.note+e.doomedNames(ctx, r, a)+
			" If this is intended, confirm it in Sync Options or the tray; otherwise refuse it there, and what is left is copied back.")
	case opDeleteCopy:
		return e.deleteCopy(ctx, r, a.side, a.p)
	case opUnlink:
		return e.unlink(ctx, r, a.side, a.p)
	case opAnswered:
		return e.store.Update(ctx, func(tx *store.Tx) error { return tx.SetMeta(deletesAnswerKey+name, "") })
	case opRestore:
		return e.restore(ctx, r, a.side, a.p)
	}
	return nil
}

// keepTags keeps the changeKey of paired items whose content did not
// change (a category set, a flag, a move) as the version their next update
// is based on, so that the update does not meet a 412 for nothing. All in
// one transaction, before any write.
func (e *Engine) keepTags(ctx context.Context, r *kindRun, acts []action) error {
	var ps []store.Pairing
	for _, a := range acts {
		if a.op == opKeepTag {
			ps = append(ps, a.p)
		}
	}
	if len(ps) == 0 {
		return nil
	}
	return e.store.Update(ctx, func(tx *store.Tx) error {
		for _, p := range ps {
			if err := tx.PutPairing(p); err != nil {
				return err
			}
			r.setPair(p)
		}
		return nil
	})
}

// savePair records a pair as synced with the two items' versions.
func (e *Engine) savePair(ctx context.Context, r *kindRun, p store.Pairing, items [2]item) (store.Pairing, error) {
	for _, s := range bothSides {
		record(&p, s, pairedID(p, s), items[s].at())
	}
	p.Updated = e.opts.Now()
	return p, e.store.Update(ctx, func(tx *store.Tx) error {
		r.itemDone(items[onMailbox])
		r.itemDone(items[onVP])
		return tx.PutPairing(p)
	})
}

// push writes a changed item onto its pair on the other side. The write is
// based on the target as this batch listed it, or, when it did not change,
// on the version last synced.
func (e *Engine) push(ctx context.Context, r *kindRun, a action) error {
	from, to := a.side, a.side.other()
	name, src := r.k.name(), *a.items[from]
	if err := e.step(name + ":update-" + to.tag() + ":send"); err != nil {
		return err
	}
	base := synced(a.p, to)
	if t := a.items[to]; t != nil {
		base = t.at()
	}
	var items [2]item
	got, err := r.sides[to].update(ctx, pairedID(a.p, to), base, src)
	items[from], items[to] = src, got
	switch {
	case errors.Is(err, errMailboxReadOnly):
		// Only an Outlook meeting with attendees is read-only. Reported,
		// and recorded as seen on both sides: it is not tried again every
		// batch; a later change in Outlook is copied over.
		r.counts.Skipped++
		if _, err := e.savePair(ctx, r, a.p, items); err != nil {
			return err
		}
		r.b.issue(name, to.name(), src.label, "the Vantagepoint change was "+readOnlyIssue)
		return nil
	case errors.Is(err, ErrNotFound):
		return e.do(ctx, r, whenGone(to, a.p))
	case errors.Is(err, errEditedMeanwhile):
		return e.editedMeanwhile(ctx, r, [2]item{{id: a.p.MailboxID, label: src.label}, {id: a.p.VPID, label: src.label}})
	case err != nil:
		return e.itemFailed(ctx, r, to, from, src, "update the "+to.title()+" "+r.k.noun(), err)
	}
	if err := e.step(name + ":update-" + to.tag() + ":sent"); err != nil {
		return err
	}
	r.counts.Updated++
	_, err = e.savePair(ctx, r, a.p, items)
	return err
}

// editedMeanwhile leaves two items alone, a pair or a match, when the one
// to be written was edited between the listing and the write: nothing is
// written and a pairing keeps the versions last synced (the pair is not
// marked synced), so the edit is never overwritten unseen. Both items come
// back in the next batch (a retry entry each: the delta cursor and the
// Vantagepoint watermark move past them), where the edit is a change like
// any other and, with the other side's change, a conflict that
// sync.conflict decides; two matched items are matched again.
func (e *Engine) editedMeanwhile(ctx context.Context, r *kindRun, items [2]item) error {
	e.log.Info("edited during the batch: taken up again in the next batch", "type", r.k.name(), "item", items[onMailbox].label)
	r.counts.Skipped++
	for _, s := range bothSides {
		if err := e.retryLater(ctx, r, s, items[s].id, items[s].label); err != nil {
			return err
		}
	}
	return nil
}

// pairMatched pairs two originals found to be the same thing; when their
// content differs, the plan's winner gives both its content. The write
// comes before the pairing: a crash between the two leaves two unpaired
// items with the same content, which the next batch matches again.
func (e *Engine) pairMatched(ctx context.Context, r *kindRun, a action) error {
	name := r.k.name()
	items := [2]item{*a.items[onMailbox], *a.items[onVP]}
	if a.write {
		from, to := a.side, a.side.other()
		if err := e.step(name + ":match-update:send"); err != nil {
			return err
		}
		got, err := r.sides[to].update(ctx, items[to].id, items[to].at(), items[from])
		if errors.Is(err, errEditedMeanwhile) {
			return e.editedMeanwhile(ctx, r, items)
		}
		if err != nil {
			// Both stay unpaired: both come back next batch to be matched
			// again.
			if err := e.itemFailed(ctx, r, to, from, items[from], "update the matching "+to.title()+" "+r.k.noun(), err); err != nil {
				return err
			}
			return e.retryLater(ctx, r, to, items[to].id, items[to].label)
		}
		items[to] = got
		r.counts.Updated++
		if err := e.step(name + ":match-update:sent"); err != nil {
			return err
		}
	}
	p, err := e.savePair(ctx, r, store.Pairing{Type: name, MailboxID: items[onMailbox].id, VPID: items[onVP].id, Origin: originBoth}, items)
	if err != nil {
		return err
	}
	r.setPair(p)
	r.real++
	return e.step(name + ":paired")
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

// createOp is the journal operation of a create on side to.
func createOp(to sideIndex) string { return "create-" + to.tag() }

// createCopy copies the new item src of side from to the other side. The
// create is journaled first: after a crash, recoverKind finds the copy by
// its natural key instead of creating it again.
func (e *Engine) createCopy(ctx context.Context, r *kindRun, from sideIndex, src item) error {
	to := from.other()
	name, op := r.k.name(), createOp(to)
	payload, _ := json.Marshal(journaledCreate{ID: src.id, Label: src.label, Fields: src.fields, Version: src.version})
	var jid int64
	if err := e.store.Update(ctx, func(tx *store.Tx) error {
		var err error
		jid, err = tx.AddJournal(store.JournalEntry{Type: name, Op: op, Key: src.id, Payload: string(payload), Created: e.opts.Now()})
		return err
	}); err != nil {
		return err
	}
	if err := e.step(name + ":" + op + ":journaled"); err != nil {
		return err
	}
	made, err := r.sides[to].create(ctx, src)
	if err != nil {
		if !errors.Is(err, ErrUnavailable) {
			// Refused: nothing was created; forget the entry.
			if derr := e.store.Update(ctx, func(tx *store.Tx) error { return tx.DeleteJournal(jid) }); derr != nil {
				return derr
			}
		}
		return e.itemFailed(ctx, r, to, from, src, "create the "+to.title()+" "+r.k.noun(), err)
	}
	if err := e.step(name + ":" + op + ":sent"); err != nil {
		return err
	}
	p := store.Pairing{Type: name, Origin: from.origin(), Updated: e.opts.Now()}
	record(&p, from, src.id, src.at())
	record(&p, to, made.id, made.at())
	if err := e.store.Update(ctx, func(tx *store.Tx) error {
		if err := tx.DeleteJournal(jid); err != nil {
			return err
		}
		r.itemDone(src)
		return tx.PutPairing(p)
	}); err != nil {
		return err
	}
	r.setPair(p)
	r.real++
	r.counts.Created++
	return e.step(name + ":" + op + ":committed")
}

// recoverKind settles the creates a crash left unknown, by natural key.
func (e *Engine) recoverKind(ctx context.Context, r *kindRun) error {
	name := r.k.name()
	var entries []store.JournalEntry
	if err := e.store.View(ctx, func(tx *store.Tx) error { var err error; entries, err = tx.Journal(); return err }); err != nil {
		return err
	}
	for _, j := range entries {
		if j.Type != name {
			continue
		}
		var to sideIndex
		switch j.Op {
		case createOp(onVP):
			to = onVP
		case createOp(onMailbox):
			to = onMailbox
		default:
			continue
		}
		from := to.other()
		var payload journaledCreate
		if err := json.Unmarshal([]byte(j.Payload), &payload); err != nil {
			return fmt.Errorf("read journal entry %d: %w", j.ID, err)
		}
		src := item{id: payload.ID, label: payload.Label, fields: payload.Fields, version: payload.Version}
		found, ok, err := r.sides[to].findCopy(ctx, src, func(id string) bool { _, paired := r.pairs[to][id]; return paired })
		// The copy is recorded as the create made it, not as it is now:
		// an edit made to it between the create and this look-up is a
		// change that the comparison of this batch sees and copies (a
		// recorded version taken from the copy as found would hide it for
		// good).
		var made item
		if err == nil && ok {
			made, err = r.sides[to].asCreated(ctx, src)
		}
		if err != nil {
			if errors.Is(err, ErrAuthRejected) {
				return err
			}
			// Never create blindly: keep the entry for the next batch.
			r.b.issue(name, to.name(), src.label, fmt.Sprintf("could not check whether an interrupted create happened: %v", err))
			return fmt.Errorf("check an interrupted %s create: %w", r.k.noun(), err)
		}
		p := store.Pairing{Type: name, Origin: from.origin()}
		record(&p, from, src.id, src.at())
		// The changeKey goes with the content recorded, not with an edit
		// made since.
		made.version = ""
		if sameContent(found, made) {
			made.version = found.version
		}
		record(&p, to, found.id, made.at())
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
			r.setPair(p)
			r.real++
			r.counts.Created++
		}
	}
	return nil
}

// deleteCopy deletes the agent's copy of an original gone from side gone.
func (e *Engine) deleteCopy(ctx context.Context, r *kindRun, gone sideIndex, p store.Pairing) error {
	name, o := r.k.name(), gone.other()
	if err := e.step(name + ":delete:send"); err != nil {
		return err
	}
	err := r.sides[o].remove(ctx, pairedID(p, o))
	if errors.Is(err, errMailboxReadOnly) {
		// Only an Outlook meeting with attendees is read-only: deleting
		// it would cancel the meeting for every attendee. It stays,
		// unlinked, and the user is told.
		r.b.issue(name, o.name(), pairedID(p, o), "deleted in Vantagepoint; the Outlook meeting has attendees, and deleting it would cancel it for them: it was left in Outlook (cancel it there if it is cancelled)")
		return e.unlink(ctx, r, gone, p)
	}
	if err != nil && !errors.Is(err, ErrNotFound) {
		return e.itemFailed(ctx, r, o, o, item{id: pairedID(p, o)}, "delete the copy of a deleted "+r.k.noun(), err)
	}
	if err := e.step(name + ":delete:sent"); err != nil {
		return err
	}
	r.counts.Deleted++
	if err := e.store.Update(ctx, func(tx *store.Tx) error { return tx.DeletePairing(name, p.MailboxID) }); err != nil {
		return err
	}
	r.forget(p)
	r.real--
	return nil
}

// unlink forgets a pair whose item on side gone is gone, keeping a marker
// so that the surviving item is not copied again.
func (e *Engine) unlink(ctx context.Context, r *kindRun, gone sideIndex, p store.Pairing) error {
	u := p
	u.Origin, u.Updated = originUnlinked, e.opts.Now()
	record(&u, gone, "gone:"+pairedID(p, gone), synced(p, gone))
	if err := e.store.Update(ctx, func(tx *store.Tx) error {
		if err := tx.DeletePairing(r.k.name(), p.MailboxID); err != nil {
			return err
		}
		return tx.PutPairing(u)
	}); err != nil {
		return err
	}
	r.forget(p)
	r.setPair(u)
	r.real--
	r.counts.Unlinked++
	return nil
}

// namesShown is how many of the items a confirmation would delete the
// guard's issue names (each costs a read).
const namesShown = 5

// ConfirmingDeletes is the phrase of the guard's issue that says what a
// confirmation deletes: n items (noun) on side. The tray reads it back.
func ConfirmingDeletes(n int, noun, side string) string {
	return fmt.Sprintf("Confirming deletes %d %ss in %s", n, noun, side)
}

// doomedNames says what a confirmation of held-back deletions would
// delete: how many items, where, and the names of the first few.
func (e *Engine) doomedNames(ctx context.Context, r *kindRun, a action) string {
	other := a.side.other()
	if len(a.doomed) == 0 {
		return " Confirming deletes nothing in " + other.title() + ": the items left there are only unlinked."
	}
	var names []string
	for _, p := range a.doomed {
		if len(names) == namesShown {
			break
		}
		it, found, err := r.sides[other].get(ctx, pairedID(p, other))
		if err != nil || !found || it.label == "" {
			continue
		}
		names = append(names, strconv.Quote(it.label))
	}
	out := " " + ConfirmingDeletes(len(a.doomed), r.k.noun(), other.title())
	if len(names) > 0 {
		out += ": " + strings.Join(names, ", ")
		if more := len(a.doomed) - len(names); more > 0 {
			out += fmt.Sprintf(" and %d more", more)
		}
	}
	return out + "."
}

// restore answers a refusal of held-back deletions for one pair: the item
// left on the other side is copied back to the side it disappeared from,
// and replaces the pair (createCopy's pairing takes the place of this one).
// When it is gone too, the pairing is forgotten.
func (e *Engine) restore(ctx context.Context, r *kindRun, gone sideIndex, p store.Pairing) error {
	from := gone.other()
	id := pairedID(p, from)
	src, found, err := r.sides[from].get(ctx, id)
	if err != nil {
		return e.itemFailed(ctx, r, from, from, item{id: id, label: id}, "read the "+from.title()+" "+r.k.noun()+" to copy it back", err)
	}
	r.forget(p)
	r.real--
	if !found || src.outOfScope != "" {
		return e.store.Update(ctx, func(tx *store.Tx) error { return tx.DeletePairing(r.k.name(), p.MailboxID) })
	}
	return e.createCopy(ctx, r, from, src)
}
