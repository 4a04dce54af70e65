package cli

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"

	"vpconnect/agent/config"
	"vpconnect/agent/localapi"
)

// 'vpconnect addins' lists the add-ins paired with the running agent and
// revokes one: its token is refused from then on.
func TestAddinsListAndRevoke(t *testing.T) {
	w := newAgentWorld(t)
	const origin = "https://addin.example.com"
	w.cfg.LocalAPI.AllowedOrigins = []string{origin}
	if err := config.Save(w.cfgPath, w.cfg); err != nil {
		t.Fatal(err)
	}
	w.startAgent(t)
	c := w.client(t)
	ctx := context.Background()

	code, out, errOut := w.run("addins")
	if code != exitOK || out != "No add-in is paired.\n" {
		t.Fatalf("addins with none = %d\n%s%s", code, out, errOut)
	}
	// An add-in pairs; the owner types its code.
	call := func(method, path, token, body string) (int, string) {
		t.Helper()
		req, _ := http.NewRequest(method, c.Base()+path, strings.NewReader(body))
		req.Header.Set("Origin", origin)
		req.Header.Set("Content-Type", "application/json")
		if token != "" {
			req.Header.Set("Authorization", "Bearer "+token)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var b strings.Builder
		_, _ = io.Copy(&b, resp.Body)
		return resp.StatusCode, b.String()
	}
	status, body := call("POST", "/v1/pair", "", "{\"name\":\"Outlook \\u001b[31mweb\"}")
	var p localapi.PairAnswer
	if status != http.StatusAccepted || json.Unmarshal([]byte(body), &p) != nil {
		t.Fatalf("pair: %d %s", status, body)
	}
	if err := c.ApprovePairing(ctx, p.Code); err != nil {
		t.Fatal(err)
	}
	if _, body = call("GET", "/v1/pair/"+p.ID, "", ""); json.Unmarshal([]byte(body), &p) != nil || p.Token == "" {
		t.Fatalf("pair status: %s", body)
	}

	code, out, errOut = w.run("addins", "list")
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if code != exitOK || len(lines) != 2 || !strings.HasPrefix(lines[0], "ID") || !strings.Contains(lines[1], origin) ||
		!strings.Contains(lines[1], "Outlook [31mweb") || strings.Contains(out, "\x1b") {
		t.Fatalf("addins list = %d\n%q%s", code, out, errOut)
	}
	code, out, errOut = w.run("addins", "--json")
	var list []localapi.AddinInfo
	if code != exitOK || json.Unmarshal([]byte(out), &list) != nil || len(list) != 1 || list[0].Origin != origin || list[0].ID == "" {
		t.Fatalf("addins --json = %d\n%s%s", code, out, errOut)
	}
	if status, _ := call("GET", "/v1/status", p.Token, ""); status != http.StatusOK {
		t.Fatalf("the paired add-in's status: %d", status)
	}

	code, out, errOut = w.run("addins", "revoke", "nope")
	if code != exitFailure || !strings.Contains(errOut, "no such add-in") {
		t.Fatalf("revoke of an unknown id = %d\n%s%s", code, out, errOut)
	}
	code, out, errOut = w.run("addins", "revoke", list[0].ID, "--json")
	if code != exitOK || !strings.Contains(out, `"revoked":"`+list[0].ID+`"`) {
		t.Fatalf("revoke = %d\n%s%s", code, out, errOut)
	}
	if status, _ := call("GET", "/v1/status", p.Token, ""); status != http.StatusUnauthorized {
		t.Fatalf("the revoked add-in's status: %d; want 401", status)
	}
	if code, out, _ = w.run("addins"); code != exitOK || out != "No add-in is paired.\n" {
		t.Fatalf("addins after the revocation = %d\n%s", code, out)
	}
	for _, args := range [][]string{{"addins", "revoke"}, {"addins", "revoke", "a", "b"}, {"addins", "list", "x"}, {"addins", "--bogus"}} {
		if code, out, errOut := w.run(args...); code != exitUsage {
			t.Errorf("%q = %d; want %d\n%s%s", args, code, exitUsage, out, errOut)
		}
	}
}
