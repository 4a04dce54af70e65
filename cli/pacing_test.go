package cli

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"vpconnect/agent"
	"vpconnect/agent/admin"
	"vpconnect/syncer/vantagepoint/vpsim"
)

// addAgents adds n active agents' records to the agents hub, as the rest of
// a fleet would have written them.
func (w *agentWorld) addAgents(t *testing.T, n int, from int) {
	t.Helper()
	now := vpsim.FormatDate(w.clock.Now())
	for i := range n {
		if _, err := w.v.AddUDICRecord(vpsim.ConnectAgentsHub, map[string]any{
			admin.FieldEmployee: fmt.Sprintf("9%05d", from+i), admin.FieldUpdated: now}); err != nil {
			t.Fatal(err)
		}
	}
}

// The fleet counted in the agents hub sets the interval: 1,500 agents at
// the default budget of 20 req/s need more than sync.interval; a day later
// the fleet has grown and the interval follows.
func TestPacingFollowsTheFleetInTheAgentsHub(t *testing.T) {
	w := newAgentWorld(t)
	w.v.AddConnectHubs()
	w.addAgents(t, 1499, 0)
	w.startWithRecord(t)
	w.clock.Advance(agent.AdminMinInterval) // the count comes with the next round
	st := w.waitStatus(t, "the fleet counted", func(s agent.Status) bool { return s.Pacing != nil && s.Pacing.FleetFromHub })
	p := st.Pacing
	if p.FleetSize != 1500 || p.Budget != 20 || !strings.Contains(p.Reason, "paced: 1,500 agents (counted in the agents hub), budget 20 req/s") {
		t.Fatalf("pacing after the count: %+v", p)
	}
	first := time.Duration(p.Interval)
	if first <= 2*time.Minute || first > agent.MaxPacedInterval {
		t.Fatalf("interval %v for 1,500 agents at 20 req/s", first)
	}
	if code, out, _ := w.run("status"); code != exitOK || !strings.Contains(out, "paced: 1,500 agents") {
		t.Errorf("status does not say why it is paced:\n%s", out)
	}

	// A day later 3,000 agents are active (the first ones went quiet):
	// the next count, spread up to a further day (half of it here: the
	// world's random number is 0.5), sees them.
	before := st.LastBatch.ID
	w.clock.Advance(agent.FleetCountEvery)
	// The day's jump wakes the agent for its poll; the next jump must come
	// after the agent took it, or both land in one wake, where the
	// overdue read looks like a sleep and the round waits for a random
	// moment of AdminFirstSpread that this test never reaches.
	w.waitStatus(t, "the poll a day later", func(s agent.Status) bool {
		return s.LastBatch != nil && s.LastBatch.ID > before && !s.Running
	})
	w.addAgents(t, 3000, 1499)
	w.clock.Advance(agent.FleetCountSpread / 2)
	st = w.waitStatus(t, "the fleet counted again", func(s agent.Status) bool { return s.Pacing.FleetSize >= 3000 })
	if next := time.Duration(st.Pacing.Interval); next <= first {
		t.Errorf("3,000 agents paced to %v, 1,500 to %v", next, first)
	}
}

// The budget comes from policy: 1,000 agents fit the default budget at
// sync.interval; the same fleet under a policy budget of 5 req/s is paced
// (the agent reads policy at its start). Sync now is never paced.
func TestPacingBudgetByPolicyAndSyncNow(t *testing.T) {
	w := newAgentWorld(t)
	writePolicy(t, `{"vantagepoint": {"fleetSize": 1000}}`)
	w.activate(t)
	running := w.startAgent(t)
	st, _ := w.status(t)
	if st.Pacing == nil || time.Duration(st.Pacing.Interval) != 2*time.Minute || st.Pacing.Budget != 20 ||
		!strings.Contains(st.Pacing.Reason, "not paced: 1,000 agents (estimated: vantagepoint.fleetSize)") {
		t.Fatalf("1,000 agents at the default budget: %+v", st.Pacing)
	}
	running.stop(t)

	writePolicy(t, `{"vantagepoint": {"maxRequestsPerSecond": 5, "fleetSize": 1000}}`)
	w.startAgent(t)
	code, first, errOut := w.sync(t)
	if code != exitOK || first == nil {
		t.Fatalf("sync = %d\n%s", code, errOut)
	}
	st = w.waitStatus(t, "the first batch", settled(first.ID))
	b := st.LastBatch
	p := st.Pacing
	// 1,000 agents × about 2 requests per poll ÷ (5 req/s less tokens)
	// is several minutes.
	if p.Budget != 5 || p.FleetSize != 1000 || p.FleetFromHub || time.Duration(p.Interval) < 5*time.Minute {
		t.Fatalf("pacing with a budget of 5 req/s: %+v", p)
	}
	if st.NextBatchAt == nil || st.NextBatchAt.Sub(w.clock.Now()) < 4*time.Minute {
		t.Errorf("next batch at %v, %v from now; want the paced interval (%v, jittered)", st.NextBatchAt, st.NextBatchAt.Sub(w.clock.Now()), time.Duration(p.Interval))
	}
	// Sync now runs at once, paced or not.
	code, b2, errOut := w.sync(t)
	if code != exitOK || b2 == nil || b2.ID != b.ID+1 {
		t.Fatalf("Sync now while paced = %d %+v\n%s", code, b2, errOut)
	}
}

// In a paced fleet the first administration round of a run (the record's
// write and the switches' read) comes at a random moment of the
// AdminFirstSpread after the first batch, not with it: a 9 a.m. login
// wave would otherwise carry every agent's round with its first poll.
// Sync now reads at once (TestPacingBudgetByPolicyAndSyncNow's world).
// (The world's random number is 0.5: half the spread.)
func TestPacingSpreadsTheFirstAdministrationRound(t *testing.T) {
	w := newAgentWorld(t)
	w.v.AddConnectHubs()
	writePolicy(t, `{"vantagepoint": {"maxRequestsPerSecond": 5, "fleetSize": 5000}}`)
	w.activate(t)
	w.startAgent(t)
	// The random first poll: advanced once the loop's timer is set (its
	// status shows it), or the fake clock passes it before it is set.
	first := w.waitStatus(t, "the first poll's timer", func(s agent.Status) bool { return s.NextBatchAt != nil })
	w.clock.Advance(first.NextBatchAt.Sub(w.clock.Now()))
	st := w.waitStatus(t, "the first scheduled batch", func(s agent.Status) bool { return !s.Running && s.LastBatch != nil })
	if time.Duration(st.Pacing.Interval) <= 2*time.Minute || st.LastBatch.Trigger == "manual" {
		t.Fatalf("not paced, or not a scheduled batch: %+v, %+v", st.Pacing, st.LastBatch)
	}
	if st.Admin == nil || st.Admin.Reports != 0 || st.Admin.SwitchReads != 0 {
		t.Fatalf("the first round came with the first batch: %+v", st.Admin)
	}
	w.clock.Advance(agent.AdminFirstSpread/2 - time.Second)
	if st, _ := w.status(t); st.Admin.Reports != 0 || st.Admin.SwitchReads != 0 {
		t.Fatalf("the first round came before its moment: %+v", st.Admin)
	}
	w.clock.Advance(time.Second)
	w.waitAdmin(t, "the first round", func(a agent.AdminStatus) bool { return a.Reports == 1 && a.SwitchReads == 1 })
}
