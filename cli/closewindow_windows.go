package cli

import (
	"context"
	"log/slog"
	"sync"
	"time"

	"vpconnect/internal/winwindow"
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

const (
	wmQueryEndSession  = 0x0011
	wmEndSession       = 0x0016
	endSessionGraceMax = 4 * time.Second // Windows ends a program that takes longer to answer WM_ENDSESSION
)

// stopOnClose returns ctx ended when Windows asks this process to close
// (WM_CLOSE, WM_ENDSESSION), and a release func to call once the agent
// stopped: it takes the window down. Without a window (CreateWindowEx
// failed) ctx is returned as it is and the reason is logged: the agent
// still runs, and stops only when killed.
func stopOnClose(ctx context.Context, log *slog.Logger) (context.Context, func()) {
	ctx, cancel := context.WithCancel(ctx)
	released := make(chan struct{})
	stop := func(why string) {
		if ctx.Err() == nil {
			log.Info("stopping: Windows asked the agent to close", "message", why)
		}
		cancel()
	}
	w, err := winwindow.Start("vpconnectAgentWindow", "vpconnect agent", func(hwnd uintptr, msg uint32, wParam, lParam uintptr) (uintptr, bool) {
		switch msg {
		case winwindow.WMClose:
			// Not DefWindowProc, which would destroy the window at once:
			// it stays until the agent stopped, for a second WM_CLOSE or
			// the end of the session.
			stop("WM_CLOSE")
			return 0, true
		case wmQueryEndSession:
			return 1, true // the agent never holds a logoff up
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
			return 0, true
		}
		return 0, false
	})
	if err != nil {
		log.Warn("no window to receive Windows' close request: the agent stops only when killed", "err", err)
	}
	var once sync.Once
	return ctx, func() {
		once.Do(func() {
			close(released)
			cancel()
			if w != nil {
				// After released: a loop answering WM_ENDSESSION has
				// stopped waiting.
				w.Close()
			}
		})
	}
}
