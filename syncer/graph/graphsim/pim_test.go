package graphsim

import (
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"
)

func follow(t *testing.T, s *Server, tok, link string, hdr map[string]string) (pages []map[string]any) {
	t.Helper()
	for link != "" {
		u, _ := url.Parse(link)
		resp, p := call(t, s, tok, "GET", u.RequestURI(), hdr, "")
		if resp.StatusCode != 200 {
			t.Fatalf("%s: %d %v", link, resp.StatusCode, p)
		}
		pages = append(pages, p)
		link, _ = p["@odata.nextLink"].(string)
	}
	return pages
}

func TestContactFoldersAndContactsMatchFixtures(t *testing.T) {
	s, tok := newTest(t)
	json := map[string]string{"Content-Type": "application/json"}
	resp, f := call(t, s, tok, "POST", "/v1.0/me/contactFolders", json, `{"parentFolderId":"`+s.DefaultContactFolderID()+`","displayName":"Important contacts"}`)
	if resp.StatusCode != 201 {
		t.Fatalf("%d %v", resp.StatusCode, f)
	}
	sameShape(t, "folder", loadFixture(t, "graph/contactfolder-create-response.json"), f)
	fid := f["id"].(string)
	if resp, _ := call(t, s, tok, "POST", "/v1.0/me/contactFolders", json, `{"displayName":"important CONTACTS"}`); resp.StatusCode != 409 {
		t.Errorf("duplicate folder: %d", resp.StatusCode)
	}
	_, l := call(t, s, tok, "GET", "/v1.0/me/contactFolders?$filter=displayName%20eq%20'Important%20contacts'", nil, "")
	if v := l["value"].([]any); len(v) != 1 || v[0].(map[string]any)["id"] != fid {
		t.Fatalf("filter: %v", l)
	}
	// The mark: a named property, shown only on $expand.
	prop := "String {4d8f6c1e-2b7a-4e3f-9c5d-8a1b0e7f3c26} Name VantagepointMailbox"
	expand := "?$expand=" + url.QueryEscape("singleValueExtendedProperties($filter=id eq '"+prop+"')")
	_, g := call(t, s, tok, "GET", "/v1.0/me/contactFolders/"+fid+expand, nil, "")
	if _, has := g["singleValueExtendedProperties"]; has {
		t.Fatalf("unmarked folder shows the property: %v", g)
	}
	if resp, _ := call(t, s, tok, "PATCH", "/v1.0/me/contactFolders/"+fid, json, `{"singleValueExtendedProperties":[{"id":"`+prop+`","value":"m1"}]}`); resp.StatusCode != 200 {
		t.Fatal(resp.Status)
	}
	_, g = call(t, s, tok, "GET", "/v1.0/me/contactFolders/"+fid+expand, nil, "")
	if p := g["singleValueExtendedProperties"].([]any); len(p) != 1 || p[0].(map[string]any)["value"] != "m1" {
		t.Fatalf("mark: %v", g)
	}

	// Contacts: create (201), documented request bodies accepted.
	resp, c := call(t, s, tok, "POST", "/v1.0/me/contactFolders/"+fid+"/contacts", json, string(mustRead(t, "graph/contact-create-request.json")))
	if resp.StatusCode != 201 {
		t.Fatalf("%d %v", resp.StatusCode, c)
	}
	sameShape(t, "create", loadFixture(t, "graph/contact-create-response.json"), c)
	if resp, e := call(t, s, tok, "POST", "/v1.0/me/contactFolders/"+fid+"/contacts", json, string(mustRead(t, "graph/contact-create-in-folder-request.json"))); resp.StatusCode == 201 {
		t.Errorf("placeholder birthday accepted: %v", e)
	}
	resp, u := call(t, s, tok, "PATCH", "/v1.0/me/contacts/"+c["id"].(string), json, string(mustRead(t, "graph/contact-update-request.json")))
	if resp.StatusCode != 200 || u["changeKey"] == c["changeKey"] {
		t.Fatalf("%d %v", resp.StatusCode, u)
	}
	want := loadFixture(t, "graph/contact-update-response.json")
	delete(want, "birthday")        // a date in the docs, a timestamp on the wire
	delete(want, "businessAddress") // the docs' contact had one before the PATCH
	sameShape(t, "update", want, u)
	if g, w := keys(u), keys(loadFixture(t, "graph/contact-update-response.json")); !slices.Equal(g, append(w, "@odata.context", "@odata.etag")) && len(g) != len(w)+2 {
		t.Errorf("keys %v, want %v", g, w)
	}
	for range 4 {
		s.AddContact(fid, Contact{GivenName: "A", Surname: "B"})
	}
	pages := follow(t, s, tok, "/v1.0/me/contactFolders/"+fid+"/contacts/delta?$select=displayName", map[string]string{"Prefer": "odata.maxpagesize=2"})
	if len(pages) != 3 {
		t.Fatalf("%d pages", len(pages))
	}
	// The documented page returns more than its $select; id and the
	// selected property are what a client may count on.
	fx := loadFixture(t, "graph/contact-delta-page-nextlink.json")
	sameShape(t, "delta", map[string]any{"@odata.nextLink": fx["@odata.nextLink"], "value": []any{map[string]any{"displayName": "", "id": ""}}}, pages[0])
	if _, ok := pages[2]["@odata.deltaLink"]; !ok {
		t.Fatal("no deltaLink")
	}
	s.DeleteContact(c["id"].(string))
	last := follow(t, s, tok, pages[2]["@odata.deltaLink"].(string), nil)
	rm := last[0]["value"].([]any)
	if len(rm) != 1 || rm[0].(map[string]any)["@removed"] == nil {
		t.Fatalf("removed: %v", rm)
	}
	if st := status(t, s, tok, "DELETE", "/v1.0/me/contactFolders/"+fid); st != 204 {
		t.Fatal(st)
	}
	if len(s.ContactFolders()) != 0 || len(s.Contacts(fid)) != 0 {
		t.Fatal("folder not deleted")
	}
}

func TestCalendarViewDeltaMatchesFixtures(t *testing.T) {
	s, tok := newTest(t)
	day := time.Date(2016, 12, 9, 20, 30, 0, 0, time.UTC)
	for i := range 5 {
		s.AddEvent(Event{Subject: "e", Start: day.Add(time.Duration(i) * time.Hour), End: day.Add(time.Duration(i)*time.Hour + 90*time.Minute), Location: "Home"})
	}
	base := "/v1.0/me/calendarView/delta?startdatetime=2016-12-01T00:00:00Z&enddatetime=2016-12-30T00:00:00Z"
	if resp, e := call(t, s, tok, "GET", base+"&$select=subject", nil, ""); resp.StatusCode != 501 {
		t.Fatalf("$select: %d", resp.StatusCode)
	} else {
		sameShape(t, "501", loadFixture(t, "graph/error-501-notimplemented-delta-select.json"), e)
	}
	if resp, _ := call(t, s, tok, "GET", "/v1.0/me/calendarView/delta", nil, ""); resp.StatusCode != 400 {
		t.Errorf("no window: %d", resp.StatusCode)
	}
	pages := follow(t, s, tok, base, map[string]string{"Prefer": "odata.maxpagesize=2"})
	if len(pages) != 3 {
		t.Fatalf("%d pages", len(pages))
	}
	sameShape(t, "page1", loadFixture(t, "graph/event-calendarview-delta-page1-nextlink.json"), pages[0])
	sameShape(t, "page3", loadFixture(t, "graph/event-calendarview-delta-page3-deltalink.json"), pages[2])
	ev := pages[0]["value"].([]any)[0].(map[string]any)
	single := loadFixture(t, "graph/event-create-response-singleinstance.json")
	delete(single, "@odata.context") // collection items carry none
	sameShape(t, "event", single, ev)
	if st := ev["start"].(map[string]any); st["dateTime"] != "2016-12-09T20:30:00.0000000" || st["timeZone"] != "UTC" {
		t.Errorf("start %v", st)
	}
	all := s.Events()
	s.DeleteEvent(all[0].ID)
	s.UpdateEvent(all[1].ID, func(e *Event) { e.Location = "Chapel" })
	s.UpdateEvent(all[2].ID, func(e *Event) { e.Start, e.End = e.Start.AddDate(1, 0, 0), e.End.AddDate(1, 0, 0) })
	nr := follow(t, s, tok, pages[2]["@odata.deltaLink"].(string), nil)[0]
	sameShape(t, "next round", loadFixture(t, "graph/event-calendarview-delta-nextround-removed.json"), nr)
	removed := 0
	for _, v := range nr["value"].([]any) {
		if v.(map[string]any)["@removed"] != nil {
			removed++
		}
	}
	if removed != 2 || len(nr["value"].([]any)) != 3 {
		t.Fatalf("next round %v", nr["value"])
	}
	// Prefer: another zone is honoured and echoed.
	resp, g := call(t, s, tok, "GET", "/v1.0/me/events/"+all[1].ID, map[string]string{"Prefer": `outlook.timezone="Pacific Standard Time"`}, "")
	if resp.Header.Get("Preference-Applied") != `outlook.timezone="Pacific Standard Time"` || g["start"].(map[string]any)["dateTime"] != "2016-12-09T13:30:00.0000000" {
		t.Errorf("zone: %q %v", resp.Header.Get("Preference-Applied"), g["start"])
	}
}

func TestEventCreateRecurringAndUpdate(t *testing.T) {
	s, tok := newTest(t)
	json := map[string]string{"Content-Type": "application/json", "Prefer": `outlook.timezone="Pacific Standard Time"`}
	resp, e := call(t, s, tok, "POST", "/v1.0/me/events", json, string(mustRead(t, "graph/event-create-request.json")))
	if resp.StatusCode != 201 {
		t.Fatalf("%d %v", resp.StatusCode, e)
	}
	sameShape(t, "single", loadFixture(t, "graph/event-create-response-singleinstance.json"), e)
	if e["start"].(map[string]any)["dateTime"] != "2017-04-15T12:00:00.0000000" || e["transactionId"] != "7E163156-7762-4BEB-A1C6-729EA81755A7" {
		t.Errorf("start %v", e["start"])
	}
	resp, m := call(t, s, tok, "POST", "/v1.0/me/events", map[string]string{"Content-Type": "application/json"}, string(mustRead(t, "graph/event-create-recurring-request.json")))
	if resp.StatusCode != 201 || m["type"] != "seriesMaster" {
		t.Fatalf("%d %v", resp.StatusCode, m)
	}
	sameShape(t, "master", loadFixture(t, "graph/event-create-recurring-response-seriesmaster.json"), m)
	var occ []Event
	for _, ev := range s.Events() {
		if ev.SeriesMasterID == m["id"] {
			occ = append(occ, ev)
		}
	}
	if len(occ) != 17 || occ[0].Type != "occurrence" || occ[0].ICalUID == occ[1].ICalUID { // Mondays 2017-09-04..2017-12-25
		t.Fatalf("%d occurrences", len(occ))
	}
	resp, u := call(t, s, tok, "PATCH", "/v1.0/me/events/"+e["id"].(string), map[string]string{"Content-Type": "application/json"}, string(mustRead(t, "graph/event-update-request.json")))
	if resp.StatusCode != 200 || u["changeKey"] == e["changeKey"] {
		t.Fatalf("%d %v", resp.StatusCode, u)
	}
	if c := u["categories"].([]any); len(c) != 1 || c[0] != "Red category" {
		t.Errorf("categories %v", u["categories"])
	}
	// An occurrence deleted is cancelled from its series.
	if st := status(t, s, tok, "DELETE", "/v1.0/me/events/"+occ[3].ID); st != 204 {
		t.Fatal(st)
	}
	s.UpdateEvent(m["id"].(string), func(e *Event) { e.Subject = "Renamed" })
	n := 0
	for _, ev := range s.Events() {
		if ev.SeriesMasterID == m["id"] {
			n++
			if ev.Subject != "Renamed" || ev.ID == occ[3].ID {
				t.Errorf("occurrence %+v", ev)
			}
		}
	}
	if n != 16 {
		t.Fatalf("%d occurrences after cancel", n)
	}
	_, tr := call(t, s, tok, "POST", "/v1.0/me/translateExchangeIds", map[string]string{"Content-Type": "application/json"},
		`{"inputIds":["`+EWSID(occ[0].ID)+`","AQMkAGM2…"],"targetIdType":"restImmutableEntryId","sourceIdType":"ewsId"}`)
	sameShape(t, "translate", loadFixture(t, "graph/immutableid-translateexchangeids-response.json"), tr)
	if v := tr["value"].([]any); v[0].(map[string]any)["targetId"] != occ[0].ID || v[1].(map[string]any)["errorDetails"] == nil {
		t.Fatalf("translate %v", tr)
	}
	cats, _ := s.AddCategory(Category{DisplayName: "Vantagepoint"})
	if st := status(t, s, tok, "DELETE", "/v1.0/me/outlook/masterCategories/"+cats.ID); st != 204 {
		t.Fatal(st)
	}
	if len(s.Categories()) != 0 {
		t.Fatal("category not deleted")
	}
}

func mustRead(t *testing.T, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(fixtures, name))
	if err != nil {
		t.Fatalf("fixture: %v", err)
	}
	return b
}

// status sends a bodiless request and returns the status (DELETE answers
// 204 with no body, which call cannot parse).
func status(t *testing.T, s *Server, tok, method, path string) int {
	t.Helper()
	req, _ := http.NewRequest(method, s.URL()+path, nil)
	req.Header.Set("Authorization", "Bearer "+tok)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

// A PATCH with If-Match changes a message, a contact or an event only at
// that version: Graph's @odata.etag (W/"<changeKey>") as the client read
// it. A stale one gets 412 with Graph's error envelope and leaves the item
// alone; no If-Match (or "*") updates whatever the version.
func TestPatchHonoursIfMatch(t *testing.T) {
	s, tok := newTest(t)
	f := s.AddContactFolder("Vantagepoint")
	c := s.AddContact(f.ID, Contact{GivenName: "Ada", Surname: "Lane"})
	ev := s.AddEvent(Event{Subject: "Review", Start: time.Date(2026, 11, 2, 9, 0, 0, 0, time.UTC), End: time.Date(2026, 11, 2, 10, 0, 0, 0, time.UTC)})
	// A draft: only a draft's subject is updatable.
	m := s.AddMessage("drafts", Message{Subject: "Draft", IsDraft: true})
	for _, tc := range []struct {
		name, path, field string
		userEdit          func()
		current           func() (changeKey, value string)
	}{
		{"contact", "/v1.0/me/contacts/" + c.ID, "givenName",
			func() { s.UpdateContact(c.ID, func(c *Contact) { c.GivenName = "User" }) },
			func() (string, string) { got, _ := s.Contact(c.ID); return got.ChangeKey, got.GivenName }},
		{"event", "/v1.0/me/events/" + ev.ID, "subject",
			func() { s.UpdateEvent(ev.ID, func(e *Event) { e.Subject = "User" }) },
			func() (string, string) { got, _ := s.Event(ev.ID); return got.ChangeKey, got.Subject }},
		{"message", "/v1.0/me/messages/" + m.ID, "subject",
			func() { s.UpdateMessage(m.ID, func(m *Message) { m.Subject = "User" }) },
			func() (string, string) { got, _ := s.Message(m.ID); return got.ChangeKey, got.Subject }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			patch := func(ifMatch, value string) (*http.Response, map[string]any) {
				hdr := map[string]string{"Content-Type": "application/json"}
				if ifMatch != "" {
					hdr["If-Match"] = ifMatch
				}
				return call(t, s, tok, "PATCH", tc.path, hdr, `{"`+tc.field+`":"`+value+`"}`)
			}
			_, read := call(t, s, tok, "GET", tc.path, nil, "")
			etag, _ := read["@odata.etag"].(string)
			if ck, _ := tc.current(); etag != `W/"`+ck+`"` {
				t.Fatalf("@odata.etag %q for changeKey %q", etag, ck)
			}
			tc.userEdit()
			resp, body := patch(etag, "Agent")
			if resp.StatusCode != http.StatusPreconditionFailed {
				t.Fatalf("stale If-Match: %d %v", resp.StatusCode, body)
			}
			e, _ := body["error"].(map[string]any)
			if e["code"] != "ErrorIrresolvableConflict" || e["message"] == "" || e["innerError"] == nil {
				t.Errorf("412 body %v", body)
			}
			if _, v := tc.current(); v != "User" {
				t.Fatalf("a refused PATCH changed the %s: %q", tc.name, v)
			}
			// The current version, as the etag or the bare changeKey.
			ck, _ := tc.current()
			if resp, body := patch(`W/"`+ck+`"`, "Agent"); resp.StatusCode != 200 || body[tc.field] != "Agent" || body["changeKey"] == ck {
				t.Fatalf("current etag: %d %v", resp.StatusCode, body)
			}
			ck, _ = tc.current()
			if resp, _ := patch(ck, "Bare"); resp.StatusCode != 200 {
				t.Fatalf("bare changeKey: %d", resp.StatusCode)
			}
			if resp, _ := patch("*", "Any"); resp.StatusCode != 200 {
				t.Fatalf("If-Match *: %d", resp.StatusCode)
			}
			if resp, _ := patch("", "None"); resp.StatusCode != 200 {
				t.Fatalf("no If-Match: %d", resp.StatusCode)
			}
			if _, v := tc.current(); v != "None" {
				t.Fatalf("%s after the PATCHes: %q", tc.name, v)
			}
		})
	}
}
