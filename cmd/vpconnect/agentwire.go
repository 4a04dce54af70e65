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
	close     func()
}

// wireAgent builds the engine and the agent's hooks from the stored
// sign-ins. Without them the agent is Not Configured; nothing here talks to
// a service (the token sources refresh on first use).
func wireAgent(ctx context.Context, cfg config.Config, dir string, problems []error, log *slog.Logger) (*wiring, error) {
	w := &wiring{close: func() {}}
	w.opts = agent.Options{Config: cfg, PolicyErrors: problems, DataDir: dir, Logger: log,
		StateFiles: []string{filepath.Join(dir, stateFile), filepath.Join(dir, localapi.SecretFile)},
		Rejected:   map[string]string{}}
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
	w.close = func() { db.Close() }
	eng := syncer.New(mailbox, vpc, db, engineOptions(cfg, vpRec.Employee, log))
	w.engine = eng
	initialized, err := eng.Initialized(ctx)
	if err != nil {
		db.Close()
		return nil, fmt.Errorf("read the sync state: %w", err)
	}
	w.opts.MailboxStatus = syncer.MailboxNotInitialized
	if initialized {
		w.opts.MailboxStatus = syncer.MailboxInitialized
	}
	w.opts.Syncer, w.opts.Tracker, w.opts.History = eng, eng, agent.StoreHistory(db)
	if c, ok := vpc.(*vantagepoint.Client); ok {
		w.directory = localapi.CachedDirectory(localapi.VantagepointDirectory(c), time.Minute, nil)
	}
	if tr, ok := mailbox.(idTranslator); ok {
		w.opts.Hooks.TranslateIDs = tr.TranslateIDs
	}
	w.opts.Hooks.Uninitialize = eng.Deactivate
	w.opts.Hooks.ConfirmDeletes = eng.ConfirmDeletes
	w.opts.Hooks.CloseState = db.Close
	w.opts.Hooks.ForgetTokens = func(ctx context.Context) error {
		return errors.Join(st.Delete(ctx, auth.Microsoft), st.Delete(ctx, auth.Vantagepoint))
	}
	w.opts.Hooks.Reauthorize = func(ctx context.Context, account string, cred agent.Credentials) error {
		old, err := st.Load(ctx, account)
		if err != nil && !errors.Is(err, auth.ErrDamaged) {
			return err
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
