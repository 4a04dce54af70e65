package cli

import (
	"context"
	"fmt"
	"log/slog"
	"runtime"
	"sync"
	"time"
	"unsafe"

	"golang.org/x/sys/windows"
)

// On Windows the agent is a GUI-subsystem program started by the Run value:
// it has no console, so no console control event (what os/signal turns into
// SIGINT or SIGTERM) ever reaches it. Windows asks such a program to stop
// through its top-level windows instead: `taskkill /pid` (without /f)
// posts WM_CLOSE to them, and a logoff or shutdown
// sends WM_QUERYENDSESSION and WM_ENDSESSION. A program without a window
// can only be killed, mid-write. The agent therefore keeps one hidden
// top-level window whose only job is to turn those messages into the end
// of its context, so that it stops as it does on SIGTERM elsewhere: the
// running batch finishes or is cancelled, the state store is closed, the
// log says so, and the exit code is 0.

var (
	user32               = windows.NewLazySystemDLL("user32.dll")
	procRegisterClassExW = user32.NewProc("RegisterClassExW")
	procCreateWindowExW  = user32.NewProc("CreateWindowExW")
	procDefWindowProcW   = user32.NewProc("DefWindowProcW")
	procGetMessageW      = user32.NewProc("GetMessageW")
	procTranslateMessage = user32.NewProc("TranslateMessage")
	procDispatchMessageW = user32.NewProc("DispatchMessageW")
	procPostMessageW     = user32.NewProc("PostMessageW")
	procDestroyWindow    = user32.NewProc("DestroyWindow")
	procPostQuitMessage  = user32.NewProc("PostQuitMessage")
)

const (
	wmDestroy          = 0x0002
	wmClose            = 0x0010
	wmQueryEndSession  = 0x0011
	wmEndSession       = 0x0016
	wmUser             = 0x0400
	wmRelease          = wmUser + 1 // ours: the agent stopped, go away
	closeWindowClass   = "vpconnectAgentWindow"
	endSessionGraceMax = 4 * time.Second // Windows ends a program that takes longer to answer WM_ENDSESSION
)

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

// closeWindow is the one hidden window of this process (one agent runs per
// process); its window procedure reads it.
var closeWindow struct {
	once     sync.Once
	proc     uintptr
	classErr error

	mu       sync.Mutex
	stop     func(why string) // ends the agent's context
	released chan struct{}    // closed once the agent stopped
}

// stopOnClose returns ctx ended when Windows asks this process to close
// (WM_CLOSE, WM_ENDSESSION), and a release func to call once the agent
// stopped: it takes the window down. Without a window (CreateWindowEx
// failed) ctx is returned as it is and the reason is logged: the agent
// still runs, and stops only when killed.
func stopOnClose(ctx context.Context, log *slog.Logger) (context.Context, func()) {
	ctx, cancel := context.WithCancel(ctx)
	released := make(chan struct{})
	closeWindow.mu.Lock()
	closeWindow.stop = func(why string) {
		log.Info("stopping: Windows asked the agent to close", "message", why)
		cancel()
	}
	closeWindow.released = released
	closeWindow.mu.Unlock()

	created := make(chan uintptr, 1)
	go func() {
		// A window belongs to the thread that created it, and only that
		// thread's message loop receives its messages.
		runtime.LockOSThread()
		defer runtime.UnlockOSThread()
		hwnd, err := createCloseWindow()
		if err != nil {
			log.Warn("no window to receive Windows' close request: the agent stops only when killed", "err", err)
			created <- 0
			return
		}
		created <- hwnd
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
	hwnd := <-created
	var once sync.Once
	return ctx, func() {
		once.Do(func() {
			closeWindow.mu.Lock()
			closeWindow.stop = nil
			closeWindow.mu.Unlock()
			close(released)
			cancel()
			if hwnd != 0 {
				procPostMessageW.Call(hwnd, wmRelease, 0, 0)
			}
		})
	}
}

func createCloseWindow() (uintptr, error) {
	closeWindow.once.Do(func() {
		closeWindow.proc = windows.NewCallback(closeWindowProc)
		inst, err := moduleHandle()
		if err != nil {
			closeWindow.classErr = err
			return
		}
		wc := wndClassEx{wndProc: closeWindow.proc, instance: inst, className: windows.StringToUTF16Ptr(closeWindowClass)}
		wc.size = uint32(unsafe.Sizeof(wc))
		if r, _, err := procRegisterClassExW.Call(uintptr(unsafe.Pointer(&wc))); r == 0 {
			closeWindow.classErr = fmt.Errorf("register the window class: %w", err)
		}
	})
	if closeWindow.classErr != nil {
		return 0, closeWindow.classErr
	}
	inst, err := moduleHandle()
	if err != nil {
		return 0, err
	}
	// A top-level window, never shown: taskkill finds a program's windows
	// with EnumWindows, which lists top-level windows only (a message-only
	// window would never be asked).
	hwnd, _, err := procCreateWindowExW.Call(0,
		uintptr(unsafe.Pointer(windows.StringToUTF16Ptr(closeWindowClass))),
		uintptr(unsafe.Pointer(windows.StringToUTF16Ptr("vpconnect agent"))),
		0, 0, 0, 0, 0, 0, 0, uintptr(inst), 0)
	if hwnd == 0 {
		return 0, fmt.Errorf("create the window: %w", err)
	}
	return hwnd, nil
}

// moduleHandle is the exe's own instance handle.
func moduleHandle() (windows.Handle, error) {
	var h windows.Handle
	if err := windows.GetModuleHandleEx(0, nil, &h); err != nil {
		return 0, fmt.Errorf("get the module handle: %w", err)
	}
	return h, nil
}

func closeWindowProc(hwnd, msg, wParam, lParam uintptr) uintptr {
	closeWindow.mu.Lock()
	stop, released := closeWindow.stop, closeWindow.released
	closeWindow.mu.Unlock()
	if stop == nil {
		stop = func(string) {} // released already: nothing left to stop
	}
	switch uint32(msg) {
	case wmClose:
		// Not DefWindowProc, which would destroy the window at once: it
		// stays until the agent stopped, for a second WM_CLOSE or the end
		// of the session.
		stop("WM_CLOSE")
		return 0
	case wmQueryEndSession:
		return 1 // the agent never holds a logoff up
	case wmEndSession:
		if wParam != 0 {
			// The session ends once this returns: stop now and wait
			// (bounded) for the state to be closed.
			stop("WM_ENDSESSION")
			select {
			case <-released:
			case <-time.After(endSessionGraceMax):
			}
		}
		return 0
	case wmRelease:
		procDestroyWindow.Call(hwnd)
		return 0
	case wmDestroy:
		procPostQuitMessage.Call(0)
		return 0
	}
	r, _, _ := procDefWindowProcW.Call(hwnd, msg, wParam, lParam)
	return r
}
