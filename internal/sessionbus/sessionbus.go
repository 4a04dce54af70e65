// Package sessionbus connects to the user's D-Bus session bus without ever
// starting one: the tray and the idle detector ask it whether there is a
// desktop, and a process that has none (a service, an SSH login) must get a
// plain "no" rather than a dbus-launch behind its back.
package sessionbus

import (
	"fmt"

	"github.com/godbus/dbus/v5"
)

// Connect opens a private connection to the session bus when there is one
// (DBUS_SESSION_BUS_ADDRESS, or $XDG_RUNTIME_DIR/bus), authenticated and
// greeted; the caller closes it. Unlike godbus's SessionBus it never starts
// a bus.
func Connect() (*dbus.Conn, error) {
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
