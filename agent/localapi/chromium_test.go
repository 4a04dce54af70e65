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
// the given origins reach loopback (SPEC §5.3: the Local Network Access
// permission, granted by IT for the add-in's origin), and removes it after.
func allowLocalNetworkAccess(t *testing.T, origins ...string) {
	t.Helper()
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
	chromiumPath(t)
	listed, listedPort := startPage(t)
	unlisted, unlistedPort := startPage(t)
	allowLocalNetworkAccess(t, listed, unlisted)
	e := startEnv(t, func(_ *agent.Options, o *Options) { o.AllowedOrigins = []string{listed} })
	b := startBrowser(t, fmt.Sprintf("--ip-address-space-overrides=127.0.0.1:%d=public,127.0.0.1:%d=public", listedPort, unlistedPort))

	b.navigate(t, listed+"/")
	api := e.base
	var pair PairAnswer
	b.eval(t, fmt.Sprintf(`fetch(%q + "/v1/pair", {method: "POST", headers: {"Content-Type": "application/json"},
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
	b.eval(t, fmt.Sprintf(`(async () => {
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
	b.navigate(t, unlisted+"/")
	var refused string
	b.eval(t, fmt.Sprintf(`fetch(%q + "/v1/hello").then(r => "answered " + r.status, e => "refused: " + e.message)`, api), &refused)
	if !strings.HasPrefix(refused, "refused") {
		t.Fatalf("unlisted origin: %s", refused)
	}
	b.eval(t, fmt.Sprintf(`fetch(%q + "/v1/pair", {method: "POST", headers: {"Content-Type": "application/json"}, body: "{}"}).then(r => "answered " + r.status, e => "refused: " + e.message)`, api), &refused)
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
	chromiumPath(t)
	e := startEnv(t)
	b := startBrowser(t)
	u, err := NewClient(e.base, e.secret).OpenURL(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	b.navigate(t, u)
	var href string
	b.eval(t, "location.href", &href)
	if href != e.base+"/" {
		t.Fatalf("after the one-time address the page is at %s", href)
	}
	b.waitJS(t, `document.getElementById("state-badge").textContent === "Active"`, 10*time.Second)
	b.waitJS(t, `document.getElementById("ms-user").textContent === "dana@example.com"`, 5*time.Second)
	b.waitJS(t, `document.getElementById("batch-summary").textContent === "No batch yet."`, 5*time.Second)
	b.eval(t, `document.getElementById("btn-sync").click(), true`, nil)
	b.waitJS(t, `document.getElementById("batch-summary").textContent.startsWith("Batch 1 (manual)")`, 10*time.Second)
	b.waitJS(t, `document.querySelector("#counts tbody tr th")?.textContent === "emails"`, 5*time.Second)
	// The address cannot be used twice, even by the same browser.
	var status int
	b.eval(t, fmt.Sprintf(`fetch(%q).then(r => r.status)`, strings.TrimPrefix(u, e.base)), &status)
	if status != http.StatusUnauthorized {
		t.Fatalf("second use of the one-time address: %d", status)
	}
	dir := filepath.Join("..", "..", "testdata", "artifacts")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	shot := filepath.Join(dir, "sync-options.png")
	b.screenshot(t, shot)
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

func TestConfirmDeletionsInChromium(t *testing.T) {
	chromiumPath(t)
	g := &guardHistory{}
	var confirmed atomic.Value
	e := startEnv(t, func(a *agent.Options, _ *Options) {
		a.History = g
		a.Hooks.ConfirmDeletes = func(ctx context.Context, typ string) error {
			confirmed.Store(typ)
			g.mu.Lock()
			g.confirmed = true
			g.mu.Unlock()
			return nil
		}
	})
	b := startBrowser(t)
	u, err := NewClient(e.base, e.secret).OpenURL(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	b.navigate(t, u)
	b.waitJS(t, `document.getElementById("state-badge").textContent !== ""`, 10*time.Second)
	b.waitJS(t, `[...document.querySelectorAll("#issues button")].some(b => b.textContent === "Confirm these deletions")`, 10*time.Second)
	// The page asks before it deletes; the test answers yes.
	b.eval(t, `window.confirm = () => true, [...document.querySelectorAll("#issues button")].find(b => b.textContent === "Confirm these deletions").click(), true`, nil)
	b.waitJS(t, `document.querySelectorAll("#issues li").length === 0`, 10*time.Second)
	if got, _ := confirmed.Load().(string); got != "contacts" {
		t.Fatalf("confirmed %q; want contacts", got)
	}
}
