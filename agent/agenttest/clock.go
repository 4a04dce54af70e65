// Package agenttest holds test support for the agent and the packages that
// run it: a clock that moves only when a test says so.
package agenttest

import (
	"sync"
	"time"

	"vpconnect/agent/clock"
)

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
func (c *FakeClock) NewTimer(d time.Duration) clock.Timer {
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
