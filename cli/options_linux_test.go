package cli

import (
	"context"
	"os"
	"os/exec"
	"regexp"
	"strings"
	"testing"
)

// Another user of the computer watching every command line (any user can
// read /proc/*/cmdline) while the owner opens Sync Options sees no
// one-time address: the browser is started on a launcher file, which that
// user cannot read.
func TestAnotherUserCannotCatchTheOneTimeAddress(t *testing.T) {
	if os.Getuid() != 0 {
		t.Skip("another user's process needs root to start (CI runs as root)")
	}
	setpriv, err := exec.LookPath("setpriv")
	if err != nil {
		t.Fatalf("setpriv (util-linux) is needed to run a process as another user: %v", err)
	}
	w := newAgentWorld(t)
	w.activate(t)
	w.startAgent(t)
	// The "browser" is a real process started the way a browser is, with
	// what it is given on its command line; it runs while the other user
	// looks.
	var browser *exec.Cmd
	w.cli.openPage = func(_ context.Context, u string) error {
		browser = exec.Command("sh", "-c", "sleep 30", "browser", u)
		return browser.Start()
	}
	code, out, errOut := w.run("options")
	m := regexp.MustCompile(`/open\?t=(\w+)`).FindStringSubmatch(out)
	if code != exitOK || m == nil || browser == nil {
		t.Fatalf("options = %d\n%s%s", code, out, errOut)
	}
	defer func() { browser.Process.Kill(); browser.Wait() }()
	launcher := strings.TrimPrefix(browser.Args[4], "file://")

	spy := exec.Command(setpriv, "--reuid=65534", "--regid=65534", "--clear-groups", "sh", "-c",
		`for f in /proc/[0-9]*/cmdline; do tr '\0' ' ' < "$f" 2>/dev/null; echo; done; echo ---; cat "$1" 2>&1; true`, "spy", launcher)
	seen, err := spy.CombinedOutput()
	if err != nil {
		t.Fatalf("the other user's look: %v\n%s", err, seen)
	}
	cmdlines, file, _ := strings.Cut(string(seen), "\n---\n")
	if !strings.Contains(cmdlines, "sleep 30 browser file://") {
		t.Fatalf("the other user did not see the browser command line %q; the test proves nothing:\n%.3000s", browser.Args, cmdlines)
	}
	if strings.Contains(string(seen), m[1]) {
		t.Errorf("another user saw the one-time address's secret %s", m[1])
	}
	if !strings.Contains(file, "Permission denied") {
		t.Errorf("another user reading the launcher %s got %q; want Permission denied", launcher, file)
	}
}
