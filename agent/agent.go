package agent

import (
	"context"
	"errors"
	"log/slog"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"time"

	"vpconnect/agent/config"
	"vpconnect/syncer"
	"vpconnect/syncer/store"
)

// Syncer runs batches; *syncer.Engine is one. The agent calls it from one
// goroutine at a time.
type Syncer interface {
	Run(ctx context.Context, trigger syncer.Trigger) (store.Batch, error)
}

// ScopedSyncer is implemented by a Syncer that can run a batch that leaves
// some Vantagepoint listings out (syncer.Scope): the batches a mailbox
// probe's news or a track request starts list no Vantagepoint, whose
// changes the paced polls bring, and a fleet short of budget makes every
// second poll a light one (docs/behaviour.md §4.6, pacing.go). Without it
// every batch is a whole one.
type ScopedSyncer interface {
	RunScoped(ctx context.Context, trigger syncer.Trigger, scope syncer.Scope) (store.Batch, error)
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
	// Deactivate: docs/behaviour.md §4.5 "Delete").
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
	// ConfirmDeletes: docs/behaviour.md §4.4).
	ConfirmDeletes func(ctx context.Context, typ string) error
	// RefuseDeletes is the other answer: the next batch deletes nothing
	// and copies the items left back (the engine's RefuseDeletes).
	RefuseDeletes func(ctx context.Context, typ string) error
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
	// the administrator's switches (docs/behaviour.md §5.5); nil: no administration.
	Admin Admin
	// Lease keeps the mailbox's lease (docs/behaviour.md §5.5: one agent per mailbox);
	// nil: this agent syncs without one. Computer names this computer in
	// it ("Syncing on COMPUTER" on the other agent); the agent's id is
	// made once and kept in the data dir. LeaseSettle is how long a claim
	// waits before it is read back (DefaultLeaseSettle when zero).
	Lease       Leaser
	Computer    string
	LeaseSettle time.Duration
	Logger      *slog.Logger
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
// state of docs/behaviour.md §3. One goroutine (Run's) owns all mutable state; every
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
	if opts.LeaseSettle == 0 {
		opts.LeaseSettle = DefaultLeaseSettle
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
	return awaitDone(done, a.stopped)
}

// awaitDone waits for an action to be done, or the agent to stop without
// doing it. An action that stops the agent (Restart) is done before Run
// returns, so both may be ready when this looks: it was done.
func awaitDone(done, stopped <-chan struct{}) error {
	select {
	case <-done:
		return nil
	case <-stopped:
		select {
		case <-done:
			return nil
		default:
			return ErrStopped
		}
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
	_, probe := a.opts.Syncer.(MailboxProber)
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
