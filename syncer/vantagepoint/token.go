package vantagepoint

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	"golang.org/x/oauth2"

	"vpconnect/syncer"
)

// Credentials sign a user in at the token endpoint. Username and Password
// are needed for the password grant only; Database, ClientID and
// ClientSecret come from Vantagepoint's API Authorization screen.
type Credentials struct {
	Username, Password string
	Database           string
	ClientID           string
	ClientSecret       string
}

// PasswordGrant signs in with a password (grant_type=password) and returns
// the token. A refused sign-in is a *TokenError wrapping
// syncer.ErrAuthRejected, with the server's error_description.
func PasswordGrant(ctx context.Context, hc *http.Client, apiURL string, cr Credentials) (*oauth2.Token, error) {
	form := url.Values{
		"Username":      {cr.Username},
		"Password":      {cr.Password},
		"grant_type":    {"password"},
		"Integrated":    {"N"},
		"database":      {cr.Database},
		"Client_Id":     {cr.ClientID},
		"client_secret": {cr.ClientSecret},
	}
	tok, err := tokenRequest(ctx, hc, apiURL, form)
	if err != nil {
		return nil, fmt.Errorf("sign in to Vantagepoint as %s: %w", cr.Username, err)
	}
	return tok, nil
}

// RefreshGrant trades a refresh token for a new token
// (grant_type=refresh_token). The answer's refresh token replaces the old
// one, which the server may have spent: save it at once.
func RefreshGrant(ctx context.Context, hc *http.Client, apiURL, refreshToken string, cr Credentials) (*oauth2.Token, error) {
	form := url.Values{
		"grant_type":    {"refresh_token"},
		"refresh_token": {refreshToken},
	}
	if cr.Database != "" {
		// The public Go client of the API sends the database with the
		// refresh grant as well: a server with several databases needs
		// to know which one the token is for.
		form.Set("database", cr.Database)
	}
	if cr.ClientID != "" {
		form.Set("Client_Id", cr.ClientID)
		form.Set("client_secret", cr.ClientSecret)
	}
	tok, err := tokenRequest(ctx, hc, apiURL, form)
	if err != nil {
		return nil, fmt.Errorf("refresh the Vantagepoint token: %w", err)
	}
	if tok.RefreshToken == "" {
		tok.RefreshToken = refreshToken // a server that does not rotate
	}
	return tok, nil
}

// wireToken is the token answer (testdata/fixtures/token-response.json).
type wireToken struct {
	AccessToken  string `json:"access_token"`
	TokenType    string `json:"token_type"`
	ExpiresIn    int64  `json:"expires_in"`
	RefreshToken string `json:"refresh_token"`
}

func tokenRequest(ctx context.Context, hc *http.Client, apiURL string, form url.Values) (*oauth2.Token, error) {
	if hc == nil {
		hc = &http.Client{Timeout: 60 * time.Second}
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, strings.TrimRight(apiURL, "/")+"/token", strings.NewReader(form.Encode()))
	if err != nil {
		return nil, fmt.Errorf("build token request: %w", err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Accept", "application/json")
	resp, err := hc.Do(req)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", syncer.ErrUnavailable, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return nil, fmt.Errorf("read token answer: %w: %w", syncer.ErrUnavailable, err)
	}
	if resp.StatusCode != http.StatusOK {
		var te wireTokenError
		if json.Unmarshal(body, &te) == nil && te.Error != "" {
			return nil, &TokenError{Status: resp.StatusCode, Code: te.Error, Description: te.Description}
		}
		ae := &APIError{Status: resp.StatusCode, Method: http.MethodPost, Path: "token", RetryAfter: retryAfter(resp.Header.Get("Retry-After"))}
		var we wireError
		if json.Unmarshal(body, &we) == nil {
			ae.Message, ae.Detail = we.Message, we.Detail
		}
		return nil, ae
	}
	var wt wireToken
	if err := json.Unmarshal(body, &wt); err != nil {
		return nil, fmt.Errorf("token answer: %w: %w", syncer.ErrMalformed, err)
	}
	if wt.AccessToken == "" {
		return nil, fmt.Errorf("token answer: %w: no access_token", syncer.ErrMalformed)
	}
	tok := &oauth2.Token{AccessToken: wt.AccessToken, TokenType: wt.TokenType, RefreshToken: wt.RefreshToken}
	if wt.ExpiresIn > 0 {
		tok.Expiry = time.Now().Add(time.Duration(wt.ExpiresIn) * time.Second)
		tok.ExpiresIn = wt.ExpiresIn
	}
	return tok, nil
}
