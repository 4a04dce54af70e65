//go:build !windows && !darwin

package config

import (
	"os"
	"path/filepath"
	"testing"
)

func TestLoadPolicyFromPolicyPath(t *testing.T) {
	dir := t.TempDir()
	old := PolicyPath
	t.Cleanup(func() { PolicyPath = old })
	PolicyPath = filepath.Join(dir, "policy.json")
	os.WriteFile(PolicyPath, []byte(`{"ui.allowPause": false}`), 0o644)
	p, errs := LoadPolicy()
	if len(errs) > 0 || !p.Has("ui.allowPause") {
		t.Fatalf("%v %s", p.Keys(), joinErrs(errs))
	}
}

// The running agent's check (docs/behaviour.md §5.4): a changed value changes the
// fingerprint, the same values written again do not.
func TestPolicyFingerprintFollowsTheFile(t *testing.T) {
	dir := t.TempDir()
	old := PolicyPath
	t.Cleanup(func() { PolicyPath = old })
	PolicyPath = filepath.Join(dir, "policy.json")
	none := PolicyFingerprint()
	write := func(doc string) string {
		t.Helper()
		if err := os.WriteFile(PolicyPath, []byte(doc), 0o644); err != nil {
			t.Fatal(err)
		}
		return PolicyFingerprint()
	}
	off := write(`{"sync": {"enabled": false}}`)
	if off == none {
		t.Fatal("sync.enabled=false did not change the fingerprint")
	}
	if again := write(`{"sync":{"enabled":false}}`); again != off {
		t.Errorf("the same value written again changed it: %q, then %q", off, again)
	}
	if on := write(`{"sync": {"enabled": true}}`); on == off {
		t.Error("sync.enabled=true did not change it")
	}
	if bad := write(`{"sync": {"interval": "5s"}}`); bad == none {
		t.Error("a bad value (reported in status) did not change it")
	}
}
