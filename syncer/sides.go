package syncer

import (
	"context"
	"errors"
	"fmt"
	"time"

	"vpconnect/syncer/store"
)

// This file holds the two sides of a two-way type as one interface, used
// twice: every step of the reconciliation (copy a new item, propagate an
// update, delete a copy or unlink, recover an interrupted create) is
// written once and run in either direction by indexing [2] arrays, so the
// two directions cannot drift apart.

// sideIndex says which side of a pairing: onMailbox or onVP.
type sideIndex int

const (
	onMailbox sideIndex = iota
	onVP
)

// bothSides is the order every step visits the sides in.
var bothSides = [2]sideIndex{onMailbox, onVP}

func (s sideIndex) other() sideIndex { return 1 - s }

// name is the side as issues and retry entries name it.
func (s sideIndex) name() string { return [2]string{SideMailbox, SideVantagepoint}[s] }

// title is the side as the user knows it.
func (s sideIndex) title() string { return [2]string{"Outlook", "Vantagepoint"}[s] }

// tag names the side in journal operations and crash steps.
func (s sideIndex) tag() string { return [2]string{"mailbox", "vp"}[s] }

// origin is the pairing origin of an item created on this side.
func (s sideIndex) origin() string { return [2]string{originMailbox, originVantagepoint}[s] }

func sideNamed(name string) (sideIndex, bool) {
	switch name {
	case SideMailbox:
		return onMailbox, true
	case SideVantagepoint:
		return onVP, true
	}
	return 0, false
}

// lookup turns a read's answer into an item's: ErrNotFound is no error,
// only not found.
func lookup[T any](v T, err error) (T, bool, error) {
	if errors.Is(err, ErrNotFound) {
		var none T
		return none, false, nil
	}
	return v, err == nil, err
}

// version is what an update is based on: the hash of the content the
// decision saw and the item's own version tag (a mailbox item's changeKey,
// sent as If-Match; Vantagepoint records have none).
type version struct{ hash, tag string }

func (it item) at() version { return version{it.hash(), it.version} }

// pairedID is the pairing's item on side s.
func pairedID(p store.Pairing, s sideIndex) string {
	if s == onMailbox {
		return p.MailboxID
	}
	return p.VPID
}

// synced is the version of side s the pairing last synced.
func synced(p store.Pairing, s sideIndex) version {
	if s == onMailbox {
		return version{p.MailboxVersion, p.MailboxChangeKey}
	}
	return version{hash: p.VPVersion}
}

// record sets the pairing's item and synced version on side s.
func record(p *store.Pairing, s sideIndex, id string, v version) {
	if s == onMailbox {
		p.MailboxID, p.MailboxVersion, p.MailboxChangeKey = id, v.hash, v.tag
		return
	}
	p.VPID, p.VPVersion = id, v.hash
}

// side is one side of a two-way type: the mailbox or Vantagepoint, for
// contacts or events. Every method speaks in items, the mapped fields the
// rules compare; errors are those of the adapters (ErrNotFound,
// ErrUnavailable...).
type side interface {
	// list reads what changed on the side since the listing the last
	// batch committed (everything the first time).
	list(ctx context.Context) (listing, error)
	// get reads one item; false when it is gone.
	get(ctx context.Context, id string) (item, bool, error)
	// create makes the copy of src, an item of the other side.
	create(ctx context.Context, src item) (item, error)
	// update writes src's fields onto the item id, based on the version
	// the decision was taken on (a zero base writes unconditionally).
	// errEditedMeanwhile: the item was edited since, and nothing was
	// written; errMailboxReadOnly: the agent must not change it (the item
	// returned is the item as it is).
	update(ctx context.Context, id string, base version, src item) (item, error)
	// remove deletes the item id (errMailboxReadOnly as for update).
	remove(ctx context.Context, id string) error
	// findCopy is the natural-key lookup of crash recovery: the item an
	// interrupted create from src made on this side, if any. taken says
	// which ids are paired already.
	findCopy(ctx context.Context, src item, taken func(string) bool) (item, bool, error)
	// asCreated is the item a create from src made on this side, as it
	// was right after the create: what recovery records as synced, so
	// that an edit made to the copy before the create was confirmed is a
	// change.
	asCreated(ctx context.Context, src item) (item, error)
}

// fullLister is a side that can list every item in scope in one listing
// (Vantagepoint). Matching new items of the other side looks at all its
// unpaired items then, not only its new ones; the mailbox offers no such
// listing short of a delta resync.
type fullLister interface {
	listAll(ctx context.Context, fn func(item) error) error
}

// listing is what one side listed in a batch.
type listing struct {
	items map[string]item
	// full: the listing holds every item in scope.
	full bool
	// checkAbsent: a paired item the listing lacks may be gone, and is
	// read to know. Not for a mailbox resync: what its listing lacks is
	// never taken for deleted (docs/behaviour.md §4.4).
	checkAbsent bool
	// checkRemovals: a removal the listing reports is read again before
	// it is believed (calendarView delta also reports events that only
	// left its window, and a folder delta items moved elsewhere).
	checkRemovals bool
	// save moves the side's mark past this listing; it runs in the
	// batch's last transaction.
	save func(tx *store.Tx) error
}

// deltaListing lists a mailbox side by its delta cursor. A resync lists
// everything again.
func (e *Engine) deltaListing(ctx context.Context, typ, cursorKey string, round func(ctx context.Context, cursor string, fn func(item) error) (string, error)) (listing, error) {
	var cursor string
	if err := e.store.View(ctx, func(tx *store.Tx) error { var err error; cursor, err = tx.Cursor(cursorKey); return err }); err != nil {
		return listing{}, err
	}
	items := map[string]item{}
	collect := func(it item) error { items[it.id] = it; return nil }
	next, err := round(ctx, cursor, collect)
	resynced := false
	if errors.Is(err, ErrResyncRequired) && cursor != "" {
		e.log.Info("mailbox listing needs a full resync", "type", typ)
		clear(items)
		resynced = true
		next, err = round(ctx, "", collect)
	}
	if err != nil {
		return listing{}, fmt.Errorf("list %s in the mailbox: %w", typ, err)
	}
	now := e.opts.Now().UTC()
	return listing{items: items, full: cursor == "" || resynced, checkAbsent: cursor == "", checkRemovals: true,
		save: func(tx *store.Tx) error { return tx.SetCursor(cursorKey, next, now) }}, nil
}

// watermarkListing lists a Vantagepoint side: the records changed since
// the watermark, and every hour (or the first time) everything in scope,
// the only way to see records deleted there.
func (e *Engine) watermarkListing(ctx context.Context, typ string, list func(ctx context.Context, since time.Time, fn func(item) error) error) (listing, error) {
	watermark, lastFull, err := e.vpMarks(ctx, typ)
	if err != nil {
		return listing{}, err
	}
	now := e.opts.Now().UTC()
	full := watermark.IsZero() || now.Sub(lastFull) >= fullListingEvery || now.Before(lastFull)
	since := watermark
	if full {
		since = time.Time{}
	}
	items := map[string]item{}
	maxMod := watermark
	if err := list(ctx, since, func(it item) error {
		items[it.id] = it
		if it.modified.After(maxMod) {
			maxMod = it.modified
		}
		return nil
	}); err != nil {
		return listing{}, fmt.Errorf("list %s in Vantagepoint: %w", typ, err)
	}
	save := func(tx *store.Tx) error {
		if !maxMod.IsZero() {
			if err := tx.SetMeta("vp_watermark:"+typ, maxMod.UTC().Format(time.RFC3339Nano)); err != nil {
				return err
			}
		}
		if full {
			return tx.SetMeta("vp_full:"+typ, now.Format(time.RFC3339Nano))
		}
		return nil
	}
	return listing{items: items, full: full, checkAbsent: full, save: save}, nil
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

// updateBasedOn writes src onto a mailbox item through put, based on the
// version of it the decision was made on: base.tag, its changeKey (sent as
// If-Match), and base.hash, its content. When the item has another version
// now (ErrConflict), it is read again: if its content is still base.hash
// (only the changeKey moved: a category set, a flag, an echo the pairing
// did not keep), the update is sent once more on the fresh version; if it
// already has src's content, there is nothing to write; otherwise nothing
// is written and errEditedMeanwhile says so. A second conflict is returned
// as an error (the item keeps changing).
func updateBasedOn(ctx context.Context, noun string, get func(context.Context, string) (item, bool, error),
	put func(ctx context.Context, id, tag string, src item) (item, error), id string, base version, src item) (item, error) {
	got, err := put(ctx, id, base.tag, src)
	if !errors.Is(err, ErrConflict) {
		return got, err
	}
	cur, found, rerr := get(ctx, id)
	switch {
	case rerr != nil:
		return item{}, fmt.Errorf("read the Outlook %s again after a conflict: %w", noun, rerr)
	case !found:
		return item{}, fmt.Errorf("the Outlook %s is gone: %w", noun, ErrNotFound)
	case sameContent(cur, src):
		return cur, nil // it already says what the update says (a retried write's lost answer, say)
	case cur.hash() != base.hash:
		return item{}, errEditedMeanwhile
	}
	got, err = put(ctx, id, cur.version, src)
	if errors.Is(err, ErrConflict) {
		return item{}, fmt.Errorf("it changed again while it was being updated: %w", err)
	}
	return got, err
}

// checkBase guards a write to a Vantagepoint record, which has no
// concurrency token (see Update in syncer/vantagepoint): the record the
// write starts from, read anyway, is compared with the version the
// decision was based on, at no extra request. Only an edit between that
// read and the PUT can still be overwritten. done is true when the record
// already has src's content (was is returned: nothing left to write).
func checkBase(was item, base version, src item, what string) (done bool, err error) {
	if base.hash == "" || was.hash() == base.hash {
		return false, nil
	}
	if sameContent(was, src) {
		return true, nil
	}
	return false, fmt.Errorf("%s: %w", what, errEditedMeanwhile)
}

// findRecovered lists candidates for the copy an interrupted create from
// src made, and picks the one the create made (see pickRecovered).
func findRecovered(ctx context.Context, keys func(item) []string, src item, list func(ctx context.Context, fn func(item) error) error, taken func(string) bool) (item, bool, error) {
	var cands []item
	err := list(ctx, func(it item) error {
		if taken(it.id) {
			return nil
		}
		for _, key := range keys(src) {
			if contains(keys(it), key) {
				cands = append(cands, it)
				return nil
			}
		}
		return nil
	})
	if err != nil {
		return item{}, false, err
	}
	found, ok := pickRecovered(keys, src, cands)
	return found, ok, nil
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
func pickRecovered(keys func(item) []string, src item, cands []item) (item, bool) {
	for _, c := range cands {
		if sameContent(c, src) {
			return c, true
		}
	}
	for _, key := range keys(src) {
		var with []item
		for _, c := range cands {
			if contains(keys(c), key) {
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
