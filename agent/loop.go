package agent

import (
	"context"
	"errors"
	"time"

	"vpconnect/auth"
	"vpconnect/internal/fault"
	"vpconnect/syncer"
	"vpconnect/syncer/store"
)

// The loop: one goroutine owns the agent's mutable state (the schedule,
// the running batch, the sign-in rejections, the failures) and others send
// it requests (Agent.do). This file holds its timers, batches and probes.

// loop is the state owned by Run's goroutine.
type loop struct {
	a      *Agent
	sched  *scheduler
	syncer Syncer
	paused bool
	// adminDisabled: the administrator's switch in Vantagepoint is not
	// Enabled (docs/behaviour.md §5.5); like policy's sync.enabled=false, the user
	// cannot turn sync back on.
	adminDisabled bool
	adm           adminLoop
	pace          pacing
	rejected      map[string]string
	failures      int
	// gate holds the mailbox's lease (lease.go); nil without one. standby
	// is set while another agent holds it.
	gate    *leaseGate
	standby *StandbyError
	agentID string

	running     bool
	cancelBatch context.CancelFunc
	waiters     []chan Result // for the running batch
	pending     syncer.Trigger
	// probeNews: the scheduled batch being requested was started by a
	// mailbox probe's news; batchFromProbe: the one running was. Pacing
	// counts such batches apart from its polls (pacing.go observe).
	probeNews, batchFromProbe bool
	// batchScope is the running batch's: syncer.ScopeMailbox (a probe's
	// news or a track request) lists no Vantagepoint and leaves the
	// planned poll where it is.
	batchScope   syncer.Scope
	nextWaiters  []chan Result // for the batch after it
	idleWaiters  []chan struct{}
	deactivating bool
	restart      bool // Restart was asked: stop and return ErrRestart

	// The loop's one timer, set to the next planned event (arm); nothing
	// wakes the agent between events (no busy polling). live: Run owns it.
	live   bool
	timer  Timer
	timerC <-chan time.Time

	lastBatch     *store.Batch
	lastID        int64
	issues        []store.Issue
	totals        map[string]store.Counts
	mailboxStatus string
	msConnected   bool
	vpConnected   bool
	msSuccess     *time.Time
	vpSuccess     *time.Time
	lastErr       string
	seq           uint64

	lastWall time.Time
	lastMono time.Duration

	// unreachable: the last batch failed because a service could not be
	// reached, so the network is watched until a batch gets through.
	unreachable bool
	stopWatch   context.CancelFunc
	netChanged  <-chan struct{} // nil while the network is not watched
}

type batchResult struct {
	batch   store.Batch
	err     error
	changed bool
	probe   bool
	issues  []store.Issue
	totals  map[string]store.Counts
	hasInfo bool
	// leased: the agent held the mailbox's lease when the batch ended.
	leased bool
}

func (a *Agent) newLoop() *loop {
	l := &loop{
		a:             a,
		sched:         newScheduler(a.opts.Schedule, a.opts.Rand, a.opts.Idle),
		syncer:        a.opts.Syncer,
		rejected:      map[string]string{},
		mailboxStatus: a.opts.MailboxStatus,
		totals:        map[string]store.Counts{},
	}
	for k, v := range a.opts.Rejected {
		l.rejected[k] = v
	}
	if l.mailboxStatus == "" {
		l.mailboxStatus = syncer.MailboxNotInitialized
	}
	p := a.loadPersisted()
	l.agentID = p.AgentID
	if a.opts.Lease != nil && a.opts.Syncer != nil {
		if l.agentID == "" {
			l.agentID = newClaim()
		}
		l.gate = newLeaseGate(a.opts.Lease, l.agentID, a.opts.Computer, a.opts.LeaseSettle, a.clock.Now)
		a.opts.Lease.SetLeaseGate(l.gate.acquire)
	}
	l.paused = p.Paused
	l.adminDisabled = p.AdminDisabled && a.opts.Admin != nil
	l.pace = pacing{budget: a.opts.Config.Vantagepoint.MaxRequestsPerSecond, estimate: a.opts.Config.Vantagepoint.FleetSize,
		counted: p.FleetSize, countedAt: p.FleetCounted, perPoll: initialPerPoll}
	l.adm.countSpread = time.Duration(a.opts.Rand() * float64(FleetCountSpread))
	l.adm.firstSpread = time.Duration(a.opts.Rand() * float64(AdminFirstSpread))
	l.repace()
	if l.gate != nil && p.AgentID == "" {
		if err := l.save(); err != nil {
			a.log.Warn("save the agent state", "err", err)
		}
	}
	return l
}

// inputs gathers the facts ComputeState decides from.
func (l *loop) inputs() Inputs {
	in := Inputs{
		Activated:           l.syncer != nil,
		MailboxStatus:       l.mailboxStatus,
		PolicyEnabled:       l.a.opts.Config.SyncEnabled() && !l.adminDisabled,
		Paused:              l.paused,
		Rejected:            l.rejected,
		ConsecutiveFailures: l.failures,
		Running:             l.running,
	}
	if l.standby != nil {
		in.Standby = l.standby.Computer
	}
	if l.lastBatch != nil {
		in.LastOutcome = l.lastBatch.Outcome
	}
	return in
}

// scheduling reports whether scheduled batches run in the current state.
func (l *loop) scheduling() bool {
	switch ComputeState(l.inputs()) {
	case StateActive, StateWithIssues, StateStandby:
		return !l.deactivating
	}
	return false
}

// arm sets the loop's timer to the next planned event: the next batch or
// mailbox probe while sync is scheduled and nothing runs, or the next
// administration round.
func (l *loop) arm() {
	if !l.live {
		return
	}
	if l.timer != nil {
		l.timer.Stop()
		l.timer, l.timerC = nil, nil
	}
	var next time.Time
	if n := l.sched.next(); l.scheduling() && !l.running && !n.IsZero() {
		next = n
	}
	if n := l.adm.next; !n.IsZero() && (next.IsZero() || n.Before(next)) {
		next = n
	}
	if !next.IsZero() {
		l.timer = l.a.clock.NewTimer(next.Sub(l.a.clock.Now()))
		l.timerC = l.timer.C()
	}
}

// checkWake notices a wake from sleep: the wall clock moved further than the
// monotonic clock since the last event. The batch it starts catches up with
// whatever changed while the machine slept.
func (l *loop) checkWake() {
	now, mono := l.a.clock.Now(), l.a.clock.Monotonic()
	wall := now.Sub(l.lastWall)
	elapsed := mono - l.lastMono
	l.lastWall, l.lastMono = now, mono
	if wall-elapsed > l.a.opts.WakeThreshold && l.scheduling() {
		l.a.log.Info("wake from sleep", "slept", (wall - elapsed).Round(time.Second))
		l.request(syncer.TriggerWake, nil)
	}
}

// watchNetwork watches the network between batches while the last one
// could not reach a service, and only then: nothing polls while all is well
// (docs/behaviour.md §7), nor while scheduled sync is stopped (paused, suspended), nor
// when a batch is due anyway (Resume).
func (l *loop) watchNetwork() {
	want := l.unreachable && l.scheduling() && !l.running && l.a.opts.NetworkChanged != nil &&
		l.sched.nextVP.After(l.a.clock.Now()) && !l.sched.networkBack
	switch {
	case want && l.netChanged == nil:
		ctx, cancel := context.WithCancel(context.Background())
		l.stopWatch, l.netChanged = cancel, l.a.opts.NetworkChanged(ctx)
	case !want && l.netChanged != nil:
		l.stopNetworkWatch()
	}
}

// stopNetworkWatch ends the watch and waits for its goroutine.
func (l *loop) stopNetworkWatch() {
	if l.netChanged == nil {
		return
	}
	l.stopWatch()
	for range l.netChanged {
	}
	l.stopWatch, l.netChanged = nil, nil
}

// networkChanged handles the end of a watch: the network came back, so the
// batch the backoff would run later runs within moments (as a wake does:
// both catch up after a time away).
func (l *loop) networkChanged(changed bool) {
	l.stopNetworkWatch()
	if !changed {
		// The watch gave up on its own: the backoff's retries go on, and
		// the next unreachable failure asks again.
		l.unreachable = false
		return
	}
	if l.scheduling() && !l.running {
		l.a.log.Info("the network came back: syncing soon")
		l.sched.networkReturned(l.a.clock.Now())
	}
}

// tick handles the timer: a due batch or mailbox probe.
func (l *loop) tick() {
	// The timer may be the administration's (arm): a batch or probe that
	// fell due meanwhile waits while sync is not scheduled (paused,
	// suspended), as arm would have it.
	if !l.scheduling() || l.running {
		return
	}
	now := l.a.clock.Now()
	batch, probe := l.sched.due(now)
	switch {
	case batch:
		trigger := syncer.TriggerSchedule
		switch {
		case l.sched.firstPoll:
			trigger = syncer.TriggerStartup
		case l.sched.networkBack:
			trigger = syncer.TriggerWake
		}
		l.startBatch(trigger, nil)
	case probe:
		l.sched.nextMailbox = time.Time{}
		if l.standby == nil {
			l.startProbe()
		}
	}
}

// request asks for a batch now; a batch already running is followed by one
// more (requests coalesce), so that nothing asked for is lost.
func (l *loop) request(trigger syncer.Trigger, w chan Result) {
	if l.running {
		if l.pending == "" || trigger != syncer.TriggerSchedule {
			l.pending = trigger
		}
		if w != nil {
			l.nextWaiters = append(l.nextWaiters, w)
		}
		return
	}
	var ws []chan Result
	if w != nil {
		ws = append(ws, w)
	}
	l.startBatch(trigger, ws)
}

func (l *loop) startBatch(trigger syncer.Trigger, waiters []chan Result) {
	if l.syncer == nil || l.deactivating || l.adminDisabled {
		err := ErrNotConfigured
		if l.adminDisabled && l.syncer != nil {
			err = ErrDisabledByAdmin
		}
		for _, w := range waiters {
			w <- Result{Err: err}
		}
		return
	}
	l.running = true
	l.batchFromProbe = l.probeNews && trigger == syncer.TriggerSchedule
	scoped, canScope := l.syncer.(ScopedSyncer)
	scope := syncer.ScopeFull
	switch {
	case !canScope:
	case l.batchFromProbe || trigger == syncer.TriggerTrack:
		scope = syncer.ScopeMailbox
	case pacedPoll(string(trigger), false):
		scope = l.pace.pollScope(l.sched.cfg.Interval, l.a.clock.Now())
	}
	l.batchScope = scope
	if scope == syncer.ScopeMailbox {
		l.sched.mailboxBatchStarted()
	} else {
		l.sched.batchStarted()
	}
	l.waiters = append(l.waiters, waiters...)
	ctx, cancel := context.WithCancel(context.Background())
	l.cancelBatch = cancel
	a, s, h := l.a, l.syncer, l.a.opts.History
	if l.gate != nil {
		l.gate.setPeriod(l.sched.plannedInterval(a.clock.Now()))
	}
	gate := l.gate
	go func() {
		defer cancel()
		var b store.Batch
		var err error
		if scope != syncer.ScopeFull {
			b, err = scoped.RunScoped(ctx, trigger, scope)
		} else {
			b, err = s.Run(ctx, trigger)
		}
		r := batchResult{batch: b, err: err, changed: changedSomething(b)}
		r.leased = gate != nil && gate.holding()
		if h != nil {
			// Read issues and totals here, not on the loop goroutine, so
			// status never waits on the database.
			r.issues, r.totals, r.hasInfo = readInfo(context.WithoutCancel(ctx), h, a.clock.Now())
		}
		a.results <- r
	}()
}

func (l *loop) startProbe() {
	p, ok := l.syncer.(MailboxProber)
	if !ok {
		return
	}
	l.running = true
	a := l.a
	ctx, cancel := context.WithCancel(context.Background())
	l.cancelBatch = cancel
	go func() {
		defer cancel()
		changed, err := p.MailboxChanged(ctx)
		if err != nil {
			a.log.Warn("mailbox probe failed", "err", err)
		}
		a.results <- batchResult{probe: true, changed: changed && err == nil}
	}()
}

func readInfo(ctx context.Context, h History, now time.Time) ([]store.Issue, map[string]store.Counts, bool) {
	issues, err := h.OpenIssues(ctx)
	if err != nil {
		return nil, nil, false
	}
	batches, err := h.Batches(ctx, now.AddDate(0, 0, -30))
	if err != nil {
		return nil, nil, false
	}
	totals := map[string]store.Counts{}
	for _, b := range batches {
		for t, c := range b.Counts {
			s := totals[t]
			s.Scanned += c.Scanned
			s.Created += c.Created
			s.Updated += c.Updated
			s.Deleted += c.Deleted
			s.Unlinked += c.Unlinked
			s.Skipped += c.Skipped
			s.Failed += c.Failed
			totals[t] = s
		}
	}
	return issues, totals, true
}

func (l *loop) loadHistory(ctx context.Context) {
	h := l.a.opts.History
	if h == nil {
		return
	}
	if b, ok, err := h.LastBatch(ctx); err == nil && ok {
		l.lastBatch, l.lastID = &b, b.ID
		if b.Outcome == syncer.OutcomeFailed {
			l.lastErr = b.Error
		}
	}
	if issues, totals, ok := readInfo(ctx, h, l.a.clock.Now()); ok {
		l.issues, l.totals = issues, totals
	}
}

func changedSomething(b store.Batch) bool {
	for _, c := range b.Counts {
		if c.Created+c.Updated+c.Deleted+c.Unlinked > 0 {
			return true
		}
	}
	return false
}

// batchDone takes a finished batch or probe into the state.
func (l *loop) batchDone(r batchResult) {
	l.running = false
	now := l.a.clock.Now()
	if r.probe {
		l.cancelBatch = nil
		l.sched.probed(now)
		// A Sync now, track request or wake that came during the probe
		// runs now, as after a batch: an explicit sync never waits.
		if l.pending != "" && !l.deactivating {
			t, ws := l.pending, l.nextWaiters
			l.pending, l.nextWaiters = "", nil
			l.startBatch(t, ws)
			return
		}
		if r.changed && l.scheduling() {
			l.probeNews = true
			l.request(syncer.TriggerSchedule, nil)
			l.probeNews = false
		}
		l.afterIdle()
		return
	}
	l.cancelBatch = nil
	var sb *StandbyError
	if errors.As(r.err, &sb) {
		l.onStandby(sb, now)
		return
	}
	if l.standby != nil && (r.leased || r.err == nil) {
		l.a.log.Info("took over the mailbox: this computer syncs it now", "from", l.standby.Computer)
		l.standby = nil
	}
	// The administrator's switches are read after the first batch, after
	// Sync now, and then every AdminReadEvery (adminPlan's timer), not
	// after every batch: a fleet's reads count against the server's
	// budget. The record is written when it changed.
	switch {
	case syncer.Trigger(r.batch.Trigger) == syncer.TriggerManual:
		l.adm.firstAt = time.Time{}
	case !l.adm.started && l.sched.paced > l.sched.cfg.Interval:
		l.adm.firstAt = now.Add(l.adm.firstSpread)
	}
	if !l.adm.started || syncer.Trigger(r.batch.Trigger) == syncer.TriggerManual || !l.adm.present {
		// (While the hubs are missing each batch asks again; the hubs'
		// client answers from memory until its hourly recheck, so that a
		// hub IT creates later is found without a restart.)
		l.adm.readWanted = true
	}
	l.adm.started = true
	l.pace.observe(pacedPoll(r.batch.Trigger, l.batchFromProbe), l.batchScope, r.batch.Requests["vantagepoint"], now)
	if r.batch.ID != 0 {
		b := r.batch
		l.lastBatch = &b
		l.lastID = max(l.lastID, b.ID)
	}
	if r.hasInfo {
		l.issues, l.totals = r.issues, r.totals
	}
	unreachable := false
	switch {
	case r.err == nil:
		l.failures = 0
		l.lastErr = ""
		l.msConnected, l.vpConnected = true, true
		t := now.UTC()
		l.msSuccess, l.vpSuccess = &t, &t
		if l.mailboxStatus == syncer.MailboxConnectionLost {
			l.mailboxStatus = syncer.MailboxInitialized
		}
	case errors.Is(r.err, context.Canceled):
		// Stopped: nothing to learn.
	default:
		l.failures++
		l.lastErr = r.err.Error()
		account, vpSide := l.classify(r.err)
		switch {
		case errors.Is(r.err, syncer.ErrAuthRejected):
			reason := r.err.Error()
			var sr *auth.SignInRequiredError
			var mr *syncer.MailboxRefusedError
			switch {
			case errors.As(r.err, &sr):
				reason = sr.Reason
				if sr.Fix != "" {
					reason = adminFixReason + sr.Reason + "; to fix: " + sr.Fix
				}
			case errors.As(r.err, &mr):
				account = auth.Microsoft
				reason = adminFixReason + "cannot be used: " + mr.Problem + "; to fix: " + mr.Fix
			}
			l.rejected[account] = reason
		case errors.Is(r.err, syncer.ErrUnavailable):
			unreachable = true
		}
		if vpSide {
			l.vpConnected = false
		} else {
			l.msConnected = false
			if l.mailboxStatus == syncer.MailboxInitialized {
				l.mailboxStatus = syncer.MailboxConnectionLost
			}
		}
		l.a.log.Warn("batch failed", "err", r.err, "failures", l.failures)
	}
	if !errors.Is(r.err, context.Canceled) {
		l.unreachable = unreachable
	}
	l.repace()
	if l.batchScope == syncer.ScopeMailbox {
		l.sched.mailboxBatchEnded(now, r.changed, unreachable)
	} else {
		l.sched.batchEnded(now, r.changed, unreachable)
	}
	res := Result{Batch: r.batch, Err: r.err}
	if len(l.waiters) > 0 {
		// Whoever waited for this batch reads the status it left.
		l.a.publish(l)
	}
	for _, w := range l.waiters {
		w <- res
	}
	l.waiters = nil
	if l.pending != "" && !l.deactivating {
		t, ws := l.pending, l.nextWaiters
		l.pending, l.nextWaiters = "", nil
		l.startBatch(t, ws)
		return
	}
	l.afterIdle()
}

func (l *loop) afterIdle() {
	if l.running {
		return
	}
	for _, w := range l.idleWaiters {
		close(w)
	}
	l.idleWaiters = nil
}

// adminFixReason starts the reason kept for an account that only an
// administrator can bring back (its app registration, tenant or mailbox
// was refused): "<problem>; to fix: <fix>" follows, shown in the status,
// the tray and the page.
const adminFixReason = "needs IT: "

// classify names the account a failure belongs to, and whether it is the
// Vantagepoint side. Sign-in errors say; otherwise the side the service
// client marked it with (internal/fault); an unmarked failure is the
// mailbox's.
func (l *loop) classify(err error) (account string, vpSide bool) {
	var sr *auth.SignInRequiredError
	if errors.As(err, &sr) {
		return sr.Account, sr.Account == auth.Vantagepoint
	}
	if side, _ := fault.SideOf(err); side == fault.Vantagepoint {
		return auth.Vantagepoint, true
	}
	return auth.Microsoft, false
}

// shutdown lets a running batch finish, or cancels it after StopTimeout.
func (l *loop) shutdown() {
	if !l.running {
		return
	}
	t := l.a.clock.NewTimer(l.a.opts.StopTimeout)
	defer t.Stop()
	for l.running {
		select {
		case r := <-l.a.results:
			l.batchDone(r)
			l.pending = ""
		case <-t.C():
			l.a.log.Warn("stopping: cancelling the running batch")
			if l.cancelBatch != nil {
				l.cancelBatch()
			}
			r := <-l.a.results
			l.pending = ""
			l.batchDone(r)
		}
	}
	for _, w := range l.nextWaiters {
		w <- Result{Err: ErrStopped}
	}
	l.nextWaiters = nil
}
