package alerts

import (
	"strings"
	"testing"

	"vpconnect/agent"
)

// status is the agent's status after batch id (0: none yet).
func status(id int64, state string, edit func(*agent.Status)) agent.Status {
	s := agent.Status{State: state}
	if id > 0 {
		s.LastBatch = &agent.Batch{ID: id}
	}
	if edit != nil {
		edit(&s)
	}
	return s
}

func msRefused(s *agent.Status) {
	s.Accounts.Microsoft.SignInNeeded = true
	s.Accounts.Microsoft.Reason = "the refresh token was revoked"
}

func keys(as []Alert) []string {
	var out []string
	for _, a := range as {
		out = append(out, a.Key)
	}
	return out
}

// A refused sign-in is told once over many batches, as the sign-in (not
// also as "suspended"), and its action re-authorizes that account.
func TestARefusedSignInIsToldOnce(t *testing.T) {
	var m Memory
	first := m.Next(status(1, agent.StateSuspended, msRefused))
	if len(first) != 1 || first[0].Key != "signin:microsoft" || first[0].Page != PageMicrosoft {
		t.Fatalf("first alerts %+v", first)
	}
	if a := first[0]; !strings.Contains(a.Body, "the refresh token was revoked") || a.Action != "Re-authorize Microsoft 365" {
		t.Errorf("alert %+v", a)
	}
	for id := int64(2); id < 10; id++ {
		if again := m.Next(status(id, agent.StateSuspended, msRefused)); len(again) != 0 {
			t.Fatalf("batch %d told again: %v", id, keys(again))
		}
	}
}

// A restarted agent does not know yet that the sign-in was refused: that
// is no reason to tell it again when it finds out.
func TestARestartDoesNotTellAgain(t *testing.T) {
	var m Memory
	m.Next(status(4, agent.StateSuspended, msRefused))
	if got := m.Next(status(4, agent.StateActive, nil)); len(got) != 0 {
		t.Fatalf("restart: %v", keys(got))
	}
	if got := m.Next(status(4, agent.StateSuspended, msRefused)); len(got) != 0 {
		t.Fatalf("the restarted agent found the refusal again: told %v", keys(got))
	}
}

// Once a batch ran without the condition, it is forgotten: when it comes
// back it is told again.
func TestAConditionThatCameBackIsToldAgain(t *testing.T) {
	var m Memory
	m.Next(status(1, agent.StateSuspended, msRefused))
	// While the re-authorized batch runs, nothing is forgotten yet.
	if got := m.Next(status(1, agent.StateActive, func(s *agent.Status) { s.Running = true })); len(got) != 0 {
		t.Fatalf("running: %v", keys(got))
	}
	m.Next(status(2, agent.StateActive, nil))
	if got := m.Next(status(3, agent.StateSuspended, msRefused)); len(got) != 1 {
		t.Fatalf("refused again after a good batch: told %v, want it once", keys(got))
	}
}

// Sync suspended after failed batches says why; held-back deletions are
// told per item type with the guard's count.
func TestSuspendedAndHeldDeletions(t *testing.T) {
	var m Memory
	got := m.Next(status(10, agent.StateSuspended, func(s *agent.Status) {
		s.Reason = "10 batches in a row failed (last: Vantagepoint unreachable). Scheduled sync stopped: press Resume to try again."
	}))
	if len(got) != 1 || got[0].Key != "suspended" || !strings.Contains(got[0].Body, "press Resume") || got[0].Page != PageStatus {
		t.Fatalf("suspended: %+v", got)
	}
	held := func(s *agent.Status) {
		s.OpenIssues = []agent.Issue{
			{Type: "contacts", Side: "mailbox", Item: "deletions held back", Reason: "12 of 14 synced contacts disappeared from Outlook in one batch; no deletion was applied. Confirming deletes 12 contacts in Vantagepoint: \"Ann Lee\" and 11 more. If this is intended, confirm it in Sync Options or the tray; otherwise refuse it there, and what is left is copied back."},
			{Type: "emails", Side: "vantagepoint", Item: "Re: drawings", Reason: "413 too large"},
		}
	}
	got = m.Next(status(11, agent.StateWithIssues, held))
	if len(got) != 1 || got[0].Key != "held:contacts" || !strings.Contains(got[0].Body, "12 of 14 synced contacts") {
		t.Fatalf("held: %+v", got)
	}
	if !strings.Contains(got[0].Body, `"Ann Lee" and 11 more`) {
		t.Errorf("held body does not say what would be deleted: %s", got[0].Body)
	}
	if again := m.Next(status(12, agent.StateWithIssues, held)); len(again) != 0 {
		t.Fatalf("told again: %v", keys(again))
	}
}
