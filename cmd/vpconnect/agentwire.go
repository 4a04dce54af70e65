package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"path/filepath"
	"strings"
	"time"

	"vpconnect/agent"
	"vpconnect/agent/config"
	"vpconnect/agent/localapi"
	"vpconnect/agent/sysmon"
	"vpconnect/auth"
	"vpconnect/syncer"
	"vpconnect/syncer/store"
	"vpconnect/syncer/vantagepoint"
)

// agentConfig loads the effective configuration (file + policy) for the
// agent commands. Unlike sign-in, an incomplete configuration is not an
// error: the agent starts Not Configured and says what is missing.
func agentConfig() (config.Config, string, []error, error) {
	path, err := config.PathFromEnv(globalConfigPath)
	if err != nil {
		return config.Config{}, "", nil, err
	}
	file, _, err := config.Load(path)
	if err != nil {
		return config.Config{}, "", nil, err
	}
	pol, problems := config.LoadPolicy()
	cfg, more := file.Effective(pol)
	problems = append(problems, more...)
	dir, err := config.EnsureDataDir(cfg)
	if err != nil {
		return cfg, "", problems, err
	}
	return cfg, dir, problems, nil
}

// idTranslator is Graph's translateExchangeIds on the mailbox client
// (syncer/graph), found by its method so this file does not import the
// Graph SDK's package.
type idTranslator interface {
	TranslateIDs(ctx context.Context, ids []string, sourceType string) (map[string]string, error)
}

// wiring is the agent's dependencies built from the configuration and the
// stored sign-ins.
type wiring struct {
	opts      agent.Options
	directory localapi.Directory
	engine    *syncer.Engine
	// runner runs the engine's batches for the agent and for 'sync --once'.
	runner *engineRunner
	close  func()
}

// engineRunner runs the engine's batches. The service clients report every
// 401 as syncer.ErrAuthRejected, but SPEC §3 suspends sync only on a
// definitive rejection: a refused refresh (invalid_grant), a refused
// password, or a 401 to a token that was just refreshed. A first 401 only
// made the token source drop its access token (Graph and Vantagepoint may
// end an access token early). So a batch that fails so is confirmed: the
// token sources refresh, and a refusal there is the rejection, with its
// reason; when they get fresh tokens the batch runs once more, and a 401
// then is the "401 after refresh" the token source itself turns into a
// rejection.
type engineRunner struct {
	*syncer.Engine
	ms, vp *auth.TokenSource
	// takeUp: the sign-ins are here but the state does not know the
	// mailbox (see wireAgent); the next batch takes it up first. Batches
	// run one at a time, so only the running one touches it.
	takeUp bool
}

func (r *engineRunner) Run(ctx context.Context, trigger syncer.Trigger) (store.Batch, error) {
	if r.takeUp {
		// The mailbox is initialized again without "re-initialize": one
		// linked to another user or database is refused, with the way
		// out in the message.
		if err := r.Engine.InitializeMailbox(ctx, false); err != nil {
			if errors.Is(err, syncer.ErrForeignCustomization) {
				err = fmt.Errorf("%w; run 'vpconnect activate --reinitialize' to link it to you", err)
			}
			return store.Batch{}, fmt.Errorf("take the mailbox up again (the sync state did not know it): %w", err)
		}
		r.takeUp = false
	}
	b, err := r.Engine.Run(ctx, trigger)
	if !r.unconfirmed(err) {
		return b, err
	}
	for _, ts := range []*auth.TokenSource{r.ms, r.vp} {
		if _, terr := ts.TokenContext(ctx); terr != nil {
			if errors.Is(terr, syncer.ErrAuthRejected) {
				return b, errors.Join(err, terr)
			}
			return b, err // not reachable now: the agent retries later
		}
	}
	b, err = r.Engine.Run(ctx, trigger)
	if r.unconfirmed(err) {
		// Refused again: name the account that the token source gave up on.
		err = errors.Join(err, r.ms.Err(), r.vp.Err())
	}
	return b, err
}

// unconfirmed reports a rejection by a service that no token source has
// confirmed yet.
func (r *engineRunner) unconfirmed(err error) bool {
	var sr *auth.SignInRequiredError
	return err != nil && errors.Is(err, syncer.ErrAuthRejected) && !errors.As(err, &sr)
}

// wireAgent builds the engine and the agent's hooks from the stored
// sign-ins. Without them the agent is Not Configured; nothing here talks to
// a service (the token sources refresh on first use).
func wireAgent(ctx context.Context, cfg config.Config, dir string, problems []error, log *slog.Logger) (*wiring, error) {
	// What the operating system says about the session and the network
	// (SPEC §4.6); the detector connects to the bus only when first asked.
	idle := sysmon.NewIdleDetector()
	w := &wiring{close: func() { idle.Close() }}
	w.opts = agent.Options{Config: cfg, PolicyErrors: problems, DataDir: dir, Logger: log,
		Idle: idle.Idle, NetworkChanged: sysmon.NetworkWatcher{}.Watch,
		// Not the local API secret: the agent keeps serving after a
		// deactivation, and without the file the CLI and the tray could no
		// longer find it (they would say it is not running, and 'vpconnect
		// run' would start a second one).
		StateFiles: []string{filepath.Join(dir, stateFile)},
		Rejected:   map[string]string{}}
	// Until activated, Delete is refused as "not activated" (exit 3, as
	// without a running agent), not as an action this agent lacks; the
	// agent finds it is not activated before it would call this.
	w.opts.Hooks.Uninitialize = func(context.Context) error { return agent.ErrNotConfigured }
	if len(cfg.Incomplete()) > 0 {
		return w, nil
	}
	st := auth.NewStore(signinEnv.keychain(cfg.KeychainService), dir)
	msRec, msErr := st.Load(ctx, auth.Microsoft)
	vpRec, vpErr := st.Load(ctx, auth.Vantagepoint)
	for _, e := range []error{msErr, vpErr} {
		if e != nil && !errors.Is(e, auth.ErrNotFound) && !errors.Is(e, auth.ErrDamaged) {
			return nil, fmt.Errorf("read the sign-ins: %w", e)
		}
	}
	if errors.Is(msErr, auth.ErrNotFound) || errors.Is(vpErr, auth.ErrNotFound) {
		return w, nil // not activated
	}
	if msErr != nil {
		w.opts.Rejected[auth.Microsoft] = "the stored sign-in is damaged"
	}
	if vpErr != nil {
		w.opts.Rejected[auth.Vantagepoint] = "the stored sign-in is damaged"
	}
	w.opts.Accounts = agent.Accounts{
		Microsoft:    agent.MicrosoftAccount{User: msRec.User},
		Vantagepoint: agent.VantagepointAccount{URL: cfg.Vantagepoint.APIURL, Database: cfg.Vantagepoint.Database, Employee: vpRec.Employee},
	}
	msApp, vpApp := apps(cfg)
	msTS, vpTS := msApp.TokenSource(ctx, st, nil), vpApp.TokenSource(ctx, st, nil)
	mailbox, vpc, err := connect(cfg, log)(ctx, msTS, vpTS)
	if err != nil {
		return nil, err
	}
	dbPath := filepath.Join(dir, stateFile)
	db, err := store.Open(dbPath)
	if errors.Is(err, store.ErrCorrupt) {
		log.Warn("the state database is corrupt; starting a fresh one (items are re-paired by natural keys)")
		db, err = store.Recreate(dbPath)
	}
	if err != nil {
		return nil, fmt.Errorf("open the sync state: %w", err)
	}
	w.close = func() { db.Close(); idle.Close() }
	eng := syncer.New(mailbox, vpc, db, agent.EngineOptions(cfg, vpRec.Employee, log))
	w.engine = eng
	initialized, err := eng.Initialized(ctx)
	if err != nil {
		w.close()
		return nil, fmt.Errorf("read the sync state: %w", err)
	}
	// Signed in, so activated: when the state does not know the mailbox
	// (the state file was deleted, found damaged and recreated, or the
	// activation stopped before its last step), the first batch takes the
	// mailbox up again and pairs every item by its natural key (SPEC §8),
	// instead of asking the user to activate again.
	w.opts.MailboxStatus = syncer.MailboxInitialized
	w.runner = &engineRunner{Engine: eng, ms: msTS, vp: vpTS, takeUp: !initialized}
	if !initialized {
		log.Warn("the sync state does not know the mailbox: the first batch takes it up again")
	}
	w.opts.Syncer, w.opts.Tracker, w.opts.History = w.runner, eng, agent.StoreHistory(db)
	if c, ok := vpc.(*vantagepoint.Client); ok {
		w.directory = localapi.CachedDirectory(localapi.VantagepointDirectory(c), time.Minute, nil)
	}
	if tr, ok := mailbox.(idTranslator); ok {
		w.opts.Hooks.TranslateIDs = tr.TranslateIDs
	}
	w.opts.Hooks.Uninitialize = eng.Deactivate
	w.opts.Hooks.ConfirmDeletes = eng.ConfirmDeletes
	// Administration in Vantagepoint (SPEC §5.5): the agent's record and
	// the administrator's switches, in admincmds.go.
	now := func() time.Time {
		if c := w.opts.Clock; c != nil {
			return c.Now()
		}
		return time.Now()
	}
	if w.opts.Admin, err = adminHubs(cfg, vpTS, vpRec.Employee, now, log); err != nil {
		w.close()
		return nil, err
	}
	w.opts.Hooks.CloseState = db.Close
	w.opts.Hooks.ForgetTokens = func(ctx context.Context) error {
		return errors.Join(st.Delete(ctx, auth.Microsoft), st.Delete(ctx, auth.Vantagepoint))
	}
	w.opts.Hooks.Reauthorize = func(ctx context.Context, account string, cred agent.Credentials) error {
		old, err := st.Load(ctx, account)
		if err != nil && !errors.Is(err, auth.ErrDamaged) {
			return err
		}
		if cred.Username != "" && cred.Password == "" {
			return adoptSignIn(ctx, account, cred.Username, old, err, msTS, vpTS)
		}
		var s auth.Session
		switch account {
		case auth.Microsoft:
			s, err = msApp.SignIn(ctx, auth.SignInOptions{Browser: signinEnv.browser, Out: io.Discard, LoginHint: old.User})
			if err == nil && old.User != "" && !strings.EqualFold(s.Record.User, old.User) {
				return fmt.Errorf("signed in as %s, but this computer is activated for %s", s.Record.User, old.User)
			}
		case auth.Vantagepoint:
			user := cred.Username
			if user == "" {
				user = old.Username
			}
			s, err = vpApp.SignIn(ctx, user, cred.Password)
			if err == nil && old.Username != "" && !strings.EqualFold(s.Record.Username, old.Username) {
				return fmt.Errorf("signed in as %s, but this computer is activated for %s", s.Record.Username, old.Username)
			}
			s.Record.Employee = old.Employee
		}
		if err != nil {
			return err
		}
		if s.Record.User == "" {
			s.Record.User = old.User
		}
		if err := st.Save(ctx, s.Record); err != nil {
			return err
		}
		if account == auth.Microsoft {
			msTS.Reset()
		} else {
			vpTS.Reset()
		}
		return nil
	}
	return w, nil
}

// adoptSignIn is re-authorizing with a user name and no password: another
// process ('vpconnect reauthorize') signed user in again and saved the
// sign-in; the agent takes it up instead of asking again. The stored
// sign-in must be that user's, and its refresh must succeed.
func adoptSignIn(ctx context.Context, account, user string, rec auth.Record, loadErr error, msTS, vpTS *auth.TokenSource) error {
	if loadErr != nil {
		return loadErr
	}
	stored, ts := rec.User, msTS
	if account == auth.Vantagepoint {
		stored, ts = rec.Username, vpTS
	}
	if !strings.EqualFold(stored, user) {
		return fmt.Errorf("the stored sign-in is not %s's: sign in again", user)
	}
	ts.Reset()
	if _, err := ts.TokenContext(ctx); err != nil {
		return fmt.Errorf("the stored sign-in does not work: %w", err)
	}
	return nil
}
