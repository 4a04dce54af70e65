package graphsim

import (
	"fmt"
	"regexp"
	"strings"
)

// Single-value extended properties are how a client stamps its own data on
// Outlook items (docs/behaviour.md §4.5: the mailbox mark on a contact folder; the
// Vantagepoint id on contacts and events). Graph identifies a named property
// as "String {GUID} Name <name>" and compares the type, GUID and name
// case-insensitively when filtering; so does the simulator.

// propKey normalises a property id for comparison.
func propKey(id string) string { return strings.ToLower(strings.Join(strings.Fields(id), " ")) }

// extProp is one entry of singleValueExtendedProperties in a request body.
type extProp struct {
	ID    string `json:"id"`
	Value string `json:"value"`
}

// writeExtProps renders the expanded singleValueExtendedProperties of an
// item: only the property the $expand filter names, and nothing at all when
// the item does not have it (Graph omits the navigation property then).
func writeExtProps(w *jw, props map[string]extProp, want string) {
	if want == "" {
		return
	}
	p, ok := props[propKey(want)]
	if !ok {
		return
	}
	w.arrayField("singleValueExtendedProperties")
	w.beginObject()
	w.str("id", p.ID)
	w.str("value", p.Value)
	w.endObject()
	w.endArrayField()
}

var (
	expandPropRe  = regexp.MustCompile(`(?i)^\s*singleValueExtendedProperties\s*\(\s*\$?filter\s*=\s*id\s+eq\s+'((?:[^']|'')*)'\s*\)\s*$`)
	anyPropRe     = regexp.MustCompile(`(?i)^\s*singleValueExtendedProperties/any\(\s*(\w+)\s*:\s*(\w+)/id\s+eq\s+'((?:[^']|'')*)'\s+and\s+(\w+)/value\s+eq\s+'((?:[^']|'')*)'\s*\)\s*$`)
	displayNameRe = regexp.MustCompile(`(?i)^\s*displayName\s+eq\s+'((?:[^']|'')*)'\s*$`)
)

func unquote(s string) string { return strings.ReplaceAll(s, "''", "'") }

// parseExpandProp reads $expand=singleValueExtendedProperties($filter=id eq
// '…'), the only $expand the contact, contact folder and event routes take.
// It returns the property id, or "" when there is no $expand.
func parseExpandProp(v string) (string, error) {
	if strings.TrimSpace(v) == "" {
		return "", nil
	}
	m := expandPropRe.FindStringSubmatch(v)
	if m == nil {
		return "", fmt.Errorf("Parsing OData Select and Expand failed: the $expand '%s' is not supported; expand singleValueExtendedProperties with a $filter on id.", v)
	}
	return unquote(m[1]), nil
}

// parsePropFilter reads $filter=singleValueExtendedProperties/Any(ep: ep/id
// eq '…' and ep/value eq '…'), the documented way to find items by an
// extended property.
func parsePropFilter(v string) (id, value string, err error) {
	m := anyPropRe.FindStringSubmatch(v)
	if m == nil || !strings.EqualFold(m[1], m[2]) || !strings.EqualFold(m[1], m[4]) {
		return "", "", fmt.Errorf("Invalid filter clause: '%s'.", v)
	}
	return unquote(m[3]), unquote(m[5]), nil
}

// propIndex finds items by (property, value) in O(1), so that a lookup by
// stamp costs the same in a 5,000-item mailbox as in an empty one.
type propIndex map[string]map[string]bool

func indexKey(id, value string) string { return propKey(id) + "\x00" + value }

func (x propIndex) add(itemID string, props map[string]extProp) {
	for _, p := range props {
		k := indexKey(p.ID, p.Value)
		if x[k] == nil {
			x[k] = map[string]bool{}
		}
		x[k][itemID] = true
	}
}

func (x propIndex) remove(itemID string, props map[string]extProp) {
	for _, p := range props {
		k := indexKey(p.ID, p.Value)
		delete(x[k], itemID)
		if len(x[k]) == 0 {
			delete(x, k)
		}
	}
}

// setProps applies request properties to an item's set, keeping the index
// in step.
func (x propIndex) setProps(itemID string, props *map[string]extProp, in []extProp) {
	if len(in) == 0 {
		return
	}
	if *props == nil {
		*props = map[string]extProp{}
	}
	x.remove(itemID, *props)
	for _, p := range in {
		(*props)[propKey(p.ID)] = p
	}
	x.add(itemID, *props)
}

// validProps checks the id syntax Graph accepts for a named or tagged
// single-value property: "{Type} {GUID} Name {name}", "{Type} {GUID} Id
// {id}" or "{Type} {tag}".
func validProps(in []extProp) error {
	for _, p := range in {
		f := strings.Fields(p.ID)
		ok := len(f) == 2 && strings.HasPrefix(strings.ToLower(f[1]), "0x") ||
			len(f) >= 4 && strings.HasPrefix(f[1], "{") && strings.HasSuffix(f[1], "}") &&
				(strings.EqualFold(f[2], "Name") || strings.EqualFold(f[2], "Id"))
		if !ok {
			return fmt.Errorf("The property id '%s' is not valid.", p.ID)
		}
	}
	return nil
}

func cloneProps(in map[string]extProp) map[string]string {
	if len(in) == 0 {
		return nil
	}
	out := make(map[string]string, len(in))
	for _, p := range in {
		out[p.ID] = p.Value
	}
	return out
}

func propsFrom(in map[string]string) map[string]extProp {
	if len(in) == 0 {
		return nil
	}
	out := make(map[string]extProp, len(in))
	for id, v := range in {
		out[propKey(id)] = extProp{ID: id, Value: v}
	}
	return out
}

func propList(in map[string]string) []extProp {
	var out []extProp
	for id, v := range in {
		out = append(out, extProp{ID: id, Value: v})
	}
	return out
}
