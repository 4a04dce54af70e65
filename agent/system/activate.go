package system

import (
	"context"
	"errors"
	"fmt"

	"vpconnect/agent/config"
	"vpconnect/auth"
	"vpconnect/syncer"
)

// Activation is `vpconnect activate` (docs/behaviour.md §5.1), shared by the command
// line and the demo so that both go the same way: Microsoft sign-in,
// Vantagepoint sign-in, the records saved, the employee resolved, the
// mailbox initialized (docs/behaviour.md §4.5), the identity completed.
type Activation struct {
	Env     Env
	Config  config.Config
	DataDir string
	// SignIn steers the Microsoft sign-in (browser, --no-browser, output).
	SignIn auth.SignInOptions
	// Credentials gives the Vantagepoint user name and password; it is
	// called after the Microsoft sign-in, so that a prompt comes after the
	// browser step.
	Credentials func(ctx context.Context) (username, password string, err error)
	// Reinitialize takes over a mailbox linked to another Vantagepoint
	// user or database.
	Reinitialize bool
	// MicrosoftSignedIn, when set, hears of the Microsoft sign-in before
	// Credentials is called (the page shows who signed in).
	MicrosoftSignedIn func(auth.Record)
	// RetryCredentials, when set, is asked after a refused Vantagepoint
	// sign-in (a wrong password, an unreachable server) whether to call
	// Credentials again instead of failing: the page shows the form again
	// and the Microsoft sign-in is not lost.
	RetryCredentials func(err error) bool
}

// Activation steps, which the errors of Run name (StepOf).
const (
	StepMicrosoft    = "microsoft"
	StepVantagepoint = "vantagepoint"
	StepEmployee     = "employee"
	StepMailbox      = "mailbox"
)

// stepError marks an activation failure with its step, reading as the
// failure alone (the command line prints it unchanged).
type stepError struct {
	step string
	err  error
}

func (e stepError) Error() string { return e.err.Error() }
func (e stepError) Unwrap() error { return e.err }

func inStep(step string, err error) error {
	if err == nil {
		return nil
	}
	return stepError{step, err}
}

// StepOf names the step an activation error came from ("" when unknown).
func StepOf(err error) string {
	var se stepError
	if errors.As(err, &se) {
		return se.step
	}
	return ""
}

// Activated is the outcome of an activation.
type Activated struct {
	Microsoft, Vantagepoint auth.Record
	User                    syncer.MailboxUser
	Employee                syncer.Employee
}

// Summary says who is signed in where, one line per account.
func (a Activated) Summary() string {
	return auth.MicrosoftLine(a.Microsoft) + "\n" + auth.VantagepointLine(a.Vantagepoint) + "\n"
}

// Run activates. Sign-in failures are what auth.IsSignInProblem reports
// (the command line's exit code 3); the employee look-up and the mailbox
// initialization fail with their own errors, after the sign-ins were saved
// (activating again signs in again anyway).
func (a Activation) Run(ctx context.Context) (Activated, error) {
	var out Activated
	if a.Credentials == nil {
		return out, errors.New("activation: Credentials are required")
	}
	msApp, vpApp := Apps(a.Env, a.Config)
	st := Store(a.Env, a.Config, a.DataDir)
	// A keychain that cannot keep the result is found out before the user
	// goes through the browser.
	if err := st.Check(); err != nil {
		return out, err
	}
	ms, err := msApp.SignIn(ctx, a.SignIn)
	if err != nil {
		return out, inStep(StepMicrosoft, err)
	}
	if a.MicrosoftSignedIn != nil {
		a.MicrosoftSignedIn(ms.Record)
	}
	var vp auth.Session
	for {
		user, password, err := a.Credentials(ctx)
		if err != nil {
			return out, inStep(StepVantagepoint, err)
		}
		vp, err = vpApp.SignIn(ctx, user, password)
		if err == nil {
			break
		}
		if a.RetryCredentials == nil || ctx.Err() != nil || !a.RetryCredentials(err) {
			return out, inStep(StepVantagepoint, err)
		}
	}
	// Saved at once: from here on the token sources refresh from the
	// keychain, and a rotated token must land there.
	if err := st.Save(ctx, ms.Record); err != nil {
		return out, err
	}
	if err := st.Save(ctx, vp.Record); err != nil {
		return out, err
	}
	log := a.Env.logger()
	mailbox, err := Mailbox(a.Env, a.Config, msApp.TokenSource(ctx, st, ms.Token), log)
	if err != nil {
		return out, err
	}
	vpc, err := Vantagepoint(a.Env, a.Config, vpApp.TokenSource(ctx, st, vp.Token), log)
	if err != nil {
		return out, err
	}
	out.User, out.Employee, err = syncer.ResolveEmployee(ctx, mailbox, vpc)
	if err != nil {
		return out, inStep(StepEmployee, fmt.Errorf("activation stopped: %w", err))
	}
	if err := st.Update(ctx, auth.Microsoft, func(r *auth.Record) {
		if r.User == "" {
			r.User = out.User.UserPrincipalName
			if r.User == "" {
				r.User = out.User.Mail
			}
		}
		if r.Name == "" {
			r.Name = out.User.DisplayName
		}
	}); err != nil {
		return out, err
	}
	if err := st.Update(ctx, auth.Vantagepoint, func(r *auth.Record) { r.Employee = out.Employee.ID }); err != nil {
		return out, err
	}
	if err := initialize(ctx, a.Env, a.Config, a.DataDir, mailbox, vpc, out.Employee, a.Reinitialize); err != nil {
		return out, inStep(StepMailbox, fmt.Errorf("initialize the mailbox: %w", err))
	}
	if out.Microsoft, err = st.Load(ctx, auth.Microsoft); err != nil {
		return out, err
	}
	if out.Vantagepoint, err = st.Load(ctx, auth.Vantagepoint); err != nil {
		return out, err
	}
	return out, nil
}
