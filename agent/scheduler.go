package agent

import "time"

// Schedule holds the timing rules of docs/behaviour.md §4.6. Zero fields take the
// defaults of DefaultSchedule.
type Schedule struct {
	// MailboxInterval is how often the mailbox is probed for changes
	// (sync.mailboxInterval).
	MailboxInterval time.Duration
	// Interval is how often Vantagepoint is polled (sync.interval).
	Interval time.Duration
	// Jitter is the fraction every interval varies by, both ways (0.2 =
	// ±20%), so that a company's agents drift apart instead of polling one
	// Vantagepoint server in step.
	Jitter float64
	// FirstPollMax bounds the random wait before the first Vantagepoint poll
	// after start: 9 a.m. logins must not stampede the server.
	FirstPollMax time.Duration
	// Stretched is the Vantagepoint interval after StretchAfter without any
	// change while the session is idle or locked.
	Stretched    time.Duration
	StretchAfter time.Duration
	// BackoffMin and BackoffMax bound the retry delay after a batch failed
	// because a service could not be reached; it doubles each time.
	BackoffMin, BackoffMax time.Duration
}

// DefaultSchedule is docs/behaviour.md §4.6 with the configuration's defaults.
var DefaultSchedule = Schedule{
	MailboxInterval: 30 * time.Second,
	Interval:        2 * time.Minute,
	Jitter:          0.2,
	FirstPollMax:    60 * time.Second,
	Stretched:       10 * time.Minute,
	StretchAfter:    time.Hour,
	BackoffMin:      30 * time.Second,
	BackoffMax:      10 * time.Minute,
}

func (s Schedule) withDefaults() Schedule {
	d := DefaultSchedule
	if s.MailboxInterval > 0 {
		d.MailboxInterval = s.MailboxInterval
	}
	if s.Interval > 0 {
		d.Interval = s.Interval
	}
	if s.Jitter > 0 {
		d.Jitter = s.Jitter
	}
	if s.FirstPollMax > 0 {
		d.FirstPollMax = s.FirstPollMax
	}
	if s.Stretched > 0 {
		d.Stretched = s.Stretched
	}
	if s.StretchAfter > 0 {
		d.StretchAfter = s.StretchAfter
	}
	if s.BackoffMin > 0 {
		d.BackoffMin = s.BackoffMin
	}
	if s.BackoffMax > 0 {
		d.BackoffMax = s.BackoffMax
	}
	return d
}

// scheduler decides when the next poll is due. It is plain data owned by the
// agent's loop goroutine, with "now" passed in, so that its rules are tested
// without a clock or a goroutine.
type scheduler struct {
	cfg  Schedule
	rand func() float64 // [0, 1)
	idle func() bool

	nextMailbox time.Time // zero: no mailbox probe planned
	nextVP      time.Time // the next batch (a Vantagepoint poll)
	firstPoll   bool      // nextVP is the startup poll
	networkBack bool      // nextVP is the retry after the network came back
	quietSince  time.Time // last change seen, or last user activity
	backoff     time.Duration
	probing     bool // the mailbox is probed between batches
	// paced is the Vantagepoint interval the fleet's budget allows
	// (pacing.go); it never shortens Interval or Stretched.
	paced time.Duration
}

func newScheduler(cfg Schedule, rnd func() float64, idle func() bool) *scheduler {
	if idle == nil {
		idle = func() bool { return false }
	}
	return &scheduler{cfg: cfg.withDefaults(), rand: rnd, idle: idle}
}

// jittered returns d varied by ±Jitter.
func (s *scheduler) jittered(d time.Duration) time.Duration {
	f := 1 + s.cfg.Jitter*(2*s.rand()-1)
	return time.Duration(float64(d) * f)
}

// start plans the startup batch after a random 0–FirstPollMax wait. The
// first mailbox probe comes a mailbox interval after that batch (which lists
// the mailbox itself): a probe before it would find the fresh day's calendar
// window unlisted, call that a change and start the batch at once, so that a
// company's agents started together would poll Vantagepoint together.
func (s *scheduler) start(now time.Time, probe bool) {
	s.quietSince = now
	s.nextVP = now.Add(time.Duration(s.rand() * float64(s.cfg.FirstPollMax)))
	s.firstPoll = true
	s.backoff = 0
	s.probing = probe
	s.nextMailbox = time.Time{}
}

// stretched reports whether the Vantagepoint interval is stretched now.
func (s *scheduler) stretched(now time.Time) bool {
	return s.cfg.Stretched > s.cfg.Interval && now.Sub(s.quietSince) >= s.cfg.StretchAfter && s.idle()
}

// vpInterval is the (jittered) time until the next Vantagepoint poll.
func (s *scheduler) vpInterval(now time.Time) time.Duration {
	if s.stretched(now) {
		return s.jittered(max(s.cfg.Stretched, s.paced))
	}
	return s.jittered(max(s.cfg.Interval, s.paced))
}

// plannedInterval is the Vantagepoint interval as planned now (paced or
// stretched), at its longest jitter: the longest a holder of the mailbox's
// lease waits between batches (lease.go).
func (s *scheduler) plannedInterval(now time.Time) time.Duration {
	d := max(s.cfg.Interval, s.paced)
	if s.stretched(now) {
		d = max(s.cfg.Stretched, s.paced)
	}
	return time.Duration(float64(d) * (1 + s.cfg.Jitter))
}

// next is the earliest planned event.
func (s *scheduler) next() time.Time {
	if s.nextMailbox.IsZero() || (!s.nextVP.IsZero() && s.nextVP.Before(s.nextMailbox)) {
		return s.nextVP
	}
	return s.nextMailbox
}

// due says what is due at now: a batch (Vantagepoint poll), a mailbox
// probe, or nothing. A due batch makes a probe pointless.
func (s *scheduler) due(now time.Time) (batch, probe bool) {
	if !s.nextVP.IsZero() && !now.Before(s.nextVP) {
		return true, false
	}
	return false, !s.nextMailbox.IsZero() && !now.Before(s.nextMailbox)
}

// batchStarted clears the plan for the batch that is now running; the next
// one is planned when it ends.
func (s *scheduler) batchStarted() {
	s.nextVP = time.Time{}
	s.firstPoll = false
	s.networkBack = false
	// A batch lists the mailbox too: no probe while it runs, and the next
	// one a whole interval after it.
	s.nextMailbox = time.Time{}
}

// mailboxBatchStarted is batchStarted for a batch of syncer.ScopeMailbox:
// it lists no Vantagepoint, so the planned poll stays as it is.
func (s *scheduler) mailboxBatchStarted() {
	s.nextMailbox = time.Time{}
}

// mailboxBatchEnded plans after a batch of syncer.ScopeMailbox: the next
// probe, and the poll where it was planned, so that a user busy in Outlook
// never holds Vantagepoint's changes back. A service out of reach plans
// the retry as after any batch.
func (s *scheduler) mailboxBatchEnded(now time.Time, changed, unreachable bool) {
	if unreachable || s.nextVP.IsZero() {
		s.batchEnded(now, changed, unreachable)
		return
	}
	if s.probing {
		s.nextMailbox = now.Add(s.jittered(s.cfg.MailboxInterval))
	}
	if changed {
		s.quietSince = now
	}
}

// batchEnded plans after a batch: a backoff retry when a service could not be
// reached (the retry is how the network's return is noticed), else the next
// regular poll.
func (s *scheduler) batchEnded(now time.Time, changed, unreachable bool) {
	s.firstPoll = false
	if s.probing && !unreachable {
		s.nextMailbox = now.Add(s.jittered(s.cfg.MailboxInterval))
	}
	if changed {
		s.quietSince = now
	}
	if unreachable {
		if s.backoff == 0 {
			s.backoff = s.cfg.BackoffMin
		} else {
			s.backoff = min(2*s.backoff, s.cfg.BackoffMax)
		}
		s.nextVP = now.Add(s.jittered(s.backoff))
		return
	}
	s.backoff = 0
	s.nextVP = now.Add(s.vpInterval(now))
}

// probed plans the next mailbox probe, and snaps a stretched Vantagepoint
// interval back once the session is no longer idle.
func (s *scheduler) probed(now time.Time) {
	s.nextMailbox = now.Add(s.jittered(s.cfg.MailboxInterval))
	s.snapBack(now)
}

// activity records the user's activity (Sync now, a track request): the
// stretch ends and the next poll is no further than a normal interval.
func (s *scheduler) activity(now time.Time) {
	s.quietSince = now
	s.snapBack(now)
}

func (s *scheduler) snapBack(now time.Time) {
	if s.nextVP.IsZero() || s.backoff > 0 || s.firstPoll || s.stretched(now) {
		return
	}
	// The normal interval is the paced one when the fleet's budget asks
	// for longer: snapping back must not undo the pacing.
	normal := max(s.cfg.Interval, s.paced)
	maxNormal := time.Duration(float64(normal) * (1 + s.cfg.Jitter))
	if s.nextVP.Sub(now) > maxNormal {
		s.nextVP = now.Add(s.jittered(normal))
	}
}

// networkReturned plans the retry after the network came back a random
// 0–FirstPollMax/2 later instead of at once: a whole site's agents get the
// network back in the same second and must not all poll one Vantagepoint
// server in it.
func (s *scheduler) networkReturned(now time.Time) {
	at := now.Add(time.Duration(s.rand() * float64(s.cfg.FirstPollMax) / 2))
	if s.nextVP.IsZero() || at.Before(s.nextVP) {
		s.nextVP = at
		s.networkBack = true
	}
}

// runNow plans a batch at once (an explicit sync, a wake, a resume).
func (s *scheduler) runNow(now time.Time) {
	s.nextVP = now
	s.firstPoll = false
}
