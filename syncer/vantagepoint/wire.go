package vantagepoint

import (
	"fmt"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// Everything this client assumes about Vantagepoint's wire format that
// Deltek does not document with an example lives in this file, so that a
// correction against a real server is one edit. See SPEC §11 and
// /work/shared/fixtures/vantagepoint/README.md for what is documented.

// DateLayout is how dates are written: the "2007-06-03T22:00:00.000" form
// of Deltek's Update an Activity example. Vantagepoint sends no zone; the
// client treats dates as UTC (SPEC §4: dates are compared in UTC).
const DateLayout = "2006-01-02T15:04:05.000"

// dateLayouts are the forms accepted when reading a date: with or without
// milliseconds (the third-party firm fixture has none), a date alone, or
// RFC 3339 with a zone.
var dateLayouts = []string{DateLayout, "2006-01-02T15:04:05.999999999", "2006-01-02T15:04:05", "2006-01-02", time.RFC3339Nano}

// FormatDate writes a time in DateLayout, in UTC.
func FormatDate(t time.Time) string { return t.UTC().Format(DateLayout) }

// ParseDate reads a date in any of the accepted forms; a date without a
// zone is taken as UTC.
func ParseDate(s string) (time.Time, error) {
	for _, l := range dateLayouts {
		if t, err := time.Parse(l, s); err == nil {
			return t.UTC(), nil
		}
	}
	return time.Time{}, fmt.Errorf("%q is not a Vantagepoint date", s)
}

// Booleans are "Y"/"N" strings.
func yn(b bool) string {
	if b {
		return "Y"
	}
	return "N"
}

// Paging: the client pages with limit+offset (SPEC §11 names it first;
// pageSize+page is the alternative). A page shorter than the limit ends a
// listing, so a no-change poll costs one request (SPEC §4.6). This assumes
// the server does not cap a page below Options.PageSize.
func pageParams(v url.Values, limit, offset int) {
	v.Set("limit", strconv.Itoa(limit))
	if offset > 0 {
		v.Set("offset", strconv.Itoa(offset))
	}
}

// Order terms are Field_A / Field_D.
func orderParam(field string, desc bool) string {
	if desc {
		return field + "_D"
	}
	return field + "_A"
}

// filterParams encodes filterHash[i][name|value|opp|tablename].
func filterParams(v url.Values, fs []Filter) {
	for i, f := range fs {
		p := "filterHash[" + strconv.Itoa(i) + "]"
		v.Set(p+"[name]", f.Name)
		v.Set(p+"[value]", f.Value)
		op := f.Op
		if op == "" {
			op = OpEq
		}
		v.Set(p+"[opp]", op)
		if f.Table != "" {
			v.Set(p+"[tablename]", f.Table)
		}
	}
}

// Hub names as URL path segments.
const (
	HubEmployee = "employee"
	HubFirm     = "firm"
	HubContact  = "contact"
	HubProject  = "project"
	HubActivity = "activity"
)

// keyFields names each hub's key, used to keep paging stable (ordering by
// the key when the caller gives no order) and to always fetch the key.
var keyFields = map[string]string{
	HubEmployee: "Employee",
	HubFirm:     "ClientID",
	HubContact:  "ContactID",
	HubProject:  "WBS1",
	HubActivity: "ActivityID",
}

// keyField returns a hub's key field; UDIC hubs' key is UDIC_UID.
func keyField(hub string) string {
	if strings.HasPrefix(hub, udicPrefix) {
		return "UDIC_UID"
	}
	return keyFields[strings.ToLower(hub)]
}

// UDIC paths. Documented: POST /UDIC/{area} (answers [{"UDIC_UID": …}])
// and GET /metadata/UDIC/{area}. Guessed by analogy with the other hubs:
// GET /UDIC/{area} lists, GET|PUT|DELETE /UDIC/{area}/{UDIC_UID}.
const udicPrefix = "UDIC/"

func udicHub(area string) string { return udicPrefix + url.PathEscape(area) }

func udicMetadataPath(area string) string { return "metadata/UDIC/" + url.PathEscape(area) }

// recordPath is the path of one record of a hub.
func recordPath(hub, id string) string { return hub + "/" + url.PathEscape(id) }

// Write answers: a create may answer with the record as an object or as
// an array of one (UDIC's documented form); decodeOne accepts both. A
// DELETE's body is ignored.

// LoginConfig shape: no official example. Read "Databases" as a list of
// {Name, Description} and fall back on "database" (a single name, as a
// third-party client decodes it); "Languages" as {Culture, Caption};
// "Version" as a string.
type wireLoginConfig struct {
	Database  string `json:"database"`
	Databases []struct {
		Name        string `json:"Name"`
		Description string `json:"Description"`
	} `json:"Databases"`
	Languages []struct {
		Culture string `json:"Culture"`
		Caption string `json:"Caption"`
	} `json:"Languages"`
	Version string `json:"Version"`
}

// UDIC metadata shape (no official example): {"InfocenterArea", "Fields":
// [{"Name","Label","Type","Required"}]}.
type wireHubMetadata struct {
	InfocenterArea string `json:"InfocenterArea"`
	Fields         []struct {
		Name     string `json:"Name"`
		Label    string `json:"Label"`
		Type     string `json:"Type"`
		Required bool   `json:"Required"`
	} `json:"Fields"`
}

// Error bodies: {"message","detail"} on the API, {"error",
// "error_description"} on /token (the fixtures).
type wireError struct {
	Message string `json:"message"`
	Detail  string `json:"detail"` // encoding/json also accepts "Message", "Detail"
}

type wireTokenError struct {
	Error       string `json:"error"`
	Description string `json:"error_description"`
}

// ApplicationIDHeader carries Options.ApplicationID, as Connect
// integrations set it.
const ApplicationIDHeader = "dvp-applicationId"
