package agent

import (
	"sync"
	"time"
)

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

// SystemClock is the real clock. Go's monotonic reading is CLOCK_MONOTONIC on
// Linux and mach_absolute_time on macOS, neither of which counts sleep;
// on Windows it does count sleep, so a wake is noticed there only through
// the late timer (see Agent), which is still correct, only later.
func SystemClock() Clock { return systemClock{} }

type systemClock struct{}

var processStart = time.Now()

func (systemClock) Now() time.Time                 { return time.Now() }
func (systemClock) Monotonic() time.Duration       { return time.Since(processStart) }
func (systemClock) NewTimer(d time.Duration) Timer { return sysTimer{time.NewTimer(d)} }

type sysTimer struct{ t *time.Timer }

func (t sysTimer) C() <-chan time.Time { return t.t.C }
func (t sysTimer) Stop() bool          { return t.t.Stop() }

// FakeClock is a Clock that moves only when told, for tests of the
// scheduler and the agent that must not sleep. It is safe for concurrent
// use.
type FakeClock struct {
	mu     sync.Mutex
	wall   time.Time
	mono   time.Duration
	timers []*fakeTimer
}

// NewFakeClock returns a fake clock reading start.
func NewFakeClock(start time.Time) *FakeClock { return &FakeClock{wall: start} }

// Now returns the fake wall-clock time.
func (c *FakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.wall
}

// Monotonic returns the fake monotonic reading.
func (c *FakeClock) Monotonic() time.Duration {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.mono
}

// NewTimer returns a timer on the fake clock.
func (c *FakeClock) NewTimer(d time.Duration) Timer {
	c.mu.Lock()
	defer c.mu.Unlock()
	t := &fakeTimer{c: make(chan time.Time, 1), at: c.mono + d, clock: c}
	if d <= 0 {
		t.c <- c.wall
		t.fired = true
		return t
	}
	c.timers = append(c.timers, t)
	return t
}

// Advance moves both clocks forward by d and fires the timers that are due.
func (c *FakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.wall = c.wall.Add(d)
	c.mono += d
	c.fire()
}

// Sleep simulates the machine sleeping for d: the wall clock moves, the
// monotonic one does not, so timers (which wait on the monotonic clock, as
// Go's do) fire no earlier than they would have without the sleep.
func (c *FakeClock) Sleep(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.wall = c.wall.Add(d)
}

// Pending is the number of timers not yet fired or stopped; tests use it to
// prove the agent does not keep spare timers around (no busy polling).
func (c *FakeClock) Pending() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	n := 0
	for _, t := range c.timers {
		if !t.fired {
			n++
		}
	}
	return n
}

func (c *FakeClock) fire() {
	kept := c.timers[:0]
	for _, t := range c.timers {
		if t.fired {
			continue
		}
		if t.at <= c.mono {
			t.fired = true
			select {
			case t.c <- c.wall:
			default:
			}
			continue
		}
		kept = append(kept, t)
	}
	c.timers = kept
}

type fakeTimer struct {
	c     chan time.Time
	at    time.Duration
	fired bool
	clock *FakeClock
}

func (t *fakeTimer) C() <-chan time.Time { return t.c }

func (t *fakeTimer) Stop() bool {
	t.clock.mu.Lock()
	defer t.clock.mu.Unlock()
	was := !t.fired
	t.fired = true
	return was
}
