package cli

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"

	"vpconnect/agent"
	"vpconnect/agent/config"
	"vpconnect/agent/localapi"
	"vpconnect/agent/system"
	"vpconnect/syncer"
)

func init() {
	register("run", command{synopsis: "run [--headless]", order: 1,
		help: "the agent, its loopback API and the tray icon (--headless: no tray)", run: (*cli).runAgent})
	register("status", command{synopsis: "status [--json]", order: 20, help: "the agent's state, accounts and last batch", run: (*cli).runStatus})
	register("sync", command{synopsis: "sync [--once] [--json]", order: 21, help: "one batch now (through the running agent, or standalone with --once)", run: (*cli).runSync})
	register("pause", command{synopsis: "pause", order: 22, help: "pause synchronization", run: runPauseResume(true)})
	register("resume", command{synopsis: "resume", order: 23, help: "resume synchronization (also after a suspension)", run: runPauseResume(false)})
	register("deactivate", command{synopsis: "deactivate [--force]", order: 24,
		help: "Delete: clean the mailbox and forget the sign-ins; --force: forget locally only", run: (*cli).runDeactivate})
	register("options", command{synopsis: "options", order: 25, help: "open the Sync Options page in the browser", run: (*cli).runOptions})
}

func (c *cli) runAgent(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := c.newFlags("run", stderr)
	headless := fs.Bool("headless", false, "no tray icon (also what happens without a graphical session)")
	if err := parse(fs, args, 0); err != nil {
		return err
	}
	_, dir, _, err := c.config()
	if err != nil {
		return err
	}
	log, closer, err := agent.OpenLog(dir, slog.LevelInfo)
	if err != nil {
		return err
	}
	defer closer.Close()
	// On Windows, also stop when Windows asks the program to close
	// (taskkill, sign-out, shutdown): closewindow_windows.go.
	ctx, release := stopOnClose(ctx, log)
	defer release()
	env := c.env
	env.Logger = log
	if env.OpenPage == nil {
		// Not activated at start: the activation screen opens by itself
		// (the same launcher file as 'vpconnect options').
		env.OpenPage = func(ctx context.Context, u string) error { return c.openOptionsPage(ctx, dir, u) }
	}
	serve := func(ctx context.Context) error { return c.serveAgent(ctx, env, stderr) }
	if *headless {
		return serve(ctx)
	}
	return c.runWithTray(ctx, "run", serve, c.dialAgent, dir, stderr, log)
}

// serveAgent builds the agent and its local API from the configuration and
// the stored sign-ins, and runs them until ctx ends; an activation (on the
// page, or by another process) builds the agent again behind the same API
// (system.Serve).
func (c *cli) serveAgent(ctx context.Context, env system.Env, stderr io.Writer) error {
	return system.Serve(ctx, env, c.configPath, func(sys *system.System) {
		fmt.Fprintf(stderr, "vpconnect agent %s: %s, API on %s (logs in %s); 'vpconnect options' opens Sync Options\n",
			agent.Version, sys.Agent.Status().State, sys.API.BaseURL(), sys.DataDir)
	})
}

// config is the effective configuration (file + policy) and the data dir.
func (c *cli) config() (config.Config, string, []error, error) {
	return system.LoadConfig(c.configPath)
}

// dialAgent finds this user's running agent.
func (c *cli) dialAgent(ctx context.Context) (*localapi.Client, error) {
	cfg, dir, _, err := c.config()
	if err != nil {
		return nil, err
	}
	return localapi.Dial(ctx, dir, cfg.LocalAPI.Port)
}

// tellAgentSignedIn tells this user's running agent, if any, that account
// was signed in again as user by this process, so that it takes the new
// sign-in up and lifts a suspension at once (docs/behaviour.md §3: "until the user
// re-authorizes"). Without it the agent would keep refusing to sync until
// it restarts. No running agent is not an error.
func (c *cli) tellAgentSignedIn(ctx context.Context, account, user string) error {
	ac, err := c.dialAgent(ctx)
	if errors.Is(err, localapi.ErrNoAgent) {
		return nil
	} else if err != nil {
		return err
	}
	_, err = ac.Reauthorize(ctx, account, agent.Credentials{Username: user})
	return agentError(err)
}

// restartAgent asks this user's running agent, if any, to build itself
// again from the stored configuration and sign-ins (localapi.ErrNoAgent when
// none runs).
func (c *cli) restartAgent(ctx context.Context) error {
	ac, err := c.dialAgent(ctx)
	if err != nil {
		return err
	}
	return agentError(ac.Restart(ctx))
}

// standalone builds the agent without running it, for the commands that
// work when no agent runs. The caller must Close it.
func (c *cli) standalone(ctx context.Context) (*system.System, error) {
	cfg, dir, problems, err := c.config()
	if err != nil {
		return nil, err
	}
	return system.Build(ctx, c.env, cfg, dir, problems)
}

func (c *cli) runStatus(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := c.newFlags("status", stderr)
	asJSON := fs.Bool("json", false, "print the status object of docs/behaviour.md §5.1")
	if err := parse(fs, args, 0); err != nil {
		return err
	}
	var st agent.Status
	running := true
	ac, err := c.dialAgent(ctx)
	if err == nil {
		st, err = ac.Status(ctx)
	}
	if errors.Is(err, localapi.ErrNoAgent) {
		running = false
		sys, err2 := c.standalone(ctx)
		if err2 != nil {
			return err2
		}
		st = sys.Agent.Status()
		sys.Close()
	} else if err != nil {
		return err
	}
	if *asJSON {
		return json.NewEncoder(stdout).Encode(st)
	}
	agent.WriteStatus(stdout, st, running)
	return nil
}

func (c *cli) runSync(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := c.newFlags("sync", stderr)
	once := fs.Bool("once", false, "run one batch in this process when no agent runs")
	asJSON := fs.Bool("json", false, "print the batch as the JSON object of docs/behaviour.md §5.1")
	if err := parse(fs, args, 0); err != nil {
		return err
	}
	var b *agent.Batch
	var runErr error
	ac, err := c.dialAgent(ctx)
	switch {
	case err == nil:
		a, err := ac.Sync(ctx, true)
		if err != nil {
			return agentError(err)
		}
		b = a.Result
		if a.Error != "" {
			runErr = errors.New(a.Error)
			if a.SignInNeeded {
				runErr = needSignIn{runErr}
			}
		}
	case errors.Is(err, localapi.ErrNoAgent) && *once:
		sys, err := c.standalone(ctx)
		if err != nil {
			return err
		}
		defer sys.Close()
		batch, err := sys.SyncOnce(ctx)
		if errors.Is(err, agent.ErrNotConfigured) {
			return needSignIn{err}
		}
		if batch.ID != 0 {
			r := agent.BatchReport(batch)
			b = &r
		}
		runErr = signInError(err)
		if errors.Is(err, syncer.ErrAuthRejected) {
			runErr = needSignIn{err}
		}
	case errors.Is(err, localapi.ErrNoAgent):
		return fmt.Errorf("%w; start it with 'vpconnect run', or use 'vpconnect sync --once'", err)
	default:
		return err
	}
	if b != nil {
		if *asJSON {
			line, _ := json.Marshal(b)
			fmt.Fprintln(stdout, string(line))
		} else {
			agent.WriteBatch(stdout, *b)
		}
	}
	return runErr
}

// agentError turns an API refusal into the command's error.
func agentError(err error) error {
	var ae *localapi.APIError
	if errors.As(err, &ae) && ae.Code == "sign_in_needed" {
		return needSignIn{errors.New(ae.Message)}
	}
	if errors.As(err, &ae) && ae.Code == "not_configured" {
		return needSignIn{errors.New(ae.Message)}
	}
	if errors.As(err, &ae) {
		return errors.New(ae.Message)
	}
	return err
}

func runPauseResume(pause bool) func(c *cli, ctx context.Context, args []string, stdout, stderr io.Writer) error {
	name := "resume"
	if pause {
		name = "pause"
	}
	return func(c *cli, ctx context.Context, args []string, stdout, stderr io.Writer) error {
		fs := c.newFlags(name, stderr)
		if err := parse(fs, args, 0); err != nil {
			return err
		}
		ac, err := c.dialAgent(ctx)
		if errors.Is(err, localapi.ErrNoAgent) {
			return fmt.Errorf("%w; start it with 'vpconnect run'", err)
		} else if err != nil {
			return err
		}
		var st agent.Status
		if pause {
			st, err = ac.Pause(ctx)
		} else {
			st, err = ac.Resume(ctx)
		}
		if err != nil {
			return agentError(err)
		}
		fmt.Fprintf(stdout, "State: %s\n", st.State)
		return nil
	}
}

func (c *cli) runDeactivate(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := c.newFlags("deactivate", stderr)
	force := fs.Bool("force", false, "Force Delete: forget the sign-ins and local state without touching the mailbox")
	if err := parse(fs, args, 0); err != nil {
		return err
	}
	ac, err := c.dialAgent(ctx)
	switch {
	case err == nil:
		if _, err := ac.Deactivate(ctx, *force); err != nil {
			return agentError(err)
		}
	case errors.Is(err, localapi.ErrNoAgent):
		sys, err := c.standalone(ctx)
		if err != nil {
			return err
		}
		defer sys.Close()
		if err := sys.Deactivate(ctx, *force); errors.Is(err, agent.ErrNotConfigured) {
			return needSignIn{err}
		} else if err != nil {
			return err
		}
	default:
		return err
	}
	if *force {
		fmt.Fprintln(stdout, "Force Delete: the sign-ins and local state are forgotten; the mailbox was not touched.")
	} else {
		fmt.Fprintln(stdout, "Deleted: vpconnect's folder, events and categories are gone from the mailbox, and the sign-ins are forgotten.")
	}
	return nil
}

func (c *cli) runOptions(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := c.newFlags("options", stderr)
	if err := parse(fs, args, 0); err != nil {
		return err
	}
	ac, err := c.dialAgent(ctx)
	if errors.Is(err, localapi.ErrNoAgent) {
		return fmt.Errorf("%w; start it with 'vpconnect run'", err)
	} else if err != nil {
		return err
	}
	u, err := ac.OpenURL(ctx)
	if err != nil {
		return agentError(err)
	}
	fmt.Fprintf(stdout, "Sync Options: %s\n", u)
	_, dir, _, err := c.config()
	if err == nil {
		err = c.openOptionsPage(ctx, dir, u)
	}
	if err != nil {
		fmt.Fprintln(stderr, "Open that address in your browser (it works once, for 2 minutes).")
	}
	return nil
}

// openOptionsPage opens a one-time address of the Sync Options page in the
// browser through a launcher file in the data directory, never on the
// browser's command line, where other users of the computer could read it
// (localapi.WriteLauncher).
func (c *cli) openOptionsPage(ctx context.Context, dir, pageURL string) error {
	f, err := localapi.WriteLauncher(dir, pageURL)
	if err != nil {
		return err
	}
	return c.openPage(ctx, f)
}
