//go:build linux

package e2e

import (
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"testing"
	"time"

	"vpconnect/internal/chromiumtest"
	"vpconnect/syncer"
	"vpconnect/syncer/graph/graphsim"
	"vpconnect/syncer/vantagepoint/vpsim"
)

func artifact(t *testing.T, b *chromiumtest.Browser, name string) {
	t.Helper()
	dir := filepath.Join("..", "..", "testdata", "artifacts")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(dir, name)
	b.Screenshot(t, p)
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

// tracks counts the track requests the agent received.
func (w *world) open(t *testing.T, b *chromiumtest.Browser, m graphsim.Message) {
	t.Helper()
	b.Navigate(t, w.pageURL+"/taskpane.html?item="+url.QueryEscape(m.ID))
}

// With the page treated as public and no browser policy for it, Local
// Network Access keeps it from the agent (docs/behaviour.md §5.3): the pane says so in one
// line, and Track still works through the mailbox: the agent files the
// e-mail with the project typed in the pane at its next batch.
func TestPaneTracksThroughTheMailboxWhenTheAgentIsOutOfReach(t *testing.T) {
	chromiumtest.Path(t)
	// No policy may open the local network to the page meanwhile.
	chromiumtest.LockPolicies(t, false)
	const mailboxInterval = 2 * time.Second
	w := startWorld(t, mailboxInterval)
	m := w.message(t, "Harbour bridge: drawings rev B")
	b := chromiumtest.Start(t, paneWindow, fmt.Sprintf("--ip-address-space-overrides=127.0.0.1:%d=public", w.pagePort))
	w.open(t, b, m)
	b.WaitJS(t, `document.body.dataset.agent === "unreachable"`, 30*time.Second)
	var line string
	b.Eval(t, `document.getElementById("agent").textContent`, &line)
	if line != "The agent cannot be reached from Outlook here; tracking still works through your mailbox." {
		t.Errorf("agent line: %q", line)
	}
	artifact(t, b, "addin-unreachable.png")

	b.Eval(t, fmt.Sprintf(`document.getElementById("manual-project").value = %q,
		document.getElementById("manual-form").requestSubmit(), true`, project), nil)
	b.WaitJS(t, `document.querySelector('#choice li[data-kind="project"] .what').textContent === "2026001.00"`, 5*time.Second)
	b.Eval(t, `document.getElementById("track").click(), true`, nil)
	tracked := time.Now()
	b.WaitJS(t, `document.body.dataset.status === "waiting" && document.body.dataset.busy === ""`, 10*time.Second)
	artifact(t, b, "addin-tracked-through-mailbox.png")

	got, _ := w.graph.Message(m.ID)
	props, err := w.graph.AddinProperties(m.ID, syncer.AddinManifestID)
	if err != nil || props["project"] != project || !slices.Contains(got.Categories, "Vantagepoint") {
		t.Fatalf("the mailbox after Track: categories %v, custom properties %v (%v)", got.Categories, props, err)
	}
	// Counted at the API: the batch that files the e-mail from the
	// mailbox keeps a track of its own, which a count in the store would
	// take for a request when it comes first.
	if n := w.trackRequests.Load(); n != 0 {
		t.Fatalf("%d track requests reached the agent: it was reachable after all", n)
	}

	// The agent's mailbox probe sees the change and its batch reads the
	// category and the choice through Graph.
	var a vpsim.Activity
	deadline := time.Now().Add(60 * time.Second)
	for ok := false; !ok; a, ok = w.activity(t, m.Subject) {
		if time.Now().After(deadline) {
			t.Fatalf("no activity 60 s after Track (mailbox interval %v)", mailboxInterval)
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Logf("Track pressed → activity in Vantagepoint through the mailbox: %v (mailbox interval %v)", time.Since(tracked).Round(time.Millisecond), mailboxInterval)
	if a.WBS1 != project || a.ContactID != w.alice.ContactID {
		t.Errorf("activity links: project %q contact %q; want %q and %q", a.WBS1, a.ContactID, project, w.alice.ContactID)
	}
	w.open(t, b, m)
	b.WaitJS(t, `document.body.dataset.status === "filed" && document.body.dataset.agent === "unreachable"`, 30*time.Second)
	artifact(t, b, "addin-filed-through-mailbox.png")
}

var codeRe = regexp.MustCompile(`\b\d{3}-\d{3}\b`)

// With the agent in reach, the pane finds it, pairs (the user types the
// code it shows in Sync Options), suggests Alice and her firm's projects
// from the correspondents, searches, and files through /v1/track at once.
//
// The page is left a loopback page here, which the browser lets reach the
// agent: the browser policy that opens the same path for a public page is
// agent/localapi's browser test. Installing it here too would race with
// that test: Chromium reads one value of a policy from the managed folder,
// not the union of its files, and the two packages' tests run at once.
func TestPaneWithTheAgentPairsSuggestsAndFiles(t *testing.T) {
	chromiumtest.Path(t)
	w := startWorld(t, time.Hour)
	m := w.message(t, "Harbour bridge: site visit notes")
	b := chromiumtest.Start(t, paneWindow)
	w.open(t, b, m)
	b.WaitJS(t, `document.body.dataset.agent === "unpaired"`, 30*time.Second)
	artifact(t, b, "addin-unpaired.png")

	b.Eval(t, `document.getElementById("pair").click(), true`, nil)
	b.WaitJS(t, `document.body.dataset.agent === "pairing"`, 10*time.Second)
	var line string
	b.Eval(t, `document.getElementById("agent").textContent`, &line)
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
	b.WaitJS(t, `document.body.dataset.agent === "paired" && !document.getElementById("suggest-section").hidden`, 15*time.Second)
	var suggested []string
	b.Eval(t, `[...document.querySelectorAll("#suggest li .what > span:first-child")].map(e => e.textContent)`, &suggested)
	if len(suggested) != 3 || suggested[0] != "Alice Ng" {
		t.Fatalf("suggestions: %v (want Alice Ng and her firm's two projects)", suggested)
	}
	artifact(t, b, "addin-paired-suggestions.png")

	b.Eval(t, `document.getElementById("search-q").value = "Ferry", document.getElementById("search-form").requestSubmit(), true`, nil)
	b.WaitJS(t, `document.querySelectorAll("#results li button").length === 1`, 10*time.Second)
	artifact(t, b, "addin-search.png")

	// Alice (with her firm) from the suggestions, the project from the search.
	b.Eval(t, `[...document.querySelectorAll("#suggest li")].find(li => li.textContent.includes("Alice Ng")).querySelector("button").click(),
		document.querySelector("#results li button").click(), true`, nil)
	b.WaitJS(t, `document.querySelector('#choice li[data-kind="project"] .what').textContent === "Ferry terminal (2026002.00)"`, 5*time.Second)
	start := time.Now()
	b.Eval(t, `document.getElementById("track").click(), true`, nil)
	b.WaitJS(t, `document.body.dataset.status === "filed"`, 30*time.Second)
	elapsed := time.Since(start)
	a, ok := w.activity(t, m.Subject)
	if !ok {
		t.Fatal("the pane says filed, Vantagepoint has no activity")
	}
	if n := w.trackRequests.Load(); n != 1 {
		t.Errorf("%d track requests reached the agent, want 1", n)
	}
	t.Logf("Track pressed → the pane shows the activity: %v (target of docs/behaviour.md §7: 2 s)", elapsed.Round(time.Millisecond))
	if a.WBS1 != "2026002.00" || a.ContactID != w.alice.ContactID || a.ClientID != w.alice.ClientID {
		t.Errorf("activity links: %+v", a)
	}
	var status string
	b.Eval(t, `document.getElementById("status").textContent`, &status)
	if status != "Filed in Vantagepoint as activity "+a.ActivityID+"." {
		t.Errorf("status line %q, activity %s", status, a.ActivityID)
	}
	artifact(t, b, "addin-filed-by-agent.png")
	// The mailbox has the choice too, for the agents of the user's other
	// computers.
	if props, _ := w.graph.AddinProperties(m.ID, syncer.AddinManifestID); props["project"] != "2026002.00" || props["contact"] != w.alice.ContactID {
		t.Errorf("custom properties: %v", props)
	}

	// An e-mail tracked on another computer with a project Vantagepoint no
	// longer has: the batch marks it Sync Error, the pane (paired already:
	// the token is kept) shows the agent's reason, and Untrack takes the
	// category and the choice away before anything is filed.
	bad := w.message(t, "Harbour bridge: invoice query")
	if err := w.graph.SetAddinProperties(bad.ID, syncer.AddinManifestID, map[string]any{"project": "1999999.99"}); err != nil {
		t.Fatal(err)
	}
	w.graph.UpdateMessage(bad.ID, func(m *graphsim.Message) { m.Categories = []string{"Vantagepoint"} })
	w.sync(t)
	if _, ok := w.activity(t, bad.Subject); ok {
		t.Fatal("filed with a project that does not exist")
	}
	w.open(t, b, bad)
	b.WaitJS(t, `document.body.dataset.agent === "paired" && document.body.dataset.status === "error" && document.getElementById("status").textContent.includes("1999999.99")`, 15*time.Second)
	b.Eval(t, `document.getElementById("status").textContent`, &status)
	if status != `Not filed: the project "1999999.99" chosen for this e-mail does not exist in Vantagepoint; choose another in the Outlook add-in` {
		t.Errorf("status line %q", status)
	}
	artifact(t, b, "addin-error.png")
	b.Eval(t, `document.getElementById("untrack").click(), true`, nil)
	b.WaitJS(t, `document.body.dataset.status === "not-tracked" && document.body.dataset.busy === ""`, 10*time.Second)
	artifact(t, b, "addin-untracked.png")
	after, _ := w.graph.Message(bad.ID)
	if props, _ := w.graph.AddinProperties(bad.ID, syncer.AddinManifestID); len(after.Categories) != 0 || props != nil {
		t.Errorf("after Untrack: categories %v, custom properties %v", after.Categories, props)
	}
	w.sync(t)
	if _, ok := w.activity(t, bad.Subject); ok {
		t.Error("filed after Untrack")
	}
}

// paneWindow is the size of Outlook's task pane, for the screenshots.
const paneWindow = "--window-size=380,900"
