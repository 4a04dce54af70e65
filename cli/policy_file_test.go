//go:build !windows

package cli

import (
	"os"
	"path/filepath"
	"testing"

	"vpconnect/agent/config"
)

// isolatePolicy points the agent at a policy file of the test's own (none
// until writePolicy), so that no test reads the machine's policy.
func isolatePolicy(t *testing.T) {
	t.Helper()
	old := config.PolicyPath
	config.PolicyPath = filepath.Join(t.TempDir(), "policy.json")
	t.Cleanup(func() { config.PolicyPath = old })
}

// writePolicy writes the administrator's policy file.
func writePolicy(t *testing.T, doc string) {
	t.Helper()
	if err := os.WriteFile(config.PolicyPath, []byte(doc), 0o644); err != nil {
		t.Fatal(err)
	}
}

// removePolicy removes the policy file, as IT lifting the policy does.
func removePolicy(t *testing.T) {
	t.Helper()
	if err := os.Remove(config.PolicyPath); err != nil && !os.IsNotExist(err) {
		t.Fatal(err)
	}
}
