package system

import (
	"context"
	"errors"
	"sync/atomic"

	"vpconnect/agent"
	"vpconnect/agent/alerts"
	"vpconnect/agent/localapi"
)

// Serve runs the agent as `vpconnect run` does, until ctx ends: it builds
// the system from what load returns, listens, and runs it. When the agent
// asks to be built again (agent.ErrRestart: an activation, on the page or
// by another process), it is built again from the stored configuration and
// sign-ins, behind the same loopback API, so that the Sync Options page
// that activated it keeps its session and follows the new agent.
//
// An agent that starts not activated opens the Sync Options page at its
// activation screen through env.OpenPage, once per start (the agent starts
// at login; it is not opened again when the employee closed it, and the
// tray's "Activate…" opens it any time).
//
// What only the employee can fix (a refused sign-in, sync suspended,
// deletions held back) is told once per condition as an OS notification
// (package alerts) whose action opens the page that fixes it.
//
// configPath is the configuration file ("" for VPCONNECT_CONFIG or the
// default), read again at every build; the page's option changes are
// saved there.
func Serve(ctx context.Context, env Env, configPath string, listening func(*System)) error {
	flow := newPageFlow(env)
	opts := &optionsKeeper{env: env}
	var api *localapi.Server
	var served chan error
	srvCtx, stopServer := context.WithCancel(ctx)
	// The alerts' memory outlives a build of the agent: a restart does not
	// tell a condition again.
	var told alerts.Memory
	var page atomic.Pointer[localapi.Server]
	// openAt opens Sync Options in the browser at a view ("" for the
	// status; localapi's activation modes), once the API is up.
	openAt := func(view string) error {
		api := page.Load()
		if api == nil || env.OpenPage == nil {
			return nil
		}
		u := api.OpenURL()
		if view != "" {
			u += "&v=" + view
		}
		return env.OpenPage(ctx, u)
	}
	notifier := env.notifier(func(a alerts.Alert) {
		if err := openAt(a.Page); err != nil {
			env.logger().Warn("open the page of a notification", "alert", a.Key, "err", err)
		}
	})
	defer notifier.Close()
	stop := func() error {
		stopServer()
		if served == nil {
			return nil
		}
		err := <-served
		served = nil
		return err
	}
	defer stop()
	for first := true; ; first = false {
		// Read before the configuration is loaded: a change in between is
		// seen by the first check (one restart too many, never one missed).
		policy := env.policyFingerprint()
		l, err := env.load(configPath)
		if err != nil {
			return err
		}
		cfg, dir, problems := l.cfg, l.dir, l.problems
		for _, p := range problems {
			env.logger().Warn("policy value ignored", "err", p)
		}
		// The watch starts before the agent is built (and the API answers
		// for it): whoever sees the new agent may count on its policy
		// being watched.
		var current atomic.Pointer[agent.Agent]
		stopWatch := env.policyWatch(ctx, policy, func() {
			if a := current.Load(); a != nil {
				if err := a.Restart(ctx); err != nil && !errors.Is(err, agent.ErrStopped) {
					env.logger().Warn("restart the agent for the new policy", "err", err)
				}
			}
		})
		sys, err := buildSystem(ctx, env, cfg, dir, problems, api)
		if err != nil {
			stopWatch()
			return err
		}
		current.Store(sys.Agent)
		flow.serve(cfg, dir, sys.Agent)
		opts.serve(l, sys.Agent)
		if api == nil {
			api = sys.API
			flow.changed = api.ActivationChanged
			api.SetActivator(flow)
			api.SetOptioner(opts)
			if err := api.Listen(); err != nil {
				stopWatch()
				sys.Close()
				return err
			}
			page.Store(api)
			served = make(chan error, 1)
			go func() { served <- api.Serve(srvCtx) }()
			if listening != nil {
				listening(sys)
			}
		}
		if first && sys.Agent.Status().State == agent.StateNotConfigured {
			if err := openAt(localapi.ModeActivate); err != nil {
				env.logger().Warn("open the activation page", "err", err)
			}
		}
		statuses, unsubscribe := sys.Agent.Subscribe()
		alertsCtx, stopAlerts := context.WithCancel(ctx)
		alerting := make(chan struct{})
		go func() {
			defer close(alerting)
			alerts.Follow(alertsCtx, statuses, &told, notifier, env.logger())
		}()
		err = sys.Agent.Run(ctx)
		stopAlerts()
		<-alerting
		unsubscribe()
		stopWatch()
		sys.Close()
		if !errors.Is(err, agent.ErrRestart) {
			return errors.Join(err, stop())
		}
		env.logger().Info("building the agent again to take up a new activation or configuration")
	}
}

func (e Env) notifier(open func(alerts.Alert)) alerts.Notifier {
	if e.Notifier != nil {
		return e.Notifier(open)
	}
	return alerts.New(open)
}
