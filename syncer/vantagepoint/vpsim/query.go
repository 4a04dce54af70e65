package vpsim

import (
	"fmt"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"time"
)

// Filter is one parsed filterHash entry.
type Filter struct {
	Name      string
	Value     string
	Op        string // eq, ne, gt, lt, ge, le, like (from the symbol sent)
	TableName string
	Type      string // filterHash[i][type]: "datetime" for a date comparison
	Seq       int
}

// filterOps maps the symbols of filterHash[i][opp] to comparisons. Every
// public caller of the API sends symbols, URL-encoded (=, ==, !=, >=, <,
// like; e.g. published Airflow integrations of Vantagepoint and a C#
// client's project search); none sends words such as eq or gt, so the
// simulator refuses them rather than guess.
var filterOps = map[string]string{
	"=": "eq", "==": "eq", "!=": "ne", "<>": "ne",
	">": "gt", ">=": "ge", "<": "lt", "<=": "le", "like": "like",
}

// ParseFilterHash reads the filterHash[i][name|value|opp|type|seq|
// condition|tablename|searchlevel] parameters of a query string, in seq
// order (index order where seq is absent). A missing opp means =.
// Conditions are joined with AND; OR is not simulated and is refused.
func ParseFilterHash(q url.Values) ([]Filter, error) {
	byIndex := map[int]*Filter{}
	hasSeq := map[int]bool{}
	for k, vs := range q {
		if !strings.HasPrefix(strings.ToLower(k), "filterhash[") {
			continue
		}
		rest := k[len("filterHash["):]
		i := strings.IndexByte(rest, ']')
		if i < 0 {
			return nil, fmt.Errorf("malformed filter parameter %q", k)
		}
		idx, err := strconv.Atoi(rest[:i])
		if err != nil || idx < 0 || idx > 1000 {
			return nil, fmt.Errorf("malformed filter index in %q", k)
		}
		rest = rest[i+1:]
		if len(rest) < 3 || rest[0] != '[' || rest[len(rest)-1] != ']' {
			return nil, fmt.Errorf("malformed filter parameter %q", k)
		}
		part := strings.ToLower(rest[1 : len(rest)-1])
		f := byIndex[idx]
		if f == nil {
			f = &Filter{Seq: idx}
			byIndex[idx] = f
		}
		v := ""
		if len(vs) > 0 {
			v = vs[0]
		}
		switch part {
		case "name":
			f.Name = v
		case "value":
			f.Value = v
		case "opp":
			op, ok := filterOps[strings.ToLower(strings.TrimSpace(v))]
			if !ok {
				return nil, fmt.Errorf("filterHash[%d] has unknown operator %q: use =, !=, >, >=, <, <= or like", idx, v)
			}
			f.Op = op
		case "tablename":
			f.TableName = v
		case "type":
			f.Type = strings.ToLower(v)
		case "seq":
			n, err := strconv.Atoi(v)
			if err != nil {
				return nil, fmt.Errorf("filterHash[%d][seq] %q is not a number", idx, v)
			}
			f.Seq, hasSeq[idx] = n, true
		case "condition":
			if c := strings.ToUpper(strings.TrimSpace(v)); c != "" && c != "AND" {
				return nil, fmt.Errorf("filterHash[%d][condition] %q is not simulated (only AND)", idx, v)
			}
		case "searchlevel":
		default:
			return nil, fmt.Errorf("unknown filter part %q in %q", part, k)
		}
	}
	out := make([]Filter, 0, len(byIndex))
	for i, f := range byIndex {
		if f.Name == "" {
			return nil, fmt.Errorf("filterHash[%d] has no name", i)
		}
		if f.Op == "" {
			f.Op = "eq"
		}
		out = append(out, *f)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Seq < out[j].Seq })
	return out, nil
}

// predicate is a filter bound to its field, with its operand prepared once.
type predicate struct {
	f      *field
	op     string
	value  string
	lower  string
	date   time.Time
	num    float64
	likeRe likePattern
	// never is set for a date comparison the server does not understand:
	// without [type]=datetime, or with a value that has no explicit
	// offset. A published integration reports that the server then
	// answers [] without an error, and the simulator does the same.
	never bool
	// zone is where the field's stored dates are: the server's zone for
	// the dates it stamps (ModDate), UTC for the ones clients write.
	zone *time.Location
}

func (t *table) bind(fs []Filter, zone *time.Location) ([]predicate, error) {
	ps := make([]predicate, 0, len(fs))
	for _, f := range fs {
		fd, ok := t.byName[strings.ToLower(f.Name)]
		if !ok {
			return nil, fmt.Errorf("%s has no field %q to filter on", t.name, f.Name)
		}
		p := predicate{f: fd, op: f.Op, value: f.Value, lower: strings.ToLower(f.Value), zone: time.UTC}
		if fd.serverClock() {
			p.zone = zone
		}
		switch {
		case f.Op == "like":
			p.likeRe = compileLike(p.lower)
		case fd.kind == FieldDate && f.Value != "":
			d, err := time.Parse(time.RFC3339Nano, f.Value)
			switch {
			case f.Type != "datetime" && f.Type != "date":
				p.never = true
			case err != nil:
				if _, err := ParseDate(f.Value); err != nil {
					return nil, fmt.Errorf("filter on %s: %v", fd.name, err)
				}
				p.never = true // a date without an offset
			default:
				p.date = d
			}
		case fd.kind == FieldNumber && f.Value != "":
			n, err := strconv.ParseFloat(f.Value, 64)
			if err != nil {
				return nil, fmt.Errorf("filter on %s: %q is not a number", fd.name, f.Value)
			}
			p.num = n
		}
		ps = append(ps, p)
	}
	return ps, nil
}

// match applies SQL semantics: a NULL (absent) value never compares equal
// or unequal to a non-empty operand, and strings compare case-insensitively.
func (p *predicate) match(r row) bool {
	if p.never {
		return false
	}
	v := r[p.f.name]
	switch p.op {
	case "like":
		return v != "" && likeMatch(p.likeRe, strings.ToLower(v))
	}
	if v == "" || p.value == "" {
		// NULL compared with anything is unknown, except that the
		// simulator treats an empty operand as "is (not) null", which is
		// what a client filtering on "has an email" means.
		switch p.op {
		case "eq":
			return v == "" && p.value == ""
		case "ne":
			return (v == "") != (p.value == "")
		}
		return false
	}
	var c int
	switch p.f.kind {
	case FieldDate:
		d, err := time.ParseInLocation(DateLayout, v, p.zone)
		if err != nil {
			return false
		}
		c = d.Compare(p.date)
	case FieldNumber:
		n, err := strconv.ParseFloat(v, 64)
		if err != nil {
			return false
		}
		switch {
		case n < p.num:
			c = -1
		case n > p.num:
			c = 1
		}
	default:
		if p.op == "eq" || p.op == "ne" {
			// EqualFold avoids lower-casing every stored value.
			return strings.EqualFold(v, p.value) == (p.op == "eq")
		}
		c = strings.Compare(strings.ToLower(v), p.lower)
	}
	switch p.op {
	case "eq":
		return c == 0
	case "ne":
		return c != 0
	case "gt":
		return c > 0
	case "lt":
		return c < 0
	case "ge":
		return c >= 0
	case "le":
		return c <= 0
	}
	return false
}

// likePattern is a LIKE pattern as runes: '%' matches any run, '_' any
// one character. (Bracket classes are not simulated.)
type likePattern []rune

func compileLike(pat string) likePattern { return likePattern(pat) }

// likeMatch is the classic greedy wildcard match that backtracks only to
// the last '%': O(len(s)·len(p)) at worst, so no pattern can make a
// request slow.
func likeMatch(p likePattern, str string) bool {
	s := []rune(str)
	i, j := 0, 0
	star, mark := -1, 0
	for i < len(s) {
		switch {
		case j < len(p) && (p[j] == '_' || (p[j] != '%' && p[j] == s[i])):
			i++
			j++
		case j < len(p) && p[j] == '%':
			star, mark = j, i
			j++
		case star >= 0:
			mark++
			i, j = mark, star+1
		default:
			return false
		}
	}
	for j < len(p) && p[j] == '%' {
		j++
	}
	return j == len(p)
}

// orderBy is one term of order=Field_D,Other_A.
type orderBy struct {
	field *field
	desc  bool
}

func (t *table) parseOrder(s string) ([]orderBy, error) {
	if s == "" {
		return nil, nil
	}
	var out []orderBy
	for _, term := range strings.Split(s, ",") {
		term = strings.TrimSpace(term)
		desc := false
		name := term
		if i := strings.LastIndexByte(term, '_'); i > 0 {
			switch strings.ToUpper(term[i+1:]) {
			case "D":
				desc, name = true, term[:i]
			case "A":
				name = term[:i]
			}
		}
		f, ok := t.byName[strings.ToLower(name)]
		if !ok {
			return nil, fmt.Errorf("%s has no field %q to order by", t.name, name)
		}
		out = append(out, orderBy{field: f, desc: desc})
	}
	return out, nil
}

func (t *table) parseFields(s string) ([]*field, error) {
	if s == "" {
		return nil, nil
	}
	var out []*field
	for _, n := range strings.Split(s, ",") {
		f, ok := t.byName[strings.ToLower(strings.TrimSpace(n))]
		if !ok {
			return nil, fmt.Errorf("%s has no field %q", t.name, strings.TrimSpace(n))
		}
		out = append(out, f)
	}
	return out, nil
}

// window is the slice of matching records a listing asks for.
type window struct{ offset, limit int } // limit 0 = no limit

// parseWindow reads limit+offset, or pageSize+page (page counts from 1).
func parseWindow(q url.Values, max int) (window, error) {
	num := func(k string) (int, error) {
		s := q.Get(k)
		if s == "" {
			return 0, nil
		}
		n, err := strconv.Atoi(s)
		if err != nil || n < 0 {
			return 0, fmt.Errorf("%s must be a non-negative integer, not %q", k, s)
		}
		return n, nil
	}
	var w window
	limit, err := num("limit")
	if err != nil {
		return w, err
	}
	offset, err := num("offset")
	if err != nil {
		return w, err
	}
	size, err := num("pageSize")
	if err != nil {
		return w, err
	}
	page, err := num("page")
	if err != nil {
		return w, err
	}
	switch {
	case limit > 0 || offset > 0:
		w = window{offset: offset, limit: limit}
	case size > 0:
		if page < 1 {
			page = 1
		}
		w = window{offset: (page - 1) * size, limit: size}
	}
	if max > 0 && (w.limit == 0 || w.limit > max) {
		w.limit = max
	}
	return w, nil
}
