package cli

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"vpconnect/agent"
	"vpconnect/agent/config"
	"vpconnect/agent/localapi"
	"vpconnect/syncer"
	"vpconnect/tray"
)

// The tray repeats the state words so as not to import the agent; they
// must stay the agent's words.
func TestTrayStatesAreTheAgentStates(t *testing.T) {
	for _, p := range [][2]string{
		{tray.StateNotConfigured, agent.StateNotConfigured}, {tray.StateActive, agent.StateActive},
		{tray.StateWithIssues, agent.StateWithIssues}, {tray.StateSuspended, agent.StateSuspended},
		{tray.StatePaused, agent.StatePaused}, {tray.StateDisabled, agent.StateDisabled},
		{tray.StateStandby, agent.StateStandby},
	} {
		if p[0] != p[1] {
			t.Errorf("the tray says %q where the agent says %q", p[0], p[1])
		}
	}
}

// nextStatus reads the tray client's stream until ok holds; closed reports
// that the stream ended first (the deadline only stops a hung test).
func nextStatus(t *testing.T, ch <-chan tray.Status, what string, ok func(tray.Status) bool) (st tray.Status, closed bool) {
	t.Helper()
	deadline := time.After(30 * time.Second)
	for {
		select {
		case s, open := <-ch:
			if !open {
				return st, true
			}
			if st = s; ok(s) {
				return s, false
			}
		case <-deadline:
			t.Fatalf("the tray never saw %s; last %+v", what, st)
		}
	}
}

// The tray's client, against the real agent of 'vpconnect run' over
// loopback: the status stream, the actions, the pairings, and the restart
// in place after 'vpconnect activate'.
func TestTrayClientFollowsTheAgent(t *testing.T) {
	w := newAgentWorld(t)
	const origin = "https://addin.example.com"
	w.cfg.LocalAPI.AllowedOrigins = []string{origin}
	if err := config.Save(w.cfgPath, w.cfg); err != nil {
		t.Fatal(err)
	}
	w.startAgent(t)
	c := &trayClient{dial: func(ctx context.Context) (*localapi.Client, error) {
		return localapi.Dial(ctx, w.dir, w.cfg.LocalAPI.Port)
	}}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	watch := func() <-chan tray.Status {
		t.Helper()
		deadline := time.Now().Add(30 * time.Second)
		for {
			ch, err := c.Watch(ctx)
			if err == nil {
				return ch
			}
			if time.Now().After(deadline) {
				t.Fatalf("the tray cannot watch the agent: %v", err)
			}
			time.Sleep(10 * time.Millisecond)
		}
	}
	ch := watch()
	if st, closed := nextStatus(t, ch, "Not Configured", func(s tray.Status) bool { return true }); closed || st.State != tray.StateNotConfigured {
		t.Fatalf("first status %+v (closed %v), want Not Configured", st, closed)
	}

	// 'vpconnect activate' restarts the agent in place, behind the same
	// loopback API: the stream follows the new agent, Active.
	w.activate(t)
	st, closed := nextStatus(t, ch, "Active", func(s tray.Status) bool { return s.State == tray.StateActive })
	if closed {
		t.Fatal("the stream ended with the restart")
	}
	if !st.PauseAllowed || st.MicrosoftSignInNeeded || st.VantagepointSignInNeeded {
		t.Errorf("after activation: %+v", st)
	}

	if err := c.Pause(ctx); err != nil {
		t.Fatalf("Pause: %v", err)
	}
	nextStatus(t, ch, "Paused", func(s tray.Status) bool { return s.State == tray.StatePaused })
	if err := c.Resume(ctx); err != nil {
		t.Fatalf("Resume: %v", err)
	}
	nextStatus(t, ch, "the end of the pause", func(s tray.Status) bool { return s.State != tray.StatePaused })
	if err := c.SyncNow(ctx); err != nil {
		t.Fatalf("SyncNow: %v", err)
	}

	// An add-in asks to pair: the tray hears of it without a status change.
	req, _ := http.NewRequest(http.MethodPost, c.c.Base()+"/v1/pair", strings.NewReader(`{"name":"Outlook"}`))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Origin", origin)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusAccepted && resp.StatusCode != http.StatusOK {
		t.Fatalf("POST /v1/pair = %s", resp.Status)
	}
	st, _ = nextStatus(t, ch, "the pairing", func(s tray.Status) bool { return len(s.Pairings) == 1 })
	if st.Pairings[0].Origin != origin {
		t.Errorf("pairing %+v", st.Pairings[0])
	}

	u, err := c.OpenURL(ctx)
	if err != nil || !strings.HasPrefix(u, c.c.Base()+"/") {
		t.Errorf("OpenURL = %q, %v; want a page of %s", u, err, c.c.Base())
	}

	cancel()
	if _, closed := nextStatus(t, ch, "the end of the stream", func(tray.Status) bool { return false }); !closed {
		t.Error("the stream did not end with its context")
	}
}

// The tray names what a confirmation of held-back deletions deletes, read
// from the engine's own phrase in the guard's issue; other issues are not
// held deletions.
func TestTrayShowsHeldDeletions(t *testing.T) {
	st := agent.Status{State: agent.StateWithIssues, OpenIssues: []agent.Issue{
		{Type: "contacts", Item: agent.HeldBackItem, Reason: "7 of 12 synced contacts disappeared from Outlook in one batch; no deletion was applied. " +
			syncer.ConfirmingDeletes(6, "contact", "Vantagepoint") + `: "Q Q00" and 5 more.`},
		{Type: "events", Item: "Site visit", Reason: "412"},
	}}
	ts := trayStatus(st, nil)
	if len(ts.Held) != 1 || ts.Held[0].Type != "contacts" || ts.Held[0].Summary != "deleting 6 contacts in Vantagepoint" || !strings.Contains(ts.Held[0].Reason, "Q Q00") {
		t.Fatalf("held %+v", ts.Held)
	}
}
