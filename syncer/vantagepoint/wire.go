package vantagepoint

import (
	"encoding/json"
	"fmt"
	"html"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// Everything this client assumes about Vantagepoint's wire format that
// Deltek does not document with an example lives in this file, so that a
// correction against a real server is one edit. docs/vantagepoint-api.md
// gives the source of each choice.

// DateLayout is how dates are written: the "2007-06-03T22:00:00.000" form
// of Deltek's Update an Activity example. Vantagepoint sends no zone; the
// client treats dates as UTC (docs/behaviour.md §4: dates are compared in UTC).
const DateLayout = "2006-01-02T15:04:05.000"

// dateLayouts are the forms accepted when reading a date: with or without
// milliseconds (the third-party firm fixture has none), a date alone, or
// RFC 3339 with a zone.
var dateLayouts = []string{DateLayout, "2006-01-02T15:04:05.999999999", "2006-01-02T15:04:05", "2006-01-02", time.RFC3339Nano}

// FormatDate writes a time in DateLayout, in UTC.
func FormatDate(t time.Time) string { return t.UTC().Format(DateLayout) }

// FilterDateLayout is how a date is written in a filter value: with the
// explicit Z that published integrations found necessary (a value without
// an offset matches nothing).
const FilterDateLayout = "2006-01-02T15:04:05.000Z"

// FormatFilterDate writes a time for a filter value, in UTC with its Z.
func FormatFilterDate(t time.Time) string { return t.UTC().Format(FilterDateLayout) }

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

// All-day activities. The engine holds an all-day event as Outlook does:
// midnight of its first day to midnight after its last (end exclusive).
// Vantagepoint's Activity dialog shows an all-day activity from 8:00 AM to
// 5:00 PM of its day (Deltek's help, "Activity Dialog Box": "When you
// select this option, the activity start time displays as 8:00 AM and the
// activity end time displays as 5:00 PM"): its EndDate is on its last
// day, inclusive. An exclusive midnight written there would read as one
// day more. So the client writes the first day at 00:00 and the last day
// at 23:59:59, and reads the days of StartDate and EndDate whatever their
// times, EndDate's day included; an EndDate at exactly midnight after the
// start (another program's exclusive end) is taken as exclusive.
func allDayToWire(start, end time.Time) (time.Time, time.Time) {
	first := day(start)
	last := day(end)
	if !end.Equal(last) || !last.After(first) {
		last = last.AddDate(0, 0, 1) // an end inside a day ends after it
	}
	return first, last.Add(-time.Second)
}

func allDayFromWire(start, end time.Time) (time.Time, time.Time) {
	first := day(start)
	if end.IsZero() || end.Before(start) {
		end = start
	}
	last := day(end)
	if !(end.Equal(last) && last.After(first)) {
		last = last.AddDate(0, 0, 1)
	}
	return first, last
}

// day is midnight (UTC) of t's day.
func day(t time.Time) time.Time {
	y, m, d := t.UTC().Date()
	return time.Date(y, m, d, 0, 0, 0, 0, time.UTC)
}

// Notes are rich text: Deltek's activity example carries &nbsp;, so the
// server keeps HTML, whatever the client wrote. NotesText reads them back
// as plain text (line breaks, entities), so that a body compares equal to
// the one written and a Message-ID line can be found again. Text without
// markup or entities is taken as it is: it may hold a literal <…>.
func NotesText(s string) string {
	if !looksLikeRichText(s) {
		return s
	}
	r := strings.NewReplacer("\r\n", "\n", "<br>", "\n", "<br/>", "\n", "<br />", "\n", "<BR>", "\n", "<BR />", "\n",
		"</p>", "\n", "</P>", "\n", "</div>", "\n", "</DIV>", "\n")
	s = r.Replace(s)
	var b strings.Builder
	inTag := false
	for _, c := range s {
		switch {
		case c == '<':
			inTag = true
		case c == '>' && inTag:
			inTag = false
		case !inTag:
			b.WriteRune(c)
		}
	}
	out := html.UnescapeString(b.String())
	out = strings.ReplaceAll(out, "\u00a0", " ")
	return strings.TrimRight(out, "\n")
}

// looksLikeRichText tells rich text from plain text by its markup.
func looksLikeRichText(s string) bool {
	l := strings.ToLower(s)
	for _, m := range []string{"<br", "<p>", "<p ", "<div", "</", "&nbsp;", "&lt;", "&gt;", "&amp;", "&#"} {
		if strings.Contains(l, m) {
			return true
		}
	}
	return false
}

// notesPattern is the LIKE pattern that finds text in Notes whether the
// server kept it raw or as rich text: the runs between characters HTML
// escapes, joined by %. The client checks every match again on the text.
func notesPattern(needle string) string {
	runs := strings.FieldsFunc(likeLiteral(needle), func(c rune) bool { return strings.ContainsRune("<>&\"' ", c) })
	return "%" + strings.Join(runs, "%") + "%"
}

// Booleans are "Y"/"N" strings.
func yn(b bool) string {
	if b {
		return "Y"
	}
	return "N"
}

// Paging: the client pages with limit+offset (docs/behaviour.md §11 names it first;
// pageSize+page is the alternative). A page shorter than the limit ends a
// listing, so a no-change poll costs one request (docs/behaviour.md §4.6). This assumes
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

// filterParams encodes filterHash[i][name|value|opp|type|seq|condition|
// tablename] as public callers do: opp a symbol (url.Values escapes it),
// seq the condition's position, condition AND between conditions.
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
		v.Set(p+"[seq]", strconv.Itoa(i))
		if i < len(fs)-1 {
			v.Set(p+"[condition]", "AND")
		}
		if f.Type != "" {
			v.Set(p+"[type]", f.Type)
		}
		if f.Table != "" {
			v.Set(p+"[tablename]", f.Table)
		}
	}
}

// writeParams are the query options of every create and update. Deltek's
// activity examples document requiredFieldValidation=N (fields that a
// screen designer made required would otherwise refuse the agent's writes,
// which carry only the fields it maps) and startWorkflow=N (workflows
// would otherwise fire on every filed e-mail).
func writeParams() url.Values {
	return url.Values{"requiredFieldValidation": {"N"}, "startWorkflow": {"N"}}
}

// Hub names as URL path segments.
const (
	HubEmployee = "employee"
	HubFirm     = "firm"
	HubContact  = "contact"
	HubProject  = "project"
	HubActivity = "activity"
)

// TopLevelProjects keeps a project listing to projects: GET project
// answers phases and tasks too (rows with a WBS2, WBS3), and public callers
// ask for the top level with an empty WBS2 (filterHash name WBS2, value
// "", opp =).
var TopLevelProjects = Filter{Name: "WBS2", Op: OpEq, Value: ""}

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

// LoginConfig shape, from Deltek's "Login Configuration" example (its
// Postman collection for Vantagepoint 5.0/5.5): {"Databases":["DVP30Dev
// (.)","WebApiTest (localhost)"]} by default, Languages and the versions
// only with include=. A database is offered as "NAME (server)".
// The older object form ({Name, Description}) is still read, so that a
// proxy or an older server that answers it is not an error.
type wireLoginConfig struct {
	Databases              []json.RawMessage `json:"Databases"`
	Languages              []json.RawMessage `json:"Languages"`
	SoftwareVersion        string            `json:"SoftwareVersion"`
	DisplaySoftwareVersion string            `json:"DisplaySoftwareVersion"`
}

// loginConfigInclude asks for the languages and the version besides the
// databases.
const loginConfigInclude = "Languages,SoftwareVersion"

// splitDatabase reads "NAME (server)" as NAME and server.
func splitDatabase(s string) (name, server string) {
	s = strings.TrimSpace(s)
	if i := strings.LastIndex(s, " ("); i > 0 && strings.HasSuffix(s, ")") {
		return strings.TrimSpace(s[:i]), s[i+2 : len(s)-1]
	}
	return s, ""
}

// UDIC metadata shape, from Deltek's "User Defined Hub Record Metadata"
// example: an object keyed by the hub's name, {"UDIC_x":{"Keys":"UDIC_UID",
// "CustomTable":true,"TableName":…,"Fields":[{"FieldName","FieldType",
// "Caption","Required",…}]}}.
type wireHubMetadata map[string]struct {
	Keys        string `json:"Keys"`
	CustomTable bool   `json:"CustomTable"`
	TableName   string `json:"TableName"`
	Fields      []struct {
		FieldName string `json:"FieldName"`
		FieldType string `json:"FieldType"`
		Caption   string `json:"Caption"`
		Required  bool   `json:"Required"`
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

// ApplicationIDHeader names the area a request works in. Deltek's activity
// examples say it is "used for fetching records and also for enforcing
// security measures" and "must be set to Activity" for Connect's work on
// activities; it names an area, not the calling program. The client sends
// the area of the hub a request is about, and nothing for the token,
// LoginConfig and metadata requests.
const ApplicationIDHeader = "dvp-applicationId"

// applicationAreas are the areas of the built-in hubs.
var applicationAreas = map[string]string{
	HubActivity: "Activity", HubContact: "Contact", HubFirm: "Firm",
	HubEmployee: "Employee", HubProject: "Project",
}

// applicationID returns the dvp-applicationId of a request path: the hub's
// area, a user-defined hub's own name.
func applicationID(path string) string {
	hub, _, _ := strings.Cut(path, "/")
	if strings.EqualFold(hub, "UDIC") {
		area, _, _ := strings.Cut(strings.TrimPrefix(path, udicPrefix), "/")
		if a, err := url.PathUnescape(area); err == nil {
			return a
		}
		return area
	}
	return applicationAreas[strings.ToLower(hub)]
}
