package cli

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"vpconnect/agent"
	"vpconnect/agent/localapi"
	"vpconnect/agent/system"
	"vpconnect/syncer"
	"vpconnect/syncer/graph/graphsim"
	"vpconnect/syncer/vantagepoint/vpsim"
)

// State-machine tests of docs/behaviour.md §3, driven by what the simulators do: the
// real agent of 'vpconnect run --headless' runs in the process on a fake
// clock, the CLI drives it, and 'vpconnect status --json' is what is
// checked.

func TestAgentIsActiveAfterASync(t *testing.T) {
	w := newAgentWorld(t)
	w.activate(t)
	w.startAgent(t)

	st, _ := w.status(t)
	if st.State != agent.StateActive || st.MailboxStatus != syncer.MailboxInitialized || st.SyncStatus != agent.SyncEnabled || st.LastBatch != nil {
		t.Fatalf("after activation: %+v", st)
	}
	code, b, errOut := w.sync(t)
	if code != exitOK || b == nil || b.Outcome != syncer.OutcomeOK || b.Trigger != string(syncer.TriggerManual) {
		t.Fatalf("sync = %d %+v\n%s", code, b, errOut)
	}
	if b.Counts[syncer.TypeEmails].Created != 1 || b.Counts[syncer.TypeContacts].Created != 1 || b.Counts[syncer.TypeEvents].Created != 1 {
		t.Errorf("counts of the first batch: %+v", b.Counts)
	}
	st = w.waitStatus(t, "the batch in status", settled(b.ID))
	ms, vp := st.Accounts.Microsoft, st.Accounts.Vantagepoint
	if st.State != agent.StateActive || !ms.Connected || !vp.Connected || ms.SignInNeeded || vp.SignInNeeded ||
		ms.User != "dana@contoso.example" || vp.Employee != "00042" || vp.Database != "VPTest" || vp.URL != w.v.APIURL() {
		t.Errorf("after a batch: %+v", st)
	}
	if st.NextBatchAt == nil || !st.NextBatchAt.Equal(w.clock.Now().Add(vpInterval).UTC()) {
		t.Errorf("nextBatchAt = %v; want one interval after the batch (%v)", st.NextBatchAt, w.clock.Now().Add(vpInterval))
	}

	// The scheduler runs the next batch when the interval has passed.
	w.clock.Advance(vpInterval)
	st = w.waitStatus(t, "a scheduled batch", settled(b.ID+1))
	if st.LastBatch.Trigger != string(syncer.TriggerSchedule) || st.State != agent.StateActive {
		t.Errorf("after the interval: state %s, last batch %+v", st.State, st.LastBatch)
	}
}

func TestAgentMicrosoftSignInRejectedSuspendsUntilReauthorized(t *testing.T) {
	w := newAgentWorld(t)
	b := w.startSynced(t).LastBatch

	// The user's refresh token is revoked (a password reset), and the
	// access token the agent holds runs out.
	w.g.RevokeRefreshTokens()
	w.g.ExpireAccessTokens()
	before := w.requests()
	w.clock.Advance(vpInterval) // the next scheduled batch
	st := w.waitStatus(t, "Suspended by Error", func(s agent.Status) bool { return s.State == agent.StateSuspended && !s.Running })
	ms, vp := st.Accounts.Microsoft, st.Accounts.Vantagepoint
	if !ms.SignInNeeded || ms.Connected || vp.SignInNeeded || ms.Reason != "the sign-in has expired or was revoked" ||
		!strings.Contains(st.Reason, "Sign-in needed (Microsoft 365: the sign-in has expired or was revoked)") ||
		st.MailboxStatus != syncer.MailboxConnectionLost {
		t.Errorf("after the refusal: %+v", st)
	}
	if st.LastBatch == nil || st.LastBatch.ID != b.ID+1 || st.LastBatch.Outcome != syncer.OutcomeFailed {
		t.Errorf("last batch: %+v", st.LastBatch)
	}
	if st.NextBatchAt != nil {
		t.Errorf("nextBatchAt = %v while suspended", st.NextBatchAt)
	}
	afterRefusal := w.requests()
	if n := afterRefusal.msToken - before.msToken; n != 1 {
		t.Errorf("%d Microsoft token requests to learn of the refusal; want 1", n)
	}

	// No retry storm.
	w.staysSilent(t, "while suspended", 10)
	// A manual sync is answered "sign-in needed" from memory: no token
	// request.
	code, _, errOut := w.sync(t)
	if code != exitNeedSignIn {
		t.Errorf("sync while suspended = %d; want %d\n%s", code, exitNeedSignIn, errOut)
	}
	if now := w.requests(); now.msToken != afterRefusal.msToken || now.vpToken != afterRefusal.vpToken {
		t.Errorf("requests while suspended: %+v, then %+v", afterRefusal, now)
	}
	st = w.waitStatus(t, "the manual batch", func(s agent.Status) bool { return !s.Running && s.LastBatch.ID == b.ID+2 })
	if st.State != agent.StateSuspended {
		t.Errorf("state after a manual sync: %s", st.State)
	}

	// 'vpconnect reauthorize microsoft' (the simulated browser consents)
	// lifts the suspension of the running agent, which syncs at once.
	code, out, errOut := w.run("reauthorize", "microsoft")
	if code != exitOK || !strings.Contains(out, "dana@contoso.example") {
		t.Fatalf("reauthorize microsoft = %d\n%s%s", code, out, errOut)
	}
	st = w.waitStatus(t, "Active after re-authorizing", func(s agent.Status) bool {
		return s.State == agent.StateActive && !s.Running && s.LastBatch.ID > b.ID+2
	})
	if st.Accounts.Microsoft.SignInNeeded || !st.Accounts.Microsoft.Connected || st.LastBatch.Outcome != syncer.OutcomeOK ||
		st.MailboxStatus != syncer.MailboxInitialized || st.NextBatchAt == nil {
		t.Errorf("after re-authorizing: %+v", st)
	}
}

// An access token the service refuses once (Graph may end one early) is not
// a rejection: the token source refreshes and the batch goes through.
func TestAgentAccessTokenRefusedOnceIsNotARejection(t *testing.T) {
	w := newAgentWorld(t)
	w.startSynced(t)
	w.g.ExpireAccessTokens()
	before := w.requests()
	code, b2, errOut := w.sync(t)
	if code != exitOK || b2 == nil || b2.Outcome != syncer.OutcomeOK {
		t.Fatalf("sync after Graph refused the access token = %d %+v\n%s", code, b2, errOut)
	}
	st := w.waitStatus(t, "the batch", settled(b2.ID))
	if st.State != agent.StateActive || st.Accounts.Microsoft.SignInNeeded || !st.Accounts.Microsoft.Connected || st.ConsecutiveFailures != 0 {
		t.Errorf("after a refused access token: %+v", st)
	}
	if n := w.requests().msToken - before.msToken; n != 1 {
		t.Errorf("%d Microsoft token requests; want 1 refresh", n)
	}
}

func TestAgentVantagepointSignInRejectedSuspendsUntilReauthorized(t *testing.T) {
	w := newAgentWorld(t)
	w.startSynced(t)

	// IT resets the user's Vantagepoint password, which ends their tokens.
	w.v.SetPassword("DWHITFIELD", "New-pa55-of-Dana")
	w.v.RevokeTokens()
	before := w.requests()
	code, b2, errOut := w.sync(t)
	if code != exitNeedSignIn || b2 == nil || b2.Outcome != syncer.OutcomeFailed || !strings.Contains(errOut, "Vantagepoint") {
		t.Fatalf("sync after the reset = %d %+v\n%s", code, b2, errOut)
	}
	st := w.waitStatus(t, "Suspended by Error", func(s agent.Status) bool { return s.State == agent.StateSuspended && !s.Running })
	ms, vp := st.Accounts.Microsoft, st.Accounts.Vantagepoint
	if !vp.SignInNeeded || vp.Connected || ms.SignInNeeded || !strings.Contains(st.Reason, "Sign-in needed (Vantagepoint: ") ||
		st.NextBatchAt != nil || st.MailboxStatus != syncer.MailboxInitialized {
		t.Errorf("after the refusal: %+v", st)
	}
	afterRefusal := w.requests()
	if n := afterRefusal.vpToken - before.vpToken; n != 1 {
		t.Errorf("%d Vantagepoint token requests to learn of the refusal; want 1", n)
	}
	w.staysSilent(t, "while suspended", 10)

	// The old password is refused (exit 3), and the agent stays suspended.
	code, out, errOut := w.run("reauthorize", "vantagepoint")
	if code != exitNeedSignIn || !strings.Contains(errOut, "password was refused") {
		t.Errorf("reauthorize with the old password = %d\n%s%s", code, out, errOut)
	}
	if st, _ := w.status(t); st.State != agent.StateSuspended {
		t.Errorf("state after a refused re-authorization: %s", st.State)
	}
	// The new one works, and the running agent syncs at once.
	t.Setenv(envVPPassword, "New-pa55-of-Dana")
	code, out, errOut = w.run("reauthorize", "vantagepoint")
	if code != exitOK || !strings.Contains(out, "Vantagepoint: DWHITFIELD on ") || errOut != "" {
		t.Fatalf("reauthorize vantagepoint = %d\n%s%s", code, out, errOut)
	}
	st = w.waitStatus(t, "Active after re-authorizing", func(s agent.Status) bool {
		return s.State == agent.StateActive && !s.Running && s.LastBatch.ID > b2.ID
	})
	if st.Accounts.Vantagepoint.SignInNeeded || !st.Accounts.Vantagepoint.Connected || st.LastBatch.Outcome != syncer.OutcomeOK {
		t.Errorf("after re-authorizing: %+v", st)
	}
}

// Re-authorizing from Sync Options goes through the agent's API: the agent
// signs in itself (the simulated browser consents) and syncs at once.
func TestAgentReauthorizeThroughTheAPI(t *testing.T) {
	w := newAgentWorld(t)
	w.activate(t)
	w.startAgent(t)
	w.g.RevokeRefreshTokens()
	code, b, errOut := w.sync(t)
	if code != exitNeedSignIn {
		t.Fatalf("sync with a revoked sign-in = %d\n%s", code, errOut)
	}
	w.waitStatus(t, "Suspended by Error", func(s agent.Status) bool { return s.State == agent.StateSuspended && !s.Running })
	c := w.client(t)
	if _, err := c.Reauthorize(t.Context(), "microsoft", agent.Credentials{}); err != nil {
		t.Fatalf("reauthorize through the API: %v", err)
	}
	st := w.waitStatus(t, "Active after re-authorizing", func(s agent.Status) bool {
		return s.State == agent.StateActive && !s.Running && s.LastBatch.ID > b.ID
	})
	if st.Accounts.Microsoft.SignInNeeded || st.LastBatch.Outcome != syncer.OutcomeOK {
		t.Errorf("after re-authorizing: %+v", st)
	}
	// A Vantagepoint password that is refused leaves the account as it was.
	if _, err := c.Reauthorize(t.Context(), "vantagepoint", agent.Credentials{Username: "DWHITFIELD", Password: "wrong"}); err == nil {
		t.Error("a wrong Vantagepoint password was taken")
	}
	if st, _ := w.status(t); st.State != agent.StateActive {
		t.Errorf("state after a refused password: %s", st.State)
	}
}

func TestAgentTenFailedBatchesSuspendUntilResume(t *testing.T) {
	w := newAgentWorld(t)
	b := w.startSynced(t).LastBatch

	// Vantagepoint answers 503 to everything. Its Retry-After is longer
	// than a client waits within a batch, so each batch fails at once.
	w.v.InjectFault(vpsim.Fault{Status: 503, RetryAfter: 5 * time.Minute})
	last := b.ID
	for i := 1; i <= agent.MaxConsecutiveFailures; i++ {
		code, fb, errOut := w.sync(t)
		if code != exitFailure || fb == nil || fb.Outcome != syncer.OutcomeFailed {
			t.Fatalf("failing batch %d: exit %d %+v\n%s", i, code, fb, errOut)
		}
		last = fb.ID
		st := w.waitStatus(t, "the failed batch", settled(last))
		want := agent.StateWithIssues
		if i == agent.MaxConsecutiveFailures {
			want = agent.StateSuspended
		}
		if st.State != want || st.ConsecutiveFailures != i {
			t.Fatalf("after %d failed batches: state %s, %d failures; want %s", i, st.State, st.ConsecutiveFailures, want)
		}
	}
	st, _ := w.status(t)
	if !strings.Contains(st.Reason, "10 batches in a row failed") || !strings.Contains(st.Reason, "press Resume") ||
		st.NextBatchAt != nil || st.Accounts.Microsoft.SignInNeeded || st.Accounts.Vantagepoint.SignInNeeded || st.Accounts.Vantagepoint.Connected {
		t.Errorf("suspended: %+v", st)
	}
	// Scheduled sync stopped: hours later nothing was asked.
	w.staysSilent(t, "while suspended", 30)
	if st, _ := w.status(t); st.LastBatch.ID != last {
		t.Errorf("a batch ran while suspended: %+v", st.LastBatch)
	}

	// Vantagepoint is back; Resume runs a batch at once.
	w.v.ClearFaults()
	if code, out, errOut := w.run("resume"); code != exitOK || !strings.HasPrefix(out, "State: ") {
		t.Fatalf("resume = %d\n%s%s", code, out, errOut)
	}
	st = w.waitStatus(t, "Active after Resume", func(s agent.Status) bool {
		return s.State == agent.StateActive && !s.Running && s.LastBatch.ID > last
	})
	if st.LastBatch.Outcome != syncer.OutcomeOK || st.ConsecutiveFailures != 0 || st.NextBatchAt == nil || !st.Accounts.Vantagepoint.Connected {
		t.Errorf("after Resume: %+v", st)
	}
}

func TestAgentPauseSurvivesARestart(t *testing.T) {
	w := newAgentWorld(t)
	w.activate(t)
	first := w.startAgent(t)
	code, b, errOut := w.sync(t)
	if code != exitOK {
		t.Fatalf("sync = %d\n%s", code, errOut)
	}
	w.waitStatus(t, "the first batch", settled(b.ID))

	if code, out, errOut := w.run("pause"); code != exitOK || !strings.HasPrefix(out, "State: ") {
		t.Fatalf("pause = %d\n%s%s", code, out, errOut)
	}
	st := w.waitStatus(t, "Paused", func(s agent.Status) bool { return s.State == agent.StatePaused })
	if st.SyncStatus != agent.SyncDisabled || st.NextBatchAt != nil || !st.PauseAllowed {
		t.Errorf("paused: %+v", st)
	}
	w.staysSilent(t, "while paused", 5)

	// The pause is kept across a restart of the agent.
	first.stop(t)
	if st, _ := w.status(t); st.State != agent.StatePaused {
		t.Errorf("state with the agent stopped: %s", st.State)
	}
	w.startAgent(t)
	st, _ = w.status(t)
	if st.State != agent.StatePaused || st.SyncStatus != agent.SyncDisabled || st.LastBatch == nil || st.LastBatch.ID != b.ID {
		t.Fatalf("after the restart: %+v", st)
	}
	if code, out, errOut := w.run("resume"); code != exitOK {
		t.Fatalf("resume = %d\n%s%s", code, out, errOut)
	}
	st = w.waitStatus(t, "Active after Resume", func(s agent.Status) bool {
		return s.State == agent.StateActive && !s.Running && s.LastBatch.ID > b.ID
	})
	if st.SyncStatus != agent.SyncEnabled || st.LastBatch.Outcome != syncer.OutcomeOK || st.NextBatchAt == nil {
		t.Errorf("after Resume: %+v", st)
	}
}

func TestAgentDisabledByAdministrator(t *testing.T) {
	w := newAgentWorld(t)
	w.activate(t)
	writePolicy(t, `{"sync": {"enabled": false}}`)
	before := w.requests()
	w.startAgent(t)
	st, raw := w.status(t)
	if st.State != agent.StateDisabled || st.SyncStatus != agent.SyncDisabled || st.PauseAllowed ||
		st.Reason != "Your administrator turned synchronization off for this computer." || st.NextBatchAt != nil {
		t.Errorf("disabled: %+v", st)
	}
	if raw["state"] != "Disabled by administrator" || raw["syncStatus"] != "Disabled" {
		t.Errorf("status --json: %v", raw)
	}
	for _, verb := range []string{"pause", "resume"} {
		code, out, errOut := w.run(verb)
		if code != exitFailure || out != "" || !strings.Contains(errOut, "vpconnect "+verb+": synchronization is disabled by your administrator") {
			t.Errorf("%s = %d\n%s%s", verb, code, out, errOut)
		}
	}
	code, out, errOut := w.run("sync")
	if code != exitFailure || !strings.Contains(errOut, "disabled by your administrator") {
		t.Errorf("sync = %d\n%s%s", code, out, errOut)
	}
	// Time passes; nothing syncs.
	for range 5 {
		w.clock.Advance(vpInterval)
	}
	if n := w.clock.Pending(); n != 0 {
		t.Errorf("%d timers pending while disabled", n)
	}
	if now := w.requests(); now != before {
		t.Errorf("requests while disabled: %+v, then %+v", before, now)
	}
	if st, _ := w.status(t); st.State != agent.StateDisabled || st.LastBatch != nil {
		t.Errorf("after a while: %+v", st)
	}
}

func TestStandaloneSyncDisabledByAdministrator(t *testing.T) {
	w := newAgentWorld(t)
	w.activate(t)
	writePolicy(t, `{"sync": {"enabled": false}}`)
	code, out, errOut := w.run("sync", "--once")
	if code != exitFailure || out != "" || !strings.Contains(errOut, "Your administrator turned synchronization off") {
		t.Errorf("sync --once = %d\n%s%s", code, out, errOut)
	}
	code, out, _ = w.run("status")
	if code != exitOK || !strings.Contains(out, "State:            Disabled by administrator") {
		t.Errorf("status = %d\n%s", code, out)
	}
}

// ui.allowPause=false: sync runs, but the user cannot pause it.
func TestAgentPauseNotAllowedByPolicy(t *testing.T) {
	w := newAgentWorld(t)
	w.activate(t)
	writePolicy(t, `{"ui.allowPause": false}`)
	w.startAgent(t)
	for _, verb := range []string{"pause", "resume"} {
		code, out, errOut := w.run(verb)
		if code != exitFailure || out != "" || !strings.Contains(errOut, "does not allow pausing") {
			t.Errorf("%s = %d\n%s%s", verb, code, out, errOut)
		}
	}
	code, b, errOut := w.sync(t)
	if code != exitOK {
		t.Fatalf("sync = %d\n%s", code, errOut)
	}
	st := w.waitStatus(t, "the batch", settled(b.ID))
	if st.State != agent.StateActive || st.PauseAllowed {
		t.Errorf("status: %+v", st)
	}
}

// A policy value that is wrong is reported and ignored; the agent runs.
func TestAgentReportsABadPolicyValue(t *testing.T) {
	w := newAgentWorld(t)
	w.activate(t)
	writePolicy(t, `{"sync": {"interval": "5s"}}`)
	w.startAgent(t)
	st, _ := w.status(t)
	if st.State != agent.StateActive || len(st.PolicyErrors) != 1 || !strings.Contains(st.PolicyErrors[0], "sync.interval") {
		t.Errorf("status: %+v", st)
	}
	code, out, _ := w.run("status")
	if code != exitOK || !strings.Contains(out, "Policy ignored:   policy: ") {
		t.Errorf("status = %d\n%s", code, out)
	}
}

// An employee starts the agent (it runs at login), then activates: the
// running agent takes the activation up and syncs, without a restart by hand.
func TestAgentTakesUpAnActivationMadeWhileItRuns(t *testing.T) {
	w := newAgentWorld(t)
	r := w.startAgent(t)
	if st, _ := w.status(t); st.State != agent.StateNotConfigured {
		t.Fatalf("before activation: %s", st.State)
	}
	code, out, errOut := w.run("activate")
	if code != exitOK || !strings.Contains(out, "The running agent took the activation up") {
		t.Fatalf("activate = %d\n%s%s", code, out, errOut)
	}
	// Asked of the running agent itself: 'status' would answer standalone
	// while the agent restarts.
	deadline := time.Now().Add(30 * time.Second)
	var st agent.Status
	for {
		c, err := localapi.Dial(context.Background(), w.dir, w.cfg.LocalAPI.Port)
		if err == nil {
			st, err = c.Status(context.Background())
		}
		if err == nil && st.State == agent.StateActive {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the running agent did not take the activation up: %+v, %v\n%s", st, err, r.stderr)
		}
		time.Sleep(10 * time.Millisecond)
	}
	if st.MailboxStatus != syncer.MailboxInitialized || st.Accounts.Microsoft.User != "dana@contoso.example" || st.Accounts.Vantagepoint.Employee != "00042" {
		t.Errorf("status after activation: %+v", st)
	}
	code, b, errOut := w.sync(t)
	if code != exitOK || b == nil || b.Counts[syncer.TypeEmails].Created != 1 {
		t.Fatalf("sync through the agent = %d %+v\n%s", code, b, errOut)
	}
	// Built again behind the same loopback API: a Sync Options page open
	// during the activation keeps its session.
	if n := strings.Count(r.stderr.String(), ", API on "); n != 1 {
		t.Errorf("the agent said it listens %d times, want 1 (the API outlives the restart):\n%s", n, r.stderr)
	}
}

// docs/behaviour.md §8: the state file deleted (or found damaged and recreated) while
// the sign-ins stay: the agent takes the mailbox up again on its first
// batch and pairs everything by natural keys; nothing is created twice.
func TestAgentTakesTheMailboxUpAfterTheStateFileIsLost(t *testing.T) {
	w := newAgentWorld(t)
	w.activate(t)
	first := w.startAgent(t)
	code, b, errOut := w.sync(t)
	if code != exitOK || b.Counts[syncer.TypeEmails].Created != 1 || b.Counts[syncer.TypeContacts].Created != 1 || b.Counts[syncer.TypeEvents].Created != 1 {
		t.Fatalf("first sync = %d %+v\n%s", code, b, errOut)
	}
	w.waitStatus(t, "the first batch", settled(b.ID))
	first.stop(t)
	activities, contacts := len(w.v.Activities()), len(w.v.Contacts())
	for _, suffix := range []string{"", "-wal", "-shm"} {
		if err := os.Remove(filepath.Join(w.dir, system.StateFile+suffix)); err != nil && !errors.Is(err, os.ErrNotExist) {
			t.Fatal(err)
		}
	}

	w.startAgent(t)
	if st, _ := w.status(t); st.State != agent.StateActive || st.MailboxStatus != syncer.MailboxInitialized {
		t.Fatalf("after the state file was lost: %s, mailbox %s (%s)", st.State, st.MailboxStatus, st.Reason)
	}
	code, b, errOut = w.sync(t)
	if code != exitOK || b == nil || b.Outcome != syncer.OutcomeOK {
		t.Fatalf("sync after the state file was lost = %d %+v\n%s", code, b, errOut)
	}
	for typ, c := range b.Counts {
		if c.Created != 0 || c.Deleted != 0 {
			t.Errorf("%s after the state file was lost: %+v; want everything paired again", typ, c)
		}
	}
	if n, m := len(w.v.Activities()), len(w.v.Contacts()); n != activities || m != contacts {
		t.Errorf("Vantagepoint holds %d activities and %d contacts, %d and %d before", n, m, activities, contacts)
	}
	code, b, _ = w.sync(t)
	if code != exitOK || b.Requests["vantagepoint"] > 3 {
		t.Errorf("the batch after = %d %+v; want a quiet one", code, b)
	}
}

// Issue: an app registration or tenant refused for IT's reasons (IT made
// the app single-tenant while the agents use the organizations authority;
// the organization's consent was revoked where users may not consent) ends
// in Suspended by Error with the fix in one sentence, after one token
// request, not in "unavailable" retried forever. The sentence is in
// 'vpconnect status', the tray's status and the page's status; once IT has
// changed the setting, re-authorizing brings the agent back.
func TestAgentMisregisteredAppNamesTheFix(t *testing.T) {
	for _, c := range []struct {
		name       string
		break_, it func(w *agentWorld)
		fix        string
	}{
		{"single-tenant app", func(w *agentWorld) { w.g.SetSingleTenant(true) }, func(w *agentWorld) { w.g.SetSingleTenant(false) },
			"set microsoft.tenant to the Directory (tenant) ID"},
		{"consent revoked", func(w *agentWorld) { w.g.RevokeConsent() }, func(w *agentWorld) { w.g.GrantConsent() },
			"choose 'Grant admin consent'"},
	} {
		t.Run(c.name, func(t *testing.T) {
			w := newAgentWorld(t)
			w.startSynced(t)

			c.break_(w)
			w.g.ExpireAccessTokens()
			before := w.requests()
			w.clock.Advance(vpInterval)
			st := w.waitStatus(t, "Suspended by Error", func(s agent.Status) bool { return s.State == agent.StateSuspended && !s.Running })
			if ms := st.Accounts.Microsoft; !ms.SignInNeeded || !strings.Contains(ms.Reason, c.fix) ||
				!strings.HasPrefix(st.Reason, "Microsoft 365 refused the app registration. To fix: ") || !strings.Contains(st.Reason, c.fix) ||
				strings.Count(st.Reason, ". ") > 2 {
				t.Errorf("after the refusal: reason %q, account %+v", st.Reason, st.Accounts.Microsoft)
			}
			if n := w.requests().msToken - before.msToken; n != 1 {
				t.Errorf("%d Microsoft token requests to learn of the refusal; want 1", n)
			}
			// The same sentence in 'vpconnect status' and the tray (the
			// page shows the status's reason: agent/localapi).
			code, out, _ := w.run("status")
			if !strings.Contains(out, c.fix) || !strings.Contains(out, agent.StateSuspended) {
				t.Errorf("vpconnect status = %d:\n%s", code, out)
			}
			if ts := trayStatus(st, nil); ts.Reason != st.Reason || !ts.MicrosoftSignInNeeded {
				t.Errorf("the tray gets %+v", ts)
			}
			w.staysSilent(t, "suspended by a misregistration", 3)

			// Re-authorizing before IT has changed anything fails with
			// the same fix; after, it brings the agent back.
			if code, out, errOut := w.run("reauthorize", "microsoft"); code == exitOK || !strings.Contains(out+errOut, c.fix) && !strings.Contains(out+errOut, "vpconnect check") {
				t.Errorf("reauthorize before the fix = %d\n%s%s", code, out, errOut)
			}
			c.it(w)
			if code, out, errOut := w.run("reauthorize", "microsoft"); code != exitOK {
				t.Fatalf("reauthorize after the fix = %d\n%s%s", code, out, errOut)
			}
			st = w.waitStatus(t, "Active after IT's fix and a re-authorization", func(s agent.Status) bool {
				return s.State == agent.StateActive && !s.Running && !s.Accounts.Microsoft.SignInNeeded
			})
			if st.Reason != "" || st.LastBatch == nil || st.LastBatch.Outcome != syncer.OutcomeOK {
				t.Errorf("after the fix: %+v", st)
			}
		})
	}
}

// Exchange keeps only the last few generations of a sync state: a quiet
// agent that probes its mailbox every 30 s must keep the cursor each probe
// ends on, or its saved deltaLinks expire and every batch lists its
// collections from scratch (issue: "first contact with a real tenant").
func TestQuietAgentKeepsItsSyncStateAcrossProbes(t *testing.T) {
	w := newAgentWorld(t)
	st := w.startSynced(t)
	initial, gone := w.g.DeltaStats()
	before := w.g.Requests()
	startDay := w.clock.Now().UTC().Truncate(24 * time.Hour)
	for i := 1; i <= 40; i++ {
		seq := st.Seq
		w.clock.Advance(30 * time.Second)
		st = w.waitStatus(t, fmt.Sprintf("probe %d", i), func(s agent.Status) bool { return s.Seq > seq && !s.Running })
	}
	initial2, gone2 := w.g.DeltaStats()
	// The calendar's window moves at midnight UTC, and a calendarView
	// delta link is only valid for its window (syncer/events.go): a run
	// that crosses midnight lists the calendar once from scratch.
	wantInitial := int64(0)
	if w.clock.Now().UTC().Truncate(24*time.Hour) != startDay {
		wantInitial = 1
	}
	if initial2-initial != wantInitial || gone2 != gone {
		t.Errorf("40 quiet probes: %d full listings and %d answers 410; want %d and none", initial2-initial, gone2-gone, wantInitial)
	}
	if st.State != agent.StateActive || w.g.Requests() == before {
		t.Errorf("after 40 probes: %s, %d Graph requests", st.State, w.g.Requests()-before)
	}
}

// A mailbox Graph cannot serve (on-premises or unlicensed: 404
// MailboxNotEnabledForRESTAPI) and a mailbox Exchange refuses the app (403
// ErrorAccessDenied) each end in Suspended by Error with their own fix,
// not in "sign in again", "folder not found" or endless retries.
func TestAgentMailboxRefusalsNameTheirFix(t *testing.T) {
	for _, c := range []struct {
		state graphsim.MailboxState
		code  string
		want  string
	}{
		{graphsim.MailboxNotEnabled, "MailboxNotEnabledForRESTAPI", "not enabled for Microsoft Graph"},
		{graphsim.MailboxAccessDenied, "ErrorAccessDenied", "application access policies"},
	} {
		t.Run(c.code, func(t *testing.T) {
			w := newAgentWorld(t)
			w.startSynced(t)
			// The profile still answers: only the mailbox is refused.
			w.g.SetMailboxState(c.state)
			w.clock.Advance(vpInterval)
			st := w.waitStatus(t, "Suspended by Error", func(s agent.Status) bool { return s.State == agent.StateSuspended && !s.Running })
			if !strings.Contains(st.Reason, c.want) || !strings.Contains(st.Reason, "To fix: ") || strings.Contains(st.Reason, "Sign-in needed") {
				t.Errorf("reason %q; want the fix mentioning %q", st.Reason, c.want)
			}
			w.staysSilent(t, "suspended by a mailbox refusal", 3)
		})
	}
}

// The same refusals met on activation, before any batch, stop it with the
// same fix rather than a bare HTTP error.
func TestActivateOnARefusedMailboxNamesTheFix(t *testing.T) {
	for _, c := range []struct {
		state graphsim.MailboxState
		want  string
	}{
		{graphsim.MailboxNotEnabled, "move the mailbox to Exchange Online"},
		{graphsim.MailboxAccessDenied, "application access policies"},
	} {
		w := newAgentWorld(t)
		w.g.SetMailboxState(c.state)
		code, _, errOut := w.run("activate")
		if code == exitOK || !strings.Contains(errOut, "to fix: ") || !strings.Contains(errOut, c.want) || strings.Contains(errOut, "sign in again") {
			t.Errorf("activate with mailbox state %d = %d\n%s", c.state, code, errOut)
		}
	}
}
