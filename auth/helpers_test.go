package auth

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"vpconnect/internal/fault"
	"vpconnect/syncer/graph/graphsim"
	"vpconnect/syncer/vantagepoint/vpsim"
)

const testClientID = "6731de76-14a6-49ae-97bc-6eba6914391e"

// counter counts the requests an HTTP client sends, so that tests can say
// "no network call".
type counter struct {
	n    atomic.Int64
	next http.RoundTripper
}

func (c *counter) RoundTrip(r *http.Request) (*http.Response, error) {
	c.n.Add(1)
	return c.next.RoundTrip(r)
}

func countingClient() (*http.Client, *counter) {
	c := &counter{next: http.DefaultTransport}
	return &http.Client{Transport: c, Timeout: 10 * time.Second}, c
}

func newGraph(t *testing.T) *graphsim.Server {
	t.Helper()
	g := graphsim.New(graphsim.Options{ClientID: testClientID,
		User: graphsim.User{DisplayName: "Dana Whitfield", Mail: "dana@contoso.example", UserPrincipalName: "dana@contoso.example"}})
	srv := httptest.NewServer(g)
	t.Cleanup(srv.Close)
	g.SetURL(srv.URL)
	return g
}

func newVP(t *testing.T) *vpsim.Server {
	t.Helper()
	v := vpsim.New(vpsim.Options{Database: "VPTest", ClientID: "vpc", ClientSecret: "vpc-secret"})
	if _, err := v.Start("127.0.0.1:0"); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(v.Close)
	v.AddUser("DWHITFIELD", "s3cret-Password", "00042")
	return v
}

func msApp(g *graphsim.Server, hc *http.Client) MicrosoftApp {
	return MicrosoftApp{ClientID: testClientID, Tenant: "organizations", AuthorityURL: g.AuthorityURL(), HTTPClient: hc}
}

func vpApp(v *vpsim.Server, hc *http.Client) VantagepointApp {
	return VantagepointApp{APIURL: v.APIURL(), Database: "VPTest", ClientID: "vpc", ClientSecret: "vpc-secret", HTTPClient: hc}
}

// follow is a browser: it GETs the address and follows the redirect to the
// loopback listener, as a user's browser would after consenting.
func follow(ctx context.Context, address string) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, address, nil)
	if err != nil {
		return err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK || !strings.Contains(string(body), "You can close this window") {
		return errors.New("the loopback page said: " + resp.Status + " " + string(body))
	}
	return nil
}

// fakeClock is a clock tests move by hand.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func newClock() *fakeClock { return &fakeClock{t: time.Now()} }

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// noSleep records the waits of a retry policy without waiting.
type noSleep struct {
	mu    sync.Mutex
	waits []time.Duration
}

func (s *noSleep) sleep(ctx context.Context, d time.Duration) error {
	s.mu.Lock()
	s.waits = append(s.waits, d)
	s.mu.Unlock()
	return ctx.Err()
}

func testRetry(s *noSleep) retryPolicy {
	p := defaultRetry
	p.sleep = s.sleep
	return p
}

func wantSignInRequired(t *testing.T, err error, account string) *SignInRequiredError {
	t.Helper()
	var sre *SignInRequiredError
	if !errors.As(err, &sre) || sre.Account != account {
		t.Fatalf("err = %v, want a SignInRequiredError for %s", err, account)
	}
	if !errors.Is(err, fault.ErrAuthRejected) {
		t.Fatalf("err = %v does not match fault.ErrAuthRejected", err)
	}
	return sre
}
