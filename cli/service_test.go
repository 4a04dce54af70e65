package cli

import (
	"bytes"
	"strings"
	"testing"

	"vpconnect/installer/autostart"
)

type fakeAutostart struct {
	status autostart.Status
	calls  []string
}

func (f *fakeAutostart) Install() (string, error) {
	f.calls = append(f.calls, "install")
	return "installed x", nil
}
func (f *fakeAutostart) Uninstall() (string, error) {
	f.calls = append(f.calls, "uninstall")
	return "uninstalled x", nil
}
func (f *fakeAutostart) Start() error { f.calls = append(f.calls, "start"); return nil }
func (f *fakeAutostart) Stop() error  { f.calls = append(f.calls, "stop"); return nil }
func (f *fakeAutostart) Status() (autostart.Status, error) {
	f.calls = append(f.calls, "status")
	return f.status, nil
}

// withService points `vpconnect service` at goos and a fake manager.
func withService(t *testing.T, goos string) *fakeAutostart {
	t.Helper()
	f := &fakeAutostart{}
	oldGOOS, oldNew := serviceGOOS, newAutostart
	serviceGOOS = goos
	newAutostart = func() (autostartManager, error) { return f, nil }
	t.Cleanup(func() { serviceGOOS, newAutostart = oldGOOS, oldNew })
	return f
}

func runCLI(args ...string) (int, string, string) {
	var stdout, stderr bytes.Buffer
	code := newCLI().run(args, &stdout, &stderr)
	return code, stdout.String(), stderr.String()
}

func TestServiceUsageErrors(t *testing.T) {
	f := withService(t, "linux")
	for _, args := range [][]string{{"service"}, {"service", "bogus"}, {"service", "install", "extra"}, {"service", "--bogus"}} {
		code, _, stderr := runCLI(args...)
		if code != exitUsage {
			t.Errorf("%q: exit %d, want %d (usage)", args, code, exitUsage)
		}
		if !strings.Contains(stderr, "install|uninstall|start|stop|status") {
			t.Errorf("%q: stderr does not show the usage: %q", args, stderr)
		}
	}
	if len(f.calls) != 0 {
		t.Errorf("a usage error reached the manager: %v", f.calls)
	}
}

func TestServiceOnWindowsPointsAtTheMSI(t *testing.T) {
	f := withService(t, "windows")
	for _, action := range []string{"install", "uninstall", "start", "stop", "status"} {
		code, stdout, stderr := runCLI("service", action)
		if code != exitFailure {
			t.Errorf("service %s on Windows: exit %d, want %d", action, code, exitFailure)
		}
		if stdout != "" || !strings.Contains(stderr, "installed by the MSI") || !strings.Contains(stderr, `CurrentVersion\Run\vpconnect`) {
			t.Errorf("service %s on Windows: stdout %q, stderr %q; want the MSI's Run value explained", action, stdout, stderr)
		}
	}
	if len(f.calls) != 0 {
		t.Errorf("Windows reached the manager: %v", f.calls)
	}
}

func TestServiceActions(t *testing.T) {
	for _, tc := range []struct {
		args   []string
		status autostart.Status
		want   string
	}{
		{[]string{"service", "status"}, autostart.NotInstalled, "not installed\n"},
		{[]string{"service", "status"}, autostart.Stopped, "stopped\n"},
		{[]string{"service", "status"}, autostart.Running, "running\n"},
		{[]string{"service", "install"}, 0, "installed x\n"},
		{[]string{"service", "uninstall"}, 0, "uninstalled x\n"},
		{[]string{"service", "start"}, 0, "started\n"},
		{[]string{"service", "stop"}, 0, "stopped\n"},
	} {
		f := withService(t, "linux")
		f.status = tc.status
		code, stdout, stderr := runCLI(tc.args...)
		if code != exitOK || stdout != tc.want {
			t.Errorf("%q (status %v): exit %d, stdout %q, stderr %q; want 0 and %q", tc.args, tc.status, code, stdout, stderr, tc.want)
		}
		if len(f.calls) != 1 || f.calls[0] != tc.args[1] {
			t.Errorf("%q: manager calls %v", tc.args, f.calls)
		}
	}
}
