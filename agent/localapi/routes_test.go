package localapi

import (
	"context"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"
)

// satisfies says whether a caller with access have may use a route that
// requires want: the owner may do what a paired add-in may; the page is its
// own kind, reached by no bearer token, and reaching no /v1 route but the
// public ones.
func satisfies(have, want access) bool {
	switch want {
	case accessPublic:
		return true
	case accessPaired:
		return have == accessPaired || have == accessOwner
	default:
		return have == want
	}
}

// wantAccess is the access each route must declare, written out apart from
// the table so that a route given less protection there fails the test.
var wantAccess = map[string]access{
	"GET /v1/hello":                  accessPublic,
	"POST /v1/pair":                  accessPublic,
	"GET /v1/pair/{id}":              accessPublic,
	"GET /v1/status":                 accessPaired,
	"GET /v1/events":                 accessPaired,
	"POST /v1/sync":                  accessPaired,
	"POST /v1/pause":                 accessPaired,
	"POST /v1/resume":                accessPaired,
	"POST /v1/track":                 accessPaired,
	"GET /v1/track/{messageId...}":   accessPaired,
	"POST /v1/untrack":               accessPaired,
	"GET /v1/lookup":                 accessPaired,
	"GET /v1/search":                 accessPaired,
	"POST /v1/open":                  accessOwner,
	"POST /v1/deactivate":            accessOwner,
	"POST /v1/reauthorize":           accessOwner,
	"POST /v1/restart":               accessOwner,
	"POST /v1/deletions":             accessOwner,
	"GET /v1/pairings":               accessOwner,
	"POST /v1/pairings/approve":      accessOwner,
	"POST /v1/pair/{id}/deny":        accessOwner,
	"GET /v1/addins":                 accessOwner,
	"POST /v1/addins/{id}/revoke":    accessOwner,
	"GET /{$}":                       accessPublic,
	"GET /open":                      accessPublic,
	"GET /assets/{file}":             accessPublic,
	"GET /ui/state":                  accessPage,
	"GET /ui/events":                 accessPage,
	"POST /ui/action":                accessPage,
	"POST /ui/activate":              accessPage,
	"POST /ui/activate/vantagepoint": accessPage,
	"POST /ui/activate/cancel":       accessPage,
	"POST /ui/options":               accessPage,
}

func TestRouteTableDeclaresTheWantedAccess(t *testing.T) {
	declared := map[string]bool{}
	for _, rt := range routeTable() {
		declared[rt.pattern] = true
		if want, ok := wantAccess[rt.pattern]; !ok {
			t.Errorf("route %q is not in wantAccess: say which access it needs", rt.pattern)
		} else if rt.access != want {
			t.Errorf("route %q declares %s access; want %s", rt.pattern, rt.access, want)
		}
	}
	for p := range wantAccess {
		if !declared[p] {
			t.Errorf("route %q is missing from the table", p)
		}
	}
}

// examplePath turns a route's pattern into a path it matches.
func examplePath(pattern string) string {
	_, path, _ := strings.Cut(pattern, " ")
	path = strings.ReplaceAll(path, "{$}", "")
	path = regexp.MustCompile(`\{[a-zA-Z]+\.\.\.\}`).ReplaceAllString(path, "AAMk%2Fx/y")
	return regexp.MustCompile(`\{[a-zA-Z]+\}`).ReplaceAllString(path, "x1")
}

// TestRouteTableAccess walks the route table: every route is reached by a
// caller with the access it declares (and by the owner where a paired add-in
// suffices), and refused to every other, answering 401 or 403 before its
// handler runs; another user of the computer is refused everywhere; other
// methods get 405.
func TestRouteTableAccess(t *testing.T) {
	s, err := New(Options{DataDir: t.TempDir(), AllowedOrigins: []string{addinOrigin}})
	if err != nil {
		t.Fatal(err)
	}
	s.port = 48613
	var reached string
	table := routeTable()
	for i := range table {
		pattern := table[i].pattern
		table[i].handle = func(_ *Server, w http.ResponseWriter, _ *http.Request, _ caller) {
			reached = pattern
			w.WriteHeader(http.StatusTeapot)
		}
	}
	s.mux = s.buildMux(table)

	// The credentials of each access level.
	addinToken := randomToken(32)
	s.mu.Lock()
	s.addTokenLocked(newTokenEntry(addinToken, addinOrigin, "Outlook", time.Now()))
	s.mu.Unlock()
	rec := httptest.NewRecorder()
	open := httptest.NewRequest("GET", strings.TrimPrefix(s.OpenURL(), s.BaseURL()), nil)
	open.Host = "127.0.0.1:48613"
	s.ServeHTTP(rec, open)
	if rec.Code != http.StatusTeapot {
		t.Fatalf("the stubbed /open answered %d", rec.Code)
	}
	// The stub started no session: start one as /open does.
	cookie, pageSecret := randomToken(32), randomToken(32)
	s.mu.Lock()
	s.sessions[cookie] = &session{secret: pageSecret, begun: time.Now(), lastUsed: time.Now()}
	s.mu.Unlock()
	type credential struct {
		name  string
		level access
		other bool // from another user of the computer
		set   func(r *http.Request)
	}
	creds := []credential{
		{"nothing", accessPublic, false, func(r *http.Request) {}},
		{"a wrong token", accessPublic, false, func(r *http.Request) { r.Header.Set("Authorization", "Bearer "+randomToken(32)) }},
		{"the add-in's token without its origin", accessPublic, false, func(r *http.Request) {
			r.Header.Set("Authorization", "Bearer "+addinToken)
		}},
		{"the cookie alone", accessPublic, false, func(r *http.Request) {
			r.AddCookie(&http.Cookie{Name: s.cookieName(), Value: cookie})
		}},
		{"the page secret alone", accessPublic, false, func(r *http.Request) { r.Header.Set(PageSecretHeader, pageSecret) }},
		{"a paired add-in", accessPaired, false, func(r *http.Request) {
			r.Header.Set("Origin", addinOrigin)
			r.Header.Set("Authorization", "Bearer "+addinToken)
		}},
		{"the page session", accessPage, false, func(r *http.Request) {
			r.AddCookie(&http.Cookie{Name: s.cookieName(), Value: cookie})
			r.Header.Set(PageSecretHeader, pageSecret)
		}},
		{"the owner", accessOwner, false, func(r *http.Request) { r.Header.Set("Authorization", "Bearer "+s.secret) }},
		{"the owner's secret from an allowed origin", accessPaired, false, func(r *http.Request) {
			r.Header.Set("Origin", addinOrigin)
			r.Header.Set("Authorization", "Bearer "+s.secret)
		}},
		{"another user with the owner's secret and the page session", accessPublic, true, func(r *http.Request) {
			r.Header.Set("Authorization", "Bearer "+s.secret)
			r.AddCookie(&http.Cookie{Name: s.cookieName(), Value: cookie})
			r.Header.Set(PageSecretHeader, pageSecret)
		}},
	}
	seen := map[string]bool{}
	for _, rt := range table {
		method, _, ok := strings.Cut(rt.pattern, " ")
		if !ok || method == "" || strings.HasPrefix(method, "/") {
			t.Errorf("route %q declares no method", rt.pattern)
			continue
		}
		if seen[rt.pattern] {
			t.Errorf("route %q is declared twice", rt.pattern)
		}
		seen[rt.pattern] = true
		path := examplePath(rt.pattern)
		for _, c := range creds {
			r := httptest.NewRequest(method, path, strings.NewReader("{}"))
			r.Host = "127.0.0.1:48613"
			r.Header.Set("Content-Type", "application/json")
			c.set(r)
			if c.other {
				r = r.WithContext(context.WithValue(r.Context(), peerKey{}, peerOther))
			}
			// A route outside /v1 answers no other origin, whatever the
			// route's access.
			cross := r.Header.Get("Origin") != "" && !strings.HasPrefix(path, "/v1/")
			want := !c.other && !cross && satisfies(c.level, rt.access)
			reached = ""
			w := httptest.NewRecorder()
			s.ServeHTTP(w, r)
			switch {
			case want && reached != rt.pattern:
				t.Errorf("%s (%s) with %s: not reached: %d %s", rt.pattern, rt.access, c.name, w.Code, w.Body)
			case !want && reached != "":
				t.Errorf("%s (%s) with %s: reached %s", rt.pattern, rt.access, c.name, reached)
			case !want && w.Code != http.StatusUnauthorized && w.Code != http.StatusForbidden:
				t.Errorf("%s (%s) with %s: refused with %d; want 401 or 403", rt.pattern, rt.access, c.name, w.Code)
			}
		}
		// Another method on the route's path: 405, never the handler.
		other := "PUT"
		r := httptest.NewRequest(other, path, nil)
		r.Host = "127.0.0.1:48613"
		r.Header.Set("Authorization", "Bearer "+s.secret)
		reached = ""
		w := httptest.NewRecorder()
		s.ServeHTTP(w, r)
		if reached != "" || w.Code != http.StatusMethodNotAllowed || !strings.Contains(w.Header().Get("Allow"), method) {
			t.Errorf("PUT %s: %d, Allow %q, reached %q", path, w.Code, w.Header().Get("Allow"), reached)
		}
	}
	// Every access level has routes, and the table has as many routes as
	// the server serves (the count of docs/behaviour.md §5.3's and the page's).
	levels := map[access]int{}
	for _, rt := range table {
		levels[rt.access]++
	}
	for _, a := range []access{accessPublic, accessPaired, accessOwner, accessPage} {
		if levels[a] == 0 {
			t.Errorf("no route needs %s access", a)
		}
	}
	t.Logf("%d routes: %v", len(table), levels)
}

// TestNoRouteOutsideTheTable: paths near the table's are not found, and
// reach no handler.
func TestNoRouteOutsideTheTable(t *testing.T) {
	s, err := New(Options{DataDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	s.port = 48613
	for _, p := range []string{"/v1", "/v1/", "/v1/hellox", "/v1/pair/x/approve", "/v1/pairings/x", "/v1/addins/x",
		"/ui", "/ui/", "/ui/action/x", "/assets/", "/index.html", "/open/x", "/v2/status"} {
		for _, m := range []string{"GET", "POST"} {
			r := httptest.NewRequest(m, p, strings.NewReader("{}"))
			r.Host = "127.0.0.1:" + strconv.Itoa(s.port)
			r.Header.Set("Authorization", "Bearer "+s.secret)
			r.Header.Set("Content-Type", "application/json")
			w := httptest.NewRecorder()
			s.ServeHTTP(w, r)
			if w.Code != http.StatusNotFound && w.Code != http.StatusMethodNotAllowed {
				t.Errorf("%s %s: %d %s", m, p, w.Code, w.Body)
			}
		}
	}
}
