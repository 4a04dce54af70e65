package syncer

import (
	"fmt"
	"maps"
	"slices"
	"strings"
	"testing"
	"time"

	"vpconnect/syncer/store"
)

// The plan is a pure function: these tables give it pairings and listings
// and read the actions back, with no adapter, store or clock.

// mk makes an item with fields given as "key=value".
func mk(id string, kv ...string) item {
	f := map[string]string{}
	for _, s := range kv {
		k, v, _ := strings.Cut(s, "=")
		f[k] = v
	}
	return item{id: id, fields: f, label: id}
}

func (it item) with(change func(*item)) item {
	it.fields = maps.Clone(it.fields)
	change(&it)
	return it
}

func gone(id string) item { return item{id: id, removed: true} }

// testKeys matches by e-mail, then by name.
func testKeys(it item) []string {
	var keys []string
	for _, k := range []string{"email", "name"} {
		if v := it.fields[k]; v != "" {
			keys = append(keys, k+":"+v)
		}
	}
	return keys
}

// world builds a plan's input.
type world struct{ in planInput }

func newWorld() *world {
	return &world{in: planInput{noun: "contact", keys: testKeys, conflict: ConflictVantagepoint,
		pairs:  [2]map[string]store.Pairing{{}, {}},
		listed: [2]map[string]item{{}, {}}}}
}

// pair records m and v, as last synced, as a pair of the given origin.
func (w *world) pair(origin string, m, v item) *world {
	p := store.Pairing{Type: TypeContacts, Origin: origin}
	record(&p, onMailbox, m.id, m.at())
	record(&p, onVP, v.id, v.at())
	w.in.pairs[onMailbox][m.id], w.in.pairs[onVP][v.id] = p, p
	if origin != originUnlinked {
		w.in.live++
	}
	return w
}

func (w *world) list(s sideIndex, items ...item) *world {
	for _, it := range items {
		w.in.listed[s][it.id] = it
	}
	return w
}

func (w *world) policy(c string) *world { w.in.conflict = c; return w }

// describe is an action in a line the tables compare.
func describe(a action) string {
	id := func(s sideIndex) string {
		if a.items[s] != nil {
			return a.items[s].id
		}
		return pairedID(a.p, s)
	}
	pair := id(onMailbox) + "/" + id(onVP)
	switch a.op {
	case opReport:
		return "report " + a.side.name() + " " + id(a.side) + ": " + a.note
	case opKeepTag:
		return "keep tag " + synced(a.p, a.side).tag + " of " + id(a.side)
	case opSave:
		return "save " + pair
	case opPush:
		base := "synced"
		if a.items[a.side.other()] != nil {
			base = "listed"
		}
		s := fmt.Sprintf("push %s→%s %s, based on the %s version", a.side.name(), a.side.other().name(), pair, base)
		if a.note != "" {
			s += ", with a notice"
		}
		return s
	case opMatch:
		if a.write {
			return "match " + pair + ", copy from " + a.side.name()
		}
		return "match " + pair
	case opHold:
		return "hold " + a.side.name() + " " + id(a.side) + ": " + a.note
	case opWait:
		return "wait " + a.side.name() + " " + id(a.side)
	case opCreate:
		return "create from " + a.side.name() + " " + id(a.side)
	case opHoldDeletes:
		return "hold deletions on " + a.side.name()
	case opDeleteCopy:
		return "delete the copy of " + a.side.name() + " " + id(a.side) + " gone"
	case opUnlink:
		return "unlink " + a.side.name() + " " + id(a.side) + " gone"
	case opAnswered:
		return "answer used"
	}
	return fmt.Sprintf("op %d", a.op)
}

func TestPlan(t *testing.T) {
	t0 := time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)
	ann := mk("m1", "email=ann@x.example", "name=ann", "title=Engineer")
	annVP := mk("v1", "email=ann@x.example", "name=ann", "title=Engineer")
	retitled := func(it item, title string, at time.Time) item {
		return it.with(func(it *item) { it.fields["title"], it.modified = title, at })
	}
	meeting := mk("m1", "name=review", "where=Room 1").with(func(it *item) { it.readOnly = "it has attendees" })
	meetingVP := mk("v1", "name=review", "where=Room 1")

	cases := []struct {
		name string
		w    *world
		want []string
	}{
		{"new in Outlook is copied to Vantagepoint",
			newWorld().list(onMailbox, ann),
			[]string{"create from mailbox m1"}},
		{"new in Vantagepoint is copied to Outlook",
			newWorld().list(onVP, annVP),
			[]string{"create from vantagepoint v1"}},
		{"new but out of scope, or removed, is left alone",
			newWorld().list(onMailbox, ann.with(func(it *item) { it.outOfScope = "not tagged" }), gone("m2")),
			nil},
		{"changed in Outlook",
			newWorld().pair(originMailbox, ann, annVP).list(onMailbox, retitled(ann, "Director", t0)),
			[]string{"push mailbox→vantagepoint m1/v1, based on the synced version"}},
		{"changed in Vantagepoint",
			newWorld().pair(originMailbox, ann, annVP).list(onVP, retitled(annVP, "Director", t0)),
			[]string{"push vantagepoint→mailbox m1/v1, based on the synced version"}},
		{"changed on both sides, Vantagepoint wins",
			newWorld().pair(originBoth, ann, annVP).
				list(onMailbox, retitled(ann, "Outlook title", t0.Add(time.Hour))).list(onVP, retitled(annVP, "VP title", t0)),
			[]string{"push vantagepoint→mailbox m1/v1, based on the listed version"}},
		{"changed on both sides, the mailbox wins",
			newWorld().policy(ConflictMailbox).pair(originBoth, ann, annVP).
				list(onMailbox, retitled(ann, "Outlook title", t0)).list(onVP, retitled(annVP, "VP title", t0.Add(time.Hour))),
			[]string{"push mailbox→vantagepoint m1/v1, based on the listed version"}},
		{"changed on both sides, the newer Outlook edit wins",
			newWorld().policy(ConflictNewest).pair(originBoth, ann, annVP).
				list(onMailbox, retitled(ann, "Outlook title", t0.Add(time.Hour))).list(onVP, retitled(annVP, "VP title", t0)),
			[]string{"push mailbox→vantagepoint m1/v1, based on the listed version"}},
		{"changed on both sides, the newer Vantagepoint edit wins",
			newWorld().policy(ConflictNewest).pair(originBoth, ann, annVP).
				list(onMailbox, retitled(ann, "Outlook title", t0)).list(onVP, retitled(annVP, "VP title", t0.Add(time.Hour))),
			[]string{"push vantagepoint→mailbox m1/v1, based on the listed version"}},
		{"changed on both sides to the same content",
			newWorld().pair(originBoth, ann, annVP).
				list(onMailbox, retitled(ann, "Director", t0)).list(onVP, retitled(annVP, "Director", t0)),
			[]string{"save m1/v1"}},
		{"same content, another version: no change, the changeKey is kept",
			newWorld().pair(originBoth, ann.with(func(it *item) { it.version = "ck1" }), annVP).
				list(onMailbox, ann.with(func(it *item) { it.version, it.modified = "ck2", t0 })).
				list(onVP, annVP.with(func(it *item) { it.modified = t0 })),
			[]string{"keep tag ck2 of m1"}},
		{"the original deleted in Outlook: its copy is deleted",
			newWorld().pair(originMailbox, ann, annVP).list(onMailbox, gone("m1")),
			[]string{"delete the copy of mailbox m1 gone"}},
		{"the original deleted in Vantagepoint: its copy is deleted",
			newWorld().pair(originVantagepoint, ann, annVP).list(onVP, gone("v1")),
			[]string{"delete the copy of vantagepoint v1 gone"}},
		{"the copy deleted in Outlook: unlinked",
			newWorld().pair(originVantagepoint, ann, annVP).list(onMailbox, gone("m1")),
			[]string{"unlink mailbox m1 gone"}},
		{"one of two matched originals deleted: unlinked",
			newWorld().pair(originBoth, ann, annVP).list(onVP, gone("v1")),
			[]string{"unlink vantagepoint v1 gone"}},
		{"an unlinked item is left alone for good",
			newWorld().pair(originUnlinked, ann, mk("gone:v1")).list(onMailbox, retitled(ann, "Director", t0)),
			nil},
		{"a paired item that left the scope is left alone",
			newWorld().pair(originMailbox, ann, annVP).list(onMailbox, ann.with(func(it *item) { it.outOfScope = "not tagged" })),
			nil},
		{"a meeting with attendees wins a conflict, with a notice",
			newWorld().pair(originBoth, meeting, meetingVP).
				list(onMailbox, meeting.with(func(it *item) { it.fields["where"] = "Room 2" })).
				list(onVP, meetingVP.with(func(it *item) { it.fields["where"] = "Room 3"; it.modified = t0 })),
			[]string{"push mailbox→vantagepoint m1/v1, based on the listed version, with a notice"}},
		{"a meeting with attendees is matched, not written",
			newWorld().list(onMailbox, meeting).list(onVP, meetingVP.with(func(it *item) { it.fields["where"] = "Hall" })),
			[]string{"match m1/v1, copy from mailbox"}},
		{"matched before create, same content",
			newWorld().list(onMailbox, ann).list(onVP, annVP),
			[]string{"match m1/v1"}},
		{"matched before create, the conflict rule gives the content",
			newWorld().list(onMailbox, ann).list(onVP, retitled(annVP, "Director", t0)),
			[]string{"match m1/v1, copy from vantagepoint"}},
		{"matched with an unpaired record the full listing offers",
			func() *world {
				w := newWorld().list(onMailbox, ann)
				w.in.candidates[onVP] = map[string]item{"v9": mk("v9", "email=ann@x.example")}
				return w
			}(),
			[]string{"match m1/v9, copy from vantagepoint"}},
		{"the strongest key matches; the twin by a weaker key waits",
			newWorld().list(onMailbox, ann).list(onVP, mk("v1", "email=ann@x.example"), mk("v2", "name=ann")),
			[]string{"match m1/v1, copy from vantagepoint", "wait vantagepoint v2"}},
		{"an ambiguous match creates nothing",
			newWorld().list(onMailbox, ann).list(onVP, mk("v1", "email=ann@x.example"), mk("v2", "email=ann@x.example")),
			[]string{"hold mailbox m1: 2 Vantagepoint contacts match ann@x.example: nothing was created; make the match unique",
				"wait vantagepoint v1", "wait vantagepoint v2"}},
		{"an issue is reported once per key",
			newWorld().list(onMailbox,
				mk("m1").with(func(it *item) {
					it.outOfScope, it.issue, it.issueKey = "recurring", "recurring meetings are not synced", "series:s"
				}),
				mk("m2").with(func(it *item) {
					it.outOfScope, it.issue, it.issueKey = "recurring", "recurring meetings are not synced", "series:s"
				})),
			[]string{"report mailbox m1: recurring meetings are not synced"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var got []string
			for _, a := range makePlan(c.w.in) {
				got = append(got, describe(a))
			}
			if !slices.Equal(got, c.want) {
				t.Errorf("plan:\n got  %q\n want %q", got, c.want)
			}
		})
	}
}

// A new changeKey of an item whose content did not change is the version
// the same batch's update of it is based on: an update sent with the old
// one would meet a 412 for nothing.
func TestPlanPushUsesTheChangeKeyItKeeps(t *testing.T) {
	ann := mk("m1", "email=ann@x.example", "title=Engineer").with(func(it *item) { it.version = "ck1" })
	annVP := mk("v1", "email=ann@x.example", "title=Engineer")
	w := newWorld().pair(originMailbox, ann, annVP).
		list(onMailbox, ann.with(func(it *item) { it.version = "ck2" })).
		list(onVP, annVP.with(func(it *item) { it.fields["title"] = "Director" }))
	acts := makePlan(w.in)
	if len(acts) != 2 || acts[0].op != opKeepTag || acts[1].op != opPush {
		t.Fatalf("plan: %v", acts)
	}
	if got := synced(acts[1].p, onMailbox).tag; got != "ck2" {
		t.Errorf("the update is based on changeKey %q, want ck2", got)
	}
}

// The empty-side guard (docs/behaviour.md §4.4): a side that had guardMinimum pairings
// or more and lists none, or loses more than half in a batch, has its
// deletions held back until the user confirms them.
func TestPlanEmptySideGuard(t *testing.T) {
	build := func(pairs, goneN int, listedNone, confirmed bool) *world {
		w := newWorld()
		for i := range pairs {
			m, v := mk(fmt.Sprintf("m%02d", i), fmt.Sprintf("name=%d", i)), mk(fmt.Sprintf("v%02d", i), fmt.Sprintf("name=%d", i))
			w.pair(originMailbox, m, v)
			if i < goneN {
				w.list(onVP, gone(v.id))
			}
		}
		w.in.listedNone[onVP], w.in.confirmed = listedNone, confirmed
		return w
	}
	count := func(acts []action) (held, deleted int, used bool) {
		for _, a := range acts {
			switch a.op {
			case opHoldDeletes:
				held++
			case opDeleteCopy, opUnlink:
				deleted++
			case opAnswered:
				used = true
			}
		}
		return
	}
	cases := []struct {
		name                  string
		pairs, gone           int
		listedNone, confirmed bool
		wantHeld, wantDel     int
		wantConfirmationUsed  bool
	}{
		{"a complete empty listing is held back", guardMinimum, guardMinimum, true, false, 1, 0, false},
		{"more than half gone is held back", 10, 6, false, false, 1, 0, false},
		{"half gone goes through", 10, 5, false, false, 0, 5, false},
		{"below the minimum all goes through", guardMinimum - 1, guardMinimum - 1, true, false, 0, guardMinimum - 1, false},
		{"a confirmation lets all through once", 10, 10, true, true, 0, 10, true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			acts := makePlan(build(c.pairs, c.gone, c.listedNone, c.confirmed).in)
			held, deleted, used := count(acts)
			if held != c.wantHeld || deleted != c.wantDel || used != c.wantConfirmationUsed {
				t.Errorf("held %d, deleted %d, confirmation used %v; want %d, %d, %v", held, deleted, used, c.wantHeld, c.wantDel, c.wantConfirmationUsed)
			}
			if c.wantConfirmationUsed && acts[0].op != opAnswered {
				t.Errorf("the confirmation is used up after a deletion: %v", acts[0].op)
			}
		})
	}
}
