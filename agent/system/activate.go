package system

import (
	"context"
	"errors"
	"fmt"

	"vpconnect/agent/config"
	"vpconnect/auth"
	"vpconnect/syncer"
)

// Activation is `vpconnect activate` (SPEC §5.1), shared by the command
// line and the demo so that both go the same way: Microsoft sign-in,
// Vantagepoint sign-in, the records saved, the employee resolved, the
// mailbox initialized (SPEC §4.5), the identity completed.
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
		return out, err
	}
	user, password, err := a.Credentials(ctx)
	if err != nil {
		return out, err
	}
	vp, err := vpApp.SignIn(ctx, user, password)
	if err != nil {
		return out, err
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
		return out, fmt.Errorf("activation stopped: %w", err)
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
		return out, fmt.Errorf("initialize the mailbox: %w", err)
	}
	if out.Microsoft, err = st.Load(ctx, auth.Microsoft); err != nil {
		return out, err
	}
	if out.Vantagepoint, err = st.Load(ctx, auth.Vantagepoint); err != nil {
		return out, err
	}
	return out, nil
}
