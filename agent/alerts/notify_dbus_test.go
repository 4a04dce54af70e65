//go:build linux

package alerts

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/godbus/dbus/v5"

	"vpconnect/internal/dbustest"
)

func busNotifier(t *testing.T, addr string, open func(Alert)) Notifier {
	t.Helper()
	n := NewDBus(func() (*dbus.Conn, error) {
		conn, err := dbus.Connect(addr)
		return conn, err
	}, open)
	t.Cleanup(func() { n.Close() })
	return n
}

var refused = Alert{Key: "signin:microsoft", Title: "vpconnect: sign in to Microsoft 365 again",
	Body: "Microsoft 365 refused the stored sign-in.", Action: "Re-authorize Microsoft 365", Page: PageMicrosoft}

// A notification offers the alert's action as its button and as a click on
// its body; choosing either opens the alert's page, once.
func TestNotificationActionOpensThePage(t *testing.T) {
	addr := dbustest.Bus(t, "desktop notifications")
	srv := dbustest.Notifications(t, addr, "actions", "body")
	opened := make(chan Alert, 4)
	n := busNotifier(t, addr, func(a Alert) { opened <- a })
	if err := n.Notify(context.Background(), refused); err != nil {
		t.Fatal(err)
	}
	shown := srv.WaitShown(1, 10*time.Second)[0]
	if shown.App != "vpconnect" || shown.Summary != refused.Title || shown.Body != refused.Body {
		t.Errorf("shown %+v", shown)
	}
	if want := []string{"default", refused.Action, "open", refused.Action}; strings.Join(shown.Actions, "|") != strings.Join(want, "|") {
		t.Errorf("actions %q, want %q", shown.Actions, want)
	}
	srv.Invoke(shown.ID, "open")
	select {
	case a := <-opened:
		if a.Page != PageMicrosoft {
			t.Fatalf("opened %+v", a)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the action opened nothing")
	}
	// Told again after the user dismissed it: shown anew (whether or not
	// the notifier has seen the closing yet, the server gives a closed
	// notification's replacement a new id).
	if err := n.Notify(context.Background(), refused); err != nil {
		t.Fatal(err)
	}
	second := srv.WaitShown(2, 10*time.Second)[1]
	if second.ID == shown.ID {
		t.Fatalf("the second notification %+v did not show anew", second)
	}
	srv.Invoke(second.ID, "default")
	select {
	case <-opened:
	case <-time.After(10 * time.Second):
		t.Fatal("a click on the body opened nothing")
	}
}

// The same condition told while its notification is still shown replaces
// it rather than stacking a second one.
func TestNotificationOfTheSameConditionReplaces(t *testing.T) {
	addr := dbustest.Bus(t, "desktop notifications")
	srv := dbustest.Notifications(t, addr, "actions", "body")
	n := busNotifier(t, addr, func(Alert) {})
	for range 2 {
		if err := n.Notify(context.Background(), refused); err != nil {
			t.Fatal(err)
		}
	}
	got := srv.WaitShown(2, 10*time.Second)
	if got[1].ReplacesID != got[0].ID || got[1].ID != got[0].ID {
		t.Fatalf("second notification %+v does not replace the first %+v", got[1], got[0])
	}
}

// A server that shows no actions gets none, and the text says where the
// fix is; no server at all is an error that names the bus.
func TestNotificationWithoutActionsOrServer(t *testing.T) {
	addr := dbustest.Bus(t, "desktop notifications")
	n := busNotifier(t, addr, func(Alert) {})
	if err := n.Notify(context.Background(), refused); err == nil || !strings.Contains(err.Error(), "no notification server") {
		t.Fatalf("without a server: %v", err)
	}
	srv := dbustest.Notifications(t, addr, "body")
	if err := n.Notify(context.Background(), refused); err != nil {
		t.Fatal(err)
	}
	got := srv.WaitShown(1, 10*time.Second)[0]
	if len(got.Actions) != 0 || !strings.HasSuffix(got.Body, "Open Sync Options from the tray.") {
		t.Fatalf("shown %+v", got)
	}
}
