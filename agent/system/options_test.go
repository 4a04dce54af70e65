package system

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	"vpconnect/agent"
	"vpconnect/agent/config"
	"vpconnect/agent/localapi"
	"vpconnect/auth"
	"vpconnect/syncer/graph/graphsim"
)

// pageSession opens Sync Options as the browser does (the one-time address,
// its cookie and the page secret of the redirect's fragment) and returns a
// caller of the page's routes.
func pageSession(t *testing.T, base, dir string) func(method, path, body string) (int, string) {
	t.Helper()
	secret, err := localapi.ReadSecret(dir)
	if err != nil {
		t.Fatal(err)
	}
	u, err := localapi.NewClient(base, secret).OpenURL(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	hc := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := hc.Get(u)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	loc := resp.Header.Get("Location")
	pageSecret, ok := strings.CutPrefix(loc, "/#s=")
	if !ok || len(resp.Cookies()) != 1 {
		t.Fatalf("open: %s %q %v", resp.Status, loc, resp.Cookies())
	}
	cookie := resp.Cookies()[0]
	return func(method, path, body string) (int, string) {
		req, _ := http.NewRequest(method, base+path, strings.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set(localapi.PageSecretHeader, pageSecret)
		req.AddCookie(cookie)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
}

// waitStatus asks the running agent until ok holds.
func waitStatus(t *testing.T, base, dir, what string, ok func(agent.Status) bool) agent.Status {
	t.Helper()
	secret, _ := localapi.ReadSecret(dir)
	c := localapi.NewClient(base, secret)
	deadline := time.Now().Add(30 * time.Second)
	for {
		st, err := c.Status(context.Background())
		if err == nil && ok(st) {
			return st
		}
		if time.Now().After(deadline) {
			t.Fatalf("waiting for %s: %+v %v", what, st, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// Options on the page: a changed option is validated, saved
// (0600) and applied by the running agent, whose next batch uses it; an
// option policy sets is refused by the API itself, and shown locked.
func TestPageOptionsApplyAndPolicyLocks(t *testing.T) {
	w := newFirstRunWorld(t, graphsim.Options{})
	ctx := context.Background()
	// Activated as 'vpconnect activate' does.
	if _, err := (Activation{Env: w.env(followRedirects, nil), Config: w.cfg, DataDir: w.cfg.DataDir,
		SignIn:      auth.SignInOptions{Browser: followRedirects, NoDeviceCode: true},
		Credentials: func(context.Context) (string, string, error) { return frVPUser, frPassword, nil }}).Run(ctx); err != nil {
		t.Fatal(err)
	}
	env := w.env(followRedirects, nil)
	pol, problems := config.ParsePolicy([]byte(`{"sync": {"daysAhead": 90}}`), "test policy")
	if len(problems) > 0 {
		t.Fatal(problems)
	}
	env.Policy = func() (config.Policy, []error) { return pol, nil }
	var sys *System
	select {
	case sys = <-w.serve(t, env):
	case <-time.After(30 * time.Second):
		t.Fatal("the agent did not start")
	}
	base, dir := sys.API.BaseURL(), sys.DataDir
	waitStatus(t, base, dir, "the first batch", func(s agent.Status) bool { return s.LastBatch != nil && s.LastBatch.ID == 1 })
	page := pageSession(t, base, dir)

	code, body := page("GET", "/ui/state", "")
	var ps localapi.PageState
	if err := json.Unmarshal([]byte(body), &ps); code != 200 || err != nil || ps.Options == nil {
		t.Fatalf("state: %d %s", code, body)
	}
	if ps.Options.Values.Category != "Vantagepoint" || ps.Options.Values.DaysAhead != 90 ||
		!strings.Contains(ps.Options.Locked["sync.daysAhead"], "test policy") || len(ps.Options.Locked) != 1 {
		t.Fatalf("options %+v", ps.Options)
	}

	// Locked by policy: the API refuses, the file keeps its value.
	before, _ := os.ReadFile(w.cfgPath)
	if code, body := page("POST", "/ui/options", `{"daysAhead": 30}`); code != http.StatusForbidden || !strings.Contains(body, "locked_by_policy") {
		t.Fatalf("changing a locked option: %d %s", code, body)
	}
	if code, body := page("POST", "/ui/options", `{"category": "VP Sync", "daysAhead": 30}`); code != http.StatusForbidden {
		t.Fatalf("a change with a locked option in it: %d %s", code, body)
	}
	// Validated as the file is: the key is named.
	if code, body := page("POST", "/ui/options", `{"lookbackDays": -3}`); code != http.StatusBadRequest || !strings.Contains(body, "lookbackDays") {
		t.Fatalf("an invalid value: %d %s", code, body)
	}
	if code, body := page("POST", "/ui/options", `{"colour": "blue"}`); code != http.StatusBadRequest {
		t.Fatalf("an unknown option: %d %s", code, body)
	}
	if after, _ := os.ReadFile(w.cfgPath); string(after) != string(before) {
		t.Fatalf("a refused change was written:\n%s", after)
	}

	// A message tagged with the new category only.
	w.graph.AddMessage("inbox", graphsim.Message{Subject: "Ferry terminal: minutes", BodyType: "text", Body: "Minutes attached.",
		From:             graphsim.Recipient{Name: "Alice Ng", Address: "alice@fabrikam.example"},
		To:               []graphsim.Recipient{{Name: "Dana Whitfield", Address: frUser}},
		ReceivedDateTime: time.Now().Add(-time.Minute), Categories: []string{"VP Sync"}})
	if code, body := page("POST", "/ui/options", `{"category": "VP Sync", "mailFolders": []}`); code != http.StatusOK {
		t.Fatalf("change the category: %d %s", code, body)
	}
	st, err := os.Stat(w.cfgPath)
	if err != nil || st.Mode().Perm() != 0o600 {
		t.Fatalf("the configuration file: %v %v", st.Mode(), err)
	}
	saved, _, err := config.Load(w.cfgPath)
	if err != nil || saved.Sync.Category != "VP Sync" || saved.Sync.DaysAhead != w.cfg.Sync.DaysAhead {
		t.Fatalf("saved %+v %v", saved.Sync, err)
	}
	// The agent takes it up by itself; its next batch files the message.
	waitStatus(t, base, dir, "a batch that filed the message tagged VP Sync", func(s agent.Status) bool {
		return s.LastBatch != nil && s.LastBatch.ID >= 2 && s.LastBatch.Counts["emails"].Created == 1
	})
	found := false
	for _, a := range w.vp.Activities() {
		found = found || a.Subject == "Ferry terminal: minutes"
	}
	if !found {
		t.Fatal("no activity for the message tagged with the new category")
	}
	code, body = page("GET", "/ui/state", "")
	if err := json.Unmarshal([]byte(body), &ps); code != 200 || err != nil || ps.Options.Values.Category != "VP Sync" {
		t.Fatalf("state after the change: %d %s", code, body)
	}
}
