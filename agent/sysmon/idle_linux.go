package sysmon

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/godbus/dbus/v5"

	"vpconnect/internal/sessionbus"
)

// What logind and the desktops' screen savers answer on D-Bus.
const (
	logindName         = "org.freedesktop.login1"
	logindSessionPath  = "/org/freedesktop/login1/session/auto" // the caller's session, or the user's display session
	logindSessionIface = "org.freedesktop.login1.Session"
	screenSaverName    = "org.freedesktop.ScreenSaver"
	screenSaverPath    = "/org/freedesktop/ScreenSaver"
	screenSaverIface   = "org.freedesktop.ScreenSaver"
)

// busCallTimeout bounds one question on the bus: the agent's loop asks, and
// a service that hangs must not stall it.
const busCallTimeout = 2 * time.Second

func platformIdle() (idleSource, time.Duration) {
	// A D-Bus call is cheap: no caching.
	return &busIdle{connectSystem: connectSystemBus, connectSession: sessionbus.Connect}, 0
}

func connectSystemBus() (*dbus.Conn, error) { return dbus.ConnectSystemBus() }

// busIdle asks systemd-logind on the system bus for the session's IdleHint
// and LockedHint (set by GNOME, KDE and the screen lockers), and, where
// there is no logind, the desktop's screen saver on the session bus. It is
// used under IdleDetector's lock only.
type busIdle struct {
	connectSystem, connectSession func() (*dbus.Conn, error)
	system, session               *dbus.Conn
}

func (b *busIdle) idle() (bool, error) {
	idle, lerr := b.askLogind()
	if lerr == nil {
		return idle, nil
	}
	active, serr := b.askScreenSaver()
	if serr == nil {
		return active, nil
	}
	return false, errors.Join(lerr, serr)
}

func (b *busIdle) askLogind() (bool, error) {
	conn, err := reuse(&b.system, b.connectSystem)
	if err != nil {
		return false, fmt.Errorf("connect to the system bus: %w", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), busCallTimeout)
	defer cancel()
	var props map[string]dbus.Variant
	// NoAutoStart: asking must not start a service that is not running.
	err = conn.Object(logindName, logindSessionPath).CallWithContext(ctx, "org.freedesktop.DBus.Properties.GetAll",
		dbus.FlagNoAutoStart, logindSessionIface).Store(&props)
	if err != nil {
		return false, fmt.Errorf("ask logind about the session: %w", err)
	}
	idle, hasIdle := props["IdleHint"].Value().(bool)
	locked, hasLocked := props["LockedHint"].Value().(bool)
	if !hasIdle && !hasLocked {
		return false, errors.New("ask logind about the session: it has neither IdleHint nor LockedHint")
	}
	return idle || locked, nil
}

func (b *busIdle) askScreenSaver() (bool, error) {
	conn, err := reuse(&b.session, b.connectSession)
	if err != nil {
		return false, fmt.Errorf("connect to the session bus: %w", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), busCallTimeout)
	defer cancel()
	var active bool
	err = conn.Object(screenSaverName, screenSaverPath).CallWithContext(ctx, screenSaverIface+".GetActive",
		dbus.FlagNoAutoStart).Store(&active)
	if err != nil {
		return false, fmt.Errorf("ask the screen saver: %w", err)
	}
	return active, nil
}

// reuse returns the connection in *c while it is up, or a new one: a bus
// that restarted is found again on the next question.
func reuse(c **dbus.Conn, connect func() (*dbus.Conn, error)) (*dbus.Conn, error) {
	if *c != nil && (*c).Connected() {
		return *c, nil
	}
	if *c != nil {
		(*c).Close()
		*c = nil
	}
	conn, err := connect()
	if err != nil {
		return nil, err
	}
	*c = conn
	return conn, nil
}

func (b *busIdle) close() error {
	var errs []error
	for _, c := range []**dbus.Conn{&b.system, &b.session} {
		if *c != nil {
			if err := (*c).Close(); err != nil {
				errs = append(errs, fmt.Errorf("close a D-Bus connection: %w", err))
			}
			*c = nil
		}
	}
	return errors.Join(errs...)
}
