//go:build (linux || freebsd || openbsd || netbsd) && !android

package tray

import "fyne.io/systray"

// runLoop puts the tray on the session bus and keeps it there until stop
// closes. There is no native event loop to own here (D-Bus calls arrive on
// godbus's goroutines), so the external-loop form is used: its start
// returns once the StatusNotifierItem and its menu are exported, which is
// when exported closes and the first status may be written (written
// earlier, it could be lost between systray reading its properties and
// exporting them).
func runLoop(onReady func(), exported chan<- struct{}, stop <-chan struct{}) {
	start, end := systray.RunWithExternalLoop(onReady, nil)
	start()
	close(exported)
	<-stop
	defer func() {
		// systray closes its connection without checking it was made;
		// checkHost made sure it could be, but a bus that vanished in
		// between must not crash the agent on its way out.
		_ = recover()
	}()
	end()
}
