//go:build (linux || freebsd || openbsd || netbsd) && !android

package tray

import (
	"fmt"
	"os"

	"github.com/godbus/dbus/v5"
)

// watcherName is the tray host's well-known name on the session bus: the
// panel (KDE, the GNOME AppIndicator extension, waybar, xfce4-panel…) that
// shows StatusNotifierItems.
const watcherName = "org.kde.StatusNotifierWatcher"

// checkHost says whether there is a desktop to show the tray on. Without a
// session bus there is none (a service, an SSH login): ErrUnavailable.
// With a bus but no tray host yet, a graphical session (DISPLAY or
// WAYLAND_DISPLAY) still gets the tray, because at login the panel may
// start after the agent and fyne.io/systray registers when it appears; a
// session with neither is not graphical: ErrUnavailable.
func checkHost() (note string, err error) {
	display := os.Getenv("DISPLAY") != "" || os.Getenv("WAYLAND_DISPLAY") != ""
	return hostState(connectSessionBus, display)
}

// hostState is checkHost with its inputs given, for the tests.
func hostState(connect func() (*dbus.Conn, error), display bool) (string, error) {
	conn, err := connect()
	if err != nil {
		return "", fmt.Errorf("%w: no graphical session (no D-Bus session bus: %v)", ErrUnavailable, err)
	}
	defer conn.Close()
	var has bool
	if err := conn.BusObject().Call("org.freedesktop.DBus.NameHasOwner", 0, watcherName).Store(&has); err != nil {
		return "", fmt.Errorf("%w: the D-Bus session bus does not answer: %v", ErrUnavailable, err)
	}
	switch {
	case has:
		return "", nil
	case display:
		return "no tray host (" + watcherName + ") on the session bus yet; the vpconnect icon appears when the panel offers one", nil
	default:
		return "", fmt.Errorf("%w: no graphical session (no display and no tray host on the session bus)", ErrUnavailable)
	}
}

// connectSessionBus connects to the session bus when there is one. Unlike
// godbus's SessionBus it never starts one (dbus-launch) for a process that
// has none, such as a service; fyne.io/systray then finds the same bus
// (DBUS_SESSION_BUS_ADDRESS, or $XDG_RUNTIME_DIR/bus).
func connectSessionBus() (*dbus.Conn, error) {
	conn, err := dbus.SessionBusPrivateNoAutoStartup()
	if err != nil {
		return nil, err
	}
	if err := conn.Auth(nil); err != nil {
		conn.Close()
		return nil, fmt.Errorf("authenticate: %w", err)
	}
	if err := conn.Hello(); err != nil {
		conn.Close()
		return nil, fmt.Errorf("say hello: %w", err)
	}
	return conn, nil
}
