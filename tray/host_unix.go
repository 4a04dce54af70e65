//go:build (linux || freebsd || openbsd || netbsd) && !android

package tray

import (
	"fmt"
	"os"

	"github.com/godbus/dbus/v5"

	"vpconnect/internal/sessionbus"
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
	return hostState(sessionbus.Connect, display)
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
