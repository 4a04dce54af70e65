package localapi

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"vpconnect/agent"
)

// testClock is a clock the test moves.
type testClock struct {
	mu  sync.Mutex
	now time.Time
}

func newTestClock() *testClock { return &testClock{now: time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)} }

func (c *testClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *testClock) advance(d time.Duration) {
	c.mu.Lock()
	c.now = c.now.Add(d)
	c.mu.Unlock()
}

// pairAs asks to pair from origin over a real connection (the owner's).
func (e *env) pairAs(t *testing.T, origin string) (int, PairAnswer) {
	t.Helper()
	resp, body := e.do(t, req{method: "POST", path: "/v1/pair", ctype: "application/json", origin: origin, body: `{"name":"Outlook"}`})
	var p PairAnswer
	if resp.StatusCode == http.StatusAccepted {
		if err := json.Unmarshal([]byte(body), &p); err != nil {
			t.Fatal(err)
		}
	}
	return resp.StatusCode, p
}

// collect fetches an approved pairing's token, as the add-in does.
func (e *env) collect(t *testing.T, p PairAnswer, origin string) string {
	t.Helper()
	resp, body := e.do(t, req{path: "/v1/pair/" + p.ID, origin: origin})
	wantCode(t, resp, body, http.StatusOK, "")
	var a PairAnswer
	json.Unmarshal([]byte(body), &a)
	if a.Status != PairApproved || a.Token == "" {
		t.Fatalf("pairing %s: %s", p.ID, body)
	}
	return a.Token
}

func storedTokens(t *testing.T, dir string) []tokenEntry {
	t.Helper()
	ts, _, err := loadTokens(dir)
	if err != nil {
		t.Fatal(err)
	}
	return ts
}

// An auto-approved add-in that pairs again and again keeps at most
// maxTokensPerOrigin tokens: each new one replaces the oldest, in memory and
// in the file, and the replaced tokens are refused. Another origin's are
// untouched.
func TestPairedAddinsAreCappedPerOrigin(t *testing.T) {
	const auto = "https://auto.example"
	clock := newTestClock()
	e := startEnv(t, func(_ *agent.Options, o *Options) {
		o.Now = clock.Now
		o.AllowedOrigins = append(o.AllowedOrigins, auto)
		o.AutoApproveOrigins = []string{auto}
	})
	_, p := e.pairAs(t, addinOrigin)
	if err := e.srv.Approve(p.Code); err != nil {
		t.Fatal(err)
	}
	other := e.collect(t, p, addinOrigin)
	var tokens []string
	for i := range 4 * pairsPerWindow {
		if i > 0 && i%pairsPerWindow == 0 {
			clock.advance(pairWindow) // past the rate limit
		}
		clock.advance(time.Second)
		status, p := e.pairAs(t, auto)
		if status != http.StatusAccepted || p.Status != PairApproved {
			t.Fatalf("auto-approved pairing %d: %d %+v", i, status, p)
		}
		tokens = append(tokens, e.collect(t, p, auto))
		if n := len(storedTokens(t, e.dir)); n > maxTokensPerOrigin+1 {
			t.Fatalf("after %d pairings the file holds %d tokens", i+1, n)
		}
	}
	for i, tok := range tokens {
		resp, _ := e.do(t, req{path: "/v1/status", origin: auto, token: tok})
		kept := i >= len(tokens)-maxTokensPerOrigin
		if (resp.StatusCode == http.StatusOK) != kept {
			t.Errorf("token %d of %d: %d (kept: %v)", i+1, len(tokens), resp.StatusCode, kept)
		}
	}
	resp, body := e.do(t, req{path: "/v1/status", origin: addinOrigin, token: other})
	wantCode(t, resp, body, http.StatusOK, "")
	list := e.srv.Addins()
	stored := storedTokens(t, e.dir)
	if len(list) != maxTokensPerOrigin+1 || len(stored) != len(list) {
		t.Fatalf("listed %d, stored %d; want %d", len(list), len(stored), maxTokensPerOrigin+1)
	}
}

// A token file from before the cap (2,001 tokens of one origin, no ids) is
// trimmed to the newest maxTokensPerOrigin, given ids, and written back.
func TestOldTokenFileIsTrimmed(t *testing.T) {
	dir := t.TempDir()
	start := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	var ts []tokenEntry
	var newest []string
	for i := range 2001 {
		tok := "token-" + strconv.Itoa(i)
		e := newTokenEntry(tok, addinOrigin, "Outlook", start.Add(time.Duration(i)*time.Minute))
		e.ID = ""
		ts = append(ts, e)
		if i >= 2001-maxTokensPerOrigin {
			newest = append(newest, tok)
		}
	}
	slices.Reverse(ts) // the order in the file does not matter
	if err := saveTokens(dir, ts); err != nil {
		t.Fatal(err)
	}
	s, err := New(Options{DataDir: dir, AllowedOrigins: []string{addinOrigin}})
	if err != nil {
		t.Fatal(err)
	}
	if a := s.Addins(); len(a) != maxTokensPerOrigin || a[0].ID == "" {
		t.Fatalf("kept %+v", a)
	}
	for _, tok := range newest {
		r := httptest.NewRequest("GET", "/v1/status", nil)
		r.Header.Set("Authorization", "Bearer "+tok)
		if !s.authenticate(r, addinOrigin, &caller{}) {
			t.Errorf("%s, one of the newest, is refused", tok)
		}
	}
	if stored := storedTokens(t, dir); len(stored) != maxTokensPerOrigin || stored[0].ID == "" {
		t.Fatalf("the file holds %d tokens", len(stored))
	}
}

// Nobody jams pairing for everyone: a flood from one origin is capped in
// pending requests and rate-limited, while another origin pairs at once;
// a flood from connections whose user is unknown does not hold back the
// owner's own; and after the window the flooded origin pairs again.
func TestPairingCannotBeJammed(t *testing.T) {
	const flooded = "https://flooded.example"
	clock := newTestClock()
	e := startEnv(t, func(_ *agent.Options, o *Options) {
		o.Now = clock.Now
		o.AllowedOrigins = append(o.AllowedOrigins, flooded)
	})
	accepted, limited := 0, 0
	for range 3 * pairsPerWindow {
		resp, body := e.do(t, req{method: "POST", path: "/v1/pair", ctype: "application/json", origin: flooded, body: `{}`})
		switch resp.StatusCode {
		case http.StatusAccepted:
			accepted++
		case http.StatusTooManyRequests:
			limited++
			if ra, _ := strconv.Atoi(resp.Header.Get("Retry-After")); ra < 1 || ra > int(pairWindow/time.Second)+1 {
				t.Fatalf("Retry-After %q", resp.Header.Get("Retry-After"))
			}
		default:
			t.Fatalf("flood: %d %s", resp.StatusCode, body)
		}
	}
	if accepted != pairsPerWindow || limited != 2*pairsPerWindow {
		t.Fatalf("flood: %d accepted, %d limited; want %d and %d", accepted, limited, pairsPerWindow, 2*pairsPerWindow)
	}
	n := 0
	for _, p := range e.srv.Pending() {
		if p.Origin == flooded {
			n++
		}
	}
	if n != maxPendingPerOrigin {
		t.Fatalf("%d pending from the flooded origin; want %d", n, maxPendingPerOrigin)
	}
	// Another origin is not held back.
	status, p := e.pairAs(t, addinOrigin)
	if status != http.StatusAccepted {
		t.Fatalf("the add-in's pairing during the flood: %d", status)
	}
	if err := e.srv.Approve(p.Code); err != nil {
		t.Fatal(err)
	}
	e.collect(t, p, addinOrigin)

	// Connections of an unknown user use up their own allowance only.
	for i := range pairsPerWindow + 1 {
		r := httptest.NewRequest("POST", "/v1/pair", strings.NewReader(`{}`))
		r.Host = "127.0.0.1:" + strconv.Itoa(e.srv.Port())
		r.Header.Set("Origin", addinOrigin)
		r.Header.Set("Content-Type", "application/json")
		w := httptest.NewRecorder()
		e.srv.ServeHTTP(w, r)
		want := http.StatusAccepted
		if i == pairsPerWindow {
			want = http.StatusTooManyRequests
		}
		if w.Code != want {
			t.Fatalf("unknown user's request %d: %d; want %d", i+1, w.Code, want)
		}
	}
	if status, _ := e.pairAs(t, addinOrigin); status != http.StatusAccepted {
		t.Fatalf("the owner's add-in after an unknown user's flood: %d", status)
	}

	// The window passes: the flooded origin's add-in pairs again.
	clock.advance(pairWindow)
	status, p = e.pairAs(t, flooded)
	if status != http.StatusAccepted {
		t.Fatalf("after the window: %d", status)
	}
	if err := e.srv.Approve(p.Code); err != nil {
		t.Fatal(err)
	}
	e.collect(t, p, flooded)
}

// The owner approves by typing the add-in's code: a request made by
// another program, listed just like the add-in's, is not approved by it,
// a wrong or malformed code approves nothing, and clicking (the former
// approve route) is gone.
func TestApprovalNeedsTheAddinsCode(t *testing.T) {
	e := startEnv(t)
	_, fake := e.pairAs(t, addinOrigin)
	_, real := e.pairAs(t, addinOrigin)
	pend := e.srv.Pending()
	if len(pend) != 2 || pend[0].Name != pend[1].Name || pend[0].Origin != pend[1].Origin {
		t.Fatalf("pending %+v", pend)
	}
	if raw, _ := json.Marshal(pend); strings.Contains(string(raw), real.Code) || strings.Contains(string(raw), `"code"`) {
		t.Fatalf("the owner's list carries the codes: %s", raw)
	}
	var wrong string
	for _, c := range []string{"000-000", "111-111", "222-222"} {
		if c != real.Code && c != fake.Code {
			wrong = c
			break
		}
	}
	owner := NewClient(e.base, e.secret)
	for _, code := range []string{wrong, "", "12345", "1234567", "abc-def", real.Code + "0", strings.ReplaceAll(real.Code, "-", "+")} {
		resp, body := e.do(t, req{method: "POST", path: "/v1/pairings/approve", ctype: "application/json", token: e.secret,
			body: `{"code":"` + code + `"}`})
		wantCode(t, resp, body, http.StatusForbidden, "wrong_code")
	}
	cookie, secret := e.pageSession(t)
	resp, body := e.do(t, req{method: "POST", path: "/ui/action", ctype: "application/json", body: `{"action":"approve","code":"` + wrong + `"}`,
		header: map[string]string{"Cookie": cookie, PageSecretHeader: secret}})
	wantCode(t, resp, body, http.StatusForbidden, "wrong_code")
	resp, body = e.do(t, req{method: "POST", path: "/v1/pair/" + fake.ID + "/approve", ctype: "application/json", token: e.secret})
	wantCode(t, resp, body, http.StatusNotFound, "not_found")
	if n := len(e.srv.Pending()); n != 2 || len(e.srv.Addins()) != 0 {
		t.Fatalf("after wrong codes: %d pending, %d paired", n, len(e.srv.Addins()))
	}
	// Typed without the dash, as people do.
	if err := owner.ApprovePairing(t.Context(), strings.ReplaceAll(real.Code, "-", "")); err != nil {
		t.Fatal(err)
	}
	e.collect(t, real, addinOrigin)
	resp, body = e.do(t, req{path: "/v1/pair/" + fake.ID, origin: addinOrigin})
	var f PairAnswer
	json.Unmarshal([]byte(body), &f)
	if resp.StatusCode != http.StatusOK || f.Status != PairPending || f.Token != "" {
		t.Fatalf("the other request after the approval: %d %s", resp.StatusCode, body)
	}
	// The same code twice approves nothing more.
	if err := owner.ApprovePairing(t.Context(), real.Code); err == nil {
		t.Fatal("a used code approved again")
	}
}

// Many pairings, approvals and revocations at once: the per-origin caps and
// the rate limit hold exactly, and the token file ends as memory is.
func TestConcurrentPairingKeepsCapsAndFile(t *testing.T) {
	const auto = "https://auto.example"
	e := startEnv(t, func(_ *agent.Options, o *Options) {
		o.Now = newTestClock().Now // one instant: the rate limit counts every request
		o.AllowedOrigins = append(o.AllowedOrigins, auto)
		o.AutoApproveOrigins = []string{auto}
	})
	var mu sync.Mutex
	got := map[string]map[int]int{auto: {}, addinOrigin: {}}
	var wg sync.WaitGroup
	for i := range 2 * pairsPerWindow {
		for _, origin := range []string{auto, addinOrigin} {
			wg.Go(func() {
				hr, _ := http.NewRequest("POST", e.base+"/v1/pair", strings.NewReader(`{"name":"n`+strconv.Itoa(i)+`"}`))
				hr.Header.Set("Origin", origin)
				hr.Header.Set("Content-Type", "application/json")
				resp, err := http.DefaultClient.Do(hr)
				if err != nil {
					t.Error(err)
					return
				}
				var p PairAnswer
				json.NewDecoder(resp.Body).Decode(&p)
				resp.Body.Close()
				mu.Lock()
				got[origin][resp.StatusCode]++
				mu.Unlock()
				if resp.StatusCode != http.StatusAccepted || origin == auto {
					return
				}
				// Approving may find the request replaced by newer ones.
				if err := e.srv.Approve(p.Code); err != nil && err != ErrWrongCode {
					t.Error(err)
				}
			})
		}
		wg.Go(func() {
			if a := e.srv.Addins(); len(a) > 0 {
				if err := e.srv.Revoke(a[len(a)/2].ID); err != nil && err != ErrNoAddin {
					t.Error(err)
				}
			}
		})
	}
	wg.Wait()
	for origin, codes := range got {
		if codes[http.StatusAccepted] != pairsPerWindow || codes[http.StatusTooManyRequests] != pairsPerWindow {
			t.Errorf("%s: answers %v; want %d accepted and %d limited", origin, codes, pairsPerWindow, pairsPerWindow)
		}
	}
	per := map[string]int{}
	var ids []string
	for _, a := range e.srv.Addins() {
		per[a.Origin]++
		ids = append(ids, a.ID)
	}
	for origin, n := range per {
		if n > maxTokensPerOrigin {
			t.Errorf("%s has %d tokens", origin, n)
		}
	}
	var stored []string
	for _, s := range storedTokens(t, e.dir) {
		stored = append(stored, s.ID)
	}
	slices.Sort(ids)
	slices.Sort(stored)
	if !slices.Equal(ids, stored) {
		t.Errorf("memory %v, file %v", ids, stored)
	}
	if fi, err := os.Stat(filepath.Join(e.dir, TokensFile)); err == nil && fi.Mode().Perm() != 0o600 {
		t.Errorf("the token file is %v", fi.Mode().Perm())
	}
}

// A revoked add-in's open event stream ends, and its token is refused.
func TestRevokedAddinsStreamEnds(t *testing.T) {
	e := startEnv(t)
	_, p := e.pairAs(t, addinOrigin)
	if err := e.srv.Approve(p.Code); err != nil {
		t.Fatal(err)
	}
	tok := e.collect(t, p, addinOrigin)
	addin := &Client{base: e.base, secret: tok, hc: &http.Client{Transport: originTransport{addinOrigin}}}
	events, err := addin.WatchEvents(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if ev := <-events; ev.Status == nil {
		t.Fatalf("first event %+v", ev)
	}
	if err := e.srv.Revoke(e.srv.Addins()[0].ID); err != nil {
		t.Fatal(err)
	}
	for range events {
		// Status snapshots sent before the revocation; then the end.
	}
	resp, body := e.do(t, req{path: "/v1/status", origin: addinOrigin, token: tok})
	wantCode(t, resp, body, http.StatusUnauthorized, "unauthorized")
}
