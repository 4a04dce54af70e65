package graphsim

import (
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"unicode/utf8"
)

// An Outlook add-in's custom properties (Office.js CustomProperties) live on
// the message as one named property, per [MS-OXCEXT] 2.2.5 "Mail App Custom
// Properties"
// (https://learn.microsoft.com/en-us/openspecs/exchange_server_protocols/ms-oxcext/4cf1da5e-c68e-433e-a97e-c45625483481):
// a PtypString in PS_PUBLIC_STRINGS {00020329-0000-0000-C000-000000000046}
// named "cecp-<ID>", where ID is the manifest's <Id> lowercased, without
// braces and without a "urn:uuid" prefix; its value is a JSON object of
// name-value pairs, at most 2,500 characters. Graph reads it like any named
// property: GET /messages/{id}?$expand=singleValueExtendedProperties($filter=
// id eq 'String {00020329-0000-0000-C000-000000000046} Name cecp-<ID>').
//
// The simulator derives the name on its own from that document, so a client
// that derives it differently finds nothing.

// PublicStrings is the PS_PUBLIC_STRINGS property set.
const PublicStrings = "{00020329-0000-0000-C000-000000000046}"

// MaxCustomPropertiesLen is the longest JSON object Office.js saves as an
// add-in's custom properties ([MS-OXCEXT] 2.2.5; Office.CustomProperties:
// "The maximum length of a CustomProperties JSON object is 2500
// characters").
const MaxCustomPropertiesLen = 2500

// AddinPropertyName is the property name of an add-in's custom properties
// for the manifest <Id> id.
func AddinPropertyName(manifestID string) string {
	v := strings.ToLower(strings.TrimSpace(manifestID))
	v = strings.NewReplacer("{", "", "}", "").Replace(v)
	v = strings.TrimPrefix(v, "urn:uuid:")
	v = strings.TrimPrefix(v, "urn:uuid")
	return "cecp-" + v
}

// AddinPropertyID is the Graph id of that property.
func AddinPropertyID(manifestID string) string {
	return "String " + PublicStrings + " Name " + AddinPropertyName(manifestID)
}

// SetAddinProperties does what an add-in's CustomProperties.saveAsync does
// to a message: the properties become the JSON value of the add-in's named
// property, replacing what was there (an empty map removes it). Like
// Office.js it refuses a JSON object over 2,500 characters. The message gets
// a new changeKey and shows up in its folder's next delta round, as any
// change of an item does.
func (s *Server) SetAddinProperties(messageID, manifestID string, props map[string]any) error {
	var value string
	if len(props) > 0 {
		b, err := json.Marshal(props)
		if err != nil {
			return fmt.Errorf("graphsim: encode the custom properties: %w", err)
		}
		if n := utf8.RuneCount(b); n > MaxCustomPropertiesLen {
			return fmt.Errorf("graphsim: the custom properties are %d characters, more than the %d Office.js saves", n, MaxCustomPropertiesLen)
		}
		value = string(b)
	}
	id := AddinPropertyID(manifestID)
	if !s.UpdateMessage(messageID, func(m *Message) {
		for k := range m.ExtendedProperties {
			if msgPropKey(k) == msgPropKey(id) {
				delete(m.ExtendedProperties, k)
			}
		}
		if value == "" {
			return
		}
		if m.ExtendedProperties == nil {
			m.ExtendedProperties = map[string]string{}
		}
		m.ExtendedProperties[id] = value
	}) {
		return fmt.Errorf("graphsim: no message %q", messageID)
	}
	return nil
}

// AddinProperties reads an add-in's custom properties of a message, as
// Office.js loadCustomPropertiesAsync would; nil when there are none.
func (s *Server) AddinProperties(messageID, manifestID string) (map[string]any, error) {
	m, ok := s.Message(messageID)
	if !ok {
		return nil, fmt.Errorf("graphsim: no message %q", messageID)
	}
	v, ok := messageProp(m.ExtendedProperties, AddinPropertyID(manifestID))
	if !ok {
		return nil, nil
	}
	var out map[string]any
	if err := json.Unmarshal([]byte(v.Value), &out); err != nil {
		return nil, fmt.Errorf("graphsim: the custom properties are not a JSON object: %w", err)
	}
	return out, nil
}

// msgPropKey normalises a message property id for lookup. Graph compares the
// type, the property set GUID and a numeric tag case-insensitively, but "the
// string name (Name) in the id of an extended property is case-sensitive"
// (Get singleValueLegacyExtendedProperty,
// https://learn.microsoft.com/en-us/graph/api/singlevaluelegacyextendedproperty-get):
// the name keeps its case.
func msgPropKey(id string) string {
	f := strings.Fields(id)
	switch {
	case len(f) == 2 && strings.HasPrefix(strings.ToLower(f[1]), "0x"):
		// A tagged property: 0x0036 is 0x36.
		n, err := strconv.ParseUint(f[1][2:], 16, 32)
		if err != nil {
			return strings.ToLower(id)
		}
		return strings.ToLower(f[0]) + " 0x" + strconv.FormatUint(n, 16)
	case len(f) >= 4:
		return strings.ToLower(f[0]) + " " + strings.ToLower(f[1]) + " " + strings.ToLower(f[2]) + " " + strings.Join(f[3:], " ")
	}
	return strings.ToLower(strings.Join(f, " "))
}

// messageProp finds a property of a message by its id.
func messageProp(props map[string]string, id string) (extProp, bool) {
	want := msgPropKey(id)
	for k, v := range props {
		if msgPropKey(k) == want {
			return extProp{ID: k, Value: v}, true
		}
	}
	return extProp{}, false
}
