// Package system builds the running agent from a configuration: the one
// wiring of `vpconnect run`, `vpconnect demo` and the agent bench (in the
// spirit of Tailscale's tsd.System). What differs between them is an Env
// value (the keychain, the transport under every request, the browser, the
// clock, what the session says); everything else is built here, once:
// the stored sign-ins and their token sources, the Graph and Vantagepoint
// clients, the state store, the engine and its Runner, the administration
// hubs, the agent and its loopback API.
package system

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"sort"
	"sync"
	"time"

	"vpconnect/agent"
	"vpconnect/agent/admin"
	"vpconnect/agent/alerts"
	"vpconnect/agent/config"
	"vpconnect/agent/localapi"
	"vpconnect/agent/sysmon"
	"vpconnect/auth"
	"vpconnect/syncer"
	"vpconnect/syncer/graph"
	"vpconnect/syncer/store"
	"vpconnect/syncer/vantagepoint"
)

// Files of the data dir.
const (
	// StateFile is the sync state database.
	StateFile = "sync.db"
	// AdminSwitchesFile keeps the administrator's switches as the agent
	// last obeyed them (agent/admin): a switch the employee loosened
	// themself is not obeyed, also after a restart.
	AdminSwitchesFile = "admin-switches.json"
)

// Env is what the running agent takes from the computer it runs on. The
// zero value is the product's: the OS keychain, Go's default transport, the
// system browser and clock, the session and network as the OS reports them.
// The demo, the bench and tests set what they replace, as values, so that
// several systems can run side by side in one process.
type Env struct {
	// Keychain opens the keychain entries of a service name
	// (keychainService); nil: the OS keychain.
	Keychain func(service string) auth.Keychain
	// Transport carries every request to the services and sign-in
	// endpoints; nil: Go's default.
	Transport http.RoundTripper
	// Browser opens the Microsoft sign-in page of a re-authorization; nil:
	// the system browser.
	Browser auth.BrowserFunc
	// Clock and Rand drive the agent's scheduler; nil: the system clock
	// and math/rand.
	Clock agent.Clock
	Rand  func() float64
	// Idle says whether the session is idle or locked; nil: the OS's
	// (agent/sysmon). NetworkChanged watches for the network's return;
	// nil: the OS's.
	Idle           func() bool
	NetworkChanged func(ctx context.Context) <-chan struct{}
	// Schedule overrides the configuration's timing where set (the demo
	// polls faster than the product's minimum).
	Schedule agent.Schedule
	// Batches wraps the engine's batch runner (the demo prints what each
	// batch wrote); nil: none.
	Batches func(agent.Syncer) agent.Syncer
	// Hostname names this computer in the agents hub and in the mailbox's
	// lease; "" asks the OS.
	Hostname string
	// PolicyFingerprint reads the policy as text, for the running agent's
	// check every PolicyCheckEvery; nil: config.PolicyFingerprint.
	// PolicyClock times that check; nil: the system clock. It is not
	// Clock: the check is the running system's, not the agent's, whose
	// tests count the agent's own timers.
	PolicyFingerprint func() string
	PolicyClock       agent.Clock
	// LeaseSettle is how long a claim of the mailbox's lease waits before
	// it is read back; zero: agent.DefaultLeaseSettle (tests on loopback
	// simulators shorten it).
	LeaseSettle time.Duration
	// Logger receives the agent's log; nil discards it.
	Logger *slog.Logger
	// OpenPage opens a one-time address of the Sync Options page in the
	// user's browser: Serve opens the activation screen with it when the
	// agent starts not activated. nil: the page is not opened by itself.
	OpenPage func(ctx context.Context, pageURL string) error
	// Policy reads IT's policy (docs/behaviour.md §5.4); nil: the OS's (config.LoadPolicy).
	Policy func() (config.Policy, []error)
	// Notifier shows the running agent's alerts (package alerts) as
	// notifications whose action calls open; nil: the OS's (alerts.New).
	Notifier func(open func(alerts.Alert)) alerts.Notifier
}

func (e Env) keychain(service string) auth.Keychain {
	if e.Keychain != nil {
		return e.Keychain(service)
	}
	return auth.NewSystemKeychain(service)
}

func (e Env) logger() *slog.Logger {
	if e.Logger != nil {
		return e.Logger
	}
	return slog.New(slog.DiscardHandler)
}

func (e Env) now() time.Time {
	if e.Clock != nil {
		return e.Clock.Now()
	}
	return time.Now()
}

// HTTPClient is the client of the sign-in endpoints: nil (each app's own,
// with its timeouts) unless the environment replaces the transport.
func (e Env) HTTPClient() *http.Client {
	if e.Transport == nil {
		return nil
	}
	return &http.Client{Transport: e.Transport}
}

// LoadConfig loads the effective configuration (the file at path, or
// VPCONNECT_CONFIG, or the default, under IT policy) and makes the data
// dir. Policy problems are returned, not fatal: the agent reports them and
// runs with the rest (docs/behaviour.md §5.4). An incomplete configuration is not an
// error here: the agent starts Not Configured and says what is missing.
func LoadConfig(path string) (cfg config.Config, dir string, problems []error, err error) {
	l, err := Env{}.load(path)
	return l.cfg, l.dir, l.problems, err
}

// loaded is a configuration as loaded: the file (and its path), the
// policy, the effective configuration and the data dir.
type loaded struct {
	path     string
	file     config.Config
	policy   config.Policy
	cfg      config.Config
	dir      string
	problems []error
}

func (e Env) load(path string) (l loaded, err error) {
	if l.path, err = config.PathFromEnv(path); err != nil {
		return l, err
	}
	if l.file, _, err = config.Load(l.path); err != nil {
		return l, err
	}
	if e.Policy != nil {
		l.policy, l.problems = e.Policy()
	} else {
		l.policy, l.problems = config.LoadPolicy()
	}
	var more []error
	l.cfg, more = l.file.Effective(l.policy)
	l.problems = append(l.problems, more...)
	l.dir, err = config.EnsureDataDir(l.cfg)
	return l, err
}

// Apps are the two sign-in endpoints of the configuration.
func Apps(env Env, cfg config.Config) (auth.MicrosoftApp, auth.VantagepointApp) {
	hc := env.HTTPClient()
	return auth.MicrosoftApp{ClientID: cfg.Microsoft.ClientID, Tenant: cfg.Microsoft.Tenant,
			AuthorityURL: cfg.Microsoft.AuthorityURL, HTTPClient: hc},
		auth.VantagepointApp{APIURL: cfg.Vantagepoint.APIURL, Database: cfg.Vantagepoint.Database,
			ClientID: cfg.Vantagepoint.ClientID, ClientSecret: cfg.Vantagepoint.ClientSecret, HTTPClient: hc,
			// Only the administrator's policy may let the password be kept
			// (docs/behaviour.md §6); otherwise it is used once and forgotten.
			KeepPassword: cfg.PasswordKept()}
}

// Store is the keychain store of the configuration's sign-ins.
func Store(env Env, cfg config.Config, dir string) *auth.Store {
	return auth.NewStore(env.keychain(cfg.KeychainService), dir)
}

// Mailbox is the Graph client over ms; its transport lets the token source
// see 401s.
func Mailbox(env Env, cfg config.Config, ms *auth.TokenSource, log *slog.Logger) (*graph.Client, error) {
	c, err := graph.New(graph.Options{GraphURL: cfg.Microsoft.GraphURL, TokenSource: ms,
		HTTPClient: &http.Client{Transport: ms.Transport(env.Transport)}, Logger: log})
	if err != nil {
		return nil, fmt.Errorf("set up the Graph client: %w", err)
	}
	return c, nil
}

// Vantagepoint is a Vantagepoint client over vp; its transport lets the
// token source see 401s.
func Vantagepoint(env Env, cfg config.Config, vp *auth.TokenSource, log *slog.Logger) (*vantagepoint.Client, error) {
	c, err := vantagepoint.New(vantagepoint.Options{APIURL: cfg.Vantagepoint.APIURL, ZoneFile: cfg.ZoneFile(), PageCapFile: cfg.PageCapFile(), TokenSource: vp,
		HTTPClient: &http.Client{Transport: vp.Transport(env.Transport), Timeout: 60 * time.Second}, Logger: log})
	if err != nil {
		return nil, fmt.Errorf("set up the Vantagepoint client: %w", err)
	}
	return c, nil
}

// initialize is activation's last step (docs/behaviour.md §4.5): the mailbox
// initialized for the employee, with the state store in dir.
func initialize(ctx context.Context, env Env, cfg config.Config, dir string, mailbox syncer.Mailbox, vp syncer.Vantagepoint, emp syncer.Employee, reinitialize bool) error {
	db, err := store.Open(filepath.Join(dir, StateFile))
	if err != nil {
		return fmt.Errorf("open the sync state: %w", err)
	}
	defer db.Close()
	err = syncer.New(mailbox, vp, db, engineOptions(env, cfg, emp.ID)).InitializeMailbox(ctx, reinitialize)
	if errors.Is(err, syncer.ErrForeignCustomization) {
		return fmt.Errorf("%w\nRun 'vpconnect activate --reinitialize' to link it to you instead", err)
	}
	return err
}

func engineOptions(env Env, cfg config.Config, employee string) syncer.Options {
	o := agent.EngineOptions(cfg, employee, env.logger())
	if env.Clock != nil {
		o.Now = env.Clock.Now
	}
	return o
}

// System is a built agent: its parts, and what closes them.
type System struct {
	Config  config.Config
	DataDir string
	Agent   *agent.Agent
	API     *localapi.Server
	// Engine and Runner are nil until activated; Store with them.
	Engine *syncer.Engine
	Runner *agent.Runner
	Store  *store.Store

	hooks      agent.Hooks
	stateFiles []string
	parts      map[string]bool
	closes     []func() error
	once       sync.Once
}

// Build builds the agent and its loopback API from the configuration and
// the stored sign-ins. Without them the agent is Not Configured; nothing
// here talks to a service (the token sources refresh on first use).
// problems are the policy problems LoadConfig found. The caller must Close
// the system.
func Build(ctx context.Context, env Env, cfg config.Config, dir string, problems []error) (s *System, err error) {
	return buildSystem(ctx, env, cfg, dir, problems, nil)
}

// buildSystem is Build; a non-nil api is the loopback API of the agent built
// before this one (Serve), which then serves this one.
func buildSystem(ctx context.Context, env Env, cfg config.Config, dir string, problems []error, api *localapi.Server) (s *System, err error) {
	log := env.logger()
	s = &System{Config: cfg, DataDir: dir, parts: map[string]bool{}}
	defer func() {
		if err != nil {
			s.Close()
			s = nil
		}
	}()
	opts := agent.Options{Config: cfg, PolicyErrors: problems, DataDir: dir, Logger: log,
		Clock: env.Clock, Rand: env.Rand, Schedule: env.Schedule, LeaseSettle: env.LeaseSettle,
		Idle: env.Idle, NetworkChanged: env.NetworkChanged,
		// Not the local API secret: the agent keeps serving after a
		// deactivation, and without the file the CLI and the tray could no
		// longer find it (they would say it is not running, and 'vpconnect
		// run' would start a second one).
		StateFiles: []string{filepath.Join(dir, StateFile)},
		Rejected:   map[string]string{}}
	if opts.Idle == nil {
		// The detector connects to the session bus only when first asked.
		idle := sysmon.NewIdleDetector()
		s.closes = append(s.closes, idle.Close)
		opts.Idle = idle.Idle
	}
	if opts.NetworkChanged == nil {
		opts.NetworkChanged = sysmon.NetworkWatcher{}.Watch
	}
	s.part("idle", opts.Idle != nil)
	s.part("network", opts.NetworkChanged != nil)
	// Until activated, Delete is refused as "not activated" (exit 3, as
	// without a running agent), not as an action this agent lacks.
	opts.Hooks.Uninitialize = func(context.Context) error { return agent.ErrNotConfigured }
	var directory localapi.Directory
	if len(cfg.Incomplete()) == 0 {
		if directory, err = s.activated(ctx, env, &opts); err != nil {
			return s, err
		}
	}
	s.hooks, s.stateFiles = opts.Hooks, opts.StateFiles
	if s.Agent, err = agent.New(opts); err != nil {
		return s, err
	}
	if api != nil {
		s.API = api
		api.SetBackend(s.Agent, directory)
		s.part("localapi", true)
		return s, nil
	}
	s.API, err = localapi.New(localapi.Options{Backend: s.Agent, Directory: directory, Port: cfg.LocalAPI.Port,
		AllowedOrigins: cfg.LocalAPI.AllowedOrigins, AutoApproveOrigins: cfg.LocalAPI.AutoApproveOrigins,
		DataDir: dir, Logger: log})
	s.part("localapi", err == nil)
	return s, err
}

// activated fills in what an activation brings: the stored sign-ins, the
// clients, the engine and the hooks. Not signed in leaves opts as they are
// (Not Configured).
func (s *System) activated(ctx context.Context, env Env, opts *agent.Options) (localapi.Directory, error) {
	cfg, dir, log := s.Config, s.DataDir, opts.Logger
	st := Store(env, cfg, dir)
	s.part("keychain", true)
	msRec, msErr := st.Load(ctx, auth.Microsoft)
	vpRec, vpErr := st.Load(ctx, auth.Vantagepoint)
	for _, e := range []error{msErr, vpErr} {
		if e != nil && !errors.Is(e, auth.ErrNotFound) && !errors.Is(e, auth.ErrDamaged) {
			return nil, fmt.Errorf("read the sign-ins: %w", e)
		}
	}
	if errors.Is(msErr, auth.ErrNotFound) || errors.Is(vpErr, auth.ErrNotFound) {
		return nil, nil // not activated
	}
	if msErr != nil {
		opts.Rejected[auth.Microsoft] = "the stored sign-in is damaged"
	}
	if vpErr != nil {
		opts.Rejected[auth.Vantagepoint] = "the stored sign-in is damaged"
	}
	opts.Accounts = agent.Accounts{
		Microsoft:    agent.MicrosoftAccount{User: msRec.User},
		Vantagepoint: agent.VantagepointAccount{URL: cfg.Vantagepoint.APIURL, Database: cfg.Vantagepoint.Database, Employee: vpRec.Employee},
	}
	msApp, vpApp := Apps(env, cfg)
	msTS, vpTS := msApp.TokenSource(ctx, st, nil), vpApp.TokenSource(ctx, st, nil)
	mailbox, err := Mailbox(env, cfg, msTS, log)
	if err != nil {
		return nil, err
	}
	vpc, err := Vantagepoint(env, cfg, vpTS, log)
	if err != nil {
		return nil, err
	}
	s.part("graph", true)
	s.part("vantagepoint", true)
	dbPath := filepath.Join(dir, StateFile)
	db, err := store.Open(dbPath)
	if errors.Is(err, store.ErrCorrupt) {
		log.Warn("the state database is corrupt; starting a fresh one (items are re-paired by natural keys)")
		db, err = store.Recreate(dbPath)
	}
	if err != nil {
		return nil, fmt.Errorf("open the sync state: %w", err)
	}
	s.Store = db
	s.closes = append(s.closes, db.Close)
	s.part("store", true)
	eng := syncer.New(mailbox, vpc, db, engineOptions(env, cfg, vpRec.Employee))
	initialized, err := eng.Initialized(ctx)
	if err != nil {
		return nil, fmt.Errorf("read the sync state: %w", err)
	}
	if !initialized {
		log.Warn("the sync state does not know the mailbox: the first batch takes it up again")
	}
	s.Engine, s.Runner = eng, agent.NewRunner(eng, msTS, vpTS, !initialized)
	s.part("engine", true)
	opts.MailboxStatus = syncer.MailboxInitialized
	var batches agent.Syncer = s.Runner
	if env.Batches != nil {
		batches = env.Batches(batches)
	}
	opts.Syncer, opts.Tracker, opts.History = batches, eng, agent.StoreHistory(db)
	opts.Hooks.TranslateIDs = mailbox.TranslateIDs
	opts.Hooks.Uninitialize = eng.Deactivate
	opts.Hooks.ConfirmDeletes = eng.ConfirmDeletes
	opts.Hooks.RefuseDeletes = eng.RefuseDeletes
	opts.Hooks.CloseState = db.Close
	opts.Hooks.ForgetTokens = func(ctx context.Context) error {
		return errors.Join(st.Delete(ctx, auth.Microsoft), st.Delete(ctx, auth.Vantagepoint))
	}
	opts.Hooks.Reauthorize = func(ctx context.Context, account string, cred agent.Credentials) error {
		if cred.Username != "" && cred.Password == "" {
			ts := msTS
			if account == auth.Vantagepoint {
				ts = vpTS
			}
			return auth.Adopt(ctx, st, ts, cred.Username)
		}
		_, err := auth.Reauthorization{Store: st, Account: account, Microsoft: msApp, Vantagepoint: vpApp,
			// No device code: nobody reads its instructions in a
			// running agent; a session without a browser says so.
			SignIn: auth.SignInOptions{Browser: env.Browser, NoDeviceCode: true},
			Credentials: func(known string) (string, string, error) {
				if cred.Username != "" {
					known = cred.Username
				}
				return known, cred.Password, nil
			}}.Run(ctx)
		if err != nil {
			return err
		}
		if account == auth.Microsoft {
			msTS.Reset()
		} else {
			vpTS.Reset()
		}
		return nil
	}
	s.part("translateIDs", true)
	s.part("reauthorize", true)
	// Administration in Vantagepoint (docs/behaviour.md §5.5): the agent's record and
	// the administrator's switches, over a Vantagepoint client of its own
	// (same sign-in), so that the engine's per-batch request counts stay
	// the batch's. The clock is read when asked.
	adminClient, err := Vantagepoint(env, cfg, vpTS, log)
	if err != nil {
		return nil, fmt.Errorf("the administration hubs: %w", err)
	}
	machine := env.Hostname
	if machine == "" {
		machine, _ = os.Hostname()
	}
	// One agent per mailbox (docs/behaviour.md §5.5): the lease on the marked folder.
	opts.Lease, opts.Computer = eng, machine
	s.part("lease", true)
	opts.Admin = admin.NewHubs(admin.Options{Client: adminClient, AgentsHub: cfg.Admin.AgentsHub, GroupsHub: cfg.Admin.GroupsHub,
		Group: cfg.Admin.Group, Employee: vpRec.Employee, User: vpRec.Username, Machine: machine, Version: agent.Version, Now: env.now,
		StateFile: filepath.Join(dir, AdminSwitchesFile), Log: log})
	s.part("admin", true)
	s.part("directory", true)
	return localapi.CachedDirectory(Directory(vpc), time.Minute, nil), nil
}

func (s *System) part(name string, ok bool) {
	if ok {
		s.parts[name] = true
	}
}

// Parts names the parts this system was built with (its tests compare the
// product's, the demo's and the bench's).
func (s *System) Parts() []string {
	var names []string
	for n := range s.parts {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// Run listens on the loopback port before anything slow (docs/behaviour.md §7: the API
// answers within 500 ms of the start), calls listening, then serves the API
// and runs the agent until ctx ends or the agent asks to be built again
// (agent.ErrRestart).
func (s *System) Run(ctx context.Context, listening func(*System)) error {
	if err := s.API.Listen(); err != nil {
		return err
	}
	if listening != nil {
		listening(s)
	}
	srvCtx, stopServer := context.WithCancel(ctx)
	defer stopServer()
	done := make(chan error, 1)
	go func() { done <- s.API.Serve(srvCtx) }()
	err := s.Agent.Run(ctx)
	stopServer()
	return errors.Join(err, <-done)
}

// SyncOnce runs one batch without running the agent ('vpconnect sync
// --once' when no agent runs), refused as the agent would refuse it: not
// activated (agent.ErrNotConfigured), disabled by the administrator.
func (s *System) SyncOnce(ctx context.Context) (store.Batch, error) {
	switch st := s.Agent.Status(); {
	case st.State == agent.StateNotConfigured:
		return store.Batch{}, fmt.Errorf("%w: %s", agent.ErrNotConfigured, st.Reason)
	case st.State == agent.StateDisabled:
		return store.Batch{}, errors.New(st.Reason)
	}
	return s.Runner.Run(ctx, syncer.TriggerManual)
}

// Deactivate is Delete (force: Force Delete) without a running agent: the
// mailbox cleaned unless forced, then the state store closed, the state
// files removed and the sign-ins deleted. Not activated is
// agent.ErrNotConfigured, unless forced.
func (s *System) Deactivate(ctx context.Context, force bool) error {
	if s.Engine == nil && !force {
		return agent.ErrNotConfigured
	}
	if !force {
		if err := s.Engine.Deactivate(ctx); err != nil {
			return fmt.Errorf("remove vpconnect's data from the mailbox: %w (when the mailbox cannot be reached, use Force Delete: --force)", err)
		}
	}
	return agent.ForgetLocal(ctx, s.hooks, s.stateFiles)
}

// Close closes the state store and the session detector.
func (s *System) Close() error {
	var err error
	s.once.Do(func() {
		for i := len(s.closes) - 1; i >= 0; i-- {
			err = errors.Join(err, s.closes[i]())
		}
	})
	return err
}
