//go:build linux

package chromiumtest

import (
	"os"
	"path/filepath"
	"syscall"
	"testing"
)

// Chromium's managed policies are one folder for the whole computer, read by
// every browser a test starts, and go test runs packages in parallel: a
// test that installs a policy holds the policy lock exclusively while it is
// there, and a test whose outcome depends on no policy being installed (a
// page the browser must keep away from the local network) holds it shared.
// The lock is a file lock, so it holds across test processes.

// LockPolicies holds the policy lock until the test ends; exclusive is for
// a test that installs a policy.
func LockPolicies(t *testing.T, exclusive bool) {
	t.Helper()
	f, err := os.OpenFile(filepath.Join(os.TempDir(), "vpconnect-chromium-policies.lock"), os.O_CREATE|os.O_RDWR, 0o666)
	if err != nil {
		t.Fatalf("open the Chromium policy lock: %v", err)
	}
	how := syscall.LOCK_SH
	if exclusive {
		how = syscall.LOCK_EX
	}
	if err := syscall.Flock(int(f.Fd()), how); err != nil {
		f.Close()
		t.Fatalf("take the Chromium policy lock: %v", err)
	}
	t.Cleanup(func() { f.Close() }) // closing the file releases the lock
}
