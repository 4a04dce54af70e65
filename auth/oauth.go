package auth

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"golang.org/x/oauth2"

	"vpconnect/internal/fault"
)

// OAuthError is an error answer of the Microsoft identity platform's token
// or device-code endpoint (RFC 6749 §5.2, with Microsoft's AADSTS text in
// the description).
type OAuthError struct {
	Status      int
	Code        string // error
	Description string // error_description
	// RetryAfter is the server's Retry-After, when it sent one.
	RetryAfter time.Duration
}

func (e *OAuthError) Error() string {
	d := firstLine(e.Description)
	if e.Status == 0 && e.Code == "" {
		// Read from a sign-in page: only the AADSTS text.
		return "identity platform: " + d
	}
	s := fmt.Sprintf("identity platform: %d %s", e.Status, e.Code)
	if d != "" {
		s += ": " + d
	}
	return s
}

// AADSTS returns the Entra error code at the start of the description
// ("AADSTS50194: …"), 0 when there is none.
func (e *OAuthError) AADSTS() int {
	d, ok := strings.CutPrefix(strings.TrimSpace(e.Description), "AADSTS")
	if !ok {
		return 0
	}
	n := 0
	for _, c := range d {
		if c < '0' || c > '9' || n > 1e8 {
			break
		}
		n = n*10 + int(c-'0')
	}
	return n
}

// rejects says whether the answer refuses the credentials for good: only a
// new interactive sign-in helps.
func (e *OAuthError) rejects() bool {
	switch e.Code {
	case "invalid_grant", "interaction_required", "login_required", "consent_required",
		"invalid_client", "unauthorized_client":
		return true
	}
	return e.Status == http.StatusUnauthorized
}

// transient says whether asking again later may work.
func (e *OAuthError) transient() bool {
	return e.Code == "temporarily_unavailable" || e.Status == http.StatusTooManyRequests || e.Status >= 500
}

func firstLine(s string) string {
	s, _, _ = strings.Cut(s, "\r")
	s, _, _ = strings.Cut(s, "\n")
	return strings.TrimSpace(s)
}

// wireToken is a token answer (testdata/fixtures/identity/token-response-authcode.json).
type wireToken struct {
	AccessToken  string          `json:"access_token"`
	TokenType    string          `json:"token_type"`
	ExpiresIn    json.Number     `json:"expires_in"`
	RefreshToken string          `json:"refresh_token"`
	IDToken      string          `json:"id_token"`
	Scope        string          `json:"scope"`
	Error        string          `json:"error"`
	ErrorDesc    string          `json:"error_description"`
	ErrorCodes   json.RawMessage `json:"error_codes"`
}

// maxTokenAnswer bounds a token answer: real ones are a few KiB.
const maxTokenAnswer = 1 << 20

// decodeTokenResponse reads a token endpoint's answer. A 200 without an
// access token is malformed; an error answer is an *OAuthError (or, when the
// body is not OAuth's, an error wrapping fault.ErrUnavailable for 429/5xx
// and fault.ErrMalformed otherwise). It never returns the body in an error:
// a token answer is secret.
func decodeTokenResponse(status int, header http.Header, body []byte, now time.Time) (*oauth2.Token, error) {
	var w wireToken
	jsonErr := json.Unmarshal(body, &w)
	if status != http.StatusOK {
		ra := parseRetryAfter(header.Get("Retry-After"), now)
		if jsonErr == nil && w.Error != "" {
			return nil, &OAuthError{Status: status, Code: w.Error, Description: w.ErrorDesc, RetryAfter: ra}
		}
		if status == http.StatusTooManyRequests || status >= 500 {
			return nil, &OAuthError{Status: status, Code: "http_" + strconv.Itoa(status), RetryAfter: ra}
		}
		return nil, fmt.Errorf("token endpoint answered %d %s without an OAuth error: %w", status, http.StatusText(status), fault.ErrMalformed)
	}
	if jsonErr != nil {
		return nil, fmt.Errorf("token answer is not JSON: %w", fault.ErrMalformed)
	}
	if w.AccessToken == "" {
		return nil, fmt.Errorf("token answer has no access_token: %w", fault.ErrMalformed)
	}
	tok := &oauth2.Token{AccessToken: w.AccessToken, TokenType: w.TokenType, RefreshToken: w.RefreshToken}
	if w.ExpiresIn != "" {
		n, err := strconv.ParseInt(string(w.ExpiresIn), 10, 64)
		if err != nil || n < 0 || n > 10*365*24*3600 {
			return nil, fmt.Errorf("token answer has a bad expires_in: %w", fault.ErrMalformed)
		}
		tok.ExpiresIn = n
		tok.Expiry = now.Add(time.Duration(n) * time.Second)
	}
	if w.IDToken != "" {
		tok = tok.WithExtra(map[string]any{"id_token": w.IDToken})
	}
	return tok, nil
}

// parseRetryAfter reads Retry-After in seconds or as an HTTP date.
func parseRetryAfter(h string, now time.Time) time.Duration {
	h = strings.TrimSpace(h)
	if h == "" {
		return 0
	}
	if n, err := strconv.Atoi(h); err == nil && n >= 0 {
		return time.Duration(n) * time.Second
	}
	if t, err := http.ParseTime(h); err == nil && t.After(now) {
		return t.Sub(now)
	}
	return 0
}

// idClaims are the id_token claims that say who signed in.
type idClaims struct {
	Name              string `json:"name"`
	PreferredUsername string `json:"preferred_username"`
	UPN               string `json:"upn"`
	Email             string `json:"email"`
	TenantID          string `json:"tid"`
}

// parseIDToken reads the claims of an id_token. Its signature is not
// checked: the token came straight from the token endpoint over TLS, which
// OpenID Connect Core §3.1.3.7 accepts in place of it, and it is only used
// to name the account, never to grant anything.
func parseIDToken(tok string) (idClaims, error) {
	parts := strings.Split(tok, ".")
	if len(parts) != 3 {
		return idClaims{}, errors.New("id_token is not a JWT")
	}
	payload, err := base64.RawURLEncoding.DecodeString(strings.TrimRight(parts[1], "="))
	if err != nil {
		return idClaims{}, fmt.Errorf("id_token payload: %w", err)
	}
	var c idClaims
	if err := json.Unmarshal(payload, &c); err != nil {
		return idClaims{}, fmt.Errorf("id_token claims: %w", err)
	}
	return c, nil
}

// postForm sends a form to an identity endpoint and reads the answer. A
// network failure wraps fault.ErrUnavailable.
func postForm(ctx context.Context, hc *http.Client, endpoint string, form url.Values) (int, http.Header, []byte, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, endpoint, strings.NewReader(form.Encode()))
	if err != nil {
		return 0, nil, nil, fmt.Errorf("build the request to %s: %w", redactURL(endpoint), err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Accept", "application/json")
	resp, err := hc.Do(req)
	if err != nil {
		if ctx.Err() != nil {
			return 0, nil, nil, ctx.Err()
		}
		return 0, nil, nil, fmt.Errorf("POST %s: %w: %v", redactURL(endpoint), fault.ErrUnavailable, stripURL(err))
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxTokenAnswer))
	if err != nil {
		return 0, nil, nil, fmt.Errorf("read the answer of %s: %w: %v", redactURL(endpoint), fault.ErrUnavailable, err)
	}
	return resp.StatusCode, resp.Header, body, nil
}

// redactURL drops the query of an address for messages.
func redactURL(u string) string {
	u, _, _ = strings.Cut(u, "?")
	return u
}

// stripURL keeps a *url.Error's cause only: its URL may carry a query.
func stripURL(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		return ue.Err
	}
	return err
}
