package cli

import (
	"strings"
	"testing"

	"vpconnect/agent/config"
)

// 'vpconnect check' tells a misregistered app apart from an unreachable
// authority, each with its fix, and passes a good registration.
func TestCheckCommand(t *testing.T) {
	w := newWorld(t)
	code, out, errOut := w.run("check")
	if code != exitOK || strings.Contains(out, "✗") || !strings.Contains(out, "lets the agent sign in") {
		t.Fatalf("a good registration: exit %d\n%s%s", code, out, errOut)
	}

	w.g.SetSingleTenant(true)
	code, out, errOut = w.run("check")
	if code != exitFailure || !strings.Contains(out, "✗ sign-in page accepts the redirect URI http://localhost: the identity platform refused the app registration") ||
		!strings.Contains(out, "fix: the app is registered for one organization only: set microsoft.tenant to the Directory (tenant) ID") ||
		!strings.Contains(errOut, "2 of 3 checks failed") {
		t.Errorf("a single-tenant app through organizations: exit %d\n%s%s", code, out, errOut)
	}
	w.g.SetSingleTenant(false)

	w.g.RevokeConsent()
	code, out, _ = w.run("check")
	if code != exitFailure || !strings.Contains(out, "AADSTS90094") || !strings.Contains(out, "'Grant admin consent'") {
		t.Errorf("consent needed: exit %d\n%s", code, out)
	}
	w.g.GrantConsent()

	cfg := w.cfg
	cfg.Microsoft.AuthorityURL = "http://127.0.0.1:1"
	if err := config.Save(w.cfgPath, cfg); err != nil {
		t.Fatal(err)
	}
	code, out, _ = w.run("check")
	if code != exitFailure || !strings.Contains(out, "not a registration problem") || strings.Contains(out, "refused the app registration") ||
		strings.Count(out, "not asked") != 2 {
		t.Errorf("an unreachable authority: exit %d\n%s", code, out)
	}
}
