package sysmon

import (
	"sync"
	"time"
)

// IdleAfter is how long without keyboard or mouse input counts as idle
// where the operating system reports only the time since the last input
// (Windows, macOS).
const IdleAfter = 10 * time.Minute

// idleSource is one platform's way of asking whether the session is idle.
type idleSource interface {
	// idle reports whether the session is idle or locked; an error means
	// the operating system could not tell.
	idle() (bool, error)
	// close releases what idle opened (a bus connection).
	close() error
}

// IdleDetector reports whether the user's session is idle or locked. It is
// safe for concurrent use, and connects to nothing until it is first asked,
// so building one for a command that never asks costs nothing.
type IdleDetector struct {
	src idleSource
	// cacheFor is how long an answer is reused; non-zero only where asking
	// is costly (macOS runs a process).
	cacheFor time.Duration
	now      func() time.Time

	mu       sync.Mutex
	answered time.Time
	answer   bool
	valid    bool
}

// NewIdleDetector returns the detector of this operating system: logind
// (or the desktop's screen saver) on Linux, the last input and the lock
// screen on Windows, the HID idle time on macOS.
func NewIdleDetector() *IdleDetector {
	src, cacheFor := platformIdle()
	return newIdleDetector(src, cacheFor)
}

func newIdleDetector(src idleSource, cacheFor time.Duration) *IdleDetector {
	return &IdleDetector{src: src, cacheFor: cacheFor, now: time.Now}
}

// Idle reports whether the session is idle or locked. When the operating
// system cannot tell, the session is not idle: the agent then keeps its
// normal interval, which is never wrong, only less gentle.
func (d *IdleDetector) Idle() bool {
	d.mu.Lock()
	defer d.mu.Unlock()
	now := d.now()
	if d.valid && now.Sub(d.answered) < d.cacheFor {
		return d.answer
	}
	idle, err := d.src.idle()
	d.answer = err == nil && idle
	d.answered, d.valid = now, true
	return d.answer
}

// Close releases the detector's connections; it may be asked again after,
// and then connects again.
func (d *IdleDetector) Close() error {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.valid = false
	return d.src.close()
}
