package graph

import (
	"context"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/oauth2"

	"vpconnect/syncer"
)

// FuzzDeltaPages answers the client's delta listings of messages, contacts
// and events with arbitrary bodies (seeded with Microsoft's documented
// pages): a malformed answer from Graph is an error the engine can act on,
// never a panic, never a page of invented items with no error.
func FuzzDeltaPages(f *testing.F) {
	dir := filepath.Join("testdata", "fixtures", "graph")
	for _, name := range []string{"contact-delta-page-nextlink.json", "event-calendarview-delta-page3-deltalink.json",
		"event-calendarview-delta-nextround-removed.json", "message-delta-page3-deltalink.json", "message-delta-nextround-removed.json",
		"message-delta-page1-nextlink.json"} {
		b, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil {
			f.Fatalf("seed: %v", err)
		}
		f.Add(string(b), uint8(0))
	}
	f.Add(`{"value":[{"id":"A","@removed":{"reason":"deleted"}}],"@odata.deltaLink":"x"}`, uint8(1))
	f.Add(`{"value":[{"id":1}]}`, uint8(2))
	f.Add(`{"value":[`, uint8(0))
	f.Add(`{"error":{"code":"syncStateNotFound","message":"gone"}}`, uint8(1))
	f.Fuzz(deltaPagesRun)
}

// deltaPagesRun is one run of FuzzDeltaPages.
func deltaPagesRun(t *testing.T, body string, which uint8) {
	var srv *httptest.Server
	var requests atomic.Int32
	srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		// Links in the body lead back here (see below); the listing's
		// second request ends it with an error, so nothing loops.
		if requests.Add(1) > 1 {
			w.WriteHeader(http.StatusBadRequest)
			w.Write([]byte(`{"error":{"code":"BadRequest","message":"no"}}`))
			return
		}
		w.Write([]byte(strings.ReplaceAll(body, "https://graph.microsoft.com", srv.URL)))
	}))
	defer srv.Close()
	c, err := New(Options{GraphURL: srv.URL + "/v1.0", TokenSource: oauth2.StaticTokenSource(&oauth2.Token{AccessToken: "t"}),
		HTTPClient: &http.Client{Timeout: 5 * time.Second, Transport: onlyHost{srv.Listener.Addr().String()}}, Logger: discardLogger()})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	items := 0
	switch which % 3 {
	case 0:
		_, err = c.MessageChanges(ctx, "inbox", "", func(p []syncer.MessageChange) error { items += len(p); return nil })
	case 1:
		_, err = c.ContactChanges(ctx, "folder", "", func(p []syncer.MailboxContact) error { items += len(p); return nil })
	default:
		now := time.Date(2026, 11, 20, 0, 0, 0, 0, time.UTC)
		_, err = c.EventChanges(ctx, now, now.AddDate(0, 0, 30), "", func(p []syncer.MailboxEvent) error { items += len(p); return nil })
	}
	if err == nil && !strings.Contains(body, "deltaLink") && !strings.Contains(body, "nextLink") {
		t.Fatalf("a body without a delta or next link ended a listing without an error (%d items)", items)
	}
}

// onlyHost sends every request to the test server, whatever host a fuzzed
// link names: nothing reaches the network, and the listing's second
// request ends it at once.
type onlyHost struct{ host string }

func (o onlyHost) RoundTrip(r *http.Request) (*http.Response, error) {
	r = r.Clone(r.Context())
	r.URL.Scheme, r.URL.Host, r.Host = "http", o.host, o.host
	return http.DefaultTransport.RoundTrip(r)
}
