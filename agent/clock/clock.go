// Package clock is the agent's view of time: the wall clock and a monotonic
// one that stops while the machine sleeps (how a wake is noticed), and
// their timers. It is apart from the agent so that agent/agenttest can
// offer a fake one to the agent's own tests.
package clock

import "time"

// Clock is the agent's view of time. The scheduler reads both clocks a
// computer has: the wall clock (what batches record, what a person reads)
// and a monotonic one that stops while the machine sleeps. A jump of the wall
// clock past the monotonic one is how a wake from sleep is noticed without
// asking the operating system, which differs on every platform.
type Clock interface {
	// Now is the wall-clock time.
	Now() time.Time
	// Monotonic is a reading of a clock that does not jump with wall-clock
	// changes and does not advance while the machine sleeps.
	Monotonic() time.Duration
	// NewTimer returns a timer that fires once after d (at once when d <= 0).
	NewTimer(d time.Duration) Timer
}

// Timer is a one-shot timer of a Clock.
type Timer interface {
	// C receives the time when the timer fires.
	C() <-chan time.Time
	// Stop stops the timer; it reports whether it was still pending.
	Stop() bool
}

// System is the real clock. Go's monotonic reading is CLOCK_MONOTONIC on
// Linux and mach_absolute_time on macOS, neither of which counts sleep;
// on Windows it does count sleep, so a wake is noticed there only through
// the late timer (see agent.Agent), which is still correct, only later.
func System() Clock { return systemClock{} }

type systemClock struct{}

var processStart = time.Now()

func (systemClock) Now() time.Time                 { return time.Now() }
func (systemClock) Monotonic() time.Duration       { return time.Since(processStart) }
func (systemClock) NewTimer(d time.Duration) Timer { return sysTimer{time.NewTimer(d)} }

type sysTimer struct{ t *time.Timer }

func (t sysTimer) C() <-chan time.Time { return t.t.C }
func (t sysTimer) Stop() bool          { return t.t.Stop() }
