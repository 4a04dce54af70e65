package graph

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"strconv"
	"sync"
	"sync/atomic"
	"time"
)

// Retry policy. Graph's answer to overload is 429 (or 503/504) with
// Retry-After; docs/behaviour.md §4.6 wants a sustained throttle to slow the sync down,
// not fail it, so retries are bounded by total waiting time rather than by a
// small count.
const (
	maxRetryWait      = 10 * time.Minute // total waiting per request before giving up
	maxSingleWait     = 2 * time.Minute  // cap on one Retry-After
	baseBackoff       = time.Second      // backoff without Retry-After: 1, 2, 4, ... s
	maxBackoff        = time.Minute
	maxNetworkRetries = 2 // idempotent requests only
)

// transport sits under kiota's middleware pipeline. It adds the Prefer
// headers every Graph request must carry (docs/behaviour.md §4), bounds concurrency,
// counts requests and retries throttled ones after Retry-After.
type transport struct {
	next     http.RoundTripper
	sem      chan struct{}
	requests atomic.Int64
	log      *slog.Logger

	mu        sync.Mutex
	notBefore time.Time // a 429 pauses every request of this mailbox, not just the one

	// sleep is replaceable in tests.
	sleep func(ctx context.Context, d time.Duration) error
}

func newTransport(next http.RoundTripper, maxConcurrent int, log *slog.Logger) *transport {
	return &transport{next: next, sem: make(chan struct{}, maxConcurrent), log: log, sleep: sleepCtx}
}

// Prefer headers sent with every request: immutable ids survive folder
// moves; UTC dates are what the engine compares.
var standardPrefer = []string{`IdType="ImmutableId"`, `outlook.timezone="UTC"`}

// RoundTrip implements http.RoundTripper.
func (t *transport) RoundTrip(req *http.Request) (*http.Response, error) {
	ctx := req.Context()
	var body []byte
	if req.Body != nil && req.Body != http.NoBody {
		b, err := io.ReadAll(req.Body)
		req.Body.Close()
		if err != nil {
			return nil, fmt.Errorf("reading the request body: %w", err)
		}
		body = b
	}
	idempotent := req.Method == http.MethodGet || req.Method == http.MethodHead
	var waited time.Duration
	netRetries := 0
	for attempt := 0; ; attempt++ {
		if err := t.waitGate(ctx); err != nil {
			return nil, err
		}
		select {
		case t.sem <- struct{}{}:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
		r := req.Clone(ctx)
		for _, p := range standardPrefer {
			r.Header.Add("Prefer", p)
		}
		if body != nil {
			r.Body = io.NopCloser(bytes.NewReader(body))
			r.GetBody = func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(body)), nil }
			r.ContentLength = int64(len(body))
		}
		t.requests.Add(1)
		resp, err := t.next.RoundTrip(r)
		if err != nil {
			<-t.sem
			if ctx.Err() != nil || !idempotent || netRetries >= maxNetworkRetries {
				return nil, err
			}
			netRetries++
			d := backoff(attempt)
			t.log.Debug("graph: network error, retrying", "method", req.Method, "path", req.URL.Path, "in", d, "err", err)
			if err := t.sleep(ctx, d); err != nil {
				return nil, err
			}
			continue
		}
		if !retryable(resp.StatusCode) || (req.Method == http.MethodPost && resp.StatusCode != http.StatusTooManyRequests) {
			// A 503 or 504 to a POST may come after Exchange created the
			// item: sending it again would make two. The engine settles it
			// through its journal and the item's natural key instead. A 429
			// is a refusal before any work, and is retried.
			// Keep the slot until the body is consumed: the server is still
			// busy with this request while it streams the body.
			resp.Body = &releaseBody{ReadCloser: resp.Body, release: func() { <-t.sem }}
			return resp, nil
		}
		d, fromHeader := retryAfter(resp.Header.Get("Retry-After"))
		if !fromHeader {
			d = backoff(attempt)
		}
		if waited+d > maxRetryWait {
			resp.Body = &releaseBody{ReadCloser: resp.Body, release: func() { <-t.sem }}
			t.log.Warn("graph: still throttled after waiting, giving up on this request", "method", req.Method, "path", req.URL.Path, "status", resp.StatusCode, "waited", waited)
			return resp, nil
		}
		_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
		resp.Body.Close()
		<-t.sem
		waited += d
		if resp.StatusCode == http.StatusTooManyRequests {
			t.pause(d)
		}
		t.log.Info("graph: throttled, waiting", "status", resp.StatusCode, "method", req.Method, "path", req.URL.Path, "wait", d)
		if err := t.sleep(ctx, d); err != nil {
			return nil, err
		}
	}
}

func retryable(status int) bool {
	return status == http.StatusTooManyRequests || status == http.StatusServiceUnavailable || status == http.StatusGatewayTimeout
}

// retryAfter parses Retry-After: delta-seconds, fractional as in Graph's
// older samples ("2.128"), or an HTTP date.
func retryAfter(v string) (time.Duration, bool) {
	if v == "" {
		return 0, false
	}
	var d time.Duration
	if f, err := strconv.ParseFloat(v, 64); err == nil && f >= 0 {
		d = time.Duration(min(f, maxSingleWait.Seconds()) * float64(time.Second))
	} else if at, err := http.ParseTime(v); err == nil {
		d = time.Until(at)
	} else {
		return 0, false
	}
	return min(max(d, 0), maxSingleWait), true
}

// backoff is exponential with jitter, for 503s and throttles without
// Retry-After.
func backoff(attempt int) time.Duration {
	d := baseBackoff << min(attempt, 6)
	d = min(d, maxBackoff)
	return d/2 + time.Duration(rand.Int64N(int64(d/2)+1))
}

func (t *transport) pause(d time.Duration) {
	t.mu.Lock()
	if until := time.Now().Add(d); until.After(t.notBefore) {
		t.notBefore = until
	}
	t.mu.Unlock()
}

func (t *transport) waitGate(ctx context.Context) error {
	t.mu.Lock()
	d := time.Until(t.notBefore)
	t.mu.Unlock()
	if d <= 0 {
		return nil
	}
	return t.sleep(ctx, d)
}

func sleepCtx(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return ctx.Err()
	}
	tm := time.NewTimer(d)
	defer tm.Stop()
	select {
	case <-tm.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// releaseBody frees the concurrency slot once, when the body is closed.
type releaseBody struct {
	io.ReadCloser
	once    sync.Once
	release func()
}

func (b *releaseBody) Close() error {
	err := b.ReadCloser.Close()
	b.once.Do(b.release)
	return err
}

var errNoBody = errors.New("the response has no body")
