//go:build linux

package system

import (
	"context"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"vpconnect/agent/config"
	"vpconnect/internal/chromiumtest"
	"vpconnect/syncer/graph/graphsim"
)

// TestFirstRunActivatesOnThePageInChromium is the first run, as a
// new employee meets it after IT installed the agent: the agent starts on
// an empty data dir, not activated, and opens Sync Options at the
// activation screen; "Sign in with Microsoft" opens the sign-in in the
// browser (graphsim's sign-in page, which sends the browser back to the
// agent's loopback listener), the page moves on to the Vantagepoint form; a
// wrong password is refused with its sentence, the right one activates; the
// agent is built again behind the same page and its first batch shows.
// Each step's screenshot is kept in testdata/artifacts.
func TestFirstRunActivatesOnThePageInChromium(t *testing.T) {
	w := newFirstRunWorld(t, graphsim.Options{})
	t.Cleanup(func() {
		if t.Failed() {
			w.logMu.Lock()
			t.Log(w.log.String())
			w.logMu.Unlock()
		}
	})
	b := chromiumtest.Start(t)
	artifacts := filepath.Join("..", "..", "testdata", "artifacts")
	if err := os.MkdirAll(artifacts, 0o755); err != nil {
		t.Fatal(err)
	}
	shot := func(br *chromiumtest.Browser, name string) {
		p := filepath.Join(artifacts, name)
		br.Screenshot(t, p)
		t.Logf("screenshot: %s %s", p, time.Now().Format("15:04:05.000"))
	}

	opened := make(chan string, 4)
	var tabMu sync.Mutex
	var signInTab *chromiumtest.Browser
	browser := func(ctx context.Context, address string) error {
		// The default browser opens the sign-in address in a new tab.
		tab, err := b.OpenTab(address)
		if err != nil {
			return err
		}
		tabMu.Lock()
		signInTab = tab
		tabMu.Unlock()
		return nil
	}
	env := w.env(browser, func(_ context.Context, u string) error { opened <- u; return nil })
	// IT set the days ahead: the page shows that option locked.
	pol, _ := config.ParsePolicy([]byte(`{"sync": {"daysAhead": 90}}`), "test policy")
	env.Policy = func() (config.Policy, []error) { return pol, nil }
	listening := w.serve(t, env)
	select {
	case <-listening:
	case <-time.After(30 * time.Second):
		t.Fatal("the agent did not start")
	}
	var u string
	select {
	case u = <-opened:
	case <-time.After(30 * time.Second):
		t.Fatal("the agent did not open the activation page")
	}

	// 1. The activation screen.
	b.Navigate(t, u)
	b.WaitJS(t, `!document.getElementById("activation").hidden && !document.getElementById("act-start").hidden`, 10*time.Second)
	b.WaitJS(t, `document.getElementById("h-state").closest("section").hidden`, 5*time.Second)
	shot(b, "firstrun-1-activation.png")

	// 2. Microsoft sign-in in the browser; the page follows.
	b.Eval(t, `document.getElementById("btn-ms-signin").click(), true`, nil)
	b.WaitJS(t, `!document.getElementById("act-vp").hidden`, 30*time.Second)
	b.WaitJS(t, `document.getElementById("act-ms-done").textContent.includes("`+frUser+`")`, 5*time.Second)
	tabMu.Lock()
	tab := signInTab
	tabMu.Unlock()
	if tab == nil {
		t.Fatal("the sign-in did not open in the browser")
	}
	tab.WaitJS(t, `document.readyState === "complete" && location.href.startsWith("http://localhost:")`, 10*time.Second)
	shot(tab, "firstrun-2-microsoft-signed-in.png")

	// 3. The Vantagepoint form: a wrong password first.
	fill := func(pw string) {
		b.Eval(t, `(() => { document.getElementById("act-vp-user").value = "`+frVPUser+`";
			document.getElementById("act-vp-pass").value = "`+pw+`";
			document.getElementById("btn-vp-signin").click(); return true; })()`, nil)
	}
	shot(b, "firstrun-3-vantagepoint-form.png")
	fill("not-the-password")
	b.WaitJS(t, `!document.getElementById("act-problem").hidden && !document.getElementById("act-vp").hidden`, 15*time.Second)
	b.WaitJS(t, `document.getElementById("act-sentence").textContent.startsWith("Vantagepoint refused the user name or password")`, 5*time.Second)
	b.WaitJS(t, `document.getElementById("act-vp-pass").value === ""`, 5*time.Second)
	shot(b, "firstrun-4-wrong-password.png")

	// 4. The right password: who is signed in where, the employee, the
	// first batch.
	fill(frPassword)
	b.WaitJS(t, `!document.getElementById("act-done").hidden`, 30*time.Second)
	b.WaitJS(t, `document.getElementById("act-done-emp").textContent.startsWith("`+frEmployee+`")`, 5*time.Second)
	b.WaitJS(t, `document.getElementById("act-done-batch").textContent.startsWith("Batch 1 (startup) ok")`, 30*time.Second)
	b.WaitJS(t, `document.getElementById("act-done-batch").textContent.includes("emails: 1 created")`, 5*time.Second)
	shot(b, "firstrun-5-activated-first-batch.png")

	// 5. On to Sync Options: the same session serves the new agent.
	b.Eval(t, `document.getElementById("btn-act-close").click(), true`, nil)
	b.WaitJS(t, `document.getElementById("activation").hidden && document.getElementById("state-badge").textContent === "Active"`, 10*time.Second)
	b.WaitJS(t, `document.getElementById("ms-user").textContent === "`+frUser+`"`, 5*time.Second)
	shot(b, "firstrun-6-sync-options.png")

	// 6. Options: the look-back changed on the page, the locked one shown
	// locked.
	b.WaitJS(t, `!document.getElementById("options").hidden && document.getElementById("opt-daysAhead").disabled`, 5*time.Second)
	b.WaitJS(t, `document.querySelector("#opt-daysAhead").closest("label").textContent.includes("Locked: set by your administrator (test policy)")`, 5*time.Second)
	b.Eval(t, `(() => { document.getElementById("opt-lookbackDays").value = "30";
		document.getElementById("btn-opt-save").click(); return true; })()`, nil)
	b.WaitJS(t, `!document.getElementById("opt-saved").hidden`, 10*time.Second)
	b.Eval(t, `document.getElementById("options").scrollIntoView(), true`, nil)
	shot(b, "firstrun-7-options.png")
	saved, _, err := config.Load(w.cfgPath)
	if err != nil || saved.Sync.LookbackDays != 30 {
		t.Fatalf("saved look-back %d (%v)", saved.Sync.LookbackDays, err)
	}
	w.noSecretsLeft(t)
}
