package auth

import (
	"bufio"
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"vpconnect/internal/fault"
	"vpconnect/syncer/graph/graphsim"
)

func TestMicrosoftAuthCodeWithPKCEOverLoopback(t *testing.T) {
	g := newGraph(t)
	var authURL string
	browser := func(ctx context.Context, address string) error {
		authURL = address
		return follow(ctx, address)
	}
	var out strings.Builder
	s, err := msApp(g, nil).SignIn(context.Background(), SignInOptions{Browser: browser, Out: &out})
	if err != nil {
		t.Fatalf("SignIn: %v", err)
	}
	u, err := url.Parse(authURL)
	if err != nil {
		t.Fatal(err)
	}
	q := u.Query()
	if q.Get("code_challenge_method") != "S256" || len(q.Get("code_challenge")) != 43 || len(q.Get("state")) < 32 {
		t.Errorf("authorize request lacks PKCE S256 or a strong state: %s", authURL)
	}
	for _, sc := range MicrosoftScopes {
		if !strings.Contains(" "+q.Get("scope")+" ", " "+sc+" ") {
			t.Errorf("scope %q not asked for: %q", sc, q.Get("scope"))
		}
	}
	redirect, _ := url.Parse(q.Get("redirect_uri"))
	// What IT registers (http://localhost) with a free port: Entra
	// ignores only the port of a loopback redirect URI.
	// No path, as MSAL sends it; Entra sends the browser to "/".
	if redirect.Scheme != "http" || redirect.Hostname() != "localhost" || redirect.Port() == "" || redirect.Path != "" || redirect.RawQuery != "" {
		t.Errorf("redirect_uri = %q, want http://localhost:<port>", q.Get("redirect_uri"))
	}
	if s.Record.Account != Microsoft || s.Record.User != "dana@contoso.example" || s.Record.Tenant == "" || s.Record.RefreshToken == "" {
		t.Errorf("record = %+v", s.Record)
	}
	if !g.AccessTokenValid(s.Token.AccessToken) {
		t.Error("the access token is not one graphsim issued")
	}
	// The listener is gone.
	if c, err := net.DialTimeout("tcp", "127.0.0.1:"+redirect.Port(), time.Second); err == nil {
		c.Close()
		t.Errorf("the loopback listener %s is still open", redirect.Host)
	}
}

// A registration matches the redirect URI's scheme, host and path, never
// another host: http://127.0.0.1 is refused where http://localhost is
// registered (the sign-in ends at once with the fix, the browser is not
// opened on an error page), and works where it is.
func TestMicrosoftRedirectMustBeRegistered(t *testing.T) {
	g := newGraph(t)
	opened := false
	browser := func(ctx context.Context, address string) error {
		opened = true
		return follow(ctx, address)
	}
	_, err := msApp(g, nil).SignIn(context.Background(), SignInOptions{Browser: browser, RedirectHost: "127.0.0.1", NoDeviceCode: true})
	sre := wantSignInRequired(t, err, Microsoft)
	if opened || !strings.Contains(sre.Fix, "redirect URI http://localhost") || !strings.Contains(err.Error(), "AADSTS50011: The redirect URI 'http://127.0.0.1:") {
		t.Fatalf("127.0.0.1 against a registered http://localhost: %v (browser opened: %v)", err, opened)
	}
	g2 := graphsim.New(graphsim.Options{ClientID: testClientID, RedirectURIs: []string{"http://127.0.0.1/"}})
	srv := httptest.NewServer(g2)
	t.Cleanup(srv.Close)
	g2.SetURL(srv.URL)
	if _, err := msApp(g2, nil).SignIn(context.Background(), SignInOptions{Browser: follow, RedirectHost: "127.0.0.1"}); err != nil {
		t.Fatalf("127.0.0.1 where it is registered: %v", err)
	}
}

// A misregistered app ends the sign-in with the fix, never a retry.
func TestMicrosoftRegistrationErrorsNameTheFix(t *testing.T) {
	for _, c := range []struct {
		name string
		opts graphsim.Options
		fix  string
	}{
		{"single-tenant app with organizations", graphsim.Options{SingleTenant: true}, "Directory (tenant) ID"},
		{"public client flows off", graphsim.Options{NoPublicClientFlows: true}, "'Allow public client flows' to Yes"},
		{"tenant unknown", graphsim.Options{}, "names no Entra ID tenant"},
		{"consumers", graphsim.Options{}, "Application (client) ID"},
		{"another app's client id", graphsim.Options{}, "Application (client) ID"},
		{"a permission Graph does not have", graphsim.Options{}, "delegated permissions of docs/deployment.md"},
		{"another resource's scope", graphsim.Options{}, "microsoft.authorityUrl"},
	} {
		t.Run(c.name, func(t *testing.T) {
			c.opts.ClientID = testClientID
			g := graphsim.New(c.opts)
			srv := httptest.NewServer(g)
			t.Cleanup(srv.Close)
			g.SetURL(srv.URL)
			var out strings.Builder
			o := SignInOptions{Out: &out, DeviceCode: true}
			o.sleep = func(ctx context.Context, d time.Duration) error { return ctx.Err() }
			app := msApp(g, nil)
			switch c.name {
			case "tenant unknown":
				app.Tenant = "fabrikam.example"
			case "consumers":
				app.Tenant = "consumers"
			case "another app's client id":
				app.ClientID = "00000000-0000-0000-0000-000000000000"
			case "a permission Graph does not have":
				app.Scopes = append([]string{"Mail.Frobnicate"}, MicrosoftScopes...)
			case "another resource's scope":
				app.Scopes = append([]string{"https://outlook.office.com/Mail.Read"}, MicrosoftScopes...)
			}
			_, err := app.SignIn(context.Background(), o)
			var sr *SignInRequiredError
			if !errors.As(err, &sr) || !strings.Contains(sr.Fix, c.fix) || !errors.Is(err, fault.ErrAuthRejected) || errors.Is(err, fault.ErrUnavailable) {
				t.Fatalf("err = %v, want a registration fix mentioning %q", err, c.fix)
			}
			if !strings.Contains(err.Error(), "to fix: ") {
				t.Errorf("the message does not say the fix: %v", err)
			}
		})
	}
}

func TestMicrosoftWrongStateIsRefused(t *testing.T) {
	g := newGraph(t)
	var forged int
	browser := func(ctx context.Context, address string) error {
		u, _ := url.Parse(address)
		q := u.Query()
		// A forged answer with another state reaches the listener first.
		resp, err := http.Get(q.Get("redirect_uri") + "?code=forged&state=not-the-state")
		if err != nil {
			return err
		}
		resp.Body.Close()
		forged = resp.StatusCode
		return follow(ctx, address)
	}
	s, err := msApp(g, nil).SignIn(context.Background(), SignInOptions{Browser: browser})
	if err != nil {
		t.Fatalf("SignIn after a forged answer: %v", err)
	}
	if forged != http.StatusBadRequest {
		t.Errorf("forged answer got %d, want 400", forged)
	}
	if s.Record.RefreshToken == "" {
		t.Error("no refresh token")
	}

	// Only a wrong state comes back: nothing is accepted, the wait ends.
	only := func(ctx context.Context, address string) error {
		u, _ := url.Parse(address)
		resp, err := http.Get(u.Query().Get("redirect_uri") + "?code=forged&state=x")
		if err == nil {
			resp.Body.Close()
		}
		return err
	}
	_, err = msApp(g, nil).SignIn(context.Background(), SignInOptions{Browser: only, Timeout: 200 * time.Millisecond})
	if err == nil || !strings.Contains(err.Error(), "nothing came back") {
		t.Errorf("err = %v, want a timeout", err)
	}
}

func TestMicrosoftUserCancelled(t *testing.T) {
	g := newGraph(t)
	browser := func(ctx context.Context, address string) error {
		u, _ := url.Parse(address)
		q := u.Query()
		v := url.Values{"error": {"access_denied"}, "error_description": {"AADSTS65004: User declined to consent to access the app."}, "state": {q.Get("state")}}
		resp, err := http.Get(q.Get("redirect_uri") + "?" + v.Encode())
		if err != nil {
			return err
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		if !strings.Contains(string(b), "You can close this window") {
			t.Errorf("page = %s", b)
		}
		return nil
	}
	_, err := msApp(g, nil).SignIn(context.Background(), SignInOptions{Browser: browser})
	if !errors.Is(err, ErrCancelled) {
		t.Fatalf("err = %v, want ErrCancelled", err)
	}
}

func TestMicrosoftContextCancelled(t *testing.T) {
	g := newGraph(t)
	ctx, cancel := context.WithCancel(context.Background())
	var redirect string
	browser := func(_ context.Context, address string) error {
		u, _ := url.Parse(address)
		redirect = u.Query().Get("redirect_uri")
		cancel() // the user pressed Ctrl-C
		return nil
	}
	_, err := msApp(g, nil).SignIn(ctx, SignInOptions{Browser: browser})
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v", err)
	}
	u, _ := url.Parse(redirect)
	if c, err := net.DialTimeout("tcp", u.Host, time.Second); err == nil {
		c.Close()
		t.Errorf("listener %s still open after cancellation", u.Host)
	}
}

// lineWatcher is an io.Writer that hands each complete line to fn.
type lineWatcher struct {
	mu  sync.Mutex
	buf strings.Builder
	all strings.Builder
	fn  func(line string)
}

func (w *lineWatcher) Write(p []byte) (int, error) {
	w.mu.Lock()
	w.all.Write(p)
	w.buf.Write(p)
	var lines []string
	for {
		s := w.buf.String()
		i := strings.IndexByte(s, '\n')
		if i < 0 {
			break
		}
		lines = append(lines, s[:i])
		w.buf.Reset()
		w.buf.WriteString(s[i+1:])
	}
	w.mu.Unlock()
	for _, l := range lines {
		w.fn(l)
	}
	return len(p), nil
}

func (w *lineWatcher) String() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.all.String()
}

func TestMicrosoftNoBrowserPrintsSignInLine(t *testing.T) {
	g := newGraph(t)
	errs := make(chan error, 1)
	out := &lineWatcher{fn: func(line string) {
		if u, ok := strings.CutPrefix(line, "Sign in: "); ok {
			go func() { errs <- follow(context.Background(), u) }()
		}
	}}
	browser := func(context.Context, string) error {
		t.Error("the browser was opened despite NoBrowser")
		return nil
	}
	s, err := msApp(g, nil).SignIn(context.Background(), SignInOptions{NoBrowser: true, Browser: browser, Out: out})
	if err != nil {
		t.Fatalf("SignIn: %v\n%s", err, out)
	}
	if err := <-errs; err != nil {
		t.Fatal(err)
	}
	if !regexp.MustCompile(`(?m)^Sign in: http://127\.0\.0\.1:\d+/organizations/oauth2/v2\.0/authorize\?`).MatchString(out.String()) {
		t.Errorf("output = %q", out)
	}
	if s.Record.User == "" {
		t.Error("no user")
	}
}

var userCodeRE = regexp.MustCompile(`enter the code ([A-Z0-9]+)`)

func TestMicrosoftDeviceCodeFlow(t *testing.T) {
	for _, fallback := range []bool{false, true} {
		name := map[bool]string{false: "asked", true: "fallback"}[fallback]
		t.Run(name, func(t *testing.T) {
			g := newGraph(t)
			var out strings.Builder
			polls := 0
			o := SignInOptions{Out: &out, DeviceCode: !fallback}
			if fallback {
				o.Browser = func(context.Context, string) error { return ErrNoBrowser }
			}
			// The "sleep" between polls is where the user acts: the first
			// poll finds the code pending, then the user approves it.
			o.sleep = func(ctx context.Context, d time.Duration) error {
				polls++
				if polls == 2 {
					m := userCodeRE.FindStringSubmatch(out.String())
					if m == nil || !g.ApproveDeviceCode(m[1]) {
						t.Errorf("no approvable user code in %q", out.String())
					}
				}
				return ctx.Err()
			}
			s, err := msApp(g, nil).SignIn(context.Background(), o)
			if err != nil {
				t.Fatalf("SignIn: %v\n%s", err, out.String())
			}
			if !strings.Contains(out.String(), "To sign in, use a web browser to open the page") {
				t.Errorf("the service's message was not shown: %q", out.String())
			}
			if polls != 2 || s.Record.RefreshToken == "" || s.Record.User != "dana@contoso.example" {
				t.Errorf("polls %d, record %+v", polls, s.Record)
			}
		})
	}
}

// The browser sign-in of a misregistered app ends with the fix: an error
// Entra sends back to the redirect URI, or answers when the code is
// redeemed, and one it would show as a page in the browser (which never
// comes back to the listener: the page is read before the browser is
// opened on it).
func TestMicrosoftBrowserSignInRegistrationErrors(t *testing.T) {
	for _, c := range []struct {
		name  string
		setup func(g *graphsim.Server, app *MicrosoftApp) *graphsim.Server
		fix   string
		page  string // the AADSTS code of a page; "" = an answer to the agent
	}{
		{"another resource's scope (sent back)", func(g *graphsim.Server, app *MicrosoftApp) *graphsim.Server {
			app.Scopes = append([]string{"https://outlook.office.com/Mail.Read"}, MicrosoftScopes...)
			return g
		}, "microsoft.authorityUrl", ""},
		{"redirect URI under Web (code redemption)", func(_ *graphsim.Server, app *MicrosoftApp) *graphsim.Server {
			return graphsim.New(graphsim.Options{ClientID: testClientID, RedirectURIs: []string{}, WebRedirect: "http://localhost"})
		}, "'Mobile and desktop applications'", ""},
		{"another app's client id (page)", func(g *graphsim.Server, app *MicrosoftApp) *graphsim.Server {
			app.ClientID = "00000000-0000-0000-0000-000000000000"
			return g
		}, "Application (client) ID", "AADSTS700016"},
		{"admin consent needed (page)", func(g *graphsim.Server, app *MicrosoftApp) *graphsim.Server {
			g.RevokeConsent()
			return g
		}, "'Grant admin consent'", "AADSTS90094"},
		{"no redirect URI registered (page)", func(_ *graphsim.Server, app *MicrosoftApp) *graphsim.Server {
			return graphsim.New(graphsim.Options{ClientID: testClientID, RedirectURIs: []string{}})
		}, "'Mobile and desktop applications' with the redirect URI http://localhost", "AADSTS50011"},
		{"single-tenant app through organizations (page)", func(g *graphsim.Server, app *MicrosoftApp) *graphsim.Server {
			g.SetSingleTenant(true)
			return g
		}, "Directory (tenant) ID", "AADSTS50194"},
	} {
		t.Run(c.name, func(t *testing.T) {
			g := newGraph(t)
			app := msApp(g, nil)
			if g2 := c.setup(g, &app); g2 != g {
				srv := httptest.NewServer(g2)
				t.Cleanup(srv.Close)
				g2.SetURL(srv.URL)
				app.AuthorityURL = g2.AuthorityURL()
			}
			opened := false
			browser := func(ctx context.Context, address string) error {
				opened = true
				return followAny(ctx, address)
			}
			var out strings.Builder
			_, err := app.SignIn(context.Background(), SignInOptions{Browser: browser, NoDeviceCode: true, Out: &out, Timeout: time.Hour})
			sre := wantSignInRequired(t, err, Microsoft)
			if !strings.Contains(sre.Fix, c.fix) || errors.Is(err, fault.ErrUnavailable) {
				t.Errorf("err = %v; want a fix with %q", err, c.fix)
			}
			if c.page != "" && (opened || !strings.Contains(err.Error(), c.page)) {
				t.Errorf("a refusal shown as a page: browser opened %v, err %v; want %s without the browser", opened, err, c.page)
			}
		})
	}
}

// followAny GETs the address and follows redirects whatever the page says.
func followAny(ctx context.Context, address string) error {
	resp, err := http.Get(address)
	if err != nil {
		return err
	}
	_, _ = io.Copy(io.Discard, bufio.NewReader(resp.Body))
	return resp.Body.Close()
}
