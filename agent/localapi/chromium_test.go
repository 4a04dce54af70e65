//go:build linux

package localapi

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"vpconnect/agent"
	"vpconnect/internal/chromiumtest"
	"vpconnect/syncer"
	"vpconnect/syncer/store"
)

// addinPage is the stand-in for the Outlook add-in: a page that pairs with
// the agent and calls it across origins, as the add-in's task pane does.
const addinPage = `<!doctype html><html><head><title>add-in</title></head><body>add-in</body></html>`

// startPage serves addinPage on a loopback port of its own: another origin.
func startPage(t *testing.T) (origin string, port int) {
	t.Helper()
	ln, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html")
		w.Write([]byte(addinPage))
	})}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	port = ln.Addr().(*net.TCPAddr).Port
	return fmt.Sprintf("http://127.0.0.1:%d", port), port
}

// allowLocalNetworkAccess installs the managed Chromium policy that lets
// the given origins reach loopback (docs/behaviour.md §5.3: the Local Network Access
// permission, granted by IT for the add-in's origin), and removes it after.
func allowLocalNetworkAccess(t *testing.T, origins ...string) {
	t.Helper()
	chromiumtest.LockPolicies(t, true)
	dir := "/etc/chromium/policies/managed"
	if err := os.MkdirAll(dir, 0o755); err != nil {
		if os.Getenv("VPCONNECT_TEST_SECRET_SERVICE") != "" {
			t.Fatalf("install the Chromium policy (CI runs as root): %v", err)
		}
		t.Skipf("cannot install the Chromium policy (run as root): %v", err)
	}
	b, _ := json.Marshal(map[string]any{"LocalNetworkAccessAllowedForUrls": origins})
	f := filepath.Join(dir, fmt.Sprintf("vpconnect-test-%d.json", os.Getpid()))
	if err := os.WriteFile(f, b, 0o644); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.Remove(f) })
}

// TestAddinPairsAndCallsAcrossOriginsInChromium: a page from a second
// loopback origin, treated by Chromium as a public site and allowed to reach
// the local network by policy, pairs (the user approves), then reads status
// and tracks an e-mail across origins. The same page from an origin missing
// from allowedOrigins is refused: our CORS answer, not the browser's Local
// Network Access gate, stops it (its origin is allowed by the policy too).
func TestAddinPairsAndCallsAcrossOriginsInChromium(t *testing.T) {
	chromiumtest.Path(t)
	listed, listedPort := startPage(t)
	unlisted, unlistedPort := startPage(t)
	allowLocalNetworkAccess(t, listed, unlisted)
	e := startEnv(t, func(_ *agent.Options, o *Options) { o.AllowedOrigins = []string{listed} })
	b := chromiumtest.Start(t, fmt.Sprintf("--ip-address-space-overrides=127.0.0.1:%d=public,127.0.0.1:%d=public", listedPort, unlistedPort))

	b.Navigate(t, listed+"/")
	api := e.base
	var pair PairAnswer
	b.Eval(t, fmt.Sprintf(`fetch(%q + "/v1/pair", {method: "POST", headers: {"Content-Type": "application/json"},
		body: JSON.stringify({name: "Outlook add-in (test)"})}).then(r => r.json())`, api), &pair)
	if pair.Status != PairPending || pair.ID == "" {
		t.Fatalf("pair: %+v", pair)
	}
	// The user approves in Sync Options (the owner's API is what the page
	// and the tray use).
	pend := e.srv.Pending()
	if len(pend) != 1 || pend[0].Origin != listed || pend[0].ID != pair.ID {
		t.Fatalf("pending %+v", pend)
	}
	if err := NewClient(e.base, e.secret).ApprovePairing(context.Background(), pair.Code); err != nil {
		t.Fatal(err)
	}
	var out struct {
		Token       string
		Again       int
		State       string
		TrackStatus int
		Track       TrackAnswer
	}
	b.Eval(t, fmt.Sprintf(`(async () => {
		const api = %q;
		const p = await (await fetch(api + "/v1/pair/%s")).json();
		const again = (await fetch(api + "/v1/pair/%s")).status;
		const auth = {"Authorization": "Bearer " + p.token};
		const st = await (await fetch(api + "/v1/status", {headers: auth})).json();
		const tr = await fetch(api + "/v1/track", {method: "POST",
			headers: Object.assign({"Content-Type": "application/json"}, auth),
			body: JSON.stringify({messageId: "AAMkADtest=", project: "2003005.00"})});
		let track = {};
		for (let i = 0; i < 100; i++) {
			track = await (await fetch(api + "/v1/track/" + encodeURIComponent("AAMkADtest="), {headers: auth})).json();
			if (track.state === "synced") break;
			await new Promise(r => setTimeout(r, 50));
		}
		return {token: p.token || "", again: again, state: st.state, trackStatus: tr.status, track: track};
	})()`, api, pair.ID, pair.ID), &out)
	if len(out.Token) < 32 || out.Again != 404 || out.State != agent.StateActive || out.TrackStatus != 202 || out.Track.State != "synced" || out.Track.ActivityID == "" {
		t.Fatalf("cross-origin calls: %+v", out)
	}

	// The unlisted origin: the browser lets the request out (policy), our
	// server answers 403 without CORS headers, so the page sees a failure.
	b.Navigate(t, unlisted+"/")
	var refused string
	b.Eval(t, fmt.Sprintf(`fetch(%q + "/v1/hello").then(r => "answered " + r.status, e => "refused: " + e.message)`, api), &refused)
	if !strings.HasPrefix(refused, "refused") {
		t.Fatalf("unlisted origin: %s", refused)
	}
	b.Eval(t, fmt.Sprintf(`fetch(%q + "/v1/pair", {method: "POST", headers: {"Content-Type": "application/json"}, body: "{}"}).then(r => "answered " + r.status, e => "refused: " + e.message)`, api), &refused)
	if !strings.HasPrefix(refused, "refused") {
		t.Fatalf("unlisted origin pairing: %s", refused)
	}
	if n := len(e.srv.Pending()); n != 0 {
		t.Fatalf("the unlisted origin left %d pairing requests", n)
	}
}

// TestSyncOptionsPageInChromium walks the page as the user does: open it
// through the one-time address, see the state, press Sync now, see the
// batch appear. The screenshot is kept in testdata/artifacts.
func TestSyncOptionsPageInChromium(t *testing.T) {
	chromiumtest.Path(t)
	e := startEnv(t)
	b := chromiumtest.Start(t)
	u, err := NewClient(e.base, e.secret).OpenURL(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	b.Navigate(t, u)
	var href string
	b.Eval(t, "location.href", &href)
	if href != e.base+"/" {
		t.Fatalf("after the one-time address the page is at %s", href)
	}
	b.WaitJS(t, `document.getElementById("state-badge").textContent === "Active"`, 10*time.Second)
	b.WaitJS(t, `document.getElementById("ms-user").textContent === "dana@example.com"`, 5*time.Second)
	b.WaitJS(t, `document.getElementById("batch-summary").textContent === "No batch yet."`, 5*time.Second)
	b.Eval(t, `document.getElementById("btn-sync").click(), true`, nil)
	b.WaitJS(t, `document.getElementById("batch-summary").textContent.startsWith("Batch 1 (manual)")`, 10*time.Second)
	b.WaitJS(t, `document.querySelector("#counts tbody tr th")?.textContent === "emails"`, 5*time.Second)
	// The address cannot be used twice, even by the same browser.
	var status int
	b.Eval(t, fmt.Sprintf(`fetch(%q).then(r => r.status)`, strings.TrimPrefix(u, e.base)), &status)
	if status != http.StatusUnauthorized {
		t.Fatalf("second use of the one-time address: %d", status)
	}
	dir := filepath.Join("..", "..", "testdata", "artifacts")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	shot := filepath.Join(dir, "sync-options.png")
	b.Screenshot(t, shot)
	t.Logf("screenshot: %s", shot)
}

// guardHistory plays the state store after the empty-side guard held back
// the deletions of contacts, until the user confirms them.
type guardHistory struct {
	mu        sync.Mutex
	confirmed bool
}

func (g *guardHistory) LastBatch(ctx context.Context) (store.Batch, bool, error) {
	return store.Batch{}, false, nil
}

func (g *guardHistory) OpenIssues(ctx context.Context) ([]store.Issue, error) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.confirmed {
		return nil, nil
	}
	return []store.Issue{{Type: "contacts", Side: "mailbox", Item: "deletions held back", Attempts: 1, FirstSeen: time.Now().UTC(),
		Reason: "12 of 14 synced contacts disappeared from Outlook in one batch; no deletion was applied."}}, nil
}

func (g *guardHistory) Batches(ctx context.Context, since time.Time) ([]store.Batch, error) {
	return nil, nil
}

// Held-back deletions are answered on the page, either way: each button
// asks first, and its answer reaches the agent for the type held back.
func TestConfirmDeletionsInChromium(t *testing.T) {
	chromiumtest.Path(t)
	for _, c := range []struct{ button, answer string }{
		{"Confirm these deletions", "confirm"},
		{"Keep them", "refuse"},
	} {
		t.Run(c.answer, func(t *testing.T) {
			g := &guardHistory{}
			var answered atomic.Value
			answer := func(verb string) func(context.Context, string) error {
				return func(ctx context.Context, typ string) error {
					answered.Store(verb + " " + typ)
					g.mu.Lock()
					g.confirmed = true
					g.mu.Unlock()
					return nil
				}
			}
			e := startEnv(t, func(a *agent.Options, _ *Options) {
				a.History = g
				a.Hooks.ConfirmDeletes, a.Hooks.RefuseDeletes = answer("confirm"), answer("refuse")
			})
			b := chromiumtest.Start(t)
			u, err := NewClient(e.base, e.secret).OpenURL(context.Background())
			if err != nil {
				t.Fatal(err)
			}
			b.Navigate(t, u)
			b.WaitJS(t, `document.getElementById("state-badge").textContent !== ""`, 10*time.Second)
			find := fmt.Sprintf(`[...document.querySelectorAll("#issues button")].find(b => b.textContent === %q)`, c.button)
			b.WaitJS(t, find+` !== undefined`, 10*time.Second)
			// The page asks first; the test answers yes.
			b.Eval(t, `window.confirm = () => true, `+find+`.click(), true`, nil)
			b.WaitJS(t, `document.querySelectorAll("#issues li").length === 0`, 10*time.Second)
			if got, _ := answered.Load().(string); got != c.answer+" contacts" {
				t.Fatalf("answered %q; want %s contacts", got, c.answer)
			}
		})
	}
}

// TestCookieReplayedFromAnotherPortIsUselessInChromium: cookies ignore
// ports, so when the owner, with Sync Options open, is led to a page served
// by another program on another loopback port, the browser hands that
// program the session cookie. The program's page then tries the page's
// actions from the browser, and the program replays the cookie itself: it
// can neither read the state, nor approve a pairing (even knowing the
// add-in's code), nor deactivate. The owner's tab, back on Sync Options,
// still works: a wrong code is refused, the add-in's code approves it, and
// the paired add-in can be disconnected.
func TestCookieReplayedFromAnotherPortIsUselessInChromium(t *testing.T) {
	chromiumtest.Path(t)
	e := startEnv(t)
	var mu sync.Mutex
	var cookies []string
	ln, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	// An add-in asks to pair; the attacker is even told its code.
	resp, body := e.do(t, req{method: "POST", path: "/v1/pair", ctype: "application/json", origin: addinOrigin, body: `{"name":"Outlook"}`})
	wantCode(t, resp, body, http.StatusAccepted, "")
	var pair PairAnswer
	if err := json.Unmarshal([]byte(body), &pair); err != nil {
		t.Fatal(err)
	}
	attackerPage := fmt.Sprintf(`<!doctype html><title>elsewhere</title><script>
window.attempts = (async () => {
	const api = %q, out = {};
	try { const r = await fetch(api + "/ui/state", {credentials: "include"}); out.read = "read " + r.status; }
	catch (e) { out.read = "refused"; }
	for (const body of [{action: "approve", code: %q}, {action: "deactivate", force: true}]) {
		await fetch(api + "/ui/action", {method: "POST", mode: "no-cors", credentials: "include", body: JSON.stringify(body)}).catch(() => {});
	}
	return out;
})();
</script>`, e.base, pair.Code)
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		cookies = append(cookies, r.Header.Get("Cookie"))
		mu.Unlock()
		w.Header().Set("Content-Type", "text/html")
		w.Write([]byte(attackerPage))
	})}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	attacker := "http://" + ln.Addr().String()

	b := chromiumtest.Start(t)
	u, err := NewClient(e.base, e.secret).OpenURL(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	b.Navigate(t, u)
	b.WaitJS(t, `document.getElementById("state-badge").textContent === "Active"`, 10*time.Second)
	var page struct{ Href, Secret string }
	b.Eval(t, `({href: location.href, secret: sessionStorage.getItem("vpconnect-page-secret") || ""})`, &page)
	if page.Href != e.base+"/" || len(page.Secret) != 64 {
		t.Fatalf("the page kept its secret so: %+v", page)
	}

	// Led elsewhere, in the same tab: the other port gets the cookie.
	b.Navigate(t, attacker+"/")
	var tried struct{ Read string }
	b.Eval(t, `window.attempts`, &tried)
	if tried.Read != "refused" {
		t.Errorf("the other port's page read the state: %s", tried.Read)
	}
	mu.Lock()
	got := strings.Join(cookies, "; ")
	mu.Unlock()
	if !strings.Contains(got, e.srv.cookieName()+"=") {
		t.Fatalf("the browser did not hand the session cookie to the other port (%q): the test shows nothing", got)
	}
	replay := map[string]string{"Cookie": got}
	resp, body = e.do(t, req{path: "/", header: replay})
	if strings.Contains(body, page.Secret) {
		t.Fatal("the page's shell carries the page secret")
	}
	resp, body = e.do(t, req{path: "/ui/state", header: replay})
	wantCode(t, resp, body, http.StatusForbidden, "page_secret")
	for _, act := range []string{`{"action":"approve","code":"` + pair.Code + `"}`, `{"action":"deactivate","force":true}`, `{"action":"deactivate"}`} {
		resp, body = e.do(t, req{method: "POST", path: "/ui/action", ctype: "application/json", body: act, header: replay})
		wantCode(t, resp, body, http.StatusForbidden, "page_secret")
	}
	if st := e.agent.Status(); st.State != agent.StateActive {
		t.Fatalf("after the replay the agent is %q", st.State)
	}
	if p, a := e.srv.Pending(), e.srv.Addins(); len(p) != 1 || len(a) != 0 {
		t.Fatalf("after the replay: pending %+v, paired %+v", p, a)
	}

	// Back in the owner's tab, the page still holds its secret.
	b.Navigate(t, e.base+"/")
	b.WaitJS(t, `!document.getElementById("pairing-box").hidden`, 10*time.Second)
	var listed string
	b.Eval(t, `document.getElementById("pairings").textContent`, &listed)
	if !strings.Contains(listed, addinOrigin) || strings.Contains(listed, pair.Code) {
		t.Fatalf("the waiting request is listed as %q: its origin, never its code", listed)
	}
	wrong := "000-000"
	if pair.Code == wrong {
		wrong = "111-111"
	}
	b.Eval(t, fmt.Sprintf(`document.getElementById("pair-code").value = %q, document.getElementById("pair-form").requestSubmit(), true`, wrong), nil)
	b.WaitJS(t, `!document.getElementById("error").hidden && document.getElementById("error").textContent.includes("code")`, 10*time.Second)
	if p, a := e.srv.Pending(), e.srv.Addins(); len(p) != 1 || len(a) != 0 {
		t.Fatalf("after a wrong code: pending %+v, paired %+v", p, a)
	}
	dir := filepath.Join("..", "..", "testdata", "artifacts")
	if err := os.MkdirAll(dir, 0o755); err == nil {
		b.Screenshot(t, filepath.Join(dir, "sync-options-pairing.png"))
	}
	b.Eval(t, fmt.Sprintf(`document.getElementById("pair-code").value = %q, document.getElementById("pair-form").requestSubmit(), true`, pair.Code), nil)
	b.WaitJS(t, `document.querySelectorAll("#addins li").length === 1 && document.getElementById("pairing-box").hidden`, 10*time.Second)
	if a := e.srv.Addins(); len(a) != 1 || a[0].Origin != addinOrigin {
		t.Fatalf("paired %+v", a)
	}
	resp, body = e.do(t, req{path: "/v1/pair/" + pair.ID, origin: addinOrigin})
	wantCode(t, resp, body, http.StatusOK, "")
	json.Unmarshal([]byte(body), &pair)
	resp, body = e.do(t, req{path: "/v1/status", origin: addinOrigin, token: pair.Token})
	wantCode(t, resp, body, http.StatusOK, "")
	// Disconnected from the page: the token is refused.
	b.Eval(t, `window.confirm = () => true, document.querySelector("#addins li button").click(), true`, nil)
	b.WaitJS(t, `document.querySelectorAll("#addins li").length === 0`, 10*time.Second)
	resp, body = e.do(t, req{path: "/v1/status", origin: addinOrigin, token: pair.Token})
	wantCode(t, resp, body, http.StatusUnauthorized, "unauthorized")

	// A tab without the secret (another tab, or one whose storage was
	// cleared) has the cookie and is told to open the page again.
	// The reload is left to a timer: an evaluation that navigates its
	// own page has no answer to give.
	b.Eval(t, `sessionStorage.clear(), setTimeout(() => location.reload(), 0), true`, nil)
	b.WaitJS(t, `document.readyState === "complete" && !document.getElementById("ended").hidden`, 10*time.Second)
}

// The page says what the tray says (one text of a state): on standby its
// badge is the agent's headline, "Syncing on DESKTOP-2", and its reason
// the agent's sentence, word for word.
func TestPageShowsTheAgentsWordsForAState(t *testing.T) {
	chromiumtest.Path(t)
	e := startEnv(t, func(o *agent.Options, _ *Options) {
		o.Syncer.(*testSyncer).err = &agent.StandbyError{Computer: "DESKTOP-2", Until: time.Now().Add(time.Hour)}
	})
	if _, err := e.agent.SyncNow(context.Background(), syncer.TriggerManual); err != nil {
		t.Fatal(err)
	}
	waitUntilState(t, e.agent, agent.StateStandby)
	st := e.agent.Status()
	if st.Headline != "Syncing on DESKTOP-2" || st.Reason == "" {
		t.Fatalf("the agent on standby: headline %q, reason %q", st.Headline, st.Reason)
	}
	b := chromiumtest.Start(t)
	u, err := NewClient(e.base, e.secret).OpenURL(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	b.Navigate(t, u)
	b.WaitJS(t, fmt.Sprintf(`document.getElementById("state-badge").textContent === %q`, st.Headline), 10*time.Second)
	var reason string
	b.Eval(t, `document.getElementById("reason").textContent`, &reason)
	if reason != st.Reason {
		t.Errorf("the page's reason %q; the agent's (the tray's tooltip) %q", reason, st.Reason)
	}
}

// waitUntilState waits for the agent to reach state (the deadline only
// stops a hung test).
func waitUntilState(t *testing.T, a *agent.Agent, state string) {
	t.Helper()
	ch, stop := a.Subscribe()
	defer stop()
	deadline := time.After(10 * time.Second)
	for {
		select {
		case s := <-ch:
			if s.State == state && !s.Running {
				return
			}
		case <-deadline:
			t.Fatalf("the agent never reached %s: %+v", state, a.Status())
		}
	}
}
