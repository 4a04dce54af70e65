package agent

import (
	"math/rand/v2"
	"testing"
	"time"
)

func TestJitterStaysWithinTwentyPercent(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	s := newScheduler(Schedule{}, r.Float64, nil)
	lo, hi := time.Hour, time.Duration(0)
	for range 10000 {
		d := s.vpInterval(t0)
		lo, hi = min(lo, d), max(hi, d)
	}
	if lo < 96*time.Second || hi > 144*time.Second {
		t.Fatalf("2m interval jittered to [%v, %v]; want within ±20%%", lo, hi)
	}
	// It does spread: a fleet must not poll in step.
	if hi-lo < 40*time.Second {
		t.Fatalf("jitter range only %v", hi-lo)
	}
}

func TestFirstPollWaitsZeroToSixtySeconds(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	var lo, hi time.Duration = time.Hour, 0
	for range 5000 {
		s := newScheduler(Schedule{}, r.Float64, nil)
		s.start(t0, false)
		d := s.nextVP.Sub(t0)
		lo, hi = min(lo, d), max(hi, d)
	}
	if lo < 0 || hi > time.Minute || hi < 55*time.Second || lo > 5*time.Second {
		t.Fatalf("first poll after [%v, %v]; want spread over 0–60s", lo, hi)
	}
}

func TestStretchAfterAnHourIdleAndSnapBack(t *testing.T) {
	idle := true
	s := newScheduler(Schedule{}, func() float64 { return 0.5 }, func() bool { return idle })
	s.start(t0, true)
	now := t0.Add(30 * time.Minute)
	s.batchEnded(now, false, false)
	if d := s.nextVP.Sub(now); d != 2*time.Minute {
		t.Fatalf("after 30 quiet minutes: %v; want 2m", d)
	}
	now = t0.Add(61 * time.Minute)
	s.batchEnded(now, false, false)
	if d := s.nextVP.Sub(now); d != 10*time.Minute {
		t.Fatalf("after an idle hour without change: %v; want 10m", d)
	}
	// Not idle: the interval stays normal however quiet it is.
	idle = false
	s.batchEnded(now, false, false)
	if d := s.nextVP.Sub(now); d != 2*time.Minute {
		t.Fatalf("active session: %v; want 2m", d)
	}
	// Stretched, and a mailbox probe while the session is still idle
	// leaves it so; once the user is back, the next probe snaps back.
	idle = true
	s.batchEnded(now, false, false)
	s.probed(now.Add(30 * time.Second))
	if d := s.nextVP.Sub(now); d != 10*time.Minute {
		t.Fatalf("a probe while idle moved the stretched poll to %v", d)
	}
	idle = false
	s.probed(now.Add(time.Minute))
	if d := s.nextVP.Sub(now.Add(time.Minute)); d != 2*time.Minute {
		t.Fatalf("after activity: %v; want snapped back to 2m", d)
	}
	// A change resets the quiet hour.
	idle = true
	s.batchEnded(now.Add(2*time.Minute), true, false)
	if d := s.nextVP.Sub(now.Add(2 * time.Minute)); d != 2*time.Minute {
		t.Fatalf("after a change: %v; want 2m", d)
	}
	// A track request or Sync now snaps back too.
	later := now.Add(3 * time.Hour)
	s.batchEnded(later, false, false)
	s.activity(later)
	if d := s.nextVP.Sub(later); d != 2*time.Minute {
		t.Fatalf("after Sync now: %v", d)
	}
}

func TestBackoffDoublesToTenMinutesAndResets(t *testing.T) {
	s := newScheduler(Schedule{}, func() float64 { return 0.5 }, nil)
	s.start(t0, false)
	var got []time.Duration
	for range 7 {
		s.batchEnded(t0, false, true)
		got = append(got, s.nextVP.Sub(t0))
	}
	want := []time.Duration{30 * time.Second, time.Minute, 2 * time.Minute, 4 * time.Minute, 8 * time.Minute, 10 * time.Minute, 10 * time.Minute}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("backoffs %v; want %v", got, want)
		}
	}
	s.batchEnded(t0, false, false)
	if d := s.nextVP.Sub(t0); d != 2*time.Minute || s.backoff != 0 {
		t.Fatalf("after success: %v backoff %v", d, s.backoff)
	}
}

func TestDueAndNext(t *testing.T) {
	s := newScheduler(Schedule{}, func() float64 { return 0.5 }, nil)
	s.start(t0, true)
	if !s.next().Equal(t0.Add(30 * time.Second)) {
		t.Fatalf("next %v", s.next())
	}
	if b, p := s.due(t0.Add(29 * time.Second)); b || p {
		t.Fatal("due too early")
	}
	// Both due: the batch wins, the probe is pointless.
	if b, p := s.due(t0.Add(30 * time.Second)); !b || p {
		t.Fatalf("due %v %v", b, p)
	}
	// A batch lists the mailbox itself: the next probe is a mailbox
	// interval after it ends, not at once.
	s.batchStarted()
	s.batchEnded(t0.Add(31*time.Second), false, false)
	if b, p := s.due(t0.Add(31 * time.Second)); b || p {
		t.Fatalf("due right after a batch: %v %v", b, p)
	}
	if b, p := s.due(t0.Add(61 * time.Second)); b || !p {
		t.Fatalf("probe not due a mailbox interval after the batch: %v %v", b, p)
	}
	// While a service is unreachable only the backoff retry runs.
	s.batchStarted()
	s.batchEnded(t0.Add(62*time.Second), false, true)
	if !s.nextMailbox.IsZero() {
		t.Errorf("a probe is planned while the service is unreachable: %v", s.nextMailbox)
	}
}
