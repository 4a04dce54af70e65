package vantagepoint

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"time"

	"vpconnect/syncer"
)

// The key of an e-mail's activity. The engine writes a "Message-ID: <id>"
// line into Notes, but Notes are rich text that the server reformats and
// the user edits (docs/vantagepoint-api.md, "Notes"); a user-defined
// activity field survives both. docs/admin.md asks IT to add it; where it
// is missing the Notes line is the key, found in its raw and escaped forms.

// MessageIDField is the user-defined activity field that keeps an e-mail's
// Internet Message-ID (docs/admin.md).
const MessageIDField = "CustMessageID"

// keyFieldRecheck is how long "the field is missing" is believed: IT may
// add it while agents run.
const keyFieldRecheck = time.Hour

// keyField remembers whether the server's activities have MessageIDField.
type messageKey struct {
	mu      sync.Mutex
	has     bool
	checked time.Time // zero: never asked
}

// hubMetadataPath is GET metadata/{hub}: Deltek's "Metadata Reference"
// (Postman collection, Vantagepoint 4.0 and later) gives the form
// {{base_url}}/metadata/<hub_name>, answered like a user-defined hub's
// metadata, keyed by the table's name.
func hubMetadataPath(hub string) string { return "metadata/" + hub }

// HubMetadata reads the description of a built-in hub (activity,
// contact, …): the fields of every table its answer describes, its
// user-defined fields included (assumed: docs/vantagepoint-api.md).
func (c *Client) HubMetadata(ctx context.Context, hub string) (HubMetadata, error) {
	var w wireHubMetadata
	if _, err := c.do(ctx, call{method: http.MethodGet, path: hubMetadataPath(hub), auth: true, decode: jsonInto(&w)}); err != nil {
		return HubMetadata{}, fmt.Errorf("read metadata of the %s hub: %w", hub, err)
	}
	m := HubMetadata{Area: hub}
	for name, d := range w {
		if m.TableName == "" || strings.EqualFold(name, hub) {
			m.Key, m.TableName = d.Keys, name
		}
		for _, f := range d.Fields {
			m.Fields = append(m.Fields, HubField{Name: f.FieldName, Label: f.Caption, Type: f.FieldType, Required: f.Required})
		}
	}
	return m, nil
}

// HasMessageIDField reports whether the server's activities have the key
// field, asking the activity metadata at most once an hour while it is
// missing (once for good when it is there). A 404 or 403 on the metadata
// reads as "missing": the Notes line then remains the key.
func (c *Client) HasMessageIDField(ctx context.Context) (bool, error) {
	c.keyField.mu.Lock()
	defer c.keyField.mu.Unlock()
	if c.keyField.has || (!c.keyField.checked.IsZero() && time.Since(c.keyField.checked) < keyFieldRecheck) {
		return c.keyField.has, nil
	}
	m, err := c.HubMetadata(ctx, HubActivity)
	var ae *APIError
	switch {
	case errors.As(err, &ae) && (ae.Status == http.StatusNotFound || ae.Status == http.StatusForbidden):
	case err != nil:
		return false, err
	default:
		_, c.keyField.has = m.Field(MessageIDField)
	}
	c.keyField.checked = time.Now()
	return c.keyField.has, nil
}

// forgetMessageIDField makes the next HasMessageIDField ask the metadata
// again.
func (c *Client) forgetMessageIDField() {
	c.keyField.mu.Lock()
	defer c.keyField.mu.Unlock()
	c.keyField.has, c.keyField.checked = false, time.Time{}
}

// findByMessageID finds the activity filed from an e-mail: by the key
// field when the server has it, then by the Notes line (activities filed
// before the field existed, or by a server without it). The other
// conditions of q are applied as FindActivities applies them.
func (c *Client) findByMessageID(ctx context.Context, q syncer.ActivityQuery) ([]syncer.Activity, error) {
	has, err := c.HasMessageIDField(ctx)
	if err != nil {
		// Never guess: the engine creates nothing it could not look up.
		return nil, fmt.Errorf("find the activity of e-mail %s: %w", q.MessageID, err)
	}
	id := q.MessageID
	q.MessageID = ""
	if has {
		found, err := c.findActivities(ctx, q, []Filter{{Name: MessageIDField, Op: OpEq, Value: id}}, func(a syncer.Activity) bool { return a.MessageID == id })
		if err != nil || len(found) > 0 {
			return found, err
		}
	}
	q.NotesContain = syncer.MessageRef(id)
	return c.findActivities(ctx, q, nil, nil)
}
