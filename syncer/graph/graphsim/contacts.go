package graphsim

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Contacts live in contact folders. GET /me/contactFolders lists the child
// folders of the mailbox's default Contacts folder (which is not itself in
// that list); a folder the agent creates is one of them. Each folder keeps a
// change log like a mail folder, so a contact delta page costs O(page).

// ContactFolder is a contact folder of the simulated mailbox.
type ContactFolder struct {
	ID             string `json:"id"`
	DisplayName    string `json:"displayName"`
	ParentFolderID string `json:"parentFolderId"`
	// ExtendedProperties holds the folder's single-value extended
	// properties by property id (docs/behaviour.md §4.5: the mailbox mark). Graph only
	// shows them on an explicit $expand.
	ExtendedProperties map[string]string `json:"extendedProperties,omitempty"`
}

// Contact is a contact of the simulated mailbox. ID, ChangeKey, FolderID and
// LastModifiedDateTime are set by the server.
type Contact struct {
	ID             string      `json:"id"`
	ChangeKey      string      `json:"changeKey"`
	FolderID       string      `json:"parentFolderId"`
	DisplayName    string      `json:"displayName"` // given + surname when empty
	GivenName      string      `json:"givenName"`
	Surname        string      `json:"surname"`
	NickName       string      `json:"nickName"`
	MiddleName     string      `json:"middleName"`
	Initials       string      `json:"initials"`
	FileAs         string      `json:"fileAs"`
	Title          string      `json:"title"`
	EmailAddresses []Recipient `json:"emailAddresses"`
	BusinessPhones []string    `json:"businessPhones"`
	HomePhones     []string    `json:"homePhones"`
	MobilePhone    string      `json:"mobilePhone"`
	JobTitle       string      `json:"jobTitle"`
	CompanyName    string      `json:"companyName"`
	Department     string      `json:"department"`
	OfficeLocation string      `json:"officeLocation"`
	PersonalNotes  string      `json:"personalNotes"`
	Birthday       time.Time   `json:"birthday"`
	// Addresses are physicalAddress objects: street, city, state,
	// countryOrRegion, postalCode.
	HomeAddress          map[string]string `json:"homeAddress,omitempty"`
	BusinessAddress      map[string]string `json:"businessAddress,omitempty"`
	OtherAddress         map[string]string `json:"otherAddress,omitempty"`
	Categories           []string          `json:"categories"`
	LastModifiedDateTime time.Time         `json:"lastModifiedDateTime"`
	ExtendedProperties   map[string]string `json:"extendedProperties,omitempty"`
}

type contactFolderRec struct {
	f     ContactFolder
	props map[string]extProp
	log   changeLog
	n     int // live contacts
}

type contactRec struct {
	c     Contact
	props map[string]extProp
	version
}

var contactIDPrefix = []byte{0x00, 0x09, 0x00, 0x2e, 0x00, 0x00, 0x00, 0x00, 0x00, 0x1d, 0x84, 0x03, 0x11, 0xaa, 0x66, 0x11, 0xcd, 0x9b, 0xc8, 0x00, 0xaa, 0x00, 0x2f, 0xc4, 0x5a, 0x0e, 0x00}

func (s *Server) contactLive(f *contactFolderRec) func(entry) bool {
	return func(e entry) bool {
		r, ok := s.contacts[e.id]
		return ok && r.c.FolderID == f.f.ID && r.seq == e.seq
	}
}

// AddContactFolder creates a contact folder under the default Contacts
// folder.
func (s *Server) AddContactFolder(displayName string) ContactFolder {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.addContactFolderLocked(displayName).f
}

func (s *Server) addContactFolderLocked(displayName string) *contactFolderRec {
	f := &contactFolderRec{f: ContactFolder{ID: s.newFolderID(), DisplayName: displayName, ParentFolderID: s.contactsRoot}}
	s.cfolders[f.f.ID] = f
	s.cforder = append(s.cforder, f)
	return f
}

// ContactFolders lists the contact folders under the default Contacts
// folder, in creation order.
func (s *Server) ContactFolders() []ContactFolder {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []ContactFolder
	for _, f := range s.cforder {
		c := f.f
		c.ExtendedProperties = cloneProps(f.props)
		out = append(out, c)
	}
	return out
}

// DefaultContactFolderID is the id of the default Contacts folder, the
// parent of every folder GET /me/contactFolders lists.
func (s *Server) DefaultContactFolderID() string { return s.contactsRoot }

func (s *Server) contactFolderLocked(id string) *contactFolderRec { return s.cfolders[id] }

// AddContact stores c in a contact folder and returns it as stored. It
// panics on an unknown folder: seeding mistakes are programming errors.
func (s *Server) AddContact(folderID string, c Contact) Contact {
	s.mu.Lock()
	defer s.mu.Unlock()
	r, err := s.addContactLocked(folderID, c)
	if err != nil {
		panic(err)
	}
	return s.contactOut(r)
}

func (s *Server) addContactLocked(folderID string, c Contact) (*contactRec, error) {
	f := s.contactFolderLocked(folderID)
	if f == nil {
		return nil, fmt.Errorf("graphsim: no contact folder %q", folderID)
	}
	if c.ID == "" {
		c.ID = s.newID(contactIDPrefix, 24)
	} else if _, dup := s.contacts[c.ID]; dup {
		return nil, fmt.Errorf("graphsim: duplicate contact id %q", c.ID)
	}
	now := s.stamp()
	c.FolderID = f.f.ID
	normalizeContact(&c)
	c.ChangeKey = s.newChangeKey()
	r := &contactRec{c: c, props: propsFrom(c.ExtendedProperties), version: s.logCreated(&f.log, c.ID, now)}
	r.c.ExtendedProperties = nil
	s.contacts[c.ID] = r
	s.cindex.add(c.ID, r.props)
	f.n++
	return r, nil
}

func normalizeContact(c *Contact) {
	if c.Categories == nil {
		c.Categories = []string{}
	}
	if c.BusinessPhones == nil {
		c.BusinessPhones = []string{}
	}
	if c.HomePhones == nil {
		c.HomePhones = []string{}
	}
	if c.EmailAddresses == nil {
		c.EmailAddresses = []Recipient{}
	}
	if c.DisplayName == "" {
		c.DisplayName = strings.TrimSpace(c.GivenName + " " + c.Surname)
	}
	if c.FileAs == "" && c.Surname != "" {
		c.FileAs = strings.TrimSuffix(c.Surname+", "+c.GivenName, ", ")
	}
	c.Birthday = c.Birthday.UTC()
}

func cloneContact(c Contact) Contact {
	c.EmailAddresses = slices.Clone(c.EmailAddresses)
	c.BusinessPhones = slices.Clone(c.BusinessPhones)
	c.HomePhones = slices.Clone(c.HomePhones)
	c.Categories = slices.Clone(c.Categories)
	return c
}

func (s *Server) contactOut(r *contactRec) Contact {
	c := cloneContact(r.c)
	c.LastModifiedDateTime = r.modified
	c.ExtendedProperties = cloneProps(r.props)
	return c
}

// Contact returns a stored contact.
func (s *Server) Contact(id string) (Contact, bool) { return lookup(s, s.contacts, id, s.contactOut) }

// Contacts lists a contact folder's contacts, least recently changed first.
func (s *Server) Contacts(folderID string) []Contact {
	s.mu.Lock()
	defer s.mu.Unlock()
	f := s.contactFolderLocked(folderID)
	if f == nil {
		return nil
	}
	var out []Contact
	for id := range f.log.current(s.contactLive(f)) {
		out = append(out, s.contactOut(s.contacts[id]))
	}
	return out
}

// UpdateContact changes a contact as a user would: fn edits it (id, folder,
// changeKey and extended property changes are ignored), it gets a new
// changeKey and shows up in its folder's next delta round. It reports
// whether the contact exists.
func (s *Server) UpdateContact(id string, fn func(*Contact)) bool {
	return userEdit(s, s.contacts, id, fn, func(r *contactRec) Contact { return cloneContact(r.c) }, func(r *contactRec, c Contact) {
		c.ID, c.FolderID, c.ExtendedProperties = r.c.ID, r.c.FolderID, nil
		normalizeContact(&c)
		s.touchContactLocked(r, c)
	})
}

func (s *Server) touchContactLocked(r *contactRec, c Contact) {
	f := s.cfolders[r.c.FolderID]
	c.ChangeKey = s.newChangeKey()
	r.c = c
	s.logUpdated(&f.log, &r.version, c.ID, s.stamp(), s.contactLive(f))
}

// DeleteContact deletes a contact permanently. It reports whether it
// existed.
func (s *Server) DeleteContact(id string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.deleteContactLocked(id)
}

func (s *Server) deleteContactLocked(id string) bool {
	r, ok := s.contacts[id]
	if !ok {
		return false
	}
	f := s.cfolders[r.c.FolderID]
	s.logRemoved(&f.log, id)
	f.n--
	delete(s.contacts, id)
	s.cindex.remove(id, r.props)
	f.log.supersede(s.contactLive(f))
	return true
}

// DeleteContactFolder deletes a contact folder and its contacts. It reports
// whether the folder existed.
func (s *Server) DeleteContactFolder(id string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.deleteContactFolderLocked(id)
}

func (s *Server) deleteContactFolderLocked(id string) bool {
	f, ok := s.cfolders[id]
	if !ok || id == s.contactsRoot {
		return false
	}
	for _, e := range f.log.log {
		if r, ok := s.contacts[e.id]; ok && r.c.FolderID == id {
			s.cindex.remove(e.id, r.props)
			delete(s.contacts, e.id)
		}
	}
	delete(s.cfolders, id)
	s.cforder = slices.DeleteFunc(s.cforder, func(x *contactFolderRec) bool { return x == f })
	return true
}

// --- wire ---

// contactProps are the contact's properties in the order Graph renders them
// (contact-update-response.json).
var contactProps = []string{
	"createdDateTime", "lastModifiedDateTime", "changeKey", "categories", "parentFolderId", "birthday",
	"fileAs", "displayName", "givenName", "initials", "middleName", "nickName", "surname", "title",
	"yomiGivenName", "yomiSurname", "yomiCompanyName", "generation", "emailAddresses", "imAddresses",
	"jobTitle", "companyName", "department", "officeLocation", "profession", "businessHomePage",
	"assistantName", "manager", "homePhones", "mobilePhone", "businessPhones", "homeAddress",
	"businessAddress", "otherAddress", "spouseName", "personalNotes", "children",
}

func (s *Server) writeContact(w *jw, r *contactRec, sel selection, inDelta bool, expand string) {
	c := &r.c
	item := outlookItem{typ: "#microsoft.graph.contact", id: c.ID, changeKey: c.ChangeKey, categories: c.Categories, version: r.version}
	item.begin(w, inDelta)
	for _, p := range contactProps {
		if !sel.has(p) || item.writeProp(w, p) {
			continue
		}
		switch p {
		case "parentFolderId":
			w.str(p, c.FolderID)
		case "birthday":
			if c.Birthday.IsZero() {
				w.null(p)
			} else {
				w.time(p, c.Birthday)
			}
		case "fileAs":
			w.str(p, c.FileAs)
		case "displayName":
			w.str(p, c.DisplayName)
		case "givenName":
			w.strOrNull(p, c.GivenName)
		case "initials":
			w.strOrNull(p, c.Initials)
		case "middleName":
			w.strOrNull(p, c.MiddleName)
		case "nickName":
			w.strOrNull(p, c.NickName)
		case "surname":
			w.strOrNull(p, c.Surname)
		case "title":
			w.strOrNull(p, c.Title)
		case "jobTitle":
			w.strOrNull(p, c.JobTitle)
		case "companyName":
			w.strOrNull(p, c.CompanyName)
		case "department":
			w.strOrNull(p, c.Department)
		case "officeLocation":
			w.strOrNull(p, c.OfficeLocation)
		case "mobilePhone":
			w.strOrNull(p, c.MobilePhone)
		case "personalNotes":
			w.strOrNull(p, c.PersonalNotes)
		case "emailAddresses":
			w.arrayField(p)
			for _, a := range c.EmailAddresses {
				w.beginObject()
				w.str("name", a.Name)
				w.str("address", a.Address)
				w.endObject()
			}
			w.endArrayField()
		case "businessPhones":
			w.strings(p, c.BusinessPhones)
		case "homePhones":
			w.strings(p, c.HomePhones)
		case "imAddresses", "children":
			w.strings(p, nil)
		case "homeAddress":
			writeAddress(w, p, c.HomeAddress)
		case "businessAddress":
			writeAddress(w, p, c.BusinessAddress)
		case "otherAddress":
			writeAddress(w, p, c.OtherAddress)
		default:
			w.null(p)
		}
	}
	writeExtProps(w, r.props, expand)
	w.endObject()
}

var addressProps = []string{"street", "city", "state", "countryOrRegion", "postalCode"}

// writeAddress writes a physicalAddress; an unset one is {} as in Graph.
func writeAddress(w *jw, k string, a map[string]string) {
	w.objectField(k)
	for _, p := range addressProps {
		if v, ok := a[p]; ok {
			w.str(p, v)
		}
	}
	w.endObjectField()
}

// opt is a request property that may be absent, null or a value: PATCH
// leaves absent properties alone and clears null ones.
type opt[T any] struct {
	set bool
	v   T
}

func (o *opt[T]) UnmarshalJSON(b []byte) error {
	o.set = true
	if string(b) == "null" {
		var zero T
		o.v = zero
		return nil
	}
	return json.Unmarshal(b, &o.v)
}

// contactInput is what POST and PATCH of a contact accept. Properties Graph
// has but the simulator does not keep are accepted and dropped; properties
// Graph does not have are refused.
type contactInput struct {
	ParentFolderID   opt[string]            `json:"parentFolderId"`
	DisplayName      opt[string]            `json:"displayName"`
	GivenName        opt[string]            `json:"givenName"`
	Surname          opt[string]            `json:"surname"`
	NickName         opt[string]            `json:"nickName"`
	MiddleName       opt[string]            `json:"middleName"`
	Initials         opt[string]            `json:"initials"`
	FileAs           opt[string]            `json:"fileAs"`
	Title            opt[string]            `json:"title"`
	EmailAddresses   opt[[]Recipient]       `json:"emailAddresses"`
	BusinessPhones   opt[[]string]          `json:"businessPhones"`
	HomePhones       opt[[]string]          `json:"homePhones"`
	MobilePhone      opt[string]            `json:"mobilePhone"`
	JobTitle         opt[string]            `json:"jobTitle"`
	CompanyName      opt[string]            `json:"companyName"`
	Department       opt[string]            `json:"department"`
	OfficeLocation   opt[string]            `json:"officeLocation"`
	PersonalNotes    opt[string]            `json:"personalNotes"`
	Birthday         opt[string]            `json:"birthday"`
	Categories       opt[[]string]          `json:"categories"`
	Generation       json.RawMessage        `json:"generation"`
	Profession       json.RawMessage        `json:"profession"`
	SpouseName       json.RawMessage        `json:"spouseName"`
	AssistantName    json.RawMessage        `json:"assistantName"`
	Manager          json.RawMessage        `json:"manager"`
	BusinessHomePage json.RawMessage        `json:"businessHomePage"`
	YomiGivenName    json.RawMessage        `json:"yomiGivenName"`
	YomiSurname      json.RawMessage        `json:"yomiSurname"`
	YomiCompanyName  json.RawMessage        `json:"yomiCompanyName"`
	ImAddresses      json.RawMessage        `json:"imAddresses"`
	Children         json.RawMessage        `json:"children"`
	HomeAddress      opt[map[string]string] `json:"homeAddress"`
	BusinessAddress  opt[map[string]string] `json:"businessAddress"`
	OtherAddress     opt[map[string]string] `json:"otherAddress"`
	Props            []extProp              `json:"singleValueExtendedProperties"`
}

func setOpt[T any](dst *T, o opt[T]) {
	if o.set {
		*dst = o.v
	}
}

// apply writes the given properties onto c.
func (in *contactInput) apply(c *Contact) error {
	setOpt(&c.DisplayName, in.DisplayName)
	setOpt(&c.GivenName, in.GivenName)
	setOpt(&c.Surname, in.Surname)
	setOpt(&c.NickName, in.NickName)
	setOpt(&c.MiddleName, in.MiddleName)
	setOpt(&c.Initials, in.Initials)
	setOpt(&c.FileAs, in.FileAs)
	setOpt(&c.Title, in.Title)
	setOpt(&c.EmailAddresses, in.EmailAddresses)
	setOpt(&c.BusinessPhones, in.BusinessPhones)
	setOpt(&c.HomePhones, in.HomePhones)
	setOpt(&c.MobilePhone, in.MobilePhone)
	setOpt(&c.JobTitle, in.JobTitle)
	setOpt(&c.CompanyName, in.CompanyName)
	setOpt(&c.Department, in.Department)
	setOpt(&c.OfficeLocation, in.OfficeLocation)
	setOpt(&c.PersonalNotes, in.PersonalNotes)
	setOpt(&c.Categories, in.Categories)
	setOpt(&c.HomeAddress, in.HomeAddress)
	setOpt(&c.BusinessAddress, in.BusinessAddress)
	setOpt(&c.OtherAddress, in.OtherAddress)
	if in.Birthday.set {
		c.Birthday = time.Time{}
		if v := in.Birthday.v; v != "" {
			t, err := parseDateOrTime(v)
			if err != nil {
				return fmt.Errorf("Cannot convert the literal '%s' to the expected type 'Edm.DateTimeOffset'.", v)
			}
			c.Birthday = t
		}
	}
	if len(c.EmailAddresses) > 3 {
		// Outlook contacts have three e-mail slots.
		return fmt.Errorf("A contact can have at most 3 email addresses.")
	}
	return validProps(in.Props)
}

func parseDateOrTime(v string) (time.Time, error) {
	for _, layout := range []string{time.RFC3339Nano, "2006-01-02T15:04:05", "2006-01-02"} {
		if t, err := time.Parse(layout, v); err == nil {
			return t.UTC(), nil
		}
	}
	return time.Time{}, fmt.Errorf("bad time %q", v)
}

func (s *Server) writeContactFolder(w *jw, f *contactFolderRec, expand string) {
	w.beginObject()
	w.str("id", f.f.ID)
	w.str("displayName", f.f.DisplayName)
	w.str("parentFolderId", f.f.ParentFolderID)
	writeExtProps(w, f.props, expand)
	w.endObject()
}

// serveContactFolders answers GET /me/contactFolders, with $filter on
// displayName, $top (default 10) and $skip.
func (s *Server) serveContactFolders(w http.ResponseWriter, r *http.Request, q query) {
	top, skip, ok := s.paging(w, r, q)
	if !ok {
		return
	}
	name, filtered := "", false
	if f := q["filter"]; f != "" {
		m := displayNameRe.FindStringSubmatch(f)
		if m == nil {
			s.graphError(w, r, http.StatusBadRequest, "ErrorInvalidUrlQueryFilter", "The query filter contains one or more invalid nodes.")
			return
		}
		name, filtered = unquote(m[1]), true
	}
	var b bytes.Buffer
	s.mu.Lock()
	var list []*contactFolderRec
	for _, f := range s.cforder {
		if !filtered || strings.EqualFold(f.f.DisplayName, name) {
			list = append(list, f)
		}
	}
	next := func(skip int) string {
		v := url.Values{"$top": {strconv.Itoa(top)}, "$skip": {strconv.Itoa(skip)}}
		if filtered {
			v.Set("$filter", q["filter"])
		}
		return s.url + "/v1.0/me/contactFolders?" + v.Encode()
	}
	writeListPage(&b, s.userContext("contactFolders"), list, skip, top, next, func(w *jw, f *contactFolderRec) { s.writeContactFolder(w, f, "") })
	s.mu.Unlock()
	writeBuffer(w, http.StatusOK, &b)
}

// nextPage makes the nextLink of a listing paged with $top and $skip: the
// request's own query with the following $skip.
func (s *Server) nextPage(r *http.Request, top int) func(skip int) string {
	return func(skip int) string {
		v, _ := url.ParseQuery(r.URL.RawQuery)
		v.Del("skip")
		v.Set("$skip", strconv.Itoa(skip))
		v.Set("$top", strconv.Itoa(top))
		return s.url + r.URL.Path + "?" + v.Encode()
	}
}

// paging reads $top (1..1000, default 10) and $skip.
func (s *Server) paging(w http.ResponseWriter, r *http.Request, q query) (top, skip int, ok bool) {
	top = defaultPageSize
	if v, has := q["top"]; has {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > 1000 {
			s.graphError(w, r, http.StatusBadRequest, "ErrorInvalidUrlQuery", "The value of $top must be between 1 and 1000.")
			return 0, 0, false
		}
		top = n
	}
	if v, has := q["skip"]; has {
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 {
			s.graphError(w, r, http.StatusBadRequest, "ErrorInvalidUrlQuery", "Invalid $skip value.")
			return 0, 0, false
		}
		skip = n
	}
	return top, skip, true
}

func (s *Server) postContactFolder(w http.ResponseWriter, r *http.Request) {
	var in struct {
		DisplayName    string    `json:"displayName"`
		ParentFolderID string    `json:"parentFolderId"`
		Props          []extProp `json:"singleValueExtendedProperties"`
	}
	if err := decodeBody(r, &in); err != nil {
		s.graphError(w, r, http.StatusBadRequest, "RequestBodyRead", "Invalid request body: "+err.Error())
		return
	}
	if strings.TrimSpace(in.DisplayName) == "" {
		s.graphError(w, r, http.StatusBadRequest, "ErrorInvalidParameter", "The displayName of a folder cannot be empty.")
		return
	}
	if err := validProps(in.Props); err != nil {
		s.graphError(w, r, http.StatusBadRequest, "ErrorInvalidProperty", err.Error())
		return
	}
	var b bytes.Buffer
	s.mu.Lock()
	if in.ParentFolderID != "" && in.ParentFolderID != s.contactsRoot {
		s.mu.Unlock()
		// Only top-level folders are simulated.
		s.graphError(w, r, http.StatusBadRequest, "ErrorInvalidIdMalformed", "Id is malformed.")
		return
	}
	for _, f := range s.cforder {
		if strings.EqualFold(f.f.DisplayName, in.DisplayName) {
			s.mu.Unlock()
			s.graphError(w, r, http.StatusConflict, "ErrorFolderExists", "A folder with the specified name already exists.")
			return
		}
	}
	f := s.addContactFolderLocked(in.DisplayName)
	s.fxindex.setProps(f.f.ID, &f.props, in.Props)
	writeWithContext(&b, s.entityContext("contactFolders"), func(w *jw) { s.writeContactFolder(w, f, "") })
	s.mu.Unlock()
	writeBuffer(w, http.StatusCreated, &b)
}

func (s *Server) serveContactFolder(w http.ResponseWriter, r *http.Request, q query, id string) {
	expand, err := parseExpandProp(q["expand"])
	if err != nil {
		s.graphError(w, r, http.StatusBadRequest, "BadRequest", err.Error())
		return
	}
	var b bytes.Buffer
	s.mu.Lock()
	f := s.contactFolderLocked(id)
	if f != nil {
		writeWithContext(&b, s.entityContext("contactFolders"), func(w *jw) { s.writeContactFolder(w, f, expand) })
	}
	s.mu.Unlock()
	if f == nil {
		s.notFound(w, r)
		return
	}
	writeBuffer(w, http.StatusOK, &b)
}

// patchContactFolder updates a folder's name and extended properties. A
// PATCH of singleValueExtendedProperties creates or updates the ones it
// names and keeps the others. A contact folder has no changeKey and its
// answers no @odata.etag (its properties are id, displayName and
// parentFolderId: https://learn.microsoft.com/graph/api/resources/contactfolder),
// so a PATCH is not conditional: the last write wins. What Exchange does
// with an If-Match on a folder is not documented; the simulator refuses it,
// so that no client comes to rely on a condition the service may ignore.
func (s *Server) patchContactFolder(w http.ResponseWriter, r *http.Request, id string) {
	if r.Header.Get("If-Match") != "" {
		s.graphError(w, r, http.StatusBadRequest, "ErrorInvalidRequest", "The contactFolder resource has no changeKey: If-Match is not supported.")
		return
	}
	var in struct {
		DisplayName opt[string] `json:"displayName"`
		Props       []extProp   `json:"singleValueExtendedProperties"`
	}
	if err := decodeBody(r, &in); err != nil {
		s.graphError(w, r, http.StatusBadRequest, "RequestBodyRead", "Invalid request body: "+err.Error())
		return
	}
	if err := validProps(in.Props); err != nil {
		s.graphError(w, r, http.StatusBadRequest, "ErrorInvalidProperty", err.Error())
		return
	}
	var b bytes.Buffer
	s.mu.Lock()
	f := s.contactFolderLocked(id)
	if f != nil {
		if in.DisplayName.set && strings.TrimSpace(in.DisplayName.v) != "" {
			f.f.DisplayName = in.DisplayName.v
		}
		s.fxindex.setProps(f.f.ID, &f.props, in.Props)
		writeWithContext(&b, s.entityContext("contactFolders"), func(w *jw) { s.writeContactFolder(w, f, "") })
	}
	s.mu.Unlock()
	if f == nil {
		s.notFound(w, r)
		return
	}
	writeBuffer(w, http.StatusOK, &b)
}

func (s *Server) deleteContactFolder(w http.ResponseWriter, r *http.Request, id string) {
	s.mu.Lock()
	f := s.cfolders[id]
	if f != nil {
		s.fxindex.remove(id, f.props)
	}
	ok := s.deleteContactFolderLocked(id)
	s.mu.Unlock()
	if !ok {
		s.notFound(w, r)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

// serveContacts answers GET /me/contactFolders/{id}/contacts: with a
// $filter on an extended property (looked up in the index), or the whole
// folder paged with $top and $skip.
func (s *Server) serveContacts(w http.ResponseWriter, r *http.Request, q query, folderID string) {
	sel, err := parseSelect(q["select"], contactProps, "microsoft.graph.contact")
	if err != nil {
		s.graphError(w, r, http.StatusBadRequest, "RequestBroker--ParseUri", err.Error())
		return
	}
	expand, err := parseExpandProp(q["expand"])
	if err != nil {
		s.graphError(w, r, http.StatusBadRequest, "BadRequest", err.Error())
		return
	}
	top, skip, ok := s.paging(w, r, q)
	if !ok {
		return
	}
	var pid, pval string
	if f := q["filter"]; f != "" {
		// Graph documents a $filter on a string extended property for
		// messages and events ("Get singleValueLegacyExtendedProperty"),
		// not for contacts: the simulator refuses it, so that nothing
		// depends on it working.
		s.graphError(w, r, http.StatusBadRequest, "ErrorInvalidUrlQueryFilter", "The $filter on singleValueExtendedProperties is not supported for contacts.")
		return
	}
	var b bytes.Buffer
	s.mu.Lock()
	f := s.contactFolderLocked(folderID)
	if f == nil {
		s.mu.Unlock()
		s.notFound(w, r)
		return
	}
	var list []*contactRec
	if pid != "" {
		for id := range s.cindex[indexKey(pid, pval)] {
			if c := s.contacts[id]; c != nil && c.c.FolderID == f.f.ID {
				list = append(list, c)
			}
		}
		slices.SortFunc(list, func(a, b *contactRec) int { return int(a.seq - b.seq) })
	} else {
		for id := range f.log.current(s.contactLive(f)) {
			list = append(list, s.contacts[id])
		}
	}
	writeListPage(&b, s.userContext("contactFolders('"+f.f.ID+"')/contacts"), list, skip, top, s.nextPage(r, top),
		func(w *jw, c *contactRec) { s.writeContact(w, c, sel, false, expand) })
	s.mu.Unlock()
	writeBuffer(w, http.StatusOK, &b)
}

func (s *Server) postContact(w http.ResponseWriter, r *http.Request, folderID string) {
	var in contactInput
	if err := decodeBody(r, &in); err != nil {
		s.graphError(w, r, http.StatusBadRequest, "RequestBodyRead", "Invalid request body: "+err.Error())
		return
	}
	var c Contact
	if err := in.apply(&c); err != nil {
		s.graphError(w, r, http.StatusBadRequest, "ErrorInvalidProperty", err.Error())
		return
	}
	var b bytes.Buffer
	s.mu.Lock()
	if folderID == "" {
		folderID = s.contactsRoot
	}
	rec, err := s.addContactLocked(folderID, c)
	if err != nil {
		s.mu.Unlock()
		s.notFound(w, r)
		return
	}
	s.cindex.setProps(rec.c.ID, &rec.props, in.Props)
	writeWithContext(&b, s.entityContext("contacts"), func(w *jw) { s.writeContact(w, rec, nil, false, "") })
	s.mu.Unlock()
	writeBuffer(w, http.StatusCreated, &b)
}

// contactRef resolves /contacts/{id} or /contactFolders/{f}/contacts/{id}
// (folderID "" for the former).
func (s *Server) contactRefLocked(folderID, id string) *contactRec {
	c := s.contacts[id]
	if c == nil || (folderID != "" && c.c.FolderID != folderID) {
		return nil
	}
	return c
}

func (s *Server) serveContact(w http.ResponseWriter, r *http.Request, q query, folderID, id string) {
	sel, err := parseSelect(q["select"], contactProps, "microsoft.graph.contact")
	if err != nil {
		s.graphError(w, r, http.StatusBadRequest, "RequestBroker--ParseUri", err.Error())
		return
	}
	expand, err := parseExpandProp(q["expand"])
	if err != nil {
		s.graphError(w, r, http.StatusBadRequest, "BadRequest", err.Error())
		return
	}
	var b bytes.Buffer
	s.mu.Lock()
	rec := s.contactRefLocked(folderID, id)
	if rec != nil {
		writeWithContext(&b, s.entityContext("contacts"), func(w *jw) { s.writeContact(w, rec, sel, false, expand) })
	}
	s.mu.Unlock()
	if rec == nil {
		s.notFound(w, r)
		return
	}
	writeBuffer(w, http.StatusOK, &b)
}

func (s *Server) patchContact(w http.ResponseWriter, r *http.Request, folderID, id string) {
	var in contactInput
	if err := decodeBody(r, &in); err != nil {
		s.graphError(w, r, http.StatusBadRequest, "RequestBodyRead", "Invalid request body: "+err.Error())
		return
	}
	var b bytes.Buffer
	s.mu.Lock()
	rec := s.contactRefLocked(folderID, id)
	if rec == nil {
		s.mu.Unlock()
		s.notFound(w, r)
		return
	}
	if !s.mayUpdate(w, r, id, rec.c.ChangeKey) {
		return
	}
	c := cloneContact(rec.c)
	if err := in.apply(&c); err != nil {
		s.mu.Unlock()
		s.graphError(w, r, http.StatusBadRequest, "ErrorInvalidProperty", err.Error())
		return
	}
	if !in.DisplayName.set && (in.GivenName.set || in.Surname.set) {
		c.DisplayName = ""
	}
	normalizeContact(&c)
	s.cindex.setProps(rec.c.ID, &rec.props, in.Props)
	s.touchContactLocked(rec, c)
	writeWithContext(&b, s.entityContext("contacts"), func(w *jw) { s.writeContact(w, rec, nil, false, "") })
	s.mu.Unlock()
	writeBuffer(w, http.StatusOK, &b)
}

// ifMatches says whether a PATCH may change an item whose version is
// changeKey. Graph gives an Outlook item's version as @odata.etag, the weak
// etag of its changeKey (W/"<changeKey>"), and takes it back in If-Match;
// the quoted etag without W/ and the bare changeKey are accepted too. No
// If-Match, or "*", matches any version; a list matches when one entry
// does.
func ifMatches(r *http.Request, changeKey string) bool {
	h := strings.TrimSpace(r.Header.Get("If-Match"))
	if h == "" {
		return true
	}
	for _, v := range strings.Split(h, ",") {
		v = strings.TrimSpace(v)
		if v == "*" || strings.Trim(strings.TrimPrefix(v, "W/"), `"`) == changeKey {
			return true
		}
	}
	return false
}

// HoldItem makes Exchange refuse the next times updates of a message,
// contact or event (every one when times < 0) with 412
// ErrorIrresolvableConflict, whatever their If-Match, with none at all
// too: Exchange answers so while it is itself still changing the item, and
// a client that resends the update can meet it again and again
// (msgraph-sdk-dotnet issue 1201: PATCHes without any change key failing
// with ErrorIrresolvableConflict run after run; microsoft-graph-docs issue
// 2256: "I have tried to remove the change key field but it still is the
// same").
func (s *Server) HoldItem(id string, times int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if times == 0 {
		delete(s.held, id)
		return
	}
	s.held[id] = times
}

// heldLocked tells whether an update of the item is refused by HoldItem,
// counting it (s.mu held).
func (s *Server) heldLocked(id string) bool {
	n, ok := s.held[id]
	switch {
	case !ok:
		return false
	case n == 1:
		delete(s.held, id)
	case n > 1:
		s.held[id] = n - 1
	}
	return true
}

// mayUpdate says whether a PATCH may change the item id, whose version is
// changeKey (s.mu held). When not, it answers 412, as Exchange does when
// If-Match names another version or while it holds the item (HoldItem),
// and releases s.mu. Messages are held to it as contacts and events are:
// Exchange answers a message PATCH so too (msgraph-sdk-dotnet issue 1201).
func (s *Server) mayUpdate(w http.ResponseWriter, r *http.Request, id, changeKey string) bool {
	if ifMatches(r, changeKey) && !s.heldLocked(id) {
		return true
	}
	s.mu.Unlock()
	s.preconditionFailed(w, r)
	return false
}

// preconditionFailed answers a PATCH whose If-Match is not the item's
// version: 412 with the code and message Graph gives for Outlook items (see
// graph's errors.go for where they are documented).
func (s *Server) preconditionFailed(w http.ResponseWriter, r *http.Request) {
	s.graphError(w, r, http.StatusPreconditionFailed, "ErrorIrresolvableConflict",
		"The send or update operation could not be performed because the change key passed in the request does not match the current change key for the item.")
}

func (s *Server) deleteContact(w http.ResponseWriter, r *http.Request, folderID, id string) {
	s.mu.Lock()
	ok := s.contactRefLocked(folderID, id) != nil && s.deleteContactLocked(id)
	s.mu.Unlock()
	if !ok {
		s.notFound(w, r)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

// serveContactDelta answers GET /me/contactFolders/{id}/contacts/delta:
// $select and the state tokens only (NOTES 9); @removed and token expiry as
// for messages.
func (s *Server) serveContactDelta(w http.ResponseWriter, r *http.Request, q query, prefs []string, folderID string) {
	pageSize, applied := s.deltaPageSize(prefs)
	for _, k := range []string{"filter", "orderby", "search", "expand", "top"} {
		if q[k] != "" {
			s.graphError(w, r, http.StatusBadRequest, "ErrorInvalidUrlQuery", "The query option $"+k+" is not supported with delta for contacts.")
			return
		}
	}
	s.mu.Lock()
	f := s.contactFolderLocked(folderID)
	if f == nil {
		s.mu.Unlock()
		s.notFound(w, r)
		return
	}
	st, has, ok := s.deltaToken(w, r, q, "contacts", f.f.ID)
	if !ok {
		s.mu.Unlock()
		return
	}
	if !has {
		sel, err := parseSelect(q["select"], contactProps, "microsoft.graph.contact")
		if err != nil {
			s.mu.Unlock()
			s.graphError(w, r, http.StatusBadRequest, "RequestBroker--ParseUri", err.Error())
			return
		}
		st = deltaState{Epoch: s.epoch, Folder: f.f.ID, Kind: "contacts", Initial: true, Select: sel.join(contactProps)}
		if q["select"] != "" && st.Select == "" {
			st.Select = "id"
		}
	}
	sel, live := st.selection(), s.contactLive(f)
	b := s.writeDeltaPage(r, "contact", f.log.log, st, pageSize, func(w *jw, e entry) bool {
		switch {
		case e.kind == kindRemoved:
			// @removed can appear in the initial round too (NOTES 10).
			writeRemoved(w, "#microsoft.graph.contact", e.id)
		case live(e):
			s.writeContact(w, s.contacts[e.id], sel, true, "")
		default:
			return false
		}
		return true
	})
	s.mu.Unlock()
	if applied != "" {
		w.Header().Set("Preference-Applied", applied)
	}
	writeBuffer(w, http.StatusOK, b)
}
