package alerts

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"sync"
	"sync/atomic"
	"unicode/utf16"
	"unsafe"

	"golang.org/x/sys/windows"
)

// On Windows an alert is a balloon of the notification area
// (Shell_NotifyIconW with NIF_INFO), which Windows 10 and 11 show as a
// toast in the Action Center: it needs no AppUserModelID, no Start menu
// shortcut and no COM, and a click on it comes back to our window as
// NIN_BALLOONUSERCLICK, which opens the page. The balloon belongs to an
// icon of its own, added while an alert is shown and removed when the
// balloon goes: the tray's icon is fyne.io/systray's, which offers no
// balloon.

var (
	user32               = windows.NewLazySystemDLL("user32.dll")
	shell32              = windows.NewLazySystemDLL("shell32.dll")
	procRegisterClassExW = user32.NewProc("RegisterClassExW")
	procCreateWindowExW  = user32.NewProc("CreateWindowExW")
	procDefWindowProcW   = user32.NewProc("DefWindowProcW")
	procGetMessageW      = user32.NewProc("GetMessageW")
	procTranslateMessage = user32.NewProc("TranslateMessage")
	procDispatchMessageW = user32.NewProc("DispatchMessageW")
	procPostMessageW     = user32.NewProc("PostMessageW")
	procSendMessageW     = user32.NewProc("SendMessageW")
	procDestroyWindow    = user32.NewProc("DestroyWindow")
	procPostQuitMessage  = user32.NewProc("PostQuitMessage")
	procLoadIconW        = user32.NewProc("LoadIconW")
	procShellNotifyIconW = shell32.NewProc("Shell_NotifyIconW")
)

const (
	wmDestroy = 0x0002
	wmClose   = 0x0010
	wmApp     = 0x8000
	wmIcon    = wmApp + 1 // the icon's callback message
	wmShow    = wmApp + 2 // ours: show the next pending alert
	wmStop    = wmApp + 3 // ours: remove the icon and end the loop

	wmLButtonUp         = 0x0202
	ninSelect           = 0x0400 // WM_USER: the icon was clicked (version 4)
	ninBalloonHide      = 0x0403
	ninBalloonTimeout   = 0x0404
	ninBalloonUserClick = 0x0405

	nimAdd        = 0
	nimModify     = 1
	nimDelete     = 2
	nimSetVersion = 4
	nifMessage    = 0x01
	nifIcon       = 0x02
	nifTip        = 0x04
	nifInfo       = 0x10
	niifWarning   = 0x02
	// NIIF_RESPECT_QUIET_TIME: not in the first hour of a new user, nor
	// in presentation mode or Focus Assist.
	niifRespectQuietTime = 0x80
	notifyIconVersion4   = 4
	idiWarning           = 32515
	windowClass          = "vpconnectAlerts"
)

// notifyIconData is NOTIFYICONDATAW (shellapi.h) as Windows Vista and
// later know it; uTimeout and uVersion are one union.
type notifyIconData struct {
	Size            uint32
	Wnd             uintptr
	ID              uint32
	Flags           uint32
	CallbackMessage uint32
	Icon            windows.Handle
	Tip             [128]uint16
	State           uint32
	StateMask       uint32
	Info            [256]uint16
	Version         uint32
	InfoTitle       [64]uint16
	InfoFlags       uint32
	GUIDItem        windows.GUID
	BalloonIcon     windows.Handle
}

type wndClassEx struct {
	size       uint32
	style      uint32
	wndProc    uintptr
	clsExtra   int32
	wndExtra   int32
	instance   windows.Handle
	icon       windows.Handle
	cursor     windows.Handle
	background windows.Handle
	menuName   *uint16
	className  *uint16
	iconSm     windows.Handle
}

type winMsg struct {
	hwnd    uintptr
	message uint32
	wParam  uintptr
	lParam  uintptr
	time    uint32
	pt      struct{ x, y int32 }
}

// windowsClass registers the window class once per process; the window
// procedure finds the notifier of a window in notifiers.
var windowsClass struct {
	once sync.Once
	err  error
}

var notifiers sync.Map // hwnd → *balloonNotifier

// New returns the notifier of Windows. Its window and message loop start
// at the first Notify.
func New(open func(Alert)) Notifier { return &balloonNotifier{open: open} }

type balloonNotifier struct {
	open func(Alert)

	start    sync.Once
	startErr error
	hwnd     uintptr
	done     chan struct{} // closed when the window's thread has ended

	// pending and shown are shared with Notify and the click; icon is
	// written by the window's thread alone (read by tests).
	mu      sync.Mutex
	pending []Alert
	shown   Alert
	icon    atomic.Bool
}

func (n *balloonNotifier) Notify(ctx context.Context, a Alert) error {
	n.start.Do(func() { n.startErr = n.run() })
	if n.startErr != nil {
		return n.startErr
	}
	n.mu.Lock()
	n.pending = append(n.pending, a)
	n.mu.Unlock()
	// Sent, not posted: the answer says whether the shell took it.
	if r, _, _ := procSendMessageW.Call(n.hwnd, wmShow, 0, 0); r != 0 {
		return errors.New("Shell_NotifyIconW refused the alert's icon: no notification area in this session")
	}
	return nil
}

// run starts the window's thread and waits until its window exists.
func (n *balloonNotifier) run() error {
	created := make(chan error, 1)
	n.done = make(chan struct{})
	go func() {
		defer close(n.done)
		// A window's messages reach only the thread that created it.
		runtime.LockOSThread()
		defer runtime.UnlockOSThread()
		hwnd, err := createWindow()
		if err != nil {
			created <- err
			return
		}
		n.hwnd = hwnd
		notifiers.Store(hwnd, n)
		defer notifiers.Delete(hwnd)
		created <- nil
		var m winMsg
		for {
			r, _, _ := procGetMessageW.Call(uintptr(unsafe.Pointer(&m)), 0, 0, 0)
			if int32(r) <= 0 { // WM_QUIT or an error
				return
			}
			procTranslateMessage.Call(uintptr(unsafe.Pointer(&m)))
			procDispatchMessageW.Call(uintptr(unsafe.Pointer(&m)))
		}
	}()
	return <-created
}

func createWindow() (uintptr, error) {
	var inst windows.Handle
	if err := windows.GetModuleHandleEx(0, nil, &inst); err != nil {
		return 0, fmt.Errorf("get the module handle: %w", err)
	}
	windowsClass.once.Do(func() {
		wc := wndClassEx{wndProc: windows.NewCallback(windowProc), instance: inst, className: windows.StringToUTF16Ptr(windowClass)}
		wc.size = uint32(unsafe.Sizeof(wc))
		if r, _, err := procRegisterClassExW.Call(uintptr(unsafe.Pointer(&wc))); r == 0 {
			windowsClass.err = fmt.Errorf("register the alerts' window class: %w", err)
		}
	})
	if windowsClass.err != nil {
		return 0, windowsClass.err
	}
	// Never shown; it only receives the icon's messages.
	hwnd, _, err := procCreateWindowExW.Call(0,
		uintptr(unsafe.Pointer(windows.StringToUTF16Ptr(windowClass))),
		uintptr(unsafe.Pointer(windows.StringToUTF16Ptr("vpconnect alerts"))),
		0, 0, 0, 0, 0, 0, 0, uintptr(inst), 0)
	if hwnd == 0 {
		return 0, fmt.Errorf("create the alerts' window: %w", err)
	}
	return hwnd, nil
}

func windowProc(hwnd, msg, wParam, lParam uintptr) uintptr {
	v, ok := notifiers.Load(hwnd)
	if !ok {
		r, _, _ := procDefWindowProcW.Call(hwnd, msg, wParam, lParam)
		return r
	}
	n := v.(*balloonNotifier)
	switch uint32(msg) {
	case wmShow:
		if !n.showNext(hwnd) {
			return 1
		}
		return 0
	case wmIcon:
		// Version 4: the event is the low word of lParam.
		switch uint32(lParam) & 0xffff {
		case ninBalloonUserClick, ninSelect, wmLButtonUp:
			n.mu.Lock()
			a := n.shown
			n.mu.Unlock()
			if a.Key != "" {
				// Not on the window's thread: opening a browser may take
				// a while.
				go n.open(a)
			}
			n.removeIcon(hwnd)
		case ninBalloonTimeout, ninBalloonHide:
			n.removeIcon(hwnd)
		}
		return 0
	case wmClose:
		return 0 // taskkill's close is the agent's other window's business
	case wmStop:
		n.removeIcon(hwnd)
		procDestroyWindow.Call(hwnd)
		return 0
	case wmDestroy:
		procPostQuitMessage.Call(0)
		return 0
	}
	r, _, _ := procDefWindowProcW.Call(hwnd, msg, wParam, lParam)
	return r
}

// showNext shows the oldest pending alert as the icon's balloon, and says
// whether the shell took it; on the window's thread.
func (n *balloonNotifier) showNext(hwnd uintptr) bool {
	n.mu.Lock()
	if len(n.pending) == 0 {
		n.mu.Unlock()
		return true
	}
	a := n.pending[0]
	n.pending = n.pending[1:]
	n.shown = a
	n.mu.Unlock()
	icon, _, _ := procLoadIconW.Call(0, idiWarning)
	nid := notifyIconData{Wnd: hwnd, ID: 1, Flags: nifMessage | nifIcon | nifTip | nifInfo,
		CallbackMessage: wmIcon, Icon: windows.Handle(icon), InfoFlags: niifWarning | niifRespectQuietTime}
	nid.Size = uint32(unsafe.Sizeof(nid))
	copyUTF16(nid.Tip[:], "vpconnect: "+a.Title)
	copyUTF16(nid.InfoTitle[:], a.Title)
	copyUTF16(nid.Info[:], a.Body+" Click to "+lowerFirst(a.Action)+".")
	op := uintptr(nimModify)
	if !n.icon.Load() {
		op = nimAdd
	}
	if r, _, _ := procShellNotifyIconW.Call(op, uintptr(unsafe.Pointer(&nid))); r == 0 {
		return false // no notification area (a service session): the tray and page still say it
	}
	if !n.icon.Load() {
		n.icon.Store(true)
		nid.Version = notifyIconVersion4
		procShellNotifyIconW.Call(nimSetVersion, uintptr(unsafe.Pointer(&nid)))
	}
	return true
}

// removeIcon takes the alert's icon away, unless another alert waits; on
// the window's thread.
func (n *balloonNotifier) removeIcon(hwnd uintptr) {
	n.mu.Lock()
	waiting := len(n.pending) > 0
	n.mu.Unlock()
	if waiting {
		n.showNext(hwnd)
		return
	}
	if !n.icon.Load() {
		return
	}
	nid := notifyIconData{Wnd: hwnd, ID: 1}
	nid.Size = uint32(unsafe.Sizeof(nid))
	procShellNotifyIconW.Call(nimDelete, uintptr(unsafe.Pointer(&nid)))
	n.icon.Store(false)
}

// Close removes the icon and the window, and waits for its thread.
func (n *balloonNotifier) Close() error {
	started := false
	n.start.Do(func() { n.startErr = errors.New("closed") })
	if n.hwnd != 0 {
		started = true
	}
	if !started {
		return nil
	}
	procPostMessageW.Call(n.hwnd, wmStop, 0, 0)
	<-n.done
	return nil
}

// copyUTF16 copies s into a fixed NUL-terminated field, cut to fit.
func copyUTF16(dst []uint16, s string) {
	u := utf16.Encode([]rune(s))
	if len(u) > len(dst)-1 {
		u = u[:len(dst)-1]
	}
	copy(dst, u)
	dst[len(u)] = 0
}
