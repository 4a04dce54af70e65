package cli

import (
	"context"
	"encoding/json"
	"errors"
	"html"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"

	"vpconnect/agent"
	"vpconnect/agent/system"
	"vpconnect/syncer"
	"vpconnect/syncer/graph/graphsim"
	"vpconnect/syncer/vantagepoint/vpsim"
)

// CLI tests of the agent commands (status, sync, pause, resume, deactivate,
// options) with and without a running agent, and their exit codes
// (docs/behaviour.md §5.1: 0 ok, 1 failure, 2 usage error, 3 needs sign-in).

func TestNotConfiguredBeforeActivation(t *testing.T) {
	w := newAgentWorld(t)

	// No agent, no activation.
	code, out, errOut := w.run("status")
	if code != exitOK || !strings.Contains(out, "State:            Not Configured\n") ||
		!strings.Contains(out, "Not activated: choose Activate… in the tray or on Sync Options to sign in.") ||
		!strings.Contains(out, "Agent:            not running") || errOut != "" {
		t.Errorf("status = %d\n%s%s", code, out, errOut)
	}
	st, raw := w.status(t)
	if st.State != agent.StateNotConfigured || st.MailboxStatus != syncer.MailboxNotInitialized || st.SyncStatus != agent.SyncEnabled ||
		st.Accounts.Microsoft.Connected || st.Accounts.Vantagepoint.Connected || raw["lastBatch"] != nil || raw["nextBatchAt"] != nil {
		t.Errorf("status --json: %s", mustJSON(raw))
	}
	checkStatusFields(t, raw)

	for _, c := range []struct {
		args []string
		code int
		err  string
	}{
		{[]string{"sync", "--once"}, exitNeedSignIn, "Not activated: choose Activate…"},
		{[]string{"sync"}, exitFailure, "vpconnect is not running; start it with 'vpconnect run', or use 'vpconnect sync --once'"},
		{[]string{"pause"}, exitFailure, "vpconnect is not running; start it with 'vpconnect run'"},
		{[]string{"resume"}, exitFailure, "vpconnect is not running; start it with 'vpconnect run'"},
		{[]string{"options"}, exitFailure, "vpconnect is not running; start it with 'vpconnect run'"},
		{[]string{"deactivate"}, exitNeedSignIn, "vpconnect is not activated on this computer"},
	} {
		code, out, errOut := w.run(c.args...)
		if code != c.code || !strings.Contains(errOut, c.err) || out != "" {
			t.Errorf("vpconnect %v = %d, want %d and %q\n%s%s", c.args, code, c.code, c.err, out, errOut)
		}
	}

	// The agent runs, not activated.
	w.startAgent(t)
	code, out, errOut = w.run("status")
	if code != exitOK || !strings.Contains(out, "State:            Not Configured\n") || strings.Contains(out, "not running") {
		t.Errorf("status with the agent = %d\n%s%s", code, out, errOut)
	}
	code, out, errOut = w.run("sync")
	if code != exitNeedSignIn || !strings.Contains(errOut, "vpconnect activate") || out != "" {
		t.Errorf("sync with the agent = %d\n%s%s", code, out, errOut)
	}
	code, out, errOut = w.run("deactivate")
	if code != exitNeedSignIn || !strings.Contains(errOut, "not activated") {
		t.Errorf("deactivate with the agent = %d\n%s%s", code, out, errOut)
	}
	if w.g.Requests() != 0 || w.v.Requests() != 0 {
		t.Errorf("an agent that is not activated called the services: %d Graph, %d Vantagepoint requests", w.g.Requests(), w.v.Requests())
	}
}

// checkStatusFields checks the names of docs/behaviour.md §5.1's status object.
func checkStatusFields(t *testing.T, raw map[string]any) {
	t.Helper()
	for _, k := range []string{"state", "mailboxStatus", "syncStatus", "accounts", "lastBatch", "nextBatchAt"} {
		if _, ok := raw[k]; !ok {
			t.Errorf("status has no %q: %s", k, mustJSON(raw))
		}
	}
	acc, _ := raw["accounts"].(map[string]any)
	ms, _ := acc["microsoft"].(map[string]any)
	vp, _ := acc["vantagepoint"].(map[string]any)
	for _, k := range []string{"user", "connected"} {
		if _, ok := ms[k]; !ok {
			t.Errorf("accounts.microsoft has no %q: %s", k, mustJSON(raw))
		}
	}
	for _, k := range []string{"url", "database", "employee", "connected"} {
		if _, ok := vp[k]; !ok {
			t.Errorf("accounts.vantagepoint has no %q: %s", k, mustJSON(raw))
		}
	}
}

// checkBatchFields checks the names of docs/behaviour.md §5.1's batch object.
func checkBatchFields(t *testing.T, line string) {
	t.Helper()
	var raw map[string]any
	if err := json.Unmarshal([]byte(line), &raw); err != nil {
		t.Fatalf("not one JSON object: %q", line)
	}
	for _, k := range []string{"id", "trigger", "started", "finished", "outcome", "counts", "requests", "issues"} {
		if _, ok := raw[k]; !ok {
			t.Errorf("batch has no %q: %s", k, line)
		}
	}
	counts, _ := raw["counts"].(map[string]any)
	for _, typ := range []string{"emails", "contacts", "events"} {
		c, ok := counts[typ].(map[string]any)
		if !ok {
			t.Errorf("batch counts have no %q: %s", typ, line)
			continue
		}
		for _, k := range []string{"scanned", "created", "updated", "deleted", "unlinked", "skipped", "failed"} {
			if _, ok := c[k].(float64); !ok {
				t.Errorf("counts.%s has no number %q: %s", typ, k, line)
			}
		}
	}
	req, _ := raw["requests"].(map[string]any)
	for _, k := range []string{"graph", "vantagepoint"} {
		if n, ok := req[k].(float64); !ok || n <= 0 {
			t.Errorf("requests.%s = %v: %s", k, req[k], line)
		}
	}
	if _, ok := raw["issues"].([]any); !ok {
		t.Errorf("issues is not a list: %s", line)
	}
}

func mustJSON(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}

func TestStatusAndSyncThroughTheAgent(t *testing.T) {
	w := newAgentWorld(t)
	w.activate(t)

	// Without an agent, status reads the state file.
	code, out, errOut := w.run("status")
	if code != exitOK || !strings.Contains(out, "State:            Active\n") || !strings.Contains(out, "Agent:            not running") ||
		!strings.Contains(out, "Mailbox:          Initialized\n") || !strings.Contains(out, "Last batch:       none yet") {
		t.Errorf("status without the agent = %d\n%s%s", code, out, errOut)
	}

	w.startAgent(t)
	code, out, errOut = w.run("sync", "--json")
	line := strings.TrimSpace(out)
	if code != exitOK || strings.Count(line, "\n") != 0 || !strings.Contains(line, `"trigger":"manual"`) || !strings.Contains(line, `"outcome":"ok"`) {
		t.Fatalf("sync --json = %d\n%s%s", code, out, errOut)
	}
	checkBatchFields(t, line)
	var b struct{ ID int64 }
	_ = json.Unmarshal([]byte(line), &b)
	st := w.waitStatus(t, "the batch", settled(b.ID))

	code, out, errOut = w.run("status")
	for _, want := range []string{
		"State:            Active\n",
		"Synchronization:  Enabled\n",
		"Microsoft 365:    dana@contoso.example (connected)\n",
		"Vantagepoint:     " + w.v.APIURL() + ", database VPTest, employee 00042 (connected)\n",
		"Last batch:       1 (manual) ok at ",
		"Next batch:       ",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("status lacks %q:\n%s", want, out)
		}
	}
	if code != exitOK || strings.Contains(out, "not running") || errOut != "" {
		t.Errorf("status = %d\n%s%s", code, out, errOut)
	}
	_, raw := w.status(t)
	checkStatusFields(t, raw)
	if lb, _ := raw["lastBatch"].(map[string]any); lb["id"] != float64(b.ID) {
		t.Errorf("status lastBatch: %v", raw["lastBatch"])
	}
	if st.NextBatchAt == nil {
		t.Error("no nextBatchAt")
	}

	// Text output of a batch; --once with an agent running goes through it.
	code, out, errOut = w.run("sync", "--once")
	if code != exitOK || !regexp.MustCompile(`^batch 2 \(manual\) ok in \S+\n  emails   scanned 0, `).MatchString(out) ||
		!strings.Contains(out, "\n  contacts scanned 1, created 0, ") || !strings.Contains(out, "\n  events   scanned ") ||
		!strings.Contains(out, "\n  requests graph ") {
		t.Errorf("sync --once with the agent = %d\n%s%s", code, out, errOut)
	}
}

func TestSyncOnceStandalone(t *testing.T) {
	w := newAgentWorld(t)
	w.activate(t)
	code, out, errOut := w.run("sync", "--once", "--json")
	line := strings.TrimSpace(out)
	if code != exitOK || !strings.Contains(line, `"outcome":"ok"`) {
		t.Fatalf("sync --once --json = %d\n%s%s", code, out, errOut)
	}
	checkBatchFields(t, line)
	if got := w.v.Activities(); !slices.ContainsFunc(got, func(a vpActivity) bool { return a.Subject == "Revised budget" }) {
		t.Errorf("the tagged e-mail was not filed: %+v", got)
	}
	code, out, _ = w.run("status")
	if code != exitOK || !strings.Contains(out, "Last batch:       1 (manual) ok at ") || !strings.Contains(out, "not running") {
		t.Errorf("status = %d\n%s", code, out)
	}

	// A revoked sign-in: the batch fails, and the exit code says sign in.
	w.g.RevokeRefreshTokens()
	code, b, errOut := w.sync(t, "--once")
	if code != exitNeedSignIn || b == nil || b.Outcome != syncer.OutcomeFailed ||
		!strings.Contains(errOut, "sign-in needed for Microsoft 365: the sign-in has expired or was revoked") {
		t.Errorf("sync --once with a revoked sign-in = %d %+v\n%s", code, b, errOut)
	}
	// Vantagepoint unavailable: a failure, not a sign-in. (Its Retry-After
	// is longer than a batch waits, so the batch fails at once.)
	code, out, errOut = w.run("reauthorize", "microsoft")
	if code != exitOK {
		t.Fatalf("reauthorize = %d\n%s%s", code, out, errOut)
	}
	w.v.InjectFault(vpsim.Fault{Status: 503, RetryAfter: 5 * time.Minute})
	code, b, errOut = w.sync(t, "--once")
	if code != exitFailure || b == nil || b.Outcome != syncer.OutcomeFailed || !strings.Contains(errOut, "503") {
		t.Errorf("sync --once with Vantagepoint unavailable = %d %+v\n%s", code, b, errOut)
	}
}

func TestPauseAndResumeThroughTheCLI(t *testing.T) {
	w := newAgentWorld(t)
	w.activate(t)
	w.startAgent(t)
	code, out, errOut := w.run("pause")
	if code != exitOK || !strings.HasPrefix(out, "State: ") || errOut != "" {
		t.Fatalf("pause = %d\n%s%s", code, out, errOut)
	}
	w.waitStatus(t, "Paused", func(s agent.Status) bool { return s.State == agent.StatePaused && s.SyncStatus == agent.SyncDisabled })
	// A manual sync still runs while paused (the user asked for it).
	code, b, errOut := w.sync(t)
	if code != exitOK || b == nil || b.Outcome != syncer.OutcomeOK {
		t.Errorf("sync while paused = %d %+v\n%s", code, b, errOut)
	}
	st := w.waitStatus(t, "the batch", settled(b.ID))
	if st.State != agent.StatePaused {
		t.Errorf("state after a manual sync while paused: %s", st.State)
	}
	code, out, errOut = w.run("resume")
	if code != exitOK || !strings.HasPrefix(out, "State: ") {
		t.Fatalf("resume = %d\n%s%s", code, out, errOut)
	}
	w.waitStatus(t, "Active", func(s agent.Status) bool { return s.State == agent.StateActive && s.SyncStatus == agent.SyncEnabled })
}

// deactivationWorld is an activated mailbox after one batch: the contact
// folder, the categories and a meeting copied from Vantagepoint are there.
func deactivationWorld(t *testing.T, withAgent bool) *agentWorld {
	t.Helper()
	w := newAgentWorld(t)
	w.activate(t)
	if withAgent {
		w.startAgent(t)
	}
	args := []string{"--once"}
	if withAgent {
		args = nil
	}
	if code, b, errOut := w.sync(t, args...); code != exitOK || b.Counts[syncer.TypeEvents].Created != 1 {
		t.Fatalf("sync = %d %+v\n%s", code, b, errOut)
	}
	if !hasContactFolder(w.g, "Vantagepoint") || len(agentCategories(w.g)) != 3 || !hasEvent(w.g, "Design review") {
		t.Fatalf("the mailbox after a batch: folders %+v, categories %+v", w.g.ContactFolders(), w.g.Categories())
	}
	if len(w.kc.Entries()) == 0 {
		t.Fatal("no keychain entries after activation")
	}
	return w
}

func hasContactFolder(g *graphsim.Server, name string) bool {
	return slices.ContainsFunc(g.ContactFolders(), func(f graphsim.ContactFolder) bool { return f.DisplayName == name })
}

func agentCategories(g *graphsim.Server) []string {
	var names []string
	for _, c := range g.Categories() {
		if c.DisplayName == "Vantagepoint" || strings.HasPrefix(c.DisplayName, "Vantagepoint: ") {
			names = append(names, c.DisplayName)
		}
	}
	return names
}

func hasEvent(g *graphsim.Server, subject string) bool {
	return slices.ContainsFunc(g.Events(), func(e graphsim.Event) bool { return e.Subject == subject })
}

// checkForgotten checks that the sign-ins and the state are gone.
func checkForgotten(t *testing.T, w *agentWorld) {
	t.Helper()
	if e := w.kc.Entries(); len(e) != 0 {
		t.Errorf("keychain entries left: %v", slices.Collect(mapKeys(e)))
	}
	for _, f := range w.dataFiles(t) {
		if strings.HasPrefix(f, system.StateFile) {
			t.Errorf("state file left: %s", f)
		}
	}
	st, _ := w.status(t)
	if st.State != agent.StateNotConfigured || st.LastBatch != nil {
		t.Errorf("status after deactivation: %+v", st)
	}
}

func mapKeys(m map[string]string) func(func(string) bool) {
	return func(yield func(string) bool) {
		for k := range m {
			if !yield(k) {
				return
			}
		}
	}
}

func TestDeactivateDeleteThroughTheAgent(t *testing.T) {
	w := deactivationWorld(t, true)
	activities := len(w.v.Activities())
	code, out, errOut := w.run("deactivate")
	if code != exitOK || !strings.HasPrefix(out, "Deleted: ") {
		t.Fatalf("deactivate = %d\n%s%s", code, out, errOut)
	}
	if hasContactFolder(w.g, "Vantagepoint") || len(agentCategories(w.g)) != 0 || hasEvent(w.g, "Design review") {
		t.Errorf("the mailbox after Delete: folders %+v, categories %+v, events %+v", w.g.ContactFolders(), w.g.Categories(), w.g.Events())
	}
	if n := len(w.v.Activities()); n != activities {
		t.Errorf("Vantagepoint had %d activities, now %d: Delete must not touch it", activities, n)
	}
	checkForgotten(t, w)
	// The running agent is Not Configured, stops syncing, and the CLI
	// still finds it.
	code, out, errOut = w.run("status")
	if code != exitOK || !strings.Contains(out, "State:            Not Configured\n") || strings.Contains(out, "not running") {
		t.Errorf("status after Delete = %d\n%s%s", code, out, errOut)
	}
	st, _ := w.status(t)
	if st.State != agent.StateNotConfigured || st.NextBatchAt != nil || st.Accounts.Microsoft.Connected || st.Accounts.Vantagepoint.Connected {
		t.Errorf("the agent after Delete: %+v", st)
	}
	before := w.requests()
	for range 5 {
		w.clock.Advance(vpInterval)
	}
	if now := w.requests(); now != before {
		t.Errorf("requests after Delete: %+v, then %+v", before, now)
	}
}

func TestDeactivateDeleteStandalone(t *testing.T) {
	w := deactivationWorld(t, false)
	code, out, errOut := w.run("deactivate")
	if code != exitOK || !strings.HasPrefix(out, "Deleted: ") {
		t.Fatalf("deactivate = %d\n%s%s", code, out, errOut)
	}
	if hasContactFolder(w.g, "Vantagepoint") || len(agentCategories(w.g)) != 0 || hasEvent(w.g, "Design review") {
		t.Errorf("the mailbox after Delete: folders %+v, categories %+v", w.g.ContactFolders(), w.g.Categories())
	}
	checkForgotten(t, w)
	// Activating again works from scratch.
	w.activate(t)
	if code, b, errOut := w.sync(t, "--once"); code != exitOK || b.Counts[syncer.TypeContacts].Created != 1 {
		t.Errorf("sync after re-activation = %d %+v\n%s", code, b, errOut)
	}
}

func TestDeactivateForceLeavesTheMailbox(t *testing.T) {
	for _, withAgent := range []bool{true, false} {
		name := "standalone"
		if withAgent {
			name = "through the agent"
		}
		t.Run(name, func(t *testing.T) {
			w := deactivationWorld(t, withAgent)
			graphBefore := w.g.Requests()
			code, out, errOut := w.run("deactivate", "--force")
			if code != exitOK || !strings.HasPrefix(out, "Force Delete: ") {
				t.Fatalf("deactivate --force = %d\n%s%s", code, out, errOut)
			}
			if !hasContactFolder(w.g, "Vantagepoint") || len(agentCategories(w.g)) != 3 || !hasEvent(w.g, "Design review") {
				t.Errorf("Force Delete touched the mailbox: folders %+v, categories %+v", w.g.ContactFolders(), w.g.Categories())
			}
			if n := w.g.Requests() - graphBefore; n != 0 {
				t.Errorf("Force Delete sent %d Graph requests", n)
			}
			checkForgotten(t, w)
		})
	}
}

func TestDeactivateRefusedWhenTheMailboxCannotBeReached(t *testing.T) {
	for _, withAgent := range []bool{true, false} {
		name := "standalone"
		if withAgent {
			name = "through the agent"
		}
		t.Run(name, func(t *testing.T) {
			w := deactivationWorld(t, withAgent)
			// Graph's API fails; its sign-in still works.
			w.g.InjectFault(graphsim.Fault{Status: 500, PathContains: "/v1.0/"})
			code, out, errOut := w.run("deactivate")
			if code != exitFailure || out != "" || !strings.Contains(errOut, "remove vpconnect's data from the mailbox") ||
				!(strings.Contains(errOut, "use --force") || strings.Contains(errOut, "use Force Delete")) {
				t.Errorf("deactivate with Graph failing = %d\n%s%s", code, out, errOut)
			}
			if len(w.kc.Entries()) == 0 {
				t.Error("a refused Delete forgot the sign-ins")
			}
			if st, _ := w.status(t); st.State == agent.StateNotConfigured {
				t.Errorf("a refused Delete left the agent %s", st.State)
			}
			code, out, errOut = w.run("deactivate", "--force")
			if code != exitOK {
				t.Fatalf("deactivate --force = %d\n%s%s", code, out, errOut)
			}
			w.g.ClearFaults()
			checkForgotten(t, w)
		})
	}
}

func TestOptionsOpensTheOneTimeAddress(t *testing.T) {
	w := newAgentWorld(t)
	w.activate(t)
	w.startAgent(t)
	var opened []string
	w.cli.openPage = func(_ context.Context, u string) error {
		opened = append(opened, u)
		return nil
	}
	code, out, errOut := w.run("options")
	m := regexp.MustCompile(`^Sync Options: (http://127\.0\.0\.1:(\d+)/open\?t=\w+)\n$`).FindStringSubmatch(out)
	if code != exitOK || m == nil || errOut != "" || m[2] != itoa(w.cfg.LocalAPI.Port) {
		t.Fatalf("options = %d\n%s%s", code, out, errOut)
	}
	// The browser is given a launcher file, never the secret address on
	// its command line (where other users could read it).
	if len(opened) != 1 || launcherTarget(t, opened[0]) != m[1] {
		t.Fatalf("the browser was given %v; want a launcher of %s", opened, m[1])
	}
	// The address works once: a session cookie, then the page.
	hc := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := hc.Get(m[1])
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	cookie := resp.Header.Get("Set-Cookie")
	if resp.StatusCode != http.StatusSeeOther || !strings.Contains(cookie, "HttpOnly") || !strings.Contains(cookie, "SameSite=Strict") {
		t.Errorf("first use: %d, Set-Cookie %q", resp.StatusCode, cookie)
	}
	resp, err = hc.Get(m[1])
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("second use: %d; want 401", resp.StatusCode)
	}

	// No browser to open: the address is printed with a hint, exit 0.
	w.cli.openPage = func(context.Context, string) error { return errors.New("no display") }
	code, out, errOut = w.run("options")
	if code != exitOK || !strings.HasPrefix(out, "Sync Options: http://127.0.0.1:") ||
		!strings.Contains(errOut, "Open that address in your browser (it works once, for 2 minutes).") {
		t.Errorf("options without a browser = %d\n%s%s", code, out, errOut)
	}
}

func TestAgentCommandsUsageErrors(t *testing.T) {
	w := newAgentWorld(t)
	for _, args := range [][]string{
		{"status", "extra"}, {"status", "--bogus"}, {"sync", "now"}, {"sync", "--bogus"}, {"pause", "now"},
		{"resume", "--all"}, {"deactivate", "--forced"}, {"deactivate", "all"}, {"options", "page"}, {"run", "extra"},
	} {
		code, out, errOut := w.run(args...)
		if code != exitUsage || out != "" || errOut == "" {
			t.Errorf("vpconnect %v = %d; want %d\n%s%s", args, code, exitUsage, out, errOut)
		}
	}
	for _, cmd := range []string{"status", "sync", "pause", "resume", "deactivate", "options", "run"} {
		code, _, errOut := w.run(cmd, "-h")
		if code != exitOK || !strings.Contains(errOut, "Usage of vpconnect "+cmd) {
			t.Errorf("vpconnect %s -h = %d\n%s", cmd, code, errOut)
		}
	}
}

// launcherTarget checks that u is the address of a launcher file that
// only its user can read and that carries no secret itself, and returns
// the page address the file leads to.
func launcherTarget(t *testing.T, u string) string {
	t.Helper()
	p, err := url.Parse(u)
	if err != nil || p.Scheme != "file" || strings.Contains(u, "t=") {
		t.Fatalf("the browser was given %q; want a file: address with no secret in it", u)
	}
	path := filepath.FromSlash(p.Path)
	if runtime.GOOS == "windows" {
		path = strings.TrimPrefix(path, `\`)
	}
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if runtime.GOOS != "windows" && fi.Mode().Perm() != 0o600 {
		t.Errorf("launcher %s has mode %v; want 0600", path, fi.Mode().Perm())
	}
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile(`url=([^"]+)"`).FindSubmatch(b)
	if m == nil {
		t.Fatalf("launcher without an address: %s", b)
	}
	return html.UnescapeString(string(m[1]))
}
