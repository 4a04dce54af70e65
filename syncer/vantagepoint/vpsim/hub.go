package vpsim

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"net/http"
	"strings"
)

// maxBody bounds a request body: an activity's notes are cut at 64 KiB by
// the agent, so 4 MiB leaves room without letting a test exhaust memory.
const maxBody = 4 << 20

func (s *Server) serveHub(w http.ResponseWriter, r *http.Request, name, id string, udic bool) {
	s.mu.Lock()
	t := s.tables[name]
	s.mu.Unlock()
	if t == nil || (!udic && strings.HasPrefix(name, "udic/")) {
		writeError(w, http.StatusNotFound, "Not found", fmt.Sprintf("there is no hub %q", strings.TrimPrefix(name, "udic/")))
		return
	}
	// dvp-applicationId names the area a request works in, and Deltek says
	// it is used "for enforcing security measures" (its activity examples:
	// "must be set to Activity"): a request that names another area is
	// refused. Absent, the request is served.
	if app := r.Header.Get("dvp-applicationId"); app != "" && !strings.EqualFold(app, t.area()) {
		writeError(w, http.StatusForbidden, "Forbidden", fmt.Sprintf("dvp-applicationId %q does not name the area %s", app, t.area()))
		return
	}
	if !s.allowed(w, r, name, r.Method) {
		return
	}
	switch {
	case r.Method == http.MethodGet && id == "":
		s.list(w, r, t)
	case r.Method == http.MethodGet:
		s.getOne(w, r, t, id)
	case r.Method == http.MethodPost && id == "":
		s.create(w, r, t, udic)
	case r.Method == http.MethodPut && id != "":
		s.update(w, r, t, id, udic)
	case r.Method == http.MethodDelete && id != "":
		s.mu.Lock()
		ok := t.remove(id)
		s.mu.Unlock()
		if !ok {
			writeError(w, http.StatusNotFound, "Record not found", fmt.Sprintf("%s %s", t.key, id))
			return
		}
		w.WriteHeader(http.StatusOK)
	default:
		writeError(w, http.StatusMethodNotAllowed, "Method not allowed", r.Method+" "+r.URL.Path)
	}
}

// list answers a listing. It evaluates the filters only until the page is
// full, so a page costs O(offset+page) filter evaluations, never a pass
// plus an encoding of the whole hub.
func (s *Server) list(w http.ResponseWriter, r *http.Request, t *table) {
	q := r.URL.Query()
	filters, err := ParseFilterHash(q)
	if err != nil {
		writeError(w, http.StatusBadRequest, "Invalid filter", err.Error())
		return
	}
	sel, err := t.parseFields(q.Get("fieldFilter"))
	if err != nil {
		writeError(w, http.StatusBadRequest, "Invalid fieldFilter", err.Error())
		return
	}
	win, err := parseWindow(q, s.opts.PageSizeMax)
	if err != nil {
		writeError(w, http.StatusBadRequest, "Invalid paging", err.Error())
		return
	}
	s.mu.Lock()
	preds, err := t.bind(filters, s.opts.Zone)
	if err != nil {
		s.mu.Unlock()
		writeError(w, http.StatusBadRequest, "Invalid filter", err.Error())
		return
	}
	order, err := t.parseOrder(q.Get("order"))
	if err != nil {
		s.mu.Unlock()
		writeError(w, http.StatusBadRequest, "Invalid order", err.Error())
		return
	}
	keys := t.sorted(order)
	var page []row
	skipped := 0
	for _, k := range keys {
		if win.limit > 0 && len(page) >= win.limit {
			break
		}
		rw := t.rows[k]
		if !matchAll(preds, rw) {
			continue
		}
		if skipped < win.offset {
			skipped++
			continue
		}
		page = append(page, rw)
	}
	s.mu.Unlock()
	// Rows are replaced, never mutated, on write, so they can be encoded
	// outside the lock.
	b := make([]byte, 0, 64+len(page)*256)
	b = append(b, '[')
	for i, rw := range page {
		if i > 0 {
			b = append(b, ',')
		}
		b = t.appendRow(b, rw, sel)
	}
	b = append(b, ']')
	writeRaw(w, http.StatusOK, b)
}

func matchAll(ps []predicate, r row) bool {
	for i := range ps {
		if !ps[i].match(r) {
			return false
		}
	}
	return true
}

// getOne answers GET /{hub}/{id}: an array holding the one record, as
// Vantagepoint does.
func (s *Server) getOne(w http.ResponseWriter, r *http.Request, t *table, id string) {
	sel, err := t.parseFields(r.URL.Query().Get("fieldFilter"))
	if err != nil {
		writeError(w, http.StatusBadRequest, "Invalid fieldFilter", err.Error())
		return
	}
	s.mu.Lock()
	rw, ok := t.get(id)
	s.mu.Unlock()
	if !ok {
		writeError(w, http.StatusNotFound, "Record not found", fmt.Sprintf("%s %s", t.key, id))
		return
	}
	b := append([]byte{'['}, t.appendRow(nil, rw, sel)...)
	writeRaw(w, http.StatusOK, append(b, ']'))
}

// readBody decodes a request body: one JSON object, or an array holding
// one object.
func readBody(r *http.Request) (map[string]any, error) {
	b, err := io.ReadAll(io.LimitReader(r.Body, maxBody+1))
	if err != nil {
		return nil, fmt.Errorf("the body cannot be read: %v", err)
	}
	if len(b) > maxBody {
		return nil, fmt.Errorf("the body is larger than %d bytes", maxBody)
	}
	return DecodeRecordBody(b)
}

// DecodeRecordBody parses a create or update body: a JSON object, or an
// array of exactly one object. Numbers are kept as json.Number.
func DecodeRecordBody(b []byte) (map[string]any, error) {
	b = bytes.TrimSpace(b)
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	if len(b) > 0 && b[0] == '[' {
		var arr []map[string]any
		if err := dec.Decode(&arr); err != nil {
			return nil, fmt.Errorf("the body is not JSON: %v", err)
		}
		if len(arr) != 1 || arr[0] == nil {
			return nil, fmt.Errorf("the body must hold one record, not %d", len(arr))
		}
		return arr[0], nil
	}
	var m map[string]any
	if err := dec.Decode(&m); err != nil {
		return nil, fmt.Errorf("the body is not JSON: %v", err)
	}
	if m == nil {
		return nil, fmt.Errorf("the body must be a JSON object")
	}
	if dec.More() {
		return nil, fmt.Errorf("the body has data after the record")
	}
	return m, nil
}

// writeOptions reads the query options of a write. Deltek's activity
// examples document requiredFieldValidation=N (skip the fields a screen
// designer made required) and startWorkflow=N (start no workflow).
func (s *Server) writeOptions(r *http.Request, t *table) (screenRequired []string) {
	q := r.URL.Query()
	if !strings.EqualFold(q.Get("startWorkflow"), "N") {
		s.workflows.Add(1)
	}
	if strings.EqualFold(q.Get("requiredFieldValidation"), "N") {
		return nil
	}
	return s.opts.ScreenRequired[t.name]
}

// requestUser is the signed-in user behind a request, for ModUser.
func requestUser(r *http.Request) string {
	u, _ := r.Context().Value(userKey{}).(string)
	return u
}

func (s *Server) create(w http.ResponseWriter, r *http.Request, t *table, udic bool) {
	in, err := readBody(r)
	if err != nil {
		writeError(w, http.StatusBadRequest, "Invalid request body", err.Error())
		return
	}
	screen := s.writeOptions(r, t)
	s.mu.Lock()
	rw, err := s.insertLocked(t, in, screen, requestUser(r))
	s.mu.Unlock()
	if err != nil {
		writeBad(w, err)
		return
	}
	w.Header().Set("Location", strings.TrimSuffix(r.URL.Path, "/")+"/"+rw[t.key])
	s.writeRecord(w, http.StatusCreated, t, rw, udic)
}

// insertLocked validates and stores a new record from a request body or a
// seed.
func (s *Server) insertLocked(t *table, in map[string]any, screenRequired []string, user string) (row, error) {
	rw, err := t.decodeInput(in)
	if err != nil {
		return nil, err
	}
	for k, v := range rw {
		if v == "" {
			delete(rw, k)
		}
	}
	if rw[t.key] == "" && t.genID {
		rw[t.key] = s.newIDLocked()
	}
	if f := t.missingRequired(rw, screenRequired); f != "" {
		return nil, &badRequest{"Required field missing", fmt.Sprintf("%s needs %s", t.name, f)}
	}
	if _, dup := t.rows[t.rowKey(rw)]; dup {
		return nil, &badRequest{"Duplicate record", fmt.Sprintf("%s %s already exists", t.key, rw[t.key])}
	}
	t.defaults(rw)
	mod := s.modDateLocked()
	rw["ModDate"] = mod
	if _, ok := t.byName["createdate"]; ok {
		rw["CreateDate"] = mod
	}
	s.stampUDICLocked(t, rw, user, true)
	t.insert(rw)
	return rw, nil
}

// stampUDICLocked sets what a user-defined hub's record carries besides
// its fields (Deltek's UDIC examples): UDICNumber and UDICName, its
// read-only identity, and CreateUser/ModUser, who wrote it. The name comes
// from the hub's fields of type Name ("Name Fields in User-Defined Hubs":
// up to three, concatenated); the simulator takes the first field, which
// docs/admin.md asks IT to make the Name field. The number is in sequence,
// as the hub's auto numbering would give it.
func (s *Server) stampUDICLocked(t *table, rw row, user string, created bool) {
	if !t.udic {
		return
	}
	if created {
		t.seq++
		rw["UDICNumber"] = fmt.Sprintf("%06d", t.seq)
		rw["CreateUser"] = user
	}
	if len(t.fields) > udicBuiltinFields {
		rw["UDICName"] = rw[t.fields[udicBuiltinFields].name]
	}
	rw["ModUser"] = user
}

func (s *Server) update(w http.ResponseWriter, r *http.Request, t *table, id string, udic bool) {
	in, err := readBody(r)
	if err != nil {
		writeError(w, http.StatusBadRequest, "Invalid request body", err.Error())
		return
	}
	screen := s.writeOptions(r, t)
	s.mu.Lock()
	rw, err := s.updateLocked(t, id, in, screen, requestUser(r))
	s.mu.Unlock()
	if err != nil {
		writeBad(w, err)
		return
	}
	s.writeRecord(w, http.StatusOK, t, rw, udic)
}

// errNotFound marks an update of a record that does not exist.
type errNotFound struct{ key, id string }

func (e *errNotFound) Error() string { return e.key + " " + e.id }

func (s *Server) updateLocked(t *table, id string, in map[string]any, screenRequired []string, user string) (row, error) {
	old, ok := t.get(id)
	if !ok {
		return nil, &errNotFound{t.key, id}
	}
	patch, err := t.decodeInput(in)
	if err != nil {
		return nil, err
	}
	if k, ok := patch[t.key]; ok && !strings.EqualFold(k, old[t.key]) {
		return nil, &badRequest{"Invalid value", fmt.Sprintf("%s cannot be changed", t.key)}
	}
	delete(patch, t.key)
	rw := maps.Clone(old) // copy on write: listings encode rows outside the lock
	merge(rw, patch)
	if f := t.missingRequired(rw, screenRequired); f != "" {
		return nil, &badRequest{"Required field missing", fmt.Sprintf("%s needs %s", t.name, f)}
	}
	rw["ModDate"] = s.modDateLocked()
	s.stampUDICLocked(t, rw, user, false)
	t.insert(rw)
	return rw, nil
}

func writeBad(w http.ResponseWriter, err error) {
	switch e := err.(type) {
	case *badRequest:
		writeError(w, http.StatusBadRequest, e.message, e.detail)
	case *errNotFound:
		writeError(w, http.StatusNotFound, "Record not found", e.Error())
	default:
		writeError(w, http.StatusInternalServerError, "Internal error", err.Error())
	}
}

// writeRecord answers a write with the record in an array of one: Deltek's
// examples show POST (201) and PUT (200) answering [{…}] for every hub.
func (s *Server) writeRecord(w http.ResponseWriter, status int, t *table, rw row, _ bool) {
	b := append([]byte{'['}, t.appendRow(nil, rw, nil)...)
	writeRaw(w, status, append(b, ']'))
}
