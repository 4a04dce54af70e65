package sysmon

import (
	"bufio"
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/godbus/dbus/v5"
	"github.com/godbus/dbus/v5/prop"
)

// privateBus starts a dbus-daemon of its own for the test and returns its
// address. In CI (VPCONNECT_TEST_SECRET_SERVICE set) a missing dbus-daemon
// fails the test; elsewhere it is skipped.
func privateBus(t *testing.T) string {
	t.Helper()
	daemon, err := exec.LookPath("dbus-daemon")
	if err != nil {
		if os.Getenv("VPCONNECT_TEST_SECRET_SERVICE") != "" {
			t.Fatal("dbus-daemon is missing (Debian package dbus-daemon): the logind path cannot be tested")
		}
		t.Skip("dbus-daemon is not installed; set VPCONNECT_TEST_SECRET_SERVICE=1 to make this a failure")
	}
	// The socket goes in a directory of the test's own (short: a socket's
	// path has at most 107 bytes), not in /tmp where the session
	// configuration would leave it.
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

// connect opens a connection to the bus at addr, closed with the test.
func connect(t *testing.T, addr string) *dbus.Conn {
	t.Helper()
	conn, err := dbus.Connect(addr)
	if err != nil {
		t.Fatalf("connect to the private bus: %v", err)
	}
	t.Cleanup(func() { conn.Close() })
	return conn
}

func own(t *testing.T, conn *dbus.Conn, name string) {
	t.Helper()
	reply, err := conn.RequestName(name, dbus.NameFlagDoNotQueue)
	if err != nil || reply != dbus.RequestNameReplyPrimaryOwner {
		t.Fatalf("own %s: %v (reply %v)", name, err, reply)
	}
}

// fakeLogind serves org.freedesktop.login1's session object on the bus at
// addr, with the properties real logind has (read-only, announced when
// they change), and returns them for the test to flip.
func fakeLogind(t *testing.T, addr string) (*prop.Properties, *dbus.Conn) {
	t.Helper()
	conn := connect(t, addr)
	props, err := prop.Export(conn, logindSessionPath, prop.Map{logindSessionIface: {
		"IdleHint":   {Value: false, Emit: prop.EmitTrue},
		"LockedHint": {Value: false, Emit: prop.EmitTrue},
		"Active":     {Value: true, Emit: prop.EmitTrue},
		"Name":       {Value: "dana", Emit: prop.EmitConst},
	}})
	if err != nil {
		t.Fatalf("export the session: %v", err)
	}
	own(t, conn, logindName)
	return props, conn
}

// fakeScreenSaver is the desktop's org.freedesktop.ScreenSaver.
type fakeScreenSaver struct{ active atomic.Bool }

func (s *fakeScreenSaver) GetActive() (bool, *dbus.Error) { return s.active.Load(), nil }

func serveScreenSaver(t *testing.T, addr string) *fakeScreenSaver {
	t.Helper()
	conn := connect(t, addr)
	s := &fakeScreenSaver{}
	if err := conn.Export(s, screenSaverPath, screenSaverIface); err != nil {
		t.Fatalf("export the screen saver: %v", err)
	}
	own(t, conn, screenSaverName)
	return s
}

// detectorOn is the production detector with its buses at these addresses.
func detectorOn(systemAddr, sessionAddr string) *IdleDetector {
	return newIdleDetector(&busIdle{
		connectSystem:  func() (*dbus.Conn, error) { return dbus.Connect(systemAddr) },
		connectSession: func() (*dbus.Conn, error) { return dbus.Connect(sessionAddr) },
	}, 0)
}

func TestIdleAsksLogindOnTheSystemBus(t *testing.T) {
	system, session := privateBus(t), privateBus(t)
	props, logind := fakeLogind(t, system)
	// The screen saver says active throughout: while logind answers, its
	// word is the one that counts.
	serveScreenSaver(t, session).active.Store(true)
	d := detectorOn(system, session)
	t.Cleanup(func() { d.Close() })

	steps := []struct {
		idle, locked, want bool
	}{
		{false, false, false},
		{true, false, true},
		{false, true, true},
		{true, true, true},
		{false, false, false},
	}
	for _, s := range steps {
		props.SetMust(logindSessionIface, "IdleHint", s.idle)
		props.SetMust(logindSessionIface, "LockedHint", s.locked)
		if got := d.Idle(); got != s.want {
			t.Fatalf("IdleHint %v, LockedHint %v: Idle %v; want %v", s.idle, s.locked, got, s.want)
		}
	}
	// logind leaves the bus: the screen saver is asked instead.
	if _, err := logind.ReleaseName(logindName); err != nil {
		t.Fatal(err)
	}
	if !d.Idle() {
		t.Fatal("without logind, the active screen saver was not asked")
	}
}

func TestIdleFallsBackToTheScreenSaverWithoutLogind(t *testing.T) {
	system, session := privateBus(t), privateBus(t)
	ss := serveScreenSaver(t, session)
	d := detectorOn(system, session)
	t.Cleanup(func() { d.Close() })
	for _, active := range []bool{false, true, false} {
		ss.active.Store(active)
		if got := d.Idle(); got != active {
			t.Fatalf("screen saver active %v: Idle %v", active, got)
		}
	}
}

func TestIdleCannotTellIsNotIdle(t *testing.T) {
	bus := privateBus(t)
	// Both buses there, neither logind nor a screen saver on them.
	d := detectorOn(bus, bus)
	if d.Idle() {
		t.Fatal("nobody to ask, yet idle")
	}
	d.Close()
	// No bus at all (a service without a session).
	d = detectorOn("unix:path="+t.TempDir()+"/none", "unix:path="+t.TempDir()+"/none")
	if d.Idle() {
		t.Fatal("no bus, yet idle")
	}
	d.Close()
}

// A bus that goes away and comes back is found again: the detector does
// not keep asking over a dead connection.
func TestIdleReconnectsAfterTheBusRestarts(t *testing.T) {
	system := privateBus(t)
	props, _ := fakeLogind(t, system)
	var current atomic.Pointer[string]
	current.Store(&system)
	b := &busIdle{
		connectSystem:  func() (*dbus.Conn, error) { return dbus.Connect(*current.Load()) },
		connectSession: func() (*dbus.Conn, error) { return dbus.Connect(*current.Load()) },
	}
	d := newIdleDetector(b, 0)
	t.Cleanup(func() { d.Close() })
	props.SetMust(logindSessionIface, "LockedHint", true)
	if !d.Idle() {
		t.Fatal("locked session not idle")
	}
	// The first bus dies; a new one has a logind that says locked.
	b.system.Close()
	second := privateBus(t)
	props2, _ := fakeLogind(t, second)
	props2.SetMust(logindSessionIface, "LockedHint", true)
	current.Store(&second)
	if !d.Idle() {
		t.Fatal("after the bus restarted, the detector did not find logind again")
	}
}
