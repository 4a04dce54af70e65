package graphsim

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"golang.org/x/oauth2"
)

// The identity platform's refusals of a misregistered app, each as Entra
// answers it (sources in identity.go).

const idTestClient = "00001111-aaaa-2222-bbbb-3333cccc4444"

func startIdentity(t *testing.T, o Options) *Server {
	t.Helper()
	if o.ClientID == "" {
		o.ClientID = idTestClient
	}
	s := New(o)
	ts := httptest.NewServer(s)
	t.Cleanup(ts.Close)
	s.SetURL(ts.URL)
	return s
}

// authorizeOnce plays the browser's first request: it returns the status,
// the Location it is sent to (parsed) and the page.
func authorizeOnce(t *testing.T, s *Server, tenant string, q url.Values) (int, *url.URL, string) {
	t.Helper()
	noFollow := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := noFollow.Get(s.URL() + "/" + tenant + "/oauth2/v2.0/authorize?" + q.Encode())
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	var loc *url.URL
	if l := resp.Header.Get("Location"); l != "" {
		loc, _ = url.Parse(l)
	}
	return resp.StatusCode, loc, string(b)
}

func authorizeQuery(redirect string) url.Values {
	return url.Values{"client_id": {idTestClient}, "response_type": {"code"}, "redirect_uri": {redirect},
		"scope": {"offline_access openid User.Read Mail.ReadWrite"}, "state": {"st"},
		"code_challenge": {oauth2.S256ChallengeFromVerifier("v")}, "code_challenge_method": {"S256"}}
}

func postIdentity(t *testing.T, s *Server, path string, form url.Values) (int, map[string]any) {
	t.Helper()
	resp, err := http.PostForm(s.URL()+path, form)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var m map[string]any
	if err := json.NewDecoder(resp.Body).Decode(&m); err != nil {
		t.Fatalf("%s: the answer is not JSON: %v", path, err)
	}
	return resp.StatusCode, m
}

// wantAADSTS checks an error body: status, error, and the AADSTS code both
// at the start of error_description and in error_codes.
func wantAADSTS(t *testing.T, what string, st int, m map[string]any, status int, code string, aadsts string) {
	t.Helper()
	desc, _ := m["error_description"].(string)
	codes, _ := m["error_codes"].([]any)
	if st != status || m["error"] != code || !strings.HasPrefix(desc, "AADSTS"+aadsts+":") ||
		len(codes) != 1 || codes[0] != json.Number(aadsts) && codes[0] != mustFloat(aadsts) {
		t.Errorf("%s: %d %v; want %d %s AADSTS%s", what, st, m, status, code, aadsts)
	}
}

func mustFloat(s string) float64 {
	var f float64
	_ = json.Unmarshal([]byte(s), &f)
	return f
}

// Entra matches a loopback redirect URI by scheme, host and path and
// ignores the port on both sides; anything else must match exactly.
func TestRedirectURIMatching(t *testing.T) {
	for _, c := range []struct {
		registered, sent string
		back             string // where the browser goes; "" = AADSTS50011 page
	}{
		{"http://localhost", "http://localhost:53682", "http://localhost:53682/"},
		{"http://localhost", "http://localhost:53682/", "http://localhost:53682/"},
		{"http://localhost", "http://LOCALHOST:1/", "http://LOCALHOST:1/"},
		{"http://localhost:5000/cb", "http://localhost:6000/cb", "http://localhost:6000/cb"},
		{"http://localhost", "http://127.0.0.1:53682/", ""},
		{"http://localhost", "http://[::1]:53682/", ""},
		{"http://localhost", "http://localhost:53682/callback", ""},
		{"http://localhost/cb", "http://localhost:53682/CB", ""},
		{"http://localhost", "https://localhost:53682/", ""},
		{"http://localhost", "http://localhost:53682/?x=1", ""},
		{"http://127.0.0.1", "http://127.0.0.1:9/", "http://127.0.0.1:9/"},
		{"https://app.contoso.example/cb", "https://app.contoso.example/cb", "https://app.contoso.example/cb"},
		{"https://app.contoso.example/cb", "https://app.contoso.example:8443/cb", ""},
		{"http://app.contoso.example/cb", "http://app.contoso.example/cb", ""},
	} {
		s := startIdentity(t, Options{RedirectURIs: []string{c.registered}})
		st, loc, page := authorizeOnce(t, s, "organizations", authorizeQuery(c.sent))
		switch {
		case c.back == "":
			if st == http.StatusFound || !strings.Contains(page, "AADSTS50011") {
				t.Errorf("%s registered, %s sent: %d %v %q; want the AADSTS50011 page", c.registered, c.sent, st, loc, page)
			}
		case st != http.StatusFound || loc == nil:
			t.Errorf("%s registered, %s sent: %d %q; want a redirect", c.registered, c.sent, st, page)
		default:
			bare := *loc
			bare.RawQuery = ""
			if bare.String() != c.back || loc.Query().Get("code") == "" || loc.Query().Get("state") != "st" {
				t.Errorf("%s registered, %s sent: sent back to %s; want %s with a code", c.registered, c.sent, loc, c.back)
			}
		}
	}
}

func TestTenantValues(t *testing.T) {
	s := startIdentity(t, Options{TenantDomains: []string{"contoso.example"}})
	form := url.Values{"client_id": {idTestClient}, "scope": {"openid offline_access Mail.ReadWrite"}}
	for _, ok := range []string{"organizations", "common", tenantID, "contoso.onmicrosoft.com", "Contoso.Example"} {
		if st, m := postIdentity(t, s, "/"+ok+"/oauth2/v2.0/devicecode", form); st != 200 {
			t.Errorf("tenant %s: %d %v", ok, st, m)
		}
	}
	st, m := postIdentity(t, s, "/fabrikam.example/oauth2/v2.0/devicecode", form)
	wantAADSTS(t, "unknown tenant, devicecode", st, m, 400, "invalid_request", "90002")
	st, m = postIdentity(t, s, "/fabrikam.example/oauth2/v2.0/token", url.Values{"client_id": {idTestClient}, "grant_type": {"refresh_token"}, "refresh_token": {s.IssueRefreshToken()}})
	wantAADSTS(t, "unknown tenant, token", st, m, 400, "invalid_request", "90002")
	st, m = postIdentity(t, s, "/consumers/oauth2/v2.0/devicecode", form)
	wantAADSTS(t, "consumers", st, m, 400, "unauthorized_client", "700016")
	if st, _, page := authorizeOnce(t, s, "fabrikam.example", authorizeQuery("http://localhost:1")); st == http.StatusFound || !strings.Contains(page, "AADSTS90002") {
		t.Errorf("unknown tenant, authorize: %d %q", st, page)
	}
	resp, err := http.Get(s.URL() + "/fabrikam.example/v2.0/.well-known/openid-configuration")
	if err != nil {
		t.Fatal(err)
	}
	var doc map[string]any
	json.NewDecoder(resp.Body).Decode(&doc)
	resp.Body.Close()
	wantAADSTS(t, "unknown tenant, OpenID configuration", resp.StatusCode, doc, 400, "invalid_tenant", "90002")

	// A single-tenant app: its own tenant only.
	s.SetSingleTenant(true)
	for _, multi := range []string{"organizations", "common"} {
		st, m := postIdentity(t, s, "/"+multi+"/oauth2/v2.0/devicecode", form)
		wantAADSTS(t, "single-tenant app through "+multi, st, m, 400, "invalid_request", "50194")
		if st, _, page := authorizeOnce(t, s, multi, authorizeQuery("http://localhost:1")); st == http.StatusFound || !strings.Contains(page, "AADSTS50194") {
			t.Errorf("single-tenant app, authorize through %s: %d %q", multi, st, page)
		}
	}
	if st, m := postIdentity(t, s, "/"+tenantID+"/oauth2/v2.0/devicecode", form); st != 200 {
		t.Errorf("single-tenant app through its tenant id: %d %v", st, m)
	}
}

func TestUnknownClientAndScopes(t *testing.T) {
	s := startIdentity(t, Options{})
	q := authorizeQuery("http://localhost:1")
	q.Set("client_id", "another-app")
	if st, loc, page := authorizeOnce(t, s, "organizations", q); st == http.StatusFound || !strings.Contains(page, "AADSTS700016") {
		t.Errorf("unknown client at authorize: %d %v %q; want a page, not a redirect", st, loc, page)
	}
	st, m := postIdentity(t, s, "/organizations/oauth2/v2.0/devicecode", url.Values{"client_id": {"another-app"}, "scope": {"openid"}})
	wantAADSTS(t, "unknown client, devicecode", st, m, 400, "unauthorized_client", "700016")

	for _, c := range []struct {
		scope, code, aadsts string
	}{
		{"openid https://outlook.office.com/Mail.ReadWrite", "invalid_scope", "70011"},
		{"openid Mail.ReadWrite Mail.Frobnicate", "invalid_client", "650053"},
		{"openid https://graph.microsoft.com/Mail.Frobnicate", "invalid_client", "650053"},
		{"", "invalid_request", "900144"},
	} {
		st, m := postIdentity(t, s, "/organizations/oauth2/v2.0/devicecode", url.Values{"client_id": {idTestClient}, "scope": {c.scope}})
		wantAADSTS(t, "devicecode scope "+c.scope, st, m, 400, c.code, c.aadsts)
		q := authorizeQuery("http://localhost:1")
		q.Set("scope", c.scope)
		st, loc, page := authorizeOnce(t, s, "organizations", q)
		if st != http.StatusFound || loc.Query().Get("error") != c.code || !strings.HasPrefix(loc.Query().Get("error_description"), "AADSTS"+c.aadsts+":") {
			t.Errorf("authorize scope %q: %d %v %q; want a redirect with %s", c.scope, st, loc, page, c.code)
		}
	}
	for _, good := range []string{"offline_access openid profile User.Read Mail.ReadWrite Calendars.ReadWrite Contacts.ReadWrite MailboxSettings.ReadWrite",
		"https://graph.microsoft.com/.default", "https://graph.microsoft.com/mail.readwrite offline_access"} {
		if st, m := postIdentity(t, s, "/organizations/oauth2/v2.0/devicecode", url.Values{"client_id": {idTestClient}, "scope": {good}}); st != 200 {
			t.Errorf("scope %q: %d %v", good, st, m)
		}
	}
}

func TestConsentRevoked(t *testing.T) {
	s := startIdentity(t, Options{})
	rt := s.IssueRefreshToken()
	refresh := url.Values{"client_id": {idTestClient}, "grant_type": {"refresh_token"}, "refresh_token": {rt}}
	s.RevokeConsent()
	st, m := postIdentity(t, s, "/organizations/oauth2/v2.0/token", refresh)
	wantAADSTS(t, "refresh without consent", st, m, 400, "invalid_grant", "65001")
	if m["suberror"] != "consent_required" {
		t.Errorf("suberror = %v", m["suberror"])
	}
	if st, _, page := authorizeOnce(t, s, "organizations", authorizeQuery("http://localhost:1")); st == http.StatusFound || !strings.Contains(page, "AADSTS90094") {
		t.Errorf("authorize without consent: %d %q; want the admin approval page", st, page)
	}
	_, dc := postIdentity(t, s, "/organizations/oauth2/v2.0/devicecode", url.Values{"client_id": {idTestClient}, "scope": {"openid offline_access"}})
	if s.ApproveDeviceCode(dc["user_code"].(string)) {
		t.Error("a device code was approved without consent")
	}
	s.GrantConsent()
	if st, m := postIdentity(t, s, "/organizations/oauth2/v2.0/token", refresh); st != 200 || m["access_token"] == nil {
		t.Errorf("refresh after admin consent: %d %v", st, m)
	}
}

// A redirect URI registered under "Web": the browser step works, the
// code cannot be redeemed without a secret.
func TestWebPlatformRedirect(t *testing.T) {
	s := startIdentity(t, Options{RedirectURIs: []string{}, WebRedirect: "http://localhost"})
	st, loc, page := authorizeOnce(t, s, "organizations", authorizeQuery("http://localhost:4242"))
	if st != http.StatusFound || loc.Query().Get("code") == "" {
		t.Fatalf("authorize: %d %v %q", st, loc, page)
	}
	st, m := postIdentity(t, s, "/organizations/oauth2/v2.0/token", url.Values{"client_id": {idTestClient}, "grant_type": {"authorization_code"},
		"code": {loc.Query().Get("code")}, "redirect_uri": {"http://localhost:4242"}, "code_verifier": {"v"}})
	wantAADSTS(t, "code of a Web redirect URI", st, m, 401, "invalid_client", "7000218")
}
