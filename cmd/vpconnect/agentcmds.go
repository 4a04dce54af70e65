package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"sort"
	"strings"
	"sync"
	"time"

	"vpconnect/agent"
	"vpconnect/agent/config"
	"vpconnect/agent/localapi"
	"vpconnect/auth"
	"vpconnect/syncer"
	"vpconnect/syncer/store"
)

func init() {
	register("run", command{synopsis: "run [--headless]", order: 1,
		help: "the agent, its loopback API and the tray icon (--headless: no tray)", run: runAgent})
	register("status", command{synopsis: "status [--json]", order: 20, help: "the agent's state, accounts and last batch", run: runStatus})
	register("sync", command{synopsis: "sync [--once] [--json]", order: 21, help: "one batch now (through the running agent, or standalone with --once)", run: runSync})
	register("pause", command{synopsis: "pause", order: 22, help: "pause synchronization", run: runPauseResume(true)})
	register("resume", command{synopsis: "resume", order: 23, help: "resume synchronization (also after a suspension)", run: runPauseResume(false)})
	register("deactivate", command{synopsis: "deactivate [--force]", order: 24,
		help: "Delete: clean the mailbox and forget the sign-ins; --force: forget locally only", run: runDeactivate})
	register("options", command{synopsis: "options", order: 25, help: "open the Sync Options page in the browser", run: runOptions})
}

// cliEnv is what the agent commands take from outside; tests replace it.
var cliEnv = struct {
	openBrowser func(ctx context.Context, url string) error
	// agentOptions, when set, adjusts the options of the agent that
	// 'vpconnect run' builds, before it is built (tests give it a fake
	// clock). nil in the product.
	agentOptions func(*agent.Options)
}{openBrowser: auth.OpenSystemBrowser}

func runAgent(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlags("run", stderr)
	headless := fs.Bool("headless", false, "no tray icon (also what happens without a graphical session)")
	if err := parse(fs, args, 0); err != nil {
		return err
	}
	cfg, dir, problems, err := agentConfig()
	if err != nil {
		return err
	}
	log, closer, err := agent.OpenLog(dir, slog.LevelInfo)
	if err != nil {
		return err
	}
	defer closer.Close()
	for _, p := range problems {
		log.Warn("policy value ignored", "err", p)
	}
	serve := func(ctx context.Context) error {
		for {
			err := serveAgent(ctx, cfg, dir, problems, log, stderr)
			if !errors.Is(err, agent.ErrRestart) {
				return err
			}
			// Another process activated (or re-activated) this user:
			// build the agent again from what it stored.
			if cfg, dir, problems, err = agentConfig(); err != nil {
				return err
			}
		}
	}
	if *headless {
		return serve(ctx)
	}
	return runWithTray(ctx, "run", serve, dialAgent, stderr, log)
}

// serveAgent builds the agent and its local API from the configuration and
// the stored sign-ins, and runs them until ctx ends or the agent asks to be
// built again (agent.ErrRestart).
func serveAgent(ctx context.Context, cfg config.Config, dir string, problems []error, log *slog.Logger, stderr io.Writer) error {
	w, err := wireAgent(ctx, cfg, dir, problems, log)
	if err != nil {
		return err
	}
	defer w.close()
	if cliEnv.agentOptions != nil {
		cliEnv.agentOptions(&w.opts)
	}
	a, err := agent.New(w.opts)
	if err != nil {
		return err
	}
	srv, err := localapi.New(localapi.Options{Backend: a, Directory: w.directory, Port: cfg.LocalAPI.Port,
		AllowedOrigins: cfg.LocalAPI.AllowedOrigins, AutoApproveOrigins: cfg.LocalAPI.AutoApproveOrigins, DataDir: dir, Logger: log})
	if err != nil {
		return err
	}
	// Listen before anything slow, so the API answers within SPEC §7's
	// 500 ms of the start.
	if err := srv.Listen(); err != nil {
		return err
	}
	fmt.Fprintf(stderr, "vpconnect agent %s: %s, API on %s (logs in %s); 'vpconnect options' opens Sync Options\n",
		agent.Version, a.Status().State, srv.BaseURL(), dir)
	srvCtx, stopServer := context.WithCancel(ctx)
	defer stopServer()
	var wg sync.WaitGroup
	var srvErr error
	wg.Add(1)
	go func() { defer wg.Done(); srvErr = srv.Serve(srvCtx) }()
	err = a.Run(ctx)
	stopServer()
	wg.Wait()
	return errors.Join(err, srvErr)
}

// dialAgent finds this user's running agent.
func dialAgent(ctx context.Context) (*localapi.Client, error) {
	cfg, dir, _, err := agentConfig()
	if err != nil {
		return nil, err
	}
	return localapi.Dial(ctx, dir, cfg.LocalAPI.Port)
}

// tellAgentSignedIn tells this user's running agent, if any, that account
// was signed in again as user by this process, so that it takes the new
// sign-in up and lifts a suspension at once (SPEC §3: "until the user
// re-authorizes"). Without it the agent would keep refusing to sync until
// it restarts. No running agent is not an error.
func tellAgentSignedIn(ctx context.Context, account, user string) error {
	c, err := dialAgent(ctx)
	if errors.Is(err, localapi.ErrNoAgent) {
		return nil
	} else if err != nil {
		return err
	}
	_, err = c.Reauthorize(ctx, account, agent.Credentials{Username: user})
	return agentError(err)
}

// restartAgent asks this user's running agent, if any, to build itself
// again from the stored configuration and sign-ins (localapi.ErrNoAgent when
// none runs).
func restartAgent(ctx context.Context) error {
	c, err := dialAgent(ctx)
	if err != nil {
		return err
	}
	return agentError(c.Restart(ctx))
}

// standalone builds an agent without running it, for the commands that work
// when no agent runs.
func standalone(ctx context.Context) (*wiring, *agent.Agent, error) {
	cfg, dir, problems, err := agentConfig()
	if err != nil {
		return nil, nil, err
	}
	w, err := wireAgent(ctx, cfg, dir, problems, slog.New(slog.DiscardHandler))
	if err != nil {
		return nil, nil, err
	}
	a, err := agent.New(w.opts)
	if err != nil {
		w.close()
		return nil, nil, err
	}
	return w, a, nil
}

func runStatus(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlags("status", stderr)
	asJSON := fs.Bool("json", false, "print the status object of SPEC §5.1")
	if err := parse(fs, args, 0); err != nil {
		return err
	}
	var st agent.Status
	running := true
	c, err := dialAgent(ctx)
	if err == nil {
		st, err = c.Status(ctx)
	}
	if errors.Is(err, localapi.ErrNoAgent) {
		running = false
		w, a, err2 := standalone(ctx)
		if err2 != nil {
			return err2
		}
		st = a.Status()
		w.close()
	} else if err != nil {
		return err
	}
	if *asJSON {
		return json.NewEncoder(stdout).Encode(st)
	}
	printStatus(stdout, st, running)
	return nil
}

func printStatus(w io.Writer, s agent.Status, running bool) {
	fmt.Fprintf(w, "State:            %s\n", s.State)
	if s.Reason != "" {
		fmt.Fprintf(w, "                  %s\n", s.Reason)
	}
	if !running {
		fmt.Fprintln(w, "Agent:            not running (start it with 'vpconnect run')")
	}
	fmt.Fprintf(w, "Mailbox:          %s\n", s.MailboxStatus)
	fmt.Fprintf(w, "Synchronization:  %s\n", s.SyncStatus)
	conn := func(c bool, need bool) string {
		switch {
		case need:
			return "sign-in needed"
		case c:
			return "connected"
		}
		return "not connected"
	}
	ms, vp := s.Accounts.Microsoft, s.Accounts.Vantagepoint
	fmt.Fprintf(w, "Microsoft 365:    %s (%s)\n", dash(ms.User), conn(ms.Connected, ms.SignInNeeded))
	fmt.Fprintf(w, "Vantagepoint:     %s, database %s, employee %s (%s)\n", dash(vp.URL), dash(vp.Database), dash(vp.Employee), conn(vp.Connected, vp.SignInNeeded))
	if b := s.LastBatch; b != nil {
		fmt.Fprintf(w, "Last batch:       %d (%s) %s at %s\n", b.ID, b.Trigger, b.Outcome, b.Finished.Local().Format(time.DateTime))
	} else {
		fmt.Fprintln(w, "Last batch:       none yet")
	}
	if s.NextBatchAt != nil {
		fmt.Fprintf(w, "Next batch:       %s\n", s.NextBatchAt.Local().Format(time.DateTime))
	}
	if n := len(s.OpenIssues); n > 0 {
		fmt.Fprintf(w, "Open issues:      %d (see 'vpconnect options')\n", n)
	}
	for _, p := range s.PolicyErrors {
		fmt.Fprintf(w, "Policy ignored:   %s\n", p)
	}
	if a := s.Admin; a != nil {
		// The administration in Vantagepoint (SPEC §5.5), for whoever
		// wonders why sync stopped, or why IT's dashboard lacks them.
		switch {
		case len(a.MissingHubs) > 0:
			fmt.Fprintf(w, "Administration:   not set up in Vantagepoint (missing %s; see 'vpconnect admin check')\n", strings.Join(a.MissingHubs, ", "))
		case a.Error != "":
			fmt.Fprintf(w, "Administration:   not reachable: %s\n", a.Error)
		case a.Switch != "":
			line := "switch " + a.Switch
			if a.LastReport != nil {
				line += ", reported " + a.LastReport.Local().Format(time.DateTime)
			}
			fmt.Fprintf(w, "Administration:   %s\n", line)
		}
	}
	if p := s.Pacing; p != nil {
		fmt.Fprintf(w, "Polls:            Vantagepoint every %s (%s)\n", time.Duration(p.Interval), p.Reason)
	}
}

func dash(s string) string {
	if s == "" {
		return "—"
	}
	return s
}

func runSync(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlags("sync", stderr)
	once := fs.Bool("once", false, "run one batch in this process when no agent runs")
	asJSON := fs.Bool("json", false, "print the batch as the JSON object of SPEC §5.1")
	if err := parse(fs, args, 0); err != nil {
		return err
	}
	var b *store.Batch
	var runErr error
	c, err := dialAgent(ctx)
	switch {
	case err == nil:
		a, err := c.Sync(ctx, true)
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
		w, a, err := standalone(ctx)
		if err != nil {
			return err
		}
		defer w.close()
		if st := a.Status(); st.State == agent.StateNotConfigured || st.State == agent.StateDisabled {
			if st.State == agent.StateNotConfigured {
				return needSignIn{errors.New(st.Reason)}
			}
			return errors.New(st.Reason)
		}
		batch, err := w.runner.Run(ctx, syncer.TriggerManual)
		if batch.ID != 0 {
			b = &batch
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
			printBatch(stdout, *b)
		}
	}
	return runErr
}

func printBatch(w io.Writer, b store.Batch) {
	fmt.Fprintf(w, "batch %d (%s) %s in %s\n", b.ID, b.Trigger, b.Outcome, b.Finished.Sub(b.Started).Round(time.Millisecond))
	types := make([]string, 0, len(b.Counts))
	for t := range b.Counts {
		types = append(types, t)
	}
	sort.Strings(types)
	for _, t := range types {
		c := b.Counts[t]
		fmt.Fprintf(w, "  %-8s scanned %d, created %d, updated %d, deleted %d, unlinked %d, skipped %d, failed %d\n",
			t, c.Scanned, c.Created, c.Updated, c.Deleted, c.Unlinked, c.Skipped, c.Failed)
	}
	for _, i := range b.Issues {
		fmt.Fprintf(w, "  issue: %s (%s) %s: %s\n", i.Item, i.Side, i.Type, i.Reason)
	}
	if b.Error != "" {
		fmt.Fprintf(w, "  error: %s\n", b.Error)
	}
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

func runPauseResume(pause bool) func(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	name := "resume"
	if pause {
		name = "pause"
	}
	return func(ctx context.Context, args []string, stdout, stderr io.Writer) error {
		fs := newFlags(name, stderr)
		if err := parse(fs, args, 0); err != nil {
			return err
		}
		c, err := dialAgent(ctx)
		if errors.Is(err, localapi.ErrNoAgent) {
			return fmt.Errorf("%w; start it with 'vpconnect run'", err)
		} else if err != nil {
			return err
		}
		var st agent.Status
		if pause {
			st, err = c.Pause(ctx)
		} else {
			st, err = c.Resume(ctx)
		}
		if err != nil {
			return agentError(err)
		}
		fmt.Fprintf(stdout, "State: %s\n", st.State)
		return nil
	}
}

func runDeactivate(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlags("deactivate", stderr)
	force := fs.Bool("force", false, "Force Delete: forget the sign-ins and local state without touching the mailbox")
	if err := parse(fs, args, 0); err != nil {
		return err
	}
	c, err := dialAgent(ctx)
	switch {
	case err == nil:
		if _, err := c.Deactivate(ctx, *force); err != nil {
			return agentError(err)
		}
	case errors.Is(err, localapi.ErrNoAgent):
		w, _, err := standalone(ctx)
		if err != nil {
			return err
		}
		if w.engine == nil && !*force {
			w.close()
			return needSignIn{errors.New("vpconnect is not activated on this computer")}
		}
		if !*force {
			if err := w.engine.Deactivate(ctx); err != nil {
				w.close()
				return fmt.Errorf("remove vpconnect's data from the mailbox: %w (when the mailbox cannot be reached, use --force)", err)
			}
		}
		if err := agent.ForgetLocal(ctx, w.opts.Hooks, w.opts.StateFiles); err != nil {
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

func runOptions(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlags("options", stderr)
	if err := parse(fs, args, 0); err != nil {
		return err
	}
	c, err := dialAgent(ctx)
	if errors.Is(err, localapi.ErrNoAgent) {
		return fmt.Errorf("%w; start it with 'vpconnect run'", err)
	} else if err != nil {
		return err
	}
	u, err := c.OpenURL(ctx)
	if err != nil {
		return agentError(err)
	}
	fmt.Fprintf(stdout, "Sync Options: %s\n", u)
	if err := openPage(ctx, u); err != nil {
		fmt.Fprintln(stderr, "Open that address in your browser (it works once, for 2 minutes).")
	}
	return nil
}

// openPage opens a one-time address of the Sync Options page in the
// browser through a launcher file in the data directory, never on the
// browser's command line, where other users of the computer could read it
// (localapi.WriteLauncher).
func openPage(ctx context.Context, pageURL string) error {
	_, dir, _, err := agentConfig()
	if err != nil {
		return err
	}
	f, err := localapi.WriteLauncher(dir, pageURL)
	if err != nil {
		return err
	}
	return cliEnv.openBrowser(ctx, f)
}
