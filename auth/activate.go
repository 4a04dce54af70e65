package auth

import (
	"context"
	"errors"
	"fmt"

	"vpconnect/syncer"
)

// Activation is activation's sign-in part (SPEC §5.1 `vpconnect activate`),
// shared by the command line and the demo so that both go the same way:
// Microsoft sign-in, Vantagepoint sign-in, the records saved, the employee
// resolved, the mailbox initialized, the identity completed.
type Activation struct {
	Microsoft    MicrosoftApp
	Vantagepoint VantagepointApp
	Store        *Store
	// SignIn steers the Microsoft sign-in (browser, --no-browser, output).
	SignIn SignInOptions
	// Credentials gives the Vantagepoint user name and password; it is
	// called after the Microsoft sign-in, so that a prompt comes after the
	// browser step.
	Credentials func(ctx context.Context) (username, password string, err error)
	// Connect builds the two service clients over the token sources.
	Connect func(ctx context.Context, ms, vp *TokenSource) (syncer.Mailbox, syncer.Vantagepoint, error)
	// Initialize initializes the mailbox for the employee (SPEC §4.5).
	Initialize func(ctx context.Context, mailbox syncer.Mailbox, vp syncer.Vantagepoint, employee syncer.Employee) error
}

// Activated is the outcome of an activation.
type Activated struct {
	Microsoft, Vantagepoint Record
	User                    syncer.MailboxUser
	Employee                syncer.Employee
	// MicrosoftTokens and VantagepointTokens serve the accounts from now on.
	MicrosoftTokens, VantagepointTokens *TokenSource
}

// Summary says who is signed in where, one line per account.
func (a Activated) Summary() string {
	return MicrosoftLine(a.Microsoft) + "\n" + VantagepointLine(a.Vantagepoint) + "\n"
}

// MicrosoftLine is "Microsoft 365: <user> (tenant <id>)".
func MicrosoftLine(r Record) string {
	s := "Microsoft 365: " + r.User
	if r.Tenant != "" {
		s += " (tenant " + r.Tenant + ")"
	}
	return s
}

// VantagepointLine is "Vantagepoint: <user> on <url>, database <db>,
// employee <id>".
func VantagepointLine(r Record) string {
	s := fmt.Sprintf("Vantagepoint: %s on %s, database %s", r.Username, r.URL, r.Database)
	if r.Employee != "" {
		s += ", employee " + r.Employee
	}
	return s
}

// Run activates. Sign-in failures are *SignInRequiredError, ErrCancelled or
// ErrKeychainUnavailable (the command line's exit code 3); the employee
// look-up and the mailbox initialization fail with their own errors, after
// the sign-ins were saved (activating again signs in again anyway).
func (a Activation) Run(ctx context.Context) (Activated, error) {
	var out Activated
	if a.Store == nil || a.Credentials == nil || a.Connect == nil || a.Initialize == nil {
		return out, errors.New("activation: Store, Credentials, Connect and Initialize are required")
	}
	// A keychain that cannot keep the result is found out before the user
	// goes through the browser.
	if err := a.Store.Check(); err != nil {
		return out, err
	}
	ms, err := a.Microsoft.SignIn(ctx, a.SignIn)
	if err != nil {
		return out, err
	}
	user, password, err := a.Credentials(ctx)
	if err != nil {
		return out, err
	}
	vp, err := a.Vantagepoint.SignIn(ctx, user, password)
	if err != nil {
		return out, err
	}
	// Saved at once: from here on the token sources refresh from the
	// keychain, and a rotated token must land there.
	if err := a.Store.Save(ctx, ms.Record); err != nil {
		return out, err
	}
	if err := a.Store.Save(ctx, vp.Record); err != nil {
		return out, err
	}
	out.MicrosoftTokens = a.Microsoft.TokenSource(ctx, a.Store, ms.Token)
	out.VantagepointTokens = a.Vantagepoint.TokenSource(ctx, a.Store, vp.Token)
	mailbox, vpc, err := a.Connect(ctx, out.MicrosoftTokens, out.VantagepointTokens)
	if err != nil {
		return out, err
	}
	out.User, out.Employee, err = syncer.ResolveEmployee(ctx, mailbox, vpc)
	if err != nil {
		return out, fmt.Errorf("activation stopped: %w", err)
	}
	if err := a.Store.Update(ctx, Microsoft, func(r *Record) {
		if r.User == "" {
			r.User = firstNonEmpty(out.User.UserPrincipalName, out.User.Mail)
		}
		if r.Name == "" {
			r.Name = out.User.DisplayName
		}
	}); err != nil {
		return out, err
	}
	if err := a.Store.Update(ctx, Vantagepoint, func(r *Record) { r.Employee = out.Employee.ID }); err != nil {
		return out, err
	}
	if err := a.Initialize(ctx, mailbox, vpc, out.Employee); err != nil {
		return out, fmt.Errorf("initialize the mailbox: %w", err)
	}
	if out.Microsoft, err = a.Store.Load(ctx, Microsoft); err != nil {
		return out, err
	}
	if out.Vantagepoint, err = a.Store.Load(ctx, Vantagepoint); err != nil {
		return out, err
	}
	return out, nil
}

// IsSignInProblem says whether err is one the user fixes by signing in (or
// by making the keychain available): the command line's exit code 3.
func IsSignInProblem(err error) bool {
	var sre *SignInRequiredError
	return errors.As(err, &sre) || errors.Is(err, ErrCancelled) || errors.Is(err, ErrKeychainUnavailable) ||
		errors.Is(err, ErrSignInIncomplete) || errors.Is(err, ErrOtherUser)
}
