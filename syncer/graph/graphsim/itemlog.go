package graphsim

import (
	"iter"
	"sort"
	"time"
)

// Every collection (a mail folder, a contact folder, the calendar) is kept
// as one change log: every creation, update, arrival by move, and removal
// appends an entry with a fresh sequence number. A delta token is a
// position in that log, so a page costs O(page) whatever the mailbox size,
// and an item's latest entry is the only live one for it (earlier ones are
// skipped and compacted away).

const (
	kindCreated = iota
	kindUpdated
	kindRemoved
)

type entry struct {
	seq  uint64
	id   string
	kind uint8
}

// changeLog is the change log of one collection.
type changeLog struct {
	log  []entry
	dead int // superseded entries in log
}

func (l *changeLog) add(seq uint64, id string, kind uint8) {
	l.log = append(l.log, entry{seq: seq, id: id, kind: kind})
}

// supersede counts one dead entry (an item's previous one) and compacts
// the log when more than half of it is dead. Removal entries are kept:
// outstanding delta tokens may still have to report them.
func (l *changeLog) supersede(live func(entry) bool) {
	l.dead++
	if l.dead < 1024 || l.dead*2 < len(l.log) {
		return
	}
	out := l.log[:0]
	for _, e := range l.log {
		if e.kind == kindRemoved || live(e) {
			out = append(out, e)
		}
	}
	clear(l.log[len(out):])
	l.log = out
	l.dead = 0
}

// current yields the ids of the collection's items as they are now, least
// recently changed first: each item's live entry, no removals.
func (l *changeLog) current(live func(entry) bool) iter.Seq[string] {
	return func(yield func(string) bool) {
		for _, e := range l.log {
			if e.kind != kindRemoved && live(e) && !yield(e.id) {
				return
			}
		}
	}
}

// seekLog returns the index of the first entry after seq.
func seekLog(log []entry, seq uint64) int {
	return sort.Search(len(log), func(i int) bool { return log[i].seq > seq })
}

// version is what an item's record keeps of its place in its collection's
// log: the sequence number of its live entry, and when it was created and
// last changed (createdDateTime, lastModifiedDateTime).
type version struct {
	seq      uint64
	created  time.Time
	modified time.Time
}

// stamp is the time of a change as Exchange shows it: UTC, whole seconds.
func (s *Server) stamp() time.Time { return s.now().UTC().Truncate(time.Second) }

// logCreated logs a new item in l (s.mu held) and returns its first
// version, made at now.
func (s *Server) logCreated(l *changeLog, id string, now time.Time) version {
	s.seq++
	l.add(s.seq, id, kindCreated)
	return version{seq: s.seq, created: now, modified: now}
}

// logVersion logs a new version of an existing item in l as kind (an
// update, or a creation for an item that arrives by a move), made at now.
// The item's previous entry is dead from then on: in l, the caller counts
// it with supersede (logUpdated does); in another log, its removal does.
func (s *Server) logVersion(l *changeLog, v *version, id string, kind uint8, now time.Time) {
	s.seq++
	v.seq, v.modified = s.seq, now
	l.add(s.seq, id, kind)
}

// logUpdated logs an update of an item of l made at now: its new version
// shows up in the next delta round, its previous entry is dead.
func (s *Server) logUpdated(l *changeLog, v *version, id string, now time.Time, live func(entry) bool) {
	s.logVersion(l, v, id, kindUpdated, now)
	l.supersede(live)
}

// logRemoved logs the removal of an item from l; the caller counts its
// previous entry dead with supersede.
func (s *Server) logRemoved(l *changeLog, id string) {
	s.seq++
	l.add(s.seq, id, kindRemoved)
}

// lookup returns a copy (made by out) of the item of records with id, for
// inspection from outside the server.
func lookup[R, T any](s *Server, records map[string]*R, id string, out func(*R) T) (T, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	r, ok := records[id]
	if !ok {
		var zero T
		return zero, false
	}
	return out(r), true
}

// userEdit changes the item id of records as a user would: fn edits a copy
// of it (made by clone), which store keeps as the item's next version. It
// reports whether the item exists.
func userEdit[R, T any](s *Server, records map[string]*R, id string, fn func(*T), clone func(*R) T, store func(*R, T)) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	r, ok := records[id]
	if !ok {
		return false
	}
	x := clone(r)
	fn(&x)
	store(r, x)
	return true
}
