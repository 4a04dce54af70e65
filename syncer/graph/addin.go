package graph

import (
	"context"
	"net/url"
	"strings"

	"github.com/microsoftgraph/msgraph-sdk-go/users"

	"vpconnect/syncer"
)

// publicStrings is PS_PUBLIC_STRINGS, the property set of an Outlook
// add-in's custom properties ([MS-OXCEXT] 2.2.5).
const publicStrings = "{00020329-0000-0000-C000-000000000046}"

// addinPropertyName is the name [MS-OXCEXT] 2.2.5 gives an add-in's custom
// properties: "cecp-" and the manifest <Id> in lower case, without braces
// and without a "urn:uuid" prefix.
func addinPropertyName(manifestID string) string {
	v := strings.ToLower(strings.TrimSpace(manifestID))
	v = strings.NewReplacer("{", "", "}", "").Replace(v)
	v = strings.TrimPrefix(v, "urn:uuid:")
	return "cecp-" + v
}

// addinPropertyID is that property's Graph id.
func addinPropertyID(manifestID string) string {
	return "String " + publicStrings + " Name " + addinPropertyName(manifestID)
}

// isAddinProperty recognises the property however Graph spells its id back:
// type, GUID and the word Name in any case; the name itself compares
// exactly, as Graph's filter does.
func isAddinProperty(id, manifestID string) bool {
	got, want := strings.Fields(id), strings.Fields(addinPropertyID(manifestID))
	if len(got) != len(want) {
		return false
	}
	for i := range want[:3] {
		if !strings.EqualFold(got[i], want[i]) {
			return false
		}
	}
	return got[3] == want[3]
}

// addin reads the add-in's custom properties of a message; nil when the
// add-in saved none. It is a request of its own: Graph documents one id eq
// per $expand of singleValueExtendedProperties, and the message read
// already expands PidTagSensitivity.
func (c *Client) addin(ctx context.Context, id string) (*syncer.AddinTrack, error) {
	q := url.Values{
		"$select": {"id"},
		"$expand": {"singleValueExtendedProperties($filter=id eq '" + addinPropertyID(c.addinID) + "')"},
	}
	m, err := users.NewItemMessagesMessageItemRequestBuilder(c.rawURL("/me/messages/"+url.PathEscape(id), q), c.adapter).Get(ctx, nil)
	if err != nil {
		return nil, wrap("reading the add-in's choice on message "+shortID(id), err)
	}
	if m == nil {
		return nil, wrap("reading the add-in's choice on message "+shortID(id), errNoBody)
	}
	for _, p := range m.GetSingleValueExtendedProperties() {
		if p != nil && isAddinProperty(deref(p.GetId()), c.addinID) {
			t := syncer.ParseAddinProperties(deref(p.GetValue()))
			return &t, nil
		}
	}
	return nil, nil
}
