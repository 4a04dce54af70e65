package vantagepoint

import (
	"context"
	"fmt"
	"maps"
	"net/http"
	"slices"
	"strings"
	"time"

	"vpconnect/syncer"
)

// User-defined hubs (UDICs) hold the Connect administration (docs/behaviour.md §5.5).
// Their paths are in wire.go.

// HubMetadata describes a user-defined hub.
type HubMetadata struct {
	Area      string
	Key       string // "UDIC_UID"
	TableName string
	Fields    []HubField
}

// HubField is one field of a user-defined hub: Label is its caption and
// Type the server's name of its type (e.g. "String").
type HubField struct {
	Name, Label, Type string
	Required          bool
}

// Field returns the named field (exact name) and whether it exists.
func (m HubMetadata) Field(name string) (HubField, bool) {
	for _, f := range m.Fields {
		if f.Name == name {
			return f, true
		}
	}
	return HubField{}, false
}

// UDICMetadata reads a user-defined hub's description;
// syncer.ErrNotFound when the hub does not exist.
func (c *Client) UDICMetadata(ctx context.Context, area string) (HubMetadata, error) {
	var w wireHubMetadata
	if _, err := c.do(ctx, call{method: http.MethodGet, path: udicMetadataPath(area), auth: true, decode: jsonInto(&w)}); err != nil {
		return HubMetadata{}, fmt.Errorf("read metadata of hub %s: %w", area, err)
	}
	// The answer is keyed by the hub's name, as the server spells it.
	name := ""
	for k := range w {
		if strings.EqualFold(k, area) {
			name = k
		}
	}
	if name == "" {
		keys := slices.Sorted(maps.Keys(w))
		return HubMetadata{}, fmt.Errorf("read metadata of hub %s: %w: the answer describes %v, not %s", area, syncer.ErrMalformed, keys, area)
	}
	d := w[name]
	m := HubMetadata{Area: name, Key: d.Keys, TableName: d.TableName}
	for _, f := range d.Fields {
		m.Fields = append(m.Fields, HubField{Name: f.FieldName, Label: f.Caption, Type: f.FieldType, Required: f.Required})
	}
	return m, nil
}

// UDICList streams the records of a user-defined hub.
func (c *Client) UDICList(ctx context.Context, area string, q Query, page func([]Record) error) error {
	return c.List(ctx, udicHub(area), q, page)
}

// UDICGet reads one record of a user-defined hub by its UDIC_UID.
func (c *Client) UDICGet(ctx context.Context, area, uid string) (Record, error) {
	return c.Get(ctx, udicHub(area), uid)
}

// UDICCreate creates a record in a user-defined hub and returns it with
// its UDIC_UID. Never retried (see Create).
func (c *Client) UDICCreate(ctx context.Context, area string, r Record) (Record, error) {
	return c.Create(ctx, udicHub(area), r)
}

// UDICUpdate changes fields of a user-defined hub's record.
func (c *Client) UDICUpdate(ctx context.Context, area, uid string, r Record) (Record, error) {
	return c.Update(ctx, udicHub(area), uid, r)
}

// UDICDelete deletes a record of a user-defined hub.
func (c *Client) UDICDelete(ctx context.Context, area, uid string) error {
	return c.Delete(ctx, udicHub(area), uid)
}

// changedOverlap: a listing of the records changed since a mark starts this
// long before it, so that a record the database stamped a little before the
// web server's clock said (another server's clock, a slow commit) is listed
// again rather than missed. Listing a record twice is harmless.
const changedOverlap = 5 * time.Minute

// UDICChangedSince streams the records of a user-defined hub whose ModDate
// is after since, an instant (zero: every record), and answers the instant
// to ask from next time: the server's Date header of this listing, less
// changedOverlap. The filter's value is that instant with an explicit
// offset, which the server compares with its ModDate in whatever zone it
// keeps it (docs/vantagepoint-api.md, "Dates"). An answer without a Date
// header keeps since: the next listing repeats records, it misses none.
func (c *Client) UDICChangedSince(ctx context.Context, area string, since time.Time, fields []string, page func([]Record) error) (time.Time, error) {
	q := Query{Fields: fields}
	if !since.IsZero() {
		q.Filters = []Filter{DateFilter("ModDate", OpGt, since)}
	}
	date, err := c.listDated(ctx, udicHub(area), q, page)
	if err != nil {
		return since, fmt.Errorf("list the records of %s changed since %s: %w", area, since.UTC().Format(time.RFC3339), err)
	}
	if next := date.Add(-changedOverlap); !date.IsZero() && next.After(since) {
		return next, nil
	}
	return since, nil
}

// UDICListDated is UDICList, and answers the Date header of the listing's
// first answer: the server's time just before it listed (zero without one).
func (c *Client) UDICListDated(ctx context.Context, area string, q Query, page func([]Record) error) (time.Time, error) {
	return c.listDated(ctx, udicHub(area), q, page)
}
