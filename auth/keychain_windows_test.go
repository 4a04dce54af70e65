package auth

import (
	"fmt"
	"os"
	"testing"
	"time"
)

// The keychain against Windows Credential Manager, where the Windows build
// runs (under Wine in make test: .ci/wine-suite sets
// VPCONNECT_TEST_CREDENTIAL_MANAGER). An entry holds at most 2,560 bytes,
// so a long record is split; deleting removes every part.
func TestSystemKeychainOnCredentialManager(t *testing.T) {
	if os.Getenv("VPCONNECT_TEST_CREDENTIAL_MANAGER") == "" {
		t.Skip("set VPCONNECT_TEST_CREDENTIAL_MANAGER=1 to test Windows Credential Manager (.ci/wine-suite does)")
	}
	kc := NewSystemKeychain(fmt.Sprintf("vpconnect-test-%d", time.Now().UnixNano()))
	// Not t.TempDir: under Wine 8 Go's directory removal fails ("Invalid
	// function", a file-disposition call Wine lacks), which would fail the
	// test after it passed.
	dir, err := os.MkdirTemp("", "vpconnect-keychain")
	if err != nil {
		t.Fatal(err)
	}
	defer os.RemoveAll(dir) // best effort
	if err := NewStore(kc, dir).Check(); err != nil {
		t.Fatalf("Credential Manager cannot be used: %v", err)
	}
	exerciseKeychain(t, kc, dir, func() int { return storedParts(kc) })
}
