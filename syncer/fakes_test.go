package syncer

import (
	"context"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"sync"
)

// The engine's rules are tested against two small in-memory services that
// keep state the way the real ones do: a mailbox whose delta rounds report
// every change since a cursor (own writes included), and a Vantagepoint that
// stores activities. The real clients against the real simulators are tested
// end to end in agent/demo.

type fakeMessage struct {
	Message
	folder string
	seq    int
}

type fakeMailbox struct {
	mu       sync.Mutex
	user     MailboxUser
	folders  map[string]string // name → id
	msgs     map[string]*fakeMessage
	removed  []fakeRemoval
	seq      int
	ck       int
	requests int64
	cats     []string
	// failures injected per method, consumed one at a time
	fail      map[string][]error
	forgetAll bool // the next delta round with a cursor answers ErrResyncRequired
	patches   int
	twoWay    *fakeTwoWay
	// eventReads counts reads of one event by id (Event).
	eventReads map[string]int
}

type fakeRemoval struct {
	id, folder string
	seq        int
}

func newFakeMailbox() *fakeMailbox {
	return &fakeMailbox{
		user:    MailboxUser{ID: "u1", DisplayName: "Dana Doe", Mail: "dana@contoso.com", UserPrincipalName: "Dana@contoso.onmicrosoft.com"},
		folders: map[string]string{"inbox": "F-INBOX", "sentitems": "F-SENT"},
		msgs:    map[string]*fakeMessage{},
		fail:    map[string][]error{},
	}
}

func (m *fakeMailbox) injected(method string) error {
	if errs := m.fail[method]; len(errs) > 0 {
		m.fail[method] = errs[1:]
		return errs[0]
	}
	return nil
}

func (m *fakeMailbox) nextChangeKey() string { m.ck++; return "CK" + strconv.Itoa(m.ck) }

func (m *fakeMailbox) add(folder string, msg Message) string {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.seq++
	if msg.ID == "" {
		msg.ID = fmt.Sprintf("AAMk-%03d", m.seq)
	}
	msg.ChangeKey = m.nextChangeKey()
	m.msgs[msg.ID] = &fakeMessage{Message: msg, folder: m.folders[folder], seq: m.seq}
	return msg.ID
}

func (m *fakeMailbox) edit(id string, fn func(*Message)) {
	m.mu.Lock()
	defer m.mu.Unlock()
	fm := m.msgs[id]
	fn(&fm.Message)
	m.seq++
	fm.seq = m.seq
	fm.ChangeKey = m.nextChangeKey()
}

func (m *fakeMailbox) remove(id string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.seq++
	m.removed = append(m.removed, fakeRemoval{id: id, folder: m.msgs[id].folder, seq: m.seq})
	delete(m.msgs, id)
}

func (m *fakeMailbox) get(id string) Message {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.msgs[id].Message
}

func (m *fakeMailbox) Me(ctx context.Context) (MailboxUser, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.requests++
	return m.user, m.injected("Me")
}

func (m *fakeMailbox) MailFolder(ctx context.Context, name string) (MailFolder, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.requests++
	if id, ok := m.folders[strings.ToLower(name)]; ok {
		return MailFolder{ID: id, DisplayName: name}, nil
	}
	return MailFolder{}, fmt.Errorf("mail folder %q: %w", name, ErrNotFound)
}

// MessageChanges answers one page with everything changed after the cursor
// (a sequence number), like a delta round that fits in one page.
func (m *fakeMailbox) MessageChanges(ctx context.Context, folderID, cursor string, page func([]MessageChange) error) (string, error) {
	m.mu.Lock()
	m.requests++
	if err := m.injected("MessageChanges"); err != nil {
		m.mu.Unlock()
		return "", err
	}
	after := 0
	if cursor != "" {
		if m.forgetAll {
			m.forgetAll = false
			m.mu.Unlock()
			return "", fmt.Errorf("delta: %w", ErrResyncRequired)
		}
		after, _ = strconv.Atoi(strings.TrimPrefix(cursor, "seq:"))
	}
	var out []MessageChange
	var seqs []int
	for _, fm := range m.msgs {
		if fm.folder == folderID && fm.seq > after {
			out = append(out, fm.MessageChange)
			seqs = append(seqs, fm.seq)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	if cursor != "" {
		for _, r := range m.removed {
			if r.folder == folderID && r.seq > after {
				out = append(out, MessageChange{ID: r.id, Removed: true})
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

func (m *fakeMailbox) Message(ctx context.Context, id string) (Message, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.requests++
	if err := m.injected("Message"); err != nil {
		return Message{}, err
	}
	fm, ok := m.msgs[id]
	if !ok {
		return Message{}, fmt.Errorf("message %s: %w", id, ErrNotFound)
	}
	return fm.Message, nil
}

func (m *fakeMailbox) SetMessageCategories(ctx context.Context, id string, categories []string) (string, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.requests++
	if err := m.injected("SetMessageCategories"); err != nil {
		return "", err
	}
	fm, ok := m.msgs[id]
	if !ok {
		return "", fmt.Errorf("message %s: %w", id, ErrNotFound)
	}
	m.patches++
	fm.Categories = append([]string(nil), categories...)
	m.seq++
	fm.seq = m.seq
	fm.ChangeKey = m.nextChangeKey()
	return fm.ChangeKey, nil
}

func (m *fakeMailbox) EnsureCategories(ctx context.Context, names []string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.requests++
	for _, n := range names {
		if !contains(m.cats, n) {
			m.cats = append(m.cats, n)
		}
	}
	return nil
}

func (m *fakeMailbox) Requests() int64 {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.requests
}

type fakeVP struct {
	mu         sync.Mutex
	employees  []Employee
	contacts   []Contact
	activities []Activity
	requests   int64
	fail       map[string][]error
	// lostReplies makes the next creates happen but answer ErrUnavailable,
	// like a reply lost on the network.
	lostReplies   int
	contactLists  int            // listings of the company's contacts (the contact index)
	indexQueries  []ContactQuery // those listings, in order
	findRequests  int
	createCounter int
	firms         []Firm
	clock         int
	writes        int // creates, updates, deletes of contacts and meetings
}

func newFakeVP() *fakeVP {
	return &fakeVP{
		employees: []Employee{{ID: "E001", Name: "Dana Doe", Email: "Dana@Contoso.com", Status: "A"}},
		contacts: []Contact{
			{ID: "C-ALICE", ClientID: "F-FABRIKAM", FirstName: "Alice", LastName: "Ng", Email: "alice@fabrikam.com", Status: "A"},
			{ID: "C-BOB", ClientID: "F-NORTHWIND", FirstName: "Bob", LastName: "Ray", Email: "Bob@Northwind.example", Status: "A"},
		},
		firms: []Firm{{ID: "F-FABRIKAM", Name: "Fabrikam"}, {ID: "F-NORTHWIND", Name: "Northwind Traders"}},
		fail:  map[string][]error{},
	}
}

func (v *fakeVP) injected(method string) error {
	if errs := v.fail[method]; len(errs) > 0 {
		v.fail[method] = errs[1:]
		return errs[0]
	}
	return nil
}

func (v *fakeVP) EmployeesByEmail(ctx context.Context, email string) ([]Employee, error) {
	v.mu.Lock()
	defer v.mu.Unlock()
	v.requests++
	var out []Employee
	for _, e := range v.employees {
		if strings.EqualFold(e.Email, email) {
			out = append(out, e)
		}
	}
	return out, nil
}

func (v *fakeVP) Contacts(ctx context.Context, q ContactQuery, page func([]Contact) error) error {
	v.mu.Lock()
	v.requests++
	if q.Owner == "" {
		v.contactLists++
		v.indexQueries = append(v.indexQueries, q)
	}
	if err := v.injected("Contacts"); err != nil {
		v.mu.Unlock()
		return err
	}
	var out []Contact
	for _, c := range v.contacts {
		if (!q.WithEmail || c.Email != "") && (q.Owner == "" || c.Owner == q.Owner) && (!q.ActiveOnly || c.Status == "A") &&
			(q.ModifiedSince.IsZero() || c.ModDate.After(q.ModifiedSince)) {
			out = append(out, c)
		}
	}
	v.mu.Unlock()
	return page(out)
}

func (v *fakeVP) Firm(ctx context.Context, id string) (Firm, error) {
	return Firm{ID: id, Name: id}, nil
}

func (v *fakeVP) CreateActivity(ctx context.Context, a Activity) (Activity, error) {
	v.mu.Lock()
	defer v.mu.Unlock()
	v.requests++
	if err := v.injected("CreateActivity"); err != nil {
		return Activity{}, err
	}
	v.createCounter++
	a.ID = fmt.Sprintf("A%031d", v.createCounter)
	a.ModDate = v.tick()
	v.activities = append(v.activities, a)
	if err := v.injected("CreateActivity:lost"); err != nil {
		return Activity{}, err
	}
	if v.lostReplies > 0 {
		v.lostReplies--
		return Activity{}, fmt.Errorf("POST activity: connection reset: %w", ErrUnavailable)
	}
	return a, nil
}

func (v *fakeVP) FindActivities(ctx context.Context, q ActivityQuery) ([]Activity, error) {
	v.mu.Lock()
	defer v.mu.Unlock()
	v.requests++
	v.findRequests++
	if err := v.injected("FindActivities"); err != nil {
		return nil, err
	}
	var out []Activity
	for _, a := range v.activities {
		if (q.Type == "" || a.Type == q.Type) && (q.Employee == "" || a.Employee == q.Employee) &&
			(q.Subject == "" || a.Subject == q.Subject) && (q.StartDate.IsZero() || a.StartDate.Equal(q.StartDate)) &&
			(q.NotesContain == "" || strings.Contains(a.Notes, q.NotesContain)) &&
			(q.MessageID == "" || a.MessageID == q.MessageID || strings.Contains(a.Notes, MessageRef(q.MessageID))) {
			out = append(out, a)
		}
	}
	return out, nil
}

func (v *fakeVP) Requests() int64 {
	v.mu.Lock()
	defer v.mu.Unlock()
	return v.requests
}

func (v *fakeVP) all() []Activity {
	v.mu.Lock()
	defer v.mu.Unlock()
	return append([]Activity(nil), v.activities...)
}
