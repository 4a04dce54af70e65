//go:build windows || (darwin && cgo)

package tray

import "fyne.io/systray"

// runLoop runs the platform's event loop on this (the main) goroutine until
// stop closes. systray.Run builds the icon before it calls onReady, so the
// tray can take the status as soon as the menu exists.
func runLoop(onReady func(), exported chan<- struct{}, stop <-chan struct{}) {
	close(exported)
	ready, done := make(chan struct{}), make(chan struct{})
	defer close(done)
	go func() {
		// A Quit before the loop is up would be lost and leave Run
		// running: wait for the menu first.
		select {
		case <-ready:
		case <-done:
			return
		}
		select {
		case <-stop:
			systray.Quit()
		case <-done:
		}
	}()
	systray.Run(func() { onReady(); close(ready) }, nil)
}
