//go:build !windows

package cli

import (
	"bytes"
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"

	"vpconnect/agent/config"
)

// `vpconnect config --json` shows the policy over the file, says which keys
// the policy set and where, reports an ignored value, and never prints the
// Vantagepoint client secret.
func TestConfigShowsThePolicyOverTheFile(t *testing.T) {
	isolatePolicy(t)
	path := filepath.Join(t.TempDir(), "config.json")
	cfg := config.Default()
	cfg.Vantagepoint.APIURL = "https://file.example.com/api"
	cfg.Vantagepoint.Database = "FILE"
	cfg.Vantagepoint.ClientSecret = "file-secret-do-not-print"
	if err := config.Save(path, cfg); err != nil {
		t.Fatal(err)
	}
	writePolicy(t, `{"vantagepoint": {"apiUrl": "https://vp.example.com/api", "clientSecret": "policy-secret-do-not-print"},
		"sync": {"enabled": false, "lookbackDays": -3}}`)

	var out, errOut bytes.Buffer
	if code := newCLI().run([]string{"--config", path, "config", "--json"}, &out, &errOut); code != exitOK {
		t.Fatalf("exit %d: %s", code, errOut.String())
	}
	if strings.Contains(out.String(), "do-not-print") {
		t.Errorf("the client secret is printed:\n%s", out.String())
	}
	var got effectiveConfig
	if err := json.Unmarshal(out.Bytes(), &got); err != nil {
		t.Fatalf("%v\n%s", err, out.String())
	}
	if got.File != path {
		t.Errorf("file %q, want %q", got.File, path)
	}
	c := got.Config
	if c.Vantagepoint.APIURL != "https://vp.example.com/api" || c.Vantagepoint.Database != "FILE" || c.Vantagepoint.ClientSecret != "(set)" {
		t.Errorf("vantagepoint = %+v, want the policy's URL, the file's database and the secret hidden", c.Vantagepoint)
	}
	if c.Sync.Enabled == nil || *c.Sync.Enabled {
		t.Errorf("sync.enabled = %v, want false from the policy", c.Sync.Enabled)
	}
	if c.Sync.LookbackDays != config.Default().Sync.LookbackDays {
		t.Errorf("lookbackDays = %d, want the default (the policy's -3 is ignored)", c.Sync.LookbackDays)
	}
	for _, k := range []string{"vantagepoint.apiUrl", "vantagepoint.clientSecret", "sync.enabled"} {
		if !strings.Contains(got.Policy[k], config.PolicyPath) {
			t.Errorf("policy[%q] = %q, want its source %s", k, got.Policy[k], config.PolicyPath)
		}
	}
	if _, ok := got.Policy["vantagepoint.database"]; ok {
		t.Errorf("vantagepoint.database is listed as set by policy: %v", got.Policy)
	}
	if len(got.Problems) != 1 || !strings.Contains(got.Problems[0], "lookbackDays") {
		t.Errorf("problems = %q, want the ignored lookbackDays", got.Problems)
	}

	out.Reset()
	if code := newCLI().run([]string{"--config", path, "config"}, &out, &errOut); code != exitOK {
		t.Fatalf("exit %d: %s", code, errOut.String())
	}
	if !strings.Contains(out.String(), "Set by policy: sync.enabled") || strings.Contains(out.String(), "do-not-print") {
		t.Errorf("the text form:\n%s", out.String())
	}
}
