package auth

import (
	"context"
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"html"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"runtime"
	"strconv"
	"strings"
	"time"

	"golang.org/x/oauth2"

	"vpconnect/internal/fault"
)

// MicrosoftScopes are the delegated permissions vpconnect asks for: offline
// access (a refresh token), the user's identity, and read/write on mail,
// calendar, contacts and mailbox settings (categories).
var MicrosoftScopes = []string{
	"offline_access", "openid", "profile", "User.Read", "Mail.ReadWrite",
	"Calendars.ReadWrite", "Contacts.ReadWrite", "MailboxSettings.ReadWrite",
}

// MicrosoftApp is the app registration and authority to sign in with.
type MicrosoftApp struct {
	// ClientID is the application (client) id of the app registration.
	ClientID string
	// Tenant is "organizations", "common" or a tenant id or domain.
	Tenant string
	// AuthorityURL is https://login.microsoftonline.com or a simulator.
	AuthorityURL string
	// Scopes default to MicrosoftScopes.
	Scopes []string
	// HTTPClient talks to the identity platform; a client with a 60 s
	// timeout when nil.
	HTTPClient *http.Client
}

func (a MicrosoftApp) endpoint(name string) string {
	tenant := a.Tenant
	if tenant == "" {
		tenant = "organizations"
	}
	return strings.TrimRight(a.AuthorityURL, "/") + "/" + url.PathEscape(tenant) + "/oauth2/v2.0/" + name
}

func (a MicrosoftApp) scope() string {
	if len(a.Scopes) == 0 {
		return strings.Join(MicrosoftScopes, " ")
	}
	return strings.Join(a.Scopes, " ")
}

func (a MicrosoftApp) client() *http.Client {
	if a.HTTPClient != nil {
		return a.HTTPClient
	}
	return &http.Client{Timeout: 60 * time.Second}
}

// BrowserFunc opens an address in the user's browser. It returns once the
// browser was asked, not when the user is done.
type BrowserFunc func(ctx context.Context, address string) error

// ErrNoBrowser is what a BrowserFunc returns when this session has no
// browser to open (no display, say); SignIn then uses the device-code flow.
var ErrNoBrowser = errors.New("no browser can be opened in this session")

// SignInOptions steer an interactive Microsoft sign-in.
type SignInOptions struct {
	// Browser opens the sign-in page; OpenSystemBrowser when nil.
	Browser BrowserFunc
	// NoBrowser prints "Sign in: <url>" to Out instead of opening a
	// browser, and waits for the browser's redirect (docs/behaviour.md §5.1).
	NoBrowser bool
	// DeviceCode uses the device-code flow from the start.
	DeviceCode bool
	// NoDeviceCode turns the device-code fallback off: a browser that
	// cannot be opened fails the sign-in (the demo, whose "browser" is an
	// HTTP client, has nobody to enter a code).
	NoDeviceCode bool
	// Out receives what the user must see: the sign-in address, the
	// device-code instructions. Required.
	Out io.Writer
	// RedirectHost is the host of the loopback redirect URI: "localhost"
	// (default: the redirect URI the portal offers and IT registers) or
	// "127.0.0.1" for a registration that lists http://127.0.0.1 (see the
	// package documentation).
	RedirectHost string
	// Timeout bounds the wait for the user in the browser; 5 minutes when
	// zero. The device-code flow lasts as long as its code is valid.
	Timeout time.Duration
	// LoginHint pre-fills the account (re-authorization).
	LoginHint string

	// sleep waits between device-code polls; tests replace it.
	sleep func(ctx context.Context, d time.Duration) error
}

// Session is the result of a sign-in: the record to keep and the first
// access token (which is not kept).
type Session struct {
	Record Record
	Token  *oauth2.Token
}

// SignIn signs the user in to Microsoft 365 interactively: authorization
// code with PKCE through the browser and a loopback redirect, or, when no
// browser can be opened, the device-code flow. The session's record is not
// saved; the caller saves it once the rest of the activation agrees.
func (a MicrosoftApp) SignIn(ctx context.Context, o SignInOptions) (Session, error) {
	s, err := a.signIn(ctx, o)
	if err != nil {
		return Session{}, incomplete{err}
	}
	return s, nil
}

func (a MicrosoftApp) signIn(ctx context.Context, o SignInOptions) (Session, error) {
	if a.ClientID == "" || a.AuthorityURL == "" {
		return Session{}, errors.New("Microsoft sign-in: the client id and authority URL must be configured")
	}
	if o.Out == nil {
		o.Out = io.Discard
	}
	if o.DeviceCode {
		return a.deviceCode(ctx, o)
	}
	s, err := a.authCode(ctx, o)
	if errors.Is(err, ErrNoBrowser) && !o.NoDeviceCode {
		fmt.Fprintf(o.Out, "No browser could be opened (%v); signing in with a code instead.\n", err)
		return a.deviceCode(ctx, o)
	}
	return s, err
}

// loopbackResult is what the browser brought back to the loopback listener.
type loopbackResult struct {
	code string
	err  error
}

// authCode runs the authorization code flow with PKCE over a loopback
// redirect (RFC 8252 §7.3, RFC 7636).
func (a MicrosoftApp) authCode(ctx context.Context, o SignInOptions) (Session, error) {
	host := o.RedirectHost
	if host == "" {
		host = "localhost"
	}
	if host != "127.0.0.1" && host != "localhost" {
		return Session{}, fmt.Errorf("Microsoft sign-in: redirect host %q is not 127.0.0.1 or localhost", host)
	}
	listeners, port, err := listenLoopback(host)
	if err != nil {
		return Session{}, fmt.Errorf("Microsoft sign-in: open the loopback redirect listener: %w", err)
	}
	// No path, as Microsoft's own libraries send it (MSAL for Go:
	// "http://localhost:<port>"): the registration lists
	// http://localhost, and Entra sends the browser back to
	// http://localhost:<port>/ (a URI without a path is returned with a
	// trailing slash, "Redirect URI (reply URL) restrictions").
	redirect := "http://" + host + ":" + strconv.Itoa(port)
	state := randomString(32)
	verifier := oauth2.GenerateVerifier()

	results := make(chan loopbackResult, 1)
	srv := &http.Server{Handler: redirectHandler(state, results), ReadHeaderTimeout: 10 * time.Second}
	for _, ln := range listeners {
		go func() { _ = srv.Serve(ln) }()
	}
	// Close the listeners however this ends: the port must not stay open
	// for whoever comes next. srv.Close alone is not enough: a Serve
	// goroutine that has not started yet would close its listener later.
	defer func() {
		srv.Close()
		for _, ln := range listeners {
			ln.Close()
		}
	}()

	q := url.Values{
		"client_id":             {a.ClientID},
		"response_type":         {"code"},
		"redirect_uri":          {redirect},
		"response_mode":         {"query"},
		"scope":                 {a.scope()},
		"state":                 {state},
		"code_challenge":        {oauth2.S256ChallengeFromVerifier(verifier)},
		"code_challenge_method": {"S256"},
	}
	if o.LoginHint != "" {
		q.Set("login_hint", o.LoginHint)
	} else {
		q.Set("prompt", "select_account")
	}
	authURL := a.endpoint("authorize") + "?" + q.Encode()

	// Entra shows its refusals of a misregistered app (an unregistered
	// redirect URI, a single-tenant app through organizations, a missing
	// admin consent) as a page in the browser that never comes back here:
	// the user would read an AADSTS code while this waits minutes. The
	// same page, read first, ends the sign-in at once with the fix. Any
	// other failure to read it is left to the browser.
	pctx, pcancel := context.WithTimeout(ctx, 15*time.Second)
	err = a.signInPageRefusal(pctx, authURL, redirect)
	pcancel()
	var sr *SignInRequiredError
	if errors.As(err, &sr) && sr.Fix != "" {
		return Session{}, fmt.Errorf("Microsoft sign-in: %w", err)
	}

	if o.NoBrowser {
		fmt.Fprintf(o.Out, "Sign in: %s\n", authURL)
	} else {
		open := o.Browser
		if open == nil {
			open = OpenSystemBrowser
		}
		if err := open(ctx, authURL); err != nil {
			if errors.Is(err, ErrNoBrowser) {
				return Session{}, err
			}
			return Session{}, fmt.Errorf("%w: %v", ErrNoBrowser, err)
		}
		fmt.Fprintln(o.Out, "Continue the sign-in in your browser.")
	}

	timeout := o.Timeout
	if timeout <= 0 {
		timeout = 5 * time.Minute
	}
	timer := time.NewTimer(timeout)
	defer timer.Stop()
	var res loopbackResult
	select {
	case res = <-results:
	case <-ctx.Done():
		return Session{}, fmt.Errorf("Microsoft sign-in: %w", ctx.Err())
	case <-timer.C:
		// Entra shows its refusals of a misregistered app (an
		// unregistered redirect URI, a single-tenant app through
		// organizations, a missing admin consent) as a page in the
		// browser, never sending it back here.
		return Session{}, fmt.Errorf("Microsoft sign-in: nothing came back from the browser within %s "+
			"(if the browser showed an AADSTS error, 'vpconnect check' names the setting to change)", timeout)
	}
	// Shut down gracefully: the browser must get the page that says it may
	// close the window (srv.Close would cut that answer short).
	sctx, scancel := context.WithTimeout(ctx, 3*time.Second)
	_ = srv.Shutdown(sctx)
	scancel()
	if res.err != nil {
		return Session{}, res.err
	}
	form := url.Values{
		"client_id":     {a.ClientID},
		"grant_type":    {"authorization_code"},
		"code":          {res.code},
		"redirect_uri":  {redirect},
		"code_verifier": {verifier},
		"scope":         {a.scope()},
	}
	tok, err := a.token(ctx, form)
	if err != nil {
		return Session{}, fmt.Errorf("Microsoft sign-in: redeem the authorization code: %w", err)
	}
	return a.session(tok)
}

// listenLoopback listens on a free port of 127.0.0.1, and for "localhost"
// also on the same port of ::1 when the system has IPv6 loopback.
func listenLoopback(host string) ([]net.Listener, int, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, 0, err
	}
	port := ln.Addr().(*net.TCPAddr).Port
	lns := []net.Listener{ln}
	if host == "localhost" {
		if ln6, err := net.Listen("tcp", "[::1]:"+strconv.Itoa(port)); err == nil {
			lns = append(lns, ln6)
		}
	}
	return lns, port, nil
}

// redirectHandler answers the browser's redirect: a code with the right
// state is sent to results once; an answer with another state is refused
// (it is not ours: a stale tab, or a forged request) and the wait goes on.
func redirectHandler(state string, results chan<- loopbackResult) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "no-store")
		w.Header().Set("Content-Security-Policy", "default-src 'none'; style-src 'unsafe-inline'")
		w.Header().Set("Referrer-Policy", "no-referrer")
		if r.URL.Path != "/" || r.Method != http.MethodGet {
			http.NotFound(w, r)
			return
		}
		q := r.URL.Query()
		if subtle.ConstantTimeCompare([]byte(q.Get("state")), []byte(state)) != 1 {
			page(w, http.StatusBadRequest, "This sign-in answer does not belong to the sign-in in progress.")
			return
		}
		var res loopbackResult
		switch {
		case q.Get("error") != "":
			desc := firstLine(q.Get("error_description"))
			oe := &OAuthError{Status: http.StatusBadRequest, Code: q.Get("error"), Description: q.Get("error_description")}
			switch {
			case oe.Code == "access_denied" && registrationFix(oe, "") == "":
				res.err = fmt.Errorf("Microsoft sign-in: %w in the browser (%s)", ErrCancelled, desc)
			case registrationFix(oe, "") != "":
				// invalid_scope, invalid_client (a permission Graph does
				// not have), unauthorized_client…: the registration's.
				res.err = fmt.Errorf("Microsoft sign-in: %w", classifyMicrosoft(oe, ""))
			default:
				res.err = signInRequired(Microsoft, "the sign-in page refused: "+q.Get("error"), errors.New(desc))
			}
			page(w, http.StatusOK, "vpconnect could not sign you in to Microsoft 365: "+desc)
		case q.Get("code") == "":
			page(w, http.StatusBadRequest, "The answer carries no authorization code.")
			return
		default:
			res.code = q.Get("code")
			page(w, http.StatusOK, "vpconnect is signed in to Microsoft 365.")
		}
		select {
		case results <- res:
		default: // a second answer (reload): the first counts
		}
	})
}

func page(w http.ResponseWriter, status int, msg string) {
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(status)
	fmt.Fprintf(w, `<!doctype html><meta charset="utf-8"><title>vpconnect</title>`+
		`<body style="font-family:sans-serif;margin:3em"><h1>vpconnect</h1><p>%s</p><p>You can close this window.</p></body>`,
		html.EscapeString(msg))
}

func randomString(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b) // crypto/rand.Read never fails (Go 1.24+)
	return base64.RawURLEncoding.EncodeToString(b)
}

// OpenSystemBrowser opens address in the user's default browser:
// rundll32 url.dll on Windows, open on macOS, xdg-open elsewhere. Without a
// graphical session on Linux it returns ErrNoBrowser at once.
func OpenSystemBrowser(ctx context.Context, address string) error {
	var cmd *exec.Cmd
	switch runtime.GOOS {
	case "windows":
		cmd = exec.CommandContext(ctx, "rundll32", "url.dll,FileProtocolHandler", address)
	case "darwin":
		cmd = exec.CommandContext(ctx, "open", address)
	default:
		if os.Getenv("DISPLAY") == "" && os.Getenv("WAYLAND_DISPLAY") == "" {
			return fmt.Errorf("%w (no DISPLAY or WAYLAND_DISPLAY)", ErrNoBrowser)
		}
		cmd = exec.CommandContext(ctx, "xdg-open", address)
	}
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("%w: %s: %v", ErrNoBrowser, cmd.Args[0], err)
	}
	return nil
}

// deviceAuthorization is the devicecode endpoint's answer
// (testdata/fixtures/identity/devicecode-token-response.json's request).
type deviceAuthorization struct {
	DeviceCode      string `json:"device_code"`
	UserCode        string `json:"user_code"`
	VerificationURI string `json:"verification_uri"`
	ExpiresIn       int    `json:"expires_in"`
	Interval        int    `json:"interval"`
	Message         string `json:"message"`
}

// deviceCode runs the device authorization grant (RFC 8628): the user
// enters a code on another device while this one polls.
func (a MicrosoftApp) deviceCode(ctx context.Context, o SignInOptions) (Session, error) {
	hc := a.client()
	status, header, body, err := postForm(ctx, hc, a.endpoint("devicecode"), url.Values{
		"client_id": {a.ClientID}, "scope": {a.scope()},
	})
	if err != nil {
		return Session{}, fmt.Errorf("Microsoft sign-in: ask for a device code: %w", err)
	}
	if status != http.StatusOK {
		_, err := decodeTokenResponse(status, header, body, time.Now())
		return Session{}, fmt.Errorf("Microsoft sign-in: ask for a device code: %w", classifyMicrosoft(err, grantDeviceCode))
	}
	var da deviceAuthorization
	if err := jsonUnmarshal(body, &da); err != nil || da.DeviceCode == "" || da.UserCode == "" {
		return Session{}, fmt.Errorf("Microsoft sign-in: the device code answer cannot be read: %w", fault.ErrMalformed)
	}
	msg := da.Message
	if msg == "" {
		msg = fmt.Sprintf("To sign in, use a web browser to open the page %s and enter the code %s to authenticate.", da.VerificationURI, da.UserCode)
	}
	fmt.Fprintln(o.Out, msg)

	interval := time.Duration(max(da.Interval, 1)) * time.Second
	expires := time.Duration(da.ExpiresIn) * time.Second
	if expires <= 0 {
		expires = 15 * time.Minute
	}
	ctx, cancel := context.WithTimeout(ctx, expires)
	defer cancel()
	sleep := o.sleep
	if sleep == nil {
		sleep = sleepCtx
	}
	form := url.Values{
		"client_id":   {a.ClientID},
		"grant_type":  {grantDeviceCode},
		"device_code": {da.DeviceCode},
	}
	for {
		if err := sleep(ctx, interval); err != nil {
			if errors.Is(err, context.DeadlineExceeded) && ctx.Err() != nil {
				return Session{}, errors.New("Microsoft sign-in: the code expired before the sign-in was completed")
			}
			return Session{}, fmt.Errorf("Microsoft sign-in: %w", err)
		}
		status, header, body, err := postForm(ctx, hc, a.endpoint("token"), form)
		if err != nil {
			if ctx.Err() != nil {
				return Session{}, fmt.Errorf("Microsoft sign-in: %w", ctx.Err())
			}
			continue // a network blip while the user types the code
		}
		tok, err := decodeTokenResponse(status, header, body, time.Now())
		if err == nil {
			return a.session(tok)
		}
		var oe *OAuthError
		if !errors.As(err, &oe) {
			return Session{}, fmt.Errorf("Microsoft sign-in: %w", err)
		}
		switch {
		case oe.Code == "authorization_pending":
		case oe.Code == "slow_down":
			interval += 5 * time.Second
		case oe.transient():
		case oe.Code == "authorization_declined":
			return Session{}, fmt.Errorf("Microsoft sign-in: %w: the request was declined", ErrCancelled)
		case oe.Code == "expired_token" || oe.Code == "bad_verification_code":
			return Session{}, errors.New("Microsoft sign-in: the code expired before the sign-in was completed")
		default:
			return Session{}, fmt.Errorf("Microsoft sign-in: %w", classifyMicrosoft(err, grantDeviceCode))
		}
	}
}

// session turns a token answer of an interactive sign-in into a Session.
func (a MicrosoftApp) session(tok *oauth2.Token) (Session, error) {
	if tok.RefreshToken == "" {
		return Session{}, errors.New("Microsoft sign-in: no refresh token was issued (is offline_access among the scopes?)")
	}
	rec := Record{Account: Microsoft, RefreshToken: tok.RefreshToken}
	if idt, _ := tok.Extra("id_token").(string); idt != "" {
		if c, err := parseIDToken(idt); err == nil {
			rec.User = firstNonEmpty(c.PreferredUsername, c.UPN, c.Email)
			rec.Name = c.Name
			rec.Tenant = c.TenantID
		}
	}
	return Session{Record: rec, Token: tok}, nil
}

func firstNonEmpty(s ...string) string {
	for _, v := range s {
		if v != "" {
			return v
		}
	}
	return ""
}

// token posts a grant to the token endpoint and classifies the answer.
func (a MicrosoftApp) token(ctx context.Context, form url.Values) (*oauth2.Token, error) {
	status, header, body, err := postForm(ctx, a.client(), a.endpoint("token"), form)
	if err != nil {
		return nil, err
	}
	tok, err := decodeTokenResponse(status, header, body, time.Now())
	if err != nil {
		return nil, classifyMicrosoft(err, form.Get("grant_type"))
	}
	return tok, nil
}

// grantDeviceCode is the device-code grant's grant_type (RFC 8628).
const grantDeviceCode = "urn:ietf:params:oauth:grant-type:device_code"

// classifyMicrosoft sorts an identity-platform failure of a grant
// (grant_type; "" for the browser step): a rejection becomes a
// *SignInRequiredError, a transient failure wraps fault.ErrUnavailable.
func classifyMicrosoft(err error, grant string) error {
	var oe *OAuthError
	if !errors.As(err, &oe) {
		return err
	}
	if fix := registrationFix(oe, grant); fix != "" {
		return &SignInRequiredError{Account: Microsoft, Reason: "refused the app registration", Fix: fix, Err: oe}
	}
	switch {
	case oe.rejects():
		reason := "the sign-in was refused"
		switch oe.Code {
		case "invalid_grant":
			reason = "the sign-in has expired or was revoked"
		case "interaction_required", "login_required", "consent_required":
			reason = "Microsoft asks you to sign in again"
		case "invalid_client", "unauthorized_client":
			reason = "the app registration was refused (check microsoft.clientId and microsoft.tenant)"
		}
		return signInRequired(Microsoft, reason, oe)
	case oe.transient():
		return &transientError{err: oe, retryAfter: oe.RetryAfter}
	}
	return oe
}

// registrationFix names the fix for an answer of a grant (grant_type, ""
// for the browser step) that says the app registration or the tenant is
// wrong, which no sign-in can change: an administrator must change a
// setting. "" for any other answer. The codes are Entra's
// (https://learn.microsoft.com/entra/identity-platform/reference-error-codes).
func registrationFix(oe *OAuthError, grant string) string {
	switch oe.AADSTS() {
	case 50194:
		return "the app is registered for one organization only: set microsoft.tenant to the Directory (tenant) ID shown on the app's Overview page in Entra ID (App registrations), not 'organizations'"
	case 7000218:
		if grant != grantDeviceCode {
			// The browser sign-in's code or refresh token, taken for a
			// confidential client's: the redirect URI is registered
			// under "Web" (msgraph-sdk-powershell issue 2127).
			return "in Entra ID, App registrations > the app > Authentication, remove http://localhost from the platform 'Web' and add it under 'Mobile and desktop applications' (the agent has no client secret)"
		}
		return "in Entra ID, App registrations > the app > Authentication, set 'Allow public client flows' to Yes (the device-code sign-in needs it)"
	case 50011, 500113:
		return "in Entra ID, App registrations > the app > Authentication, add the platform 'Mobile and desktop applications' with the redirect URI http://localhost"
	case 700016:
		return "microsoft.clientId is not an app of this tenant: copy the Application (client) ID from Entra ID > App registrations, and check microsoft.tenant"
	case 90002, 90023:
		return "microsoft.tenant names no Entra ID tenant: set it to the Directory (tenant) ID of the organization"
	case 70011, 650053:
		return "the identity platform does not know a Microsoft Graph permission the agent asks for (" + firstLine(oe.Description) + "): check that microsoft.authorityUrl is the cloud of the tenant, and list the delegated permissions of docs/deployment.md under API permissions"
	case 50105:
		return "the app requires assignment: in Entra ID, Enterprise applications > the app > Users and groups, assign the user (or set 'Assignment required?' to No under Properties)"
	case 53003:
		return "a Conditional Access policy blocks this sign-in: in Entra ID, Sign-in logs name the policy; allow the app (or this device) under Protection > Conditional Access"
	case 7000215, 700025, 700027:
		return "the app must be registered as a public client: in Entra ID, App registrations > the app > Authentication, use the platform 'Mobile and desktop applications' and no client secret"
	case 65001, 90094, 90008:
		return "the organization requires administrator consent: in Entra ID, App registrations > the app > API permissions, choose 'Grant admin consent'"
	}
	switch oe.Code {
	case "invalid_client", "unauthorized_client":
		return "check microsoft.clientId and microsoft.tenant against the app registration in Entra ID (docs/deployment.md)"
	case "invalid_scope":
		return "the app registration does not allow the Microsoft Graph permissions the agent asks for: add the delegated permissions listed in docs/deployment.md"
	case "invalid_request":
		return "the identity platform refused the request (" + firstLine(oe.Description) + "): check microsoft.tenant and microsoft.authorityUrl"
	}
	return ""
}

// refresh trades the record's refresh token for new tokens.
func (a MicrosoftApp) refresh(ctx context.Context, rec Record) (*oauth2.Token, error) {
	return a.token(ctx, url.Values{
		"client_id":     {a.ClientID},
		"grant_type":    {"refresh_token"},
		"refresh_token": {rec.RefreshToken},
		"scope":         {a.scope()},
	})
}
