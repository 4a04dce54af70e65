package agent

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"time"
	"vpconnect/internal/fault"

	"vpconnect/agent/config"
	"vpconnect/auth"
	"vpconnect/syncer"
	"vpconnect/syncer/store"
)

// Syncer runs batches; *syncer.Engine is one. The agent calls it from one
// goroutine at a time.
type Syncer interface {
	Run(ctx context.Context, trigger syncer.Trigger) (store.Batch, error)
}

// MailboxProber is implemented by a Syncer that can tell cheaply (one delta
// round per collection) whether the mailbox changed. With it the agent
// probes the mailbox every sync.mailboxInterval and runs a batch only on a
// change; without it, batches run at the Vantagepoint interval only, so
// that Vantagepoint is never polled more often than sync.interval.
type MailboxProber interface {
	MailboxChanged(ctx context.Context) (bool, error)
}

// Tracker files e-mails the add-in asks for; *syncer.Engine is one. Its
// methods must be safe to call while a batch runs (the engine's only write to
// the state store).
type Tracker interface {
	TrackEmail(ctx context.Context, t store.Track) error
	TrackStatus(ctx context.Context, messageID string) (store.Track, bool, error)
}

// History reads what earlier batches recorded; StoreHistory reads it from the
// state store.
type History interface {
	LastBatch(ctx context.Context) (store.Batch, bool, error)
	OpenIssues(ctx context.Context) ([]store.Issue, error)
	Batches(ctx context.Context, since time.Time) ([]store.Batch, error)
}

// Credentials are a Vantagepoint user name and password, for re-authorizing
// from the Sync Options page.
type Credentials struct {
	Username, Password string
}

// Hooks are the actions that belong to other packages (sign-in, the engine's
// un-initialization), injected so that the agent can be tested with fakes.
// A nil hook makes its action answer ErrUnsupported.
type Hooks struct {
	// Uninitialize removes what the agent put in the mailbox (the engine's
	// Deactivate: SPEC §4.5 "Delete").
	Uninitialize func(ctx context.Context) error
	// ForgetTokens deletes both accounts' keychain records.
	ForgetTokens func(ctx context.Context) error
	// CloseState closes the state store before its file is removed.
	CloseState func() error
	// Reauthorize signs an account in again (auth.Microsoft with the
	// browser; auth.Vantagepoint with the credentials).
	Reauthorize func(ctx context.Context, account string, cred Credentials) error
	// ConfirmDeletes lets the next batch apply the deletions of an item
	// type that the empty-side guard held back (the engine's
	// ConfirmDeletes: SPEC §4.4).
	ConfirmDeletes func(ctx context.Context, typ string) error
	// TranslateIDs is Graph's translateExchangeIds: Office.js ids (EWS or
	// REST form) to the immutable REST ids the engine keys e-mails by.
	TranslateIDs func(ctx context.Context, ids []string, sourceType string) (map[string]string, error)
}

// Options configure an Agent.
type Options struct {
	// Config is the effective configuration (file + policy).
	Config config.Config
	// PolicyErrors are the policy problems found while loading it.
	PolicyErrors []error
	// Syncer runs batches; nil means the agent is not activated.
	Syncer Syncer
	// Tracker files tracked e-mails; nil refuses track requests.
	Tracker Tracker
	// History reads the last batch, open issues and totals; may be nil.
	History History
	// Accounts names who is signed in (the Connected flags are the agent's).
	Accounts Accounts
	// MailboxStatus is the mailbox status at start (syncer.Mailbox*).
	MailboxStatus string
	// Rejected lists accounts whose stored sign-in is already known to be
	// refused at start, with the reason.
	Rejected map[string]string
	Hooks    Hooks
	// StateFiles are removed by Deactivate after CloseState: the state
	// database, and per-user files such as the local API secret.
	StateFiles []string
	// DataDir keeps the agent's own small state (the user's pause).
	DataDir string
	// Schedule overrides timing; zero fields come from Config, then
	// DefaultSchedule.
	Schedule Schedule
	// Clock is SystemClock when nil; Rand math/rand when nil.
	Clock Clock
	Rand  func() float64
	// Idle reports whether the session is idle or locked
	// (sysmon.IdleDetector); the Vantagepoint interval stretches only while
	// it says so. It is asked when the next poll is planned after an hour
	// without change, on the loop goroutine, so it must answer quickly. nil
	// means never idle.
	Idle func() bool
	// NetworkChanged watches the network while a service cannot be reached
	// (sysmon.NetworkWatcher.Watch): the channel receives once when the
	// network came back, and is closed when the watch ends, after that or
	// once ctx ends; the agent waits for the close. A batch then runs at
	// once instead of at the end of the backoff. nil: only the backoff's
	// retry notices the network's return.
	NetworkChanged func(ctx context.Context) <-chan struct{}
	// StopTimeout is how long a graceful stop lets a running batch finish
	// before cancelling it (the engine journals creates, so a cancelled
	// batch is safe); 30 s when zero.
	StopTimeout time.Duration
	// WakeThreshold is the wall-clock jump beyond the monotonic clock that
	// counts as a wake from sleep; 1 min when zero.
	WakeThreshold time.Duration
	// Admin keeps the agent's record in Vantagepoint's agents hub and reads
	// the administrator's switches (SPEC §5.5); nil: no administration.
	Admin  Admin
	Logger *slog.Logger
}

// Errors of the agent's actions. The loopback API maps them to its codes.
var (
	ErrDisabledByPolicy = errors.New("synchronization is disabled by your administrator")
	ErrPauseNotAllowed  = errors.New("your administrator does not allow pausing synchronization")
	ErrDisabledByAdmin  = errors.New("synchronization is disabled by your administrator in Vantagepoint")
	ErrNotConfigured    = errors.New("vpconnect is not activated on this computer: run 'vpconnect activate'")
	ErrUnsupported      = errors.New("this action is not available in this agent")
	ErrStopped          = errors.New("the agent is stopping")
	// ErrRestart is what Run returns after Restart: its owner builds the
	// agent again from the stored configuration and sign-ins.
	ErrRestart = errors.New("the agent restarts to take up a new activation or configuration")
	ErrInvalid = errors.New("invalid request")
)

// Result is the outcome of a batch the caller asked for.
type Result struct {
	Batch store.Batch
	Err   error
}

// Ticket is the answer to SyncNow: the id the batch is expected to get (the
// store numbers batches in order, and the agent is their only writer while it
// runs) and a channel that receives its result.
type Ticket struct {
	Batch int64
	Done  <-chan Result
}

// TrackRequest is the add-in's POST /v1/track.
type TrackRequest struct {
	MessageID   string `json:"messageId"`
	Project     string `json:"project,omitempty"`
	Opportunity string `json:"opportunity,omitempty"`
	Contact     string `json:"contact,omitempty"`
	Firm        string `json:"firm,omitempty"`
}

// Agent is the long-running process's core: it owns the scheduler and the
// state of SPEC §3. One goroutine (Run's) owns all mutable state; every
// other goroutine sends it requests, Tailscale-style, so no lock guards the
// state machine and no two batches ever overlap.
type Agent struct {
	opts  Options
	clock Clock
	log   *slog.Logger

	reqs         chan func(*loop)
	results      chan batchResult
	adminResults chan adminResult // buffered: one round at a time
	stopped      chan struct{}
	started      atomic.Bool

	status atomic.Pointer[Status]
	subMu  sync.Mutex
	subs   map[chan Status]struct{}

	idMu  sync.Mutex
	idMap map[string]string // Office.js id → immutable id, bounded

	loop *loop

	// deactivated is set once Deactivate has forgotten the accounts; the
	// tracker and syncer are not used again.
	deactivated atomic.Bool
}

// New returns an agent; Run starts it.
func New(opts Options) (*Agent, error) {
	if opts.Clock == nil {
		opts.Clock = SystemClock()
	}
	if opts.Rand == nil {
		opts.Rand = rand.Float64
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.StopTimeout == 0 {
		opts.StopTimeout = 30 * time.Second
	}
	if opts.WakeThreshold == 0 {
		opts.WakeThreshold = time.Minute
	}
	if opts.Schedule.Interval == 0 {
		opts.Schedule.Interval = opts.Config.Sync.Interval.D()
	}
	if opts.Schedule.MailboxInterval == 0 {
		opts.Schedule.MailboxInterval = opts.Config.Sync.MailboxInterval.D()
	}
	a := &Agent{
		opts: opts, clock: opts.Clock, log: opts.Logger,
		reqs:    make(chan func(*loop)),
		results: make(chan batchResult),
		// Buffered, so that a round ending while the agent stops never
		// blocks its goroutine.
		adminResults: make(chan adminResult, 1),
		stopped:      make(chan struct{}),
		subs:         map[chan Status]struct{}{},
		idMap:        map[string]string{},
	}
	// The loop's state is built here so that Status answers before Run;
	// from Run on, only Run's goroutine touches it.
	a.loop = a.newLoop()
	a.loop.loadHistory(context.Background())
	a.publish(a.loop)
	return a, nil
}

// loop is the state owned by Run's goroutine.
type loop struct {
	a      *Agent
	sched  *scheduler
	syncer Syncer
	paused bool
	// adminDisabled: the administrator's switch in Vantagepoint is not
	// Enabled (SPEC §5.5); like policy's sync.enabled=false, the user
	// cannot turn sync back on.
	adminDisabled bool
	adm           adminLoop
	pace          pacing
	rejected      map[string]string
	failures      int

	running      bool
	cancelBatch  context.CancelFunc
	waiters      []chan Result // for the running batch
	pending      syncer.Trigger
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
	l.paused = p.Paused
	l.adminDisabled = p.AdminDisabled && a.opts.Admin != nil
	l.pace = pacing{budget: a.opts.Config.Vantagepoint.MaxRequestsPerSecond, estimate: a.opts.Config.Vantagepoint.FleetSize,
		counted: p.FleetSize, countedAt: p.FleetCounted, perPoll: initialPerPoll}
	l.adm.countSpread = time.Duration(a.opts.Rand() * float64(fleetCountSpread))
	l.repace()
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
	if l.lastBatch != nil {
		in.LastOutcome = l.lastBatch.Outcome
	}
	return in
}

// scheduling reports whether scheduled batches run in the current state.
func (l *loop) scheduling() bool {
	switch ComputeState(l.inputs()) {
	case StateActive, StateWithIssues:
		return !l.deactivating
	}
	return false
}

func (l *loop) snapshot() Status {
	o := l.a.opts
	in := l.inputs()
	s := Status{
		State:               ComputeState(in),
		MailboxStatus:       l.mailboxStatus,
		SyncStatus:          SyncEnabled,
		Accounts:            o.Accounts,
		LastBatch:           l.lastBatch,
		Running:             l.running,
		ConsecutiveFailures: l.failures,
		PauseAllowed:        o.Config.SyncEnabled() && o.Config.PauseAllowed() && !l.adminDisabled,
		OpenIssues:          l.issues,
		Totals:              l.totals,
		Version:             Version,
		Seq:                 l.seq,
		Updated:             l.a.clock.Now().UTC(),
		Admin:               l.adminSnapshot(),
		Pacing:              l.pacingSnapshot(),
	}
	if s.OpenIssues == nil {
		s.OpenIssues = []store.Issue{}
	}
	if !o.Config.SyncEnabled() || l.paused || l.adminDisabled {
		s.SyncStatus = SyncDisabled
	}
	for _, e := range o.PolicyErrors {
		s.PolicyErrors = append(s.PolicyErrors, e.Error())
	}
	ms, vp := &s.Accounts.Microsoft, &s.Accounts.Vantagepoint
	ms.Connected, vp.Connected = l.syncer != nil && l.msConnected, l.syncer != nil && l.vpConnected
	ms.LastSuccess, vp.LastSuccess = l.msSuccess, l.vpSuccess
	if r, ok := l.rejected[auth.Microsoft]; ok {
		ms.SignInNeeded, ms.Reason, ms.Connected = true, strings.TrimPrefix(r, adminFixReason), false
	}
	if r, ok := l.rejected[auth.Vantagepoint]; ok {
		vp.SignInNeeded, vp.Reason, vp.Connected = true, strings.TrimPrefix(r, adminFixReason), false
	}
	switch s.State {
	case StateDisabled:
		s.Reason = "Your administrator turned synchronization off for this computer."
		if o.Config.SyncEnabled() {
			s.Reason = "Your administrator turned synchronization off for you in Vantagepoint."
		}
	case StateNotConfigured:
		if l.syncer == nil {
			s.Reason = "Not activated: run 'vpconnect activate' to sign in."
		} else {
			s.Reason = "The mailbox is not initialized: run 'vpconnect activate'."
		}
	case StateSuspended:
		if len(l.rejected) > 0 {
			var names []string
			for _, acc := range []string{auth.Microsoft, auth.Vantagepoint, ""} {
				if r, ok := l.rejected[acc]; ok {
					if rest, ok := strings.CutPrefix(r, adminFixReason); ok {
						// Signing in again cannot help until IT has changed
						// the setting the fix names.
						problem, fix, _ := strings.Cut(rest, "; to fix: ")
						s.Reason = auth.AccountTitle(acc) + " " + problem + ". To fix: " + fix + ". Then re-authorize the account."
						break
					}
					if acc == "" {
						names = append(names, r)
					} else {
						names = append(names, auth.AccountTitle(acc)+": "+r)
					}
				}
			}
			if s.Reason == "" {
				s.Reason = "Sign-in needed (" + strings.Join(names, "; ") + "). Re-authorize the account."
			}
		} else {
			s.Reason = fmt.Sprintf("%d batches in a row failed (last: %s). Scheduled sync stopped: press Resume to try again.", l.failures, l.lastErr)
		}
	case StateWithIssues:
		if l.lastBatch != nil && l.lastBatch.Outcome == syncer.OutcomeFailed {
			s.Reason = "The last batch failed: " + l.lastErr
		}
	}
	if l.scheduling() && !l.sched.nextVP.IsZero() {
		t := l.sched.nextVP.UTC()
		s.NextBatchAt = &t
	}
	return s
}

func (a *Agent) publish(l *loop) {
	// The timer first: whoever reads the status (NextBatchAt) may rely on
	// the timer being set for it.
	l.arm()
	l.seq++
	s := l.snapshot()
	a.status.Store(&s)
	a.subMu.Lock()
	defer a.subMu.Unlock()
	for ch := range a.subs {
		// Latest wins: a slow watcher misses intermediate snapshots, never
		// the last one, and never blocks the agent.
		select {
		case <-ch:
		default:
		}
		ch <- s
	}
}

// Status returns the latest snapshot. It never blocks on a running batch.
func (a *Agent) Status() Status { return *a.status.Load() }

// Subscribe returns a channel that receives the current snapshot at once and
// then each change (latest wins), and a function that ends the subscription.
func (a *Agent) Subscribe() (<-chan Status, func()) {
	ch := make(chan Status, 1)
	a.subMu.Lock()
	a.subs[ch] = struct{}{}
	ch <- *a.status.Load()
	a.subMu.Unlock()
	var once sync.Once
	return ch, func() {
		once.Do(func() {
			a.subMu.Lock()
			delete(a.subs, ch)
			a.subMu.Unlock()
		})
	}
}

// do runs fn on the loop goroutine and waits for it.
func (a *Agent) do(ctx context.Context, fn func(*loop)) error {
	done := make(chan struct{})
	select {
	// Publish before answering, so the caller reads its own action in
	// Status() at once (the loop publishes again, harmlessly, after it).
	case a.reqs <- func(l *loop) { fn(l); a.publish(l); close(done) }:
	case <-a.stopped:
		return ErrStopped
	case <-ctx.Done():
		return ctx.Err()
	}
	select {
	case <-done:
		return nil
	case <-a.stopped:
		return ErrStopped
	}
}

// Run runs the agent until ctx ends, then stops gracefully: a running batch
// may finish within StopTimeout, after which it is cancelled.
func (a *Agent) Run(ctx context.Context) error {
	if !a.started.CompareAndSwap(false, true) {
		return errors.New("the agent is already running")
	}
	defer close(a.stopped)
	l := a.loop
	now := a.clock.Now()
	l.lastWall, l.lastMono = now, a.clock.Monotonic()
	_, probe := l.syncer.(MailboxProber)
	l.sched.start(now, probe)
	if l.adminDisabled {
		// Disabled by the administrator when it stopped: the first read of
		// the switch waits as a first poll would.
		l.adm.lastRound = now.Add(-l.sched.cfg.Interval + time.Duration(a.opts.Rand()*float64(l.sched.cfg.FirstPollMax)))
	}
	l.adminPlan()
	l.live = true
	a.publish(l)
	a.log.Info("agent started", "state", a.Status().State, "version", Version)

	defer func() {
		if l.timer != nil {
			l.timer.Stop()
		}
		// Every way out ends the network watch before Run returns.
		l.stopNetworkWatch()
	}()
	for {
		select {
		case <-ctx.Done():
			l.shutdown()
			a.log.Info("agent stopped")
			return nil
		case fn := <-a.reqs:
			fn(l)
		case r := <-a.results:
			l.batchDone(r)
		case r := <-a.adminResults:
			l.adminDone(r)
		case <-l.timerC:
			l.timer, l.timerC = nil, nil
			l.tick()
		case _, changed := <-l.netChanged:
			l.networkChanged(changed)
		}
		l.checkWake()
		l.watchNetwork()
		l.adminPlan()
		a.publish(l)
		if l.restart {
			l.shutdown()
			a.log.Info("agent restarting to take up a new activation or configuration")
			return ErrRestart
		}
	}
}

// Restart asks the agent to stop as a cancelled Run does (a running batch
// may finish) and make Run return ErrRestart. An activation or a new
// configuration made by another process is taken up so, without the user
// having to find and restart the agent.
func (a *Agent) Restart(ctx context.Context) error {
	return a.do(ctx, func(l *loop) { l.restart = true })
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
// (SPEC §7), nor while scheduled sync is stopped (paused, suspended), nor
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
		l.startProbe()
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
	l.sched.batchStarted()
	l.running = true
	l.waiters = append(l.waiters, waiters...)
	ctx, cancel := context.WithCancel(context.Background())
	l.cancelBatch = cancel
	a, s, h := l.a, l.syncer, l.a.opts.History
	go func() {
		defer cancel()
		b, err := s.Run(ctx, trigger)
		r := batchResult{batch: b, err: err, changed: changedSomething(b)}
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
			l.request(syncer.TriggerSchedule, nil)
		}
		l.afterIdle()
		return
	}
	l.cancelBatch = nil
	// The administrator's switches are read after the first batch, after
	// Sync now, and then every AdminReadEvery (adminPlan's timer), not
	// after every batch: a fleet's reads count against the server's
	// budget. The record is written when it changed.
	if !l.adm.started || syncer.Trigger(r.batch.Trigger) == syncer.TriggerManual || !l.adm.present {
		// (While the hubs are missing each batch asks again; the hubs'
		// client answers from memory until its hourly recheck, so that a
		// hub IT creates later is found without a restart.)
		l.adm.readWanted = true
	}
	l.adm.started = true
	l.pace.observe(r.batch.Trigger, r.batch.Requests["vantagepoint"], now)
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
	l.sched.batchEnded(now, r.changed, unreachable)
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

// SyncNow starts a batch at once (an explicit sync never waits for jitter).
// A batch already running is followed by this one.
func (a *Agent) SyncNow(ctx context.Context, trigger syncer.Trigger) (Ticket, error) {
	done := make(chan Result, 1)
	var t Ticket
	var err error
	if e := a.do(ctx, func(l *loop) {
		switch {
		case !a.opts.Config.SyncEnabled():
			err = ErrDisabledByPolicy
		case l.adminDisabled && l.syncer != nil:
			err = ErrDisabledByAdmin
		case l.syncer == nil || l.deactivating:
			err = ErrNotConfigured
		default:
			l.sched.activity(a.clock.Now())
			t.Batch = l.lastID + 1
			if l.running {
				t.Batch++
			}
			l.request(trigger, done)
		}
	}); e != nil {
		return Ticket{}, e
	}
	t.Done = done
	return t, err
}

// Pause stops scheduled sync until Resume; it survives a restart.
func (a *Agent) Pause(ctx context.Context) error {
	var err error
	if e := a.do(ctx, func(l *loop) {
		if err = l.pauseAllowed(); err == nil {
			l.paused = true
			err = l.save()
		}
	}); e != nil {
		return e
	}
	return err
}

// Resume ends a pause or a suspension (SPEC §3: "until the user
// re-authorizes or presses Resume") and runs a batch at once.
func (a *Agent) Resume(ctx context.Context) error {
	var err error
	if e := a.do(ctx, func(l *loop) {
		if err = l.pauseAllowed(); err != nil {
			return
		}
		l.paused = false
		l.failures = 0
		clear(l.rejected)
		err = l.save()
		if l.syncer != nil && !l.running {
			l.sched.runNow(a.clock.Now())
		}
	}); e != nil {
		return e
	}
	return err
}

func (l *loop) pauseAllowed() error {
	a := l.a
	if !a.opts.Config.SyncEnabled() {
		return ErrDisabledByPolicy
	}
	if l.adminDisabled {
		return ErrDisabledByAdmin
	}
	if !a.opts.Config.PauseAllowed() {
		return ErrPauseNotAllowed
	}
	return nil
}

// Track queues an e-mail for filing (POST /v1/track) and pushes it at once.
func (a *Agent) Track(ctx context.Context, req TrackRequest) error {
	if !a.opts.Config.SyncEnabled() {
		return ErrDisabledByPolicy
	}
	if a.opts.Tracker == nil || a.deactivated.Load() {
		return ErrNotConfigured
	}
	if strings.TrimSpace(req.MessageID) == "" {
		return fmt.Errorf("%w: messageId is required", ErrInvalid)
	}
	id, err := a.translate(ctx, req.MessageID)
	if err != nil {
		return err
	}
	if err := a.opts.Tracker.TrackEmail(ctx, store.Track{MessageID: id, Project: req.Project,
		Opportunity: req.Opportunity, Contact: req.Contact, Firm: req.Firm}); err != nil {
		return fmt.Errorf("queue the e-mail: %w", err)
	}
	return a.do(ctx, func(l *loop) {
		l.sched.activity(a.clock.Now())
		if !l.paused && l.syncer != nil && !l.adminDisabled {
			l.request(syncer.TriggerTrack, nil)
		}
	})
}

// TrackStatus reports where a track request stands, by the id the add-in
// used.
func (a *Agent) TrackStatus(ctx context.Context, messageID string) (store.Track, bool, error) {
	if a.opts.Tracker == nil || a.deactivated.Load() {
		return store.Track{}, false, ErrNotConfigured
	}
	id, err := a.translate(ctx, messageID)
	if err != nil {
		return store.Track{}, false, err
	}
	return a.opts.Tracker.TrackStatus(ctx, id)
}

// translate turns an Office.js message id into the immutable REST id the
// engine keys e-mails by. An EWS id (base64 with '/' or '+') is translated
// as "ewsId"; another is tried as "restId", and kept as it is when Graph
// does not translate it (it is already immutable).
func (a *Agent) translate(ctx context.Context, id string) (string, error) {
	if a.opts.Hooks.TranslateIDs == nil {
		return id, nil
	}
	a.idMu.Lock()
	if v, ok := a.idMap[id]; ok {
		a.idMu.Unlock()
		return v, nil
	}
	a.idMu.Unlock()
	source := "restId"
	if strings.ContainsAny(id, "/+") {
		source = "ewsId"
	}
	m, err := a.opts.Hooks.TranslateIDs(ctx, []string{id}, source)
	out := id
	if v, ok := m[id]; err == nil && ok && v != "" {
		out = v
	} else if source == "ewsId" {
		if err == nil {
			err = errors.New("Graph did not translate it")
		}
		return "", fmt.Errorf("translate the message id: %w", err)
	}
	a.idMu.Lock()
	if len(a.idMap) > 10000 {
		clear(a.idMap)
	}
	a.idMap[id] = out
	a.idMu.Unlock()
	return out, nil
}

// ConfirmDeletes is the user's answer to the empty-side guard (SPEC §4.4):
// the deletions of typ that were held back are intended. A batch runs at
// once to apply them.
func (a *Agent) ConfirmDeletes(ctx context.Context, typ string) (Ticket, error) {
	if typ != syncer.TypeContacts && typ != syncer.TypeEvents {
		return Ticket{}, fmt.Errorf("%w: deletions are held back only for contacts and events, not %q", ErrInvalid, typ)
	}
	if a.opts.Hooks.ConfirmDeletes == nil || a.deactivated.Load() {
		return Ticket{}, ErrNotConfigured
	}
	if err := a.opts.Hooks.ConfirmDeletes(ctx, typ); err != nil {
		return Ticket{}, fmt.Errorf("confirm the deletions of %s: %w", typ, err)
	}
	return a.SyncNow(ctx, syncer.TriggerManual)
}

// Reauthorize signs an account in again and lifts its suspension.
func (a *Agent) Reauthorize(ctx context.Context, account string, cred Credentials) error {
	if account != auth.Microsoft && account != auth.Vantagepoint {
		return fmt.Errorf("%w: unknown account %q", ErrInvalid, account)
	}
	if a.opts.Hooks.Reauthorize == nil {
		return ErrUnsupported
	}
	if err := a.opts.Hooks.Reauthorize(ctx, account, cred); err != nil {
		return fmt.Errorf("re-authorize %s: %w", auth.AccountTitle(account), err)
	}
	return a.do(ctx, func(l *loop) {
		delete(l.rejected, account)
		delete(l.rejected, "")
		l.failures = 0
		if l.syncer != nil && !l.running {
			l.sched.runNow(a.clock.Now())
		}
	})
}

// Deactivate is SPEC §3's Delete (force false: un-initialize the mailbox,
// then forget) or Force Delete (force true: forget tokens and local state
// without touching the mailbox). The running batch finishes first. After
// it the agent is Not Configured and keeps serving its API.
func (a *Agent) Deactivate(ctx context.Context, force bool) error {
	return a.deactivate(ctx, force, nil)
}

// deactivate is Deactivate; beforeForget, when set, runs once the mailbox is
// clean and before the sign-ins are forgotten (the administrator's Delete
// reports Deleted then, while it can still sign in).
func (a *Agent) deactivate(ctx context.Context, force bool, beforeForget func(ctx context.Context)) error {
	if !force && a.opts.Hooks.Uninitialize == nil {
		return fmt.Errorf("delete: %w; use Force Delete", ErrUnsupported)
	}
	idle := make(chan struct{})
	var notConfigured bool
	if err := a.do(ctx, func(l *loop) {
		if l.syncer == nil {
			notConfigured = true
			close(idle)
			return
		}
		l.deactivating = true
		l.pending = ""
		if l.running {
			l.idleWaiters = append(l.idleWaiters, idle)
		} else {
			close(idle)
		}
	}); err != nil {
		return err
	}
	if notConfigured && !force {
		return ErrNotConfigured
	}
	select {
	case <-idle:
	case <-ctx.Done():
		_ = a.do(context.Background(), func(l *loop) { l.deactivating = false })
		return ctx.Err()
	}
	if !force {
		if err := a.opts.Hooks.Uninitialize(ctx); err != nil {
			_ = a.do(context.Background(), func(l *loop) { l.deactivating = false })
			return fmt.Errorf("remove vpconnect's data from the mailbox: %w (when the mailbox cannot be reached, use Force Delete)", err)
		}
	}
	if beforeForget != nil {
		beforeForget(ctx)
	}
	err := ForgetLocal(ctx, a.opts.Hooks, a.opts.StateFiles)
	_ = a.do(context.Background(), func(l *loop) {
		l.syncer = nil
		l.deactivating = false
		l.mailboxStatus = syncer.MailboxNotInitialized
		l.lastBatch, l.issues, l.totals = nil, nil, map[string]store.Counts{}
		clear(l.rejected)
		l.failures = 0
		l.paused = false
		l.adminDisabled = false
		_ = l.save()
	})
	a.deactivated.Store(true)
	return err
}

// ForgetLocal forgets this computer's activation: it closes the state
// store, removes the state files (with SQLite's companions), and deletes the
// sign-ins. It is Force Delete's whole work, and Delete's last step; the
// CLI calls it directly when no agent runs.
func ForgetLocal(ctx context.Context, h Hooks, files []string) error {
	var errs []error
	if h.CloseState != nil {
		if err := h.CloseState(); err != nil {
			errs = append(errs, fmt.Errorf("close the state database: %w", err))
		}
	}
	for _, f := range files {
		for _, p := range []string{f, f + "-wal", f + "-shm", f + "-journal"} {
			if err := os.Remove(p); err != nil && !errors.Is(err, os.ErrNotExist) {
				errs = append(errs, fmt.Errorf("remove %s: %w", p, err))
			}
		}
	}
	if h.ForgetTokens != nil {
		if err := h.ForgetTokens(ctx); err != nil {
			errs = append(errs, fmt.Errorf("forget the sign-ins: %w", err))
		}
	}
	return errors.Join(errs...)
}
