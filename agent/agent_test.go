package agent

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"vpconnect/agent/agenttest"
	"vpconnect/agent/config"
	"vpconnect/auth"
	"vpconnect/syncer"
	"vpconnect/syncer/store"
)

// fakeSyncer plays the engine: each Run answers what next says, numbered
// like the store numbers batches.
type fakeSyncer struct {
	mu     sync.Mutex
	id     int64
	runs   []syncer.Trigger
	next   func(n int, trigger syncer.Trigger) (store.Batch, error)
	block  chan struct{} // when set, Run waits on it (or ctx)
	tracks map[string]store.Track
}

func (f *fakeSyncer) Run(ctx context.Context, trigger syncer.Trigger) (store.Batch, error) {
	f.mu.Lock()
	f.id++
	n := len(f.runs)
	f.runs = append(f.runs, trigger)
	id, next, block := f.id, f.next, f.block
	f.mu.Unlock()
	if block != nil {
		select {
		case <-block:
		case <-ctx.Done():
			return store.Batch{ID: id, Trigger: string(trigger), Outcome: syncer.OutcomeFailed, Error: ctx.Err().Error()}, ctx.Err()
		}
	}
	b, err := store.Batch{Outcome: syncer.OutcomeOK}, error(nil)
	if next != nil {
		b, err = next(n, trigger)
	}
	b.ID, b.Trigger = id, string(trigger)
	if err != nil {
		b.Outcome, b.Error = syncer.OutcomeFailed, err.Error()
	}
	return b, err
}

func (f *fakeSyncer) TrackEmail(ctx context.Context, t store.Track) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.tracks == nil {
		f.tracks = map[string]store.Track{}
	}
	t.State = store.TrackQueued
	f.tracks[t.MessageID] = t
	return nil
}

func (f *fakeSyncer) TrackStatus(ctx context.Context, id string) (store.Track, bool, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	t, ok := f.tracks[id]
	return t, ok, nil
}

func (f *fakeSyncer) triggers() []syncer.Trigger {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]syncer.Trigger(nil), f.runs...)
}

var t0 = time.Date(2026, 11, 2, 9, 0, 0, 0, time.UTC)

type harness struct {
	a     *Agent
	clock *agenttest.FakeClock
	sync  *fakeSyncer
	sub   <-chan Status
	stop  func()
	done  chan error
}

func boolp(b bool) *bool { return &b }

// startAgent runs an activated agent over a fake syncer and a fake clock.
// rand is fixed at 0.5: no jitter, and the first poll 30 s after start.
func startAgent(t *testing.T, mutate func(*Options)) *harness {
	t.Helper()
	h := &harness{clock: agenttest.NewFakeClock(t0), sync: &fakeSyncer{}, done: make(chan error, 1)}
	opts := Options{
		Config:        config.Default(),
		Syncer:        h.sync,
		Tracker:       h.sync,
		MailboxStatus: syncer.MailboxInitialized,
		Accounts: Accounts{Microsoft: MicrosoftAccount{User: "dana@example.com"},
			Vantagepoint: VantagepointAccount{URL: "https://vp.example/api", Database: "VP", Employee: "E1"}},
		Clock:   h.clock,
		Rand:    func() float64 { return 0.5 },
		DataDir: t.TempDir(),
	}
	if mutate != nil {
		mutate(&opts)
	}
	a, err := New(opts)
	if err != nil {
		t.Fatal(err)
	}
	h.a = a
	sub, unsub := a.Subscribe()
	h.sub = sub
	ctx, cancel := context.WithCancel(context.Background())
	go func() { h.done <- a.Run(ctx) }()
	h.stop = func() {
		cancel()
		<-h.done
		unsub()
	}
	t.Cleanup(func() {
		select {
		case <-a.stopped:
		default:
			h.stop()
		}
	})
	// Wait for Run to have taken over (its first snapshot has a planned
	// next batch or a final state).
	h.waitFor(t, "started", func(s Status) bool { return s.Seq >= 2 })
	return h
}

// waitFor waits for a snapshot that satisfies ok. It waits on the agent's
// notifications, never on the wall clock, but gives up after 10 s.
func (h *harness) waitFor(t *testing.T, what string, ok func(Status) bool) Status {
	t.Helper()
	deadline := time.After(10 * time.Second)
	var last Status
	for {
		select {
		case s := <-h.sub:
			last = s
			if ok(s) {
				return s
			}
		case <-deadline:
			t.Fatalf("waiting for %s; last status: %+v", what, last)
		}
	}
}

// waitUntil polls cond, for what the status stream does not show (the
// deadline only stops a hung test).
func waitUntil(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("waiting for %s", what)
		}
		time.Sleep(time.Millisecond)
	}
}

func (h *harness) batches(t *testing.T, n int) Status {
	t.Helper()
	return h.waitFor(t, fmt.Sprintf("batch %d", n), func(s Status) bool {
		return s.LastBatch != nil && s.LastBatch.ID >= int64(n) && !s.Running
	})
}

func TestStartupBatchWaitsForTheFirstPollDelayThenRunsOnTheInterval(t *testing.T) {
	h := startAgent(t, nil)
	s := h.a.Status()
	if s.State != StateActive || s.NextBatchAt == nil || !s.NextBatchAt.Equal(t0.Add(30*time.Second)) {
		t.Fatalf("at start: state %q next %v; want Active, next at +30s (rand 0.5 of 60s)", s.State, s.NextBatchAt)
	}
	if h.sync.triggers() != nil {
		t.Fatal("a batch ran before the first-poll delay")
	}
	h.clock.Advance(30 * time.Second)
	s = h.batches(t, 1)
	if got := h.sync.triggers(); len(got) != 1 || got[0] != syncer.TriggerStartup {
		t.Fatalf("triggers %v; want [startup]", got)
	}
	if s.NextBatchAt == nil || !s.NextBatchAt.Equal(t0.Add(30*time.Second+2*time.Minute)) {
		t.Fatalf("next batch at %v; want +2m after the first", s.NextBatchAt)
	}
	h.clock.Advance(2 * time.Minute)
	h.batches(t, 2)
	if got := h.sync.triggers(); got[1] != syncer.TriggerSchedule {
		t.Fatalf("triggers %v", got)
	}
	// Between batches exactly one timer is pending: no busy loop.
	if n := h.clock.Pending(); n != 1 {
		t.Fatalf("%d timers pending between batches; want 1", n)
	}
}

func TestSyncNowNeverWaitsAndReturnsTheBatch(t *testing.T) {
	h := startAgent(t, nil)
	tk, err := h.a.SyncNow(context.Background(), syncer.TriggerManual)
	if err != nil {
		t.Fatal(err)
	}
	r := <-tk.Done
	if r.Err != nil || r.Batch.ID != tk.Batch || r.Batch.Trigger != string(syncer.TriggerManual) {
		t.Fatalf("result %+v, ticket %d", r, tk.Batch)
	}
}

func TestRejectedTokenSuspendsUntilReauthorized(t *testing.T) {
	var reauth []string
	h := startAgent(t, func(o *Options) {
		o.Hooks.Reauthorize = func(ctx context.Context, acc string, c Credentials) error {
			reauth = append(reauth, acc)
			return nil
		}
	})
	h.sync.next = func(n int, _ syncer.Trigger) (store.Batch, error) {
		if n == 0 {
			// What auth's token source answers after invalid_grant.
			return store.Batch{}, fmt.Errorf("list contacts: %w", &auth.SignInRequiredError{Account: auth.Vantagepoint, Reason: "the refresh token was revoked"})
		}
		return store.Batch{Outcome: syncer.OutcomeOK}, nil
	}
	h.clock.Advance(30 * time.Second)
	s := h.batches(t, 1)
	if s.State != StateSuspended || !s.Accounts.Vantagepoint.SignInNeeded || s.Accounts.Microsoft.SignInNeeded || s.NextBatchAt != nil {
		t.Fatalf("after a rejected token: %+v", s)
	}
	// Scheduled sync stopped: time passes, no batch, no timer.
	h.clock.Advance(time.Hour)
	if n := len(h.sync.triggers()); n != 1 || h.clock.Pending() != 0 {
		t.Fatalf("%d batches, %d timers while suspended", n, h.clock.Pending())
	}
	if err := h.a.Reauthorize(context.Background(), auth.Vantagepoint, Credentials{Username: "dana", Password: "x"}); err != nil {
		t.Fatal(err)
	}
	s = h.batches(t, 2)
	if s.State != StateActive || s.Accounts.Vantagepoint.SignInNeeded || len(reauth) != 1 {
		t.Fatalf("after re-authorizing: %+v", s)
	}
}

func TestTenFailedBatchesSuspendUntilResume(t *testing.T) {
	h := startAgent(t, nil)
	fail := true
	var mu sync.Mutex
	h.sync.next = func(n int, _ syncer.Trigger) (store.Batch, error) {
		mu.Lock()
		defer mu.Unlock()
		if fail {
			return store.Batch{}, fmt.Errorf("list messages: %w: 503", syncer.ErrUnavailable)
		}
		return store.Batch{Outcome: syncer.OutcomeOK}, nil
	}
	h.clock.Advance(30 * time.Second)
	var s Status
	backoffs := []time.Duration{}
	for i := 1; i <= MaxConsecutiveFailures; i++ {
		s = h.batches(t, i)
		if i < MaxConsecutiveFailures {
			if s.State != StateWithIssues || s.NextBatchAt == nil {
				t.Fatalf("after %d failures: %+v", i, s)
			}
			d := s.NextBatchAt.Sub(s.LastBatch.Finished)
			if s.LastBatch.Finished.IsZero() {
				d = s.NextBatchAt.Sub(h.clock.Now())
			}
			backoffs = append(backoffs, d)
			h.clock.Advance(d)
		}
	}
	if s.State != StateSuspended || s.NextBatchAt != nil || s.MailboxStatus != syncer.MailboxConnectionLost {
		t.Fatalf("after %d failures: %+v", MaxConsecutiveFailures, s)
	}
	want := []time.Duration{30 * time.Second, time.Minute, 2 * time.Minute, 4 * time.Minute, 8 * time.Minute, 10 * time.Minute}
	for i, w := range want {
		if backoffs[i] != w {
			t.Fatalf("backoffs %v; want to start %v", backoffs, want)
		}
	}
	h.clock.Advance(time.Hour)
	if n := len(h.sync.triggers()); n != MaxConsecutiveFailures {
		t.Fatalf("%d batches while suspended", n)
	}
	mu.Lock()
	fail = false
	mu.Unlock()
	if err := h.a.Resume(context.Background()); err != nil {
		t.Fatal(err)
	}
	s = h.batches(t, MaxConsecutiveFailures+1)
	if s.State != StateActive || s.ConsecutiveFailures != 0 || s.MailboxStatus != syncer.MailboxInitialized {
		t.Fatalf("after Resume: %+v", s)
	}
}

func TestIssuesThenCleanBatch(t *testing.T) {
	h := startAgent(t, nil)
	h.sync.next = func(n int, _ syncer.Trigger) (store.Batch, error) {
		if n == 0 {
			return store.Batch{Outcome: syncer.OutcomeIssues, Issues: []store.Issue{{Type: "emails", Side: "vantagepoint", Item: "x", Reason: "400"}}}, nil
		}
		return store.Batch{Outcome: syncer.OutcomeOK}, nil
	}
	h.clock.Advance(30 * time.Second)
	if s := h.batches(t, 1); s.State != StateWithIssues {
		t.Fatalf("state %q; want With Issues", s.State)
	}
	h.clock.Advance(2 * time.Minute)
	if s := h.batches(t, 2); s.State != StateActive {
		t.Fatalf("state %q; want Active", s.State)
	}
}

func TestPauseStopsScheduleAndSurvivesRestart(t *testing.T) {
	dir := t.TempDir()
	h := startAgent(t, func(o *Options) { o.DataDir = dir })
	if err := h.a.Pause(context.Background()); err != nil {
		t.Fatal(err)
	}
	s := h.waitFor(t, "paused", func(s Status) bool { return s.State == StatePaused })
	if s.SyncStatus != SyncDisabled || s.NextBatchAt != nil {
		t.Fatalf("paused: %+v", s)
	}
	h.clock.Advance(time.Hour)
	if len(h.sync.triggers()) != 0 {
		t.Fatal("a batch ran while paused")
	}
	h.stop()
	h2 := startAgent(t, func(o *Options) { o.DataDir = dir })
	if s := h2.a.Status(); s.State != StatePaused {
		t.Fatalf("after restart: %q; want Paused", s.State)
	}
	if err := h2.a.Resume(context.Background()); err != nil {
		t.Fatal(err)
	}
	h2.batches(t, 1)
}

func TestPolicyDisabledCannotBeUndone(t *testing.T) {
	h := startAgent(t, func(o *Options) { o.Config.Sync.Enabled = boolp(false) })
	s := h.a.Status()
	if s.State != StateDisabled || s.SyncStatus != SyncDisabled || s.PauseAllowed || s.NextBatchAt != nil {
		t.Fatalf("disabled by policy: %+v", s)
	}
	ctx := context.Background()
	for name, err := range map[string]error{"pause": h.a.Pause(ctx), "resume": h.a.Resume(ctx),
		"track": h.a.Track(ctx, TrackRequest{MessageID: "m"})} {
		if !errors.Is(err, ErrDisabledByPolicy) {
			t.Errorf("%s: %v; want ErrDisabledByPolicy", name, err)
		}
	}
	if _, err := h.a.SyncNow(ctx, syncer.TriggerManual); !errors.Is(err, ErrDisabledByPolicy) {
		t.Errorf("sync: %v", err)
	}
	h.clock.Advance(time.Hour)
	if len(h.sync.triggers()) != 0 {
		t.Fatal("a batch ran while disabled")
	}
}

func TestPauseForbiddenByPolicy(t *testing.T) {
	h := startAgent(t, func(o *Options) {
		o.Config.UI.AllowPause = boolp(false)
		o.PolicyErrors = []error{errors.New("policy sync.interval: 5s is below 1m")}
	})
	if err := h.a.Pause(context.Background()); !errors.Is(err, ErrPauseNotAllowed) {
		t.Fatalf("pause: %v", err)
	}
	if s := h.a.Status(); s.PauseAllowed || len(s.PolicyErrors) != 1 || s.State != StateActive {
		t.Fatalf("status: %+v", s)
	}
}

func TestNotActivatedIsNotConfigured(t *testing.T) {
	h := startAgent(t, func(o *Options) { o.Syncer, o.Tracker = nil, nil })
	if s := h.a.Status(); s.State != StateNotConfigured || s.NextBatchAt != nil {
		t.Fatalf("%+v", s)
	}
	if _, err := h.a.SyncNow(context.Background(), syncer.TriggerManual); !errors.Is(err, ErrNotConfigured) {
		t.Fatalf("sync: %v", err)
	}
}

func TestTrackPushesAtOnceWithTranslatedID(t *testing.T) {
	var sources []string
	h := startAgent(t, func(o *Options) {
		o.Hooks.TranslateIDs = func(ctx context.Context, ids []string, src string) (map[string]string, error) {
			sources = append(sources, src)
			return map[string]string{ids[0]: "IMM-" + ids[0]}, nil
		}
	})
	ctx := context.Background()
	if err := h.a.Track(ctx, TrackRequest{MessageID: "AAMk/ews+id==", Project: "P1"}); err != nil {
		t.Fatal(err)
	}
	h.batches(t, 1)
	if got := h.sync.triggers(); len(got) != 1 || got[0] != syncer.TriggerTrack {
		t.Fatalf("triggers %v; want [track] without waiting for the schedule", got)
	}
	tr, ok, err := h.a.TrackStatus(ctx, "AAMk/ews+id==")
	if err != nil || !ok || tr.MessageID != "IMM-AAMk/ews+id==" || tr.Project != "P1" {
		t.Fatalf("track status %+v %v %v", tr, ok, err)
	}
	if len(sources) != 1 || sources[0] != "ewsId" {
		t.Fatalf("translations %v; want one ewsId (the second is cached)", sources)
	}
}

func TestWakeFromSleepRunsABatch(t *testing.T) {
	h := startAgent(t, nil)
	h.clock.Advance(30 * time.Second)
	h.batches(t, 1)
	h.clock.Sleep(3 * time.Hour)
	// The next timer after the wake notices the wall clock's jump: the
	// batch due then runs, and the wake asks for one more at once.
	h.clock.Advance(2 * time.Minute)
	h.batches(t, 3)
	found := false
	for _, tr := range h.sync.triggers() {
		found = found || tr == syncer.TriggerWake
	}
	if !found {
		t.Fatalf("no wake batch: %v", h.sync.triggers())
	}
}

// fakeNetwork plays sysmon.NetworkWatcher: the test reports a change by
// sending on change, which only a running watch receives.
type fakeNetwork struct {
	change   chan struct{}
	mu       sync.Mutex
	watches  int // watches started
	watching int // watches whose goroutine has not ended
}

func newFakeNetwork() *fakeNetwork { return &fakeNetwork{change: make(chan struct{})} }

func (n *fakeNetwork) watch(ctx context.Context) <-chan struct{} {
	ch := make(chan struct{}, 1)
	n.mu.Lock()
	n.watches++
	n.watching++
	n.mu.Unlock()
	go func() {
		defer close(ch)
		defer func() {
			n.mu.Lock()
			n.watching--
			n.mu.Unlock()
		}()
		select {
		case <-ctx.Done():
		case <-n.change:
			ch <- struct{}{}
		}
	}()
	return ch
}

func (n *fakeNetwork) counts() (watches, watching int) {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.watches, n.watching
}

// comesBack reports the network's return to the running watch.
func (n *fakeNetwork) comesBack(t *testing.T) {
	t.Helper()
	select {
	case n.change <- struct{}{}:
	case <-time.After(10 * time.Second):
		t.Fatal("nobody watches the network")
	}
}

// After a batch that could not reach a service, the network is watched,
// and its return starts a batch at once instead of at the end of the
// backoff; while batches get through, nothing watches.
func TestTheNetworkComingBackEndsTheBackoff(t *testing.T) {
	net := newFakeNetwork()
	h := startAgent(t, func(o *Options) {
		o.NetworkChanged = net.watch
		o.Schedule.BackoffMin = 10 * time.Minute
	})
	h.sync.next = func(n int, _ syncer.Trigger) (store.Batch, error) {
		if n == 1 || n == 2 {
			return store.Batch{}, fmt.Errorf("list messages: %w: dial tcp: connect: network is unreachable", syncer.ErrUnavailable)
		}
		return store.Batch{Outcome: syncer.OutcomeOK}, nil
	}
	h.clock.Advance(30 * time.Second)
	h.batches(t, 1)
	if w, _ := net.counts(); w != 0 {
		t.Fatalf("%d network watches after a clean batch; want none", w)
	}
	h.clock.Advance(2 * time.Minute)
	s := h.batches(t, 2)
	failedAt := h.clock.Now()
	if s.NextBatchAt == nil || !s.NextBatchAt.Equal(failedAt.Add(10*time.Minute)) {
		t.Fatalf("after an unreachable failure the retry is at %v; want the 10-minute backoff", s.NextBatchAt)
	}
	if w, on := net.counts(); w != 1 || on != 1 {
		t.Fatalf("after an unreachable failure: %d watches, %d running; want one", w, on)
	}
	// The network comes back, but the service still cannot be reached:
	// the batch runs after a short random wait (a site's agents must not
	// all poll in the same second; rand 0.5 → 15 s), fails, and the watch
	// goes on.
	net.comesBack(t)
	h.waitFor(t, "the retry planned", func(s Status) bool {
		return s.NextBatchAt != nil && s.NextBatchAt.Equal(failedAt.Add(15*time.Second))
	})
	h.clock.Advance(15 * time.Second)
	s = h.batches(t, 3)
	if w, on := net.counts(); w != 2 || on != 1 {
		t.Fatalf("after the second failure: %d watches, %d running; want a second one running", w, on)
	}
	retriedAt := h.clock.Now()
	net.comesBack(t)
	h.waitFor(t, "the second retry planned", func(s Status) bool {
		return s.NextBatchAt != nil && s.NextBatchAt.Equal(retriedAt.Add(15*time.Second))
	})
	h.clock.Advance(15 * time.Second)
	s = h.batches(t, 4)
	if s.LastBatch.Outcome != syncer.OutcomeOK || s.ConsecutiveFailures != 0 {
		t.Fatalf("the batch after the network came back: %+v", s.LastBatch)
	}
	if got := h.sync.triggers(); len(got) != 4 || got[2] != syncer.TriggerWake || got[3] != syncer.TriggerWake {
		t.Fatalf("triggers %v; want the last two started by the network", got)
	}
	if !h.clock.Now().Equal(failedAt.Add(30 * time.Second)) {
		t.Fatalf("the batches waited for the backoff: now %v, failed at %v", h.clock.Now(), failedAt)
	}
	if w, on := net.counts(); w != 2 || on != 0 {
		t.Fatalf("after a batch got through: %d watches, %d running; want none running", w, on)
	}
	if s.NextBatchAt == nil || !s.NextBatchAt.Equal(h.clock.Now().Add(2*time.Minute)) {
		t.Fatalf("next batch at %v; want the normal interval again", s.NextBatchAt)
	}
	// Stopping the agent while it watches ends the watch.
	h.sync.next = func(int, syncer.Trigger) (store.Batch, error) {
		return store.Batch{}, fmt.Errorf("%w: 503", syncer.ErrUnavailable)
	}
	h.clock.Advance(2 * time.Minute)
	h.batches(t, 5)
	if _, on := net.counts(); on != 1 {
		t.Fatalf("%d watches running after another unreachable failure; want one", on)
	}
	h.stop()
	if _, on := net.counts(); on != 0 {
		t.Fatalf("%d watches still running after the agent stopped", on)
	}
}

// Pausing ends the network watch (nothing polls while sync is stopped);
// resuming runs a batch, and its failure starts a new watch.
func TestPauseEndsTheNetworkWatch(t *testing.T) {
	net := newFakeNetwork()
	h := startAgent(t, func(o *Options) { o.NetworkChanged = net.watch })
	h.sync.next = func(int, syncer.Trigger) (store.Batch, error) {
		return store.Batch{}, fmt.Errorf("%w: 503", syncer.ErrUnavailable)
	}
	h.clock.Advance(30 * time.Second)
	h.batches(t, 1)
	if _, on := net.counts(); on != 1 {
		t.Fatalf("%d watches running after an unreachable failure", on)
	}
	if err := h.a.Pause(context.Background()); err != nil {
		t.Fatal(err)
	}
	// Pause is answered from inside the loop's turn, before the turn ends;
	// the loop takes requests one at a time, so a second one is answered
	// only after the first turn is over.
	if err := h.a.Pause(context.Background()); err != nil {
		t.Fatal(err)
	}
	h.clock.Advance(time.Hour)
	if w, on := net.counts(); on != 0 || w != 1 {
		t.Fatalf("paused: %d watches running, %d started; want none running", on, w)
	}
	if err := h.a.Resume(context.Background()); err != nil {
		t.Fatal(err)
	}
	h.batches(t, 2)
	if w, on := net.counts(); on != 1 || w != 2 {
		t.Fatalf("resumed and failed again: %d watches running, %d started; want a new one", on, w)
	}
}

// The Vantagepoint interval stretches after a quiet spell only while the
// session is idle, and a mailbox probe snaps it back once the user is
// back (docs/behaviour.md §4.6).
func TestStretchFollowsTheSessionsIdleness(t *testing.T) {
	var idle atomic.Bool
	var asked atomic.Int32
	var p *probingSyncer
	h := startAgent(t, func(o *Options) {
		p = &probingSyncer{fakeSyncer: &fakeSyncer{}}
		o.Syncer, o.Tracker = p, p
		o.Idle = func() bool { asked.Add(1); return idle.Load() }
		// Probes no more often than polls, so that while the interval is
		// normal every event is a batch; a quiet spell of 5 minutes.
		o.Schedule.MailboxInterval = 2 * time.Minute
		o.Schedule.StretchAfter = 5 * time.Minute
	})
	at := func(d time.Duration) time.Time { return t0.Add(d) }
	h.clock.Advance(30 * time.Second)
	h.batches(t, 1)
	for n := 2; n <= 3; n++ {
		h.clock.Advance(2 * time.Minute)
		h.batches(t, n)
	}
	if asked.Load() != 0 {
		t.Fatalf("the session was asked %d times within the quiet spell; asking is only needed after it", asked.Load())
	}
	// 6m30 quiet, but the user is active: the interval stays 2 minutes.
	h.clock.Advance(2 * time.Minute)
	if s := h.batches(t, 4); !s.NextBatchAt.Equal(at(8*time.Minute + 30*time.Second)) {
		t.Fatalf("active session: next batch at %v; want 2 minutes on", s.NextBatchAt.Sub(t0))
	}
	if asked.Load() == 0 {
		t.Fatal("the session was never asked whether it is idle")
	}
	// Idle: the next poll is 10 minutes away; the probe between keeps it
	// there while the session stays idle.
	idle.Store(true)
	h.clock.Advance(2 * time.Minute)
	if s := h.batches(t, 5); !s.NextBatchAt.Equal(at(18*time.Minute + 30*time.Second)) {
		t.Fatalf("idle session: next batch at %v; want 10 minutes on", s.NextBatchAt.Sub(t0))
	}
	probe := func(n int) Status {
		t.Helper()
		before := h.a.Status().Seq
		h.clock.Advance(2 * time.Minute)
		return h.waitFor(t, fmt.Sprintf("probe %d", n), func(s Status) bool {
			return s.Seq > before && !s.Running && p.probeCount() >= n
		})
	}
	if s := probe(1); !s.NextBatchAt.Equal(at(18*time.Minute + 30*time.Second)) {
		t.Fatalf("still idle: a probe moved the next batch to %v", s.NextBatchAt.Sub(t0))
	}
	// The user is back: the next probe snaps the interval back.
	idle.Store(false)
	if s := probe(2); !s.NextBatchAt.Equal(at(14*time.Minute + 30*time.Second)) {
		t.Fatalf("user back: next batch at %v; want 2 minutes after the probe (14m30)", s.NextBatchAt.Sub(t0))
	}
	if n := len(p.fakeSyncer.triggers()); n != 5 {
		t.Fatalf("%d batches; the probes found no change and must not start one", n)
	}
}

func TestGracefulStopLetsTheBatchFinishOrCancelsIt(t *testing.T) {
	h := startAgent(t, func(o *Options) { o.StopTimeout = time.Minute })
	h.sync.block = make(chan struct{})
	h.clock.Advance(30 * time.Second)
	h.waitFor(t, "running", func(s Status) bool { return s.Running })
	go h.stop()
	// Past the stop timeout the batch is cancelled; Run returns.
	for {
		select {
		case <-h.a.stopped:
			return
		default:
			h.clock.Advance(time.Minute)
			time.Sleep(time.Millisecond)
		}
	}
}

func TestForceDeleteForgetsLocalState(t *testing.T) {
	dir := t.TempDir()
	db := dir + "/sync.db"
	secret := dir + "/localapi.secret"
	for _, f := range []string{db, db + "-wal", secret} {
		if err := config.WriteFile(dir, f[len(dir)+1:], []byte("x")); err != nil {
			t.Fatal(err)
		}
	}
	var forgot, closed, uninit bool
	h := startAgent(t, func(o *Options) {
		o.DataDir = dir
		o.StateFiles = []string{db, secret}
		o.Hooks.ForgetTokens = func(context.Context) error { forgot = true; return nil }
		o.Hooks.CloseState = func() error { closed = true; return nil }
		o.Hooks.Uninitialize = func(context.Context) error { uninit = true; return errors.New("mailbox unreachable") }
	})
	ctx := context.Background()
	if err := h.a.Deactivate(ctx, false); err == nil || forgot || !uninit {
		t.Fatalf("Delete with an unreachable mailbox: %v (forgot %v)", err, forgot)
	}
	if s := h.a.Status(); s.State != StateActive {
		t.Fatalf("after a refused Delete: %q", s.State)
	}
	if err := h.a.Deactivate(ctx, true); err != nil {
		t.Fatal(err)
	}
	if !forgot || !closed {
		t.Fatalf("forgot %v closed %v", forgot, closed)
	}
	for _, f := range []string{db, db + "-wal", secret} {
		if fileExists(f) {
			t.Errorf("%s still exists", f)
		}
	}
	s := h.waitFor(t, "not configured", func(s Status) bool { return s.State == StateNotConfigured })
	if s.LastBatch != nil {
		t.Fatal("the last batch survived deactivation")
	}
}

// probingSyncer is a fakeSyncer whose mailbox can be probed for changes.
type probingSyncer struct {
	*fakeSyncer
	mu      sync.Mutex
	changed bool
	probes  int
}

func (p *probingSyncer) MailboxChanged(ctx context.Context) (bool, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.probes++
	c := p.changed
	p.changed = false
	return c, nil
}

func (p *probingSyncer) probeCount() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.probes
}

// An Outlook change reaches Vantagepoint within the mailbox interval (30 s),
// not the Vantagepoint interval (2 min): the mailbox is probed between
// batches, and only a change starts one.
func TestMailboxProbeStartsABatchOnlyOnAChange(t *testing.T) {
	var p *probingSyncer
	h := startAgent(t, func(o *Options) {
		p = &probingSyncer{fakeSyncer: &fakeSyncer{}}
		o.Syncer, o.Tracker = p, p
	})
	h.clock.Advance(30 * time.Second)
	h.batches(t, 1)
	if n := p.probeCount(); n != 0 {
		t.Fatalf("%d probes by the time the startup batch ran; a batch lists the mailbox itself", n)
	}
	// Quiet mailbox: probes every 30 s, no batch before the 2-minute poll
	// (due 2m30 after start).
	for i := 1; i <= 2; i++ {
		h.clock.Advance(30 * time.Second)
		// The probe is done and the loop has taken it in (a probe shows in
		// no status, so the new timer is what says so).
		waitUntil(t, fmt.Sprintf("probe %d", i), func() bool { return p.probeCount() >= i && h.clock.Pending() > 0 })
	}
	if got := p.fakeSyncer.triggers(); len(got) != 1 {
		t.Fatalf("batches %v after quiet probes; want only the startup batch", got)
	}
	p.mu.Lock()
	p.changed = true
	p.mu.Unlock()
	h.clock.Advance(30 * time.Second) // 2m00 after start: a probe, before the 2m30 poll
	s := h.batches(t, 2)
	if got := p.fakeSyncer.triggers(); len(got) != 2 || p.probeCount() != 3 {
		t.Fatalf("batches %v after %d probes; want a second one started by the third probe", got, p.probeCount())
	}
	if !h.clock.Now().Equal(t0.Add(2 * time.Minute)) {
		t.Fatalf("the batch ran at %v", h.clock.Now())
	}
	// The next Vantagepoint poll is planned from the batch the probe started.
	if s.NextBatchAt == nil || !s.NextBatchAt.Equal(t0.Add(4*time.Minute)) {
		t.Errorf("next batch at %v; want 2 minutes after the probe's batch", s.NextBatchAt)
	}
}

// blockingProber holds each mailbox probe until the test releases it.
type blockingProber struct {
	*fakeSyncer
	entered chan struct{}
	release chan struct{}
}

func (p *blockingProber) MailboxChanged(ctx context.Context) (bool, error) {
	p.entered <- struct{}{}
	<-p.release
	return false, nil
}

// Sync now pressed while the agent probes the mailbox runs as soon as the
// probe ends, not at the next scheduled poll.
func TestSyncNowDuringAMailboxProbeRunsAtOnce(t *testing.T) {
	var p *blockingProber
	h := startAgent(t, func(o *Options) {
		p = &blockingProber{fakeSyncer: &fakeSyncer{}, entered: make(chan struct{}, 10), release: make(chan struct{})}
		o.Syncer, o.Tracker = p, p
	})
	h.clock.Advance(30 * time.Second) // the startup batch
	h.batches(t, 1)
	h.clock.Advance(30 * time.Second) // the first probe, held
	<-p.entered
	tk, err := h.a.SyncNow(context.Background(), syncer.TriggerManual)
	if err != nil {
		t.Fatal(err)
	}
	close(p.release)
	select {
	case r := <-tk.Done:
		if r.Err != nil || r.Batch.Trigger != string(syncer.TriggerManual) || !h.clock.Now().Equal(t0.Add(time.Minute)) {
			t.Fatalf("Sync now answered with %+v at +%v", r, h.clock.Now().Sub(t0))
		}
	case <-time.After(10 * time.Second):
		t.Fatalf("Sync now pressed during a probe did not run when the probe ended (batches so far %v)", p.triggers())
	}
}

// No probe runs before the startup batch: it would find the new day's
// calendar window unlisted and start the batch at once, defeating the random
// first-poll wait that spreads a company's 9 a.m. logins.
func TestNoMailboxProbeBeforeTheStartupBatch(t *testing.T) {
	var p *probingSyncer
	h := startAgent(t, func(o *Options) {
		p = &probingSyncer{fakeSyncer: &fakeSyncer{}, changed: true}
		o.Syncer, o.Tracker = p, p
		o.Rand = func() float64 { return 0.9 } // the first poll 54 s after the start
	})
	for range 5 {
		h.clock.Advance(10 * time.Second)
		// Settled: whatever the advance started has ended and the next
		// timer is set.
		waitUntil(t, "the agent settled", func() bool { return h.clock.Pending() > 0 && !h.a.Status().Running })
	}
	if n, got := p.probeCount(), p.triggers(); n != 0 || len(got) != 0 {
		t.Fatalf("50 s after the start: %d probes, batches %v; want none before the first poll at 54 s", n, got)
	}
	h.clock.Advance(4 * time.Second)
	h.batches(t, 1)
	if got := p.triggers(); len(got) != 1 || got[0] != syncer.TriggerStartup {
		t.Fatalf("batches %v; want [startup]", got)
	}
}

// scopingSyncer is a probingSyncer that can run scoped batches
// (ScopedSyncer): a mailbox batch is recorded as "mailbox:" and its
// trigger, a light poll as "meetings:" and its trigger.
type scopingSyncer struct{ *probingSyncer }

func (s scopingSyncer) RunScoped(ctx context.Context, trigger syncer.Trigger, scope syncer.Scope) (store.Batch, error) {
	prefix := map[syncer.Scope]syncer.Trigger{syncer.ScopeMailbox: "mailbox:", syncer.ScopeMeetings: "meetings:"}[scope]
	return s.fakeSyncer.Run(ctx, prefix+trigger)
}

// The batch a probe's news starts, and a track request's, list no
// Vantagepoint (docs/behaviour.md §4.6): they are mailbox batches, and the
// Vantagepoint poll stays where it was planned, so that a user busy in
// Outlook never holds Vantagepoint's changes back.
func TestMailboxNewsAndTrackingRunMailboxBatchesAndKeepThePoll(t *testing.T) {
	var p scopingSyncer
	h := startAgent(t, func(o *Options) {
		p = scopingSyncer{&probingSyncer{fakeSyncer: &fakeSyncer{}}}
		o.Syncer, o.Tracker = p, p
	})
	h.clock.Advance(30 * time.Second) // the startup batch; the poll after it at 2m30
	h.batches(t, 1)
	h.clock.Advance(30 * time.Second) // a quiet probe at 1m00
	waitUntil(t, "the first probe", func() bool { return p.probeCount() >= 1 && h.clock.Pending() > 0 })
	p.mu.Lock()
	p.changed = true
	p.mu.Unlock()
	h.clock.Advance(30 * time.Second) // 1m30: the probe finds news
	s := h.batches(t, 2)
	if got := p.triggers(); len(got) != 2 || got[1] != "mailbox:schedule" {
		t.Fatalf("batches %v; want the probe's news run as a mailbox batch", got)
	}
	if s.NextBatchAt == nil || !s.NextBatchAt.Equal(t0.Add(150*time.Second)) {
		t.Fatalf("after the mailbox batch the next poll is at %v; want it still at +2m30", s.NextBatchAt)
	}
	if err := h.a.Track(context.Background(), TrackRequest{MessageID: "AAMkAD1"}); err != nil {
		t.Fatal(err)
	}
	h.batches(t, 3)
	if got := p.triggers(); len(got) != 3 || got[2] != "mailbox:track" {
		t.Fatalf("batches %v; want the track request run as a mailbox batch", got)
	}
	h.clock.Advance(time.Minute) // 2m30: the poll, a whole batch
	h.batches(t, 4)
	if got := p.triggers(); len(got) != 4 || got[3] != syncer.TriggerSchedule {
		t.Fatalf("batches %v; want the planned poll as a whole batch", got)
	}
}

// A fleet too large for whole polls every 30 minutes within its budget
// lists Vantagepoint's contacts every second poll: the polls alternate
// between whole ones and light ones (meetings only), 30 minutes apart, and
// status says so.
func TestAFleetShortOfBudgetAlternatesLightPolls(t *testing.T) {
	var p scopingSyncer
	h := startAgent(t, func(o *Options) {
		p = scopingSyncer{&probingSyncer{fakeSyncer: &fakeSyncer{}}}
		p.next = func(n int, trigger syncer.Trigger) (store.Batch, error) {
			return store.Batch{Outcome: syncer.OutcomeOK, Requests: map[string]int64{"vantagepoint": 2}}, nil
		}
		o.Syncer, o.Tracker = p, p
		o.Config.Vantagepoint.FleetSize = 20000
	})
	h.clock.Advance(30 * time.Second)
	s := h.batches(t, 1)
	if s.Pacing == nil || s.Pacing.ContactsEvery != 2 || time.Duration(s.Pacing.Interval) != MaxPacedInterval ||
		!strings.Contains(s.Pacing.Reason, "contacts every second poll") {
		t.Fatalf("pacing of 20,000 agents: %+v; want every %v, contacts every second poll", s.Pacing, MaxPacedInterval)
	}
	for i, want := range []syncer.Trigger{syncer.TriggerSchedule, "meetings:schedule", syncer.TriggerSchedule} {
		h.clock.Advance(MaxPacedInterval)
		h.batches(t, i+2)
		if got := p.triggers(); got[i+1] != want {
			t.Fatalf("polls %v; want poll %d to be %q", got, i+1, want)
		}
	}
}

// An action the agent took answers nil even when the agent stopped right
// after (Restart: the page's option change answered 503 "the agent is
// stopping" when both were ready and the select picked the stop); an
// action the agent stopped before taking is ErrStopped.
func TestAnActionTakenIsDoneAlthoughTheAgentStopped(t *testing.T) {
	done, stopped := make(chan struct{}), make(chan struct{})
	close(stopped)
	if err := awaitDone(done, stopped); !errors.Is(err, ErrStopped) {
		t.Fatalf("not taken, stopped: %v", err)
	}
	close(done)
	for i := range 200 { // a select between two ready cases picks at random
		if err := awaitDone(done, stopped); err != nil {
			t.Fatalf("try %d: taken, then stopped: %v", i, err)
		}
	}
}
