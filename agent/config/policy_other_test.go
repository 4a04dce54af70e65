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
