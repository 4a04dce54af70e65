package graphsim

import (
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	"html"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"golang.org/x/oauth2"
)

// The identity side follows the Microsoft identity platform v2.0 endpoints
// (testdata/fixtures/identity): authorization code with PKCE (the browser step
// consents at once), refresh tokens, and the device-code flow. Tokens are
// opaque random strings; the id_token is an unsigned JWT (alg none), as in the
// device-code fixture, carrying the user's name and UPN.
//
// Refresh tokens rotate: every refresh answers a new one. The old one stays
// valid until RevokeRefreshTokens, as Entra ID's refresh tokens for native
// clients are not single-use; a client must still store the new one.
// Refresh tokens are issued only when the scope includes offline_access,
// as Entra ID does.

const (
	accessTokenLifetime = 3599 * time.Second
	codeLifetime        = 10 * time.Minute
	deviceCodeLifetime  = 15 * time.Minute
)

type authCode struct {
	clientID, redirectURI, challenge, scope string
	expires                                 time.Time
	used                                    bool
	// web: the redirect URI is registered under the "Web" platform, whose
	// codes only a confidential client (with a secret) may redeem.
	web bool
}

type deviceCode struct {
	clientID, userCode, scope string
	expires                   time.Time
	approved, redeemed        bool
}

type authState struct {
	mu      sync.Mutex
	access  map[string]time.Time // token -> expiry
	refresh map[string]string    // token -> scope
	codes   map[string]*authCode
	devices map[string]*deviceCode // by device_code
}

func (a *authState) init() {
	a.access = map[string]time.Time{}
	a.refresh = map[string]string{}
	a.codes = map[string]*authCode{}
	a.devices = map[string]*deviceCode{}
}

// AccessTokenValid reports whether tok is an access token this server issued
// that has not expired.
func (s *Server) AccessTokenValid(tok string) bool {
	s.auth.mu.Lock()
	defer s.auth.mu.Unlock()
	exp, ok := s.auth.access[tok]
	return ok && s.now().Before(exp)
}

// IssueRefreshToken mints a refresh token for the user (scope: Graph mail
// and user read/write plus offline_access) without a browser, for tests and
// the demo.
func (s *Server) IssueRefreshToken() string {
	s.auth.mu.Lock()
	defer s.auth.mu.Unlock()
	t := "0.AAAA" + randomHex(32)
	s.auth.refresh[t] = "https://graph.microsoft.com/Mail.ReadWrite https://graph.microsoft.com/MailboxSettings.ReadWrite https://graph.microsoft.com/User.Read offline_access"
	return t
}

// IssueAccessToken mints an access token valid for 3599 s.
func (s *Server) IssueAccessToken() string {
	s.auth.mu.Lock()
	defer s.auth.mu.Unlock()
	return s.newAccessLocked()
}

func (s *Server) newAccessLocked() string {
	t := "eyJ0eXAiOiJKV1QiLCJub25jZSI6" + randomHex(40)
	s.auth.access[t] = s.now().Add(accessTokenLifetime)
	return t
}

// ExpireAccessTokens makes every access token issued so far invalid (Graph
// then answers 401 InvalidAuthenticationToken), as if their hour had passed.
func (s *Server) ExpireAccessTokens() {
	s.auth.mu.Lock()
	defer s.auth.mu.Unlock()
	clear(s.auth.access)
}

// RevokeRefreshTokens revokes every refresh token (a password reset, an
// admin revocation): refreshing then fails with invalid_grant. Access tokens
// keep working until they expire, as in Entra ID.
func (s *Server) RevokeRefreshTokens() {
	s.auth.mu.Lock()
	defer s.auth.mu.Unlock()
	clear(s.auth.refresh)
}

// ApproveDeviceCode completes the user's side of a device-code sign-in; it
// reports whether the user code is pending.
func (s *Server) ApproveDeviceCode(userCode string) bool {
	s.auth.mu.Lock()
	defer s.auth.mu.Unlock()
	for _, d := range s.auth.devices {
		if strings.EqualFold(d.userCode, userCode) && !d.redeemed && s.now().Before(d.expires) && !s.consentRevoked.Load() {
			d.approved = true
			return true
		}
	}
	return false
}

func (s *Server) serveIdentity(w http.ResponseWriter, r *http.Request) {
	segs := splitPath(r.URL.Path)
	switch {
	case len(segs) == 4 && segs[1] == "oauth2" && segs[2] == "v2.0" && segs[3] == "authorize" && r.Method == http.MethodGet:
		s.authorize(w, r, segs[0])
	case len(segs) == 4 && segs[1] == "oauth2" && segs[2] == "v2.0" && segs[3] == "token" && r.Method == http.MethodPost:
		s.token(w, r, segs[0])
	case len(segs) == 4 && segs[1] == "oauth2" && segs[2] == "v2.0" && segs[3] == "devicecode" && r.Method == http.MethodPost:
		s.deviceAuthorization(w, r, segs[0])
	case len(segs) == 4 && segs[1] == "v2.0" && segs[2] == ".well-known" && segs[3] == "openid-configuration" && r.Method == http.MethodGet:
		s.openIDConfiguration(w, segs[0])
	case len(segs) == 4 && segs[1] == "discovery" && segs[2] == "v2.0" && segs[3] == "keys":
		writeJSON(w, http.StatusOK, []byte(`{"keys":[]}`))
	case len(segs) == 1 && segs[0] == "devicelogin":
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		fmt.Fprint(w, "<!doctype html><title>Enter code</title><p>graphsim: device codes are approved with Server.ApproveDeviceCode.</p>")
	default:
		http.NotFound(w, r)
	}
}

func (s *Server) openIDConfiguration(w http.ResponseWriter, tenant string) {
	if _, aadsts, msg, refused := s.tenantRefused(tenant); refused && aadsts == 90002 {
		// The document exists for every real tenant, whatever the app;
		// an unknown one answers invalid_tenant.
		s.identityError(w, http.StatusBadRequest, "invalid_tenant", aadsts, msg)
		return
	}
	base := s.URL() + "/" + tenant
	writeJSON(w, http.StatusOK, mustJSON(map[string]any{
		"token_endpoint":                        base + "/oauth2/v2.0/token",
		"token_endpoint_auth_methods_supported": []string{"client_secret_post", "private_key_jwt", "client_secret_basic"},
		"jwks_uri":                              base + "/discovery/v2.0/keys",
		"response_modes_supported":              []string{"query", "fragment", "form_post"},
		"subject_types_supported":               []string{"pairwise"},
		"id_token_signing_alg_values_supported": []string{"RS256"},
		"response_types_supported":              []string{"code", "id_token", "code id_token", "id_token token"},
		"scopes_supported":                      []string{"openid", "profile", "email", "offline_access"},
		"issuer":                                s.URL() + "/{tenantid}/v2.0",
		"request_uri_parameter_supported":       false,
		"userinfo_endpoint":                     s.URL() + "/oidc/userinfo",
		"authorization_endpoint":                base + "/oauth2/v2.0/authorize",
		"device_authorization_endpoint":         base + "/oauth2/v2.0/devicecode",
		"http_logout_supported":                 true,
		"frontchannel_logout_supported":         true,
		"end_session_endpoint":                  base + "/oauth2/v2.0/logout",
		"claims_supported":                      []string{"sub", "iss", "aud", "exp", "iat", "auth_time", "acr", "nonce", "preferred_username", "name", "tid", "ver", "at_hash", "c_hash", "email"},
		"kerberos_endpoint":                     base + "/kerberos",
		"tenant_region_scope":                   "NA",
		"cloud_instance_name":                   "microsoftonline.com",
		"cloud_graph_host_name":                 "graph.windows.net",
		"msgraph_host":                          "graph.microsoft.com",
		"rbac_url":                              "https://pas.windows.net",
	}))
}

// identityError writes the token endpoint's error body
// (token-error-invalid-scope.json) with status 400 unless told otherwise.
func (s *Server) identityError(w http.ResponseWriter, status int, code string, aadsts int, msg string) {
	s.identityErrorSub(w, status, code, aadsts, msg, "")
}

// identityErrorSub is identityError with Entra's suberror field
// (consent_required, bad_token, …) when suberror is set.
func (s *Server) identityErrorSub(w http.ResponseWriter, status int, code string, aadsts int, msg, suberror string) {
	now := s.now().UTC().Format("2006-01-02 15:04:05Z")
	trace, corr := newUUID(), newUUID()
	desc := fmt.Sprintf("AADSTS%d: %s\r\nTrace ID: %s\r\nCorrelation ID: %s\r\nTimestamp: %s", aadsts, msg, trace, corr, now)
	body := map[string]any{
		"error": code, "error_description": desc, "error_codes": []int{aadsts},
		"timestamp": now, "trace_id": trace, "correlation_id": corr,
		"error_uri": s.URL() + fmt.Sprintf("/error?code=%d", aadsts),
	}
	if suberror != "" {
		body["suberror"] = suberror
	}
	w.Header().Set("Cache-Control", "no-store, no-cache")
	writeJSON(w, status, mustJSON(body))
}

// consentError answers a grant after the app's permissions were revoked:
// 400 invalid_grant, AADSTS65001, suberror consent_required.
func (s *Server) consentError(w http.ResponseWriter, clientID string) {
	s.identityErrorSub(w, http.StatusBadRequest, "invalid_grant", 65001, fmt.Sprintf(consentMissing, clientID), "consent_required")
}

// RevokeConsent removes the organization's grant of the app's permissions
// in a tenant where users may not consent themselves (Entra ID >
// Enterprise applications > the app > Permissions, with user consent off):
// refresh and code redemption answer AADSTS65001, the sign-in page shows
// "Need admin approval" (AADSTS90094), a device code cannot be approved.
// GrantConsent restores it, as "Grant admin consent" does.
func (s *Server) RevokeConsent() { s.consentRevoked.Store(true) }

// GrantConsent grants the app's permissions for the organization again.
func (s *Server) GrantConsent() { s.consentRevoked.Store(false) }

// registeredRedirect reports whether a redirect URI matches one of the app
// registration's, and the URI the browser is sent back to. Entra matches
// scheme, host and path; for a loopback URI the port is ignored on both
// sides, so a registered http://localhost matches http://localhost:53682
// but never http://127.0.0.1:53682 ("Redirect URI (reply URL)
// restrictions", localhost exceptions:
// https://learn.microsoft.com/entra/identity-platform/reply-url). Paths
// are case-sensitive. A URI without a path is sent back with a trailing
// slash (same page: "http://localhost:7071 is returned as
// http://localhost:7071/"), so an empty path and "/" are the same path.
// Only "Mobile and desktop applications" URIs are listed here; see
// Options.WebRedirect for one registered under "Web".
func (s *Server) registeredRedirect(u string) (string, bool) {
	return matchRedirect(s.opts.RedirectURIs, u)
}

func matchRedirect(registered []string, u string) (string, bool) {
	p, err := url.Parse(u)
	if err != nil || p.Fragment != "" || p.User != nil {
		return "", false
	}
	for _, reg := range registered {
		r, err := url.Parse(reg)
		if err != nil || r.Scheme != p.Scheme || !strings.EqualFold(r.Hostname(), p.Hostname()) ||
			cleanPath(r.Path) != cleanPath(p.Path) || r.RawQuery != p.RawQuery {
			continue
		}
		loopback := p.Scheme == "http" && isLoopbackHost(p.Hostname())
		if !loopback && (p.Scheme != "https" || r.Port() != p.Port()) {
			continue
		}
		back := *p
		back.Path = cleanPath(p.Path)
		return back.String(), true
	}
	return "", false
}

func cleanPath(p string) string {
	if p == "" {
		return "/"
	}
	return p
}

func isLoopbackHost(h string) bool {
	if strings.EqualFold(h, "localhost") {
		return true
	}
	ip := net.ParseIP(h)
	return ip != nil && ip.IsLoopback()
}

// The tenant the simulated app is registered in. Its id is the one the
// id_token's tid claim carries.
const tenantID = "9188040d-6c67-4c5b-b112-36a304b66dad"

// tenantRefused answers for the tenant segment of an identity endpoint, as
// Entra does (https://learn.microsoft.com/entra/identity-platform/reference-error-codes):
//   - a tenant that is neither organizations, common, the tenant's id nor
//     one of its domains does not exist: AADSTS90002, invalid_request
//     (invalid_tenant on the OpenID configuration document);
//   - consumers is the Microsoft account directory, where a work app is not
//     found: AADSTS700016, unauthorized_client;
//   - a single-tenant registration used through a multi-tenant authority
//     (organizations, common): AADSTS50194, invalid_request ("Application
//     is not configured as a multi-tenant application").
//
// ok is false when the tenant is refused; code, aadsts and msg then say how.
func (s *Server) tenantRefused(tenant string) (code string, aadsts int, msg string, refused bool) {
	switch {
	case strings.EqualFold(tenant, "consumers"):
		return "unauthorized_client", 700016, fmt.Sprintf("Application with identifier '%s' was not found in the directory 'Microsoft Accounts'. This can happen if the application has not been installed by the administrator of the tenant or consented to by any user in the tenant. You may have sent your authentication request to the wrong tenant.", s.opts.ClientID), true
	case tenant == "organizations" || tenant == "common":
		if s.singleTenant.Load() {
			return "invalid_request", 50194, fmt.Sprintf("Application '%s'(vpconnect) is not configured as a multi-tenant application. Usage of the /%s endpoint is not supported for such applications created after '10/15/2018'. Use a tenant-specific endpoint or configure the application to be multi-tenant.", s.opts.ClientID, tenant), true
		}
		return "", 0, "", false
	case s.knownTenant(tenant):
		return "", 0, "", false
	}
	return "invalid_request", 90002, fmt.Sprintf("Tenant '%s' not found. Check to make sure you have the correct tenant ID and are signing into the correct cloud. Check with your subscription administrator, this may happen if there are no active subscriptions for the tenant.", tenant), true
}

// knownTenant reports whether name is the tenant's id or one of its
// domains (the user's sign-in and mail domains, Options.TenantDomains).
func (s *Server) knownTenant(name string) bool {
	if strings.EqualFold(name, tenantID) {
		return true
	}
	s.mu.Lock()
	u := s.user
	s.mu.Unlock()
	domains := append([]string{domainOf(u.UserPrincipalName), domainOf(u.Mail)}, s.opts.TenantDomains...)
	for _, d := range domains {
		if d != "" && strings.EqualFold(d, name) {
			return true
		}
	}
	return false
}

func domainOf(addr string) string {
	_, d, _ := strings.Cut(addr, "@")
	return d
}

// Graph's delegated permissions the simulator knows (those of docs/behaviour.md §11 and
// their read-only and shared siblings), and the OpenID Connect scopes.
var graphPermissions = map[string]bool{
	"user.read": true, "user.readbasic.all": true, "mail.read": true, "mail.readwrite": true, "mail.send": true,
	"mail.read.shared": true, "mail.readwrite.shared": true, "calendars.read": true, "calendars.readwrite": true,
	"calendars.read.shared": true, "calendars.readwrite.shared": true, "contacts.read": true, "contacts.readwrite": true,
	"mailboxsettings.read": true, "mailboxsettings.readwrite": true, ".default": true,
}

var oidcScopes = map[string]bool{"openid": true, "profile": true, "email": true, "offline_access": true}

// scopeRefused checks a scope parameter as Entra does
// (https://learn.microsoft.com/entra/identity-platform/reference-error-codes,
// and the answer in testdata/fixtures/identity/token-error-invalid-scope.json):
//   - none at all: AADSTS900144 (invalid_request);
//   - a resource other than Microsoft Graph: AADSTS70011 (invalid_scope,
//     "The provided value for the input parameter 'scope' is not valid");
//   - a permission Graph does not have: AADSTS650053 (invalid_client,
//     "asked for scope '…' that doesn't exist on the resource").
func scopeRefused(scope string) (code string, aadsts int, msg string, refused bool) {
	if strings.TrimSpace(scope) == "" {
		return "invalid_request", 900144, "The request body must contain the following parameter: 'scope'.", true
	}
	for _, sc := range strings.Fields(scope) {
		l := strings.ToLower(sc)
		if oidcScopes[l] {
			continue
		}
		perm := l
		if i := strings.LastIndex(l, "/"); i >= 0 {
			if res := l[:i]; res != "https://graph.microsoft.com" && res != "00000003-0000-0000-c000-000000000000" {
				return "invalid_scope", 70011, fmt.Sprintf("The provided value for the input parameter 'scope' is not valid. The scope %s is not valid.", sc), true
			}
			perm = l[i+1:]
		}
		if !graphPermissions[perm] {
			return "invalid_client", 650053, fmt.Sprintf("The application 'vpconnect' asked for scope '%s' that doesn't exist on the resource '00000003-0000-0000-c000-000000000000'. Contact the app vendor.", sc), true
		}
	}
	return "", 0, "", false
}

// consentMissing is AADSTS65001 with its suberror, as the token endpoint
// answers a refresh after the app's permissions were revoked
// (MicrosoftDocs/azure-docs issue 39189 shows the body).
const consentMissing = "The user or administrator has not consented to use the application with ID '%s' named 'vpconnect'. Send an interactive authorization request for this user and resource."

// authorize plays the browser step: the user is signed in and consents at
// once, and the browser is redirected with a code. Errors follow the
// authorization code flow page
// (https://learn.microsoft.com/entra/identity-platform/v2-oauth2-auth-code-flow#error-response):
// what makes the redirect URI unusable (an unknown tenant or app, an
// unregistered redirect URI) or needs an administrator is an error page,
// never a redirect; a wrong request with a usable redirect URI is sent back
// to it with error and error_description.
func (s *Server) authorize(w http.ResponseWriter, r *http.Request, tenant string) {
	q := r.URL.Query()
	redirect := q.Get("redirect_uri")
	page := func(aadsts int, msg string) {
		// Entra's error page names the code; its status is not part of
		// any contract, so clients (and the agent's check) read the code.
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		w.WriteHeader(http.StatusBadRequest)
		fmt.Fprintf(w, "<!doctype html><title>Sign in to your account</title><p>AADSTS%d: %s</p>", aadsts, html.EscapeString(msg))
	}
	if _, aadsts, msg, refused := s.tenantRefused(tenant); refused {
		page(aadsts, msg)
		return
	}
	if s.opts.ClientID != "" && q.Get("client_id") != s.opts.ClientID {
		page(700016, fmt.Sprintf("Application with identifier '%s' was not found in the directory. This can happen if the application has not been installed by the administrator of the tenant or consented to by any user in the tenant.", q.Get("client_id")))
		return
	}
	back, ok := s.registeredRedirect(redirect)
	web := false
	if !ok && s.opts.WebRedirect != "" {
		// Registered under "Web": the browser step works the same; the
		// code's redemption does not (token).
		back, ok = matchRedirect([]string{s.opts.WebRedirect}, redirect)
		web = ok
	}
	if !ok {
		page(50011, fmt.Sprintf("The redirect URI '%s' specified in the request does not match the redirect URIs configured for the application '%s'. Make sure the redirect URI sent in the request matches one added to your application in the Azure portal.", redirect, q.Get("client_id")))
		return
	}
	if s.consentRevoked.Load() {
		// Users may not consent and nobody has granted the permissions
		// for the organization: the "Need admin approval" page.
		page(90094, "The grant requires admin permission.")
		return
	}
	fail := func(code, desc string) {
		v := url.Values{"error": {code}, "error_description": {desc}}
		if st := q.Get("state"); st != "" {
			v.Set("state", st)
		}
		http.Redirect(w, r, withQuery(back, v), http.StatusFound)
	}
	code, aadsts, msg, badScope := scopeRefused(q.Get("scope"))
	switch {
	case q.Get("response_type") != "code":
		fail("unsupported_response_type", "AADSTS70005: response_type 'code' is required by this simulator.")
	case q.Get("code_challenge") == "" || q.Get("code_challenge_method") != "S256":
		fail("invalid_request", "AADSTS9002325: Proof Key for Code Exchange is required, with code_challenge_method S256.")
	case badScope:
		fail(code, fmt.Sprintf("AADSTS%d: %s", aadsts, msg))
	case q.Get("response_mode") != "" && q.Get("response_mode") != "query":
		fail("invalid_request", "AADSTS900144: this simulator answers with response_mode=query only.")
	default:
		code := "1.AQ" + randomHex(40)
		s.auth.mu.Lock()
		s.auth.codes[code] = &authCode{clientID: q.Get("client_id"), redirectURI: redirect,
			challenge: q.Get("code_challenge"), scope: q.Get("scope"), expires: s.now().Add(codeLifetime), web: web}
		s.auth.mu.Unlock()
		v := url.Values{"code": {code}}
		if st := q.Get("state"); st != "" {
			v.Set("state", st)
		}
		// Entra adds session_state too; clients ignore it.
		v.Set("session_state", newUUID())
		http.Redirect(w, r, withQuery(back, v), http.StatusFound)
	}
}

func withQuery(u string, v url.Values) string {
	if strings.Contains(u, "?") {
		return u + "&" + v.Encode()
	}
	return u + "?" + v.Encode()
}

func (s *Server) token(w http.ResponseWriter, r *http.Request, tenant string) {
	if err := r.ParseForm(); err != nil {
		s.identityError(w, http.StatusBadRequest, "invalid_request", 900144, "The request body must contain the following parameter: 'grant_type'.")
		return
	}
	f := r.PostForm
	clientID := f.Get("client_id")
	if clientID == "" {
		// x/oauth2 may send the client id with HTTP Basic auth.
		if u, _, ok := r.BasicAuth(); ok {
			clientID = u
		}
	}
	if clientID == "" {
		s.identityError(w, http.StatusBadRequest, "invalid_request", 900144, "The request body must contain the following parameter: 'client_id'.")
		return
	}
	if code, aadsts, msg, refused := s.tenantRefused(tenant); refused {
		s.identityError(w, http.StatusBadRequest, code, aadsts, msg)
		return
	}
	if s.opts.ClientID != "" && clientID != s.opts.ClientID {
		s.identityError(w, http.StatusBadRequest, "unauthorized_client", 700016, fmt.Sprintf("Application with identifier '%s' was not found in the directory.", clientID))
		return
	}
	if sc := f.Get("scope"); sc != "" {
		if code, aadsts, msg, refused := scopeRefused(sc); refused {
			s.identityError(w, http.StatusBadRequest, code, aadsts, msg)
			return
		}
	}
	if gt := f.Get("grant_type"); s.consentRevoked.Load() && (gt == "refresh_token" || gt == "authorization_code") {
		s.consentError(w, clientID)
		return
	}
	if s.opts.NoPublicClientFlows && f.Get("grant_type") == "urn:ietf:params:oauth:grant-type:device_code" {
		// A public client without "Allow public client flows" is taken
		// for a confidential one, which must authenticate
		// (https://learn.microsoft.com/entra/identity-platform/v2-oauth2-device-code).
		s.identityError(w, http.StatusUnauthorized, "invalid_client", 7000218, "The request body must contain the following parameter: 'client_assertion' or 'client_secret'.")
		return
	}
	now := s.now()
	s.auth.mu.Lock()
	defer s.auth.mu.Unlock()
	switch gt := f.Get("grant_type"); gt {
	case "authorization_code":
		c, ok := s.auth.codes[f.Get("code")]
		switch {
		case !ok || now.After(c.expires):
			s.identityError(w, http.StatusBadRequest, "invalid_grant", 70008, "The provided authorization code or refresh token has expired due to inactivity. Send a new interactive authorization request for this user and resource.")
		case c.used:
			s.identityError(w, http.StatusBadRequest, "invalid_grant", 54005, "OAuth2 Authorization code was already redeemed, please retry with a new valid code or use an existing refresh token.")
		case c.clientID != clientID:
			s.identityError(w, http.StatusBadRequest, "invalid_grant", 70000, "The provided authorization code was issued to another client.")
		case c.web && f.Get("client_secret") == "" && f.Get("client_assertion") == "":
			// The redirect URI is registered under "Web": its codes are
			// a confidential client's, redeemed with a secret
			// (msgraph-sdk-powershell issue 2127: the browser step
			// succeeds, the redemption answers AADSTS7000218).
			s.identityError(w, http.StatusUnauthorized, "invalid_client", 7000218, "The request body must contain the following parameter: 'client_assertion' or 'client_secret'.")
		case f.Get("redirect_uri") != c.redirectURI:
			s.identityError(w, http.StatusBadRequest, "invalid_grant", 500112, "The reply address does not match the reply address that was used when the code was requested.")
		case f.Get("code_verifier") == "":
			s.identityError(w, http.StatusBadRequest, "invalid_request", 900144, "The request body must contain the following parameter: 'code_verifier'.")
		case pkceChallenge(f.Get("code_verifier")) != c.challenge:
			s.identityError(w, http.StatusBadRequest, "invalid_grant", 501481, "The Code_Verifier does not match the code_challenge supplied in the authorization request.")
		default:
			c.used = true
			s.grantLocked(w, c.scope)
		}
	case "refresh_token":
		scope, ok := s.auth.refresh[f.Get("refresh_token")]
		if !ok {
			s.identityError(w, http.StatusBadRequest, "invalid_grant", 70008, "The provided authorization code or refresh token has expired due to inactivity. Send a new interactive authorization request for this user and resource.")
			return
		}
		if sc := f.Get("scope"); sc != "" {
			scope = sc
			if !hasScope(scope, "offline_access") {
				scope += " offline_access" // a refresh grant keeps offline access
			}
		}
		s.grantLocked(w, scope)
	case "urn:ietf:params:oauth:grant-type:device_code":
		d, ok := s.auth.devices[f.Get("device_code")]
		switch {
		case !ok || d.redeemed:
			s.identityError(w, http.StatusBadRequest, "bad_verification_code", 70019, "Verification code expired.")
		case now.After(d.expires):
			s.identityError(w, http.StatusBadRequest, "expired_token", 70020, "The provided value for the input parameter 'device_code' is not valid. Device code expired.")
		case d.clientID != clientID:
			s.identityError(w, http.StatusBadRequest, "invalid_grant", 70000, "The device code was issued to another client.")
		case !d.approved:
			s.identityError(w, http.StatusBadRequest, "authorization_pending", 70016, "OAuth 2.0 device flow error. Authorization is pending. Continue polling.")
		default:
			d.redeemed = true
			s.grantLocked(w, d.scope)
		}
	case "":
		s.identityError(w, http.StatusBadRequest, "invalid_request", 900144, "The request body must contain the following parameter: 'grant_type'.")
	default:
		s.identityError(w, http.StatusBadRequest, "unsupported_grant_type", 70003, fmt.Sprintf("The app requested an unsupported grant type '%s'.", gt))
	}
}

func hasScope(scope, want string) bool {
	for _, s := range strings.Fields(scope) {
		if strings.EqualFold(s, want) {
			return true
		}
	}
	return false
}

func pkceChallenge(verifier string) string {
	h := sha256.Sum256([]byte(verifier))
	return base64.RawURLEncoding.EncodeToString(h[:])
}

// grantLocked writes a token response (token-response-authcode.json).
func (s *Server) grantLocked(w http.ResponseWriter, scope string) {
	var granted []string
	for _, sc := range strings.Fields(scope) {
		if !strings.EqualFold(sc, "offline_access") {
			granted = append(granted, sc)
		}
	}
	resp := map[string]any{
		"token_type":     "Bearer",
		"scope":          strings.Join(granted, " "),
		"expires_in":     int(accessTokenLifetime / time.Second),
		"ext_expires_in": int(accessTokenLifetime / time.Second),
		"access_token":   s.newAccessLocked(),
	}
	if hasScope(scope, "offline_access") {
		rt := "0.AAAA" + randomHex(32)
		s.auth.refresh[rt] = scope
		resp["refresh_token"] = rt
	}
	if hasScope(scope, "openid") {
		resp["id_token"] = s.idToken()
	}
	w.Header().Set("Cache-Control", "no-store, no-cache")
	writeJSON(w, http.StatusOK, mustJSON(resp))
}

func (s *Server) idToken() string {
	s.mu.Lock()
	u := s.user
	s.mu.Unlock()
	now := s.now()
	hdr := base64.RawURLEncoding.EncodeToString([]byte(`{"typ":"JWT","alg":"none"}`))
	claims := base64.RawURLEncoding.EncodeToString(mustJSON(map[string]any{
		"aud": s.opts.ClientID, "iss": s.URL() + "/9188040d-6c67-4c5b-b112-36a304b66dad/v2.0",
		"iat": now.Unix(), "nbf": now.Unix(), "exp": now.Add(time.Hour).Unix(),
		"name": u.DisplayName, "preferred_username": u.UserPrincipalName, "oid": u.ID,
		"sub": pkceChallenge(u.ID)[:43], "tid": "9188040d-6c67-4c5b-b112-36a304b66dad", "ver": "2.0",
	}))
	return hdr + "." + claims + "."
}

// deviceAuthorization answers POST /devicecode with the documented fields
// (device_code, user_code, verification_uri, expires_in, interval, message).
func (s *Server) deviceAuthorization(w http.ResponseWriter, r *http.Request, tenant string) {
	if err := r.ParseForm(); err != nil || r.PostForm.Get("client_id") == "" {
		s.identityError(w, http.StatusBadRequest, "invalid_request", 900144, "The request body must contain the following parameter: 'client_id'.")
		return
	}
	clientID := r.PostForm.Get("client_id")
	if code, aadsts, msg, refused := s.tenantRefused(tenant); refused {
		s.identityError(w, http.StatusBadRequest, code, aadsts, msg)
		return
	}
	if s.opts.ClientID != "" && clientID != s.opts.ClientID {
		s.identityError(w, http.StatusBadRequest, "unauthorized_client", 700016, fmt.Sprintf("Application with identifier '%s' was not found in the directory.", clientID))
		return
	}
	if code, aadsts, msg, refused := scopeRefused(r.PostForm.Get("scope")); refused {
		s.identityError(w, http.StatusBadRequest, code, aadsts, msg)
		return
	}
	dc := "DAQABAAEAAAD" + randomHex(40)
	uc := strings.ToUpper(randomHex(4))[:8]
	s.auth.mu.Lock()
	s.auth.devices[dc] = &deviceCode{clientID: clientID, userCode: uc, scope: r.PostForm.Get("scope"), expires: s.now().Add(deviceCodeLifetime)}
	s.auth.mu.Unlock()
	verify := s.URL() + "/devicelogin"
	writeJSON(w, http.StatusOK, mustJSON(map[string]any{
		"user_code": uc, "device_code": dc, "verification_uri": verify,
		"expires_in": int(deviceCodeLifetime / time.Second), "interval": int(s.opts.DeviceCodeInterval / time.Second),
		"message": fmt.Sprintf("To sign in, use a web browser to open the page %s and enter the code %s to authenticate.", verify, uc),
	}))
}

// OAuth2Config is an x/oauth2 configuration for this server's identity
// endpoints (tenant "common"), with the scopes the agent asks for. clientID
// "" uses Options.ClientID.
func (s *Server) OAuth2Config(clientID string) *oauth2.Config {
	if clientID == "" {
		clientID = s.opts.ClientID
	}
	if clientID == "" {
		clientID = "00001111-aaaa-2222-bbbb-3333cccc4444"
	}
	base := s.URL() + "/common/oauth2/v2.0"
	return &oauth2.Config{
		ClientID: clientID,
		Endpoint: oauth2.Endpoint{AuthURL: base + "/authorize", TokenURL: base + "/token",
			DeviceAuthURL: base + "/devicecode", AuthStyle: oauth2.AuthStyleInParams},
		Scopes: []string{"offline_access", "https://graph.microsoft.com/Mail.ReadWrite",
			"https://graph.microsoft.com/MailboxSettings.ReadWrite", "https://graph.microsoft.com/User.Read"},
	}
}

// TokenSource yields valid access tokens without any sign-in, for tests and
// benchmarks that exercise Graph, not sign-in.
func (s *Server) TokenSource() oauth2.TokenSource {
	return oauth2.ReuseTokenSource(nil, tokenSourceFunc(func() (*oauth2.Token, error) {
		return &oauth2.Token{AccessToken: s.IssueAccessToken(), TokenType: "Bearer",
			Expiry: s.now().Add(accessTokenLifetime)}, nil
	}))
}

type tokenSourceFunc func() (*oauth2.Token, error)

func (f tokenSourceFunc) Token() (*oauth2.Token, error) { return f() }
