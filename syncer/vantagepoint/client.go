package vantagepoint

import (
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/oauth2"

	"vpconnect/internal/fault"
	"vpconnect/syncer"
)

// Options configure a Client.
type Options struct {
	// APIURL is the API base, e.g. https://host/vantagepoint/api.
	APIURL string
	// TokenSource gives the bearer token; required for everything but
	// LoginConfig. Wrap it in oauth2.ReuseTokenSource to cache tokens.
	TokenSource oauth2.TokenSource
	// HTTPClient sends the requests; default a client with a 60 s timeout.
	HTTPClient *http.Client
	// PageSize is the number of records asked per listing request; default
	// DefaultPageSize. It must not exceed the server's own cap.
	PageSize int
	// MaxRetries bounds the retries of an idempotent request (GET, PUT,
	// DELETE) after a 429, a 5xx, a malformed answer or a network error;
	// default 3, negative means none. POST is never retried.
	MaxRetries int
	// RetryBase is the first backoff; it doubles per retry, with jitter,
	// up to MaxBackoff. Default 500 ms.
	RetryBase time.Duration
	// MaxBackoff caps a wait between retries, Retry-After included: a
	// server that asks for a longer wait gets an ErrUnavailable instead,
	// for the caller to schedule. Default 30 s.
	MaxBackoff time.Duration
	// Logger receives one debug line per retry; default discards.
	Logger *slog.Logger
	// ZoneFile, when set, keeps the zone the client measured the server's
	// ModDate in (clock.go) between runs.
	ZoneFile string
	// PageCapFile, when set, keeps what the client learned of the server's
	// page cap (pagecap.go) between runs.
	PageCapFile string
}

// DefaultPageSize is the page size when Options.PageSize is 0: large
// enough that 5,000 contacts take 10 requests, small enough that one
// answer stays a few hundred KB.
const DefaultPageSize = 500

// Client talks to one Vantagepoint API as one user. It is safe for
// concurrent use.
type Client struct {
	base     *url.URL
	opts     Options
	requests atomic.Int64
	// pageCap is the most records the server was seen to answer per page
	// (0 until known): a server that caps pages below PageSize must not
	// make a short page look like the end of a listing.
	pageCap atomic.Int64
	capMu   sync.Mutex // orders the writes of PageCapFile
	// clock is what the client measured of the server's zone (clock.go).
	clock serverClock
	// keyField is whether activities have MessageIDField (keyfield.go).
	keyField messageKey
}

var _ syncer.Vantagepoint = (*Client)(nil)

// New checks the options and returns a client.
func New(o Options) (*Client, error) {
	u, err := url.Parse(strings.TrimRight(o.APIURL, "/"))
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("vantagepoint client: API URL %q is not an http(s) URL", o.APIURL)
	}
	if o.HTTPClient == nil {
		o.HTTPClient = &http.Client{Timeout: 60 * time.Second}
	}
	if o.PageSize <= 0 {
		o.PageSize = DefaultPageSize
	}
	if o.MaxRetries == 0 {
		o.MaxRetries = 3
	} else if o.MaxRetries < 0 {
		o.MaxRetries = 0
	}
	if o.RetryBase <= 0 {
		o.RetryBase = 500 * time.Millisecond
	}
	if o.MaxBackoff <= 0 {
		o.MaxBackoff = 30 * time.Second
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	c := &Client{base: u, opts: o}
	c.clock.file = o.ZoneFile
	c.clock.load()
	c.loadPageCap()
	return c, nil
}

// Requests is the number of HTTP requests sent so far, retries included
// (token requests made by the TokenSource are not counted).
func (c *Client) Requests() int64 { return c.requests.Load() }

// call is one API call.
type call struct {
	method string
	path   string // relative to the API URL
	query  url.Values
	body   any
	auth   bool
	// decode, when set, reads a 2xx answer inside the retry loop, so that
	// a malformed answer to an idempotent call is retried like a 5xx.
	decode func([]byte) error
	// date, when set, receives the answer's Date header (the server's
	// clock in UTC), zero when it has none.
	date *time.Time
}

// do sends a call, retrying idempotent ones, and returns the answer's body
// on a 2xx status. Its errors are marked as Vantagepoint's (internal/fault),
// whatever failed: the server, the network or the sign-in.
func (c *Client) do(ctx context.Context, cl call) (_ []byte, err error) {
	defer func() { err = fault.OnSide(fault.Vantagepoint, err) }()
	var payload []byte
	if cl.body != nil {
		var err error
		if payload, err = json.Marshal(cl.body); err != nil {
			return nil, fmt.Errorf("encode request body: %w", err)
		}
	}
	retries := c.opts.MaxRetries
	if cl.method == http.MethodPost {
		// No idempotency key exists: a retried create may duplicate. The
		// engine journals creates and decides (docs/behaviour.md §4.4).
		retries = 0
	}
	for attempt := 0; ; attempt++ {
		body, err := c.once(ctx, cl, payload)
		if err == nil || attempt >= retries || !retryable(err) {
			return body, err
		}
		wait := c.backoff(attempt, err)
		if wait < 0 {
			return nil, err
		}
		c.opts.Logger.Debug("vantagepoint: retrying", "method", cl.method, "path", cl.path, "attempt", attempt+1, "wait", wait, "err", err)
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return nil, fmt.Errorf("%w (gave up waiting to retry: %w)", err, ctx.Err())
		case <-t.C:
		}
	}
}

func retryable(err error) bool {
	return errors.Is(err, syncer.ErrUnavailable) || errors.Is(err, syncer.ErrMalformed)
}

// backoff returns how long to wait before retry attempt+1, or -1 when the
// server asked for longer than MaxBackoff.
func (c *Client) backoff(attempt int, err error) time.Duration {
	var ae *APIError
	if errors.As(err, &ae) && ae.RetryAfter > 0 {
		if ae.RetryAfter > c.opts.MaxBackoff {
			return -1
		}
		return ae.RetryAfter
	}
	d := c.opts.RetryBase << attempt
	d = d/2 + rand.N(d/2+1) // jitter spreads a fleet's retries
	return min(d, c.opts.MaxBackoff)
}

// once sends one attempt.
func (c *Client) once(ctx context.Context, cl call, payload []byte) ([]byte, error) {
	// Paths are built escaped (recordPath, udicHub), so they are joined
	// as they are.
	u, err := url.Parse(c.base.String() + "/" + cl.path)
	if err != nil {
		return nil, fmt.Errorf("build request URL for %s: %w", cl.path, err)
	}
	if len(cl.query) > 0 {
		u.RawQuery = cl.query.Encode()
	}
	var rd io.Reader
	if payload != nil {
		rd = bytes.NewReader(payload)
	}
	req, err := http.NewRequestWithContext(ctx, cl.method, u.String(), rd)
	if err != nil {
		return nil, fmt.Errorf("build request: %w", err)
	}
	req.Header.Set("Accept", "application/json")
	if payload != nil {
		req.Header.Set("Content-Type", "application/json; charset=utf-8")
	}
	if id := applicationID(cl.path); id != "" {
		req.Header.Set(ApplicationIDHeader, id)
	}
	if cl.auth {
		if c.opts.TokenSource == nil {
			return nil, fmt.Errorf("no Vantagepoint token source: %w", syncer.ErrAuthRejected)
		}
		tok, err := c.opts.TokenSource.Token()
		if err != nil {
			return nil, tokenSourceError(err)
		}
		tok.SetAuthHeader(req)
	}
	c.requests.Add(1)
	resp, err := c.opts.HTTPClient.Do(req)
	if err != nil {
		if ctx.Err() != nil {
			return nil, fmt.Errorf("Vantagepoint %s %s: %w", cl.method, cl.path, ctx.Err())
		}
		return nil, fmt.Errorf("Vantagepoint %s %s: %w: %w", cl.method, cl.path, syncer.ErrUnavailable, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 64<<20))
	if err != nil {
		return nil, fmt.Errorf("Vantagepoint %s %s: read answer: %w: %w", cl.method, cl.path, syncer.ErrUnavailable, err)
	}
	if resp.StatusCode >= 200 && resp.StatusCode < 300 {
		if cl.date != nil {
			*cl.date, _ = http.ParseTime(resp.Header.Get("Date"))
		}
		if cl.decode != nil {
			if err := cl.decode(body); err != nil {
				return nil, fmt.Errorf("Vantagepoint %s %s: %w", cl.method, cl.path, err)
			}
		}
		return body, nil
	}
	ae := &APIError{Status: resp.StatusCode, Method: cl.method, Path: cl.path, RetryAfter: retryAfter(resp.Header.Get("Retry-After"))}
	var we wireError
	if json.Unmarshal(body, &we) == nil {
		ae.Message, ae.Detail = we.Message, we.Detail
	} else if len(body) > 0 && resp.StatusCode < 500 && resp.StatusCode != http.StatusTooManyRequests {
		// A 4xx whose body is not JSON is a proxy's page, not the API's.
		return nil, fmt.Errorf("%w; answer is not JSON: %w", ae, syncer.ErrMalformed)
	}
	return nil, ae
}

// retryAfter reads a Retry-After header in seconds or as an HTTP date.
func retryAfter(h string) time.Duration {
	if h == "" {
		return 0
	}
	if n, err := strconv.Atoi(strings.TrimSpace(h)); err == nil && n >= 0 {
		return time.Duration(n) * time.Second
	}
	if t, err := http.ParseTime(h); err == nil {
		if d := time.Until(t); d > 0 {
			return d
		}
	}
	return 0
}

// tokenSourceError classifies a failure to obtain a token: a refused grant
// means the user must sign in again; anything else is worth retrying later.
func tokenSourceError(err error) error {
	if errors.Is(err, syncer.ErrAuthRejected) || errors.Is(err, syncer.ErrUnavailable) || errors.Is(err, syncer.ErrInvalid) {
		return fmt.Errorf("get Vantagepoint token: %w", err)
	}
	var re *oauth2.RetrieveError
	if errors.As(err, &re) {
		if re.ErrorCode == "invalid_grant" || re.ErrorCode == "invalid_client" ||
			(re.Response != nil && (re.Response.StatusCode == 400 || re.Response.StatusCode == 401)) {
			return fmt.Errorf("get Vantagepoint token: %w: %w", syncer.ErrAuthRejected, err)
		}
	}
	return fmt.Errorf("get Vantagepoint token: %w: %w", syncer.ErrUnavailable, err)
}

// LoginConfig is what GET /LoginConfig says about a server.
type LoginConfig struct {
	Databases []LoginDatabase
	Languages []LoginLanguage
	Version   string
}

// LoginDatabase is a database offered at sign-in: Name as the token
// request's database field takes it, Server as the answer suffixed it.
type LoginDatabase struct{ Name, Server string }

// LoginLanguage is a language offered at sign-in.
type LoginLanguage struct{ Culture, Caption string }

// HasDatabase reports whether the server offers the database,
// case-insensitively (SQL Server database names are). A name given with
// its server suffix, as LoginConfig lists it, matches too.
func (lc LoginConfig) HasDatabase(name string) bool {
	want, _ := splitDatabase(name)
	for _, d := range lc.Databases {
		if strings.EqualFold(d.Name, want) {
			return true
		}
	}
	return false
}

// Names lists the offered databases' names.
func (lc LoginConfig) Names() []string {
	var out []string
	for _, d := range lc.Databases {
		out = append(out, d.Name)
	}
	return out
}

// LoginConfig reads the server's sign-in configuration; no token needed.
func (c *Client) LoginConfig(ctx context.Context) (LoginConfig, error) {
	var w wireLoginConfig
	q := url.Values{"include": {loginConfigInclude}}
	_, err := c.do(ctx, call{method: http.MethodGet, path: "LoginConfig", query: q, decode: jsonInto(&w)})
	if err != nil {
		return LoginConfig{}, fmt.Errorf("read login configuration: %w", err)
	}
	var lc LoginConfig
	for _, raw := range w.Databases {
		var s string
		var o struct{ Name, Description string }
		switch {
		case json.Unmarshal(raw, &s) == nil:
			name, server := splitDatabase(s)
			lc.Databases = append(lc.Databases, LoginDatabase{Name: name, Server: server})
		case json.Unmarshal(raw, &o) == nil && o.Name != "":
			lc.Databases = append(lc.Databases, LoginDatabase{Name: o.Name})
		default:
			return LoginConfig{}, fmt.Errorf("read login configuration: %w: a database is %s", syncer.ErrMalformed, raw)
		}
	}
	for _, raw := range w.Languages {
		// Shapes vary by version: a string, or an object with a culture.
		var s string
		var o struct{ Culture, Caption, Name string }
		switch {
		case json.Unmarshal(raw, &s) == nil:
			lc.Languages = append(lc.Languages, LoginLanguage{Culture: s, Caption: s})
		case json.Unmarshal(raw, &o) == nil:
			lc.Languages = append(lc.Languages, LoginLanguage{Culture: o.Culture, Caption: cmp.Or(o.Caption, o.Name)})
		}
	}
	lc.Version = cmp.Or(w.DisplaySoftwareVersion, w.SoftwareVersion)
	return lc, nil
}

// jsonInto returns a decode step that reads a JSON answer into v.
func jsonInto(v any) func([]byte) error {
	return func(b []byte) error {
		if err := json.Unmarshal(b, v); err != nil {
			return fmt.Errorf("%w: %w", syncer.ErrMalformed, err)
		}
		return nil
	}
}

// recordsInto returns a decode step that reads records into *out.
func recordsInto(out *[]Record) func([]byte) error {
	return func(b []byte) error {
		rs, err := DecodeRecords(b)
		*out = rs
		return err
	}
}
