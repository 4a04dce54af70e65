// Package dbustest gives a test a D-Bus bus of its own: a real dbus-daemon
// on a socket in the test's directory, gone with the test. The tray, the
// session's idleness and the keychain all speak D-Bus, and each is tested
// against a real bus rather than a mock of its methods. Only tests import
// this package.
package dbustest

import (
	"bufio"
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/godbus/dbus/v5"
)

// Bus starts a dbus-daemon (session configuration) for the test and
// returns its address. what says what the bus is for, in the message when
// dbus-daemon is missing: in CI (VPCONNECT_TEST_SECRET_SERVICE set) that
// fails the test, elsewhere it skips it.
func Bus(t testing.TB, what string) string {
	t.Helper()
	daemon, err := exec.LookPath("dbus-daemon")
	if err != nil {
		if os.Getenv("VPCONNECT_TEST_SECRET_SERVICE") != "" {
			t.Fatalf("dbus-daemon is missing (Debian package dbus-daemon): %s cannot be tested", what)
		}
		t.Skipf("dbus-daemon is not installed, so %s is not tested; set VPCONNECT_TEST_SECRET_SERVICE=1 to make this a failure", what)
	}
	// The socket goes in a directory of the test's own (short: a socket's
	// path has at most 107 bytes), not in /tmp where the session
	// configuration would leave it behind.
	dir, err := os.MkdirTemp("", "vpconnect-bus")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	cmd := exec.Command(daemon, "--session", "--print-address", "--nofork", "--address=unix:path="+filepath.Join(dir, "bus"))
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatalf("start dbus-daemon: %v", err)
	}
	stop := func() {
		cmd.Process.Signal(syscall.SIGTERM)
		cmd.Wait()
	}
	line := make(chan string, 1)
	go func() {
		s, _ := bufio.NewReader(out).ReadString('\n')
		line <- strings.TrimSpace(s)
	}()
	var addr string
	select {
	case addr = <-line:
	case <-time.After(10 * time.Second):
	}
	if addr == "" {
		cmd.Process.Kill()
		stop()
		t.Fatalf("dbus-daemon printed no address within 10 s: %s", stderr.String())
	}
	t.Cleanup(stop)
	return addr
}

// Connect opens a connection to the bus at addr, closed with the test.
func Connect(t testing.TB, addr string) *dbus.Conn {
	t.Helper()
	conn, err := dbus.Connect(addr)
	if err != nil {
		t.Fatalf("connect to the test's bus: %v", err)
	}
	t.Cleanup(func() { conn.Close() })
	return conn
}
