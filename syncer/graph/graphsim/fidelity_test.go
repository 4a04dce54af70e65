package graphsim

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"
)

// The behaviours of Exchange Online and Entra ID that the client met only
// on a real tenant, each on by default (see the comments where they are
// implemented for their sources).

func TestTenantAndPublicClientRefusals(t *testing.T) {
	post := func(s *Server, path string, form url.Values) (int, map[string]any) {
		t.Helper()
		resp, err := http.PostForm(s.URL()+path, form)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var m map[string]any
		json.NewDecoder(resp.Body).Decode(&m)
		return resp.StatusCode, m
	}
	start := func(o Options) *Server {
		s := New(o)
		ts := httptest.NewServer(s)
		t.Cleanup(ts.Close)
		s.SetURL(ts.URL)
		return s
	}
	s := start(Options{ClientID: "app", SingleTenant: true})
	form := url.Values{"client_id": {"app"}, "scope": {"openid offline_access"}}
	if st, m := post(s, "/organizations/oauth2/v2.0/devicecode", form); st != 400 || !strings.HasPrefix(m["error_description"].(string), "AADSTS50194:") {
		t.Errorf("single-tenant app through organizations: %d %v", st, m)
	}
	if st, m := post(s, "/contoso.onmicrosoft.com/oauth2/v2.0/devicecode", form); st != 200 {
		t.Errorf("single-tenant app through its tenant: %d %v", st, m)
	}
	s = start(Options{ClientID: "app", NoPublicClientFlows: true})
	_, m := post(s, "/organizations/oauth2/v2.0/devicecode", form)
	st, m := post(s, "/organizations/oauth2/v2.0/token", url.Values{"client_id": {"app"},
		"grant_type": {"urn:ietf:params:oauth:grant-type:device_code"}, "device_code": {m["device_code"].(string)}})
	if st != 401 || m["error"] != "invalid_client" || !strings.HasPrefix(m["error_description"].(string), "AADSTS7000218:") {
		t.Errorf("device code without public client flows: %d %v", st, m)
	}
}

func TestCalendarViewDeltaStripsOccurrences(t *testing.T) {
	s, tok := newTest(t)
	day := time.Date(2026, 11, 2, 0, 0, 0, 0, time.UTC)
	s.AddEvent(Event{Subject: "Weekly", Categories: []string{"Vantagepoint"}, Start: day.Add(15 * time.Hour), End: day.Add(16 * time.Hour),
		Recurrence: &Recurrence{Pattern: RecurrencePattern{Type: "weekly", Interval: 1}, Range: RecurrenceRange{Type: "numbered", NumberOfOccurrences: 2}}})
	q := url.Values{"startDateTime": {"2026-11-01T00:00:00Z"}, "endDateTime": {"2026-12-01T00:00:00Z"}}
	_, p := call(t, s, tok, "GET", "/v1.0/me/calendarView/delta?"+q.Encode(), nil, "")
	vs := p["value"].([]any)
	if len(vs) != 2 {
		t.Fatalf("%d items", len(vs))
	}
	for _, v := range vs {
		o := v.(map[string]any)
		var keys []string
		for k := range o {
			keys = append(keys, k)
		}
		if len(o) != 7 || o["subject"] != nil || o["categories"] != nil || o["seriesMasterId"] == nil || o["type"] != "occurrence" {
			t.Errorf("occurrence carries %v", keys)
		}
	}
}

func TestFaultAfterServingStoresTheCreate(t *testing.T) {
	s, tok := newTest(t)
	s.InjectFault(Fault{Method: "POST", PathContains: "/events", Status: 504, AfterServing: true, Times: 1})
	body := `{"subject":"x","start":{"dateTime":"2026-05-04T10:00:00","timeZone":"UTC"},"end":{"dateTime":"2026-05-04T11:00:00","timeZone":"UTC"}}`
	resp, _ := call(t, s, tok, "POST", "/v1.0/me/events", map[string]string{"Content-Type": "application/json"}, body)
	if resp.StatusCode != 504 || len(s.Events()) != 1 {
		t.Fatalf("a 504 after serving: %d, %d events stored", resp.StatusCode, len(s.Events()))
	}
}

func TestUndocumentedQueriesAreRefused(t *testing.T) {
	s, tok := newTest(t)
	f := s.AddContactFolder("Vantagepoint")
	filter := url.Values{"$filter": {"singleValueExtendedProperties/any(ep: ep/id eq 'String {66f5a359-4659-4830-9070-00047ec6ac6e} Name VPID' and ep/value eq 'C-1')"}}
	if resp, m := call(t, s, tok, "GET", "/v1.0/me/contactFolders/"+f.ID+"/contacts?"+filter.Encode(), nil, ""); resp.StatusCode != 400 {
		t.Errorf("extended-property filter on contacts: %d %v", resp.StatusCode, m)
	}
	m := s.AddMessage("inbox", Message{Subject: "a"})
	both := url.Values{"$expand": {"attachments($select=name,size),singleValueExtendedProperties($filter=id eq 'Integer 0x0036')"}}
	if resp, e := call(t, s, tok, "GET", "/v1.0/me/messages/"+m.ID+"?"+both.Encode(), nil, ""); resp.StatusCode != 400 {
		t.Errorf("two $expand on one message read: %d %v", resp.StatusCode, e)
	}
}

func TestDeltaPagesIgnoreTopAndMayCarryRemovals(t *testing.T) {
	s, tok := newTest(t)
	var gone Message
	for i := range 15 {
		m := s.AddMessage("inbox", Message{Subject: "m"})
		if i == 0 {
			gone = m
		}
	}
	s.DeleteMessage(gone.ID)
	_, p := call(t, s, tok, "GET", "/v1.0/me/mailFolders/inbox/messages/delta()?%24top=50", nil, "")
	vs := p["value"].([]any)
	if len(vs) != defaultPageSize {
		t.Errorf("$top=50 gave a page of %d; only odata.maxpagesize sizes delta pages", len(vs))
	}
	removed := 0
	for next := p; ; {
		for _, v := range next["value"].([]any) {
			if _, ok := v.(map[string]any)["@removed"]; ok {
				removed++
			}
		}
		link, ok := next["@odata.nextLink"].(string)
		if !ok {
			break
		}
		u, _ := url.Parse(link)
		_, next = call(t, s, tok, "GET", u.RequestURI(), nil, "")
	}
	if removed != 1 {
		t.Errorf("the initial round carried %d removals, want the deleted message's", removed)
	}
}

// A mailbox Exchange Online does not serve (on-premises, unlicensed) and
// one it refuses to the app by policy answer every mailbox request with
// their own status and code, while the profile, Entra ID's, still answers.
func TestMailboxStatesRefuseTheMailboxNotTheProfile(t *testing.T) {
	s, tok := newTest(t)
	if resp, m := call(t, s, tok, "GET", "/v1.0/me/mailFolders/inbox", nil, ""); resp.StatusCode != 200 {
		t.Fatalf("an enabled mailbox: %d %v", resp.StatusCode, m)
	}
	for _, c := range []struct {
		state  MailboxState
		status int
		code   string
		msg    string
	}{
		{MailboxNotEnabled, 404, "MailboxNotEnabledForRESTAPI", "The mailbox is either inactive, soft-deleted, or is hosted on-premise."},
		{MailboxAccessDenied, 403, "ErrorAccessDenied", "Access to OData is disabled."},
	} {
		s.SetMailboxState(c.state)
		for _, p := range []string{"/v1.0/me/mailFolders/inbox", "/v1.0/me/messages/delta()", "/v1.0/me/contactFolders", "/v1.0/me/events",
			"/v1.0/users/" + s.user.ID + "/outlook/masterCategories"} {
			resp, m := call(t, s, tok, "GET", p, nil, "")
			e, _ := m["error"].(map[string]any)
			if resp.StatusCode != c.status || e["code"] != c.code || e["message"] != c.msg {
				t.Errorf("%s with the mailbox in state %d: %d %v", p, c.state, resp.StatusCode, m)
			}
		}
		if resp, m := call(t, s, tok, "GET", "/v1.0/me", nil, ""); resp.StatusCode != 200 || m["id"] != s.user.ID {
			t.Errorf("the profile with the mailbox in state %d: %d %v", c.state, resp.StatusCode, m)
		}
	}
	s.SetMailboxState(MailboxEnabled)
	if resp, m := call(t, s, tok, "GET", "/v1.0/me/mailFolders/inbox", nil, ""); resp.StatusCode != 200 {
		t.Errorf("the mailbox enabled again: %d %v", resp.StatusCode, m)
	}
}

// An item Exchange holds answers 412 ErrorIrresolvableConflict to an
// update without any If-Match, as often as it is held, then takes it.
func TestHeldItemRefusesUpdatesWithoutIfMatch(t *testing.T) {
	s, tok := newTest(t)
	f := s.AddContactFolder("Vantagepoint")
	day := time.Date(2026, 11, 2, 15, 0, 0, 0, time.UTC)
	m := s.AddMessage("inbox", Message{Subject: "a"})
	c := s.AddContact(f.ID, Contact{GivenName: "Ann"})
	e := s.AddEvent(Event{Subject: "Site walk", Start: day, End: day.Add(time.Hour)})
	items := []struct{ id, path, body string }{
		{m.ID, "/v1.0/me/messages/" + m.ID, `{"categories":["Vantagepoint"]}`},
		{c.ID, "/v1.0/me/contactFolders/" + f.ID + "/contacts/" + c.ID, `{"jobTitle":"Lead"}`},
		{e.ID, "/v1.0/me/events/" + e.ID, `{"categories":["Vantagepoint"]}`},
	}
	hdr := map[string]string{"Content-Type": "application/json"}
	for _, it := range items {
		s.HoldItem(it.id, 2)
		for i := 1; i <= 2; i++ {
			resp, m := call(t, s, tok, "PATCH", it.path, hdr, it.body)
			e, _ := m["error"].(map[string]any)
			if resp.StatusCode != 412 || e["code"] != "ErrorIrresolvableConflict" {
				t.Errorf("%s, update %d while held: %d %v", it.path, i, resp.StatusCode, m)
			}
		}
		if resp, m := call(t, s, tok, "PATCH", it.path, hdr, it.body); resp.StatusCode != 200 {
			t.Errorf("%s once released: %d %v", it.path, resp.StatusCode, m)
		}
	}
	s.HoldItem(e.ID, -1)
	for i := range 5 {
		if resp, _ := call(t, s, tok, "PATCH", items[2].path, hdr, items[2].body); resp.StatusCode != 412 {
			t.Fatalf("update %d of an event held for good: %d", i, resp.StatusCode)
		}
	}
}

// Traversing nextLinks to the end turns the first ones into
// SyncStateNotFound too (microsoft-graph-docs issue 2162: "the former
// nextLink will gradually turn to SyncStateNotFound").
func TestFormerNextLinksExpire(t *testing.T) {
	s, tok := newTest(t)
	for i := range 6 {
		s.AddMessage("inbox", Message{Subject: "m" + string(rune('a'+i))})
	}
	hdr := map[string]string{"Prefer": "odata.maxpagesize=1"}
	var links []string
	path := "/v1.0/me/mailFolders/inbox/messages/delta()"
	for path != "" {
		_, p := call(t, s, tok, "GET", path, hdr, "")
		next, _ := p["@odata.nextLink"].(string)
		path = ""
		if next != "" {
			u, _ := url.Parse(next)
			path = u.RequestURI()
			links = append(links, path)
		}
	}
	if len(links) < 5 {
		t.Fatalf("%d nextLinks", len(links))
	}
	resp, e := call(t, s, tok, "GET", links[0], hdr, "")
	if code, _ := e["error"].(map[string]any)["code"].(string); resp.StatusCode != 410 || code != "SyncStateNotFound" {
		t.Errorf("the first nextLink after the last page: %d %v", resp.StatusCode, e)
	}
}
