package auth

import (
	"context"
	"errors"
	"fmt"
	"html"
	"io"
	"math/rand/v2"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"time"

	"golang.org/x/oauth2"

	"vpconnect/internal/fault"
)

// CheckStep is one line of [MicrosoftApp.Check]: what was asked, what the
// identity platform answered, and when it failed, the fix.
type CheckStep struct {
	Name   string
	OK     bool
	Detail string
	// Fix is the setting to change (which, where) when the answer says the
	// app registration or the configuration is wrong.
	Fix string
	// Err is the failure, nil when OK. A *SignInRequiredError with Fix
	// is a misregistered app; fault.ErrUnavailable is a platform that
	// could not be asked (network, 5xx): try again later.
	Err error
}

// Check asks the identity platform, without a user, whether the agent can
// sign in with this configuration, one question a step: the authority and
// tenant (the OpenID configuration document), the sign-in page for the
// redirect URI the agent sends, and the device-code sign-in (client id,
// tenant, permissions, public client flows). A step after a failed
// authority step is not asked. Each failure says which kind it is: a
// misregistered app (the fix names the setting), a configuration that
// points elsewhere, or a platform that could not be reached.
func (a MicrosoftApp) Check(ctx context.Context) []CheckStep {
	auth := a.checkAuthority(ctx)
	page := CheckStep{Name: "sign-in page accepts the redirect URI http://localhost"}
	device := CheckStep{Name: "device-code sign-in (client id, permissions, public client flows)"}
	if !auth.OK {
		page.Detail, device.Detail = "not asked: fix the line above first", "not asked: fix the line above first"
		page.Err, device.Err = errors.New(page.Detail), errors.New(device.Detail)
		return []CheckStep{auth, page, device}
	}
	page.Err = a.checkSignInPage(ctx)
	device.Err = a.checkDeviceCode(ctx)
	for _, st := range []*CheckStep{&page, &device} {
		st.OK = st.Err == nil
		st.Detail, st.Fix = describeCheck(st.Err, a)
	}
	return []CheckStep{auth, page, device}
}

// CheckRegistration asks the identity platform whether this app
// registration can sign users in, without a user: the sign-in page for the
// redirect URI the agent sends (http://localhost:<port>), then a device
// code, redeemed once (the expected answer is authorization_pending). nil
// means each answered as a good registration does; a *SignInRequiredError
// with Fix names the setting to change; other errors mean the platform
// could not be asked. The unused code expires by itself.
func (a MicrosoftApp) CheckRegistration(ctx context.Context) error {
	if err := a.checkSignInPage(ctx); err != nil {
		return err
	}
	return a.checkDeviceCode(ctx)
}

func describeCheck(err error, a MicrosoftApp) (detail, fix string) {
	if err == nil {
		return "", ""
	}
	var sr *SignInRequiredError
	switch {
	case errors.As(err, &sr) && sr.Fix != "":
		return "the identity platform refused the app registration: " + firstLine(err.Error()), sr.Fix
	case errors.Is(err, fault.ErrUnavailable):
		return firstLine(err.Error()), "the identity platform could not be asked now (not a registration problem): check that this computer reaches " + hostOf(a.AuthorityURL) + " (proxy, firewall), then run the check again"
	}
	return firstLine(err.Error()), "check microsoft.authorityUrl (" + a.AuthorityURL + ") and microsoft.tenant (" + a.tenant() + ")"
}

func hostOf(u string) string {
	if p, err := url.Parse(u); err == nil && p.Host != "" {
		return p.Host
	}
	return u
}

func (a MicrosoftApp) tenant() string {
	if a.Tenant == "" {
		return "organizations"
	}
	return a.Tenant
}

// checkAuthority reads the tenant's OpenID configuration document: it
// tells an unreachable authority, an address that is not an identity
// platform, and a tenant that does not exist (AADSTS90002) apart.
func (a MicrosoftApp) checkAuthority(ctx context.Context) CheckStep {
	doc := strings.TrimRight(a.AuthorityURL, "/") + "/" + url.PathEscape(a.tenant()) + "/v2.0/.well-known/openid-configuration"
	st := CheckStep{Name: "identity platform and tenant " + a.tenant()}
	fail := func(err error, fix string) CheckStep {
		st.Err, st.Detail, st.Fix = err, firstLine(err.Error()), fix
		return st
	}
	if a.ClientID == "" || a.AuthorityURL == "" {
		return fail(errors.New("microsoft.clientId or microsoft.authorityUrl is not set"),
			"register the app as docs/deployment.md says and set microsoft.clientId (microsoft.authorityUrl is https://login.microsoftonline.com)")
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, doc, nil)
	if err != nil {
		return fail(fmt.Errorf("build the request to %s: %w", redactURL(doc), err), "check microsoft.authorityUrl ("+a.AuthorityURL+")")
	}
	resp, err := a.client().Do(req)
	if err != nil {
		return fail(unavailable("read "+redactURL(doc), err),
			"the identity platform cannot be reached (not a registration problem): check that this computer reaches "+hostOf(a.AuthorityURL)+" (proxy, firewall) and microsoft.authorityUrl")
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	var oc struct {
		Issuer        string `json:"issuer"`
		Authorization string `json:"authorization_endpoint"`
		Token         string `json:"token_endpoint"`
	}
	switch {
	case resp.StatusCode == http.StatusOK && jsonUnmarshal(body, &oc) == nil && oc.Authorization != "" && oc.Token != "":
		st.OK, st.Detail = true, "issuer "+oc.Issuer
		return st
	case resp.StatusCode >= 500 || resp.StatusCode == http.StatusTooManyRequests:
		return fail(unavailable("read "+redactURL(doc), fmt.Errorf("%s", resp.Status)),
			"the identity platform is unavailable right now (not a registration problem): run the check again later")
	}
	if _, err := decodeTokenResponse(resp.StatusCode, resp.Header, body, time.Now()); err != nil {
		var oe *OAuthError
		if errors.As(err, &oe) && oe.Code != "" {
			if fix := registrationFix(oe, ""); fix != "" {
				return fail(&SignInRequiredError{Account: Microsoft, Reason: "refused the app registration", Fix: fix, Err: oe}, fix)
			}
		}
	}
	return fail(fmt.Errorf("%s answered %s without an OpenID configuration", redactURL(doc), resp.Status),
		"microsoft.authorityUrl ("+a.AuthorityURL+") is not a Microsoft identity platform: use https://login.microsoftonline.com (or the national cloud's)")
}

// pageCode finds an Entra error code named on a sign-in page: its error
// pages carry "AADSTS<n>: <message>" in their text.
var pageCode = regexp.MustCompile(`AADSTS(\d{4,9}):?\s*([^"<\\]*)`)

// checkSignInPage opens the sign-in page as the agent's browser would,
// with the redirect URI the agent sends, and reads, without following
// any redirect, whether Entra shows an error page for the registration
// (AADSTS50011 unregistered redirect URI, AADSTS50194, AADSTS700016,
// AADSTS90094 admin approval needed…) or sends an error back to the
// redirect URI. Entra shows these as a page, never as an answer the
// agent's loopback listener would receive; a good registration shows the
// sign-in form. Only codes that name a registration fix count: the page is
// written for people, not programs.
func (a MicrosoftApp) checkSignInPage(ctx context.Context) error {
	redirect := "http://localhost:" + strconv.Itoa(49152+rand.IntN(16383))
	q := url.Values{
		"client_id": {a.ClientID}, "response_type": {"code"}, "redirect_uri": {redirect}, "response_mode": {"query"},
		"scope": {a.scope()}, "state": {randomString(16)}, "prompt": {"select_account"},
		"code_challenge": {oauth2.S256ChallengeFromVerifier(oauth2.GenerateVerifier())}, "code_challenge_method": {"S256"},
	}
	return a.signInPageRefusal(ctx, a.endpoint("authorize")+"?"+q.Encode(), redirect)
}

// signInPageRefusal opens authURL without following redirects and reads
// whether Entra refuses the registration there (see checkSignInPage): a
// *SignInRequiredError with Fix when it does, fault.ErrUnavailable when
// the page could not be had, nil otherwise.
func (a MicrosoftApp) signInPageRefusal(ctx context.Context, authURL, redirect string) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, authURL, nil)
	if err != nil {
		return fmt.Errorf("open the sign-in page: %w", err)
	}
	hc := *a.client()
	hc.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	resp, err := hc.Do(req)
	if err != nil {
		return unavailable("open the sign-in page", stripURL(err))
	}
	defer resp.Body.Close()
	if loc, err := resp.Location(); err == nil && strings.HasPrefix(loc.String(), redirect) {
		// Sent back to the agent: with a code (the simulator signs in at
		// once) or with an error for the agent.
		if e := loc.Query().Get("error"); e != "" {
			oe := &OAuthError{Status: http.StatusBadRequest, Code: e, Description: loc.Query().Get("error_description")}
			return fmt.Errorf("the sign-in page sent back: %w", classifyMicrosoft(oe, ""))
		}
		return nil
	}
	if resp.StatusCode >= 500 || resp.StatusCode == http.StatusTooManyRequests {
		return unavailable("open the sign-in page", fmt.Errorf("%s", resp.Status))
	}
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 4<<20))
	for _, m := range pageCode.FindAllSubmatch(body, -1) {
		oe := &OAuthError{Description: "AADSTS" + string(m[1]) + ": " + strings.TrimSpace(html.UnescapeString(string(m[2])))}
		if fix := registrationFix(oe, ""); fix != "" {
			return fmt.Errorf("the sign-in page shows %w", &SignInRequiredError{Account: Microsoft, Reason: "refused the app registration", Fix: fix, Err: oe})
		}
	}
	return nil
}

// checkDeviceCode asks for a device code (which tells a wrong tenant,
// client id or permission) and redeems it once (which tells whether public
// client flows are allowed; the expected answer is authorization_pending).
func (a MicrosoftApp) checkDeviceCode(ctx context.Context) error {
	hc := a.client()
	status, header, body, err := postForm(ctx, hc, a.endpoint("devicecode"), url.Values{
		"client_id": {a.ClientID}, "scope": {a.scope()},
	})
	if err != nil {
		return unavailable("ask for a device code", err)
	}
	if status != http.StatusOK {
		_, err := decodeTokenResponse(status, header, body, time.Now())
		return fmt.Errorf("ask for a device code: %w", classifyMicrosoft(err, grantDeviceCode))
	}
	var da deviceAuthorization
	if err := jsonUnmarshal(body, &da); err != nil || da.DeviceCode == "" {
		return fmt.Errorf("the device code answer cannot be read: %w", fault.ErrMalformed)
	}
	status, header, body, err = postForm(ctx, hc, a.endpoint("token"), url.Values{
		"client_id":   {a.ClientID},
		"grant_type":  {grantDeviceCode},
		"device_code": {da.DeviceCode},
	})
	if err != nil {
		return unavailable("redeem the device code", err)
	}
	_, err = decodeTokenResponse(status, header, body, time.Now())
	var oe *OAuthError
	if errors.As(err, &oe) && oe.Code == "authorization_pending" {
		return nil
	}
	if err == nil {
		return fmt.Errorf("redeem the device code: a token was issued without a user: %w", fault.ErrMalformed)
	}
	return fmt.Errorf("redeem the device code: %w", classifyMicrosoft(err, grantDeviceCode))
}
