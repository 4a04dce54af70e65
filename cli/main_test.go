package cli

import (
	"bytes"
	"strings"
	"testing"
)

func TestExitCodes(t *testing.T) {
	cases := []struct {
		args []string
		code int
		out  string
	}{
		{nil, exitUsage, "usage: vpconnect"},
		{[]string{"frobnicate"}, exitUsage, `unknown command "frobnicate"`},
		{[]string{"version"}, exitOK, "vpconnect "},
		{[]string{"help"}, exitOK, "demo [--once]"},
		{[]string{"demo", "--bogus"}, exitUsage, "flag provided but not defined"},
		{[]string{"demo", "extra"}, exitUsage, `unexpected argument "extra"`},
		{[]string{"--config"}, exitUsage, "--config needs a path"},
	}
	for _, c := range cases {
		var out bytes.Buffer
		if code := newCLI().run(c.args, &out, &out); code != c.code || !strings.Contains(out.String(), c.out) {
			t.Errorf("vpconnect %v: exit %d, output %q; want exit %d and %q", c.args, code, out.String(), c.code, c.out)
		}
	}
}

func TestDemoOnceJSON(t *testing.T) {
	var out, errOut bytes.Buffer
	if code := newCLI().run([]string{"demo", "--once", "--json"}, &out, &errOut); code != exitOK {
		t.Fatalf("demo --once --json: exit %d\n%s", code, errOut.String())
	}
	// The demo's seed has a tagged weekly series in Outlook: one issue
	// (docs/behaviour.md §4.3), so the startup batch ends with issues.
	if !strings.Contains(out.String(), `"outcome":"issues"`) || !strings.Contains(out.String(), "recurring meetings are not synced") {
		t.Errorf("output: %s", out.String())
	}
}
