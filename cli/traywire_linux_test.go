package cli

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/godbus/dbus/v5"

	"vpconnect/agent"
	"vpconnect/internal/dbustest"
)

// 'vpconnect run' without --headless on Linux: headless without a session
// bus, and with one, the tray on it as a panel sees it, with Quit stopping
// the agent. (The tray's menu in every state is tested in package tray.)

func TestRunWithoutAGraphicalSessionRunsHeadless(t *testing.T) {
	w := newAgentWorld(t)
	t.Setenv("DBUS_SESSION_BUS_ADDRESS", "")
	t.Setenv("XDG_RUNTIME_DIR", t.TempDir()) // no bus socket there either
	t.Setenv("DISPLAY", "")
	t.Setenv("WAYLAND_DISPLAY", "")
	r := startRun(t, w)
	w.waitStatus(t, "the agent answering", func(s agent.Status) bool { return s.State != "" })
	r.stop(t)
	out := r.stderr.String()
	if n := strings.Count(out, "running headless"); n != 1 || !strings.Contains(out, "no graphical session") {
		t.Errorf("vpconnect run said %d times that it runs headless, want once with the reason:\n%s", n, out)
	}
}

// trayRan: fyne.io/systray shows one tray per process (go test -count > 1).
var trayRan bool

func TestRunShowsTheTrayAndQuitStopsTheAgent(t *testing.T) {
	if trayRan {
		t.Skip("the tray already ran in this process: fyne.io/systray runs once per process")
	}
	trayRan = true
	addr := dbustest.Bus(t, "the tray of 'vpconnect run'")
	t.Setenv("DBUS_SESSION_BUS_ADDRESS", addr)
	panel, err := dbus.Connect(addr)
	if err != nil {
		t.Fatal(err)
	}
	defer panel.Close()
	reg := &watcher{registered: make(chan dbus.Sender, 4)}
	if err := panel.Export(reg, "/StatusNotifierWatcher", "org.kde.StatusNotifierWatcher"); err != nil {
		t.Fatal(err)
	}
	if reply, err := panel.RequestName("org.kde.StatusNotifierWatcher", dbus.NameFlagDoNotQueue); err != nil || reply != dbus.RequestNameReplyPrimaryOwner {
		t.Fatalf("own the watcher: %v %v", err, reply)
	}
	panel.AddMatchSignal(dbus.WithMatchInterface("com.canonical.dbusmenu"))
	signals := make(chan *dbus.Signal, 1024)
	panel.Signal(signals)

	w := newAgentWorld(t)
	opened := make(chan string, 1)
	w.cli.openPage = func(_ context.Context, url string) error { opened <- url; return nil }
	r := startRun(t, w)
	var item dbus.Sender
	select {
	case item = <-reg.registered:
	case <-time.After(30 * time.Second):
		t.Fatalf("no tray registered with the panel:\n%s", r.stderr)
	}
	menu := panel.Object(string(item), "/StatusNotifierItem/menu")

	// labels reads the layout: label → (id, visible).
	type entry struct {
		id      int32
		visible bool
	}
	labels := func() (first string, m map[string]entry) {
		var rev uint32
		var root struct {
			ID       int32
			Props    map[string]dbus.Variant
			Children []dbus.Variant
		}
		if err := menu.Call("com.canonical.dbusmenu.GetLayout", 0, int32(0), int32(-1), []string{}).Store(&rev, &root); err != nil {
			t.Fatalf("GetLayout: %v", err)
		}
		m = map[string]entry{}
		for i, c := range root.Children {
			f := c.Value().([]any)
			props := f[1].(map[string]dbus.Variant)
			label, _ := props["label"].Value().(string)
			e := entry{id: f[0].(int32), visible: true}
			if v, ok := props["visible"]; ok {
				e.visible = v.Value().(bool)
			}
			if i == 0 {
				first = label
			}
			m[label] = e
		}
		return first, m
	}
	deadline := time.After(30 * time.Second)
	var items map[string]entry
	for {
		var first string
		if first, items = labels(); first == "Not Configured" {
			break
		}
		select {
		case <-signals:
		case <-deadline:
			t.Fatalf("the tray never showed Not Configured; it shows %q\n%s", first, r.stderr)
		}
	}
	if !items["Activate…"].visible || items["Sync now"].visible {
		t.Errorf("Not Configured menu: %+v", items)
	}
	click := func(label string) {
		t.Helper()
		if err := menu.Call("com.canonical.dbusmenu.Event", 0, items[label].id, "clicked", dbus.MakeVariant(""), uint32(0)).Err; err != nil {
			t.Fatalf("click %q: %v", label, err)
		}
	}
	click("Open Sync Options…")
	select {
	case u := <-opened:
		if target := launcherTarget(t, u); !strings.HasPrefix(target, "http://127.0.0.1:") {
			t.Errorf("the tray opened %q, a launcher of %q", u, target)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("Open Sync Options opened no browser")
	}
	click("Quit vpconnect")
	select {
	case err := <-r.done:
		r.once.Do(func() {}) // stopped by Quit, not by the cleanup
		if err != nil {
			t.Fatalf("vpconnect run after Quit: %v\n%s", err, r.stderr)
		}
	case <-time.After(60 * time.Second):
		t.Fatalf("Quit did not stop vpconnect run:\n%s", r.stderr)
	}
	if strings.Contains(r.stderr.String(), "headless") {
		t.Errorf("vpconnect run went headless with a tray host on the bus:\n%s", r.stderr)
	}
}

// watcher is the panel's org.kde.StatusNotifierWatcher.
type watcher struct{ registered chan dbus.Sender }

// RegisterStatusNotifierItem records who registered.
func (w *watcher) RegisterStatusNotifierItem(sender dbus.Sender, service string) *dbus.Error {
	w.registered <- sender
	return nil
}
