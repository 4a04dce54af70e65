package auth

import (
	"errors"
	"fmt"
)

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

// IsSignInProblem says whether err is one the user fixes by signing in (or
// by making the keychain available): the command line's exit code 3.
func IsSignInProblem(err error) bool {
	var sre *SignInRequiredError
	return errors.As(err, &sre) || errors.Is(err, ErrCancelled) || errors.Is(err, ErrKeychainUnavailable) ||
		errors.Is(err, ErrSignInIncomplete) || errors.Is(err, ErrOtherUser)
}
