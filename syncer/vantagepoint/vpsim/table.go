package vpsim

import (
	"encoding/json"
	"fmt"
	"html"
	"slices"
	"strconv"
	"strings"
	"time"
)

// DateLayout is how the simulator writes dates: the format of the
// "StartDate":"2007-06-03T22:00:00.000" example in Deltek's own Update an
// Activity request. Dates carry no zone; the simulator keeps them in UTC.
const DateLayout = "2006-01-02T15:04:05.000"

// dateLayouts are the spellings the simulator accepts on input: with or
// without milliseconds, a date alone, or RFC 3339 with a zone (converted
// to UTC).
var dateLayouts = []string{DateLayout, "2006-01-02T15:04:05", "2006-01-02T15:04", "2006-01-02", time.RFC3339Nano}

// ParseDate reads a date as the simulator accepts it.
func ParseDate(s string) (time.Time, error) {
	for _, l := range dateLayouts {
		if t, err := time.Parse(l, s); err == nil {
			return t.UTC(), nil
		}
	}
	return time.Time{}, fmt.Errorf("%q is not a date like %s", s, DateLayout)
}

// FormatDate writes a date the way the simulator answers it.
func FormatDate(t time.Time) string { return t.UTC().Format(DateLayout) }

// field is one column of a hub.
type field struct {
	name     string
	kind     string // FieldString, FieldDate, FieldBool, FieldNumber
	required bool   // on create
	readOnly bool   // written by the server only; ignored on input
	richText bool   // kept as rich text (HTML), as Notes are
	label    string
}

// row is a stored record: every value kept as its string form, absent when
// NULL. Keeping strings makes comparisons and encoding cheap.
type row map[string]string

// table is one hub: its schema and its records.
type table struct {
	name   string // as the URL spells it: "contact", "UDIC_ConnectAgent"
	key    string
	genID  bool // the server assigns the key on create
	fields []field
	byName map[string]*field // lower-case name → field

	udic  bool           // a user-defined hub (AddHub)
	seq   int            // the last UDICNumber given
	rows  map[string]row // upper-case key → row
	order []string       // upper-case keys in insertion order
	// version changes on every write, so that cached sort orders can tell
	// they are stale.
	version   uint64
	sortCache map[string]sortedIndex
}

type sortedIndex struct {
	version uint64
	keys    []string
}

func newTable(name, key string, genID bool, fields []field) *table {
	t := &table{name: name, key: key, genID: genID, fields: fields, byName: map[string]*field{},
		rows: map[string]row{}, sortCache: map[string]sortedIndex{}}
	for i := range t.fields {
		t.byName[strings.ToLower(t.fields[i].name)] = &t.fields[i]
	}
	return t
}

func str(name string) field       { return field{name: name, kind: FieldString} }
func reqStr(name string) field    { return field{name: name, kind: FieldString, required: true} }
func date(name string) field      { return field{name: name, kind: FieldDate} }
func yn(name string) field        { return field{name: name, kind: FieldBool} }
func readOnlyDate(n string) field { return field{name: n, kind: FieldDate, readOnly: true} }
func readOnlyStr(n string) field  { return field{name: n, kind: FieldString, readOnly: true} }

// area is the table's dvp-applicationId: the hub's area as Vantagepoint
// names it ("Activity"), a user-defined hub's own name.
func (t *table) area() string {
	if t.udic {
		return t.name
	}
	return strings.ToUpper(t.name[:1]) + t.name[1:]
}

// serverClock reports whether a field is stamped by the server's clock,
// in its zone (ModDate, CreateDate), rather than written by a client.
func (f *field) serverClock() bool {
	return f.readOnly && f.kind == FieldDate
}

// The built-in hubs, with the fields docs/behaviour.md §11 names. Required fields are
// the simulator's choice (Deltek documents none): an activity needs Type,
// Subject and StartDate, a contact a LastName, a firm a Name, a project its
// WBS1 and Name, an employee its Employee and LastName.
func builtinTables() map[string]*table {
	return map[string]*table{
		"employee": newTable("employee", "Employee", false, []field{
			reqStr("Employee"), str("FirstName"), reqStr("LastName"), str("EMail"), str("Status"),
			readOnlyDate("ModDate")}),
		"firm": newTable("firm", "ClientID", true, []field{
			str("ClientID"), str("Client"), reqStr("Name"), str("Status"), readOnlyDate("ModDate")}),
		"contact": newTable("contact", "ContactID", true, []field{
			str("ContactID"), str("ClientID"), str("FirstName"), reqStr("LastName"), str("PreferredName"),
			str("Email"), str("Phone"), str("CellPhone"), str("Title"), str("ContactStatus"), str("Owner"),
			readOnlyDate("ModDate")}),
		"project": newTable("project", "WBS1", false, []field{
			reqStr("WBS1"), str("WBS2"), str("WBS3"), reqStr("Name"), str("ClientID"), str("Status"), readOnlyDate("ModDate")}),
		"activity": newTable("activity", "ActivityID", true, []field{
			str("ActivityID"), reqStr("Type"), reqStr("Subject"), {name: "StartDate", kind: FieldDate, required: true},
			date("EndDate"), {name: "Notes", kind: FieldString, richText: true}, str("Location"), yn("PrivateInd"), yn("AllDayEventInd"),
			yn("CompletionInd"), str("Owner"), str("Employee"), str("ContactID"), str("ClientID"), str("WBS1"),
			str("OpportunityID"), readOnlyDate("ModDate")}),
	}
}

// defaults fills the values a new record gets when the request omits them.
func (t *table) defaults(r row) {
	switch t.name {
	case "contact":
		setDefault(r, "ContactStatus", "A")
	case "employee":
		setDefault(r, "Status", "A")
	case "firm", "project":
		setDefault(r, "Status", "A")
	case "activity":
		setDefault(r, "PrivateInd", "N")
		setDefault(r, "AllDayEventInd", "N")
		setDefault(r, "CompletionInd", "N")
		setDefault(r, "EndDate", r["StartDate"])
	}
}

func setDefault(r row, k, v string) {
	if _, ok := r[k]; !ok && v != "" {
		r[k] = v
	}
}

// badRequest is a validation failure, answered as 400 {"message","detail"}.
type badRequest struct{ message, detail string }

func (e *badRequest) Error() string { return e.message + ": " + e.detail }

// decodeInput checks a request body's fields against the schema and turns
// them into a row. Field names are matched exactly, as JSON is; a
// misspelled field is an error rather than silently dropped, so that a
// client bug shows in tests.
func (t *table) decodeInput(in map[string]any) (row, error) {
	r := row{}
	for k, v := range in {
		f, ok := t.byName[strings.ToLower(k)]
		if !ok || f.name != k {
			return nil, &badRequest{"Invalid field", fmt.Sprintf("%s has no field %q", t.name, k)}
		}
		if f.readOnly {
			continue
		}
		s, err := valueString(f, v)
		if err != nil {
			return nil, &badRequest{"Invalid value", err.Error()}
		}
		if f.richText {
			s = richText(s)
		}
		if s == "" {
			r[f.name] = "" // an explicit clear: removed from the stored row on write
			continue
		}
		r[f.name] = s
	}
	return r, nil
}

// valueString validates one input value and returns its stored form.
func valueString(f *field, v any) (string, error) {
	var s string
	switch v := v.(type) {
	case nil:
		return "", nil
	case string:
		s = v
	case json.Number:
		if f.kind != FieldNumber {
			return "", fmt.Errorf("%s must be a string", f.name)
		}
		return v.String(), nil
	case float64:
		if f.kind != FieldNumber {
			return "", fmt.Errorf("%s must be a string", f.name)
		}
		return strconv.FormatFloat(v, 'f', -1, 64), nil
	default:
		return "", fmt.Errorf("%s must be a string", f.name)
	}
	if s == "" {
		return "", nil
	}
	switch f.kind {
	case FieldDate:
		d, err := ParseDate(s)
		if err != nil {
			return "", fmt.Errorf("%s: %v", f.name, err)
		}
		return FormatDate(d), nil
	case FieldBool:
		if s != "Y" && s != "N" {
			return "", fmt.Errorf("%s must be \"Y\" or \"N\", not %q", f.name, s)
		}
	case FieldNumber:
		if _, err := strconv.ParseFloat(s, 64); err != nil {
			return "", fmt.Errorf("%s must be a number, not %q", f.name, s)
		}
	}
	return s, nil
}

// richText stores text as Vantagepoint's rich-text fields hold it: HTML,
// with <, > and & escaped, line breaks as <br />, and a run of spaces kept
// with &nbsp; (Deltek's activity example carries &nbsp; in Notes). Text
// that is HTML already is kept as it is.
func richText(s string) string {
	if s == "" || looksLikeHTML(s) {
		return s
	}
	s = html.EscapeString(s)
	s = strings.ReplaceAll(s, "  ", "&nbsp; ")
	s = strings.ReplaceAll(s, "\r\n", "\n")
	return strings.ReplaceAll(s, "\n", "<br />")
}

// looksLikeHTML tells rich text from plain text by its markup.
func looksLikeHTML(s string) bool {
	l := strings.ToLower(s)
	for _, m := range []string{"<br", "<p>", "<p ", "<div", "</", "&nbsp;", "&lt;", "&gt;", "&amp;"} {
		if strings.Contains(l, m) {
			return true
		}
	}
	return false
}

// get returns the row with this key (case-insensitive, as SQL Server's
// default collation compares keys).
func (t *table) get(key string) (row, bool) {
	r, ok := t.rows[strings.ToUpper(key)]
	return r, ok
}

// rowKey is where a row is stored: its key, upper-cased. A project's
// phases and tasks share its WBS1 (GET project answers them too: Deltek's
// "Project" page, WBS2 and WBS3 "Populated once WBS1 is populated"), so
// they are stored under WBS1|WBS2|WBS3 and GET project/{WBS1} reads the
// project itself.
func (t *table) rowKey(r row) string {
	k := r[t.key]
	if t.name == "project" && (r["WBS2"] != "" || r["WBS3"] != "") {
		k += "|" + r["WBS2"] + "|" + r["WBS3"]
	}
	return strings.ToUpper(k)
}

// insert stores a complete, validated row.
func (t *table) insert(r row) {
	k := t.rowKey(r)
	if _, ok := t.rows[k]; !ok {
		t.order = append(t.order, k)
	}
	t.rows[k] = r
	t.version++
}

func (t *table) remove(key string) bool {
	k := strings.ToUpper(key)
	if _, ok := t.rows[k]; !ok {
		return false
	}
	delete(t.rows, k)
	t.order = slices.DeleteFunc(t.order, func(s string) bool { return s == k })
	t.version++
	return true
}

// merge applies a partial update (PUT behaves as PATCH, Deltek's Requests
// page says) and reports whether anything changed.
func merge(dst, src row) {
	for k, v := range src {
		if v == "" {
			delete(dst, k)
		} else {
			dst[k] = v
		}
	}
}

// missingRequired names the first required field a row lacks.
func (t *table) missingRequired(r row, screenRequired []string) string {
	for _, f := range t.fields {
		if f.required && r[f.name] == "" && !(f.name == t.key && t.genID) {
			return f.name
		}
	}
	for _, n := range screenRequired {
		if r[n] == "" {
			return n + " (required by the screen designer; requiredFieldValidation=N skips this check)"
		}
	}
	return ""
}

// sorted returns the table's keys in the order asked for, caching the
// result until the next write so that paging through a large listing does
// not sort again for every page.
func (t *table) sorted(order []orderBy) []string {
	if len(order) == 0 {
		return t.order
	}
	var sig strings.Builder
	for _, o := range order {
		fmt.Fprintf(&sig, "%s/%v,", o.field.name, o.desc)
	}
	if c, ok := t.sortCache[sig.String()]; ok && c.version == t.version {
		return c.keys
	}
	keys := slices.Clone(t.order)
	slices.SortStableFunc(keys, func(a, b string) int {
		ra, rb := t.rows[a], t.rows[b]
		for _, o := range order {
			c := compareValues(o.field, ra[o.field.name], rb[o.field.name])
			if o.desc {
				c = -c
			}
			if c != 0 {
				return c
			}
		}
		return 0
	})
	t.sortCache[sig.String()] = sortedIndex{version: t.version, keys: keys}
	return keys
}

// compareValues orders two stored values as SQL Server would: strings
// case-insensitively, dates and numbers by value; NULL first.
func compareValues(f *field, a, b string) int {
	if a == "" || b == "" {
		switch {
		case a == b:
			return 0
		case a == "":
			return -1
		default:
			return 1
		}
	}
	switch f.kind {
	case FieldDate:
		ta, ea := ParseDate(a)
		tb, eb := ParseDate(b)
		if ea == nil && eb == nil {
			return ta.Compare(tb)
		}
	case FieldNumber:
		na, ea := strconv.ParseFloat(a, 64)
		nb, eb := strconv.ParseFloat(b, 64)
		if ea == nil && eb == nil {
			switch {
			case na < nb:
				return -1
			case na > nb:
				return 1
			}
			return 0
		}
	}
	return strings.Compare(strings.ToLower(a), strings.ToLower(b))
}

// appendRow writes a row as a JSON object, fields in schema order, NULLs
// as null; only the fields in sel when sel is not nil.
func (t *table) appendRow(b []byte, r row, sel []*field) []byte {
	fs := sel
	if fs == nil {
		fs = make([]*field, len(t.fields))
		for i := range t.fields {
			fs[i] = &t.fields[i]
		}
	}
	b = append(b, '{')
	for i, f := range fs {
		if i > 0 {
			b = append(b, ',')
		}
		b = appendString(b, f.name)
		b = append(b, ':')
		v, ok := r[f.name]
		switch {
		case !ok || v == "":
			// Deltek's examples answer empty fields as "", not null.
			b = append(b, `""`...)
		case f.kind == FieldNumber:
			b = append(b, v...)
		default:
			b = appendString(b, v)
		}
	}
	return append(b, '}')
}

func appendString(b []byte, s string) []byte {
	q, _ := json.Marshal(s) // a string always marshals
	return append(b, q...)
}
