package dbustest

import (
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/godbus/dbus/v5"
)

// Notification is what a program asked a notification server to show.
type Notification struct {
	ID         uint32
	App        string
	ReplacesID uint32
	Icon       string
	Summary    string
	Body       string
	// Actions are pairs of key and label, as the program sent them.
	Actions []string
	Hints   map[string]dbus.Variant
	Timeout int32
}

// NotificationServer is a stand-in for the desktop's notification daemon
// on a test's bus: org.freedesktop.Notifications as the Desktop
// Notifications Specification 1.2 defines it. It records what it is asked
// to show, and emits the signals a daemon emits when the user clicks a
// notification (Invoke). It is strict where the specification is: actions
// come in pairs, an action not offered cannot be invoked.
type NotificationServer struct {
	t    testing.TB
	conn *dbus.Conn

	mu      sync.Mutex
	next    uint32
	shown   []Notification
	open    map[uint32]Notification
	changed chan struct{}
	caps    []string
}

// Notifications starts a notification server on the bus at addr, with the
// capabilities caps ("actions", "body", ...).
func Notifications(t testing.TB, addr string, caps ...string) *NotificationServer {
	t.Helper()
	conn := Connect(t, addr)
	s := &NotificationServer{t: t, conn: conn, open: map[uint32]Notification{}, changed: make(chan struct{}), caps: caps}
	if err := conn.Export(notificationsObject{s}, "/org/freedesktop/Notifications", "org.freedesktop.Notifications"); err != nil {
		t.Fatalf("export the notification server: %v", err)
	}
	reply, err := conn.RequestName("org.freedesktop.Notifications", dbus.NameFlagDoNotQueue)
	if err != nil || reply != dbus.RequestNameReplyPrimaryOwner {
		t.Fatalf("own org.freedesktop.Notifications: %v (reply %v)", err, reply)
	}
	return s
}

// notificationsObject is the exported object: only these methods are
// callable over the bus.
type notificationsObject struct{ s *NotificationServer }

func (o notificationsObject) GetCapabilities() ([]string, *dbus.Error) {
	return o.s.caps, nil
}

func (o notificationsObject) GetServerInformation() (string, string, string, string, *dbus.Error) {
	return "stand-in", "vpconnect tests", "1", "1.2", nil
}

func (o notificationsObject) Notify(app string, replaces uint32, icon, summary, body string, actions []string,
	hints map[string]dbus.Variant, timeout int32) (uint32, *dbus.Error) {
	if len(actions)%2 != 0 {
		return 0, dbus.MakeFailedError(fmt.Errorf("actions must be pairs of key and label, got %d strings", len(actions)))
	}
	s := o.s
	s.mu.Lock()
	defer s.mu.Unlock()
	id := replaces
	if _, ok := s.open[id]; !ok || id == 0 {
		s.next++
		id = s.next
	}
	n := Notification{ID: id, App: app, ReplacesID: replaces, Icon: icon, Summary: summary, Body: body,
		Actions: actions, Hints: hints, Timeout: timeout}
	s.open[id] = n
	s.shown = append(s.shown, n)
	close(s.changed)
	s.changed = make(chan struct{})
	return id, nil
}

func (o notificationsObject) CloseNotification(id uint32) *dbus.Error {
	o.s.close(id, 3) // closed by a call to CloseNotification
	return nil
}

func (s *NotificationServer) close(id, reason uint32) {
	s.mu.Lock()
	_, ok := s.open[id]
	delete(s.open, id)
	s.mu.Unlock()
	if ok {
		s.conn.Emit("/org/freedesktop/Notifications", "org.freedesktop.Notifications.NotificationClosed", id, reason)
	}
}

// Shown returns every Notify call so far, in order.
func (s *NotificationServer) Shown() []Notification {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.shown)
}

// WaitShown waits until at least n notifications were asked for, and
// returns them.
func (s *NotificationServer) WaitShown(n int, within time.Duration) []Notification {
	s.t.Helper()
	deadline := time.After(within)
	for {
		s.mu.Lock()
		got, changed := slices.Clone(s.shown), s.changed
		s.mu.Unlock()
		if len(got) >= n {
			return got
		}
		select {
		case <-changed:
		case <-deadline:
			s.t.Fatalf("%d notifications within %v, want %d: %+v", len(got), within, n, got)
		}
	}
}

// Invoke is the user choosing the action key of notification id: the
// server emits ActionInvoked, then closes the notification (reason 2,
// dismissed by the user), as daemons do after an action.
func (s *NotificationServer) Invoke(id uint32, key string) {
	s.t.Helper()
	s.mu.Lock()
	n, ok := s.open[id]
	s.mu.Unlock()
	if !ok {
		s.t.Fatalf("notification %d is not shown", id)
	}
	// A click on the body is the action "default" only when the
	// notification offers one (the specification's default action).
	offered := false
	for i := 0; i+1 < len(n.Actions); i += 2 {
		offered = offered || n.Actions[i] == key
	}
	if !offered {
		s.t.Fatalf("notification %d offers no action %q (actions %q)", id, key, n.Actions)
	}
	if err := s.conn.Emit("/org/freedesktop/Notifications", "org.freedesktop.Notifications.ActionInvoked", id, key); err != nil {
		s.t.Fatalf("emit ActionInvoked: %v", err)
	}
	s.close(id, 2)
}
