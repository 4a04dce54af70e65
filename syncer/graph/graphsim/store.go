package graphsim

import (
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"slices"
	"strings"
)

// Each mail folder keeps the change log of its messages (itemlog.go).

type folder struct {
	MailFolder
	log    changeLog
	total  int
	unread int
}

type msgRec struct {
	m Message
	version
	convID string
}

// immutable-looking identifiers: base64url (with padding, as Exchange's
// REST ids) of a fixed prefix and a counter, so that they are long, unique
// and case-sensitive like the real ones.
var (
	msgIDPrefix    = []byte{0x00, 0x09, 0x00, 0x2e, 0x00, 0x00, 0x00, 0x00, 0x00, 0x1d, 0x84, 0x03, 0x11, 0xaa, 0x66, 0x11, 0xcd, 0x9b, 0xc8, 0x00, 0xaa, 0x00, 0x2f, 0xc4, 0x5a, 0x0d, 0x00}
	folderIDPrefix = []byte{0x01, 0x03, 0x24, 0x00, 0x33, 0x64, 0x34, 0x00, 0x00, 0x02, 0x01}
)

func (s *Server) newID(prefix []byte, tail int) string {
	s.nextID++
	b := make([]byte, 0, len(prefix)+16)
	b = append(b, prefix...)
	b = binary.BigEndian.AppendUint64(b, s.nextID)
	b = append(b, make([]byte, tail)...)
	return base64.URLEncoding.EncodeToString(b)
}

func (s *Server) newFolderID() string { return s.newID(folderIDPrefix, 2) }

func (s *Server) addFolder(display, wellKnown string) *folder {
	f := &folder{MailFolder: MailFolder{ID: s.newFolderID(), DisplayName: display, WellKnownName: wellKnown, ParentFolderID: s.root}}
	s.folders[f.ID] = f
	s.order = append(s.order, f)
	return f
}

// AddMailFolder creates a top-level folder.
func (s *Server) AddMailFolder(displayName string) MailFolder {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.addFolder(displayName, "").MailFolder
}

// MailFolders lists the folders in creation order.
func (s *Server) MailFolders() []MailFolder {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]MailFolder, len(s.order))
	for i, f := range s.order {
		out[i] = f.MailFolder
	}
	return out
}

// folderLocked resolves an id or a well-known name (case-insensitive).
func (s *Server) folderLocked(idOrName string) *folder {
	if f, ok := s.folders[idOrName]; ok {
		return f
	}
	for _, f := range s.order {
		if f.WellKnownName != "" && strings.EqualFold(f.WellKnownName, idOrName) {
			return f
		}
	}
	return nil
}

// FolderID resolves a folder id or well-known name to the folder id, "" if
// there is none.
func (s *Server) FolderID(idOrName string) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	if f := s.folderLocked(idOrName); f != nil {
		return f.ID
	}
	return ""
}

// msgLive says whether an entry of f's log is a message's current state.
func (s *Server) msgLive(f *folder) func(entry) bool {
	return func(e entry) bool {
		r, ok := s.msgs[e.id]
		return ok && r.m.FolderID == f.ID && r.seq == e.seq
	}
}

// AddMessage stores m in a folder (id or well-known name) and returns it as
// stored: ID, ChangeKey, InternetMessageID and missing dates are filled in.
// It panics on an unknown folder: seeding mistakes are programming errors.
func (s *Server) AddMessage(folderID string, m Message) Message {
	s.mu.Lock()
	defer s.mu.Unlock()
	r, err := s.addMessageLocked(folderID, m)
	if err != nil {
		panic(err)
	}
	return r.m
}

func (s *Server) addMessageLocked(folderID string, m Message) (*msgRec, error) {
	f := s.folderLocked(folderID)
	if f == nil {
		return nil, fmt.Errorf("graphsim: no mail folder %q", folderID)
	}
	now := s.stamp()
	if m.ID == "" {
		m.ID = s.newID(msgIDPrefix, 24)
	} else if _, dup := s.msgs[m.ID]; dup {
		return nil, fmt.Errorf("graphsim: duplicate message id %q", m.ID)
	}
	if m.InternetMessageID == "" {
		m.InternetMessageID = fmt.Sprintf("<%s@sim.prod.outlook.com>", randomHex(12))
	}
	if m.SentDateTime.IsZero() {
		m.SentDateTime = now
	}
	if m.ReceivedDateTime.IsZero() {
		m.ReceivedDateTime = m.SentDateTime
	}
	m.SentDateTime = m.SentDateTime.UTC()
	m.ReceivedDateTime = m.ReceivedDateTime.UTC()
	if m.BodyType == "" {
		m.BodyType = "html"
	}
	if m.Categories == nil {
		m.Categories = []string{}
	}
	m.FolderID = f.ID
	m.ChangeKey = s.newChangeKey()
	r := &msgRec{m: m, version: s.logCreated(&f.log, m.ID, now), convID: "AAQkAD" + randomHex(10) + "="}
	s.msgs[m.ID] = r
	f.total++
	if !m.IsRead {
		f.unread++
	}
	return r, nil
}

func (s *Server) newChangeKey() string {
	s.nextID++
	b := []byte{0x09, 0, 0, 0, 0x16, 0, 0, 0}
	b = binary.BigEndian.AppendUint64(b, s.nextID)
	b = append(b, 0x11, 0x9f, 0x6b, 0xdd, 0xcc, 0xf1)
	return base64.StdEncoding.EncodeToString(b)
}

// Message returns a stored message.
func (s *Server) Message(id string) (Message, bool) {
	return lookup(s, s.msgs, id, func(r *msgRec) Message { return cloneMessage(r.m) })
}

// Messages lists a folder's messages (id or well-known name), least
// recently changed first.
func (s *Server) Messages(folderID string) []Message {
	s.mu.Lock()
	defer s.mu.Unlock()
	f := s.folderLocked(folderID)
	if f == nil {
		return nil
	}
	var out []Message
	for id := range f.log.current(s.msgLive(f)) {
		out = append(out, cloneMessage(s.msgs[id].m))
	}
	return out
}

func cloneMessage(m Message) Message {
	m.To = slices.Clone(m.To)
	m.Cc = slices.Clone(m.Cc)
	m.Categories = slices.Clone(m.Categories)
	m.Attachments = slices.Clone(m.Attachments)
	m.ExtendedProperties = maps.Clone(m.ExtendedProperties)
	return m
}

// UpdateMessage changes a message as a user would: fn edits it (id, folder
// and changeKey changes are ignored), it gets a new changeKey and shows up in
// its folder's next delta round. It reports whether the message exists.
func (s *Server) UpdateMessage(id string, fn func(*Message)) bool {
	return userEdit(s, s.msgs, id, fn, func(r *msgRec) Message { return cloneMessage(r.m) }, func(r *msgRec, m Message) {
		m.ID, m.FolderID = r.m.ID, r.m.FolderID
		if m.Categories == nil {
			m.Categories = []string{}
		}
		s.touchLocked(r, m)
	})
}

// touchLocked stores a new state of a message and logs the update.
func (s *Server) touchLocked(r *msgRec, m Message) {
	f := s.folders[r.m.FolderID]
	if r.m.IsRead != m.IsRead {
		if m.IsRead {
			f.unread--
		} else {
			f.unread++
		}
	}
	m.ChangeKey = s.newChangeKey()
	r.m = m
	s.logUpdated(&f.log, &r.version, m.ID, s.stamp(), s.msgLive(f))
}

// MoveMessage moves a message to another folder (id or well-known name). The
// immutable id stays: the old folder's delta reports it @removed, the new
// one's as a new item. It reports whether both exist.
func (s *Server) MoveMessage(id, folderID string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	r, ok := s.msgs[id]
	to := s.folderLocked(folderID)
	if !ok || to == nil {
		return false
	}
	if to.ID == r.m.FolderID {
		return true
	}
	s.removeFromFolderLocked(r)
	r.m.FolderID = to.ID
	r.m.ChangeKey = s.newChangeKey()
	s.logVersion(&to.log, &r.version, id, kindCreated, s.stamp())
	to.total++
	if !r.m.IsRead {
		to.unread++
	}
	return true
}

func (s *Server) removeFromFolderLocked(r *msgRec) {
	from := s.folders[r.m.FolderID]
	s.logRemoved(&from.log, r.m.ID)
	from.total--
	if !r.m.IsRead {
		from.unread--
	}
	from.log.supersede(s.msgLive(from))
}

// DeleteMessage deletes a message permanently (a hard delete: it does not go
// to Deleted Items). It reports whether the message existed.
func (s *Server) DeleteMessage(id string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	r, ok := s.msgs[id]
	if !ok {
		return false
	}
	s.removeFromFolderLocked(r)
	delete(s.msgs, id)
	return true
}

// Categories lists the master categories.
func (s *Server) Categories() []Category {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.cats)
}

// AddCategory adds a master category (an id is assigned when empty); it
// reports false when the display name exists (names are unique,
// case-insensitively).
func (s *Server) AddCategory(c Category) (Category, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.addCategoryLocked(c)
}

func (s *Server) addCategoryLocked(c Category) (Category, bool) {
	for _, x := range s.cats {
		if strings.EqualFold(x.DisplayName, c.DisplayName) {
			return x, false
		}
	}
	if c.ID == "" {
		c.ID = newUUID()
	}
	if c.Color == "" {
		c.Color = "None"
	}
	s.cats = append(s.cats, c)
	return c, true
}

// Seed is the JSON form LoadSeed reads.
type Seed struct {
	User    *User `json:"user"`
	Folders []struct {
		// Name is a well-known name (inbox, sentitems, ...) or the display
		// name of a top-level folder, created when missing.
		Name     string    `json:"name"`
		Messages []Message `json:"messages"`
	} `json:"folders"`
	Categories []Category `json:"categories"`
	// ContactFolders are created under the default Contacts folder (or
	// found by display name) with their contacts.
	ContactFolders []struct {
		Name     string    `json:"name"`
		Contacts []Contact `json:"contacts"`
	} `json:"contactFolders"`
	// Events go to the default calendar; "recurrence" makes a series.
	Events []Event `json:"events"`
}

// LoadSeed adds the user, folders, messages, categories, contact folders
// with contacts, and events of a JSON seed file: {"user":{...},
// "folders":[{"name":"inbox","messages":[...]}], "categories":[...],
// "contactFolders":[{"name":"Vantagepoint","contacts":[...]}],
// "events":[...]}. Message fields are Message's JSON names; body
// content is "body", its type "bodyType".
func (s *Server) LoadSeed(r io.Reader) error {
	var seed Seed
	dec := json.NewDecoder(r)
	dec.DisallowUnknownFields()
	if err := dec.Decode(&seed); err != nil {
		return fmt.Errorf("graphsim: reading seed: %w", err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if seed.User != nil {
		u := *seed.User
		if u.ID == "" {
			u.ID = s.user.ID
		}
		if u.Mail == "" {
			u.Mail = u.UserPrincipalName
		}
		s.user = u
	}
	for _, fs := range seed.Folders {
		f := s.folderLocked(fs.Name)
		if f == nil {
			for _, x := range s.order {
				if strings.EqualFold(x.DisplayName, fs.Name) {
					f = x
					break
				}
			}
		}
		if f == nil {
			f = s.addFolder(fs.Name, "")
		}
		for _, m := range fs.Messages {
			if _, err := s.addMessageLocked(f.ID, m); err != nil {
				return err
			}
		}
	}
	for _, c := range seed.Categories {
		s.addCategoryLocked(c)
	}
	for _, fs := range seed.ContactFolders {
		var f *contactFolderRec
		for _, x := range s.cforder {
			if strings.EqualFold(x.f.DisplayName, fs.Name) {
				f = x
				break
			}
		}
		if f == nil {
			f = s.addContactFolderLocked(fs.Name)
		}
		for _, c := range fs.Contacts {
			if _, err := s.addContactLocked(f.f.ID, c); err != nil {
				return err
			}
		}
	}
	for _, e := range seed.Events {
		if _, err := s.addEventLocked(e); err != nil {
			return err
		}
	}
	return nil
}
