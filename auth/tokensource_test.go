package auth

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"vpconnect/internal/fault"
	"vpconnect/syncer/graph/graphsim"
	"vpconnect/syncer/vantagepoint/vpsim"
)

// signedInVP signs in to vpsim and saves the record, as activation does.
func signedInVP(t *testing.T, v *vpsim.Server, app VantagepointApp, st *Store) Session {
	t.Helper()
	s, err := app.SignIn(context.Background(), "DWHITFIELD", "s3cret-Password")
	if err != nil {
		t.Fatalf("Vantagepoint SignIn: %v", err)
	}
	if err := st.Save(context.Background(), s.Record); err != nil {
		t.Fatal(err)
	}
	return s
}

func signedInMS(t *testing.T, g *graphsim.Server, st *Store) Session {
	t.Helper()
	s, err := msApp(g, nil).SignIn(context.Background(), SignInOptions{Browser: follow})
	if err != nil {
		t.Fatalf("Microsoft SignIn: %v", err)
	}
	if err := st.Save(context.Background(), s.Record); err != nil {
		t.Fatal(err)
	}
	return s
}

func newTestStore(t *testing.T) (*Store, *MemoryKeychain) {
	kc := NewMemoryKeychain()
	return NewStore(kc, t.TempDir()), kc
}

func TestVantagepointSignIn(t *testing.T) {
	v := newVP(t)
	app := vpApp(v, nil)
	s, err := app.SignIn(context.Background(), "DWHITFIELD", "s3cret-Password")
	if err != nil {
		t.Fatal(err)
	}
	r := s.Record
	if r.Account != Vantagepoint || r.Username != "DWHITFIELD" || r.Database != "VPTest" || r.URL != v.APIURL() || r.RefreshToken == "" {
		t.Errorf("record = %+v", r)
	}
	if r.Password != "" {
		t.Error("the password is kept although policy does not allow it")
	}
	app.KeepPassword = true
	if s, _ := app.SignIn(context.Background(), "DWHITFIELD", "s3cret-Password"); s.Record.Password != "s3cret-Password" {
		t.Error("KeepPassword did not keep the password")
	}

	_, err = app.SignIn(context.Background(), "DWHITFIELD", "wrong")
	if sre := wantSignInRequired(t, err, Vantagepoint); !strings.Contains(sre.Reason, "password") {
		t.Errorf("reason = %q", sre.Reason)
	}
	if strings.Contains(err.Error(), "wrong") {
		t.Errorf("the error shows the password: %v", err)
	}
	v.DisableUser("DWHITFIELD", true)
	_, err = app.SignIn(context.Background(), "DWHITFIELD", "s3cret-Password")
	if sre := wantSignInRequired(t, err, Vantagepoint); !strings.Contains(sre.Reason, "disabled") {
		t.Errorf("reason = %q", sre.Reason)
	}
	bad := vpApp(v, nil)
	bad.ClientSecret = "nope"
	v.DisableUser("DWHITFIELD", false)
	_, err = bad.SignIn(context.Background(), "DWHITFIELD", "s3cret-Password")
	wantSignInRequired(t, err, Vantagepoint)
}

func TestRotatedRefreshTokenIsSavedAtOnce(t *testing.T) {
	v := newVP(t)
	st, _ := newTestStore(t)
	app := vpApp(v, nil)
	s := signedInVP(t, v, app, st)
	clock := newClock()
	ts := app.TokenSource(context.Background(), st, s.Token)
	ts.now = clock.Now

	tok, err := ts.Token()
	if err != nil || tok.AccessToken != s.Token.AccessToken || tok.RefreshToken != "" {
		t.Fatalf("first Token = %+v, %v; want the sign-in's access token without refresh token", tok, err)
	}
	before := v.TokenRequests()
	clock.Advance(vpsim.AccessTokenLifetime)
	tok2, err := ts.Token()
	if err != nil {
		t.Fatal(err)
	}
	if tok2.AccessToken == tok.AccessToken || v.TokenRequests() != before+1 {
		t.Errorf("no refresh happened (%d token requests)", v.TokenRequests()-before)
	}
	rec, err := st.Load(context.Background(), Vantagepoint)
	if err != nil {
		t.Fatal(err)
	}
	if rec.RefreshToken == s.Record.RefreshToken {
		t.Fatal("the rotated refresh token was not saved")
	}
	if rec.Username != "DWHITFIELD" || rec.URL != v.APIURL() {
		t.Errorf("the identity was lost on rotation: %+v", rec)
	}
	// The saved one works (vpsim spends a refresh token on use).
	if _, err := app.refresh(context.Background(), rec); err != nil {
		t.Errorf("the saved refresh token does not work: %v", err)
	}
}

// Two processes (two TokenSources over one keychain and one data dir) keep
// refreshing at once against refresh tokens that are single-use: neither
// may ever present a spent one, and the keychain ends with a live one.
func TestTwoProcessesRefreshingAtOnce(t *testing.T) {
	v := newVP(t)
	dir := t.TempDir()
	kc := NewMemoryKeychain()
	app := vpApp(v, nil)
	s := signedInVP(t, v, app, NewStore(kc, dir))

	const rounds = 40
	var wg sync.WaitGroup
	errs := make(chan error, 2*rounds)
	for p := 0; p < 2; p++ {
		st := NewStore(kc, dir) // each process its own store and lock file handle
		ts := app.TokenSource(context.Background(), st, s.Token)
		clock := newClock()
		ts.now = clock.Now
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < rounds; i++ {
				clock.Advance(vpsim.AccessTokenLifetime) // every call refreshes
				if _, err := ts.Token(); err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Errorf("a process failed to refresh: %v", err)
	}
	rec, err := NewStore(kc, dir).Load(context.Background(), Vantagepoint)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := app.refresh(context.Background(), rec); err != nil {
		t.Errorf("the newest refresh token was lost: %v", err)
	}
	if n := v.TokenRequests(); n < 2*rounds {
		t.Errorf("%d token requests, want at least %d", n, 2*rounds)
	}
}

// Without the re-read under the lock, the second process would present the
// refresh token the first one already spent: this is what the test above
// guards against, shown directly.
func TestStaleRefreshTokenIsReplacedByTheKeychainsNewerOne(t *testing.T) {
	v := newVP(t)
	st, _ := newTestStore(t)
	app := vpApp(v, nil)
	s := signedInVP(t, v, app, st)
	a := app.TokenSource(context.Background(), st, nil)
	b := app.TokenSource(context.Background(), st, nil)
	if _, err := a.Token(); err != nil { // spends the sign-in's refresh token
		t.Fatal(err)
	}
	if _, err := app.refresh(context.Background(), s.Record); err == nil {
		t.Fatal("vpsim accepted a spent refresh token; the test proves nothing")
	}
	if _, err := b.Token(); err != nil {
		t.Fatalf("the second process used a stale refresh token: %v", err)
	}
}

func TestRejectionsAreFinalAndCostNoRequests(t *testing.T) {
	cases := []struct {
		name    string
		account string
		setup   func(t *testing.T) (ts *TokenSource, cnt *counter, breakIt func())
		// fix is part of the Fix an administrator's refusal names.
		fix string
	}{
		{"microsoft revoked", Microsoft, func(t *testing.T) (*TokenSource, *counter, func()) {
			g := newGraph(t)
			st, _ := newTestStore(t)
			s := signedInMS(t, g, st)
			hc, cnt := countingClient()
			ts := msApp(g, hc).TokenSource(context.Background(), st, s.Token)
			return ts, cnt, g.RevokeRefreshTokens
		}, ""},
		// An administrator's refusals: the same, with the setting to change.
		{"microsoft consent revoked", Microsoft, func(t *testing.T) (*TokenSource, *counter, func()) {
			g := newGraph(t)
			st, _ := newTestStore(t)
			s := signedInMS(t, g, st)
			hc, cnt := countingClient()
			return msApp(g, hc).TokenSource(context.Background(), st, s.Token), cnt, g.RevokeConsent
		}, "'Grant admin consent'"},
		{"microsoft app made single-tenant", Microsoft, func(t *testing.T) (*TokenSource, *counter, func()) {
			g := newGraph(t)
			st, _ := newTestStore(t)
			s := signedInMS(t, g, st)
			hc, cnt := countingClient()
			return msApp(g, hc).TokenSource(context.Background(), st, s.Token), cnt, func() { g.SetSingleTenant(true) }
		}, "Directory (tenant) ID"},
		{"vantagepoint revoked", Vantagepoint, func(t *testing.T) (*TokenSource, *counter, func()) {
			v := newVP(t)
			st, _ := newTestStore(t)
			s := signedInVP(t, v, vpApp(v, nil), st)
			hc, cnt := countingClient()
			return vpApp(v, hc).TokenSource(context.Background(), st, s.Token), cnt, v.RevokeTokens
		}, ""},
		{"vantagepoint login disabled, password kept", Vantagepoint, func(t *testing.T) (*TokenSource, *counter, func()) {
			v := newVP(t)
			st, _ := newTestStore(t)
			app := vpApp(v, nil)
			app.KeepPassword = true
			s := signedInVP(t, v, app, st)
			hc, cnt := countingClient()
			app.HTTPClient = hc
			return app.TokenSource(context.Background(), st, s.Token), cnt, func() { v.DisableUser("DWHITFIELD", true) }
		}, ""},
		{"vantagepoint password changed, password kept", Vantagepoint, func(t *testing.T) (*TokenSource, *counter, func()) {
			v := newVP(t)
			st, _ := newTestStore(t)
			app := vpApp(v, nil)
			app.KeepPassword = true
			s := signedInVP(t, v, app, st)
			hc, cnt := countingClient()
			app.HTTPClient = hc
			return app.TokenSource(context.Background(), st, s.Token), cnt, func() {
				v.RevokeTokens()
				v.SetPassword("DWHITFIELD", "another")
			}
		}, ""},
		{"not signed in", Vantagepoint, func(t *testing.T) (*TokenSource, *counter, func()) {
			v := newVP(t)
			st, _ := newTestStore(t)
			hc, cnt := countingClient()
			return vpApp(v, hc).TokenSource(context.Background(), st, nil), cnt, func() {}
		}, ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			ts, cnt, breakIt := c.setup(t)
			clock := newClock()
			ts.now = clock.Now
			breakIt()
			clock.Advance(2 * time.Hour)
			_, err := ts.Token()
			sre := wantSignInRequired(t, err, c.account)
			if !strings.Contains(sre.Fix, c.fix) || (c.fix == "") != (sre.Fix == "") {
				t.Errorf("fix %q; want one with %q", sre.Fix, c.fix)
			}
			n := cnt.n.Load()
			for i := 0; i < 5; i++ {
				clock.Advance(time.Hour)
				_, err2 := ts.Token()
				if err2 != error(ts.rejected) || err2.Error() != err.Error() {
					t.Fatalf("call %d: %v, want the same rejection", i, err2)
				}
			}
			if d := cnt.n.Load() - n; d != 0 {
				t.Errorf("%d requests after the rejection, want none", d)
			}
		})
	}
}

func TestKeptPasswordSignsInAgain(t *testing.T) {
	v := newVP(t)
	st, _ := newTestStore(t)
	app := vpApp(v, nil)
	app.KeepPassword = true
	s := signedInVP(t, v, app, st)
	ts := app.TokenSource(context.Background(), st, s.Token)
	clock := newClock()
	ts.now = clock.Now
	v.RevokeTokens()
	clock.Advance(time.Hour)
	if _, err := ts.Token(); err != nil {
		t.Fatalf("re-login with the kept password: %v", err)
	}
	// Policy turned it off since: the kept password is not used.
	app.KeepPassword = false
	ts2 := app.TokenSource(context.Background(), st, nil)
	v.RevokeTokens()
	_, err := ts2.Token()
	wantSignInRequired(t, err, Vantagepoint)
}

func TestReauthorizationEndsTheRejection(t *testing.T) {
	v := newVP(t)
	st, _ := newTestStore(t)
	app := vpApp(v, nil)
	signedInVP(t, v, app, st)
	ts := app.TokenSource(context.Background(), st, nil)
	clock := newClock()
	ts.now = clock.Now
	v.RevokeTokens()
	if _, err := ts.Token(); err == nil {
		t.Fatal("no rejection")
	}
	// Another process (vpconnect reauthorize) signs in again.
	signedInVP(t, v, app, NewStore(st.kc, st.dir))
	clock.Advance(recheckRejected)
	if _, err := ts.Token(); err != nil {
		t.Fatalf("after re-authorization: %v", err)
	}
}

func Test401AfterRefreshIsARejection(t *testing.T) {
	v := newVP(t)
	st, _ := newTestStore(t)
	app := vpApp(v, nil)
	s := signedInVP(t, v, app, st)
	ts := app.TokenSource(context.Background(), st, s.Token)
	var calls int
	api := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		calls++
		w.WriteHeader(http.StatusUnauthorized)
	}))
	defer api.Close()
	hc := &http.Client{Transport: ts.Transport(nil)}
	get := func() error {
		tok, err := ts.Token()
		if err != nil {
			return err
		}
		req, _ := http.NewRequest(http.MethodGet, api.URL, nil)
		tok.SetAuthHeader(req)
		resp, err := hc.Do(req)
		if err != nil {
			return err
		}
		resp.Body.Close()
		return nil
	}
	if err := get(); err != nil { // 401 to the sign-in's token: refresh next time
		t.Fatal(err)
	}
	if err := get(); err != nil { // refreshed, 401 again: definitive
		t.Fatal(err)
	}
	_, err := ts.Token()
	if sre := wantSignInRequired(t, err, Vantagepoint); !strings.Contains(sre.Reason, "401") {
		t.Errorf("reason = %q", sre.Reason)
	}
	if calls != 2 {
		t.Errorf("%d API calls", calls)
	}
}

func TestTransientFailuresAreRetriedThenUnavailable(t *testing.T) {
	t.Run("microsoft 503 twice then success", func(t *testing.T) {
		g := newGraph(t)
		st, _ := newTestStore(t)
		signedInMS(t, g, st)
		var sl noSleep
		ts := msApp(g, nil).TokenSource(context.Background(), st, nil)
		ts.retry = testRetry(&sl)
		g.InjectFault(graphsim.Fault{Method: http.MethodPost, PathContains: "/oauth2/v2.0/token", Status: 503, Times: 2})
		if _, err := ts.Token(); err != nil {
			t.Fatalf("Token: %v", err)
		}
		if len(sl.waits) != 2 || sl.waits[1] < sl.waits[0] {
			t.Errorf("waits = %v, want two growing ones", sl.waits)
		}
	})
	t.Run("vantagepoint 429 with Retry-After", func(t *testing.T) {
		v := newVP(t)
		st, _ := newTestStore(t)
		signedInVP(t, v, vpApp(v, nil), st)
		var sl noSleep
		ts := vpApp(v, nil).TokenSource(context.Background(), st, nil)
		ts.retry = testRetry(&sl)
		v.InjectFault(vpsim.Fault{Method: http.MethodPost, PathContains: "/token", Status: 429, RetryAfter: 7 * time.Second, Times: 1})
		if _, err := ts.Token(); err != nil {
			t.Fatalf("Token: %v", err)
		}
		if len(sl.waits) != 1 || sl.waits[0] != 7*time.Second {
			t.Errorf("waits = %v, want Retry-After's 7s", sl.waits)
		}
	})
	t.Run("vantagepoint down", func(t *testing.T) {
		v := newVP(t)
		st, _ := newTestStore(t)
		signedInVP(t, v, vpApp(v, nil), st)
		var sl noSleep
		hc, cnt := countingClient()
		ts := vpApp(v, hc).TokenSource(context.Background(), st, nil)
		ts.retry = testRetry(&sl)
		v.InjectFault(vpsim.Fault{PathContains: "/token", Status: 503})
		_, err := ts.Token()
		var sre *SignInRequiredError
		if !errors.Is(err, fault.ErrUnavailable) || errors.As(err, &sre) || errors.Is(err, fault.ErrAuthRejected) {
			t.Fatalf("err = %v, want ErrUnavailable only", err)
		}
		if n := cnt.n.Load(); n != int64(defaultRetry.attempts) {
			t.Errorf("%d requests, want %d (bounded)", n, defaultRetry.attempts)
		}
		// Not a rejection: once the server is back, it works.
		v.ClearFaults()
		if _, err := ts.Token(); err != nil {
			t.Errorf("after the outage: %v", err)
		}
	})
	t.Run("network down", func(t *testing.T) {
		st, _ := newTestStore(t)
		srv := httptest.NewServer(http.NotFoundHandler())
		url := srv.URL
		srv.Close()
		if err := st.Save(context.Background(), Record{Account: Vantagepoint, RefreshToken: "rt"}); err != nil {
			t.Fatal(err)
		}
		var sl noSleep
		ts := VantagepointApp{APIURL: url + "/api", Database: "X"}.TokenSource(context.Background(), st, nil)
		ts.retry = testRetry(&sl)
		if _, err := ts.Token(); !errors.Is(err, fault.ErrUnavailable) {
			t.Fatalf("err = %v", err)
		}
	})
}

func TestKeychainFailureWhileSavingTheRotatedToken(t *testing.T) {
	v := newVP(t)
	st, kc := newTestStore(t)
	app := vpApp(v, nil)
	signedInVP(t, v, app, st)
	ts := app.TokenSource(context.Background(), st, nil)
	// The keychain takes reads but refuses writes (locked in between).
	wrapped := &flakyKeychain{MemoryKeychain: kc, failSet: true}
	ts.store = NewStore(wrapped, st.dir)
	_, err := ts.Token()
	if !errors.Is(err, ErrKeychainUnavailable) {
		t.Fatalf("err = %v", err)
	}
	wrapped.failSet = false
	if _, err := ts.Token(); err != nil {
		t.Fatalf("after the keychain came back: %v", err)
	}
	rec, _ := st.Load(context.Background(), Vantagepoint)
	if _, err := app.refresh(context.Background(), rec); err != nil {
		t.Errorf("the rotated token kept in memory was not saved: %v", err)
	}
}

type flakyKeychain struct {
	*MemoryKeychain
	failSet bool
}

func (f *flakyKeychain) Set(a, s string) error {
	if f.failSet {
		return errors.Join(ErrKeychainUnavailable, errors.New("locked"))
	}
	return f.MemoryKeychain.Set(a, s)
}
