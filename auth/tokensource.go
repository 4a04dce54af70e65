package auth

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/http"
	"strings"
	"sync"
	"time"

	"golang.org/x/oauth2"

	"vpconnect/internal/fault"
)

// transientError is a failure worth retrying: network, 5xx, 429,
// temporarily_unavailable. It matches fault.ErrUnavailable.
type transientError struct {
	err        error
	retryAfter time.Duration
}

func (e *transientError) Error() string { return e.err.Error() }

func (e *transientError) Unwrap() []error { return []error{fault.ErrUnavailable, e.err} }

// retryPolicy bounds the retries of a token request.
type retryPolicy struct {
	attempts int           // total tries
	base     time.Duration // first backoff; doubles, with jitter
	max      time.Duration // cap of one wait, Retry-After included
	sleep    func(ctx context.Context, d time.Duration) error
}

// defaultRetry: four tries over about 7 s, so that a token refresh rides out
// a blip without holding a batch (or the lock) for long; a longer outage is
// the scheduler's to wait out.
var defaultRetry = retryPolicy{attempts: 4, base: time.Second, max: 30 * time.Second, sleep: sleepCtx}

// retry runs fn until it succeeds, fails for good, or the tries run out.
// Only errors matching fault.ErrUnavailable are retried.
func retry(ctx context.Context, p retryPolicy, fn func() error) error {
	var err error
	for i := 0; i < p.attempts; i++ {
		if err = fn(); err == nil || !errors.Is(err, fault.ErrUnavailable) || ctx.Err() != nil {
			return err
		}
		if i == p.attempts-1 {
			break
		}
		wait := p.base << i
		wait += time.Duration(rand.Int64N(int64(wait)/4 + 1))
		var te *transientError
		if errors.As(err, &te) && te.retryAfter > wait {
			wait = te.retryAfter
		}
		if wait > p.max {
			// The server asks for more than a token request may wait.
			break
		}
		if serr := p.sleep(ctx, wait); serr != nil {
			return fmt.Errorf("%w (while waiting to retry: %v)", err, serr)
		}
	}
	return err
}

func sleepCtx(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

func jsonUnmarshal(b []byte, v any) error { return json.Unmarshal(b, v) }

// grant is one account's token endpoint, as a TokenSource uses it.
type grant interface {
	// refresh trades rec's refresh token for new tokens.
	refresh(ctx context.Context, rec Record) (*oauth2.Token, error)
	// relogin signs in again without the user when it can (ok false when
	// it cannot).
	relogin(ctx context.Context, rec Record) (tok *oauth2.Token, ok bool, err error)
}

func (a MicrosoftApp) relogin(context.Context, Record) (*oauth2.Token, bool, error) {
	return nil, false, nil
}

// expiryLeeway refreshes an access token this long before it expires, so
// that a request does not leave with a token that dies on the way.
const expiryLeeway = 2 * time.Minute

// recheckRejected is how often a rejected TokenSource looks in the keychain
// for a new sign-in made by another process (vpconnect reauthorize).
const recheckRejected = 10 * time.Second

// TokenSource serves access tokens for one account. It caches the access
// token in memory, refreshes it when it is about to expire, and saves a
// rotated refresh token before handing the new access token out. Before each
// refresh it takes the account's lock file and reads the keychain again, so
// that two processes never spend the same refresh token or lose the newer
// one. After a definitive rejection it answers the same *SignInRequiredError
// without any network call until a new sign-in is saved (or Reset).
//
// It is safe for concurrent use and implements oauth2.TokenSource.
type TokenSource struct {
	account string
	store   *Store
	grant   grant
	ctx     context.Context
	now     func() time.Time
	retry   retryPolicy

	mu       sync.Mutex
	tok      *oauth2.Token
	rt       string // the refresh token behind tok (kept in the keychain too)
	after401 bool   // the service refused the previous token: the next refresh is the last chance
	retried  bool   // tok comes from the refresh after a 401
	rejected *SignInRequiredError
	// rejectedRT is the refresh token that was refused; a record with
	// another one is a new sign-in.
	rejectedRT string
	checkedAt  time.Time
	unsaved    *Record // a rotated record the keychain would not take yet
}

// TokenSource returns the Microsoft account's token source over st. initial,
// when not nil, is the access token of a sign-in just made.
func (a MicrosoftApp) TokenSource(ctx context.Context, st *Store, initial *oauth2.Token) *TokenSource {
	return newTokenSource(ctx, Microsoft, st, a, initial)
}

// TokenSource returns the Vantagepoint account's token source over st.
// initial, when not nil, is the access token of a sign-in just made.
func (a VantagepointApp) TokenSource(ctx context.Context, st *Store, initial *oauth2.Token) *TokenSource {
	return newTokenSource(ctx, Vantagepoint, st, a, initial)
}

func newTokenSource(ctx context.Context, account string, st *Store, g grant, initial *oauth2.Token) *TokenSource {
	ts := &TokenSource{account: account, store: st, grant: g, ctx: ctx, now: time.Now, retry: defaultRetry}
	if initial != nil && initial.AccessToken != "" {
		t := *initial
		ts.rt = t.RefreshToken
		t.RefreshToken = ""
		ts.tok = &t
	}
	return ts
}

// Account is Microsoft or Vantagepoint.
func (ts *TokenSource) Account() string { return ts.account }

// Token returns a valid access token, refreshing it when needed. It
// implements oauth2.TokenSource with the context given at construction.
func (ts *TokenSource) Token() (*oauth2.Token, error) { return ts.TokenContext(ts.ctx) }

// TokenContext is Token with a context for the refresh.
func (ts *TokenSource) TokenContext(ctx context.Context) (*oauth2.Token, error) {
	ts.mu.Lock()
	defer ts.mu.Unlock()
	if ts.unsaved != nil {
		if err := ts.store.Save(ctx, *ts.unsaved); err != nil {
			return nil, fmt.Errorf("keep the rotated %s refresh token: %w", AccountTitle(ts.account), err)
		}
		ts.unsaved = nil
	}
	if ts.rejected != nil && !ts.reauthorizedLocked(ctx) {
		return nil, ts.rejected
	}
	if ts.tok != nil && (ts.tok.Expiry.IsZero() || ts.now().Add(expiryLeeway).Before(ts.tok.Expiry)) {
		return ts.copyLocked(), nil
	}
	if err := ts.store.withLock(ctx, ts.account, func() error { return ts.refreshLocked(ctx) }); err != nil {
		return nil, err
	}
	return ts.copyLocked(), nil
}

func (ts *TokenSource) copyLocked() *oauth2.Token {
	t := *ts.tok
	t.RefreshToken = ""
	return &t
}

// reauthorizedLocked looks (at most every recheckRejected) whether another
// process saved a new sign-in since the rejection. Only the keychain is
// read: a rejected account costs the services nothing.
func (ts *TokenSource) reauthorizedLocked(ctx context.Context) bool {
	now := ts.now()
	if now.Sub(ts.checkedAt) < recheckRejected {
		return false
	}
	ts.checkedAt = now
	rec, err := ts.store.Load(ctx, ts.account)
	if err != nil || rec.RefreshToken == ts.rejectedRT {
		return false
	}
	ts.rejected, ts.rejectedRT, ts.tok, ts.after401 = nil, "", nil, false
	return true
}

// refreshLocked runs with the lock file held: it reads the newest record,
// trades its refresh token and saves the rotated one before returning.
func (ts *TokenSource) refreshLocked(ctx context.Context) error {
	rec, err := ts.store.loadLocked(ts.account)
	switch {
	case errors.Is(err, ErrNotFound):
		ts.reject(signInRequired(ts.account, "not signed in", nil), "")
		return ts.rejected
	case errors.Is(err, ErrDamaged):
		ts.reject(signInRequired(ts.account, "the stored sign-in cannot be read", err), "")
		return ts.rejected
	case err != nil:
		return err
	}
	var tok *oauth2.Token
	err = retry(ctx, ts.retry, func() error {
		var err error
		tok, err = ts.grant.refresh(ctx, rec)
		return err
	})
	var sre *SignInRequiredError
	if errors.As(err, &sre) {
		var relogged bool
		var rerr error
		rerr = retry(ctx, ts.retry, func() error {
			var err error
			tok, relogged, err = ts.grant.relogin(ctx, rec)
			return err
		})
		switch {
		case !relogged:
		case rerr == nil:
			err = nil
		case errors.As(rerr, &sre):
			err = rerr
		default:
			return rerr
		}
	}
	if err != nil {
		if errors.As(err, &sre) {
			ts.reject(sre, rec.RefreshToken)
			return sre
		}
		return fmt.Errorf("refresh the %s token: %w", AccountTitle(ts.account), err)
	}
	if tok.RefreshToken != "" && tok.RefreshToken != rec.RefreshToken {
		rec.RefreshToken = tok.RefreshToken
		if err := ts.store.saveLocked(rec); err != nil {
			// The old refresh token may be spent: keep the new one in memory
			// and refuse to go on until the keychain has it.
			ts.unsaved = &rec
			ts.tok = nil
			return fmt.Errorf("keep the rotated %s refresh token: %w", AccountTitle(ts.account), err)
		}
	}
	t := *tok
	t.RefreshToken = ""
	ts.tok, ts.rt = &t, rec.RefreshToken
	ts.retried, ts.after401 = ts.after401, false
	return nil
}

func (ts *TokenSource) reject(e *SignInRequiredError, refreshToken string) {
	ts.rejected, ts.rejectedRT, ts.checkedAt, ts.tok = e, refreshToken, ts.now(), nil
}

// Reset forgets a rejection and the cached access token, after the caller
// saved a new sign-in for this account in this process.
func (ts *TokenSource) Reset() {
	ts.mu.Lock()
	defer ts.mu.Unlock()
	ts.rejected, ts.rejectedRT, ts.tok, ts.after401, ts.retried = nil, "", nil, false, false
}

// Err returns the rejection the source is holding on to, or nil.
func (ts *TokenSource) Err() error {
	ts.mu.Lock()
	defer ts.mu.Unlock()
	if ts.rejected == nil {
		return nil
	}
	return ts.rejected
}

// Transport wraps base (http.DefaultTransport when nil) so that the token
// source sees the service's answers: a 401 to an access token drops it (the
// next Token refreshes), and a 401 to the token that refresh gave is a
// definitive rejection ("401 after a refresh"). The API clients take it as
// their HTTP client's transport.
func (ts *TokenSource) Transport(base http.RoundTripper) http.RoundTripper {
	if base == nil {
		base = http.DefaultTransport
	}
	return &observingTransport{ts: ts, next: base}
}

type observingTransport struct {
	ts   *TokenSource
	next http.RoundTripper
}

func (t *observingTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	resp, err := t.next.RoundTrip(req)
	if err != nil {
		return resp, err
	}
	h := req.Header.Get("Authorization")
	if len(h) > 7 && strings.EqualFold(h[:7], "bearer ") {
		t.ts.observe(h[7:], resp.StatusCode)
	}
	return resp, err
}

// observe learns from the service's answer to an access token.
func (ts *TokenSource) observe(access string, status int) {
	ts.mu.Lock()
	defer ts.mu.Unlock()
	if ts.tok == nil || ts.tok.AccessToken != access {
		return // an older token's answer
	}
	switch {
	case status == http.StatusUnauthorized && ts.retried:
		// Only a refresh token other than the one behind this access token
		// means a new sign-in.
		ts.reject(signInRequired(ts.account, "the service refused a freshly refreshed token (401)", nil), ts.rt)
	case status == http.StatusUnauthorized:
		ts.tok, ts.after401 = nil, true
	case status < 400:
		ts.retried = false
	}
}
