package addin

import (
	"os/exec"
	"strings"
	"testing"
)

// TestPaneLogic runs the pane's unit tests (jstest/, Node's built-in test
// runner, with a stand-in Office.js and a stand-in agent), so that
// 'go test' covers the JavaScript too.
func TestPaneLogic(t *testing.T) {
	node, err := exec.LookPath("node")
	if err != nil {
		t.Fatal("node is needed for the pane's tests (Debian package nodejs, listed in .ci/packages.txt)")
	}
	out, err := exec.Command(node, "--test", "jstest/").CombinedOutput()
	if err != nil {
		t.Fatalf("node --test jstest/: %v\n%s", err, out)
	}
	if !strings.Contains(string(out), "# fail 0") || strings.Contains(string(out), "# pass 0\n") {
		t.Fatalf("unexpected test output:\n%s", out)
	}
	for _, l := range strings.Split(string(out), "\n") {
		if strings.HasPrefix(l, "# pass") {
			t.Log(l)
		}
	}
}
