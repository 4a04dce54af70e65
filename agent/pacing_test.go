package agent

import (
	"fmt"
	"math"
	"slices"
	"strings"
	"testing"
	"time"

	"vpconnect/syncer"
	"vpconnect/syncer/vantagepoint"
)

// fleetRate is the steady request rate the pacing formula expects of a
// fleet of agents like p polling as pl says: what each costs besides its
// polls, and its polls (a light one between two whole ones when contacts
// are listed every second poll).
func fleetRate(p *pacing, pl pacePlan, now time.Time) float64 {
	n := float64(p.fleet())
	perPoll := p.perPoll
	if pl.ContactsEvery == 2 {
		perPoll = (p.perPoll + p.lightCost()) / 2
	}
	per := tokenRefreshRate + p.unpacedRate(now) + perPoll/pl.Interval.Seconds()
	if p.admin {
		per += p.readCost()/AdminReadEvery.Seconds() + 1/AdminHeartbeat.Seconds() +
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
	busy.observe(false, syncer.ScopeFull, 40, t0)
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
	p.observe(pacedPoll("schedule", true), syncer.ScopeMailbox, 6, now)
	if p.perPoll != 2 || p.unpacedRate(now) <= 0 {
		t.Errorf("a probe's batch of 6 requests: per poll %v, unpaced %v; want 2 and more than 0", p.perPoll, p.unpacedRate(now))
	}
	p.observe(pacedPoll("schedule", false), syncer.ScopeFull, 4, now)
	if p.perPoll <= 2 {
		t.Errorf("a poll of 4 requests left the per-poll cost at %v", p.perPoll)
	}
}

// The interval keeps the whole fleet within its share of the budget
// (paceTarget), with whole polls up to 30 minutes, then with contacts
// listed every second poll; a fleet that needs more than the budget even
// then polls every 30 minutes, and status tells IT the budget it needs.
func TestPacingKeepsTheBudget(t *testing.T) {
	now := time.Date(2026, 11, 2, 10, 0, 0, 0, time.UTC)
	for _, c := range []struct {
		fleet    int
		why      string
		min, max time.Duration
		contacts int
	}{
		{100, "not paced: 100 agents", 2 * time.Minute, 2 * time.Minute, 1},
		{1500, "paced: 1,500 agents (counted in the agents hub), budget 20 req/s", 2 * time.Minute, MaxPacedInterval, 1},
		{4000, "paced: 4,000 agents (counted in the agents hub), budget 20 req/s; contacts every second poll", 2 * time.Minute, MaxPacedInterval, 2},
		{5000, "paced to the longest interval (30m0s), contacts every second poll: 5,000 agents (counted in the agents hub) need about 22 req/s even so, over the budget of 20: raise vantagepoint.maxRequestsPerSecond", MaxPacedInterval, MaxPacedInterval, 2},
		{50000, "paced to the longest interval (30m0s), contacts every second poll: 50,000 agents (counted in the agents hub) need about 2", MaxPacedInterval, MaxPacedInterval, 2},
	} {
		p := pacing{budget: 20, estimate: 500, counted: c.fleet, perPoll: 2.5, admin: true}
		p.observe(false, syncer.ScopeMailbox, 4, now.Add(-20*time.Minute)) // a tracked e-mail
		pl := p.plan(2*time.Minute, now)
		if pl.Interval < c.min || pl.Interval > c.max || pl.ContactsEvery != c.contacts || !strings.Contains(pl.Reason, c.why) {
			t.Errorf("%d agents: %v, contacts every %d polls, %q; want %v–%v, every %d, and %q", c.fleet, pl.Interval, pl.ContactsEvery, pl.Reason, c.min, c.max, c.contacts, c.why)
		}
		r := fleetRate(&p, pl, now)
		switch {
		case pl.Interval < MaxPacedInterval && r > paceTarget*20+0.001:
			t.Errorf("%d agents at %v: %.2f req/s, over %.0f%% of the budget of 20", c.fleet, pl.Interval, r, 100*paceTarget)
		case pl.Interval == MaxPacedInterval && !strings.Contains(pl.Reason, fmt.Sprintf("need about %d req/s", int(math.Ceil(r)))):
			// The budget the reason names is the one the fleet needs.
			t.Errorf("%d agents: %q; want the %.1f req/s needed at %v", c.fleet, pl.Reason, r, pl.Interval)
		}
	}
	// Without the hubs: the estimate, said as such.
	p := pacing{budget: 20, estimate: 500, perPoll: 2}
	if _, why := p.interval(2*time.Minute, now); !strings.Contains(why, "500 agents (estimated: vantagepoint.fleetSize)") {
		t.Errorf("without a count: %q", why)
	}
}

// A read of the switches that costs two requests (a group's switch besides
// the employee's) is paced at two: the pacing measures it.
func TestPacingCountsWhatAReadOfTheSwitchesCosts(t *testing.T) {
	now := time.Date(2026, 11, 2, 10, 0, 0, 0, time.UTC)
	one := pacing{budget: 20, counted: 2000, perPoll: 2, admin: true}
	two := one
	for range 10 {
		two.observeRead(2)
	}
	d1, _ := one.interval(2*time.Minute, now)
	d2, _ := two.interval(2*time.Minute, now)
	if d2 <= d1 {
		t.Fatalf("reads of 2 requests: %v; of 1: %v; want longer", d2, d1)
	}
	if r := fleetRate(&two, two.plan(2*time.Minute, now), now); r > paceTarget*20+0.001 {
		t.Errorf("reads of 2 requests at %v: %.2f req/s, over the target", d2, r)
	}
}

// With contacts every second poll, every other paced poll is a light one
// (meetings only), and its cost is measured apart from a whole poll's.
func TestPacingLightPollsAlternate(t *testing.T) {
	now := time.Date(2026, 11, 2, 10, 0, 0, 0, time.UTC)
	p := pacing{budget: 20, counted: 5000, perPoll: 2.5, admin: true}
	if pl := p.plan(2*time.Minute, now); pl.ContactsEvery != 2 || pl.Interval >= MaxPacedInterval {
		t.Fatalf("5,000 agents: %v, contacts every %d polls; want under %v, every 2", pl.Interval, pl.ContactsEvery, MaxPacedInterval)
	}
	var scopes []syncer.Scope
	for range 4 {
		scopes = append(scopes, p.pollScope(2*time.Minute, now))
	}
	want := []syncer.Scope{syncer.ScopeFull, syncer.ScopeMeetings, syncer.ScopeFull, syncer.ScopeMeetings}
	if !slices.Equal(scopes, want) {
		t.Fatalf("scopes of four polls %v, want %v", scopes, want)
	}
	p.observe(true, syncer.ScopeMeetings, 1, now)
	if p.perPoll != 2.5 || p.perLight >= 1.5 || p.perLight < 1 {
		t.Errorf("a light poll of 1 request: whole %v, light %v; want 2.5 and between 1 and 1.5", p.perPoll, p.perLight)
	}
	small := pacing{budget: 20, counted: 100, perPoll: 2.5, admin: true}
	for range 3 {
		if s := small.pollScope(2*time.Minute, now); s != syncer.ScopeFull {
			t.Fatalf("100 agents: a poll of scope %v, want whole ones only", s)
		}
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
