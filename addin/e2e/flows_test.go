//go:build linux

package e2e

import (
	"encoding/json"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"testing"
	"time"

	"vpconnect/syncer"
	"vpconnect/syncer/graph/graphsim"
	"vpconnect/syncer/vantagepoint/vpsim"
)

// allowLocalNetworkAccess installs the managed Chromium policy that lets
// the origins reach loopback (SPEC §5.3; docs/deployment.md, "The browser
// policy for the Outlook add-in"), and removes it after.
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
	f := filepath.Join(dir, fmt.Sprintf("vpconnect-addin-test-%d.json", os.Getpid()))
	if err := os.WriteFile(f, b, 0o644); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.Remove(f) })
}

func artifact(t *testing.T, b *browser, name string) {
	t.Helper()
	dir := filepath.Join("..", "..", "testdata", "artifacts")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(dir, name)
	b.screenshot(t, p)
	t.Logf("screenshot: %s", p)
}

func (w *world) message(t *testing.T, subject string) graphsim.Message {
	t.Helper()
	return w.graph.AddMessage("inbox", graphsim.Message{Subject: subject, BodyType: "text",
		Body: "Dana,\nthe revised drawings are attached.\nAlice", From: graphsim.Recipient{Name: "Alice Ng", Address: "alice@fabrikam.example"},
		To: []graphsim.Recipient{{Name: "Dana Whitfield", Address: userMail}}, ReceivedDateTime: time.Now().Add(-time.Hour)})
}

func (w *world) activity(t *testing.T, subject string) (vpsim.Activity, bool) {
	t.Helper()
	for _, a := range w.vp.Activities() {
		if a.Subject == subject {
			return a, true
		}
	}
	return vpsim.Activity{}, false
}

func (w *world) open(t *testing.T, b *browser, m graphsim.Message) {
	t.Helper()
	b.navigate(t, w.pageURL+"/taskpane.html?item="+url.QueryEscape(m.ID))
}

// With the page treated as public and no browser policy for it, Local
// Network Access keeps it from the agent (SPEC §5.3): the pane says so in one
// line, and Track still works through the mailbox: the agent files the
// e-mail with the project typed in the pane at its next batch.
func TestPaneTracksThroughTheMailboxWhenTheAgentIsOutOfReach(t *testing.T) {
	chromiumPath(t)
	w := startWorld(t)
	m := w.message(t, "Harbour bridge: drawings rev B")
	b := startBrowser(t, fmt.Sprintf("--ip-address-space-overrides=127.0.0.1:%d=public", w.pagePort))
	w.open(t, b, m)
	b.waitJS(t, `document.body.dataset.agent === "unreachable"`, 30*time.Second)
	var line string
	b.eval(t, `document.getElementById("agent").textContent`, &line)
	if line != "The agent cannot be reached from Outlook here; tracking still works through your mailbox." {
		t.Errorf("agent line: %q", line)
	}
	artifact(t, b, "addin-unreachable.png")

	b.eval(t, fmt.Sprintf(`document.getElementById("manual-project").value = %q,
		document.getElementById("manual-form").requestSubmit(), true`, project), nil)
	b.waitJS(t, `document.querySelector('#choice li[data-kind="project"] .what').textContent === "2026001.00"`, 5*time.Second)
	b.eval(t, `document.getElementById("track").click(), true`, nil)
	b.waitJS(t, `document.body.dataset.status === "waiting" && document.body.dataset.busy === ""`, 10*time.Second)
	artifact(t, b, "addin-tracked-through-mailbox.png")

	got, _ := w.graph.Message(m.ID)
	props, err := w.graph.AddinProperties(m.ID, syncer.AddinManifestID)
	if err != nil || props["project"] != project || len(got.Categories) != 1 || got.Categories[0] != "Vantagepoint" {
		t.Fatalf("the mailbox after Track: categories %v, custom properties %v (%v)", got.Categories, props, err)
	}
	if _, ok := w.activity(t, m.Subject); ok {
		t.Fatal("filed before any batch: the agent was reachable after all")
	}

	// The agent's next batch (its mailbox interval) reads both through Graph.
	batch := w.sync(t)
	a, ok := w.activity(t, m.Subject)
	if !ok {
		t.Fatalf("no activity after the batch %+v", batch)
	}
	if a.WBS1 != project || a.ContactID != w.alice.ContactID {
		t.Errorf("activity links: project %q contact %q; want %q and %q", a.WBS1, a.ContactID, project, w.alice.ContactID)
	}
	w.open(t, b, m)
	b.waitJS(t, `document.body.dataset.status === "filed" && document.body.dataset.agent === "unreachable"`, 30*time.Second)
	artifact(t, b, "addin-filed-through-mailbox.png")
}

var codeRe = regexp.MustCompile(`\b\d{3}-\d{3}\b`)

// With the browser policy for the page's origin (as IT deploys it), the
// pane finds the agent, pairs (the user types the code it shows in Sync
// Options), suggests Alice and her firm's projects from the correspondents,
// searches, and files through /v1/track at once.
func TestPaneWithTheAgentPairsSuggestsAndFiles(t *testing.T) {
	chromiumPath(t)
	w := startWorld(t)
	allowLocalNetworkAccess(t, w.pageURL)
	m := w.message(t, "Harbour bridge: site visit notes")
	b := startBrowser(t, fmt.Sprintf("--ip-address-space-overrides=127.0.0.1:%d=public", w.pagePort))
	w.open(t, b, m)
	b.waitJS(t, `document.body.dataset.agent === "unpaired"`, 30*time.Second)
	artifact(t, b, "addin-unpaired.png")

	b.eval(t, `document.getElementById("pair").click(), true`, nil)
	b.waitJS(t, `document.body.dataset.agent === "pairing"`, 10*time.Second)
	var line string
	b.eval(t, `document.getElementById("agent").textContent`, &line)
	code := codeRe.FindString(line)
	if code == "" {
		t.Fatalf("no code in %q", line)
	}
	artifact(t, b, "addin-pairing.png")
	if p := w.api.Pending(); len(p) != 1 || p[0].Origin != w.pageURL {
		t.Fatalf("pending pairings: %+v", p)
	}
	if err := w.api.Approve(code); err != nil {
		t.Fatal(err)
	}
	b.waitJS(t, `document.body.dataset.agent === "paired" && !document.getElementById("suggest-section").hidden`, 15*time.Second)
	var suggested []string
	b.eval(t, `[...document.querySelectorAll("#suggest li .what > span:first-child")].map(e => e.textContent)`, &suggested)
	if len(suggested) != 3 || suggested[0] != "Alice Ng" {
		t.Fatalf("suggestions: %v (want Alice Ng and her firm's two projects)", suggested)
	}
	artifact(t, b, "addin-paired-suggestions.png")

	b.eval(t, `document.getElementById("search-q").value = "Ferry", document.getElementById("search-form").requestSubmit(), true`, nil)
	b.waitJS(t, `document.querySelectorAll("#results li button").length === 1`, 10*time.Second)
	artifact(t, b, "addin-search.png")

	// Alice (with her firm) from the suggestions, the project from the search.
	b.eval(t, `[...document.querySelectorAll("#suggest li")].find(li => li.textContent.includes("Alice Ng")).querySelector("button").click(),
		document.querySelector("#results li button").click(), true`, nil)
	b.waitJS(t, `document.querySelector('#choice li[data-kind="project"] .what').textContent === "Ferry terminal (2026002.00)"`, 5*time.Second)
	start := time.Now()
	b.eval(t, `document.getElementById("track").click(), true`, nil)
	b.waitJS(t, `document.body.dataset.status === "filed"`, 30*time.Second)
	elapsed := time.Since(start)
	a, ok := w.activity(t, m.Subject)
	if !ok {
		t.Fatal("the pane says filed, Vantagepoint has no activity")
	}
	t.Logf("Track pressed → the pane shows the activity: %v (SPEC target 2 s)", elapsed.Round(time.Millisecond))
	if a.WBS1 != "2026002.00" || a.ContactID != w.alice.ContactID || a.ClientID != w.alice.ClientID {
		t.Errorf("activity links: %+v", a)
	}
	var status string
	b.eval(t, `document.getElementById("status").textContent`, &status)
	if status != "Filed in Vantagepoint as activity "+a.ActivityID+"." {
		t.Errorf("status line %q, activity %s", status, a.ActivityID)
	}
	artifact(t, b, "addin-filed-by-agent.png")
	// The mailbox has the choice too, for the agents of the user's other
	// computers.
	if props, _ := w.graph.AddinProperties(m.ID, syncer.AddinManifestID); props["project"] != "2026002.00" || props["contact"] != w.alice.ContactID {
		t.Errorf("custom properties: %v", props)
	}
}
