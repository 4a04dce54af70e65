package agent

import (
	"strings"
	"testing"
	"time"

	"vpconnect/syncer/vantagepoint"
)

// fleetRate is the steady request rate the pacing formula expects of a
// fleet of agents like p at interval d: what each costs besides its polls,
// and its polls.
func fleetRate(p *pacing, d time.Duration, now time.Time) float64 {
	n := float64(p.fleet())
	per := tokenRefreshRate + p.unpacedRate(now) + p.perPoll/d.Seconds()
	if p.admin {
		per += 1/AdminReadEvery.Seconds() + 1/AdminHeartbeat.Seconds() +
			float64((p.fleet()+fleetCountPage-1)/fleetCountPage)/(FleetCountEvery+FleetCountSpread/2).Seconds()
	}
	return n * per
}

// The unpaced rate is the agent's recent batches outside the polls, decayed
// to the moment of asking: an agent that filed ten e-mails at 9 a.m. and
// nothing since does not still pace for them at noon.
func TestPacingUnpacedRateDecaysToNow(t *testing.T) {
	t0 := time.Date(2026, 11, 2, 9, 0, 0, 0, time.UTC)
	quiet := pacing{budget: 20, counted: 3000, perPoll: 2, admin: true}
	busy := quiet
	busy.observe(false, 40, t0)
	at9, _ := busy.interval(2*time.Minute, t0)
	base, _ := quiet.interval(2*time.Minute, t0)
	if at9 <= base {
		t.Fatalf("just after 40 unpaced requests the interval is %v, quiet %v; want longer", at9, base)
	}
	noon, _ := busy.interval(2*time.Minute, t0.Add(3*time.Hour))
	if noon >= at9 {
		t.Errorf("3 hours later the interval is still %v (at 9: %v): the unpaced rate was not decayed", noon, at9)
	}
	if later, _ := busy.interval(2*time.Minute, t0.Add(12*time.Hour)); later-base > time.Second {
		t.Errorf("12 hours later the interval is %v, a quiet agent's %v", later, base)
	}
}

// A batch that a mailbox probe started (an Outlook change) is not one of
// the polls pacing plans: it comes on top of them, so it counts in the
// unpaced rate and leaves the per-poll cost alone.
func TestPacingProbeBatchesAreUnpaced(t *testing.T) {
	if pacedPoll("schedule", true) || !pacedPoll("schedule", false) || pacedPoll("track", false) || pacedPoll("startup", false) {
		t.Fatal("pacedPoll classifies batches wrongly")
	}
	now := time.Date(2026, 11, 2, 10, 0, 0, 0, time.UTC)
	p := pacing{budget: 20, counted: 3000, perPoll: 2}
	p.observe(pacedPoll("schedule", true), 6, now)
	if p.perPoll != 2 || p.unpacedRate(now) <= 0 {
		t.Errorf("a probe's batch of 6 requests: per poll %v, unpaced %v; want 2 and more than 0", p.perPoll, p.unpacedRate(now))
	}
	p.observe(pacedPoll("schedule", false), 4, now)
	if p.perPoll <= 2 {
		t.Errorf("a poll of 4 requests left the per-poll cost at %v", p.perPoll)
	}
}

// The interval keeps the whole fleet within the budget: up to 30 minutes
// while that is enough, beyond it (up to 2 hours) only when the budget
// needs it, and status says which.
func TestPacingKeepsTheBudget(t *testing.T) {
	now := time.Date(2026, 11, 2, 10, 0, 0, 0, time.UTC)
	for _, c := range []struct {
		fleet int
		why   string
		min   time.Duration
		max   time.Duration
	}{
		{100, "not paced: 100 agents", 2 * time.Minute, 2 * time.Minute},
		{1500, "paced: 1,500 agents (counted in the agents hub), budget 20 req/s", 2 * time.Minute, MaxPacedInterval},
		{5000, "paced beyond 30m0s: 5,000 agents", MaxPacedInterval, BudgetPacedInterval},
		{50000, "paced to the longest interval (2h0m0s): 50,000 agents (counted in the agents hub) exceed the budget", BudgetPacedInterval, BudgetPacedInterval},
	} {
		p := pacing{budget: 20, estimate: 500, counted: c.fleet, perPoll: 2.5, admin: true}
		p.observe(false, 4, now.Add(-20*time.Minute)) // a tracked e-mail
		d, why := p.interval(2*time.Minute, now)
		if d < c.min || d > c.max || !strings.Contains(why, c.why) {
			t.Errorf("%d agents: %v, %q; want %v–%v and %q", c.fleet, d, why, c.min, c.max, c.why)
		}
		if r := fleetRate(&p, d, now); d < BudgetPacedInterval && r > 20.001 {
			t.Errorf("%d agents at %v: %.2f req/s, over the budget of 20", c.fleet, d, r)
		}
	}
	// Without the hubs: the estimate, said as such.
	p := pacing{budget: 20, estimate: 500, perPoll: 2}
	if _, why := p.interval(2*time.Minute, now); !strings.Contains(why, "500 agents (estimated: vantagepoint.fleetSize)") {
		t.Errorf("without a count: %q", why)
	}
}

// The count's page is the Vantagepoint client's default page, which the
// pacing assumes when it counts the count's own requests.
func TestPacingCountPageIsTheClients(t *testing.T) {
	if fleetCountPage != vantagepoint.DefaultPageSize {
		t.Errorf("fleetCountPage %d, the client's page %d", fleetCountPage, vantagepoint.DefaultPageSize)
	}
	for n, want := range map[int]string{7: "7", 1500: "1,500", 50000: "50,000", 1234567: "1,234,567"} {
		if got := thousands(n); got != want {
			t.Errorf("thousands(%d) = %q", n, got)
		}
	}
}
