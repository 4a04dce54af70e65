package syncer

import (
	"fmt"
	"sort"
	"strings"

	"vpconnect/syncer/store"
)

// This file is the decision half of the two-way reconciliation: a pure
// function from the pairings and both sides' listings to a list of actions,
// with no I/O. The engine lists both sides and reads again what a listing
// says is gone (twoway.go) before the plan; the executor (execute.go)
// carries the actions out.

// op is what an action does.
type op int

const (
	// opReport tells the user of an item that is not synced (issue).
	opReport op = iota
	// opKeepTag records a paired item's new version tag (changeKey) whose
	// content did not change, so that its next update is based on it.
	opKeepTag
	// opSave records a pair changed on both sides to the same content.
	opSave
	// opPush copies side's item onto its pair on the other side.
	opPush
	// opMatch pairs two new originals found to be the same thing; when
	// write is set, side's content is copied onto the other first.
	opMatch
	// opHold leaves a new item unpaired and tells the user why (its
	// match is ambiguous).
	opHold
	// opWait leaves a new item unpaired until the next batch, quietly.
	opWait
	// opCreate copies a new item of side to the other side.
	opCreate
	// opHoldDeletes tells the user that the deletions on side were held
	// back by the empty-side guard.
	opHoldDeletes
	// opDeleteCopy: the pair's original on side is gone; the agent's copy
	// on the other side goes too (docs/behaviour.md §4.4).
	opDeleteCopy
	// opUnlink: the pair's item on side, a copy or one of two matched
	// originals, is gone; the other is left alone for good (docs/behaviour.md §4.4).
	opUnlink
	// opAnswered uses up the user's answer (confirm or refuse) to the
	// held-back deletions.
	opAnswered
	// opRestore: the user refused the held-back deletions; the pair's
	// item on side is gone, and the item left on the other side is copied
	// back to side (docs/behaviour.md §4.4).
	opRestore
)

// HeldBack is the item of the issue the empty-side guard files for a type
// whose deletions it held back; its reason says what a confirmation
// would delete. The tray and the alerts find the guard's issues by it.
const HeldBack = "deletions held back"

// action is one step of a plan.
type action struct {
	op op
	// side is where the action starts: the source of a copy or of the
	// content that wins, the side of an item reported or waiting, the
	// side where an item was deleted.
	side sideIndex
	p    store.Pairing
	// items are the items as listed, by side; nil where not listed (or,
	// for opPush, where unchanged: the write is then based on the
	// version last synced).
	items [2]*item
	// note is the issue told the user (opReport, opHold, opHoldDeletes),
	// and for opPush the notice that the other side's edit was replaced.
	note string
	// write: opMatch copies content (the two differ).
	write bool
	// doomed are, for opHoldDeletes, the pairs whose item on the other
	// side a confirmation would delete (the rest would only be unlinked).
	doomed []store.Pairing
}

// planInput is everything a plan is made of.
type planInput struct {
	noun string
	keys func(item) []string
	// pairs are the pairings by each side's id (unlinked markers too).
	pairs [2]map[string]store.Pairing
	// live is the number of pairings that link two live items.
	live int
	// listed is what each side listed, retried items included; a
	// removed item is known to be gone (the engine read it again where
	// the listing could be wrong).
	listed [2]map[string]item
	// candidates are further unpaired items in scope that a side offers
	// to the matching of the other side's new items.
	candidates [2]map[string]item
	// listedNone: the side's listing was complete and empty.
	listedNone [2]bool
	conflict   string
	// confirmed: the user confirmed deletions the guard held back;
	// refused: the user refused them (the items left are copied back).
	confirmed, refused bool
}

// newItems are the items of a listing that are unpaired and in scope:
// each is matched, or copied to the other side.
func newItems(listed map[string]item, pairs map[string]store.Pairing) []item {
	var out []item
	for _, id := range sortedKeys(listed) {
		it := listed[id]
		if _, paired := pairs[id]; !paired && !it.removed && it.outOfScope == "" {
			out = append(out, it)
		}
	}
	return out
}

// makePlan decides, for every item the sides listed, what the batch does:
// issues first, then changes of paired items, then new items (matched
// before any create), then deletions (unless the empty-side guard holds
// them back).
func makePlan(in planInput) []action {
	var acts []action
	reported := map[string]bool{}
	changed := map[string]*action{}       // by the pairing's mailbox id
	current := map[string]store.Pairing{} // pairings whose tag this plan moved
	var gone [2][]store.Pairing
	for _, s := range bothSides {
		for _, id := range sortedKeys(in.listed[s]) {
			it := in.listed[s][id]
			if it.issue != "" && !reported[it.issueKey] {
				reported[it.issueKey] = true
				acts = append(acts, action{op: opReport, side: s, items: only(s, it), note: it.issue})
			}
			p, paired := in.pairs[s][id]
			switch {
			case !paired, p.Origin == originUnlinked:
				continue
			case it.removed:
				gone[s] = append(gone[s], p)
				continue
			case it.outOfScope != "":
				continue // left the scope (window, category): leave both alone
			}
			if q, ok := current[p.MailboxID]; ok {
				p = q
			}
			last := synced(p, s)
			switch {
			case it.hash() != last.hash:
				c := changed[p.MailboxID]
				if c == nil {
					c = &action{op: opPush}
					changed[p.MailboxID] = c
				}
				c.items[s] = &it
			case it.version != "" && it.version != last.tag:
				record(&p, s, id, version{last.hash, it.version})
				current[p.MailboxID] = p
				acts = append(acts, action{op: opKeepTag, side: s, p: p})
			}
		}
	}

	for _, id := range sortedKeys(changed) {
		c := changed[id]
		p := in.pairs[onMailbox][id]
		if q, ok := current[id]; ok {
			p = q
		}
		acts = append(acts, decideChange(in.conflict, p, c.items))
	}

	acts, created := planNew(in, acts)
	return planDeletes(in, acts, gone, in.live+created)
}

func only(s sideIndex, it item) [2]*item {
	var items [2]*item
	items[s] = &it
	return items
}

// decideChange brings a changed pair together again: the changed side's
// content goes to the other; changed on both sides, sync.conflict decides.
func decideChange(policy string, p store.Pairing, items [2]*item) action {
	a := action{op: opPush, p: p, items: items}
	m, v := items[onMailbox], items[onVP]
	switch {
	case m != nil && v != nil:
		if m.hash() == v.hash() || sameContent(*m, *v) {
			a.op = opSave
			return a
		}
		a.side = winner(policy, *m, *v)
		if items[a.side].readOnly != "" {
			// The meeting in Outlook is what attendees were sent: it wins,
			// and the user hears of the Vantagepoint edit it replaced.
			a.note = "the Vantagepoint change was replaced by the Outlook meeting's: it has attendees, and changing it in Outlook would send them an update; change it in Outlook"
		}
	case v != nil:
		a.side = onVP
	default:
		a.side = onMailbox
	}
	return a
}

// winner applies sync.conflict to two items of a pair whose contents
// differ. A meeting with attendees is never written: its content wins.
func winner(policy string, m, v item) sideIndex {
	if m.readOnly != "" {
		return onMailbox
	}
	switch {
	case policy == ConflictMailbox:
		return onMailbox
	case policy == ConflictNewest && m.modified.After(v.modified):
		return onMailbox
	}
	return onVP
}

// planNew matches the new items of both sides with each other (and with
// the candidates a side offers), and copies those that match nothing. The
// mailbox's new items are matched first; a new Vantagepoint record that
// shares a key with one of them was decided with it, and waits.
func planNew(in planInput, acts []action) ([]action, int) {
	var news [2][]item
	for _, s := range bothSides {
		news[s] = newItems(in.listed[s], in.pairs[s])
	}
	if len(news[onMailbox]) == 0 && len(news[onVP]) == 0 {
		return acts, 0
	}
	first, second := onMailbox, onVP
	cands := itemsByID(news[second])
	for id, it := range in.candidates[second] {
		cands[id] = it
	}
	idx := index(in.keys, cands)
	taken := map[string]bool{} // ids of second paired in this pass
	created := 0
	for _, a := range news[first] {
		ids, key := matchOne(in.keys, a, idx, taken)
		switch {
		case len(ids) == 1:
			b := cands[ids[0]]
			taken[b.id] = true
			var items [2]*item
			items[first], items[second] = &a, &b
			m := action{op: opMatch, side: first, items: items}
			if !sameContent(a, b) {
				m.write = true
				m.side = winner(in.conflict, *items[onMailbox], *items[onVP])
			}
			acts = append(acts, m)
			created++
		case len(ids) > 1:
			_, what, _ := strings.Cut(key, ":")
			acts = append(acts, action{op: opHold, side: first, items: only(first, a),
				note: fmt.Sprintf("%d %s %ss match %s: nothing was created; make the match unique", len(ids), second.title(), in.noun, what)})
		default:
			acts = append(acts, action{op: opCreate, side: first, items: only(first, a)})
			created++
		}
	}
	firstIdx := index(in.keys, itemsByID(news[first]))
	for _, b := range news[second] {
		if taken[b.id] {
			continue
		}
		if ids, _ := matchOne(in.keys, b, firstIdx, nil); len(ids) > 0 {
			// Its twin on the first side was new too and has been
			// decided above: held back as ambiguous, or paired with
			// another item by a stronger key. This one stays unpaired and
			// comes back next batch like every item left unpaired, or the
			// user's fix of the ambiguity (a renamed twin) would be
			// matched without it and the twin copied next to it.
			acts = append(acts, action{op: opWait, side: second, items: only(second, b)})
			continue
		}
		acts = append(acts, action{op: opCreate, side: second, items: only(second, b)})
		created++
	}
	return acts, created
}

// planDeletes applies deletions, unless the empty-side guard holds them
// back: a side that had guardMinimum or more pairings and lists none, or
// loses more than half in one batch, looks like a broken listing, not like
// a user who deleted everything (docs/behaviour.md §4.4). live counts the pairs this
// batch makes too.
func planDeletes(in planInput, acts []action, gone [2][]store.Pairing, live int) []action {
	var deletes []action
	if in.refused {
		// Used up first, whatever follows: a refusal answers the deletions
		// held back when it was given, never later ones.
		acts = append(acts, action{op: opAnswered})
	}
	for _, s := range bothSides {
		n := len(gone[s])
		if n == 0 {
			continue
		}
		if live >= guardMinimum && (in.listedNone[s] || 2*n > live) && !in.confirmed {
			if in.refused {
				for _, p := range gone[s] {
					acts = append(acts, action{op: opRestore, side: s, p: p})
				}
				continue
			}
			hold := action{op: opHoldDeletes, side: s,
				note: fmt.Sprintf("%d of %d synced %ss disappeared from %s in one batch; no deletion was applied.", n, live, in.noun, s.title())}
			for _, p := range gone[s] {
				if whenGone(s, p).op == opDeleteCopy {
					hold.doomed = append(hold.doomed, p)
				}
			}
			acts = append(acts, hold)
			continue
		}
		for _, p := range gone[s] {
			deletes = append(deletes, whenGone(s, p))
		}
	}
	if in.confirmed && (len(gone[onMailbox]) > 0 || len(gone[onVP]) > 0) {
		// Used up before the deletions it let through: a crash among them
		// leaves the rest to a guard that sees them again.
		acts = append(acts, action{op: opAnswered})
	}
	return append(acts, deletes...)
}

// whenGone is what a pair comes to when its item on side s is gone:
// deleting an original deletes the agent's copy; deleting a copy, or one of
// two matched originals, only unlinks (docs/behaviour.md §4.4).
func whenGone(s sideIndex, p store.Pairing) action {
	if p.Origin == s.origin() {
		return action{op: opDeleteCopy, side: s, p: p}
	}
	return action{op: opUnlink, side: s, p: p}
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

func itemsByID(items []item) map[string]item {
	m := make(map[string]item, len(items))
	for _, it := range items {
		m[it.id] = it
	}
	return m
}

// index maps match keys to item ids.
func index(keys func(item) []string, items map[string]item) map[string][]string {
	idx := map[string][]string{}
	for _, id := range sortedKeys(items) {
		for _, key := range keys(items[id]) {
			if !contains(idx[key], id) {
				idx[key] = append(idx[key], id)
			}
		}
	}
	return idx
}

// matchOne returns the candidates of the strongest key that has any.
func matchOne(keys func(item) []string, it item, idx map[string][]string, taken map[string]bool) ([]string, string) {
	for _, key := range keys(it) {
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
