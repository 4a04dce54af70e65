package graphsim

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"golang.org/x/oauth2"
)

// fixtures holds Microsoft's documented examples (see its READMEs for the
// source of each).
const fixtures = "testdata/fixtures"

func newTest(t *testing.T) (*Server, string) {
	t.Helper()
	s := New(Options{ClientID: "00001111-aaaa-2222-bbbb-3333cccc4444"})
	ts := httptest.NewServer(s)
	t.Cleanup(ts.Close)
	s.SetURL(ts.URL)
	return s, s.IssueAccessToken()
}

func call(t *testing.T, s *Server, tok, method, path string, hdr map[string]string, body string) (*http.Response, map[string]any) {
	t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, _ := http.NewRequest(method, s.URL()+path, rd)
	if tok != "" {
		req.Header.Set("Authorization", "Bearer "+tok)
	}
	for k, v := range hdr {
		req.Header.Add(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	var m map[string]any
	if err := json.Unmarshal(raw, &m); err != nil {
		t.Fatalf("%s %s: body is not JSON: %v: %q", method, path, err, raw)
	}
	return resp, m
}

func loadFixture(t *testing.T, name string) map[string]any {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(fixtures, name))
	if err != nil {
		t.Fatalf("fixture: %v", err)
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	return m
}

func keys(m map[string]any) []string {
	var ks []string
	for k := range m {
		ks = append(ks, k)
	}
	slices.Sort(ks)
	return ks
}

// sameShape checks that got has every key of want with the same JSON kind,
// recursively into objects and the first array element.
func sameShape(t *testing.T, where string, want, got any) {
	t.Helper()
	switch w := want.(type) {
	case map[string]any:
		g, ok := got.(map[string]any)
		if !ok {
			t.Errorf("%s: got %T, want an object", where, got)
			return
		}
		for k, wv := range w {
			gv, ok := g[k]
			if !ok {
				t.Errorf("%s: missing %q (have %v)", where, k, keys(g))
				continue
			}
			sameShape(t, where+"."+k, wv, gv)
		}
	case []any:
		g, ok := got.([]any)
		if !ok {
			t.Errorf("%s: got %T, want an array", where, got)
			return
		}
		if len(w) > 0 && len(g) > 0 {
			sameShape(t, where+"[0]", w[0], g[0])
		}
	case nil:
	default:
		if w2, g2 := kind(want), kind(got); w2 != g2 && got != nil {
			t.Errorf("%s: kind %s, want %s", where, g2, w2)
		}
	}
}

func kind(v any) string {
	switch v.(type) {
	case string:
		return "string"
	case float64:
		return "number"
	case bool:
		return "bool"
	}
	return "other"
}

func TestDeltaPagesMatchFixtures(t *testing.T) {
	s, tok := newTest(t)
	inbox := s.FolderID("inbox")
	for i := range 5 {
		s.AddMessage("inbox", Message{Subject: "s", IsRead: i%2 == 0, From: Recipient{Name: "Dana", Address: "danas@contoso.com"}})
	}
	prefer := map[string]string{"Prefer": "odata.maxpagesize=2"}
	resp, p1 := call(t, s, tok, "GET", "/v1.0/me/mailfolders/"+inbox+"/messages/delta?$select=subject,sender,isRead", prefer, "")
	if resp.StatusCode != 200 || resp.Header.Get("Preference-Applied") != "odata.maxpagesize=2" {
		t.Fatalf("status %d, Preference-Applied %q", resp.StatusCode, resp.Header.Get("Preference-Applied"))
	}
	want := loadFixture(t, "graph/message-delta-page1-nextlink.json")
	sameShape(t, "page1", want, p1)
	// Selected properties only (plus id and annotations), as in the docs.
	if got, w := keys(p1["value"].([]any)[0].(map[string]any)), keys(want["value"].([]any)[0].(map[string]any)); !slices.Equal(got, w) {
		t.Errorf("item keys %v, want %v", got, w)
	}
	var pages []map[string]any
	link := p1["@odata.nextLink"].(string)
	for link != "" {
		u, _ := url.Parse(link)
		_, p := call(t, s, tok, "GET", u.RequestURI(), prefer, "")
		pages = append(pages, p)
		link, _ = p["@odata.nextLink"].(string)
	}
	last := pages[len(pages)-1]
	sameShape(t, "page3", loadFixture(t, "graph/message-delta-page3-deltalink.json"), last)
	if _, ok := last["@odata.deltaLink"]; !ok || len(pages) != 2 {
		t.Fatalf("%d follow-up pages, last %v", len(pages), keys(last))
	}

	// Next round: a delete and an update, as in the documented next round.
	ms := s.Messages("inbox")
	s.DeleteMessage(ms[0].ID)
	s.UpdateMessage(ms[1].ID, func(m *Message) { m.IsRead = !m.IsRead })
	u, _ := url.Parse(last["@odata.deltaLink"].(string))
	_, nr := call(t, s, tok, "GET", u.RequestURI(), prefer, "")
	fx := loadFixture(t, "graph/message-delta-nextround-removed.json")
	sameShape(t, "removed", fx["value"].([]any)[0], nr["value"].([]any)[0])
	if nr["value"].([]any)[0].(map[string]any)["id"] != ms[0].ID {
		t.Errorf("removal %v", nr["value"])
	}
	if len(nr["value"].([]any)) != 2 {
		t.Errorf("next round %v", nr["value"])
	}
}

func TestDeltaExpiredToken(t *testing.T) {
	s, tok := newTest(t)
	s.AddMessage("inbox", Message{Subject: "a"})
	_, p := call(t, s, tok, "GET", "/v1.0/me/mailFolders/inbox/messages/delta()", nil, "")
	u, _ := url.Parse(p["@odata.deltaLink"].(string))
	s.ExpireDeltaTokens()
	resp, e := call(t, s, tok, "GET", u.RequestURI(), nil, "")
	if resp.StatusCode != 410 || !strings.Contains(resp.Header.Get("Location"), "deltatoken=") {
		t.Fatalf("status %d location %q", resp.StatusCode, resp.Header.Get("Location"))
	}
	sameShape(t, "410", loadFixture(t, "graph/error-501-notimplemented-delta-select.json"), e)
	if e["error"].(map[string]any)["code"] != "syncStateNotFound" {
		t.Errorf("code %v", e["error"])
	}
}

// Exchange keeps the last three generations of a sync state: a deltaLink
// called again without keeping the link it answered expires (issues 2350
// and 2162 of microsoft-graph-docs), per collection.
func TestDeltaSyncStateGenerations(t *testing.T) {
	s, tok := newTest(t)
	s.AddMessage("inbox", Message{Subject: "a"})
	s.AddMessage("sentitems", Message{Subject: "b"})
	_, p := call(t, s, tok, "GET", "/v1.0/me/mailFolders/inbox/messages/delta()", nil, "")
	saved, _ := url.Parse(p["@odata.deltaLink"].(string))
	_, other := call(t, s, tok, "GET", "/v1.0/me/mailFolders/sentitems/messages/delta()", nil, "")
	var latest map[string]any
	for i := 1; i <= 3; i++ {
		resp, m := call(t, s, tok, "GET", saved.RequestURI(), nil, "")
		if resp.StatusCode != 200 {
			t.Fatalf("reuse %d of a saved deltaLink: %d %v", i, resp.StatusCode, m)
		}
		latest = m
	}
	resp, e := call(t, s, tok, "GET", saved.RequestURI(), nil, "")
	msg, _ := e["error"].(map[string]any)["message"].(string)
	if resp.StatusCode != 410 || e["error"].(map[string]any)["code"] != "SyncStateNotFound" ||
		msg != "The sync state generation is not found; generation=1;[highest=4][4][3][2]." {
		t.Fatalf("fourth reuse: %d %v", resp.StatusCode, e)
	}
	if initial, gone := s.DeltaStats(); initial != 2 || gone != 1 {
		t.Errorf("DeltaStats = %d, %d", initial, gone)
	}
	// The latest link and another folder's state are still good.
	u, _ := url.Parse(latest["@odata.deltaLink"].(string))
	if resp, m := call(t, s, tok, "GET", u.RequestURI(), nil, ""); resp.StatusCode != 200 {
		t.Errorf("the latest deltaLink: %d %v", resp.StatusCode, m)
	}
	u, _ = url.Parse(other["@odata.deltaLink"].(string))
	if resp, m := call(t, s, tok, "GET", u.RequestURI(), nil, ""); resp.StatusCode != 200 {
		t.Errorf("another folder's deltaLink: %d %v", resp.StatusCode, m)
	}
}

func TestMessageGetMatchesFixture(t *testing.T) {
	s, tok := newTest(t)
	m := s.AddMessage("inbox", Message{Subject: "9/9/2018: concert", Body: "<html><body>The group represents Nevada.</body></html>",
		From: Recipient{Name: "Adele Vance", Address: "adelev@contoso.com"}, To: []Recipient{{Name: "Alex", Address: "alexw@contoso.com"}}})
	resp, got := call(t, s, tok, "GET", "/v1.0/me/messages/"+m.ID, nil, "")
	if resp.StatusCode != 200 {
		t.Fatal(resp.Status)
	}
	want := loadFixture(t, "graph/message-get-response.json")
	sameShape(t, "message", want, got)
	if g, w := keys(got), keys(want); !slices.Equal(g, w) {
		t.Errorf("keys %v, want %v", g, w)
	}
	// Text body on request.
	resp, got = call(t, s, tok, "GET", "/v1.0/users/"+url.PathEscape("AdeleV@contoso.onmicrosoft.com")+"/messages/"+m.ID+"?$select=body", map[string]string{"Prefer": `outlook.body-content-type="text"`}, "")
	body := got["body"].(map[string]any)
	if body["contentType"] != "text" || body["content"] != "The group represents Nevada." || resp.Header.Get("Preference-Applied") != `outlook.body-content-type="text"` {
		t.Errorf("text body %v, %q", body, resp.Header.Get("Preference-Applied"))
	}
	resp, e := call(t, s, tok, "GET", "/v1.0/me/messages/AAMkNOPE=", nil, "")
	if resp.StatusCode != 404 || e["error"].(map[string]any)["code"] != "ErrorItemNotFound" {
		t.Errorf("404: %d %v", resp.StatusCode, e)
	}
	resp, _ = call(t, s, tok, "GET", "/v1.0/me/messages/"+m.ID+"?$select=nosuch", nil, "")
	if resp.StatusCode != 400 {
		t.Errorf("bad $select: %d", resp.StatusCode)
	}
}

func TestFoldersCategoriesMeMatchFixtures(t *testing.T) {
	s, tok := newTest(t)
	_, fl := call(t, s, tok, "GET", "/v1.0/me/mailFolders", nil, "")
	sameShape(t, "folders", loadFixture(t, "graph/mailfolders-list-v1-response.json"), fl)
	_, f := call(t, s, tok, "GET", "/v1.0/me/mailFolders/inbox", nil, "")
	sameShape(t, "folder", loadFixture(t, "graph/mailfolder-get-inbox-v1-response.json"), f)
	resp, c := call(t, s, tok, "POST", "/v1.0/me/outlook/masterCategories", map[string]string{"Content-Type": "application/json"}, `{"displayName":"Project expenses","color":"preset9"}`)
	if resp.StatusCode != 201 {
		t.Fatal(resp.Status)
	}
	sameShape(t, "category", loadFixture(t, "graph/mastercategory-create-response.json"), c)
	resp, _ = call(t, s, tok, "POST", "/v1.0/me/outlook/masterCategories", nil, `{"displayName":"project EXPENSES"}`)
	if resp.StatusCode != 409 {
		t.Errorf("duplicate: %d", resp.StatusCode)
	}
	_, cl := call(t, s, tok, "GET", "/v1.0/me/outlook/masterCategories", nil, "")
	sameShape(t, "categories", loadFixture(t, "graph/mastercategories-list-response.json"), cl)
	_, me := call(t, s, tok, "GET", "/v1.0/me", nil, "")
	sameShape(t, "me", loadFixture(t, "graph/user-get-me-response.json"), me)
	resp, e := call(t, s, "", "GET", "/v1.0/me", nil, "")
	if resp.StatusCode != 401 || e["error"].(map[string]any)["code"] != "InvalidAuthenticationToken" {
		t.Errorf("401: %d %v", resp.StatusCode, e)
	}
	sameShape(t, "error", loadFixture(t, "graph/error-501-notimplemented-delta-select.json"), e)
}

func TestPatchCategoriesShowsInDelta(t *testing.T) {
	s, tok := newTest(t)
	m := s.AddMessage("inbox", Message{Subject: "x"})
	_, p := call(t, s, tok, "GET", "/v1.0/me/mailFolders/inbox/messages/delta", nil, "")
	resp, got := call(t, s, tok, "PATCH", "/v1.0/me/messages/"+m.ID, nil, `{"@odata.type":"#microsoft.graph.message","categories":["Red category"]}`)
	if resp.StatusCode != 200 || got["changeKey"] == m.ChangeKey {
		t.Fatalf("%d %v", resp.StatusCode, got["changeKey"])
	}
	u, _ := url.Parse(p["@odata.deltaLink"].(string))
	_, nr := call(t, s, tok, "GET", u.RequestURI(), nil, "")
	v := nr["value"].([]any)
	if len(v) != 1 || v[0].(map[string]any)["changeKey"] != got["changeKey"] {
		t.Fatalf("delta %v", v)
	}
	resp, _ = call(t, s, tok, "PATCH", "/v1.0/me/messages/"+m.ID, nil, `{"subject":"new"}`)
	if resp.StatusCode != 400 {
		t.Errorf("subject of a sent message: %d", resp.StatusCode)
	}
}

func TestDeltaLargeMailboxIsPaged(t *testing.T) {
	s, tok := newTest(t)
	for range 2500 {
		s.AddMessage("inbox", Message{Subject: "m"})
	}
	for i, m := range s.Messages("inbox") {
		if i%2 == 0 {
			s.UpdateMessage(m.ID, func(m *Message) { m.IsRead = true })
		}
	}
	seen := map[string]bool{}
	link := "/v1.0/me/mailFolders/inbox/messages/delta?$select=id"
	requests := 0
	for {
		requests++
		_, p := call(t, s, tok, "GET", link, map[string]string{"Prefer": "odata.maxpagesize=5000"}, "")
		for _, it := range p["value"].([]any) {
			id := it.(map[string]any)["id"].(string)
			if seen[id] {
				t.Fatalf("duplicate %s", id)
			}
			seen[id] = true
		}
		if n, ok := p["@odata.nextLink"].(string); ok {
			u, _ := url.Parse(n)
			link = u.RequestURI()
			continue
		}
		break
	}
	if len(seen) != 2500 || requests != 3 {
		t.Fatalf("%d items in %d requests", len(seen), requests)
	}
}

func TestFaults(t *testing.T) {
	s, tok := newTest(t)
	s.InjectFault(Fault{PathContains: "/me", Status: 429, RetryAfter: 2128 * time.Millisecond, Times: 1})
	resp, e := call(t, s, tok, "GET", "/v1.0/me", nil, "")
	if resp.StatusCode != 429 || resp.Header.Get("Retry-After") != "2.128" {
		t.Fatalf("%d %q", resp.StatusCode, resp.Header.Get("Retry-After"))
	}
	sameShape(t, "429", loadFixture(t, "graph/error-429-throttled.json"), e)
	if resp, _ = call(t, s, tok, "GET", "/v1.0/me", nil, ""); resp.StatusCode != 200 {
		t.Fatalf("fault did not clear: %d", resp.StatusCode)
	}
	s.InjectFault(Fault{Malformed: true, Times: 1})
	req, _ := http.NewRequest("GET", s.GraphURL()+"/me", nil)
	req.Header.Set("Authorization", "Bearer "+tok)
	r, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	raw, _ := io.ReadAll(r.Body)
	r.Body.Close()
	if json.Valid(raw) || r.StatusCode != 200 {
		t.Fatalf("malformed: %d %q", r.StatusCode, raw)
	}
	// Always, not once: net/http retries an idempotent request once on a
	// reset reused connection.
	s.InjectFault(Fault{ResetConnection: true})
	if _, err := http.DefaultClient.Do(req); err == nil {
		t.Fatal("reset: no error")
	}
	s.ClearFaults()
}

func TestLimitsThrottleConcurrency(t *testing.T) {
	s := New(Options{EnforceLimits: true})
	if ra, _ := s.throttle(5); ra <= 0 {
		t.Fatal("5 concurrent not throttled")
	}
	now := time.Unix(1e9, 0)
	s.now = func() time.Time { return now }
	for range limitRequests {
		if ra, _ := s.throttle(1); ra != 0 {
			t.Fatal("throttled early")
		}
	}
	if ra, _ := s.throttle(1); ra <= 0 {
		t.Fatal("request 10,001 not throttled")
	}
	now = now.Add(limitWindow)
	if ra, _ := s.throttle(1); ra != 0 {
		t.Fatal("window did not slide")
	}
}

func TestAuthCodePKCEAndRefresh(t *testing.T) {
	s, _ := newTest(t)
	conf := s.OAuth2Config("")
	verifier := oauth2.GenerateVerifier()
	noFollow := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	// The registration lists http://localhost: the port is free, the host
	// and the path are not (Entra's redirect URI restrictions).
	for _, unregistered := range []string{"http://127.0.0.1:53682/", "http://localhost:53682/callback", "https://localhost:53682/", "http://example.com/"} {
		conf.RedirectURL = unregistered
		resp, err := noFollow.Get(conf.AuthCodeURL("st4te", oauth2.S256ChallengeOption(verifier)))
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 400 || !strings.Contains(string(b), "AADSTS50011") {
			t.Errorf("redirect URI %s: %d %s", unregistered, resp.StatusCode, b)
		}
	}
	conf.RedirectURL = "http://localhost:53682/"
	authURL := conf.AuthCodeURL("st4te", oauth2.S256ChallengeOption(verifier))
	resp, err := noFollow.Get(authURL)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	loc, _ := url.Parse(resp.Header.Get("Location"))
	if resp.StatusCode != 302 || loc.Query().Get("state") != "st4te" || loc.Query().Get("code") == "" {
		t.Fatalf("%d %s", resp.StatusCode, loc)
	}
	code := loc.Query().Get("code")
	ctx := context.Background()
	if _, err := conf.Exchange(ctx, code, oauth2.VerifierOption("wrong-verifier-wrong-verifier-wrong-verifier")); !isGrantErr(err, "invalid_grant") {
		t.Fatalf("bad verifier: %v", err)
	}
	tok, err := conf.Exchange(ctx, code, oauth2.VerifierOption(verifier))
	if err != nil {
		t.Fatal(err)
	}
	if !s.AccessTokenValid(tok.AccessToken) || tok.RefreshToken == "" || tok.Expiry.IsZero() {
		t.Fatalf("token %+v", tok)
	}
	if _, err := conf.Exchange(ctx, code, oauth2.VerifierOption(verifier)); !isGrantErr(err, "invalid_grant") {
		t.Fatalf("code reuse: %v", err)
	}
	// Refresh rotates; revoke rejects.
	tok.Expiry = time.Now().Add(-time.Minute)
	t2, err := conf.TokenSource(ctx, tok).Token()
	if err != nil || t2.RefreshToken == tok.RefreshToken || t2.AccessToken == tok.AccessToken {
		t.Fatalf("refresh: %v %+v", err, t2)
	}
	s.RevokeRefreshTokens()
	t2.Expiry = time.Now().Add(-time.Minute)
	if _, err := conf.TokenSource(ctx, t2).Token(); !isGrantErr(err, "invalid_grant") {
		t.Fatalf("after revoke: %v", err)
	}
	// A non-loopback redirect is refused without redirecting.
	conf.RedirectURL = "https://evil.example.com/cb"
	resp, _ = noFollow.Get(conf.AuthCodeURL("x", oauth2.S256ChallengeOption(verifier)))
	resp.Body.Close()
	if resp.StatusCode != 400 {
		t.Fatalf("remote redirect: %d", resp.StatusCode)
	}
	// Without PKCE: an error redirect.
	conf.RedirectURL = "http://localhost:1234"
	resp, _ = noFollow.Get(conf.AuthCodeURL("x"))
	resp.Body.Close()
	if l, _ := url.Parse(resp.Header.Get("Location")); l.Query().Get("error") != "invalid_request" {
		t.Fatalf("no PKCE: %s", l)
	}
	_ = sha256.Sum256
	_ = base64.RawURLEncoding
}

func isGrantErr(err error, code string) bool {
	var re *oauth2.RetrieveError
	return errors.As(err, &re) && re.ErrorCode == code && re.Response.StatusCode == 400
}

func TestDeviceCode(t *testing.T) {
	s, _ := newTest(t)
	s.opts.DeviceCodeInterval = time.Second
	conf := s.OAuth2Config("")
	ctx := context.Background()
	da, err := conf.DeviceAuth(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if da.UserCode == "" || da.VerificationURI == "" || da.Interval != 1 || da.Expiry.IsZero() {
		t.Fatalf("%+v", da)
	}
	// Pending until approved.
	form := url.Values{"grant_type": {"urn:ietf:params:oauth:grant-type:device_code"}, "client_id": {conf.ClientID}, "device_code": {da.DeviceCode}}
	r, _ := http.PostForm(conf.Endpoint.TokenURL, form)
	var e map[string]any
	json.NewDecoder(r.Body).Decode(&e)
	r.Body.Close()
	if r.StatusCode != 400 || e["error"] != "authorization_pending" {
		t.Fatalf("%d %v", r.StatusCode, e)
	}
	sameShape(t, "token error", loadFixture(t, "identity/token-error-invalid-scope.json"), e)
	if !s.ApproveDeviceCode(da.UserCode) {
		t.Fatal("approve")
	}
	tok, err := conf.DeviceAccessToken(ctx, da)
	if err != nil || !s.AccessTokenValid(tok.AccessToken) || tok.RefreshToken == "" {
		t.Fatalf("%v %+v", err, tok)
	}
}

func TestOpenIDConfiguration(t *testing.T) {
	s, _ := newTest(t)
	r, err := http.Get(s.AuthorityURL() + "/organizations/v2.0/.well-known/openid-configuration")
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	json.NewDecoder(r.Body).Decode(&m)
	r.Body.Close()
	if m["token_endpoint"] != s.URL()+"/organizations/oauth2/v2.0/token" || m["device_authorization_endpoint"] == nil {
		t.Fatalf("%v", m)
	}
}

func TestLoadSeed(t *testing.T) {
	s := New(Options{})
	err := s.LoadSeed(strings.NewReader(`{"user":{"displayName":"Bo","userPrincipalName":"bo@contoso.com"},
	 "folders":[{"name":"inbox","messages":[{"subject":"hi","from":{"name":"A","address":"a@x.com"},"sensitivity":2}]},
	            {"name":"Projects","messages":[{"subject":"p"}]}],
	 "categories":[{"displayName":"Vantagepoint","color":"preset7"}]}`))
	if err != nil {
		t.Fatal(err)
	}
	if len(s.Messages("inbox")) != 1 || s.FolderID("Projects") != "" || len(s.Categories()) != 1 {
		t.Fatalf("seed: %d inbox", len(s.Messages("inbox")))
	}
	var found bool
	for _, f := range s.MailFolders() {
		found = found || (f.DisplayName == "Projects" && len(s.Messages(f.ID)) == 1)
	}
	if !found {
		t.Fatal("Projects folder")
	}
	if err := s.LoadSeed(strings.NewReader(`{"nope":1}`)); err == nil {
		t.Fatal("unknown key accepted")
	}
}

func TestHTMLToText(t *testing.T) {
	for in, want := range map[string]string{
		"<html><head><title>x</title><style>p{}</style></head><body><p>Hello &amp; bye</p><p>Two<br>Three</p></body></html>": "Hello & bye\r\n\r\nTwo\r\nThree",
		"plain":              "plain",
		"<div>a\n  b</div>":  "a b",
		"<p>unterminated <b": "unterminated",
	} {
		if got := htmlToText(in); got != want {
			t.Errorf("htmlToText(%q) = %q, want %q", in, got, want)
		}
	}
}

func FuzzHTMLToText(f *testing.F) {
	f.Add("<p>a</p>")
	f.Add("<script>x</script>y")
	f.Add("<")
	f.Fuzz(func(t *testing.T, s string) { _ = htmlToText(s) })
}

func FuzzWriteString(f *testing.F) {
	f.Add("a\"b\\c\n\x00\u2028é")
	f.Fuzz(func(t *testing.T, s string) {
		var b strings.Builder
		_ = b
		var buf = new(bytesBuffer)
		writeString(&buf.Buffer, s)
		var got string
		if err := json.Unmarshal(buf.Bytes(), &got); err != nil {
			t.Fatalf("invalid JSON %q: %v", buf.Bytes(), err)
		}
		if strings.ToValidUTF8(s, "\uFFFD") != got {
			t.Fatalf("round trip %q -> %q", s, got)
		}
	})
}

// Graph's "Update event": changing an organizer's meeting beyond its
// categories sends every attendee an update; writing location replaces
// locations[]; a body without the Teams block turns the online meeting off;
// deleting it sends cancellations.
func TestMeetingUpdatesReachAttendees(t *testing.T) {
	s, tok := newTest(t)
	e := s.AddEvent(Event{Subject: "Review", Start: time.Date(2026, 5, 4, 10, 0, 0, 0, time.UTC), End: time.Date(2026, 5, 4, 11, 0, 0, 0, time.UTC),
		Location: "Room 1", Rooms: []string{"Room 2"}, IsOnlineMeeting: true, Body: "Agenda\n" + TeamsJoinMarker + "\nJoin: x",
		Attendees: []Attendee{{Type: "required", Name: "A", Address: "a@example.com"}, {Type: "required", Name: "B", Address: "b@example.com"}}})
	patch := func(body string) {
		t.Helper()
		if resp, m := call(t, s, tok, "PATCH", "/v1.0/me/events/"+e.ID, map[string]string{"Content-Type": "application/json"}, body); resp.StatusCode != 200 {
			t.Fatalf("PATCH %s: %d %v", body, resp.StatusCode, m)
		}
	}
	patch(`{"categories":["Vantagepoint"]}`)
	if n := s.AttendeeUpdates(); n != 0 {
		t.Fatalf("a category change sent %d updates", n)
	}
	patch(`{"location":{"displayName":"Room 3"}}`)
	got, _ := s.Event(e.ID)
	if n := s.AttendeeUpdates(); n != 2 || len(got.Rooms) != 0 {
		t.Fatalf("a location change: %d updates, rooms %v", n, got.Rooms)
	}
	patch(`{"body":{"contentType":"text","content":"Agenda only"}}`)
	if got, _ := s.Event(e.ID); got.IsOnlineMeeting || s.AttendeeUpdates() != 4 {
		t.Fatalf("a body without the join block: online %v, %d updates", got.IsOnlineMeeting, s.AttendeeUpdates())
	}
	req, _ := http.NewRequest("DELETE", s.URL()+"/v1.0/me/events/"+e.ID, nil)
	req.Header.Set("Authorization", "Bearer "+tok)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 204 || s.AttendeeUpdates() != 6 {
		t.Fatalf("delete: %d, %d updates and cancellations", resp.StatusCode, s.AttendeeUpdates())
	}
}

// Graph's property names are case-sensitive on the wire: a wrong-cased
// one is refused, not decoded loosely (Go's JSON decoding would take it).
func TestPropertyNamesAreCaseSensitive(t *testing.T) {
	s, tok := newTest(t)
	e := s.AddEvent(Event{Subject: "Review", Start: time.Date(2026, 5, 4, 10, 0, 0, 0, time.UTC), End: time.Date(2026, 5, 4, 11, 0, 0, 0, time.UTC)})
	hdr := map[string]string{"Content-Type": "application/json"}
	for _, body := range []string{`{"Subject":"x"}`, `{"location":{"DisplayName":"x"}}`, `{"attendees":[{"EmailAddress":{"address":"a@example.com"}}]}`} {
		if resp, m := call(t, s, tok, "PATCH", "/v1.0/me/events/"+e.ID, hdr, body); resp.StatusCode != 400 {
			t.Errorf("PATCH %s: %d %v", body, resp.StatusCode, m)
		}
	}
	if got, _ := s.Event(e.ID); got.Subject != "Review" {
		t.Errorf("a refused PATCH changed the event: %q", got.Subject)
	}
	if resp, m := call(t, s, tok, "POST", "/v1.0/me/translateExchangeIds", hdr, `{"InputIds":["x"],"SourceIdType":"restId","TargetIdType":"restImmutableEntryId"}`); resp.StatusCode != 400 {
		t.Errorf("translateExchangeIds with the SDK's PascalCase names: %d %v", resp.StatusCode, m)
	}
	if resp, m := call(t, s, tok, "PATCH", "/v1.0/me/events/"+e.ID, hdr, `{"subject":"y","location":{"displayName":"z"}}`); resp.StatusCode != 200 {
		t.Errorf("PATCH with exact names: %d %v", resp.StatusCode, m)
	}
}
