package installer

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// The Debian package (make deb, linux/build-deb.sh) installs with dpkg:
// the binary runs, the autostart entry, the systemd user unit (valid for
// systemd-analyze where it is available) and the policy example are where
// the docs say; purging removes them all. It installs into this system,
// so it runs as root only (as CI does).
func TestDebInstallsAndPurges(t *testing.T) {
	if os.Getuid() != 0 {
		t.Skip("installing a package needs root (CI runs as root)")
	}
	for _, tool := range []string{"dpkg", "dpkg-deb"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Fatalf("%s is needed: %v", tool, err)
		}
	}
	if out, err := exec.Command("dpkg-query", "-W", "vpconnect").CombinedOutput(); err == nil {
		t.Fatalf("vpconnect is installed on this system already (%s): not touching it", strings.TrimSpace(string(out)))
	}
	dir := t.TempDir()
	exe := filepath.Join(dir, "vpconnect")
	if out, err := exec.Command("go", "build", "-o", exe, "../cmd/vpconnect").CombinedOutput(); err != nil {
		t.Fatalf("build vpconnect: %v\n%s", err, out)
	}
	deb := filepath.Join(dir, "vpconnect_amd64.deb")
	if out, err := exec.Command("bash", "linux/build-deb.sh", exe, "v1.2.3", deb).CombinedOutput(); err != nil {
		t.Fatalf("build-deb.sh: %v\n%s", err, out)
	}
	run := func(name string, args ...string) string {
		t.Helper()
		out, err := exec.Command(name, args...).CombinedOutput()
		if err != nil {
			t.Fatalf("%s %v: %v\n%s", name, args, err, out)
		}
		return string(out)
	}
	if v := run("dpkg-deb", "-f", deb, "Version"); strings.TrimSpace(v) != "1.2.3" {
		t.Errorf("package version %q", v)
	}
	// Every directory of the package, its root included, is 0755 and
	// root's: dpkg applies them to the system's own directories.
	for _, line := range strings.Split(strings.TrimSpace(run("dpkg-deb", "-c", deb)), "\n") {
		f := strings.Fields(line)
		if len(f) >= 6 && strings.HasPrefix(f[0], "d") && (f[0] != "drwxr-xr-x" || f[1] != "root/root") {
			t.Errorf("a directory of the package: %s", line)
		}
	}
	run("dpkg", "-i", deb)
	t.Cleanup(func() { exec.Command("dpkg", "--purge", "vpconnect").Run() })
	files := map[string]os.FileMode{
		"/usr/bin/vpconnect":                           0o755,
		"/etc/xdg/autostart/vpconnect.desktop":         0o644,
		"/usr/lib/systemd/user/vpconnect.service":      0o644,
		"/usr/share/doc/vpconnect/policy.example.json": 0o644,
	}
	for f, mode := range files {
		fi, err := os.Stat(f)
		if err != nil {
			t.Errorf("after install: %v", err)
			continue
		}
		if fi.Mode().Perm() != mode {
			t.Errorf("%s has mode %v, want %v", f, fi.Mode().Perm(), mode)
		}
	}
	if out := run("/usr/bin/vpconnect", "version"); !strings.HasPrefix(out, "vpconnect") {
		t.Errorf("vpconnect version = %q", out)
	}
	if sa, err := exec.LookPath("systemd-analyze"); err == nil {
		if out, err := exec.Command(sa, "verify", "/usr/lib/systemd/user/vpconnect.service").CombinedOutput(); err != nil {
			t.Errorf("systemd-analyze verify: %v\n%s", err, out)
		}
	}
	run("dpkg", "--purge", "vpconnect")
	for f := range files {
		if _, err := os.Stat(f); !os.IsNotExist(err) {
			t.Errorf("%s is still there after purge (%v)", f, err)
		}
	}
}
