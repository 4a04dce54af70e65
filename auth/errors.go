package auth

import (
	"errors"
	"fmt"

	"vpconnect/internal/fault"
)

// Account names: the keychain entry of each account and the Account of a
// SignInRequiredError.
const (
	Microsoft    = "microsoft"
	Vantagepoint = "vantagepoint"
)

// AccountTitle is an account's name as the user knows it: "Microsoft 365"
// or "Vantagepoint".
func AccountTitle(account string) string {
	switch account {
	case Microsoft:
		return "Microsoft 365"
	case Vantagepoint:
		return "Vantagepoint"
	}
	return account
}

// SignInRequiredError says that an account's credentials were definitively
// refused (or are missing): only the user can fix it, by signing in again.
// It matches fault.ErrAuthRejected with errors.Is, so the engine and the
// agent treat it as the "Suspended by Error" kind of failure.
type SignInRequiredError struct {
	// Account is Microsoft or Vantagepoint.
	Account string
	// Reason says what happened, in words for the user ("the refresh token
	// was revoked", "the password was refused").
	Reason string
	// Fix, when set, says that signing in again cannot help: an
	// administrator must change the app registration or the configuration,
	// as this sentence says. Reason then reads after the account's name
	// ("refused the app registration").
	Fix string
	// Err is the service's answer, when there was one.
	Err error
}

func (e *SignInRequiredError) Error() string {
	if e.Fix != "" {
		// Reason then reads after the account's name: "Microsoft 365
		// refused the app registration".
		s := AccountTitle(e.Account) + " " + e.Reason + "; to fix: " + e.Fix
		if e.Err != nil {
			s += " (" + e.Err.Error() + ")"
		}
		return s
	}
	s := "sign-in needed for " + AccountTitle(e.Account)
	if e.Reason != "" {
		s += ": " + e.Reason
	}
	if e.Err != nil {
		s += " (" + e.Err.Error() + ")"
	}
	return s
}

// Unwrap returns the service's answer.
func (e *SignInRequiredError) Unwrap() error { return e.Err }

// Is makes every SignInRequiredError match fault.ErrAuthRejected, whatever
// the underlying error.
func (e *SignInRequiredError) Is(target error) bool { return target == fault.ErrAuthRejected }

// ErrKeychainUnavailable means the operating system's keychain cannot be
// used: no Secret Service on the session bus, no session bus, a locked
// keychain that did not answer, a refused access. Errors wrapping it say
// which and what to do.
var ErrKeychainUnavailable = errors.New("the keychain is unavailable")

// ErrCancelled is a sign-in the user cancelled or declined in the browser.
var ErrCancelled = errors.New("the sign-in was cancelled")

func signInRequired(account, reason string, err error) *SignInRequiredError {
	return &SignInRequiredError{Account: account, Reason: reason, Err: err}
}

// unavailable wraps a transient failure as fault.ErrUnavailable, unless it
// already is one.
func unavailable(what string, err error) error {
	if errors.Is(err, fault.ErrUnavailable) {
		return fmt.Errorf("%s: %w", what, err)
	}
	return fmt.Errorf("%s: %w: %w", what, fault.ErrUnavailable, err)
}

// ErrSignInIncomplete matches every failed interactive Microsoft sign-in
// (refused, cancelled, timed out, no browser and no code entered): the user
// is still not signed in.
var ErrSignInIncomplete = errors.New("the sign-in did not complete")

// incomplete marks a failed interactive sign-in without changing its text.
type incomplete struct{ err error }

func (e incomplete) Error() string   { return e.err.Error() }
func (e incomplete) Unwrap() []error { return []error{ErrSignInIncomplete, e.err} }
