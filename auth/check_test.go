package auth

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"vpconnect/internal/fault"
	"vpconnect/syncer/graph/graphsim"
)

// Check tells a misregistered app apart from every other failure, each
// with the setting to change.
func TestCheckTellsTheFailuresApart(t *testing.T) {
	type want struct {
		step int    // the failing step (0 authority, 1 sign-in page, 2 device code); -1: all pass
		fix  string // part of its fix
		kind string // "registration", "unavailable", "config"
	}
	serve := func(t *testing.T, o graphsim.Options) *graphsim.Server {
		o.ClientID = testClientID
		g := graphsim.New(o)
		srv := httptest.NewServer(g)
		t.Cleanup(srv.Close)
		g.SetURL(srv.URL)
		return g
	}
	for _, c := range []struct {
		name string
		app  func(t *testing.T) MicrosoftApp
		want want
	}{
		{"a good registration", func(t *testing.T) MicrosoftApp { return msApp(serve(t, graphsim.Options{}), nil) }, want{-1, "", ""}},
		{"single-tenant app through organizations", func(t *testing.T) MicrosoftApp {
			return msApp(serve(t, graphsim.Options{SingleTenant: true}), nil)
		}, want{1, "Directory (tenant) ID", "registration"}},
		{"no redirect URI http://localhost", func(t *testing.T) MicrosoftApp {
			return msApp(serve(t, graphsim.Options{RedirectURIs: []string{"http://127.0.0.1"}}), nil)
		}, want{1, "redirect URI http://localhost", "registration"}},
		{"admin consent needed", func(t *testing.T) MicrosoftApp {
			g := serve(t, graphsim.Options{})
			g.RevokeConsent()
			return msApp(g, nil)
		}, want{1, "'Grant admin consent'", "registration"}},
		{"another app's client id", func(t *testing.T) MicrosoftApp {
			a := msApp(serve(t, graphsim.Options{}), nil)
			a.ClientID = "00000000-0000-0000-0000-000000000000"
			return a
		}, want{1, "Application (client) ID", "registration"}},
		{"public client flows off", func(t *testing.T) MicrosoftApp {
			return msApp(serve(t, graphsim.Options{NoPublicClientFlows: true}), nil)
		}, want{2, "'Allow public client flows' to Yes", "registration"}},
		{"tenant unknown", func(t *testing.T) MicrosoftApp {
			a := msApp(serve(t, graphsim.Options{}), nil)
			a.Tenant = "fabrikam.example"
			return a
		}, want{0, "names no Entra ID tenant", "registration"}},
		{"authority unreachable", func(t *testing.T) MicrosoftApp {
			srv := httptest.NewServer(http.NotFoundHandler())
			srv.Close()
			return MicrosoftApp{ClientID: testClientID, Tenant: "organizations", AuthorityURL: srv.URL}
		}, want{0, "reaches", "unavailable"}},
		{"authority down", func(t *testing.T) MicrosoftApp {
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				http.Error(w, "down", http.StatusServiceUnavailable)
			}))
			t.Cleanup(srv.Close)
			return MicrosoftApp{ClientID: testClientID, Tenant: "organizations", AuthorityURL: srv.URL}
		}, want{0, "run the check again later", "unavailable"}},
		{"authority URL of something else", func(t *testing.T) MicrosoftApp {
			srv := httptest.NewServer(http.NotFoundHandler())
			t.Cleanup(srv.Close)
			return MicrosoftApp{ClientID: testClientID, Tenant: "organizations", AuthorityURL: srv.URL}
		}, want{0, "not a Microsoft identity platform", "config"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			steps := c.app(t).Check(context.Background())
			if len(steps) != 3 {
				t.Fatalf("%d steps", len(steps))
			}
			for i, st := range steps {
				switch {
				case c.want.step < 0 || i < c.want.step:
					if !st.OK || st.Err != nil {
						t.Errorf("step %d %q failed: %s (%v)", i, st.Name, st.Detail, st.Err)
					}
				case i == c.want.step:
					var sr *SignInRequiredError
					registration := errors.As(st.Err, &sr) && sr.Fix != ""
					kind := "config"
					if registration {
						kind = "registration"
					} else if errors.Is(st.Err, fault.ErrUnavailable) {
						kind = "unavailable"
					}
					if st.OK || kind != c.want.kind || !strings.Contains(st.Fix, c.want.fix) {
						t.Errorf("step %d %q: ok %v, %s, fix %q (%v); want a %s failure with %q", i, st.Name, st.OK, kind, st.Fix, st.Err, c.want.kind, c.want.fix)
					}
				case c.want.step == 0:
					if st.OK || !strings.Contains(st.Detail, "not asked") {
						t.Errorf("step %d after a failed authority: %+v", i, st)
					}
				}
			}
		})
	}
}
