package vpsim

import (
	"context"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// APIPath is where the API lives under the server's URL, as on an
// on-premises install (https://host/vantagepoint/api).
const APIPath = "/vantagepoint/api"

// AccessTokenLifetime is what a token answer's expires_in says, as in
// Deltek's token example.
const AccessTokenLifetime = 1799 * time.Second

// Options configure a simulated server.
type Options struct {
	// Database is the one database the server offers; default "VPDemo".
	Database string
	// ClientID and ClientSecret, when set, must be sent with password
	// grants (the API Authorization of Vantagepoint). Empty accepts any.
	ClientID, ClientSecret string
	// PageSizeMax caps how many records one listing answers, like a
	// server-side limit; 0 means no cap.
	PageSizeMax int
	// Now is the server's clock, for ModDate and token expiry; default
	// time.Now.
	Now func() time.Time
	// Latency is added to every request.
	Latency time.Duration
	// Seed makes generated ids and fault draws reproducible; 0 picks 1.
	Seed uint64
	// Version is what LoginConfig reports; default "2025.2.0".
	Version string
	// Zone is the server's time zone, in which it stamps ModDate (a date
	// without a zone, as Deltek's examples show every date); default
	// UTC-5, so that a client that takes ModDate for UTC is caught.
	Zone *time.Location
	// ServerName is the suffix LoginConfig adds to the database's name;
	// default "VPSQL01".
	ServerName string
	// NoPasswordGrant turns "Allow Password Grant Type" off on the API
	// authorization (Vantagepoint 5.0 and later need it on for the
	// password grant): the grant is refused with unsupported_grant_type
	// (the error code is the simulator's assumption).
	NoPasswordGrant bool
	// ScreenRequired names, per hub, fields that the screen designer made
	// required: a write without them is refused unless it carries
	// requiredFieldValidation=N. Default: an activity needs a ClientID.
	ScreenRequired map[string][]string
}

// Server is a simulated Vantagepoint REST API. It is safe for concurrent
// use; the zero value is not usable, call New.
type Server struct {
	opts Options

	requests, tokenRequests atomic.Int64
	// workflows counts the writes that would have started a workflow.
	workflows atomic.Int64

	mu      sync.Mutex
	rng     *rand.Rand
	tables  map[string]*table // lower-case hub name → table; UDIC areas as "udic/<area>"
	users   map[string]*user  // lower-case username
	access  map[string]tokenGrant
	refresh map[string]string // refresh token → lower-case username
	faults  []*Fault
	lastMod time.Time
	// userRoles and roleAccess are the security roles (roles.go): user →
	// role, role → table key → access, all lower case.
	userRoles  map[string]string
	roleAccess map[string]map[string]Access

	httpSrv *http.Server
	url     string
}

type user struct {
	name, password, employee string
	disabled                 bool
}

type tokenGrant struct {
	user    string
	expires time.Time
}

// New returns a server with the built-in hubs and no data.
func New(o Options) *Server {
	if o.Database == "" {
		o.Database = "VPDemo"
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Seed == 0 {
		o.Seed = 1
	}
	if o.Version == "" {
		o.Version = "2025.2.0"
	}
	if o.Zone == nil {
		o.Zone = time.FixedZone("UTC-5", -5*3600)
	}
	if o.ServerName == "" {
		o.ServerName = "VPSQL01"
	}
	if o.ScreenRequired == nil {
		o.ScreenRequired = map[string][]string{"activity": {"ClientID"}}
	}
	return &Server{
		opts:    o,
		rng:     rand.New(rand.NewPCG(o.Seed, o.Seed^0x9e3779b97f4a7c15)),
		tables:  builtinTables(),
		users:   map[string]*user{},
		access:  map[string]tokenGrant{},
		refresh: map[string]string{},
	}
}

// Start serves on addr (default "127.0.0.1:0": a free loopback port) and
// returns the server's base URL.
func (s *Server) Start(addr string) (string, error) {
	if addr == "" {
		addr = "127.0.0.1:0"
	}
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return "", fmt.Errorf("start simulated Vantagepoint on %q: %w", addr, err)
	}
	if ip := net.ParseIP(host); host != "localhost" && (ip == nil || !ip.IsLoopback()) {
		return "", fmt.Errorf("start simulated Vantagepoint on %q: only loopback addresses are allowed", addr)
	}
	l, err := net.Listen("tcp", addr)
	if err != nil {
		return "", fmt.Errorf("start simulated Vantagepoint: %w", err)
	}
	srv := &http.Server{Handler: s, ReadHeaderTimeout: 10 * time.Second}
	s.mu.Lock()
	s.httpSrv = srv
	s.url = "http://" + l.Addr().String()
	s.mu.Unlock()
	go srv.Serve(l) //nolint:errcheck // Serve returns ErrServerClosed on Close
	return s.url, nil
}

// Close stops a started server and drops its connections.
func (s *Server) Close() {
	s.mu.Lock()
	srv := s.httpSrv
	s.mu.Unlock()
	if srv != nil {
		srv.Close()
	}
}

// URL is the base URL of a started server, "" before Start.
func (s *Server) URL() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.url
}

// APIURL is URL() + APIPath: what a client is configured with.
func (s *Server) APIURL() string { return s.URL() + APIPath }

// Requests is the number of HTTP requests served, token requests included.
func (s *Server) Requests() int64 { return s.requests.Load() }

// TokenRequests is the number of requests to the token endpoint.
func (s *Server) TokenRequests() int64 { return s.tokenRequests.Load() }

// Database is the database the server offers.
func (s *Server) Database() string { return s.opts.Database }

// AddUser adds (or replaces) a user who may sign in with a password grant
// and acts as the employee employeeID.
func (s *Server) AddUser(username, password, employeeID string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.users[strings.ToLower(username)] = &user{name: username, password: password, employee: employeeID}
}

// SetPassword changes a user's password. Tokens already issued stay valid,
// as they do on a real server.
func (s *Server) SetPassword(username, password string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if u := s.users[strings.ToLower(username)]; u != nil {
		u.password = password
	}
}

// DisableUser disables or re-enables a user's login: a disabled user's
// grants fail with invalid_grant, "Your login has been disabled…".
func (s *Server) DisableUser(username string, disabled bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if u := s.users[strings.ToLower(username)]; u != nil {
		u.disabled = disabled
	}
}

// RevokeTokens forgets every access and refresh token issued so far.
func (s *Server) RevokeTokens() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.access = map[string]tokenGrant{}
	s.refresh = map[string]string{}
}

// IssueRefreshToken returns a fresh refresh token for a user, so that tests
// and the demo can hold a token without the password. It returns "" for an
// unknown user.
func (s *Server) IssueRefreshToken(username string) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.users[strings.ToLower(username)] == nil {
		return ""
	}
	t := s.newTokenLocked(24)
	s.refresh[t] = strings.ToLower(username)
	return t
}

// IssueAccessToken returns a bearer token for a user valid for
// AccessTokenLifetime, for tests that skip the token endpoint.
func (s *Server) IssueAccessToken(username string) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.users[strings.ToLower(username)] == nil {
		return ""
	}
	t := s.newTokenLocked(48)
	s.access[t] = tokenGrant{user: strings.ToLower(username), expires: s.opts.Now().Add(AccessTokenLifetime)}
	return t
}

func (s *Server) newTokenLocked(n int) string {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(s.rng.Uint32())
	}
	return hex.EncodeToString(b)
}

// newIDLocked makes a 32-hex-digit upper-case id, as Vantagepoint's
// generated keys (ContactID, ActivityID, UDIC_UID) look.
func (s *Server) newIDLocked() string {
	return strings.ToUpper(fmt.Sprintf("%016x%016x", s.rng.Uint64(), s.rng.Uint64()))
}

// modDateLocked returns the time to stamp a write with: the server's
// clock in its own zone, written without a zone.
func (s *Server) modDateLocked() string {
	now := s.opts.Now().UTC().Truncate(time.Millisecond)
	s.lastMod = now
	return now.In(s.opts.Zone).Format(DateLayout)
}

// Zone is the zone in which the server stamps ModDate.
func (s *Server) Zone() *time.Location { return s.opts.Zone }

// ModTime reads a ModDate the server stamped as the instant it means.
func (s *Server) ModTime(modDate string) (time.Time, error) {
	return time.ParseInLocation(DateLayout, modDate, s.opts.Zone)
}

// WorkflowsStarted is the number of writes that would have started a
// workflow: those sent without startWorkflow=N.
func (s *Server) WorkflowsStarted() int64 { return s.workflows.Load() }

// ServeHTTP answers one API request.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	s.requests.Add(1)
	// The Date header is the server's own clock (in UTC, as HTTP says), so
	// that it agrees with the ModDate the server stamps, fake clock or not.
	w.Header().Set("Date", s.opts.Now().UTC().Format(http.TimeFormat))
	if d := s.opts.Latency; d > 0 {
		if !sleepCtx(r.Context(), d) {
			return
		}
	}
	if s.applyFault(w, r) {
		return
	}
	s.serve(w, r)
}

// serve answers a request that no fault took.
func (s *Server) serve(w http.ResponseWriter, r *http.Request) {
	p, ok := strings.CutPrefix(r.URL.Path, APIPath)
	if !ok {
		writeError(w, http.StatusNotFound, "Not found", "no resource at "+r.URL.Path)
		return
	}
	p = strings.Trim(p, "/")
	segs := strings.Split(p, "/")
	switch {
	case strings.EqualFold(p, "token"):
		s.tokenRequests.Add(1)
		if r.Method != http.MethodPost {
			writeError(w, http.StatusMethodNotAllowed, "Method not allowed", "use POST")
			return
		}
		s.serveToken(w, r)
		return
	case strings.EqualFold(p, "LoginConfig"):
		if r.Method != http.MethodGet {
			writeError(w, http.StatusMethodNotAllowed, "Method not allowed", "use GET")
			return
		}
		s.serveLoginConfig(w, r)
		return
	}
	user, ok := s.authorized(w, r)
	if !ok {
		return
	}
	r = r.WithContext(context.WithValue(r.Context(), userKey{}, user))
	switch {
	case len(segs) == 3 && strings.EqualFold(segs[0], "metadata") && strings.EqualFold(segs[1], "UDIC"):
		s.serveMetadata(w, r, segs[2], true)
	case len(segs) == 2 && strings.EqualFold(segs[0], "metadata"):
		s.serveMetadata(w, r, segs[1], false)
	case len(segs) >= 2 && len(segs) <= 3 && strings.EqualFold(segs[0], "UDIC"):
		id := ""
		if len(segs) == 3 {
			id = segs[2]
		}
		s.serveHub(w, r, "udic/"+strings.ToLower(segs[1]), id, true)
	case len(segs) <= 2 && segs[0] != "":
		id := ""
		if len(segs) == 2 {
			id = segs[1]
		}
		s.serveHub(w, r, strings.ToLower(segs[0]), id, false)
	default:
		writeError(w, http.StatusNotFound, "Not found", "no resource at "+r.URL.Path)
	}
}

func sleepCtx(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}

// writeError answers with the REST error shape {"message","detail"}.
func writeError(w http.ResponseWriter, status int, message, detail string) {
	writeJSON(w, status, map[string]string{"message": message, "detail": detail})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		status, b = http.StatusInternalServerError, []byte(`{"message":"Internal error","detail":"encode"}`)
	}
	writeRaw(w, status, b)
}

func writeRaw(w http.ResponseWriter, status int, b []byte) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	w.Write(b) //nolint:errcheck // the client hung up; nothing to do
}

// userKey carries the signed-in user's name in a request's context.
type userKey struct{}

// authorized checks the bearer token and answers 401 when it is missing,
// unknown or expired; it returns the token's user.
func (s *Server) authorized(w http.ResponseWriter, r *http.Request) (string, bool) {
	h := r.Header.Get("Authorization")
	tok, ok := strings.CutPrefix(h, "Bearer ")
	if !ok {
		tok, ok = strings.CutPrefix(h, "bearer ")
	}
	if !ok || tok == "" {
		writeError(w, http.StatusUnauthorized, "Authorization has been denied for this request.", "no bearer token")
		return "", false
	}
	s.mu.Lock()
	g, found := s.access[tok]
	if found && !s.opts.Now().Before(g.expires) {
		delete(s.access, tok)
		found = false
	}
	name := g.user
	if u := s.users[g.user]; u != nil {
		name = u.name
	}
	s.mu.Unlock()
	if !found {
		writeError(w, http.StatusUnauthorized, "Authorization has been denied for this request.", "the token is invalid or expired")
		return "", false
	}
	return name, true
}

// LoginConfig is the simulator's answer to GET /LoginConfig, as Deltek's
// "Login Configuration" example shows it (Postman collection for
// Vantagepoint 5.0/5.5): the databases as "NAME (server)" strings; the
// languages and the version only when asked for with include=.
type LoginConfig struct {
	Databases              []string        `json:"Databases"`
	Languages              []LoginLanguage `json:"Languages,omitempty"`
	SoftwareVersion        string          `json:"SoftwareVersion,omitempty"`
	DisplaySoftwareVersion string          `json:"DisplaySoftwareVersion,omitempty"`
}

// LoginLanguage is one language offered at sign-in.
type LoginLanguage struct {
	Culture string `json:"Culture"`
	Caption string `json:"Caption"`
}

func (s *Server) serveLoginConfig(w http.ResponseWriter, r *http.Request) {
	lc := LoginConfig{Databases: []string{s.opts.Database + " (" + s.opts.ServerName + ")"}}
	if inc := strings.ToLower(r.URL.Query().Get("include")); inc != "" {
		if strings.Contains(inc, "language") {
			lc.Languages = []LoginLanguage{{Culture: "en-US", Caption: "English (United States)"}}
		}
		if strings.Contains(inc, "version") {
			lc.SoftwareVersion = s.opts.Version + ".0"
			lc.DisplaySoftwareVersion = s.opts.Version
		}
	}
	writeJSON(w, http.StatusOK, lc)
}

// tokenError answers with OAuth's error shape, as the fixtures show.
func tokenError(w http.ResponseWriter, code, desc string) {
	m := map[string]string{"error": code}
	if desc != "" {
		m["error_description"] = desc
	}
	writeJSON(w, http.StatusBadRequest, m)
}

func (s *Server) serveToken(w http.ResponseWriter, r *http.Request) {
	if err := r.ParseForm(); err != nil {
		tokenError(w, "invalid_request", "the form cannot be read")
		return
	}
	f := r.PostForm
	s.mu.Lock()
	defer s.mu.Unlock()
	var username string
	switch f.Get("grant_type") {
	case "password":
		if s.opts.ClientID != "" && (f.Get("Client_Id") != s.opts.ClientID || f.Get("client_secret") != s.opts.ClientSecret) {
			tokenError(w, "invalid_client", "The client id or secret is not valid.")
			return
		}
		if s.opts.NoPasswordGrant {
			tokenError(w, "unsupported_grant_type", "The password grant type is not allowed for this client.")
			return
		}
		if !strings.EqualFold(f.Get("database"), s.opts.Database) {
			tokenError(w, "invalid_grant", fmt.Sprintf("The database %q is not available.", f.Get("database")))
			return
		}
		if f.Get("Integrated") == "Y" {
			tokenError(w, "invalid_grant", "Integrated authentication is not enabled.")
			return
		}
		u := s.users[strings.ToLower(f.Get("Username"))]
		if u == nil || u.password != f.Get("Password") {
			tokenError(w, "invalid_grant", "The user name or password is incorrect.")
			return
		}
		if u.disabled {
			tokenError(w, "invalid_grant", "Your login has been disabled.  Please contact your system administrator.")
			return
		}
		username = strings.ToLower(u.name)
	case "refresh_token":
		// The database travels with the refresh grant too, as the public
		// Go client of the API (scjalliance/vantagepoint) sends it.
		if !strings.EqualFold(f.Get("database"), s.opts.Database) {
			tokenError(w, "invalid_grant", fmt.Sprintf("The database %q is not available.", f.Get("database")))
			return
		}
		rt := f.Get("refresh_token")
		name, ok := s.refresh[rt]
		if !ok {
			tokenError(w, "invalid_grant", "The refresh token is invalid or expired.")
			return
		}
		if u := s.users[name]; u == nil || u.disabled {
			tokenError(w, "invalid_grant", "Your login has been disabled.  Please contact your system administrator.")
			return
		}
		// Refresh tokens rotate: the one used is spent. Clients must save
		// the new one at once (docs/behaviour.md §6).
		delete(s.refresh, rt)
		username = name
	case "":
		tokenError(w, "invalid_request", "grant_type is missing")
		return
	default:
		tokenError(w, "unsupported_grant_type", "")
		return
	}
	at := s.newTokenLocked(48)
	rt := s.newTokenLocked(24)
	s.access[at] = tokenGrant{user: username, expires: s.opts.Now().Add(AccessTokenLifetime)}
	s.refresh[rt] = username
	writeJSON(w, http.StatusOK, map[string]any{
		"access_token":  at,
		"token_type":    "bearer",
		"expires_in":    int(AccessTokenLifetime / time.Second),
		"refresh_token": rt,
	})
}
