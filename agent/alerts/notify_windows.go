package alerts

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"unicode/utf16"
	"unsafe"

	"golang.org/x/sys/windows"

	"vpconnect/internal/winwindow"
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
	shell32              = windows.NewLazySystemDLL("shell32.dll")
	user32               = windows.NewLazySystemDLL("user32.dll")
	procLoadIconW        = user32.NewProc("LoadIconW")
	procShellNotifyIconW = shell32.NewProc("Shell_NotifyIconW")
)

const (
	wmIcon = winwindow.WMApp + 1 // the icon's callback message
	wmShow = winwindow.WMApp + 2 // ours: show the next pending alert

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

// New returns the notifier of Windows. Its window and message loop start
// at the first Notify.
func New(open func(Alert)) Notifier { return &balloonNotifier{open: open} }

type balloonNotifier struct {
	open func(Alert)

	start    sync.Once
	startErr error
	w        *winwindow.Window

	// pending and shown are shared with Notify and the click; icon is
	// written by the window's thread alone (read by tests).
	mu      sync.Mutex
	pending []Alert
	shown   Alert
	icon    atomic.Bool
}

func (n *balloonNotifier) Notify(ctx context.Context, a Alert) error {
	n.start.Do(func() {
		n.w, n.startErr = winwindow.Start("vpconnectAlerts", "vpconnect alerts", n.message)
	})
	if n.startErr != nil {
		return n.startErr
	}
	n.mu.Lock()
	n.pending = append(n.pending, a)
	n.mu.Unlock()
	// Sent, not posted: the answer says whether the shell took it.
	if n.w.Send(wmShow, 0, 0) != 0 {
		return errors.New("Shell_NotifyIconW refused the alert's icon: no notification area in this session")
	}
	return nil
}

// message handles the window's messages, on its thread.
func (n *balloonNotifier) message(hwnd uintptr, msg uint32, wParam, lParam uintptr) (uintptr, bool) {
	switch msg {
	case wmShow:
		if !n.showNext(hwnd) {
			return 1, true
		}
		return 0, true
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
		return 0, true
	case winwindow.WMClose:
		return 0, true // taskkill's close is the agent's other window's business
	case winwindow.WMDestroy:
		n.removeIcon(hwnd)
		return 0, false
	}
	return 0, false
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
	n.start.Do(func() { n.startErr = errors.New("closed") })
	if n.w == nil {
		return nil
	}
	return n.w.Close()
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
