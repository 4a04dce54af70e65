//go:build !windows && !darwin

package alerts

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"

	"github.com/godbus/dbus/v5"

	"vpconnect/internal/sessionbus"
)

// The Desktop Notifications Specification
// (specifications.freedesktop.org/notification-spec/1.2): a server owns
// this name on the session bus; Notify returns an id, and the server
// emits ActionInvoked(id, key) when the user chooses an action ("default"
// is a click on the notification itself) and NotificationClosed(id,
// reason) when it goes.
const (
	notifyName  = "org.freedesktop.Notifications"
	notifyPath  = dbus.ObjectPath("/org/freedesktop/Notifications")
	notifyIface = "org.freedesktop.Notifications"
	// actionOpen is our button's key; "default" is the spec's key of a
	// click on the notification's body, which opens the same page.
	actionOpen    = "open"
	actionDefault = "default"
)

// New returns the notifier of this session: org.freedesktop.Notifications
// on the session bus, connected at the first Notify (a session without a
// bus gets an error there, not at start). open is called with the alert
// whose action the employee chose.
func New(open func(Alert)) Notifier {
	return NewDBus(sessionbus.Connect, open)
}

// NewDBus is the D-Bus notifier over the bus connect opens (tests give a
// bus of their own).
func NewDBus(connect func() (*dbus.Conn, error), open func(Alert)) Notifier {
	return &dbusNotifier{connect: connect, open: open, shown: map[uint32]Alert{}, byKey: map[string]uint32{}}
}

type dbusNotifier struct {
	connect func() (*dbus.Conn, error)
	open    func(Alert)

	mu      sync.Mutex
	conn    *dbus.Conn
	actions bool             // the server shows actions (its capabilities)
	shown   map[uint32]Alert // by the server's id, until it is closed
	byKey   map[string]uint32
	signals chan *dbus.Signal
	done    chan struct{} // closed when the signal reader has ended
	// ended are the readers of connections that closed under us, waited
	// for by Close.
	ended []chan struct{}
}

// Notify shows a, replacing the notification of the same condition if the
// server still shows one.
func (n *dbusNotifier) Notify(ctx context.Context, a Alert) error {
	n.mu.Lock()
	defer n.mu.Unlock()
	if err := n.dial(); err != nil {
		return fmt.Errorf("connect to the session bus: %w", err)
	}
	var actions []string
	if n.actions {
		actions = []string{actionDefault, a.Action, actionOpen, a.Action}
	}
	body := a.Body
	if !n.actions {
		body += " Open Sync Options from the tray."
	}
	hints := map[string]dbus.Variant{
		// Normal urgency: it waits in the notification list rather than
		// interrupting (critical notifications never time out).
		"urgency":       dbus.MakeVariant(byte(1)),
		"desktop-entry": dbus.MakeVariant("vpconnect"),
		"category":      dbus.MakeVariant("network.error"),
	}
	var id uint32
	err := n.conn.Object(notifyName, notifyPath).CallWithContext(ctx, notifyIface+".Notify", 0,
		"vpconnect", n.byKey[a.Key], "dialog-warning", a.Title, body, actions, hints, int32(-1)).Store(&id)
	if err != nil {
		if errors.Is(err, dbus.ErrClosed) {
			n.hangUp()
		}
		return fmt.Errorf("call %s.Notify: %w", notifyIface, err)
	}
	n.shown[id], n.byKey[a.Key] = a, id
	return nil
}

// dial connects, asks the server what it shows and starts reading its
// signals; n.mu is held.
func (n *dbusNotifier) dial() error {
	if n.conn != nil {
		return nil
	}
	conn, err := n.connect()
	if err != nil {
		return err
	}
	if err := conn.AddMatchSignal(dbus.WithMatchObjectPath(notifyPath), dbus.WithMatchInterface(notifyIface)); err != nil {
		conn.Close()
		return fmt.Errorf("watch the notifications' signals: %w", err)
	}
	var caps []string
	if err := conn.Object(notifyName, notifyPath).Call(notifyIface+".GetCapabilities", 0).Store(&caps); err != nil {
		conn.Close()
		return fmt.Errorf("no notification server on the session bus: %w", err)
	}
	n.conn, n.actions = conn, slices.Contains(caps, "actions")
	n.signals, n.done = make(chan *dbus.Signal, 16), make(chan struct{})
	conn.Signal(n.signals)
	go n.read(n.signals, n.done)
	return nil
}

// read follows the server's signals until the connection closes (godbus
// then closes the channel).
func (n *dbusNotifier) read(signals <-chan *dbus.Signal, done chan<- struct{}) {
	defer close(done)
	for sig := range signals {
		if len(sig.Body) < 2 {
			continue
		}
		id, ok := sig.Body[0].(uint32)
		if !ok {
			continue
		}
		switch sig.Name {
		case notifyIface + ".ActionInvoked":
			key, _ := sig.Body[1].(string)
			n.mu.Lock()
			a, ours := n.shown[id]
			n.mu.Unlock()
			if ours && (key == actionOpen || key == actionDefault) {
				n.open(a)
			}
		case notifyIface + ".NotificationClosed":
			n.mu.Lock()
			if a, ours := n.shown[id]; ours {
				delete(n.shown, id)
				if n.byKey[a.Key] == id {
					delete(n.byKey, a.Key)
				}
			}
			n.mu.Unlock()
		}
	}
}

// hangUp forgets a connection that closed; n.mu is held.
func (n *dbusNotifier) hangUp() {
	n.conn.Close()
	n.conn = nil
	n.ended = append(n.ended, n.done)
	clear(n.shown)
	clear(n.byKey)
}

// Close closes the connection and waits for the signal reader.
func (n *dbusNotifier) Close() error {
	n.mu.Lock()
	conn, waits := n.conn, n.ended
	if conn != nil {
		waits = append(waits, n.done)
	}
	n.conn, n.ended = nil, nil
	n.mu.Unlock()
	var err error
	if conn != nil {
		err = conn.Close()
	}
	for _, done := range waits {
		<-done
	}
	return err
}
