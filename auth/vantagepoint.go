package auth

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"golang.org/x/oauth2"

	"vpconnect/internal/fault"
	"vpconnect/syncer/vantagepoint"
)

// VantagepointApp is a Vantagepoint server and the API authorization
// (Client_Id and client_secret) its token endpoint requires.
type VantagepointApp struct {
	// APIURL is the API base, e.g. https://host/vantagepoint/api.
	APIURL string
	// Database is the database signed in to.
	Database string
	// ClientID and ClientSecret come from Vantagepoint's API Authorization.
	ClientID, ClientSecret string
	// KeepPassword keeps the password in the keychain so that the agent can
	// sign in again unattended when the refresh token is refused. Only the
	// administrator's policy may turn it on; by default the password is
	// used once and forgotten.
	KeepPassword bool
	// HTTPClient talks to the token endpoint; a client with a 60 s timeout
	// when nil.
	HTTPClient *http.Client
}

func (a VantagepointApp) credentials(username, password string) vantagepoint.Credentials {
	return vantagepoint.Credentials{Username: username, Password: password, Database: a.Database,
		ClientID: a.ClientID, ClientSecret: a.ClientSecret}
}

// SignIn signs in with a user name and password (the password grant). The
// session's record is not saved; its Employee is for the caller to fill in.
// A refused password or a disabled login is a *SignInRequiredError.
func (a VantagepointApp) SignIn(ctx context.Context, username, password string) (Session, error) {
	if a.APIURL == "" || a.Database == "" {
		return Session{}, errors.New("Vantagepoint sign-in: the API URL and database must be configured")
	}
	if strings.TrimSpace(username) == "" || password == "" {
		return Session{}, signInRequired(Vantagepoint, "a user name and password are needed", nil)
	}
	var tok *oauth2.Token
	err := retry(ctx, defaultRetry, func() error {
		var err error
		tok, err = a.passwordGrant(ctx, username, password)
		return err
	})
	if err != nil {
		return Session{}, fmt.Errorf("Vantagepoint sign-in as %s: %w", username, err)
	}
	rec := Record{Account: Vantagepoint, RefreshToken: tok.RefreshToken,
		URL: strings.TrimRight(a.APIURL, "/"), Database: a.Database, Username: username}
	if a.KeepPassword {
		rec.Password = password
	}
	if rec.RefreshToken == "" {
		return Session{}, errors.New("Vantagepoint sign-in: the token endpoint issued no refresh token")
	}
	return Session{Record: rec, Token: tok}, nil
}

func (a VantagepointApp) passwordGrant(ctx context.Context, username, password string) (*oauth2.Token, error) {
	tok, err := vantagepoint.PasswordGrant(ctx, a.HTTPClient, a.APIURL, a.credentials(username, password))
	return tok, classifyPasswordGrant(err)
}

// refresh trades the record's refresh token for new tokens.
func (a VantagepointApp) refresh(ctx context.Context, rec Record) (*oauth2.Token, error) {
	tok, err := vantagepoint.RefreshGrant(ctx, a.HTTPClient, a.APIURL, rec.RefreshToken, a.credentials("", ""))
	return tok, classifyVantagepoint(err)
}

// relogin signs in again with the kept password, when policy allows it and
// there is one.
func (a VantagepointApp) relogin(ctx context.Context, rec Record) (*oauth2.Token, bool, error) {
	if !a.KeepPassword || rec.Password == "" || rec.Username == "" {
		return nil, false, nil
	}
	tok, err := a.passwordGrant(ctx, rec.Username, rec.Password)
	return tok, true, err
}

// classifyPasswordGrant sorts a password grant's failure: Vantagepoint 5.0
// and later refuse the grant type unless the API authorization allows it,
// which only an administrator can change.
func classifyPasswordGrant(err error) error {
	var te *vantagepoint.TokenError
	if errors.As(err, &te) && te.Code == "unsupported_grant_type" {
		return &SignInRequiredError{Account: Vantagepoint, Reason: "refused the password sign-in",
			Fix: "in Vantagepoint's Settings > Integrations > API Authorization, turn on 'Allow Password Grant Type' for the agents' client", Err: te}
	}
	return classifyVantagepoint(err)
}

// classifyVantagepoint sorts a token endpoint failure: a refused credential
// becomes a *SignInRequiredError, a transient failure a *transientError.
func classifyVantagepoint(err error) error {
	if err == nil {
		return nil
	}
	var te *vantagepoint.TokenError
	switch {
	case errors.As(err, &te) && errors.Is(err, fault.ErrAuthRejected):
		reason := "the sign-in was refused"
		d := strings.ToLower(te.Description)
		switch {
		case strings.Contains(d, "disabled"):
			reason = "the Vantagepoint login is disabled"
		case strings.Contains(d, "password"):
			reason = "the user name or password was refused"
		case strings.Contains(d, "refresh token"):
			reason = "the sign-in has expired or was revoked"
		case te.Code == "invalid_client" || te.Code == "unauthorized_client":
			reason = "the API authorization was refused (check vantagepoint.clientId and vantagepoint.clientSecret)"
		case strings.Contains(d, "database"):
			reason = "the database is not available (check vantagepoint.database)"
		}
		return signInRequired(Vantagepoint, reason, te)
	case errors.Is(err, fault.ErrAuthRejected):
		return signInRequired(Vantagepoint, "the sign-in was refused", err)
	case errors.Is(err, fault.ErrUnavailable):
		var ae *vantagepoint.APIError
		var ra time.Duration
		if errors.As(err, &ae) {
			ra = ae.RetryAfter
		}
		return &transientError{err: err, retryAfter: ra}
	}
	return err
}
