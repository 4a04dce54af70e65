package vpsim

import (
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"
)

// fixtures holds the documented token answers (see its README for the
// source of each).
const fixtures = "testdata/fixtures"

func fixtureKeys(t *testing.T, name string) []string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(fixtures, name))
	if err != nil {
		t.Fatalf("fixture %s: %v", name, err)
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatalf("fixture %s: %v", name, err)
	}
	var keys []string
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

func start(t *testing.T, o Options) *Server {
	t.Helper()
	s := New(o)
	if _, err := s.Start(""); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Close)
	s.AddUser("jdoe", "pw", "E001")
	return s
}

func postForm(t *testing.T, s *Server, form url.Values) (int, map[string]any) {
	t.Helper()
	resp, err := http.PostForm(s.APIURL()+"/token", form)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var m map[string]any
	if err := json.NewDecoder(resp.Body).Decode(&m); err != nil {
		t.Fatalf("token answer is not JSON: %v", err)
	}
	return resp.StatusCode, m
}

func keysOf(m map[string]any) []string {
	var ks []string
	for k := range m {
		ks = append(ks, k)
	}
	sort.Strings(ks)
	return ks
}

func TestTokenShapesMatchFixtures(t *testing.T) {
	s := start(t, Options{ClientID: "cid", ClientSecret: "sec"})
	good := url.Values{"Username": {"jdoe"}, "Password": {"pw"}, "grant_type": {"password"}, "Integrated": {"N"},
		"database": {"vpdemo"}, "Client_Id": {"cid"}, "client_secret": {"sec"}}
	st, m := postForm(t, s, good)
	if st != 200 || !reflect.DeepEqual(keysOf(m), fixtureKeys(t, "token-response.json")) || m["token_type"] != "bearer" || m["expires_in"] != 1799.0 {
		t.Fatalf("password grant: %d %v", st, m)
	}
	// The refresh token rotates: usable once.
	rt := m["refresh_token"].(string)
	if st, m := postForm(t, s, url.Values{"grant_type": {"refresh_token"}, "refresh_token": {rt}}); st != 400 {
		t.Fatalf("refresh without the database: %d %v", st, m)
	}
	db := s.Database()
	st, m2 := postForm(t, s, url.Values{"grant_type": {"refresh_token"}, "refresh_token": {rt}, "database": {db}})
	if st != 200 || m2["refresh_token"] == rt {
		t.Fatalf("refresh: %d %v", st, m2)
	}
	st, m3 := postForm(t, s, url.Values{"grant_type": {"refresh_token"}, "refresh_token": {rt}, "database": {db}})
	if st != 400 || m3["error"] != "invalid_grant" {
		t.Fatalf("spent refresh token: %d %v", st, m3)
	}

	bad := url.Values{}
	for k, v := range good {
		bad[k] = v
	}
	bad.Set("Password", "nope")
	st, m = postForm(t, s, bad)
	if st != 400 || !reflect.DeepEqual(keysOf(m), fixtureKeys(t, "token-error-invalid-grant-login-disabled.json")) || m["error"] != "invalid_grant" {
		t.Fatalf("wrong password: %d %v", st, m)
	}
	s.DisableUser("jdoe", true)
	st, m = postForm(t, s, good)
	if st != 400 || !strings.Contains(m["error_description"].(string), "disabled") {
		t.Fatalf("disabled user: %d %v", st, m)
	}
	st, m = postForm(t, s, url.Values{"grant_type": {"client_credentials"}})
	if st != 400 || !reflect.DeepEqual(keysOf(m), fixtureKeys(t, "token-error-unsupported-grant-type.json")) || m["error"] != "unsupported_grant_type" {
		t.Fatalf("unsupported grant: %d %v", st, m)
	}
	bad.Set("Password", "pw")
	bad.Set("client_secret", "wrong")
	if st, m = postForm(t, s, bad); st != 400 || m["error"] != "invalid_client" {
		t.Fatalf("wrong client secret: %d %v", st, m)
	}
	if s.TokenRequests() != 8 {
		t.Fatalf("TokenRequests = %d, want 8", s.TokenRequests())
	}
}

func get(t *testing.T, s *Server, tok, path string) (int, []byte) {
	t.Helper()
	req, _ := http.NewRequest("GET", s.APIURL()+path, nil)
	if tok != "" {
		req.Header.Set("Authorization", "Bearer "+tok)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, b
}

func TestAuthAndErrorShape(t *testing.T) {
	now := time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC)
	s := start(t, Options{Now: func() time.Time { return now }})
	st, b := get(t, s, "", "/contact")
	var e map[string]string
	if st != 401 || json.Unmarshal(b, &e) != nil || e["message"] == "" || e["detail"] == "" {
		t.Fatalf("no token: %d %s", st, b)
	}
	tok := s.IssueAccessToken("jdoe")
	if st, _ := get(t, s, tok, "/contact"); st != 200 {
		t.Fatalf("with token: %d", st)
	}
	now = now.Add(AccessTokenLifetime)
	if st, _ := get(t, s, tok, "/contact"); st != 401 {
		t.Fatalf("expired token: %d", st)
	}
	// LoginConfig needs no token.
	st, b = get(t, s, "", "/LoginConfig")
	// Deltek's example: databases as "NAME (server)", nothing else unless
	// asked for with include=.
	if st != 200 || string(b) != `{"Databases":["VPDemo (VPSQL01)"]}` {
		t.Fatalf("LoginConfig: %d %s", st, b)
	}
	st, b = get(t, s, "", "/LoginConfig?include=Languages,SoftwareVersion")
	var lc LoginConfig
	if st != 200 || json.Unmarshal(b, &lc) != nil || lc.DisplaySoftwareVersion == "" || len(lc.Languages) == 0 {
		t.Fatalf("LoginConfig with include: %d %s", st, b)
	}
	tok = s.IssueAccessToken("jdoe")
	s.RevokeTokens()
	if st, _ := get(t, s, tok, "/contact"); st != 401 {
		t.Fatalf("revoked token: %d", st)
	}
}

func TestListingSemantics(t *testing.T) {
	s := start(t, Options{})
	tok := s.IssueAccessToken("jdoe")
	for i := range 30 {
		s.AddContact(Contact{FirstName: fmt.Sprintf("F%02d", i), LastName: "L", Email: fmt.Sprintf("User%02d@Example.com", i), Owner: []string{"E001", "E002"}[i%2]})
	}
	list := func(q string) []map[string]any {
		t.Helper()
		st, b := get(t, s, tok, "/contact?"+q)
		if st != 200 {
			t.Fatalf("%s: %d %s", q, st, b)
		}
		var out []map[string]any
		if err := json.Unmarshal(b, &out); err != nil {
			t.Fatal(err)
		}
		return out
	}
	if n := len(list("")); n != 30 {
		t.Fatalf("all: %d", n)
	}
	if n := len(list("limit=7&offset=28")); n != 2 {
		t.Fatalf("last page: %d", n)
	}
	if r := list("pageSize=10&page=2&order=FirstName_A"); len(r) != 10 || r[0]["FirstName"] != "F10" {
		t.Fatalf("page 2: %v", r)
	}
	if r := list("order=FirstName_D&limit=1"); r[0]["FirstName"] != "F29" {
		t.Fatalf("desc: %v", r)
	}
	r := list(url.Values{"filterHash[0][name]": {"Email"}, "filterHash[0][value]": {"user05@EXAMPLE.com"}, "filterHash[0][opp]": {"=="}}.Encode())
	if len(r) != 1 || r[0]["FirstName"] != "F05" {
		t.Fatalf("case-insensitive eq: %v", r)
	}
	r = list(url.Values{"filterHash[0][name]": {"email"}, "filterHash[0][value]": {"%er1_@%"}, "filterHash[0][opp]": {"like"},
		"filterHash[1][name]": {"Owner"}, "filterHash[1][value]": {"E002"}, "filterHash[1][tablename]": {"Contacts"}}.Encode())
	if len(r) != 5 { // User11, 13, 15, 17, 19
		t.Fatalf("like + eq: %d", len(r))
	}
	r = list(url.Values{"filterHash[0][name]": {"FirstName"}, "filterHash[0][value]": {"f01"}, "filterHash[0][opp]": {"="}, "fieldFilter": {"FirstName"}}.Encode())
	if len(r) != 1 || len(r[0]) != 1 {
		t.Fatalf("= + fieldFilter: %v", r)
	}
	for _, bad := range []string{"fieldFilter=Nope", "order=Nope_D", "limit=-1",
		url.Values{"filterHash[0][name]": {"Nope"}, "filterHash[0][value]": {"x"}}.Encode(),
		url.Values{"filterHash[0][name]": {"Email"}, "filterHash[0][opp]": {"regex"}}.Encode(),
		// Words are not operators: public callers send symbols.
		url.Values{"filterHash[0][name]": {"Email"}, "filterHash[0][opp]": {"eq"}, "filterHash[0][value]": {"x"}}.Encode(),
		url.Values{"filterHash[0][name]": {"FirstName"}, "filterHash[0][opp]": {"in"}, "filterHash[0][value]": {"a,b"}}.Encode(),
		url.Values{"filterHash[0][name]": {"Email"}, "filterHash[0][opp]": {"="}, "filterHash[0][condition]": {"OR"}}.Encode(),
		url.Values{"filterHash[0][name]": {"ModDate"}, "filterHash[0][opp]": {">"}, "filterHash[0][type]": {"datetime"}, "filterHash[0][value]": {"yesterday"}}.Encode()} {
		if st, b := get(t, s, tok, "/contact?"+bad); st != 400 || !strings.Contains(string(b), `"detail"`) {
			t.Errorf("%s: %d %s", bad, st, b)
		}
	}
}

func TestOneRecordIsAnArrayAndWritesValidate(t *testing.T) {
	s := start(t, Options{})
	tok := s.IssueAccessToken("jdoe")
	do := func(method, path, body string) (int, string) {
		req, _ := http.NewRequest(method, s.APIURL()+path, strings.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+tok)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	// The screen designer made ClientID required (the default): refused
	// unless the write skips that check, as Deltek documents.
	st, b := do("POST", "/activity", `{"Type":"EMail","Subject":"Hi","StartDate":"2026-03-01T10:00:00.000","PrivateInd":"N"}`)
	if st != 400 || !strings.Contains(b, "requiredFieldValidation") {
		t.Fatalf("create without requiredFieldValidation=N: %d %s", st, b)
	}
	if s.WorkflowsStarted() != 1 {
		t.Fatalf("a write without startWorkflow=N started %d workflows", s.WorkflowsStarted())
	}
	st, b = do("POST", "/activity?requiredFieldValidation=N&startWorkflow=N", `{"Type":"EMail","Subject":"Hi","StartDate":"2026-03-01T10:00:00.000","PrivateInd":"N"}`)
	var as []Activity
	if st != 201 || json.Unmarshal([]byte(b), &as) != nil || len(as) != 1 {
		t.Fatalf("create: %d %s", st, b)
	}
	a := as[0]
	if len(a.ActivityID) != 32 || strings.ToUpper(a.ActivityID) != a.ActivityID || a.ModDate == "" || a.EndDate != a.StartDate || a.Location != "" || !strings.Contains(b, `"Location":""`) {
		t.Fatalf("create answered %s", b)
	}
	if s.WorkflowsStarted() != 1 {
		t.Fatal("startWorkflow=N started a workflow")
	}
	st, b = do("GET", "/activity/"+a.ActivityID, "")
	if st != 200 || !strings.HasPrefix(b, "[{") {
		t.Fatalf("get one: %d %s", st, b)
	}
	if st, _ = do("GET", "/activity/NOPE", ""); st != 404 {
		t.Fatalf("get missing: %d", st)
	}
	for _, bad := range []string{`{"Type":"EMail"}`, `{"Type":"EMail","Subject":"x","StartDate":"soon"}`,
		`{"Type":"EMail","Subject":"x","StartDate":"2026-03-01","Bogus":"1"}`, `{"Type":"EMail","Subject":"x","StartDate":"2026-03-01","PrivateInd":"yes"}`, `not json`} {
		if st, b := do("POST", "/activity", bad); st != 400 || !strings.Contains(b, `"message"`) {
			t.Errorf("%s: %d %s", bad, st, b)
		}
	}
	st, b = do("PUT", "/activity/"+a.ActivityID+"?requiredFieldValidation=N&startWorkflow=N", `{"Location":"Room 1"}`)
	if st != 200 || json.Unmarshal([]byte(b), &as) != nil || len(as) != 1 || as[0].Location != "Room 1" || as[0].Subject != "Hi" {
		t.Fatalf("update: %d %s", st, b)
	}
	if st, _ = do("PUT", "/activity/"+a.ActivityID+"?requiredFieldValidation=N", `{"Subject":""}`); st != 400 {
		t.Fatalf("clearing a required field: %d", st)
	}
	if st, _ = do("DELETE", "/activity/"+a.ActivityID, ""); st != 200 {
		t.Fatalf("delete: %d", st)
	}
	if _, ok := s.Activity(a.ActivityID); ok {
		t.Fatal("deleted activity still there")
	}
}

func TestFaults(t *testing.T) {
	s := start(t, Options{})
	tok := s.IssueAccessToken("jdoe")
	s.InjectFault(Fault{PathContains: "/firm", Status: 503, RetryAfter: 2 * time.Second, Times: 1})
	req, _ := http.NewRequest("GET", s.APIURL()+"/firm", nil)
	req.Header.Set("Authorization", "Bearer "+tok)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 503 || resp.Header.Get("Retry-After") != "2" {
		t.Fatalf("503 fault: %d %q", resp.StatusCode, resp.Header.Get("Retry-After"))
	}
	if st, _ := get(t, s, tok, "/firm"); st != 200 {
		t.Fatalf("after Times ran out: %d", st)
	}
	s.InjectFault(Fault{Method: "GET", Malformed: true})
	if _, b := get(t, s, tok, "/firm"); json.Valid(b) {
		t.Fatalf("malformed fault answered valid JSON %s", b)
	}
	s.ClearFaults()
	s.InjectFault(Fault{ResetConnection: true, Times: 1})
	// A fresh transport: net/http replays an idempotent request that fails
	// on a reused connection, which would hide the reset.
	fresh := &http.Client{Transport: &http.Transport{}}
	if _, err := fresh.Get(s.APIURL() + "/LoginConfig"); err == nil {
		t.Fatal("reset fault: the request succeeded")
	}
}

func TestUDIC(t *testing.T) {
	s := start(t, Options{})
	tok := s.IssueAccessToken("jdoe")
	if st, _ := get(t, s, tok, "/UDIC/UDIC_ConnectAgent"); st != 404 {
		t.Fatalf("missing hub: %d", st)
	}
	s.AddHub("UDIC_ConnectAgent", []HubField{{Name: "CustEmployee", Type: FieldString, Required: true}, {Name: "CustIssues", Type: FieldNumber}})
	st, b := get(t, s, tok, "/metadata/UDIC/UDIC_ConnectAgent")
	var md HubMetadata
	if st != 200 || json.Unmarshal(b, &md) != nil || len(md["UDIC_ConnectAgent"].Fields) != 9 || !md["UDIC_ConnectAgent"].Fields[7].Required {
		t.Fatalf("metadata: %d %s", st, b)
	}
	req, _ := http.NewRequest("POST", s.APIURL()+"/UDIC/UDIC_ConnectAgent", strings.NewReader(`{"CustEmployee":"E001","CustIssues":3}`))
	req.Header.Set("Authorization", "Bearer "+tok)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	var created []map[string]any
	json.NewDecoder(resp.Body).Decode(&created)
	resp.Body.Close()
	if resp.StatusCode != 201 || len(created) != 1 || created[0]["UDIC_UID"] == nil || created[0]["CustIssues"] != 3.0 {
		t.Fatalf("create: %d %v", resp.StatusCode, created)
	}
}

func TestLoadSeed(t *testing.T) {
	s := New(Options{})
	err := s.LoadSeed(strings.NewReader(`{"database":"ACME","users":[{"username":"a","password":"b","employee":"E1"}],
		"employees":[{"Employee":"E1","LastName":"A","EMail":"a@x"}],"firms":[{"ClientID":"F1","Name":"Acme"}],
		"contacts":[{"LastName":"C","ClientID":"F1"}],"projects":[{"WBS1":"P1","Name":"P"}],
		"activities":[{"Type":"Meeting","Subject":"S","StartDate":"2026-01-01T09:00:00"}]}`))
	if err != nil {
		t.Fatal(err)
	}
	if s.Database() != "ACME" || len(s.Contacts()) != 1 || s.Contacts()[0].ContactStatus != "A" || len(s.Activities()) != 1 || s.IssueRefreshToken("a") == "" {
		t.Fatalf("seed not loaded: %+v %+v", s.Contacts(), s.Activities())
	}
	if err := s.LoadSeed(strings.NewReader(`{"contacs":[]}`)); err == nil {
		t.Fatal("a misspelled key was accepted")
	}
}

func TestLikeMatch(t *testing.T) {
	cases := []struct {
		pat, s string
		want   bool
	}{{"%", "", true}, {"a%", "abc", true}, {"%c", "abc", true}, {"a_c", "abc", true}, {"a_c", "ac", false},
		{"%b%", "abc", true}, {"%x%", "abc", false}, {"", "", true}, {"%a%a%a%a%a%a%a%b", strings.Repeat("a", 200), false}}
	for _, c := range cases {
		if got := likeMatch(compileLike(c.pat), c.s); got != c.want {
			t.Errorf("like(%q, %q) = %v", c.pat, c.s, got)
		}
	}
}

func FuzzParseFilterHash(f *testing.F) {
	f.Add("filterHash[0][name]=Email&filterHash[0][value]=a%40b&filterHash[0][opp]=%3D")
	f.Add("filterHash[1][name]=ModDate&filterHash[1][opp]=%3E&filterHash[1][type]=datetime&filterHash[1][value]=2026-01-01T00:00:00Z")
	f.Add("filterHash[x][name]=a")
	f.Add("filterHash[0][name]=Notes&filterHash[0][opp]=like&filterHash[0][value]=%25a_b%25")
	tbl := builtinTables()["contact"]
	f.Fuzz(func(t *testing.T, q string) {
		v, err := url.ParseQuery(q)
		if err != nil {
			return
		}
		fs, err := ParseFilterHash(v)
		if err != nil {
			return
		}
		for _, fl := range fs {
			if fl.Name == "" || !slices.Contains(slices.Collect(maps.Values(filterOps)), fl.Op) {
				t.Fatalf("accepted filter %+v", fl)
			}
		}
		ps, err := tbl.bind(fs, time.FixedZone("UTC-5", -5*3600))
		if err != nil {
			return
		}
		r := row{"Email": "a@b", "ModDate": "2026-01-01T00:00:00.000", "Notes": "xaybz"}
		for i := range ps {
			ps[i].match(r)
		}
	})
}

func FuzzDecodeRecordBody(f *testing.F) {
	f.Add([]byte(`{"Type":"EMail","Subject":"x","StartDate":"2026-01-01"}`))
	f.Add([]byte(`[{"LastName":"x"}]`))
	f.Add([]byte(`[]`))
	f.Add([]byte(`null`))
	tbl := builtinTables()["activity"]
	f.Fuzz(func(t *testing.T, b []byte) {
		m, err := DecodeRecordBody(b)
		if err != nil {
			return
		}
		if m == nil {
			t.Fatal("nil record without an error")
		}
		tbl.decodeInput(m)
	})
}

// TestDateFiltersAsTheServerReadsThem: a ModDate comparison needs
// [type]=datetime and a value with its offset, or it silently matches
// nothing; ModDate is stamped in the server's zone, and a filter value in
// UTC is compared as the instant it names.
func TestDateFiltersAsTheServerReadsThem(t *testing.T) {
	now := time.Date(2026, 3, 2, 15, 0, 0, 0, time.UTC)
	s := start(t, Options{Now: func() time.Time { return now }, Zone: time.FixedZone("UTC+9", 9*3600)})
	tok := s.IssueAccessToken("jdoe")
	c := s.AddContact(Contact{LastName: "Zone", Email: "z@example.com"})
	if c.ModDate != "2026-03-03T00:00:00.000" {
		t.Fatalf("ModDate %q is not the server's local time", c.ModDate)
	}
	count := func(value, typ string) int {
		t.Helper()
		q := url.Values{"filterHash[0][name]": {"ModDate"}, "filterHash[0][opp]": {">="}, "filterHash[0][value]": {value}}
		if typ != "" {
			q.Set("filterHash[0][type]", typ)
		}
		st, b := get(t, s, tok, "/contact?"+q.Encode())
		var rs []map[string]any
		if st != 200 || json.Unmarshal(b, &rs) != nil {
			t.Fatalf("%s: %d %s", q.Encode(), st, b)
		}
		return len(rs)
	}
	for _, c := range []struct {
		value, typ string
		want       int
	}{
		{"2026-03-02T14:59:00.000Z", "datetime", 1},      // the instant, in UTC
		{"2026-03-02T15:00:01.000Z", "datetime", 0},      // after it
		{"2026-03-02T23:59:00.000+09:00", "datetime", 1}, // the same instant, another offset
		{"2026-03-02T14:59:00.000Z", "", 0},              // no [type]: silently nothing
		{"2026-03-02T14:59:00.000", "datetime", 0},       // no offset: silently nothing
	} {
		if got := count(c.value, c.typ); got != c.want {
			t.Errorf("ModDate >= %s (type %q): %d records, want %d", c.value, c.typ, got, c.want)
		}
	}
	// The Date header is the server's clock, so that a client can tell
	// its zone from a write's ModDate.
	req, _ := http.NewRequest("GET", s.APIURL()+"/LoginConfig", nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if d, _ := http.ParseTime(resp.Header.Get("Date")); !d.Equal(now) {
		t.Errorf("Date header %q, want the server's clock %v", resp.Header.Get("Date"), now)
	}
}

// TestApplicationIDNamesTheArea: dvp-applicationId is "used for enforcing
// security measures": a request that names another area is refused.
func TestApplicationIDNamesTheArea(t *testing.T) {
	s := start(t, Options{})
	tok := s.IssueAccessToken("jdoe")
	s.AddConnectHubs()
	for _, c := range []struct {
		path, app string
		want      int
	}{
		{"/activity", "Activity", 200}, {"/activity", "", 200}, {"/activity", "vpconnect/1.0", 403},
		{"/contact", "Contact", 200}, {"/contact", "Activity", 403},
		{"/UDIC/UDIC_ConnectAgent", "UDIC_ConnectAgent", 200}, {"/UDIC/UDIC_ConnectAgent", "Activity", 403},
	} {
		req, _ := http.NewRequest("GET", s.APIURL()+c.path, nil)
		req.Header.Set("Authorization", "Bearer "+tok)
		if c.app != "" {
			req.Header.Set("dvp-applicationId", c.app)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != c.want {
			t.Errorf("GET %s with dvp-applicationId %q: %d, want %d", c.path, c.app, resp.StatusCode, c.want)
		}
	}
}

// A gateway timeout after the server did the work: the create is stored,
// the answer is 504.
func TestFaultAfterServingStoresTheCreate(t *testing.T) {
	s := start(t, Options{})
	tok := s.IssueAccessToken("jdoe")
	s.InjectFault(Fault{Method: "POST", PathContains: "/contact", Status: 504, AfterServing: true, Times: 1})
	req, _ := http.NewRequest("POST", s.APIURL()+"/contact", strings.NewReader(`{"LastName":"Stored"}`))
	req.Header.Set("Authorization", "Bearer "+tok)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 504 || len(s.Contacts()) != 1 {
		t.Fatalf("%d, %d contacts stored", resp.StatusCode, len(s.Contacts()))
	}
}
