package localapi

import (
	"context"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"vpconnect/agent"
	"vpconnect/agent/config"
	"vpconnect/syncer"
)

// FuzzHandlers throws arbitrary paths, methods, content types and bodies at
// the whole handler, authenticated and not: every answer must be a JSON
// error or a success, never a panic, and never a 5xx for bad input.
func FuzzHandlers(f *testing.F) {
	dir := f.TempDir()
	ts := &testSyncer{}
	a, err := agent.New(agent.Options{Config: config.Default(), Syncer: ts, Tracker: ts, MailboxStatus: syncer.MailboxInitialized, DataDir: dir})
	if err != nil {
		f.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	f.Cleanup(cancel)
	go a.Run(ctx)
	s, err := New(Options{Backend: a, Directory: &fakeDirectory{}, AllowedOrigins: []string{addinOrigin}, DataDir: dir})
	if err != nil {
		f.Fatal(err)
	}
	s.port = 48613
	for _, seed := range []struct{ method, path, ctype, body string }{
		{"POST", "/v1/track", "application/json", `{"messageId":"m1","project":"P"}`},
		{"POST", "/v1/track", "application/json", `{"messageId":"m1","x":1}`},
		{"GET", "/v1/track/AAMk%2F%2B", "", ""},
		{"POST", "/v1/pair", "application/json", `{"name":"` + strings.Repeat("é", 100) + `"}`},
		{"GET", "/v1/pair/../../etc", "", ""},
		{"GET", "/v1/search?type=project&q=%00", "", ""},
		{"GET", "/v1/lookup?email=a@b", "", ""},
		{"POST", "/ui/action", "application/json", `{"action":"approve","id":"x"}`},
		{"POST", "/v1/deactivate", "application/json", `{"force":"yes"}`},
		{"GET", "/assets/../assets/index.html", "", ""},
	} {
		f.Add(seed.method, seed.path, seed.ctype, seed.body, true)
	}
	f.Fuzz(func(t *testing.T, method, path, ctype, body string, auth bool) {
		if !strings.HasPrefix(path, "/") || strings.ContainsAny(path, " \r\n\t#") {
			return
		}
		switch method {
		case "GET", "POST", "PUT", "DELETE", "OPTIONS", "PATCH":
		default:
			return
		}
		if path == "/v1/sync" || strings.HasPrefix(path, "/v1/events") || strings.HasPrefix(path, "/ui/events") ||
			strings.HasPrefix(path, "/v1/deactivate") || strings.HasPrefix(path, "/v1/reauthorize") {
			return // long-lived or state-destroying: covered by their own tests
		}
		if _, err := url.ParseRequestURI(path); err != nil {
			return // no client can send it; net/http refuses it before us
		}
		r := httptest.NewRequest(method, "http://127.0.0.1:48613"+path, strings.NewReader(body))
		if r.URL.Path == "" {
			return
		}
		r.Host = "127.0.0.1:48613"
		if ctype != "" {
			r.Header.Set("Content-Type", ctype)
		}
		r.Header.Set("Origin", addinOrigin)
		if auth {
			r.Header.Set("Authorization", "Bearer "+s.secret)
			r.Header.Del("Origin")
		}
		w := httptest.NewRecorder()
		s.ServeHTTP(w, r)
		if w.Code >= 500 && w.Code != http.StatusNotImplemented && w.Code != http.StatusServiceUnavailable {
			t.Fatalf("%s %s (%s) %q: %d %s", method, path, ctype, body, w.Code, w.Body.String())
		}
		if w.Header().Get("X-Frame-Options") != "DENY" {
			t.Fatalf("no security headers on %s %s", method, path)
		}
	})
}

// FuzzReadEvents: whatever the stream holds, the client's event reader
// hands on only named events and ends; it never panics or loops.
func FuzzReadEvents(f *testing.F) {
	f.Add("event: status\ndata: {\"state\":\"Active\"}\n\n")
	f.Add("event: pairings\ndata: []\n\nevent: status\ndata: {}\n\n")
	f.Add("data: orphan\n\n\n\nevent:\n\n")
	f.Add("event: status\ndata: {\"state\"")
	f.Fuzz(func(t *testing.T, stream string) {
		n := 0
		readEvents(strings.NewReader(stream), func(name string, data []byte) {
			if name == "" {
				t.Fatal("an event without a name was handed on")
			}
			n++
		})
		if n > strings.Count(stream, "\n\n") {
			t.Fatalf("%d events from %d separators", n, strings.Count(stream, "\n\n"))
		}
	})
}
