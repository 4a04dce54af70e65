package demo

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"net/http/cookiejar"
	"strings"
	"testing"
	"time"

	"vpconnect/agent"
	"vpconnect/agent/localapi"
)

// `vpconnect demo` runs the real agent: its loopback API answers, the Sync
// Options page opens through the printed one-time address, and the page's
// state shows the startup batch the agent ran.
func TestDemoServesTheSyncOptionsPage(t *testing.T) {
	var out bytes.Buffer
	d, err := Start(context.Background(), Options{Out: &out, Err: &out, Interval: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(d.Close)
	ctx, cancel := context.WithCancel(context.Background())
	addr := make(chan string, 1)
	done := make(chan error, 1)
	go func() { done <- d.Serve(ctx, func(u string) { addr <- u }) }()
	defer func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Serve: %v", err)
		}
	}()
	var u string
	select {
	case u = <-addr:
	case err := <-done:
		t.Fatalf("Serve ended before it was ready: %v", err)
	}
	if !strings.HasPrefix(u, "http://127.0.0.1:") {
		t.Fatalf("one-time address %q is not on loopback", u)
	}
	jar, _ := cookiejar.New(nil)
	c := &http.Client{Jar: jar}
	resp, err := c.Get(u)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("opening the one-time address: %d", resp.StatusCode)
	}
	// The page takes its secret from the redirect's fragment, as a
	// browser's script does, and sends it with every /ui request.
	secret, ok := strings.CutPrefix(resp.Request.URL.Fragment, "s=")
	if !ok {
		t.Fatalf("the one-time address led to %s, with no page secret", resp.Request.URL)
	}
	u2 := *resp.Request.URL
	u2.Fragment = ""
	base := strings.TrimSuffix(u2.String(), "/")
	deadline := time.Now().Add(20 * time.Second)
	for {
		req, _ := http.NewRequest(http.MethodGet, base+"/ui/state", nil)
		req.Header.Set(localapi.PageSecretHeader, secret)
		resp, err := c.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		var ps localapi.PageState
		err = json.NewDecoder(resp.Body).Decode(&ps)
		resp.Body.Close()
		if err != nil {
			t.Fatalf("page state: %v", err)
		}
		s := ps.Status
		if s.LastBatch != nil && !s.Running {
			if s.State != agent.StateActive && s.State != agent.StateWithIssues {
				t.Fatalf("state after the startup batch = %q (%s)", s.State, s.Reason)
			}
			if s.LastBatch.Counts["emails"].Created == 0 || s.Accounts.Microsoft.User == "" {
				t.Fatalf("status = %+v", s)
			}
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("no batch after 20 s; status %+v", s)
		}
		time.Sleep(50 * time.Millisecond)
	}
}
