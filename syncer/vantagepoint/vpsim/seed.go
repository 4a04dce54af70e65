package vpsim

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"
)

// The typed helpers below seed and inspect the simulator without HTTP. A
// seed may leave out fields the API would require (the demo seeds contacts
// with only an address, say) but may not hold malformed dates or
// booleans: those panic, since they are bugs in the test that seeds them.

// toInput turns a typed record into the input form decodeInput accepts.
func toInput(v any) map[string]any {
	b, err := json.Marshal(v)
	if err != nil {
		panic(fmt.Sprintf("vpsim: encode seed: %v", err))
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		panic(fmt.Sprintf("vpsim: decode seed: %v", err))
	}
	return m
}

// fromRow turns a stored row into a typed record.
func fromRow(r row, v any) {
	b, _ := json.Marshal(r) // map[string]string always marshals
	if err := json.Unmarshal(b, v); err != nil {
		panic(fmt.Sprintf("vpsim: decode row: %v", err))
	}
}

// seedLocked stores a record from a seed: like a create, without the
// required-field check, and keeping a ModDate the seed gives.
func (s *Server) seedLocked(hub string, in map[string]any) (row, error) {
	t := s.tables[hub]
	mod, _ := in["ModDate"].(string)
	rw, err := t.decodeInput(in)
	if err != nil {
		return nil, fmt.Errorf("seed %s: %w", hub, err)
	}
	for k, v := range rw {
		if v == "" {
			delete(rw, k)
		}
	}
	if rw[t.key] == "" {
		if !t.genID {
			return nil, fmt.Errorf("seed %s: %s is required", hub, t.key)
		}
		rw[t.key] = s.newIDLocked()
	}
	t.defaults(rw)
	s.stampUDICLocked(t, rw, "ADMIN", true)
	if mod != "" {
		d, err := ParseDate(mod)
		if err != nil {
			return nil, fmt.Errorf("seed %s: ModDate: %w", hub, err)
		}
		rw["ModDate"] = d.In(s.opts.Zone).Format(DateLayout) // the server's zone, as it stamps
	} else {
		rw["ModDate"] = s.modDateLocked()
	}
	t.insert(rw)
	return rw, nil
}

func (s *Server) mustSeed(hub string, v, out any) {
	s.mu.Lock()
	rw, err := s.seedLocked(hub, toInput(v))
	s.mu.Unlock()
	if err != nil {
		panic("vpsim: " + err.Error())
	}
	if out != nil {
		fromRow(rw, out)
	}
}

// AddEmployee adds or replaces an employee.
func (s *Server) AddEmployee(e Employee) { s.mustSeed("employee", e, nil) }

// AddFirm adds or replaces a firm and returns it with its ClientID (made
// up when empty) and ModDate.
func (s *Server) AddFirm(f Firm) Firm {
	var out Firm
	s.mustSeed("firm", f, &out)
	return out
}

// AddContact adds or replaces a contact and returns it with its ContactID
// (32 hex digits when empty), ContactStatus (A when empty) and ModDate.
func (s *Server) AddContact(c Contact) Contact {
	var out Contact
	s.mustSeed("contact", c, &out)
	return out
}

// AddProject adds or replaces a project, or with WBS2 (and WBS3) one of
// its phases (tasks), which listings of the project hub answer too.
func (s *Server) AddProject(p Project) { s.mustSeed("project", p, nil) }

// AddActivity adds or replaces an activity and returns it with its
// ActivityID and ModDate.
func (s *Server) AddActivity(a Activity) Activity {
	var out Activity
	s.mustSeed("activity", a, &out)
	return out
}

// all decodes every row of a hub, in insertion order.
func all[T any](s *Server, hub string) []T {
	s.mu.Lock()
	defer s.mu.Unlock()
	t := s.tables[hub]
	out := make([]T, 0, len(t.order))
	for _, k := range t.order {
		var v T
		fromRow(t.rows[k], &v)
		out = append(out, v)
	}
	return out
}

// Activities returns every activity, oldest first.
func (s *Server) Activities() []Activity { return all[Activity](s, "activity") }

// Contacts returns every contact, oldest first.
func (s *Server) Contacts() []Contact { return all[Contact](s, "contact") }

// Employees returns every employee.
func (s *Server) Employees() []Employee { return all[Employee](s, "employee") }

// Firms returns every firm.
func (s *Server) Firms() []Firm { return all[Firm](s, "firm") }

// Projects returns every project.
func (s *Server) Projects() []Project { return all[Project](s, "project") }

func one[T any](s *Server, hub, id string) (T, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var v T
	rw, ok := s.tables[hub].get(id)
	if ok {
		fromRow(rw, &v)
	}
	return v, ok
}

// Activity returns one activity by ActivityID.
func (s *Server) Activity(id string) (Activity, bool) { return one[Activity](s, "activity", id) }

// Contact returns one contact by ContactID.
func (s *Server) Contact(id string) (Contact, bool) { return one[Contact](s, "contact", id) }

// edit applies fn to a typed copy of a record and stores the result with a
// new ModDate, as a user editing it in Vantagepoint would.
func edit[T any](s *Server, hub, id string, fn func(*T)) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	t := s.tables[hub]
	rw, ok := t.get(id)
	if !ok {
		return false
	}
	var v T
	fromRow(rw, &v)
	fn(&v)
	in := toInput(v)
	in[t.key] = rw[t.key] // the key does not change
	delete(in, "ModDate")
	nr, err := t.decodeInput(in)
	if err != nil {
		panic("vpsim: edit " + hub + ": " + err.Error())
	}
	for k, v := range nr {
		if v == "" {
			delete(nr, k)
		}
	}
	// Fields the typed record does not carry (user-defined fields added
	// with AddActivityField, the server's own) are kept as they were.
	for k, v := range rw {
		if _, typed := in[k]; !typed && k != "ModDate" {
			nr[k] = v
		}
	}
	nr["ModDate"] = s.modDateLocked()
	t.insert(nr)
	return true
}

// UpdateContact edits a contact in place and stamps a new ModDate; false
// when there is no such contact.
func (s *Server) UpdateContact(id string, fn func(*Contact)) bool {
	return edit(s, "contact", id, fn)
}

// UpdateActivity edits an activity in place and stamps a new ModDate.
func (s *Server) UpdateActivity(id string, fn func(*Activity)) bool {
	return edit(s, "activity", id, fn)
}

// DeleteContact removes a contact; false when there is none.
func (s *Server) DeleteContact(id string) bool { return s.remove("contact", id) }

// DeleteActivity removes an activity; false when there is none.
func (s *Server) DeleteActivity(id string) bool { return s.remove("activity", id) }

func (s *Server) remove(hub, id string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.tables[hub].remove(id)
}

// Seed is the JSON form LoadSeed reads.
type Seed struct {
	Database   string     `json:"database"`
	Users      []SeedUser `json:"users"`
	Employees  []Employee `json:"employees"`
	Firms      []Firm     `json:"firms"`
	Contacts   []Contact  `json:"contacts"`
	Projects   []Project  `json:"projects"`
	Activities []Activity `json:"activities"`
	// ConnectHubs creates the two hubs of vpconnect's administration
	// template (AddConnectHubs) before Hubs.
	ConnectHubs bool         `json:"connectHubs,omitempty"`
	Hubs        []SeedUDIC   `json:"hubs,omitempty"`
	Records     []SeedRecord `json:"udicRecords,omitempty"`
}

// SeedUser is a user of a seed.
type SeedUser struct {
	Username string `json:"username"`
	Password string `json:"password"`
	Employee string `json:"employee"`
}

// SeedUDIC is a user-defined hub of a seed.
type SeedUDIC struct {
	Area   string     `json:"area"`
	Fields []HubField `json:"fields"`
}

// SeedRecord is a record of a user-defined hub of a seed.
type SeedRecord struct {
	Area   string         `json:"area"`
	Fields map[string]any `json:"fields"`
}

// LoadSeed adds the users and records of a JSON seed. Unknown keys are an
// error, so that a typo in a seed file does not silently drop data. The
// seed's database, when set, replaces the server's.
func (s *Server) LoadSeed(r io.Reader) error {
	dec := json.NewDecoder(r)
	dec.DisallowUnknownFields()
	var sd Seed
	if err := dec.Decode(&sd); err != nil {
		return fmt.Errorf("read Vantagepoint seed: %w", err)
	}
	if sd.ConnectHubs {
		s.AddConnectHubs()
	}
	for _, h := range sd.Hubs {
		s.AddHub(h.Area, h.Fields)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if sd.Database != "" {
		s.opts.Database = sd.Database
	}
	for _, u := range sd.Users {
		s.users[strings.ToLower(u.Username)] = &user{name: u.Username, password: u.Password, employee: u.Employee}
	}
	add := func(hub string, v any) error {
		_, err := s.seedLocked(hub, toInput(v))
		return err
	}
	var errs []error
	for _, v := range sd.Employees {
		errs = append(errs, add("employee", v))
	}
	for _, v := range sd.Firms {
		errs = append(errs, add("firm", v))
	}
	for _, v := range sd.Contacts {
		errs = append(errs, add("contact", v))
	}
	for _, v := range sd.Projects {
		errs = append(errs, add("project", v))
	}
	for _, v := range sd.Activities {
		errs = append(errs, add("activity", v))
	}
	for _, rec := range sd.Records {
		t := s.tables["udic/"+strings.ToLower(rec.Area)]
		if t == nil {
			errs = append(errs, fmt.Errorf("seed record of unknown hub %q", rec.Area))
			continue
		}
		_, err := s.seedLocked("udic/"+strings.ToLower(rec.Area), rec.Fields)
		errs = append(errs, err)
	}
	for _, err := range errs {
		if err != nil {
			return fmt.Errorf("load Vantagepoint seed: %w", err)
		}
	}
	return nil
}
