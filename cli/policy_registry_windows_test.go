package cli

import "testing"

// On Windows the policy comes from the registry (HKLM), which a test cannot
// write without administrator rights: the policy tests run on the other
// systems, and the rest runs with whatever policy the machine has.
func isolatePolicy(t *testing.T) {}

// writePolicy skips the test that needs a policy of its own.
func writePolicy(t *testing.T, doc string) {
	t.Helper()
	t.Skip("the policy tests write the policy file of Linux and macOS; on Windows the policy is in the registry")
}
