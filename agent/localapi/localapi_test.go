package localapi

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"vpconnect/agent"
	"vpconnect/agent/config"
	"vpconnect/syncer"
	"vpconnect/syncer/store"
)

// testSyncer is an engine that files every tracked e-mail at the next batch.
type testSyncer struct {
	mu     sync.Mutex
	id     int64
	tracks map[string]store.Track
	delay  time.Duration
	err    error // when set, every batch answers it
}

func (f *testSyncer) Run(ctx context.Context, trigger syncer.Trigger) (store.Batch, error) {
	time.Sleep(f.delay)
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.err != nil {
		return store.Batch{}, f.err
	}
	f.id++
	now := time.Now().UTC()
	b := store.Batch{ID: f.id, Trigger: string(trigger), Started: now, Finished: now, Outcome: syncer.OutcomeOK,
		Counts:   map[string]store.Counts{"emails": {Scanned: 10}},
		Requests: map[string]int64{"graph": 3, "vantagepoint": 2}, Issues: []store.Issue{}}
	for id, t := range f.tracks {
		if t.State == store.TrackQueued {
			t.State, t.ActivityID = store.TrackSynced, fmt.Sprintf("ACT%04d", f.id)
			f.tracks[id] = t
			c := b.Counts["emails"]
			c.Created++
			b.Counts["emails"] = c
		}
	}
	return b, nil
}

func (f *testSyncer) TrackEmail(ctx context.Context, t store.Track) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.tracks == nil {
		f.tracks = map[string]store.Track{}
	}
	t.State = store.TrackQueued
	f.tracks[t.MessageID] = t
	return nil
}

func (f *testSyncer) UntrackEmail(ctx context.Context, id string) (store.Track, bool, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	t, ok := f.tracks[id]
	if ok && t.State != store.TrackSynced {
		delete(f.tracks, id)
	}
	return t, ok, nil
}

func (f *testSyncer) TrackStatus(ctx context.Context, id string) (store.Track, bool, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	t, ok := f.tracks[id]
	return t, ok, nil
}

type fakeDirectory struct {
	mu      sync.Mutex
	lookups int
}

func (d *fakeDirectory) Lookup(ctx context.Context, email string) (ContactCard, error) {
	d.mu.Lock()
	d.lookups++
	d.mu.Unlock()
	if email != "bob@client.example" {
		return ContactCard{}, fmt.Errorf("look up %s: %w", email, syncer.ErrNotFound)
	}
	return ContactCard{ContactID: "C1", Name: "Bob Client", Email: email, Firm: &Match{Type: "firm", ID: "F1", Name: "Client Co"},
		Activities: []ActivityLine{}, Projects: []Match{}}, nil
}

func (d *fakeDirectory) Search(ctx context.Context, typ, q string, limit int) ([]Match, error) {
	var out []Match
	for i := range 40 {
		out = append(out, Match{Type: typ, ID: strconv.Itoa(i), Name: q + " " + strconv.Itoa(i)})
	}
	return out, nil
}

const addinOrigin = "https://addin.example.com"

type env struct {
	srv    *Server
	agent  *agent.Agent
	dir    string
	base   string
	secret string
	dirc   *fakeDirectory
}

type envOpt func(*agent.Options, *Options)

// startEnv runs a real agent (over testSyncer) and the server on a free
// loopback port.
func startEnv(t *testing.T, mods ...envOpt) *env {
	t.Helper()
	dir := t.TempDir()
	ts := &testSyncer{}
	cfg := config.Default()
	aopts := agent.Options{Config: cfg, Syncer: ts, Tracker: ts, MailboxStatus: syncer.MailboxInitialized, DataDir: dir,
		Rand: func() float64 { return 0.99 },
		Accounts: agent.Accounts{Microsoft: agent.MicrosoftAccount{User: "dana@example.com"},
			Vantagepoint: agent.VantagepointAccount{URL: "https://vp.example/api", Database: "VP", Employee: "E1"}}}
	d := &fakeDirectory{}
	sopts := Options{Directory: CachedDirectory(d, time.Minute, nil), AllowedOrigins: []string{addinOrigin}, DataDir: dir}
	for _, m := range mods {
		m(&aopts, &sopts)
	}
	a, err := agent.New(aopts)
	if err != nil {
		t.Fatal(err)
	}
	sopts.Backend = a
	s, err := New(sopts)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Listen(); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Add(2)
	go func() { defer wg.Done(); a.Run(ctx) }()
	go func() { defer wg.Done(); s.Serve(ctx) }()
	t.Cleanup(func() { cancel(); wg.Wait() })
	secret, err := ReadSecret(dir)
	if err != nil {
		t.Fatal(err)
	}
	return &env{srv: s, agent: a, dir: dir, base: s.BaseURL(), secret: secret, dirc: d}
}

type req struct {
	method, path, body, ctype, origin, host, token string
	header                                         map[string]string
}

func (e *env) do(t *testing.T, r req) (*http.Response, string) {
	t.Helper()
	if r.method == "" {
		r.method = http.MethodGet
	}
	var body io.Reader
	if r.body != "" {
		body = strings.NewReader(r.body)
	}
	hr, err := http.NewRequest(r.method, e.base+r.path, body)
	if err != nil {
		t.Fatal(err)
	}
	if r.ctype != "" {
		hr.Header.Set("Content-Type", r.ctype)
	}
	if r.origin != "" {
		hr.Header.Set("Origin", r.origin)
	}
	if r.host != "" {
		hr.Host = r.host
	}
	if r.token != "" {
		hr.Header.Set("Authorization", "Bearer "+r.token)
	}
	for k, v := range r.header {
		hr.Header.Set(k, v)
	}
	client := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := client.Do(hr)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	return resp, string(b)
}

func wantCode(t *testing.T, resp *http.Response, body string, status int, code string) {
	t.Helper()
	if resp.StatusCode != status {
		t.Fatalf("%s %s: %d %s; want %d", resp.Request.Method, resp.Request.URL.Path, resp.StatusCode, body, status)
	}
	if code != "" {
		var e ErrorBody
		if err := json.Unmarshal([]byte(body), &e); err != nil || e.Error.Code != code {
			t.Fatalf("%s %s: body %s; want error code %q", resp.Request.Method, resp.Request.URL.Path, body, code)
		}
	}
}

func corsHeaders(h http.Header) []string {
	var out []string
	for k := range h {
		if strings.HasPrefix(strings.ToLower(k), "access-control-") {
			out = append(out, k)
		}
	}
	return out
}

func TestForeignHostIsRefused(t *testing.T) {
	e := startEnv(t)
	for _, p := range []string{"/v1/hello", "/v1/status", "/", "/open?t=x"} {
		resp, body := e.do(t, req{path: p, host: "evil.example", token: e.secret})
		wantCode(t, resp, body, http.StatusForbidden, "forbidden_host")
		resp, body = e.do(t, req{path: p, host: "evil.example:" + strconv.Itoa(e.srv.Port()), token: e.secret})
		wantCode(t, resp, body, http.StatusForbidden, "forbidden_host")
	}
	// Our own names pass.
	for _, h := range []string{"127.0.0.1", "localhost", "[::1]"} {
		resp, body := e.do(t, req{path: "/v1/hello", host: h + ":" + strconv.Itoa(e.srv.Port())})
		wantCode(t, resp, body, http.StatusOK, "")
	}
}

func TestForeignOriginIsRefusedWithoutCORSHeaders(t *testing.T) {
	e := startEnv(t)
	for _, r := range []req{
		{path: "/v1/status", origin: "https://evil.example", token: e.secret},
		{path: "/v1/hello", origin: "https://evil.example"},
		{method: "OPTIONS", path: "/v1/status", origin: "https://evil.example", header: map[string]string{
			"Access-Control-Request-Method": "GET", "Access-Control-Request-Private-Network": "true"}},
		{path: "/v1/status", origin: "https://addin.example.com.evil.example", token: e.secret},
		{path: "/v1/status", origin: "null", token: e.secret},
	} {
		resp, body := e.do(t, r)
		wantCode(t, resp, body, http.StatusForbidden, "forbidden_origin")
		if h := corsHeaders(resp.Header); len(h) > 0 {
			t.Errorf("%s from %s: CORS headers %v on a refusal", r.path, r.origin, h)
		}
	}
	// The allowed origin is echoed exactly, with Vary: Origin, and its
	// preflight (with the Private Network Access header) is answered.
	resp, body := e.do(t, req{method: "OPTIONS", path: "/v1/track", origin: addinOrigin, header: map[string]string{
		"Access-Control-Request-Method": "POST", "Access-Control-Request-Headers": "authorization,content-type",
		"Access-Control-Request-Private-Network": "true"}})
	wantCode(t, resp, body, http.StatusNoContent, "")
	if resp.Header.Get("Access-Control-Allow-Origin") != addinOrigin || resp.Header.Get("Access-Control-Allow-Private-Network") != "true" ||
		!strings.Contains(resp.Header.Get("Vary"), "Origin") || !strings.Contains(resp.Header.Get("Access-Control-Allow-Headers"), "Authorization") {
		t.Fatalf("preflight headers %v", resp.Header)
	}
	resp, _ = e.do(t, req{path: "/v1/hello", origin: addinOrigin})
	if resp.Header.Get("Access-Control-Allow-Origin") != addinOrigin || resp.Header.Get("Vary") != "Origin" {
		t.Fatalf("hello headers %v", resp.Header)
	}
	// An allowed origin still cannot use the page.
	resp, body = e.do(t, req{path: "/", origin: addinOrigin})
	wantCode(t, resp, body, http.StatusForbidden, "forbidden_origin")
}

func TestTokenRequired(t *testing.T) {
	e := startEnv(t)
	for _, tok := range []string{"", "wrong", e.secret + "x", strings.ToUpper(e.secret)} {
		for _, r := range []req{{path: "/v1/status"}, {method: "POST", path: "/v1/sync", ctype: "application/json"},
			{path: "/v1/lookup?email=bob@client.example"}, {method: "POST", path: "/v1/deactivate", ctype: "application/json", body: `{"force":true}`}} {
			r.token = tok
			resp, body := e.do(t, r)
			wantCode(t, resp, body, http.StatusUnauthorized, "unauthorized")
		}
	}
	resp, body := e.do(t, req{path: "/v1/status", token: e.secret})
	wantCode(t, resp, body, http.StatusOK, "")
	var st map[string]any
	if err := json.Unmarshal([]byte(body), &st); err != nil {
		t.Fatal(err)
	}
	// docs/behaviour.md §5.1's status object.
	for _, k := range []string{"state", "mailboxStatus", "syncStatus", "accounts", "lastBatch", "nextBatchAt"} {
		if _, ok := st[k]; !ok {
			t.Errorf("status lacks %q: %s", k, body)
		}
	}
	acc := st["accounts"].(map[string]any)
	for _, k := range []string{"user", "connected"} {
		if _, ok := acc["microsoft"].(map[string]any)[k]; !ok {
			t.Errorf("accounts.microsoft lacks %q", k)
		}
	}
	for _, k := range []string{"url", "database", "employee", "connected"} {
		if _, ok := acc["vantagepoint"].(map[string]any)[k]; !ok {
			t.Errorf("accounts.vantagepoint lacks %q", k)
		}
	}
}

func TestWritesAreJSONOnlyAndSmall(t *testing.T) {
	e := startEnv(t)
	for _, ct := range []string{"text/plain", "application/x-www-form-urlencoded", "multipart/form-data; boundary=x", ""} {
		resp, body := e.do(t, req{method: "POST", path: "/v1/track", ctype: ct, body: `{"messageId":"m1"}`, token: e.secret})
		wantCode(t, resp, body, http.StatusUnsupportedMediaType, "unsupported_media_type")
	}
	big := `{"messageId":"` + strings.Repeat("a", 1<<20) + `"}`
	resp, body := e.do(t, req{method: "POST", path: "/v1/track", ctype: "application/json", body: big, token: e.secret})
	wantCode(t, resp, body, http.StatusRequestEntityTooLarge, "too_large")
	// Without a Content-Length (chunked), the limit still holds.
	pr, pw := io.Pipe()
	go func() { pw.Write([]byte(big)); pw.Close() }()
	hr, _ := http.NewRequest("POST", e.base+"/v1/track", pr)
	hr.Header.Set("Content-Type", "application/json")
	hr.Header.Set("Authorization", "Bearer "+e.secret)
	r2, err := http.DefaultClient.Do(hr)
	if err != nil {
		t.Fatal(err)
	}
	r2.Body.Close()
	if r2.StatusCode != http.StatusRequestEntityTooLarge {
		t.Fatalf("chunked 1 MB: %d", r2.StatusCode)
	}
	for _, b := range []string{`{"messageId":"m1","evil":true}`, `{"messageId":1}`, `{"messageId":"m1"} {}`, `[`} {
		resp, body := e.do(t, req{method: "POST", path: "/v1/track", ctype: "application/json", body: b, token: e.secret})
		wantCode(t, resp, body, http.StatusBadRequest, "invalid_json")
	}
	resp, body = e.do(t, req{method: "POST", path: "/v1/track", ctype: "application/json; charset=utf-8", body: `{"messageId":"m1","project":"P1"}`, token: e.secret})
	wantCode(t, resp, body, http.StatusAccepted, "")
	resp, body = e.do(t, req{method: "PUT", path: "/v1/track", ctype: "application/json", token: e.secret})
	wantCode(t, resp, body, http.StatusMethodNotAllowed, "method_not_allowed")
}

func TestSecurityHeadersOnEveryAnswer(t *testing.T) {
	e := startEnv(t)
	for _, r := range []req{{path: "/v1/hello"}, {path: "/v1/status"}, {path: "/", host: "evil.example"}, {path: "/"},
		{path: "/assets/app.js"}, {path: "/nope"}, {path: "/v1/status", origin: "https://evil.example"}} {
		resp, _ := e.do(t, r)
		if resp.Header.Get("X-Content-Type-Options") != "nosniff" || resp.Header.Get("X-Frame-Options") != "DENY" ||
			!strings.Contains(resp.Header.Get("Content-Security-Policy"), "frame-ancestors 'none'") {
			t.Errorf("%s: headers %v", r.path, resp.Header)
		}
	}
}

func TestListensOnLoopbackOnly(t *testing.T) {
	e := startEnv(t)
	for _, a := range e.srv.Addrs() {
		ip := a.(*net.TCPAddr).IP
		if !ip.IsLoopback() {
			t.Fatalf("listening on %v", a)
		}
	}
	// The port is closed on every other address of this machine.
	addrs, _ := net.InterfaceAddrs()
	tried := 0
	for _, a := range addrs {
		ipn, ok := a.(*net.IPNet)
		if !ok || ipn.IP.IsLoopback() || ipn.IP.IsLinkLocalUnicast() {
			continue
		}
		tried++
		c, err := net.DialTimeout("tcp", net.JoinHostPort(ipn.IP.String(), strconv.Itoa(e.srv.Port())), time.Second)
		if err == nil {
			c.Close()
			t.Fatalf("the API answers on %v", ipn.IP)
		}
	}
	t.Logf("checked %d non-loopback addresses", tried)
}

func TestPortFallbackWhenTaken(t *testing.T) {
	// Find a free block by taking a port and trying from there.
	ln, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	taken := ln.Addr().(*net.TCPAddr).Port
	if taken > 65000 {
		t.Skip("kernel picked a port at the top of the range")
	}
	s, err := New(Options{Backend: nil, Port: taken, DataDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Listen(); err != nil {
		t.Fatal(err)
	}
	defer func() {
		for _, l := range s.listeners {
			l.Close()
		}
	}()
	if s.Port() <= taken || s.Port() > taken+19 {
		t.Fatalf("port %d; want within %d+1…%d+19", s.Port(), taken, taken)
	}
}

func TestSecretFileIsPrivate(t *testing.T) {
	e := startEnv(t)
	for _, f := range []string{SecretFile, RuntimeFile} {
		st, err := os.Stat(filepath.Join(e.dir, f))
		if err != nil || st.Mode().Perm() != 0o600 {
			t.Fatalf("%s: %v %v", f, st, err)
		}
	}
}

func TestPairingApprovedOnceAndBoundToItsOrigin(t *testing.T) {
	e := startEnv(t, func(_ *agent.Options, o *Options) {
		o.AllowedOrigins = append(o.AllowedOrigins, "https://other.example")
	})
	// No origin, or an unlisted one: no pairing.
	resp, body := e.do(t, req{method: "POST", path: "/v1/pair", ctype: "application/json", body: `{"name":"x"}`})
	wantCode(t, resp, body, http.StatusForbidden, "forbidden_origin")
	resp, body = e.do(t, req{method: "POST", path: "/v1/pair", ctype: "text/plain", origin: addinOrigin, body: `{}`})
	wantCode(t, resp, body, http.StatusUnsupportedMediaType, "")

	resp, body = e.do(t, req{method: "POST", path: "/v1/pair", ctype: "application/json", origin: addinOrigin, body: `{"name":"Outlook"}`})
	wantCode(t, resp, body, http.StatusAccepted, "")
	var p PairAnswer
	json.Unmarshal([]byte(body), &p)
	if p.Status != PairPending || p.Token != "" || len(p.ID) < 32 || p.Code == "" {
		t.Fatalf("pair answer %+v", p)
	}
	// Another origin cannot read it; pending has no token.
	resp, body = e.do(t, req{path: "/v1/pair/" + p.ID, origin: "https://other.example"})
	wantCode(t, resp, body, http.StatusNotFound, "not_found")
	resp, body = e.do(t, req{path: "/v1/pair/" + p.ID, origin: addinOrigin})
	wantCode(t, resp, body, http.StatusOK, "")
	// An add-in cannot approve itself; the owner (tray/CLI/page) can.
	c := NewClient(e.base, e.secret)
	pend, err := c.Pairings(context.Background())
	if err != nil || len(pend) != 1 || pend[0].Origin != addinOrigin {
		t.Fatalf("pending %v %v", pend, err)
	}
	if err := c.ApprovePairing(context.Background(), p.Code); err != nil {
		t.Fatal(err)
	}
	resp, body = e.do(t, req{path: "/v1/pair/" + p.ID, origin: addinOrigin})
	wantCode(t, resp, body, http.StatusOK, "")
	json.Unmarshal([]byte(body), &p)
	if p.Status != PairApproved || len(p.Token) < 32 {
		t.Fatalf("approved answer %+v", p)
	}
	// Handed out once.
	resp, body = e.do(t, req{path: "/v1/pair/" + p.ID, origin: addinOrigin})
	wantCode(t, resp, body, http.StatusNotFound, "")
	// The token works from its origin only, and not for owner routes.
	resp, body = e.do(t, req{path: "/v1/status", origin: addinOrigin, token: p.Token})
	wantCode(t, resp, body, http.StatusOK, "")
	resp, body = e.do(t, req{path: "/v1/status", origin: "https://other.example", token: p.Token})
	wantCode(t, resp, body, http.StatusUnauthorized, "")
	resp, body = e.do(t, req{path: "/v1/status", token: p.Token})
	wantCode(t, resp, body, http.StatusUnauthorized, "")
	for _, path := range []string{"/v1/deactivate", "/v1/restart", "/v1/reauthorize"} {
		resp, body = e.do(t, req{method: "POST", path: path, ctype: "application/json", body: `{}`, origin: addinOrigin, token: p.Token})
		wantCode(t, resp, body, http.StatusForbidden, "owner_only")
	}
	// Only the hash is on disk, and it survives a restart.
	raw, _ := os.ReadFile(filepath.Join(e.dir, TokensFile))
	if strings.Contains(string(raw), p.Token) {
		t.Fatal("the token is stored in the clear")
	}
	s2, err := New(Options{DataDir: e.dir, AllowedOrigins: []string{addinOrigin}})
	if err != nil {
		t.Fatal(err)
	}
	hr := httptest.NewRequest("GET", "/v1/status", nil)
	hr.Header.Set("Authorization", "Bearer "+p.Token)
	if !s2.authenticate(hr, addinOrigin, &caller{}) {
		t.Fatal("the paired token is forgotten after a restart")
	}
}

func TestPairingDeniedAndAutoApproved(t *testing.T) {
	e := startEnv(t, func(_ *agent.Options, o *Options) {
		o.AllowedOrigins = append(o.AllowedOrigins, "https://auto.example")
		o.AutoApproveOrigins = []string{"https://auto.example"}
	})
	resp, body := e.do(t, req{method: "POST", path: "/v1/pair", ctype: "application/json", origin: "https://auto.example", body: `{}`})
	var p PairAnswer
	json.Unmarshal([]byte(body), &p)
	if resp.StatusCode != http.StatusAccepted || p.Status != PairApproved {
		t.Fatalf("auto-approve: %d %s", resp.StatusCode, body)
	}
	_, body = e.do(t, req{path: "/v1/pair/" + p.ID, origin: "https://auto.example"})
	json.Unmarshal([]byte(body), &p)
	if p.Token == "" {
		t.Fatalf("no token: %s", body)
	}
	_, body = e.do(t, req{method: "POST", path: "/v1/pair", ctype: "application/json", origin: addinOrigin, body: `{}`})
	json.Unmarshal([]byte(body), &p)
	if err := NewClient(e.base, e.secret).DenyPairing(context.Background(), p.ID); err != nil {
		t.Fatal(err)
	}
	_, body = e.do(t, req{path: "/v1/pair/" + p.ID, origin: addinOrigin})
	p = PairAnswer{}
	json.Unmarshal([]byte(body), &p)
	if p.Status != PairDenied || p.Token != "" {
		t.Fatalf("denied: %s", body)
	}
}

func TestPauseForbiddenByPolicyIs403(t *testing.T) {
	no := false
	e := startEnv(t, func(a *agent.Options, _ *Options) { a.Config.Sync.Enabled = &no })
	for _, p := range []string{"/v1/pause", "/v1/resume"} {
		resp, body := e.do(t, req{method: "POST", path: p, ctype: "application/json", token: e.secret})
		wantCode(t, resp, body, http.StatusForbidden, "disabled_by_policy")
	}
	st, _ := NewClient(e.base, e.secret).Status(context.Background())
	if st.State != agent.StateDisabled {
		t.Fatalf("state %q", st.State)
	}
}

func TestClientSyncTrackLookupSearch(t *testing.T) {
	e := startEnv(t)
	ctx := context.Background()
	c, err := Dial(ctx, e.dir, 0)
	if err != nil {
		t.Fatal(err)
	}
	a, err := c.Sync(ctx, true)
	if err != nil || a.Result == nil || a.Result.Outcome != "ok" || a.Batch != a.Result.ID {
		t.Fatalf("sync: %+v %v", a, err)
	}
	resp, body := e.do(t, req{method: "POST", path: "/v1/sync", ctype: "application/json", token: e.secret})
	wantCode(t, resp, body, http.StatusAccepted, "")
	if !strings.Contains(body, `"batch":`) {
		t.Fatalf("sync answer %s", body)
	}
	resp, body = e.do(t, req{method: "POST", path: "/v1/track", ctype: "application/json", token: e.secret, body: `{"messageId":"AAMkAD/x+y==","project":"P1"}`})
	wantCode(t, resp, body, http.StatusAccepted, "")
	deadline := time.Now().Add(10 * time.Second)
	for {
		resp, body = e.do(t, req{path: "/v1/track/AAMkAD%2Fx+y==", token: e.secret})
		if strings.Contains(body, `"synced"`) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("track status: %d %s", resp.StatusCode, body)
		}
		time.Sleep(20 * time.Millisecond)
	}
	resp, body = e.do(t, req{path: "/v1/track/unknown", token: e.secret})
	wantCode(t, resp, body, http.StatusNotFound, "not_found")
	// Untracking a filed e-mail says where its activity is; an unknown one
	// is not found.
	resp, body = e.do(t, req{method: "POST", path: "/v1/untrack", ctype: "application/json", token: e.secret, body: `{"messageId":"AAMkAD/x+y=="}`})
	wantCode(t, resp, body, http.StatusOK, "")
	if !strings.Contains(body, `"state":"synced"`) || !strings.Contains(body, `"activityId":"ACT`) {
		t.Errorf("untrack of a filed e-mail: %s", body)
	}
	resp, body = e.do(t, req{method: "POST", path: "/v1/untrack", ctype: "application/json", token: e.secret, body: `{"messageId":"unknown"}`})
	wantCode(t, resp, body, http.StatusNotFound, "not_found")
	resp, body = e.do(t, req{method: "POST", path: "/v1/untrack", ctype: "application/json", token: e.secret, body: `{}`})
	wantCode(t, resp, body, http.StatusBadRequest, "invalid_request")

	for range 3 {
		resp, body = e.do(t, req{path: "/v1/lookup?email=bob@client.example", token: e.secret})
		wantCode(t, resp, body, http.StatusOK, "")
	}
	if e.dirc.lookups != 1 {
		t.Fatalf("%d look-ups reached Vantagepoint; the cache should answer repeats", e.dirc.lookups)
	}
	resp, body = e.do(t, req{path: "/v1/lookup?email=nobody@x.example", token: e.secret})
	wantCode(t, resp, body, http.StatusNotFound, "not_found")
	resp, body = e.do(t, req{path: "/v1/lookup?email=", token: e.secret})
	wantCode(t, resp, body, http.StatusBadRequest, "invalid_request")
	resp, body = e.do(t, req{path: "/v1/search?type=project&q=Bridge", token: e.secret})
	wantCode(t, resp, body, http.StatusOK, "")
	var sr struct{ Results []Match }
	json.Unmarshal([]byte(body), &sr)
	if len(sr.Results) != MaxResults {
		t.Fatalf("%d results; want at most %d", len(sr.Results), MaxResults)
	}
	resp, body = e.do(t, req{path: "/v1/search?type=employee&q=x", token: e.secret})
	wantCode(t, resp, body, http.StatusBadRequest, "invalid_request")
}

// The page's session: a browser-session cookie, and the page secret, given
// once in the fragment of the /open redirect and never rendered by the
// server; every /ui request needs both.
func TestSyncOptionsSessionAndPageSecret(t *testing.T) {
	e := startEnv(t)
	resp, body := e.do(t, req{path: "/"})
	if resp.StatusCode != http.StatusUnauthorized || !strings.Contains(body, "vpconnect options") {
		t.Fatalf("page without session: %d", resp.StatusCode)
	}
	u, err := NewClient(e.base, e.secret).OpenURL(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	path := strings.TrimPrefix(u, e.base)
	resp, _ = e.do(t, req{path: path})
	loc := resp.Header.Get("Location")
	secret, ok := strings.CutPrefix(loc, "/#s=")
	if resp.StatusCode != http.StatusSeeOther || !ok || len(secret) != 64 {
		t.Fatalf("open: %d, Location %q", resp.StatusCode, loc)
	}
	ck := resp.Cookies()
	if len(ck) != 1 || !ck[0].HttpOnly || ck[0].SameSite != http.SameSiteStrictMode || ck[0].MaxAge != 0 || !ck[0].Expires.IsZero() {
		t.Fatalf("cookie %+v", ck)
	}
	raw := resp.Header.Get("Set-Cookie")
	if !strings.Contains(raw, "HttpOnly") || !strings.Contains(raw, "SameSite=Strict") ||
		strings.Contains(raw, "Max-Age") || strings.Contains(raw, "Expires") || strings.Contains(raw, secret) {
		t.Fatalf("Set-Cookie %q: want a browser-session cookie without the page secret", raw)
	}
	cookie := ck[0].Name + "=" + ck[0].Value
	// One time only.
	resp, _ = e.do(t, req{path: path})
	if resp.StatusCode != http.StatusUnauthorized {
		t.Fatalf("second open: %d", resp.StatusCode)
	}
	// The cookie gets the shell, which carries no secret.
	resp, body = e.do(t, req{path: "/", header: map[string]string{"Cookie": cookie}})
	if resp.StatusCode != 200 || !strings.Contains(body, "app.js") || strings.Contains(body, secret) {
		t.Fatalf("page: %d", resp.StatusCode)
	}
	act := `{"action":"sync"}`
	withCookie := map[string]string{"Cookie": cookie}
	for _, h := range []map[string]string{withCookie, {"Cookie": cookie, PageSecretHeader: ""},
		{"Cookie": cookie, PageSecretHeader: strings.ToUpper(secret)}, {"Cookie": cookie, "X-CSRF-Token": secret}} {
		resp, body = e.do(t, req{method: "POST", path: "/ui/action", ctype: "application/json", body: act, header: h})
		wantCode(t, resp, body, http.StatusForbidden, "page_secret")
		resp, body = e.do(t, req{path: "/ui/state", header: h})
		wantCode(t, resp, body, http.StatusForbidden, "page_secret")
		resp, body = e.do(t, req{path: "/ui/events", header: h})
		wantCode(t, resp, body, http.StatusForbidden, "page_secret")
	}
	resp, body = e.do(t, req{method: "POST", path: "/ui/action", ctype: "application/json", body: act, header: map[string]string{PageSecretHeader: secret}})
	wantCode(t, resp, body, http.StatusUnauthorized, "no_session")
	both := map[string]string{"Cookie": cookie, PageSecretHeader: secret}
	resp, body = e.do(t, req{method: "POST", path: "/ui/action", ctype: "text/plain", body: act, header: both})
	wantCode(t, resp, body, http.StatusUnsupportedMediaType, "")
	resp, body = e.do(t, req{method: "POST", path: "/ui/action", ctype: "application/json", body: act, header: both})
	wantCode(t, resp, body, http.StatusOK, "")
	resp, body = e.do(t, req{path: "/ui/state", header: both})
	wantCode(t, resp, body, http.StatusOK, "")
	if strings.Contains(body, secret) {
		t.Fatal("the state carries the page secret")
	}
}

// A session ends sessionIdle after its last use, and sessionMax after it
// began however much it is used.
func TestPageSessionLifetime(t *testing.T) {
	var mu sync.Mutex
	now := time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	advance := func(d time.Duration) { mu.Lock(); now = now.Add(d); mu.Unlock() }
	e := startEnv(t, func(_ *agent.Options, o *Options) { o.Now = clock })
	state := func(h map[string]string) int {
		resp, _ := e.do(t, req{path: "/ui/state", header: h})
		return resp.StatusCode
	}
	cookie, secret := e.pageSession(t)
	h := map[string]string{"Cookie": cookie, PageSecretHeader: secret}
	advance(sessionIdle - time.Second)
	if got := state(h); got != http.StatusOK {
		t.Fatalf("used just within the idle time: %d", got)
	}
	advance(sessionIdle - time.Second)
	if got := state(h); got != http.StatusOK {
		t.Fatalf("used again within the idle time: %d", got)
	}
	advance(sessionIdle + time.Second)
	if got := state(h); got != http.StatusUnauthorized {
		t.Fatalf("idle too long: %d", got)
	}
	cookie, secret = e.pageSession(t)
	h = map[string]string{"Cookie": cookie, PageSecretHeader: secret}
	for used := time.Duration(0); used+sessionIdle/2 <= sessionMax; used += sessionIdle / 2 {
		advance(sessionIdle / 2)
		if got := state(h); got != http.StatusOK {
			t.Fatalf("in use for %v: %d", used, got)
		}
	}
	advance(sessionIdle / 2)
	if got := state(h); got != http.StatusUnauthorized {
		t.Fatalf("past the session's longest life: %d", got)
	}
}

// pageSession opens the Sync Options page through its one-time address and
// returns the session cookie and the page secret from the redirect.
func (e *env) pageSession(t *testing.T) (cookie, secret string) {
	t.Helper()
	u, err := NewClient(e.base, e.secret).OpenURL(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	resp, _ := e.do(t, req{path: strings.TrimPrefix(u, e.base)})
	ck := resp.Cookies()
	secret, ok := strings.CutPrefix(resp.Header.Get("Location"), "/#s=")
	if len(ck) != 1 || !ok {
		t.Fatalf("open: %d, cookies %v, Location %q", resp.StatusCode, ck, resp.Header.Get("Location"))
	}
	return ck[0].Name + "=" + ck[0].Value, secret
}

// The empty-side guard's held-back deletions are applied only when the user
// confirms them on the page, for the type named, and a batch runs at once.
func TestConfirmDeletesFromThePage(t *testing.T) {
	var confirmed []string
	e := startEnv(t, func(a *agent.Options, _ *Options) {
		a.Hooks.ConfirmDeletes = func(ctx context.Context, typ string) error {
			confirmed = append(confirmed, typ)
			return nil
		}
	})
	cookie, secret := e.pageSession(t)
	h := map[string]string{"Cookie": cookie, PageSecretHeader: secret}
	resp, body := e.do(t, req{method: "POST", path: "/ui/action", ctype: "application/json", body: `{"action":"confirm-deletes","type":"emails"}`, header: h})
	wantCode(t, resp, body, http.StatusBadRequest, "invalid_request")
	if len(confirmed) != 0 {
		t.Fatalf("deletions of e-mails confirmed: %v", confirmed)
	}
	before := e.agent.Status().LastBatch
	resp, body = e.do(t, req{method: "POST", path: "/ui/action", ctype: "application/json", body: `{"action":"confirm-deletes","type":"contacts"}`, header: h})
	wantCode(t, resp, body, http.StatusOK, "")
	if len(confirmed) != 1 || confirmed[0] != "contacts" {
		t.Fatalf("confirmed %v; want [contacts]", confirmed)
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		s := e.agent.Status()
		if s.LastBatch != nil && (before == nil || s.LastBatch.ID > before.ID) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("no batch ran after the confirmation")
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// The tray answers held-back deletions over POST /v1/deletions: the
// owner's confirm and refuse reach the agent for the type named; an
// unknown answer or type is refused before anything is done, and a
// caller without the owner's secret gets nothing done.
func TestOwnerAnswersHeldDeletions(t *testing.T) {
	var answers []string
	e := startEnv(t, func(a *agent.Options, _ *Options) {
		a.Hooks.ConfirmDeletes = func(ctx context.Context, typ string) error {
			answers = append(answers, "confirm "+typ)
			return nil
		}
		a.Hooks.RefuseDeletes = func(ctx context.Context, typ string) error {
			answers = append(answers, "refuse "+typ)
			return nil
		}
	})
	post := func(token, body string) (*http.Response, string) {
		return e.do(t, req{method: "POST", path: "/v1/deletions", ctype: "application/json", body: body, token: token})
	}
	resp, body := post("", `{"type":"contacts","answer":"confirm"}`)
	if resp.StatusCode != http.StatusUnauthorized && resp.StatusCode != http.StatusForbidden {
		t.Fatalf("without the owner's secret: %d %s", resp.StatusCode, body)
	}
	resp, body = post(e.secret, `{"type":"contacts","answer":"maybe"}`)
	wantCode(t, resp, body, http.StatusBadRequest, "invalid_request")
	resp, body = post(e.secret, `{"type":"emails","answer":"refuse"}`)
	wantCode(t, resp, body, http.StatusBadRequest, "invalid_request")
	if len(answers) != 0 {
		t.Fatalf("answers reached the agent: %v", answers)
	}
	resp, body = post(e.secret, `{"type":"events","answer":"refuse"}`)
	wantCode(t, resp, body, http.StatusOK, "")
	resp, body = post(e.secret, `{"type":"contacts","answer":"confirm"}`)
	wantCode(t, resp, body, http.StatusOK, "")
	if strings.Join(answers, ",") != "refuse events,confirm contacts" {
		t.Fatalf("answers %v", answers)
	}
}

// The owner's event stream (the tray) carries the pending add-in pairings at
// once and on each change, so the tray needs no polling; a paired add-in's
// stream carries status only.
func TestOwnersEventStreamCarriesPairings(t *testing.T) {
	e := startEnv(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	c, err := Dial(ctx, e.dir, e.srv.Port())
	if err != nil {
		t.Fatal(err)
	}
	events, err := c.WatchEvents(ctx)
	if err != nil {
		t.Fatal(err)
	}
	next := func(what string, ok func(Event) bool) Event {
		t.Helper()
		deadline := time.After(10 * time.Second)
		for {
			select {
			case ev, open := <-events:
				if !open {
					t.Fatalf("the stream ended waiting for %s", what)
				}
				if ok(ev) {
					return ev
				}
			case <-deadline:
				t.Fatalf("no %s on the owner's stream", what)
			}
		}
	}
	next("the empty pairing list", func(ev Event) bool { return ev.Pairings != nil && len(ev.Pairings) == 0 })
	next("a status", func(ev Event) bool { return ev.Status != nil })

	resp, body := e.do(t, req{method: "POST", path: "/v1/pair", ctype: "application/json", origin: addinOrigin, body: `{"name":"Outlook"}`})
	wantCode(t, resp, body, http.StatusAccepted, "")
	var p PairAnswer
	json.Unmarshal([]byte(body), &p)
	ev := next("the new pairing", func(ev Event) bool { return len(ev.Pairings) == 1 })
	if ev.Pairings[0].ID != p.ID || ev.Pairings[0].Origin != addinOrigin || ev.Pairings[0].Name != "Outlook" {
		t.Fatalf("pairing on the stream %+v; want %+v", ev.Pairings[0], p)
	}
	if err := e.srv.Approve(p.Code); err != nil {
		t.Fatal(err)
	}
	next("the approval", func(ev Event) bool { return ev.Pairings != nil && len(ev.Pairings) == 0 })

	// The add-in's own stream: status, never the pairing list.
	resp, body = e.do(t, req{path: "/v1/pair/" + p.ID, origin: addinOrigin})
	wantCode(t, resp, body, http.StatusOK, "")
	json.Unmarshal([]byte(body), &p)
	addin := &Client{base: c.base, secret: p.Token, hc: &http.Client{Transport: originTransport{addinOrigin}}}
	actx, acancel := context.WithTimeout(ctx, 2*time.Second)
	defer acancel()
	aev, err := addin.WatchEvents(actx)
	if err != nil {
		t.Fatal(err)
	}
	sawStatus := false
	for ev := range aev {
		if ev.Pairings != nil {
			t.Fatal("an add-in's stream carried the pairing list")
		}
		sawStatus = sawStatus || ev.Status != nil
	}
	if !sawStatus {
		t.Fatal("the add-in's stream carried no status")
	}
}

// originTransport sends every request with the add-in's Origin.
type originTransport struct{ origin string }

func (o originTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	r = r.Clone(r.Context())
	r.Header.Set("Origin", o.origin)
	return http.DefaultTransport.RoundTrip(r)
}
