package system

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"sync"

	"vpconnect/agent"
	"vpconnect/agent/config"
	"vpconnect/agent/localapi"
	"vpconnect/auth"
	"vpconnect/internal/fault"
	"vpconnect/syncer"
)

// pageFlow is the Sync Options page's activator (localapi.Activator): the
// activation of `vpconnect activate` (Activation, the same PKCE sign-in in
// the default browser), and the re-authorization of one account, driven by
// the page's buttons and form, followed by the page through State. It
// outlives the agents it serves: after an activation the agent is built
// again (Serve), and the page, its session and this flow stay.
type pageFlow struct {
	env Env

	mu    sync.Mutex
	cfg   config.Config
	dir   string
	agent *agent.Agent
	state localapi.ActivationState
	seq   int64
	// cancel ends the running flow; running says one is under way.
	cancel  context.CancelFunc
	running bool
	// creds carries the form's user name and password to the step that
	// waits for them, once; nil when no step waits.
	creds   chan credentials
	changed func()
}

type credentials struct{ user, password string }

func newPageFlow(env Env) *pageFlow {
	return &pageFlow{env: env, changed: func() {}}
}

// tell tells the page that the state changed (f.seq was counted up with
// the change, under the lock).
func (f *pageFlow) tell() { f.changed() }

// serve points the flow at the agent just built from cfg.
func (f *pageFlow) serve(cfg config.Config, dir string, a *agent.Agent) {
	f.mu.Lock()
	f.cfg, f.dir, f.agent = cfg, dir, a
	f.mu.Unlock()
}

func (f *pageFlow) State() localapi.ActivationState {
	f.mu.Lock()
	defer f.mu.Unlock()
	st := f.state
	st.Seq = f.seq
	if st.Step == localapi.StepIdle {
		st.Missing = f.cfg.Incomplete()
	}
	return st
}

// update changes the state under the lock and tells the page.
func (f *pageFlow) update(fn func(st *localapi.ActivationState)) {
	f.mu.Lock()
	fn(&f.state)
	f.seq++
	f.mu.Unlock()
	f.tell()
}

func (f *pageFlow) Cancel() {
	f.mu.Lock()
	if f.cancel != nil {
		f.cancel()
	}
	f.state = localapi.ActivationState{}
	f.creds = nil
	f.seq++
	f.mu.Unlock()
	f.tell()
}

func (f *pageFlow) Start(ctx context.Context, mode string, reinitialize bool) error {
	f.mu.Lock()
	if f.running && f.state.Step == localapi.StepWorking {
		f.mu.Unlock()
		return localapi.ErrActivationBusy
	}
	if f.cancel != nil {
		// Pressed again while the browser step waits: start over.
		f.cancel()
	}
	cfg, dir, a := f.cfg, f.dir, f.agent
	activated := a != nil && a.Status().State != agent.StateNotConfigured
	if !activated {
		mode = localapi.ModeActivate
	}
	ctx, cancel := context.WithCancel(ctx)
	f.cancel, f.running, f.creds = cancel, true, nil
	f.seq++
	f.state = localapi.ActivationState{Mode: mode, VantagepointURL: cfg.Vantagepoint.APIURL, Database: cfg.Vantagepoint.Database}
	if missing := cfg.Incomplete(); len(missing) > 0 {
		f.state.Step, f.state.Missing = localapi.StepFailed, missing
		f.state.Problem = &localapi.Problem{Code: "not_configured",
			Sentence: "vpconnect is not set up for your organization yet: " + strings.Join(missing, ", ") + " is missing.",
			Next:     "Ask IT to set it (the installer's properties or policy); then open Sync Options again."}
		f.running = false
		f.mu.Unlock()
		f.tell()
		return nil
	}
	switch mode {
	case localapi.ModeActivate:
		f.state.Step = localapi.StepMicrosoft
		f.creds = make(chan credentials, 1)
		go f.activate(ctx, cfg, dir, a, reinitialize, f.creds)
	case localapi.ModeMicrosoft:
		f.state.Step = localapi.StepMicrosoft
		f.state.Microsoft = a.Status().Accounts.Microsoft.User
		go f.reauthorizeMicrosoft(ctx, a)
	case localapi.ModeVantagepoint:
		f.state.Step = localapi.StepVantagepoint
		f.state.Microsoft = a.Status().Accounts.Microsoft.User
		f.creds = make(chan credentials, 1)
		go f.reauthorizeVantagepoint(ctx, a, f.creds)
	default:
		cancel()
		f.running = false
		f.mu.Unlock()
		return fmt.Errorf("%w: mode %q", agent.ErrInvalid, mode)
	}
	f.mu.Unlock()
	f.tell()
	return nil
}

func (f *pageFlow) SubmitVantagepoint(ctx context.Context, username, password string) error {
	f.mu.Lock()
	defer f.tell()
	defer f.mu.Unlock()
	if f.creds == nil || f.state.Step != localapi.StepVantagepoint {
		return fmt.Errorf("%w: no Vantagepoint sign-in waits for a password", localapi.ErrActivationBusy)
	}
	select {
	case f.creds <- credentials{user: username, password: password}:
	default:
		return localapi.ErrActivationBusy
	}
	f.state.Step, f.state.Username, f.state.Problem = localapi.StepWorking, username, nil
	f.seq++
	return nil
}

// awaitCredentials shows the form and waits for it.
func (f *pageFlow) awaitCredentials(ctx context.Context, ch chan credentials) (string, string, error) {
	f.update(func(st *localapi.ActivationState) { st.Step = localapi.StepVantagepoint })
	select {
	case c := <-ch:
		return c.user, c.password, nil
	case <-ctx.Done():
		return "", "", auth.ErrCancelled
	}
}

func (f *pageFlow) signIn() auth.SignInOptions {
	// No device code: its instructions would go to a terminal nobody
	// reads. A session without a browser says so on the page.
	return auth.SignInOptions{Browser: f.env.Browser, NoDeviceCode: true, Out: io.Discard}
}

func (f *pageFlow) activate(ctx context.Context, cfg config.Config, dir string, a *agent.Agent, reinitialize bool, ch chan credentials) {
	act := Activation{Env: f.env, Config: cfg, DataDir: dir, SignIn: f.signIn(), Reinitialize: reinitialize,
		MicrosoftSignedIn: func(r auth.Record) {
			f.update(func(st *localapi.ActivationState) { st.Microsoft = firstOf(r.User, r.Name) })
		},
		Credentials: func(ctx context.Context) (string, string, error) { return f.awaitCredentials(ctx, ch) },
		RetryCredentials: func(err error) bool {
			p := describe(err, StepVantagepoint, cfg)
			if p.Retry != localapi.ModeVantagepoint {
				return false
			}
			f.update(func(st *localapi.ActivationState) { st.Problem = &p })
			return true
		}}
	out, err := act.Run(ctx)
	if err != nil {
		f.fail(ctx, err, StepOf(err), cfg)
		return
	}
	f.update(func(st *localapi.ActivationState) {
		st.Step, st.Problem = localapi.StepDone, nil
		st.Microsoft = firstOf(out.Microsoft.User, out.User.UserPrincipalName, out.User.Mail)
		st.Username = out.Vantagepoint.Username
		st.Employee, st.EmployeeName = out.Employee.ID, out.Employee.Name
	})
	f.finish()
	// The agent running now is Not Configured: it is built again from
	// what the activation stored, and runs its first batch.
	if a != nil {
		if err := a.Restart(context.WithoutCancel(ctx)); err != nil {
			f.env.logger().Warn("restart the agent after an activation on the page", "err", err)
		}
	}
}

func (f *pageFlow) reauthorizeMicrosoft(ctx context.Context, a *agent.Agent) {
	err := a.Reauthorize(ctx, auth.Microsoft, agent.Credentials{})
	if err != nil {
		f.fail(ctx, err, StepMicrosoft, f.config())
		return
	}
	f.update(func(st *localapi.ActivationState) {
		st.Step, st.Problem = localapi.StepDone, nil
		st.Microsoft = a.Status().Accounts.Microsoft.User
	})
	f.finish()
}

func (f *pageFlow) reauthorizeVantagepoint(ctx context.Context, a *agent.Agent, ch chan credentials) {
	for {
		var c credentials
		select {
		case c = <-ch:
		case <-ctx.Done():
			return
		}
		err := a.Reauthorize(ctx, auth.Vantagepoint, agent.Credentials{Username: c.user, Password: c.password})
		c = credentials{}
		if err == nil {
			break
		}
		p := describe(err, StepVantagepoint, f.config())
		if p.Retry != localapi.ModeVantagepoint || ctx.Err() != nil {
			f.fail(ctx, err, StepVantagepoint, f.config())
			return
		}
		f.update(func(st *localapi.ActivationState) { st.Step, st.Problem = localapi.StepVantagepoint, &p })
	}
	f.update(func(st *localapi.ActivationState) {
		st.Step, st.Problem = localapi.StepDone, nil
		st.Employee = a.Status().Accounts.Vantagepoint.Employee
	})
	f.finish()
}

func (f *pageFlow) config() config.Config {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.cfg
}

func (f *pageFlow) finish() {
	f.mu.Lock()
	f.running, f.creds = false, nil
	f.mu.Unlock()
}

// fail ends the flow with the failure in words; a cancelled flow (Cancel,
// or started again) leaves the state to whoever cancelled it.
func (f *pageFlow) fail(ctx context.Context, err error, step string, cfg config.Config) {
	if ctx.Err() != nil {
		return
	}
	f.env.logger().Warn("activation on the page stopped", "step", step, "err", agent.Redact(err.Error()))
	p := describe(err, step, cfg)
	f.update(func(st *localapi.ActivationState) { st.Step, st.Problem = localapi.StepFailed, &p })
	f.finish()
}

func firstOf(s ...string) string {
	for _, v := range s {
		if v != "" {
			return v
		}
	}
	return ""
}

// describe turns an activation's failure into a sentence for the employee
// and the next step (docs/behaviour.md §3: every failure says what to do).
func describe(err error, step string, cfg config.Config) localapi.Problem {
	vpWhere := cfg.Vantagepoint.APIURL
	if cfg.Vantagepoint.Database != "" {
		vpWhere += " (database " + cfg.Vantagepoint.Database + ")"
	}
	var sr *auth.SignInRequiredError
	side, _ := fault.SideOf(err)
	switch {
	case errors.Is(err, syncer.ErrForeignCustomization):
		return localapi.Problem{Code: "foreign_mailbox", Retry: "reinitialize",
			Sentence: "Your mailbox is already linked to another Vantagepoint user or database (Foreign customization detected).",
			Next:     "If you are taking this mailbox over, choose \"Link this mailbox to me\": vpconnect marks it for you and syncs from this computer. Otherwise ask IT who syncs it."}
	case errors.Is(err, syncer.ErrNoEmployee):
		return localapi.Problem{Code: "no_employee", Retry: "start",
			Sentence: detail(err) + ".",
			Next:     "Ask your Vantagepoint administrator to put your e-mail address on your employee record, then start again."}
	case errors.Is(err, syncer.ErrAmbiguousEmployee):
		return localapi.Problem{Code: "ambiguous_employee", Retry: "start",
			Sentence: detail(err) + ".",
			Next:     "Ask your Vantagepoint administrator to keep your address on your own employee record only, then start again."}
	case errors.Is(err, auth.ErrKeychainUnavailable):
		return localapi.Problem{Code: "keychain", Retry: "start",
			Sentence: "vpconnect cannot keep your sign-in: the system keychain is not available (" + trimStop(err) + ").",
			Next:     "Unlock your keychain (or sign out and in again), then start again."}
	case errors.Is(err, auth.ErrNoBrowser):
		return localapi.Problem{Code: "no_browser", Retry: "start",
			Sentence: "No browser could be opened for the Microsoft sign-in.",
			Next:     "Open a terminal and run 'vpconnect activate --no-browser', or ask IT."}
	case errors.Is(err, auth.ErrOtherUser):
		return localapi.Problem{Code: "other_user", Retry: step,
			Sentence: "You signed in as someone else than the user this computer is activated for: " + trimStop(err) + ".",
			Next:     "Sign in again with your own account."}
	case errors.As(err, &sr) && sr.Fix != "":
		return localapi.Problem{Code: "app_registration", Retry: "start",
			Sentence: auth.AccountTitle(sr.Account) + " " + sr.Reason + ".",
			Next:     "Signing in again will not help. Ask IT to fix this: " + sr.Fix + "."}
	case errors.As(err, &sr) && sr.Account == auth.Vantagepoint:
		return localapi.Problem{Code: "wrong_password", Retry: localapi.ModeVantagepoint,
			Sentence: "Vantagepoint refused the user name or password.",
			Next:     "Check them (the ones you use to sign in to Vantagepoint at " + vpWhere + ") and sign in again."}
	case errors.As(err, &sr):
		return localapi.Problem{Code: "microsoft_refused", Retry: "start",
			Sentence: "Microsoft 365 did not sign you in (" + sr.Reason + ").",
			Next:     "Start again and complete the sign-in in the browser."}
	case errors.Is(err, auth.ErrCancelled):
		return localapi.Problem{Code: "cancelled", Retry: "start",
			Sentence: "The sign-in was cancelled in the browser.",
			Next:     "Start again when you are ready."}
	case errors.Is(err, fault.ErrUnavailable) && (side == fault.Vantagepoint || step == StepVantagepoint):
		return localapi.Problem{Code: "vantagepoint_unreachable", Retry: retryFor(step),
			Sentence: "Vantagepoint at " + vpWhere + " cannot be reached from this computer.",
			Next:     "Check your network or VPN connection and try again; if it keeps failing, tell IT (the server may be down)."}
	case errors.Is(err, fault.ErrUnavailable):
		return localapi.Problem{Code: "microsoft_unreachable", Retry: "start",
			Sentence: "Microsoft 365 cannot be reached from this computer.",
			Next:     "Check your network connection and start again."}
	case errors.Is(err, auth.ErrSignInIncomplete):
		return localapi.Problem{Code: "microsoft_incomplete", Retry: "start",
			Sentence: "The Microsoft sign-in did not complete: " + trimStop(err) + ".",
			Next:     "Start again and finish the sign-in in the browser window that opens."}
	}
	return localapi.Problem{Code: "other", Retry: "start",
		Sentence: "The activation stopped: " + trimStop(err) + ".",
		Next:     "Start again; if it stops again, IT can run 'vpconnect check' to find the cause."}
}

func retryFor(step string) string {
	if step == StepVantagepoint {
		return localapi.ModeVantagepoint
	}
	return "start"
}

// detail is the look-up's own sentence, without the activation's prefix
// and the advice that Next gives.
func detail(err error) string {
	t := strings.TrimPrefix(trimStop(err), "activation stopped: ")
	if i := strings.Index(t, ": ask "); i > 0 {
		t = t[:i]
	}
	if t == "" {
		return t
	}
	return strings.ToUpper(t[:1]) + t[1:]
}

// trimStop is an error's text, redacted, without a final full stop.
func trimStop(err error) string {
	return strings.TrimRight(agent.Redact(err.Error()), ". ")
}
