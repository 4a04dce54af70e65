package cli

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"vpconnect/agent"
	"vpconnect/agent/system"
)

// A policy change reaches the running agent within a minute, without a new
// login (docs/behaviour.md §5.4), the policy file on Linux and macOS and the
// registry on Windows (where the suite under Wine runs it): the agent is built again as a fresh start would build
// it, and the user's pause survives the rebuild.
func TestPolicyChangeReachesTheRunningAgent(t *testing.T) {
	w := newAgentWorld(t)
	w.startSynced(t)
	if code, out, errOut := w.run("pause"); code != exitOK {
		t.Fatalf("pause = %d\n%s%s", code, out, errOut)
	}
	w.waitStatus(t, "Paused", func(s agent.Status) bool { return s.State == agent.StatePaused })

	// IT turns sync off for this computer.
	writePolicy(t, `{"sync": {"enabled": false}}`)
	w.policyClock.Advance(system.PolicyCheckEvery)
	st := w.waitStatus(t, "Disabled by administrator, a minute after the policy changed",
		func(s agent.Status) bool { return s.State == agent.StateDisabled })
	if st.PauseAllowed || st.SyncStatus != agent.SyncDisabled {
		t.Errorf("disabled by policy: %+v", st)
	}
	if code, _, _ := w.run("resume"); code == exitOK {
		t.Error("resume was allowed while the policy disables sync")
	}

	// IT lifts it: the agent comes back as the user left it, paused.
	removePolicy(t)
	w.policyClock.Advance(system.PolicyCheckEvery)
	w.waitStatus(t, "Paused again once the policy is lifted", func(s agent.Status) bool { return s.State == agent.StatePaused })

	// A new value applies; the same values written again (a GPO refresh)
	// build nothing.
	writePolicy(t, `{"ui": {"allowPause": false}}`)
	w.policyClock.Advance(system.PolicyCheckEvery)
	w.waitStatus(t, "pause no longer allowed", func(s agent.Status) bool { return s.State == agent.StatePaused && !s.PauseAllowed })
	writePolicy(t, `{"ui": {"allowPause": false}}`)
	for range 3 {
		w.policyClock.Advance(system.PolicyCheckEvery)
	}
	// The next rebuild, if any, would be logged after this status.
	w.waitStatus(t, "still paused", func(s agent.Status) bool { return s.State == agent.StatePaused })
	if n := policyRebuilds(t, w.dir); n != 3 {
		t.Errorf("the agent was built again %d times for the policy; want 3 (off, lifted, no pause)", n)
	}
}

// policyRebuilds counts the agent's log lines of a rebuild for the policy.
func policyRebuilds(t *testing.T, dir string) int {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(dir, "logs", agent.LogFile))
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, line := range strings.Split(string(b), "\n") {
		if strings.Contains(line, "the policy changed") {
			n++
			t.Log(line)
		}
	}
	return n
}
