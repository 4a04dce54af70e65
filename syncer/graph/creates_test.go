package graph

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	"vpconnect/syncer"
	"vpconnect/syncer/graph/graphsim"
)

// posts counts the POSTs the simulator saw to paths containing part.
func (e *env) posts(part string) int {
	e.mu.Lock()
	defer e.mu.Unlock()
	n := 0
	for _, ri := range e.seen {
		if ri.Method == http.MethodPost && strings.Contains(ri.Path, part) {
			n++
		}
	}
	return n
}

// A create answered 503 or 504 may have been done (a gateway gave up on a
// server that finished the work): the transport hands it back to the
// engine, whose journal and natural-key look-up settle it, instead of
// sending it again and making two. A timeout is the same. A 429 is a
// refusal before any work and is retried.
func TestCreatesAreNeverSentTwice(t *testing.T) {
	at := time.Now().UTC().Add(48 * time.Hour).Truncate(time.Hour)
	ev := syncer.MailboxEvent{Subject: "Review", Start: at, End: at.Add(time.Hour), BodyType: syncer.BodyText, Body: "x", VPID: "A1"}
	for _, tc := range []struct {
		name   string
		fault  graphsim.Fault
		stored int
	}{
		{"503 after storing", graphsim.Fault{Method: "POST", Status: 503, AfterServing: true}, 1},
		{"504 after storing", graphsim.Fault{Method: "POST", Status: 504, AfterServing: true}, 1},
		{"503 before storing", graphsim.Fault{Method: "POST", Status: 503}, 0},
		{"reset", graphsim.Fault{Method: "POST", ResetConnection: true}, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t, Options{})
			e.client.tr.sleep = func(context.Context, time.Duration) error { return nil }
			f := tc.fault
			f.Times = 1
			e.sim.InjectFault(f)
			_, err := e.client.CreateEvent(context.Background(), ev)
			if !errors.Is(err, syncer.ErrUnavailable) {
				t.Fatalf("err = %v, want ErrUnavailable", err)
			}
			if n := e.posts("/events"); n != 1 {
				t.Fatalf("%d POSTs, want 1", n)
			}
			if n := len(e.sim.Events()); n != tc.stored {
				t.Fatalf("%d events stored, want %d", n, tc.stored)
			}
			// The engine's look-up finds a stored one by the stamped id.
			_, found, err := e.client.FindEventByVPID(context.Background(), "A1")
			if err != nil || found != (tc.stored == 1) {
				t.Fatalf("look-up: found %v, %v", found, err)
			}
		})
	}
	t.Run("timeout", func(t *testing.T) {
		e := newEnv(t, Options{HTTPClient: &http.Client{Timeout: 50 * time.Millisecond}})
		e.client.tr.sleep = func(context.Context, time.Duration) error { return nil }
		e.sim.InjectFault(graphsim.Fault{Method: "POST", Latency: 500 * time.Millisecond, Times: 1})
		if _, err := e.client.CreateEvent(context.Background(), ev); err == nil {
			t.Fatal("a create that timed out succeeded")
		}
		if n := e.posts("/events"); n != 1 {
			t.Fatalf("%d POSTs, want 1", n)
		}
	})
	t.Run("429", func(t *testing.T) {
		e := newEnv(t, Options{})
		e.client.tr.sleep = func(context.Context, time.Duration) error { return nil }
		e.sim.InjectFault(graphsim.Fault{Method: "POST", Status: 429, RetryAfter: time.Second, Times: 1})
		if _, err := e.client.CreateEvent(context.Background(), ev); err != nil {
			t.Fatalf("a throttled create was not retried: %v", err)
		}
		if n, m := e.posts("/events"), len(e.sim.Events()); n != 2 || m != 1 {
			t.Fatalf("%d POSTs, %d events; want 2 and 1", n, m)
		}
	})
}
