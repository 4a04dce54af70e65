package syncer

import (
	"context"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"
)

// Contacts and calendars of the in-memory services, with the same delta
// semantics as their messages: a round reports what changed after the
// cursor, removals included.

type fakeContact struct {
	MailboxContact
	folder string
	seq    int
}

type fakeEvent struct {
	MailboxEvent
	seq int
}

type fakeTwoWay struct {
	contactFolders map[string]ContactFolder // by id
	marks          map[string]string
	contacts       map[string]*fakeContact
	events         map[string]*fakeEvent
	cRemoved       []fakeRemoval
	eRemoved       []fakeRemoval
	nextID         int
	writes         int // creates, updates, deletes of contacts and events
	conflicts      int // updates refused because their changeKey was not the item's
}

func (m *fakeMailbox) tw() *fakeTwoWay {
	if m.twoWay == nil {
		m.twoWay = &fakeTwoWay{contactFolders: map[string]ContactFolder{}, marks: map[string]string{},
			contacts: map[string]*fakeContact{}, events: map[string]*fakeEvent{}}
	}
	return m.twoWay
}

func (m *fakeMailbox) newID(prefix string) string {
	t := m.tw()
	t.nextID++
	return fmt.Sprintf("%s-%04d", prefix, t.nextID)
}

func (m *fakeMailbox) ContactFolder(ctx context.Context, name string) (ContactFolder, bool, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.requests++
	if err := m.injected("ContactFolder"); err != nil {
		return ContactFolder{}, false, err
	}
	for _, f := range m.tw().contactFolders {
		if strings.EqualFold(f.DisplayName, name) {
			return f, true, nil
		}
	}
	return ContactFolder{}, false, nil
}

func (m *fakeMailbox) CreateContactFolder(ctx context.Context, name string) (ContactFolder, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.requests++
	f := ContactFolder{ID: m.newID("CF"), DisplayName: name}
	m.tw().contactFolders[f.ID] = f
	return f, nil
}

func (m *fakeMailbox) DeleteContactFolder(ctx context.Context, id string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.requests++
	t := m.tw()
	if _, ok := t.contactFolders[id]; !ok {
		return fmt.Errorf("contact folder %s: %w", id, ErrNotFound)
	}
	delete(t.contactFolders, id)
	for cid, c := range t.contacts {
		if c.folder == id {
			delete(t.contacts, cid)
		}
	}
	return nil
}

func (m *fakeMailbox) MailboxMark(ctx context.Context, folderID string) (string, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.requests++
	return m.tw().marks[folderID], nil
}

func (m *fakeMailbox) SetMailboxMark(ctx context.Context, folderID, value string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.requests++
	m.tw().marks[folderID] = value
	return nil
}

func (m *fakeMailbox) ContactChanges(ctx context.Context, folderID, cursor string, page func([]MailboxContact) error) (string, error) {
	m.mu.Lock()
	m.requests++
	if err := m.injected("ContactChanges"); err != nil {
		m.mu.Unlock()
		return "", err
	}
	after := 0
	if cursor != "" {
		if m.forgetAll {
			m.forgetAll = false
			m.mu.Unlock()
			return "", fmt.Errorf("contact delta: %w", ErrResyncRequired)
		}
		after, _ = strconv.Atoi(strings.TrimPrefix(cursor, "seq:"))
	}
	t := m.tw()
	var out []MailboxContact
	for _, c := range t.contacts {
		if c.folder == folderID && c.seq > after {
			mc := c.MailboxContact
			mc.VPID = "" // delta does not return extended properties
			out = append(out, mc)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	if cursor != "" {
		for _, r := range t.cRemoved {
			if r.folder == folderID && r.seq > after {
				out = append(out, MailboxContact{ID: r.id, Removed: true})
			}
		}
	}
	next := "seq:" + strconv.Itoa(m.seq)
	m.mu.Unlock()
	if err := page(out); err != nil {
		return "", err
	}
	return next, nil
}

func (m *fakeMailbox) putContact(folder string, c MailboxContact) MailboxContact {
	t := m.tw()
	m.seq++
	if c.ID == "" {
		c.ID = m.newID("MC")
	}
	c.ChangeKey = m.nextChangeKey()
	c.LastModified = time.Unix(int64(m.seq), 0).UTC()
	t.contacts[c.ID] = &fakeContact{MailboxContact: c, folder: folder, seq: m.seq}
	return c
}

func (m *fakeMailbox) CreateContact(ctx context.Context, folderID string, c MailboxContact) (MailboxContact, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.requests++
	if err := m.injected("CreateContact"); err != nil {
		return MailboxContact{}, err
	}
	m.tw().writes++
	c.ID = ""
	got := m.putContact(folderID, c)
	if err := m.injected("CreateContact:lost"); err != nil {
		return MailboxContact{}, err
	}
	return got, nil
}

func (m *fakeMailbox) UpdateContact(ctx context.Context, c MailboxContact) (MailboxContact, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.requests++
	if err := m.injected("UpdateContact"); err != nil {
		return MailboxContact{}, err
	}
	t := m.tw()
	cur, ok := t.contacts[c.ID]
	if !ok {
		return MailboxContact{}, fmt.Errorf("contact %s: %w", c.ID, ErrNotFound)
	}
	if c.ChangeKey != "" && c.ChangeKey != cur.ChangeKey {
		// If-Match, as Graph: 412 ErrorIrresolvableConflict.
		t.conflicts++
		return MailboxContact{}, fmt.Errorf("contact %s has changeKey %s, not %s: %w", c.ID, cur.ChangeKey, c.ChangeKey, ErrConflict)
	}
	t.writes++
	c.VPID = cur.VPID
	return m.putContact(cur.folder, c), nil
}

func (m *fakeMailbox) removeContact(id string) bool {
	t := m.tw()
	c, ok := t.contacts[id]
	if !ok {
		return false
	}
	m.seq++
	t.cRemoved = append(t.cRemoved, fakeRemoval{id: id, folder: c.folder, seq: m.seq})
	delete(t.contacts, id)
	return true
}

func (m *fakeMailbox) DeleteContact(ctx context.Context, id string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.requests++
	if err := m.injected("DeleteContact"); err != nil {
		return err
	}
	if !m.removeContact(id) {
		return fmt.Errorf("contact %s: %w", id, ErrNotFound)
	}
	m.tw().writes++
	return nil
}

func (m *fakeMailbox) FindContactByVPID(ctx context.Context, folderID, vpID string) (MailboxContact, bool, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.requests++
	for _, c := range m.tw().contacts {
		if c.folder == folderID && c.VPID == vpID {
			return c.MailboxContact, true, nil
		}
	}
	return MailboxContact{}, false, nil
}

func (m *fakeMailbox) Contact(ctx context.Context, id string) (MailboxContact, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.requests++
	if err := m.injected("GetContact"); err != nil {
		return MailboxContact{}, err
	}
	c, ok := m.tw().contacts[id]
	if !ok {
		return MailboxContact{}, fmt.Errorf("contact %s: %w", id, ErrNotFound)
	}
	return c.MailboxContact, nil
}

// EventChanges reports events in the window changed after the cursor, and,
// as Graph does, events changed outside the window as removed.
func (m *fakeMailbox) EventChanges(ctx context.Context, start, end time.Time, cursor string, page func([]MailboxEvent) error) (string, error) {
	m.mu.Lock()
	m.requests++
	if err := m.injected("EventChanges"); err != nil {
		m.mu.Unlock()
		return "", err
	}
	after := 0
	if cursor != "" {
		if m.forgetAll {
			m.forgetAll = false
			m.mu.Unlock()
			return "", fmt.Errorf("calendar delta: %w", ErrResyncRequired)
		}
		after, _ = strconv.Atoi(strings.TrimPrefix(cursor, "seq:"))
	}
	t := m.tw()
	var out []MailboxEvent
	for _, ev := range t.events {
		if ev.seq <= after {
			continue
		}
		in := ev.End.After(start) && ev.Start.Before(end)
		switch {
		case in:
			e := ev.MailboxEvent
			e.VPID = ""
			out = append(out, e)
		case cursor != "":
			out = append(out, MailboxEvent{ID: ev.ID, Removed: true})
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	if cursor != "" {
		for _, r := range t.eRemoved {
			if r.seq > after {
				out = append(out, MailboxEvent{ID: r.id, Removed: true})
			}
		}
	}
	next := "seq:" + strconv.Itoa(m.seq)
	m.mu.Unlock()
	if err := page(out); err != nil {
		return "", err
	}
	return next, nil
}

func (m *fakeMailbox) putEvent(ev MailboxEvent) MailboxEvent {
	m.seq++
	if ev.ID == "" {
		ev.ID = m.newID("EV")
	}
	ev.ChangeKey = m.nextChangeKey()
	ev.LastModified = time.Unix(int64(m.seq), 0).UTC()
	m.tw().events[ev.ID] = &fakeEvent{MailboxEvent: ev, seq: m.seq}
	return ev
}

func (m *fakeMailbox) CreateEvent(ctx context.Context, ev MailboxEvent) (MailboxEvent, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.requests++
	if err := m.injected("CreateEvent"); err != nil {
		return MailboxEvent{}, err
	}
	m.tw().writes++
	ev.ID = ""
	ev.IsOrganizer = true
	got := m.putEvent(ev)
	if err := m.injected("CreateEvent:lost"); err != nil {
		return MailboxEvent{}, err
	}
	return got, nil
}

func (m *fakeMailbox) UpdateEvent(ctx context.Context, ev MailboxEvent) (MailboxEvent, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.requests++
	if err := m.injected("UpdateEvent"); err != nil {
		return MailboxEvent{}, err
	}
	t := m.tw()
	cur, ok := t.events[ev.ID]
	if !ok {
		return MailboxEvent{}, fmt.Errorf("event %s: %w", ev.ID, ErrNotFound)
	}
	if ev.ChangeKey != "" && ev.ChangeKey != cur.ChangeKey {
		t.conflicts++
		return MailboxEvent{}, fmt.Errorf("event %s has changeKey %s, not %s: %w", ev.ID, cur.ChangeKey, ev.ChangeKey, ErrConflict)
	}
	t.writes++
	next := cur.MailboxEvent
	next.Subject, next.Start, next.End, next.AllDay, next.Location, next.Body, next.BodyType =
		ev.Subject, ev.Start, ev.End, ev.AllDay, ev.Location, ev.Body, ev.BodyType
	if ev.Categories != nil {
		next.Categories = ev.Categories
	}
	return m.putEvent(next), nil
}

func (m *fakeMailbox) removeEvent(id string) bool {
	t := m.tw()
	if _, ok := t.events[id]; !ok {
		return false
	}
	m.seq++
	t.eRemoved = append(t.eRemoved, fakeRemoval{id: id, seq: m.seq})
	delete(t.events, id)
	return true
}

func (m *fakeMailbox) DeleteEvent(ctx context.Context, id string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.requests++
	if err := m.injected("DeleteEvent"); err != nil {
		return err
	}
	if !m.removeEvent(id) {
		return fmt.Errorf("event %s: %w", id, ErrNotFound)
	}
	m.tw().writes++
	return nil
}

func (m *fakeMailbox) FindEventByVPID(ctx context.Context, vpID string) (MailboxEvent, bool, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.requests++
	for _, ev := range m.tw().events {
		if ev.VPID == vpID {
			return ev.MailboxEvent, true, nil
		}
	}
	return MailboxEvent{}, false, nil
}

func (m *fakeMailbox) Event(ctx context.Context, id string) (MailboxEvent, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.requests++
	if m.eventReads == nil {
		m.eventReads = map[string]int{}
	}
	m.eventReads[id]++
	ev, ok := m.tw().events[id]
	if !ok {
		return MailboxEvent{}, fmt.Errorf("event %s: %w", id, ErrNotFound)
	}
	return ev.MailboxEvent, nil
}

func (m *fakeMailbox) DeleteCategories(ctx context.Context, names []string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.requests++
	var keep []string
	for _, c := range m.cats {
		if !contains(names, c) {
			keep = append(keep, c)
		}
	}
	m.cats = keep
	return nil
}

// Vantagepoint side.

func (v *fakeVP) tick() time.Time {
	v.clock++
	return time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC).Add(time.Duration(v.clock) * time.Second)
}

func (v *fakeVP) Contact(ctx context.Context, id string) (Contact, error) {
	v.mu.Lock()
	defer v.mu.Unlock()
	v.requests++
	for _, c := range v.contacts {
		if c.ID == id {
			return c, nil
		}
	}
	return Contact{}, fmt.Errorf("contact %s: %w", id, ErrNotFound)
}

func (v *fakeVP) CreateContact(ctx context.Context, c Contact) (Contact, error) {
	v.mu.Lock()
	defer v.mu.Unlock()
	v.requests++
	if err := v.injected("CreateContact"); err != nil {
		return Contact{}, err
	}
	v.writes++
	v.createCounter++
	c.ID = fmt.Sprintf("C%031d", v.createCounter)
	c.ModDate = v.tick()
	v.contacts = append(v.contacts, c)
	if err := v.injected("CreateContact:lost"); err != nil {
		return Contact{}, err
	}
	return c, nil
}

func (v *fakeVP) UpdateContact(ctx context.Context, c Contact) (Contact, error) {
	v.mu.Lock()
	defer v.mu.Unlock()
	v.requests++
	if err := v.injected("UpdateContact"); err != nil {
		return Contact{}, err
	}
	for i := range v.contacts {
		if v.contacts[i].ID == c.ID {
			v.writes++
			c.ModDate = v.tick()
			v.contacts[i] = c
			return c, nil
		}
	}
	return Contact{}, fmt.Errorf("contact %s: %w", c.ID, ErrNotFound)
}

func (v *fakeVP) DeleteContact(ctx context.Context, id string) error {
	v.mu.Lock()
	defer v.mu.Unlock()
	v.requests++
	if err := v.injected("DeleteContact"); err != nil {
		return err
	}
	for i := range v.contacts {
		if v.contacts[i].ID == id {
			v.writes++
			v.contacts = append(v.contacts[:i], v.contacts[i+1:]...)
			return nil
		}
	}
	return fmt.Errorf("contact %s: %w", id, ErrNotFound)
}

func (v *fakeVP) CreateFirm(ctx context.Context, f Firm) (Firm, error) {
	v.mu.Lock()
	defer v.mu.Unlock()
	v.requests++
	v.writes++
	f.ID = fmt.Sprintf("F-NEW-%d", len(v.firms)+1)
	v.firms = append(v.firms, f)
	return f, nil
}

func (v *fakeVP) ListFirms(ctx context.Context, page func([]Firm) error) error {
	v.mu.Lock()
	v.requests++
	out := append([]Firm(nil), v.firms...)
	v.mu.Unlock()
	return page(out)
}

func (v *fakeVP) ListActivities(ctx context.Context, q ActivityListQuery, page func([]Activity) error) error {
	v.mu.Lock()
	v.requests++
	if err := v.injected("ListActivities"); err != nil {
		v.mu.Unlock()
		return err
	}
	var out []Activity
	for _, a := range v.activities {
		if (q.Employee == "" || a.Employee == q.Employee) && (len(q.Types) == 0 || containsFold(q.Types, a.Type)) &&
			(q.From.IsZero() || !a.StartDate.Before(q.From)) && (q.To.IsZero() || a.StartDate.Before(q.To)) &&
			(q.ModifiedSince.IsZero() || a.ModDate.After(q.ModifiedSince)) {
			out = append(out, a)
		}
	}
	v.mu.Unlock()
	return page(out)
}

func (v *fakeVP) Activity(ctx context.Context, id string) (Activity, error) {
	v.mu.Lock()
	defer v.mu.Unlock()
	v.requests++
	for _, a := range v.activities {
		if a.ID == id {
			return a, nil
		}
	}
	return Activity{}, fmt.Errorf("activity %s: %w", id, ErrNotFound)
}

func (v *fakeVP) UpdateActivity(ctx context.Context, a Activity) (Activity, error) {
	v.mu.Lock()
	defer v.mu.Unlock()
	v.requests++
	if err := v.injected("UpdateActivity"); err != nil {
		return Activity{}, err
	}
	for i := range v.activities {
		if v.activities[i].ID == a.ID {
			v.writes++
			a.ModDate = v.tick()
			v.activities[i] = a
			return a, nil
		}
	}
	return Activity{}, fmt.Errorf("activity %s: %w", a.ID, ErrNotFound)
}

func (v *fakeVP) DeleteActivity(ctx context.Context, id string) error {
	v.mu.Lock()
	defer v.mu.Unlock()
	v.requests++
	if err := v.injected("DeleteActivity"); err != nil {
		return err
	}
	for i := range v.activities {
		if v.activities[i].ID == id {
			v.writes++
			v.activities = append(v.activities[:i], v.activities[i+1:]...)
			return nil
		}
	}
	return fmt.Errorf("activity %s: %w", id, ErrNotFound)
}

// Direct edits, as a user in Vantagepoint would make them.

func (v *fakeVP) addContact(c Contact) Contact {
	v.mu.Lock()
	defer v.mu.Unlock()
	v.createCounter++
	c.ID = fmt.Sprintf("C%031d", v.createCounter)
	c.ModDate = v.tick()
	v.contacts = append(v.contacts, c)
	return c
}

func (v *fakeVP) editContact(id string, fn func(*Contact)) {
	v.mu.Lock()
	defer v.mu.Unlock()
	for i := range v.contacts {
		if v.contacts[i].ID == id {
			fn(&v.contacts[i])
			v.contacts[i].ModDate = v.tick()
		}
	}
}

func (v *fakeVP) addActivity(a Activity) Activity {
	v.mu.Lock()
	defer v.mu.Unlock()
	v.createCounter++
	a.ID = fmt.Sprintf("A%031d", v.createCounter)
	a.ModDate = v.tick()
	v.activities = append(v.activities, a)
	return a
}

func (v *fakeVP) editActivity(id string, fn func(*Activity)) {
	v.mu.Lock()
	defer v.mu.Unlock()
	for i := range v.activities {
		if v.activities[i].ID == id {
			fn(&v.activities[i])
			v.activities[i].ModDate = v.tick()
		}
	}
}

func (v *fakeVP) removeActivity(id string) {
	v.mu.Lock()
	defer v.mu.Unlock()
	for i := range v.activities {
		if v.activities[i].ID == id {
			v.activities = append(v.activities[:i], v.activities[i+1:]...)
			return
		}
	}
}

func (v *fakeVP) removeContact(id string) {
	v.mu.Lock()
	defer v.mu.Unlock()
	for i := range v.contacts {
		if v.contacts[i].ID == id {
			v.contacts = append(v.contacts[:i], v.contacts[i+1:]...)
			return
		}
	}
}

func (v *fakeVP) ownContacts(owner string) []Contact {
	v.mu.Lock()
	defer v.mu.Unlock()
	var out []Contact
	for _, c := range v.contacts {
		if c.Owner == owner {
			out = append(out, c)
		}
	}
	return out
}

func (m *fakeMailbox) folderContacts() []MailboxContact {
	m.mu.Lock()
	defer m.mu.Unlock()
	var out []MailboxContact
	for _, c := range m.tw().contacts {
		out = append(out, c.MailboxContact)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out
}

func (m *fakeMailbox) allEvents() []MailboxEvent {
	m.mu.Lock()
	defer m.mu.Unlock()
	var out []MailboxEvent
	for _, e := range m.tw().events {
		out = append(out, e.MailboxEvent)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out
}
