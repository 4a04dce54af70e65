package tray

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/godbus/dbus/v5"

	"vpconnect/internal/dbustest"
)

// These tests look at the tray the way a desktop panel does: over a D-Bus
// session bus of their own, a fake panel owns org.kde.StatusNotifierWatcher,
// takes the tray's registration, reads the StatusNotifierItem's properties
// and the com.canonical.dbusmenu layout, and clicks items with Event. The
// agent behind the tray is fakeAgent, a Client whose status stream the test
// writes and whose calls it reads.

// fakeWatcher is the panel's org.kde.StatusNotifierWatcher: it records who
// registers an item.
type fakeWatcher struct{ registered chan string }

// RegisterStatusNotifierItem is the watcher's method. An item registering
// with an object path (as fyne.io/systray does) is served by the sender.
func (w *fakeWatcher) RegisterStatusNotifierItem(sender dbus.Sender, service string) *dbus.Error {
	if strings.HasPrefix(service, "/") {
		service = string(sender) + service
	}
	w.registered <- service
	return nil
}

// panel is the fake desktop panel.
type panel struct {
	conn    *dbus.Conn
	watcher *fakeWatcher
	signals chan *dbus.Signal
	service string // the registered item's bus name
	path    dbus.ObjectPath
}

func newPanel(t *testing.T, addr string) *panel {
	t.Helper()
	p := &panel{conn: dbustest.Connect(t, addr), watcher: &fakeWatcher{registered: make(chan string, 4)}, signals: make(chan *dbus.Signal, 1024)}
	if err := p.conn.Export(p.watcher, "/StatusNotifierWatcher", watcherName); err != nil {
		t.Fatal(err)
	}
	reply, err := p.conn.RequestName(watcherName, dbus.NameFlagDoNotQueue)
	if err != nil || reply != dbus.RequestNameReplyPrimaryOwner {
		t.Fatalf("own %s: %v (reply %v)", watcherName, err, reply)
	}
	if err := p.conn.AddMatchSignal(dbus.WithMatchInterface("com.canonical.dbusmenu")); err != nil {
		t.Fatal(err)
	}
	p.conn.Signal(p.signals)
	return p
}

// waitRegistered waits for the tray to register with the panel.
func (p *panel) waitRegistered(t *testing.T) {
	t.Helper()
	select {
	case s := <-p.watcher.registered:
		name, path, _ := strings.Cut(s, "/")
		p.service, p.path = name, dbus.ObjectPath("/"+path)
	case <-time.After(30 * time.Second):
		t.Fatal("the tray did not register with the StatusNotifierWatcher")
	}
}

// menuItem is one item of the dbusmenu layout, as a panel reads it.
type menuItem struct {
	id                 int32
	label              string
	visible, enabled   bool
	separator          bool
	toggleType, status string
}

// menu is a layout and its revision.
type menu struct {
	revision uint32
	items    []menuItem
}

func (m menu) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "revision %d:", m.revision)
	for _, it := range m.items {
		switch {
		case it.separator:
			b.WriteString("\n  ----")
		default:
			fmt.Fprintf(&b, "\n  %d %q visible=%v enabled=%v", it.id, it.label, it.visible, it.enabled)
		}
	}
	return b.String()
}

// find is the item with this label, visible or not.
func (m menu) find(t *testing.T, label string) menuItem {
	t.Helper()
	for _, it := range m.items {
		if it.label == label && !it.separator {
			return it
		}
	}
	t.Fatalf("no item %q in the menu\n%s", label, m)
	return menuItem{}
}

// visible lists the labels a user sees, in order.
func (m menu) visible() []string {
	var out []string
	for _, it := range m.items {
		if it.visible && !it.separator {
			out = append(out, it.label)
		}
	}
	return out
}

// layout calls com.canonical.dbusmenu.GetLayout on the item's menu.
func (p *panel) layout(t *testing.T) menu {
	t.Helper()
	obj := p.conn.Object(p.service, p.path+"/menu")
	var menuPath dbus.ObjectPath
	if err := p.property(t, "Menu").Store(&menuPath); err == nil && menuPath != "" {
		obj = p.conn.Object(p.service, menuPath)
	}
	var m menu
	var root struct {
		ID       int32
		Props    map[string]dbus.Variant
		Children []dbus.Variant
	}
	call := obj.Call("com.canonical.dbusmenu.GetLayout", 0, int32(0), int32(-1), []string{})
	if err := call.Store(&m.revision, &root); err != nil {
		t.Fatalf("GetLayout: %v", err)
	}
	for _, c := range root.Children {
		f, ok := c.Value().([]any)
		if !ok || len(f) != 3 {
			t.Fatalf("a child of the layout is %T %v, not (ia{sv}av)", c.Value(), c.Value())
		}
		props, _ := f[1].(map[string]dbus.Variant)
		it := menuItem{id: f[0].(int32), visible: true, enabled: true}
		str := func(k string) string { s, _ := props[k].Value().(string); return s }
		it.label = str("label")
		it.separator = str("type") == "separator"
		it.toggleType = str("toggle-type")
		if v, ok := props["visible"]; ok {
			it.visible = v.Value().(bool)
		}
		if v, ok := props["enabled"]; ok {
			it.enabled = v.Value().(bool)
		}
		m.items = append(m.items, it)
	}
	return m
}

// waitMenu reads the layout until ok holds, again on every dbusmenu signal
// (the deadline only stops a hung test).
func (p *panel) waitMenu(t *testing.T, what string, ok func(menu) bool) menu {
	t.Helper()
	deadline := time.After(30 * time.Second)
	for {
		m := p.layout(t)
		if ok(m) {
			return m
		}
		select {
		case <-p.signals:
		drain:
			for {
				select {
				case <-p.signals:
				default:
					break drain
				}
			}
		case <-deadline:
			t.Fatalf("the menu never showed %s; last layout:\n%s", what, m)
		}
	}
}

// stateIs waits for the first item to read state.
func (p *panel) stateIs(t *testing.T, state string) menu {
	t.Helper()
	return p.waitMenu(t, "the state "+state, func(m menu) bool { return len(m.items) > 0 && m.items[0].label == state })
}

// property reads a property of the StatusNotifierItem.
func (p *panel) property(t *testing.T, name string) dbus.Variant {
	t.Helper()
	v, err := p.conn.Object(p.service, p.path).GetProperty("org.kde.StatusNotifierItem." + name)
	if err != nil {
		t.Fatalf("read %s: %v", name, err)
	}
	return v
}

// tooltip is the title of the item's ToolTip (s a(iiay) s s).
func (p *panel) tooltip(t *testing.T) string {
	t.Helper()
	f, ok := p.property(t, "ToolTip").Value().([]any)
	if !ok || len(f) != 4 {
		t.Fatalf("ToolTip is %v, not (sa(iiay)ss)", p.property(t, "ToolTip"))
	}
	s, _ := f[2].(string)
	return s
}

// pixmap is the item's first IconPixmap: width, height and ARGB bytes.
func (p *panel) pixmap(t *testing.T) (w, h int, argb []byte) {
	t.Helper()
	var px []struct {
		W, H int32
		Pix  []byte
	}
	if err := p.property(t, "IconPixmap").Store(&px); err != nil || len(px) == 0 {
		t.Fatalf("IconPixmap: %v (%d pixmaps)", err, len(px))
	}
	return int(px[0].W), int(px[0].H), px[0].Pix
}

// click sends the panel's Event(id, "clicked") for the item with label.
func (p *panel) click(t *testing.T, m menu, label string) {
	t.Helper()
	it := m.find(t, label)
	if !it.visible || !it.enabled {
		t.Fatalf("%q is not clickable (visible %v, enabled %v)", label, it.visible, it.enabled)
	}
	call := p.conn.Object(p.service, p.path+"/menu").Call("com.canonical.dbusmenu.Event", 0,
		it.id, "clicked", dbus.MakeVariant(""), uint32(time.Now().Unix()))
	if call.Err != nil {
		t.Fatalf("Event(%d, clicked): %v", it.id, call.Err)
	}
}

// fakeAgent is the agent behind the tray: each Watch opens a stream that
// the test receives on streams and writes; every action is sent on calls.
type fakeAgent struct {
	streams chan chan Status
	calls   chan string
}

func newFakeAgent() *fakeAgent {
	return &fakeAgent{streams: make(chan chan Status, 4), calls: make(chan string, 16)}
}

// Watch hands the test a new stream; what the test writes there reaches
// the tray until the test closes it (the agent restarts) or ctx ends.
func (f *fakeAgent) Watch(ctx context.Context) (<-chan Status, error) {
	in, out := make(chan Status), make(chan Status)
	f.streams <- in
	go func() {
		defer close(out)
		for {
			select {
			case <-ctx.Done():
				return
			case s, ok := <-in:
				if !ok {
					return
				}
				select {
				case out <- s:
				case <-ctx.Done():
					return
				}
			}
		}
	}()
	return out, nil
}
func (f *fakeAgent) call(name string) error            { f.calls <- name; return nil }
func (f *fakeAgent) SyncNow(ctx context.Context) error { return f.call("sync") }
func (f *fakeAgent) Pause(ctx context.Context) error   { return f.call("pause") }
func (f *fakeAgent) Resume(ctx context.Context) error  { return f.call("resume") }
func (f *fakeAgent) AnswerDeletions(ctx context.Context, typ string, confirm bool) error {
	if confirm {
		return f.call("confirm " + typ)
	}
	return f.call("refuse " + typ)
}
func (f *fakeAgent) OpenURL(ctx context.Context) (string, error) {
	return "http://127.0.0.1:48613/open/one-time", f.call("open")
}

// stream waits for the tray to watch the agent.
func (f *fakeAgent) stream(t *testing.T) chan Status {
	t.Helper()
	select {
	case s := <-f.streams:
		return s
	case <-time.After(30 * time.Second):
		t.Fatal("the tray did not watch the agent")
		return nil
	}
}

// expect waits for the agent to receive the calls, in order.
func expect(t *testing.T, ch chan string, want ...string) {
	t.Helper()
	for _, w := range want {
		select {
		case got := <-ch:
			if got != w {
				t.Fatalf("the agent received %q, want %q", got, w)
			}
		case <-time.After(30 * time.Second):
			t.Fatalf("the agent never received %q", w)
		}
	}
}

// skipUnderRace skips a test that drives fyne.io/systray over D-Bus when the
// race detector is on: systray v1.12.2 itself reads the menu revision in
// GetLayout under one mutex and writes it in refresh under another, which
// the detector reports now and then. The run without -race (make test-go)
// drives the tray over D-Bus; its own logic is raced in the other tests.
func skipUnderRace(t *testing.T) {
	t.Helper()
	if raceDetector {
		t.Skip("fyne.io/systray races on its menu revision (GetLayout vs refresh); the D-Bus walk runs without -race")
	}
}

func sameStrings(a, b []string) bool { return strings.Join(a, "\n") == strings.Join(b, "\n") }

// TestTrayOverDBus runs the one tray this process may have (fyne.io/systray
// is a singleton) and walks it through the states a user meets. Run again
// in the same process (go test -count=N), it runs in a fresh test process
// each time, so that -count=200 repeats the whole walk, Quit included, 200
// times.
func TestTrayOverDBus(t *testing.T) {
	skipUnderRace(t)
	if started.Load() {
		rerunInFreshProcess(t)
		return
	}
	addr := dbustest.Bus(t, "the tray")
	t.Setenv("DBUS_SESSION_BUS_ADDRESS", addr)
	p := newPanel(t, addr)
	ag := newFakeAgent()
	opened := make(chan string, 8)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan error, 1)
	go func() {
		done <- Run(ctx, ag, Options{OpenBrowser: func(_ context.Context, url string) error { opened <- url; return nil }})
	}()
	p.waitRegistered(t)
	stream := ag.stream(t)
	if !strings.HasPrefix(p.service, ":") {
		t.Errorf("the item registered as %q, want its unique bus name", p.service)
	}

	// Before the agent answers, the menu says so and offers only Quit.
	m := p.stateIs(t, labelStarting)
	if got := m.visible(); !sameStrings(got, []string{labelStarting, labelQuit}) {
		t.Errorf("while starting the menu shows %q", got)
	}

	last := time.Now().Add(-3 * time.Minute)
	active := Status{State: StateActive, PauseAllowed: true, LastBatch: last, OpenIssues: 2}
	var activeIcon []byte
	t.Run("Active offers Sync now and Pause", func(t *testing.T) {
		stream <- active
		m := p.stateIs(t, StateActive)
		detail := "Last sync " + last.Format("15:04") + " · 2 open issues"
		want := []string{StateActive, detail, labelSyncNow, labelPause, labelOptions, labelQuit}
		if got := m.visible(); !sameStrings(got, want) {
			t.Errorf("visible items %q, want %q\n%s", got, want, m)
		}
		if m.items[0].enabled || m.items[1].enabled {
			t.Errorf("the state and detail lines must be disabled\n%s", m)
		}
		if m.find(t, labelResume).visible {
			t.Errorf("Resume is shown while active")
		}
		if seps := len(m.items) - int(numItems); seps != 2 {
			t.Errorf("%d separators, want 2\n%s", seps, m)
		}
		var title, status string
		p.property(t, "Title").Store(&title)
		p.property(t, "Status").Store(&status)
		if title != "vpconnect: Active" {
			t.Errorf("Title = %q", title)
		}
		if status != "Active" && status != "NeedsAttention" {
			t.Errorf("Status = %q: the panel would hide the item", status)
		}
		if tt := p.tooltip(t); !strings.Contains(tt, StateActive) || !strings.Contains(tt, detail) {
			t.Errorf("ToolTip = %q, want the state and %q", tt, detail)
		}
		w, h, pix := p.pixmap(t)
		if w != 32 || h != 32 || len(pix) != 32*32*4 {
			t.Errorf("IconPixmap is %dx%d with %d bytes", w, h, len(pix))
		}
		activeIcon = pix
	})

	t.Run("Sync now and Pause reach the agent", func(t *testing.T) {
		m := p.layout(t)
		p.click(t, m, labelSyncNow)
		expect(t, ag.calls, "sync")
		p.click(t, m, labelPause)
		expect(t, ag.calls, "pause")
	})

	t.Run("Paused offers Resume", func(t *testing.T) {
		rev := p.layout(t).revision
		stream <- Status{State: StatePaused, PauseAllowed: true, LastBatch: last}
		m := p.stateIs(t, StatePaused)
		if m.revision <= rev {
			t.Errorf("the layout revision went from %d to %d on a change", rev, m.revision)
		}
		if got, want := m.visible(), []string{StatePaused, "Last sync " + last.Format("15:04"), labelSyncNow, labelResume, labelOptions, labelQuit}; !sameStrings(got, want) {
			t.Errorf("visible items %q, want %q", got, want)
		}
		p.click(t, m, labelResume)
		expect(t, ag.calls, "resume")
	})

	t.Run("Disabled by administrator offers neither sync nor pause", func(t *testing.T) {
		stream <- Status{State: StateDisabled, Reason: "sync.enabled is false in the policy", LastBatch: last}
		m := p.stateIs(t, StateDisabled)
		for _, l := range []string{labelSyncNow, labelPause, labelResume} {
			if m.find(t, l).visible {
				t.Errorf("%q is shown while disabled by the administrator\n%s", l, m)
			}
		}
	})

	t.Run("Suspended by Error with Microsoft sign-in needed offers Re-authorize", func(t *testing.T) {
		stream <- Status{State: StateSuspended, PauseAllowed: true, MicrosoftSignInNeeded: true, LastBatch: last}
		m := p.stateIs(t, StateSuspended)
		if got, want := m.visible(), []string{StateSuspended, "Last sync " + last.Format("15:04"), labelReauthMicrosoft, labelOptions, labelQuit}; !sameStrings(got, want) {
			t.Errorf("visible items %q, want %q", got, want)
		}
		if _, _, pix := p.pixmap(t); bytes.Equal(pix, activeIcon) {
			t.Error("the icon of Suspended by Error is the icon of Active")
		}
		p.click(t, m, labelReauthMicrosoft)
		expect(t, ag.calls, "open")
		expect(t, opened, "http://127.0.0.1:48613/open/one-time?v=microsoft")
	})

	t.Run("held-back deletions say what they delete and are answered per type", func(t *testing.T) {
		st := active
		st.State = StateWithIssues
		st.OpenIssues = 2
		st.Held = []Held{
			{Type: "contacts", Summary: "deleting 6 contacts in Vantagepoint", Reason: `Confirming deletes 6 contacts in Vantagepoint: "Q Q00" and 5 more.`},
			{Type: "events", Summary: "deleting 12 events in Outlook"},
		}
		stream <- st
		m := p.stateIs(t, StateWithIssues)
		header := m.find(t, "Held back: deleting 6 contacts in Vantagepoint")
		if !header.visible || header.enabled {
			t.Errorf("the held-back line is not shown as a line: %+v", header)
		}
		p.click(t, m, fmt.Sprintf(labelHeldConfirm, "events"))
		expect(t, ag.calls, "confirm events")
		p.click(t, m, fmt.Sprintf(labelHeldKeep, "contacts"))
		expect(t, ag.calls, "refuse contacts")
		// Answered: the agent holds nothing back any more.
		stream <- active
		m = p.stateIs(t, StateActive)
		if got, want := m.visible(), []string{StateActive, "Last sync " + last.Format("15:04") + " · 2 open issues", labelSyncNow, labelPause, labelOptions, labelQuit}; !sameStrings(got, want) {
			t.Errorf("visible items %q, want %q", got, want)
		}
	})

	t.Run("Not Configured offers Activate", func(t *testing.T) {
		stream <- Status{State: StateNotConfigured, PauseAllowed: true}
		m := p.stateIs(t, StateNotConfigured)
		if got, want := m.visible(), []string{StateNotConfigured, labelActivate, labelOptions, labelQuit}; !sameStrings(got, want) {
			t.Errorf("visible items %q, want %q", got, want)
		}
		p.click(t, m, labelActivate)
		expect(t, ag.calls, "open")
		expect(t, opened, "http://127.0.0.1:48613/open/one-time?v=activate")
	})

	t.Run("a pending add-in pairing opens Sync Options, where its code is typed", func(t *testing.T) {
		st := active
		st.PauseAllowed = false // and policy forbids pausing
		st.Pairings = []Pairing{{ID: "p1", Origin: "https://addin.example.com", Name: "Outlook"}}
		stream <- st
		m := p.stateIs(t, StateActive)
		label := pairLabel("https://addin.example.com")
		if !m.find(t, label).visible {
			t.Fatalf("no %q\n%s", label, m)
		}
		if m.find(t, labelPause).visible {
			t.Errorf("Pause is shown although policy forbids it\n%s", m)
		}
		p.click(t, m, label)
		expect(t, ag.calls, "open")
		expect(t, opened, "http://127.0.0.1:48613/open/one-time")
	})

	t.Run("the tray follows the agent through a restart", func(t *testing.T) {
		close(stream) // the agent restarts after 'vpconnect activate'
		p.stateIs(t, labelStarting)
		stream = ag.stream(t)
		stream <- Status{State: StateWithIssues, PauseAllowed: true, LastBatch: last, OpenIssues: 1}
		m := p.stateIs(t, StateWithIssues)
		if !m.find(t, labelPause).visible || !m.find(t, labelSyncNow).visible {
			t.Errorf("after the restart the menu is\n%s", m)
		}
		if tt := p.tooltip(t); !strings.Contains(tt, "1 open issue") {
			t.Errorf("ToolTip = %q", tt)
		}
	})

	t.Run("Quit ends Run", func(t *testing.T) {
		if err := p.conn.AddMatchSignal(dbus.WithMatchSender("org.freedesktop.DBus"), dbus.WithMatchMember("NameOwnerChanged"),
			dbus.WithMatchArg(0, p.service)); err != nil {
			t.Fatal(err)
		}
		// A panel's click on Quit may get no answer: the tray leaves the
		// bus as it quits, before the reply to Event is sent, and the bus
		// then answers NoReply ("recipient disconnected"). That is a
		// finished click, not a failure.
		it := p.layout(t).find(t, labelQuit)
		call := p.conn.Object(p.service, p.path+"/menu").Call("com.canonical.dbusmenu.Event", 0,
			it.id, "clicked", dbus.MakeVariant(""), uint32(time.Now().Unix()))
		var de dbus.Error
		switch {
		case call.Err == nil:
			t.Log("the click on Quit: answered")
		case errors.As(call.Err, &de) && de.Name == "org.freedesktop.DBus.Error.NoReply":
			t.Log("the click on Quit: NoReply, the tray left the bus first")
		default:
			t.Fatalf("Event(%d, clicked) on Quit: %v", it.id, call.Err)
		}
		select {
		case err := <-done:
			if err != nil {
				t.Fatalf("Run after Quit: %v", err)
			}
		case <-time.After(30 * time.Second):
			t.Fatal("Run did not return after Quit")
		}
		// The item leaves the bus with its connection.
		deadline := time.After(30 * time.Second)
		for {
			var has bool
			if err := p.conn.BusObject().Call("org.freedesktop.DBus.NameHasOwner", 0, p.service).Store(&has); err != nil {
				t.Fatal(err)
			}
			if !has {
				break
			}
			select {
			case <-p.signals:
			case <-deadline:
				t.Fatalf("the tray's connection %s is still on the bus after Quit", p.service)
			}
		}
		select {
		case c := <-ag.calls:
			t.Errorf("the agent received %q after Quit", c)
		default:
		}
		if err := Run(context.Background(), ag, Options{}); err == nil || errors.Is(err, ErrUnavailable) {
			t.Errorf("a second Run in the process = %v, want a refusal", err)
		}
	})
}

// rerunInFreshProcess runs t's test alone in a new process of this test
// binary, where the tray has not run yet, and fails t with the child's
// output if it fails.
func rerunInFreshProcess(t *testing.T) {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^"+t.Name()+"$", "-test.count=1", "-test.v")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("%s in a fresh process: %v\n%s", t.Name(), err, out)
	}
	if !bytes.Contains(out, []byte("--- PASS: "+t.Name()+" ")) {
		t.Fatalf("%s in a fresh process did not pass:\n%s", t.Name(), out)
	}
	// What the child noted (how the click on Quit was answered, say).
	for _, line := range strings.Split(string(out), "\n") {
		if strings.Contains(line, "_test.go:") {
			t.Log(strings.TrimSpace(line))
		}
	}
}

// TestHostState checks when the tray is shown: a session bus with a tray
// host, or a graphical session whose panel is not up yet; no bus, or a bus
// without a display or host, is headless.
func TestHostState(t *testing.T) {
	addr := dbustest.Bus(t, "the tray")
	dial := func() (*dbus.Conn, error) {
		c, err := dbus.Connect(addr)
		return c, err
	}
	if _, err := hostState(func() (*dbus.Conn, error) { return nil, errors.New("no address") }, true); !errors.Is(err, ErrUnavailable) {
		t.Errorf("no session bus: %v, want ErrUnavailable", err)
	}
	if _, err := hostState(dial, false); !errors.Is(err, ErrUnavailable) {
		t.Errorf("a bus without a host or display: %v, want ErrUnavailable", err)
	}
	if note, err := hostState(dial, true); err != nil || !strings.Contains(note, "no tray host") {
		t.Errorf("a display whose panel is not up yet: %q, %v; want the tray and a note", note, err)
	}
	newPanel(t, addr)
	if note, err := hostState(dial, false); err != nil || note != "" {
		t.Errorf("a bus with a tray host: %q, %v; want the tray", note, err)
	}
	// The real lookup never starts a bus where there is none.
	t.Setenv("DBUS_SESSION_BUS_ADDRESS", "")
	t.Setenv("XDG_RUNTIME_DIR", t.TempDir())
	t.Setenv("DISPLAY", ":0")
	if _, err := checkHost(); !errors.Is(err, ErrUnavailable) {
		t.Errorf("checkHost without a session bus: %v, want ErrUnavailable", err)
	}
}
