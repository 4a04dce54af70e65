package sysmon

import (
	"sync/atomic"
	"testing"

	"github.com/godbus/dbus/v5"

	"github.com/godbus/dbus/v5/prop"
	"vpconnect/internal/dbustest"
)

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
	conn := dbustest.Connect(t, addr)
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
	conn := dbustest.Connect(t, addr)
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
	system, session := dbustest.Bus(t, "the logind path"), dbustest.Bus(t, "the logind path")
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
	system, session := dbustest.Bus(t, "the logind path"), dbustest.Bus(t, "the logind path")
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
	bus := dbustest.Bus(t, "the logind path")
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
	system := dbustest.Bus(t, "the logind path")
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
	second := dbustest.Bus(t, "the logind path")
	props2, _ := fakeLogind(t, second)
	props2.SetMust(logindSessionIface, "LockedHint", true)
	current.Store(&second)
	if !d.Idle() {
		t.Fatal("after the bus restarted, the detector did not find logind again")
	}
}
