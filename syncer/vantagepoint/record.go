package vantagepoint

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"

	"vpconnect/syncer"
)

// Record is one hub record as the API exchanges it, keyed by field name.
// Values are what JSON gives: string, json.Number, bool, nil.
type Record map[string]any

// String returns a field as a string: "" for a missing or null field,
// numbers and booleans in their JSON spelling.
func (r Record) String(name string) string {
	switch v := r[name].(type) {
	case string:
		return v
	case json.Number:
		return v.String()
	case bool:
		if v {
			return "true"
		}
		return "false"
	case nil:
		return ""
	default:
		b, _ := json.Marshal(v)
		return string(b)
	}
}

// Bool reads a "Y"/"N" field.
func (r Record) Bool(name string) bool {
	s := r.String(name)
	return s == "Y" || s == "y" || s == "true" || s == "1"
}

// Time reads a date field; the zero time when missing or unreadable.
func (r Record) Time(name string) time.Time {
	s := r.String(name)
	if s == "" {
		return time.Time{}
	}
	t, err := ParseDate(s)
	if err != nil {
		return time.Time{}
	}
	return t
}

// DecodeRecords reads an answer holding records: a JSON array of objects,
// or one object. Anything else is syncer.ErrMalformed.
func DecodeRecords(body []byte) ([]Record, error) {
	b := bytes.TrimSpace(body)
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	var out []Record
	switch {
	case len(b) > 0 && b[0] == '[':
		if err := dec.Decode(&out); err != nil {
			return nil, fmt.Errorf("%w: %w", syncer.ErrMalformed, err)
		}
		for i, r := range out {
			if r == nil {
				return nil, fmt.Errorf("%w: record %d is null", syncer.ErrMalformed, i)
			}
		}
	case len(b) > 0 && b[0] == '{':
		var r Record
		if err := dec.Decode(&r); err != nil {
			return nil, fmt.Errorf("%w: %w", syncer.ErrMalformed, err)
		}
		out = []Record{r}
	default:
		return nil, fmt.Errorf("%w: expected a JSON array or object", syncer.ErrMalformed)
	}
	if dec.More() {
		return nil, fmt.Errorf("%w: data after the records", syncer.ErrMalformed)
	}
	return out, nil
}

// decodeOne reads an answer holding exactly one record.
func decodeOne(body []byte) (Record, error) {
	rs, err := DecodeRecords(body)
	if err != nil {
		return nil, err
	}
	if len(rs) != 1 {
		return nil, fmt.Errorf("%w: expected one record, got %d", syncer.ErrMalformed, len(rs))
	}
	return rs[0], nil
}

// Filter operators of filterHash[i][opp]: the symbols every public caller
// of the API sends (docs/vantagepoint-api.md, "Filters"); no caller sends
// words such as eq or gt, and none has an IN operator.
const (
	OpEq   = "="
	OpNe   = "!="
	OpGt   = ">"
	OpLt   = "<"
	OpGe   = ">="
	OpLe   = "<="
	OpLike = "like" // % matches any run, _ one character
)

// Filter is one condition of a listing. Conditions are joined with AND.
type Filter struct {
	Name  string
	Op    string // one of the Op constants; "" means OpEq
	Value string
	Table string // filterHash[i][tablename], for fields of related tables
	// Type is filterHash[i][type]; DateFilter sets "datetime", without
	// which a date comparison silently matches nothing.
	Type string
}

// DateFilter compares a date field with t. The value carries an explicit
// offset (…Z) and the filter says [type]=datetime: a public integration
// reports that without either the server answers [] without an error.
func DateFilter(name, op string, t time.Time) Filter {
	return Filter{Name: name, Op: op, Value: FormatFilterDate(t), Type: "datetime"}
}

// Query narrows a listing.
type Query struct {
	Filters []Filter
	// Fields names the fields to fetch (fieldFilter); nil fetches all. The
	// hub's key is always fetched.
	Fields []string
	// Order is Vantagepoint's order parameter (Field_A, Field_D, comma
	// separated). Empty orders by the hub's key, so that paging is stable.
	Order string
	// Limit caps the number of records listed; 0 lists all.
	Limit int
}

func (q Query) values(hub string) url.Values {
	v := url.Values{}
	filterParams(v, q.Filters)
	key := keyField(hub)
	if len(q.Fields) > 0 {
		fs := q.Fields
		if key != "" && !containsFold(fs, key) {
			fs = append([]string{key}, fs...)
		}
		v.Set("fieldFilter", strings.Join(fs, ","))
	}
	switch {
	case q.Order != "":
		v.Set("order", q.Order)
	case key != "":
		v.Set("order", orderParam(key, false))
	}
	return v
}

func containsFold(list []string, s string) bool {
	for _, v := range list {
		if strings.EqualFold(v, s) {
			return true
		}
	}
	return false
}

// List streams the records of a hub that match q, one page at a time. An
// error from page stops the listing and is returned as it is. A listing
// that fails part way returns an error: the caller must not take what it
// saw for the whole (docs/behaviour.md §4.4).
func (c *Client) List(ctx context.Context, hub string, q Query, page func([]Record) error) error {
	_, err := c.listDated(ctx, hub, q, page)
	return err
}

// listDated is List, and answers the Date header of the listing's first
// answer: the server's time just before it listed.
func (c *Client) listDated(ctx context.Context, hub string, q Query, page func([]Record) error) (time.Time, error) {
	v := q.values(hub)
	offset := 0
	var first time.Time
	for {
		size := c.opts.PageSize
		if q.Limit > 0 {
			size = min(size, q.Limit-offset)
		}
		pageParams(v, size, offset)
		var recs []Record
		var date time.Time
		if _, err := c.do(ctx, call{method: http.MethodGet, path: hub, query: v, auth: true, decode: recordsInto(&recs), date: &date}); err != nil {
			return first, fmt.Errorf("list %s at offset %d: %w", hub, offset, err)
		}
		if first.IsZero() {
			first = date
		}
		c.checkListed(hub, date, recs)
		if len(recs) > size {
			return first, fmt.Errorf("list %s at offset %d: %w: asked for %d records, got %d", hub, offset, syncer.ErrMalformed, size, len(recs))
		}
		if len(recs) > 0 {
			if err := page(recs); err != nil {
				return first, err
			}
		}
		offset += len(recs)
		if len(recs) == 0 || (q.Limit > 0 && offset >= q.Limit) {
			return first, nil
		}
		if len(recs) < size {
			// A short page ends the listing only when the server is known
			// to fill pages up to more than this. Otherwise ask once more:
			// an empty answer confirms the end (and that the server honours
			// our page size); records mean the server caps pages here.
			if known := c.pageCap.Load(); known > int64(len(recs)) {
				return first, nil
			}
			return first, c.probeEnd(ctx, hub, v, size, offset, len(recs), page)
		}
		if int64(size) > c.pageCap.Load() {
			c.setPageCap(int64(size))
		}
	}
}

// probeEnd asks for the page after a short one: empty means the listing
// ended; records mean the server caps pages at got, and the rest is listed.
func (c *Client) probeEnd(ctx context.Context, hub string, v url.Values, size, offset, got int, page func([]Record) error) error {
	pageParams(v, size, offset)
	var recs []Record
	if _, err := c.do(ctx, call{method: http.MethodGet, path: hub, query: v, auth: true, decode: recordsInto(&recs)}); err != nil {
		return fmt.Errorf("list %s at offset %d: %w", hub, offset, err)
	}
	if len(recs) == 0 {
		// The end: all this shows is that the server answers at least got
		// records per page.
		if int64(got) > c.pageCap.Load() {
			c.setPageCap(int64(got))
		}
		return nil
	}
	c.setPageCap(int64(got))
	c.opts.Logger.Info("the Vantagepoint server caps listing pages", "hub", hub, "records", got)
	for {
		if len(recs) > 0 {
			if err := page(recs); err != nil {
				return err
			}
		}
		offset += len(recs)
		if len(recs) < got {
			return nil
		}
		pageParams(v, size, offset)
		recs = nil
		if _, err := c.do(ctx, call{method: http.MethodGet, path: hub, query: v, auth: true, decode: recordsInto(&recs)}); err != nil {
			return fmt.Errorf("list %s at offset %d: %w", hub, offset, err)
		}
	}
}

// Get reads one record by its key; syncer.ErrNotFound when there is none.
func (c *Client) Get(ctx context.Context, hub, id string) (Record, error) {
	// One record comes back as an array holding it.
	var recs []Record
	if _, err := c.do(ctx, call{method: http.MethodGet, path: recordPath(hub, id), auth: true, decode: recordsInto(&recs)}); err != nil {
		return nil, fmt.Errorf("read %s %s: %w", hub, id, err)
	}
	if len(recs) == 0 {
		return nil, fmt.Errorf("read %s %s: %w", hub, id, syncer.ErrNotFound)
	}
	return recs[0], nil
}

// Create creates a record and returns it as the server stored it, key and
// ModDate included. It is sent once: a create is never retried, since
// Vantagepoint has no idempotency key; on ErrUnavailable the record may or
// may not exist.
func (c *Client) Create(ctx context.Context, hub string, r Record) (Record, error) {
	var date time.Time
	body, err := c.do(ctx, call{method: http.MethodPost, path: hub, query: writeParams(), body: r, auth: true, date: &date})
	if err != nil {
		return nil, fmt.Errorf("create %s: %w", hub, err)
	}
	out, err := decodeOne(body)
	if err != nil {
		return nil, fmt.Errorf("create %s: %w", hub, err)
	}
	c.observeClock(date, out)
	return out, nil
}

// Update changes the fields present in r (PUT behaves as PATCH) and
// returns the record as stored.
//
// The PUT is unconditional, and this is a choice, made here for every hub:
// Vantagepoint's REST API documents no concurrency token (no ETag, no
// If-Match, no version field to send back), so an update cannot say which
// version it was based on, as the Graph side's does. Nor does the client
// add a read of its own per update (docs/behaviour.md §7: one write per updated record).
// What guards a record against an edit the engine has not seen is in the
// engine: it reads the record before writing it anyway (a PUT starts from
// the record as stored), compares that read with the version its decision
// was based on, and writes nothing when they differ (syncer: checkBase);
// an edit made after the write has a later ModDate, so the watermark brings
// it back next batch, where the content hash makes it a change, or, with an
// Outlook change, a conflict that sync.conflict decides. Only an edit in
// the one round trip between that read and this PUT can be overwritten.
func (c *Client) Update(ctx context.Context, hub, id string, r Record) (Record, error) {
	var out Record
	decode := func(b []byte) (err error) {
		out, err = decodeOne(b)
		return err
	}
	var date time.Time
	if _, err := c.do(ctx, call{method: http.MethodPut, path: recordPath(hub, id), query: writeParams(), body: r, auth: true, decode: decode, date: &date}); err != nil {
		return nil, fmt.Errorf("update %s %s: %w", hub, id, err)
	}
	c.observeClock(date, out)
	return out, nil
}

// checkListed lets the clock see every listed ModDate (clock.go:
// checkListed), and logs when they show that the server's zone changed.
func (c *Client) checkListed(hub string, date time.Time, recs []Record) {
	for _, r := range recs {
		if c.clock.checkListed(date, r.String("ModDate")) {
			c.opts.Logger.Info("the Vantagepoint server's zone seems to have changed (daylight saving time?): change polls start early until the next write measures it", "hub", hub)
			return
		}
	}
}

// observeClock measures the server's zone from a write's answer; failing
// to keep it for the next run is logged, not an error of the write.
func (c *Client) observeClock(date time.Time, r Record) {
	if err := c.clock.observe(date, r.String("ModDate")); err != nil {
		c.opts.Logger.Warn("vantagepoint: " + err.Error())
	}
}

// Delete removes a record.
func (c *Client) Delete(ctx context.Context, hub, id string) error {
	if _, err := c.do(ctx, call{method: http.MethodDelete, path: recordPath(hub, id), auth: true}); err != nil {
		return fmt.Errorf("delete %s %s: %w", hub, id, err)
	}
	return nil
}
