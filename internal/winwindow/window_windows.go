package winwindow

import (
	"errors"
	"fmt"
	"runtime"
	"sync"
	"unsafe"

	"golang.org/x/sys/windows"
)

var (
	user32               = windows.NewLazySystemDLL("user32.dll")
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
)

// Messages: the few the package handles itself, and the base of a
// program's own.
const (
	WMDestroy = 0x0002
	WMClose   = 0x0010
	WMApp     = 0x8000
	// wmGone is ours: destroy the window from its own thread.
	wmGone = WMApp + 0x3fff
)

// Proc handles a message of the window; handled false leaves it to
// DefWindowProc.
type Proc func(hwnd uintptr, msg uint32, wParam, lParam uintptr) (result uintptr, handled bool)

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

// One window procedure for every window of the process (a callback is a
// scarce resource), which hands each message to its window's Proc.
var (
	dispatchOnce sync.Once
	dispatch     uintptr
	classes      sync.Map // class name → error of its registration (nil: registered)
	procs        sync.Map // hwnd → Proc
)

// Window is a hidden top-level window and the thread of its message loop.
type Window struct {
	hwnd uintptr
	done chan struct{}
}

// Start makes a window of class (registered on first use) titled title,
// never shown, on a thread of its own that runs its message loop until the
// window is destroyed. A top-level window, not a message-only one:
// taskkill finds a program's windows with EnumWindows, which lists
// top-level windows only.
func Start(class, title string, proc Proc) (*Window, error) {
	w := &Window{done: make(chan struct{})}
	created := make(chan error, 1)
	go func() {
		defer close(w.done)
		// A window's messages reach only the thread that created it.
		runtime.LockOSThread()
		defer runtime.UnlockOSThread()
		hwnd, err := create(class, title)
		if err != nil {
			created <- err
			return
		}
		w.hwnd = hwnd
		procs.Store(hwnd, proc)
		defer procs.Delete(hwnd)
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
	if err := <-created; err != nil {
		return nil, err
	}
	return w, nil
}

func create(class, title string) (uintptr, error) {
	var inst windows.Handle
	if err := windows.GetModuleHandleEx(0, nil, &inst); err != nil {
		return 0, fmt.Errorf("get the module handle: %w", err)
	}
	dispatchOnce.Do(func() { dispatch = windows.NewCallback(windowProc) })
	v, _ := classes.LoadOrStore(class, sync.OnceValue(func() error {
		wc := wndClassEx{wndProc: dispatch, instance: inst, className: windows.StringToUTF16Ptr(class)}
		wc.size = uint32(unsafe.Sizeof(wc))
		if r, _, err := procRegisterClassExW.Call(uintptr(unsafe.Pointer(&wc))); r == 0 {
			return fmt.Errorf("register the window class %s: %w", class, err)
		}
		return nil
	}))
	if err := v.(func() error)(); err != nil {
		return 0, err
	}
	hwnd, _, err := procCreateWindowExW.Call(0,
		uintptr(unsafe.Pointer(windows.StringToUTF16Ptr(class))),
		uintptr(unsafe.Pointer(windows.StringToUTF16Ptr(title))),
		0, 0, 0, 0, 0, 0, 0, uintptr(inst), 0)
	if hwnd == 0 {
		if errors.Is(err, windows.ERROR_SUCCESS) {
			// No error code: the window manager side refused (Wine
			// without a display driver does this).
			return 0, fmt.Errorf("create the window %q: no window, and Windows gave no reason (no display?)", title)
		}
		return 0, fmt.Errorf("create the window %q: %w", title, err)
	}
	return hwnd, nil
}

func windowProc(hwnd, msg, wParam, lParam uintptr) uintptr {
	if uint32(msg) == wmGone {
		procDestroyWindow.Call(hwnd)
		return 0
	}
	var r uintptr
	handled := false
	if p, ok := procs.Load(hwnd); ok {
		r, handled = p.(Proc)(hwnd, uint32(msg), wParam, lParam)
	}
	switch {
	case uint32(msg) == WMDestroy:
		// The Proc has seen it (to take down what belongs to the window);
		// the loop ends.
		procPostQuitMessage.Call(0)
		return 0
	case handled:
		return r
	}
	r, _, _ = procDefWindowProcW.Call(hwnd, msg, wParam, lParam)
	return r
}

// Post queues a message for the window and returns at once.
func (w *Window) Post(msg uint32, wParam, lParam uintptr) error {
	if r, _, err := procPostMessageW.Call(w.hwnd, uintptr(msg), wParam, lParam); r == 0 {
		return fmt.Errorf("post message %#x: %w", msg, err)
	}
	return nil
}

// Send hands the window a message and waits for its Proc's answer.
func (w *Window) Send(msg uint32, wParam, lParam uintptr) uintptr {
	r, _, _ := procSendMessageW.Call(w.hwnd, uintptr(msg), wParam, lParam)
	return r
}

// Close destroys the window from its own thread and waits for its loop to
// end.
func (w *Window) Close() error {
	select {
	case <-w.done:
		return nil
	default:
	}
	if err := w.Post(wmGone, 0, 0); err != nil {
		return errors.Join(errors.New("close the window"), err)
	}
	<-w.done
	return nil
}
