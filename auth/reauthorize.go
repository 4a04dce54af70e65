package auth

import (
	"context"
	"errors"
	"fmt"
	"strings"
)

// ErrOtherUser is a re-authorization that signed in as someone other than
// the user this computer is activated for. It is a sign-in problem
// (IsSignInProblem): the stored sign-in is kept.
var ErrOtherUser = errors.New("signed in as another user")

// Reauthorization signs one account in again, as the same user: 'vpconnect
// reauthorize', and the running agent's re-authorize action (tray, Sync
// Options page). The stored record keeps what sign-in does not give (the
// employee, the Microsoft user of a Vantagepoint record).
type Reauthorization struct {
	Store        *Store
	Account      string // Microsoft or Vantagepoint
	Microsoft    MicrosoftApp
	Vantagepoint VantagepointApp
	// SignIn are the options of Microsoft's browser sign-in; the stored
	// user is given as the login hint.
	SignIn SignInOptions
	// Credentials gives the Vantagepoint user name and password; known is
	// the stored user name (or ""), to offer as the default.
	Credentials func(known string) (user, password string, err error)
}

// Run signs in, checks the user is the stored one, and saves the new
// sign-in. A stored record that is damaged is what re-authorizing repairs;
// one that is missing is ErrNotFound (activate instead).
func (r Reauthorization) Run(ctx context.Context) (Session, error) {
	old, err := r.Store.Load(ctx, r.Account)
	if errors.Is(err, ErrNotFound) {
		return Session{}, notSignedIn{AccountTitle(r.Account)}
	} else if err != nil && !errors.Is(err, ErrDamaged) {
		return Session{}, err
	}
	var s Session
	var want, got string
	switch r.Account {
	case Microsoft:
		opts := r.SignIn
		opts.LoginHint = old.User
		s, err = r.Microsoft.SignIn(ctx, opts)
		want, got = old.User, s.Record.User
	case Vantagepoint:
		var user, pass string
		if user, pass, err = r.Credentials(old.Username); err == nil {
			s, err = r.Vantagepoint.SignIn(ctx, user, pass)
		}
		want, got = old.Username, s.Record.Username
		s.Record.Employee = old.Employee
	default:
		return Session{}, fmt.Errorf("unknown account %q: microsoft or vantagepoint", r.Account)
	}
	if err != nil {
		return Session{}, err
	}
	if want != "" && !strings.EqualFold(got, want) {
		return Session{}, fmt.Errorf("%w: signed in as %s, but this computer is activated for %s: sign in as %s, or run 'vpconnect deactivate' and then 'vpconnect activate'",
			ErrOtherUser, got, want, want)
	}
	if s.Record.User == "" {
		s.Record.User = old.User
	}
	if err := r.Store.Save(ctx, s.Record); err != nil {
		return Session{}, err
	}
	return s, nil
}

// notSignedIn is a re-authorization without an activation; it matches
// ErrNotFound.
type notSignedIn struct{ account string }

func (e notSignedIn) Error() string {
	return e.account + " is not signed in on this computer: run 'vpconnect activate'"
}
func (e notSignedIn) Unwrap() error { return ErrNotFound }

// Adopt takes up a sign-in that another process ('vpconnect reauthorize')
// saved for user: the stored record must be that user's, and its refresh
// must succeed through ts, whose cached token it drops first.
func Adopt(ctx context.Context, st *Store, ts *TokenSource, user string) error {
	rec, err := st.Load(ctx, ts.Account())
	if err != nil {
		return err
	}
	stored := rec.User
	if ts.Account() == Vantagepoint {
		stored = rec.Username
	}
	if !strings.EqualFold(stored, user) {
		return fmt.Errorf("the stored sign-in is not %s's: sign in again", user)
	}
	ts.Reset()
	if _, err := ts.TokenContext(ctx); err != nil {
		return fmt.Errorf("the stored sign-in does not work: %w", err)
	}
	return nil
}
