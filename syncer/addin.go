package syncer

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
)

// The Outlook add-in tracks an e-mail in two ways (docs/behaviour.md §4.1, §5.3): through
// the agent's POST /v1/track when the agent answers, and always through the
// mailbox: it sets the category and saves the records the user chose as the
// add-in's custom properties on the message (Office.js CustomProperties).
// Exchange keeps those as one named property ([MS-OXCEXT] 2.2.5): a string
// in PS_PUBLIC_STRINGS named "cecp-<manifest Id>", holding a JSON object.
// The mailbox side reads it on the full read of a message (Graph cannot
// expand extended properties in delta), and the e-mail rules file the
// message with those records, so tracking works on any computer where the
// user's agent runs, with or without the add-in reaching it.

// AddinManifestID is the <Id> of the add-in's manifest. The custom
// properties are named after it, so it never changes between versions.
const AddinManifestID = "8159d090-4379-4395-a14a-d9e216d48366"

// Links are the Vantagepoint records an e-mail is filed with.
type Links struct {
	Project     string `json:"project,omitempty"`     // WBS1
	Opportunity string `json:"opportunity,omitempty"` // OpportunityID
	Contact     string `json:"contact,omitempty"`     // ContactID
	Firm        string `json:"firm,omitempty"`        // ClientID
}

// IsZero reports whether no record is named.
func (l Links) IsZero() bool { return l == Links{} }

// AddinTrack is what the add-in saved on a message.
type AddinTrack struct {
	Links
	// Invalid says why the saved properties cannot be used (not a JSON
	// object, a value that is not a string); "" when they can.
	Invalid string
}

// maxLinkLen bounds one record id: Vantagepoint keys are short (a WBS1 is
// at most 30 characters, ids 32 hex digits).
const maxLinkLen = 100

// ParseAddinProperties reads the JSON object of the add-in's custom
// properties: the names project, opportunity, contact and firm, each a
// string; other names (the add-in's own bookkeeping) are ignored.
func ParseAddinProperties(value string) AddinTrack {
	var raw map[string]json.RawMessage
	if err := json.Unmarshal([]byte(value), &raw); err != nil || raw == nil {
		return AddinTrack{Invalid: "the add-in's saved choice is not a JSON object"}
	}
	var t AddinTrack
	for name, dst := range map[string]*string{"project": &t.Project, "opportunity": &t.Opportunity, "contact": &t.Contact, "firm": &t.Firm} {
		v, ok := raw[name]
		if !ok || string(v) == "null" {
			continue
		}
		var s string
		if err := json.Unmarshal(v, &s); err != nil {
			return AddinTrack{Invalid: fmt.Sprintf("the add-in's saved %s is not text", name)}
		}
		s = strings.TrimSpace(s)
		if len(s) > maxLinkLen || strings.ContainsAny(s, "\x00\r\n") {
			return AddinTrack{Invalid: fmt.Sprintf("the add-in's saved %s is not a Vantagepoint id", name)}
		}
		*dst = s
	}
	return t
}

// LinkKind names a kind of record an e-mail can be linked to.
type LinkKind string

// Link kinds.
const (
	LinkProject     LinkKind = "project"
	LinkOpportunity LinkKind = "opportunity"
	LinkContact     LinkKind = "contact"
	LinkFirm        LinkKind = "firm"
)

// LinkChecker is implemented by a Vantagepoint side that can tell whether a
// record exists. The engine checks the records a track names before filing
// with them, so that a stale or mistyped choice becomes an issue the user
// can correct instead of an activity linked to nothing.
type LinkChecker interface {
	// RecordExists reports whether the record of that kind and id exists.
	RecordExists(ctx context.Context, kind LinkKind, id string) (bool, error)
}
