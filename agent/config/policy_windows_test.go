//go:build windows

package config

import (
	"errors"
	"testing"

	"golang.org/x/sys/windows/registry"
)

// The running agent's check (docs/behaviour.md §5.4) sees a registry change: a value set
// under HKCU\SOFTWARE\Policies\vpconnect (a user-scoped GPO; HKLM needs an
// administrator) changes the fingerprint, and removing it restores it. It
// runs wherever the Windows build's tests run, and leaves a machine that
// has a policy of its own alone.
func TestPolicyFingerprintFollowsTheRegistry(t *testing.T) {
	if k, err := registry.OpenKey(registry.CURRENT_USER, WindowsPolicyKey, registry.QUERY_VALUE); err == nil {
		k.Close()
		t.Skip("this user has a vpconnect policy of their own")
	} else if !errors.Is(err, registry.ErrNotExist) {
		t.Fatal(err)
	}
	before := PolicyFingerprint()
	k, _, err := registry.CreateKey(registry.CURRENT_USER, WindowsPolicyKey, registry.SET_VALUE)
	if err != nil {
		t.Skipf("cannot write the user's policy key: %v", err)
	}
	t.Cleanup(func() {
		k.Close()
		_ = registry.DeleteKey(registry.CURRENT_USER, WindowsPolicyKey)
	})
	if err := k.SetDWordValue("sync.enabled", 0); err != nil {
		t.Fatal(err)
	}
	off := PolicyFingerprint()
	if off == before {
		t.Fatal("sync.enabled=0 did not change the fingerprint")
	}
	if again := PolicyFingerprint(); again != off {
		t.Errorf("two readings of one policy differ: %q, %q", off, again)
	}
	if err := k.DeleteValue("sync.enabled"); err != nil {
		t.Fatal(err)
	}
	if after := PolicyFingerprint(); after != before {
		t.Errorf("removing the value did not restore the fingerprint: %q, then %q", before, after)
	}
}
