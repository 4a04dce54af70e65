package agent

import (
	"context"
	"fmt"
	"math"
	"time"

	"vpconnect/syncer"
)

// Pacing (docs/behaviour.md §7, docs/configuration.md): the whole fleet of agents must
// stay within the request budget IT gives the Vantagepoint server
// (vantagepoint.maxRequestsPerSecond). A fixed interval cannot serve both a
// 40-person firm and a 5,000-person one, so each agent sets its
// Vantagepoint poll interval from the fleet's size and its own measured
// requests per poll: never more often than sync.interval, never less often
// than MaxPacedInterval. Sync now, tracking and mailbox changes are never
// paced: they are the user's, and the Outlook → Vantagepoint direction
// rides on the mailbox probe, which loads Microsoft, not the server.

// MaxPacedInterval is the longest Vantagepoint poll interval pacing sets
// (docs/behaviour.md §4.6): a Vantagepoint change reaches Outlook within
// about half an hour in any fleet. A fleet whose agents would exceed the
// budget even then (their switches, tokens and the users' own batches
// leave too little room for polls) polls every half hour all the same, and
// status tells IT the budget that fleet needs: a change that never reaches
// Outlook is no product, and the budget is IT's to raise.
const MaxPacedInterval = 30 * time.Minute

// paceTarget is the share of the budget the agents aim at. Each paces on
// its own measures, and a fleet's agents are not alike: a busy user's agent
// held at MaxPacedInterval spends more than its share while a quiet one
// polls more often, which the fleet simulation (BenchmarkFleet) shows costs
// the fleet about a twentieth of the budget.
const paceTarget = 0.9

// Per agent, besides its polls: the switches read every AdminReadEvery
// and the record's heartbeat write every AdminHeartbeat (when the hubs
// exist), and a token refresh about every 30 minutes (Vantagepoint's
// tokens last 1,799 s; the reads of the switches keep one in use all day).
const (
	AdminReadEvery   = 10 * time.Minute
	tokenRefreshRate = 1.0 / (28 * 60) // requests/s
)

// FleetCountEvery is how often at most an agent counts the fleet in the
// agents hub; each count waits a further random part of FleetCountSpread,
// chosen once per run, so that a fleet's counts spread over the day
// instead of following the 9 a.m. starts of its first day.
const (
	FleetCountEvery  = 24 * time.Hour
	FleetCountSpread = 24 * time.Hour
	// fleetActiveWithin: an agent whose record was written within this is
	// counted as active.
	fleetActiveWithin = 24 * time.Hour
	// fleetCountPage is the page of a count's listing: the Vantagepoint
	// client's default page (syncer/vantagepoint DefaultPageSize; the
	// fleet simulation checks they agree).
	fleetCountPage = 500
)

// AgentCounter is implemented by an Admin that can count the active agents
// in the agents hub (agent/admin does, with one key-only listing).
type AgentCounter interface {
	// CountAgents returns how many agents wrote their record since
	// activeSince.
	CountAgents(ctx context.Context, activeSince time.Time) (int, error)
}

// PacingStatus is the pacing part of Status.
type PacingStatus struct {
	// Interval is the Vantagepoint poll interval now in force (before
	// jitter and the idle stretch).
	Interval Duration `json:"interval"`
	// Reason says why, in a sentence: "paced: 5,000 agents, budget 20
	// req/s" or "not paced: within the budget".
	Reason string `json:"reason"`
	// FleetSize is the number of agents the pacing assumes;
	// FleetFromHub says whether it was counted in the agents hub (else it
	// is vantagepoint.fleetSize).
	FleetSize    int        `json:"fleetSize"`
	FleetFromHub bool       `json:"fleetFromHub"`
	FleetCounted *time.Time `json:"fleetCounted,omitempty"`
	// Budget is vantagepoint.maxRequestsPerSecond; PerPoll the measured
	// Vantagepoint requests of a scheduled poll.
	Budget  int     `json:"budget"`
	PerPoll float64 `json:"requestsPerPoll"`
	// ContactsEvery: Vantagepoint's contacts are listed every this many
	// polls (1, or 2 when the budget cannot carry whole polls every
	// MaxPacedInterval: the polls between list its meetings only).
	ContactsEvery int `json:"contactsEvery"`
}

// Duration is a time.Duration that JSON writes as "8m20s".
type Duration time.Duration

// MarshalText writes the duration in Go's notation.
func (d Duration) MarshalText() ([]byte, error) { return []byte(time.Duration(d).String()), nil }

// UnmarshalText reads what MarshalText wrote.
func (d *Duration) UnmarshalText(b []byte) error {
	v, err := time.ParseDuration(string(b))
	if err != nil {
		return fmt.Errorf("read a duration: %w", err)
	}
	*d = Duration(v)
	return nil
}

// pacing is the loop's pacing state.
type pacing struct {
	budget    int
	estimate  int // vantagepoint.fleetSize
	counted   int // from the agents hub; 0: not counted
	countedAt time.Time
	perPoll   float64 // EWMA of a scheduled poll's Vantagepoint requests
	perLight  float64 // the same of a light poll (meetings only); 0: not measured yet
	polls     uint64  // paced polls so far: with contacts every second poll, the odd ones are light
	admin     bool    // the agent reads the switches (the hubs exist)
	perRead   float64 // EWMA of a read of the switches' requests; 0: not measured (one)
	// unpaced is the agent's rate of Vantagepoint requests from batches
	// pacing does not plan (start, wake, Sync now, tracking, and the
	// batches a mailbox probe starts on Outlook changes), decayed over
	// unpacedWindow as of unpacedAt: the polls leave room for it in the
	// budget. Read it through unpacedRate, which decays it to the moment
	// of asking: an estimate left as it stood after the last such batch
	// stays high for as long as the agent is quiet.
	unpaced   float64
	unpacedAt time.Time
}

// unpacedRate is the unpaced request rate decayed to now.
func (p *pacing) unpacedRate(now time.Time) float64 {
	if p.unpacedAt.IsZero() || !now.After(p.unpacedAt) {
		return p.unpaced
	}
	return p.unpaced * math.Exp(-now.Sub(p.unpacedAt).Seconds()/unpacedWindow.Seconds())
}

// unpacedWindow is the memory of the unpaced request rate.
const unpacedWindow = time.Hour

// initialPerPoll is what a scheduled poll costs until measured: a
// no-change batch lists contacts and meetings (syncer, `make bench`).
const initialPerPoll = 2.0

// fleet is the fleet size the pacing assumes.
func (p *pacing) fleet() int {
	if p.counted > 0 {
		return p.counted
	}
	return p.estimate
}

// pacePlan is what the pacing sets: the poll interval, why, and how often
// a poll lists Vantagepoint's contacts.
type pacePlan struct {
	Interval      time.Duration
	Reason        string
	ContactsEvery int
}

// interval is the Vantagepoint poll interval for a base (sync.interval) at
// now, and why (plan).
func (p *pacing) interval(base time.Duration, now time.Time) (time.Duration, string) {
	pl := p.plan(base, now)
	return pl.Interval, pl.Reason
}

// readCost is what a read of the switches costs: measured, or one request
// until then (two with a group).
func (p *pacing) readCost() float64 {
	if p.perRead > 0 {
		return p.perRead
	}
	return 1
}

// observeRead takes a round that read the switches and wrote nothing into
// the read's cost.
func (p *pacing) observeRead(requests int) {
	if requests <= 0 {
		return
	}
	if p.perRead == 0 {
		p.perRead = float64(requests)
		return
	}
	const alpha = 0.2
	p.perRead = (1-alpha)*p.perRead + alpha*float64(requests)
}

// lightCost is what a light poll (meetings only) costs: measured, or
// until then a whole poll less its contacts listing.
func (p *pacing) lightCost() float64 {
	if p.perLight > 0 {
		return p.perLight
	}
	return max(1, p.perPoll-1)
}

// plan sets the Vantagepoint polls for a base interval (sync.interval) at
// now, so that fleet × per-poll requests ÷ interval, plus what every
// agent costs besides its polls (token, switches, heartbeat, unpaced
// batches), stays within the budget. Whole polls up to MaxPacedInterval;
// beyond, a light poll (meetings only) between two whole ones, which
// keeps the half hour for a larger fleet; beyond that still, every half
// hour all the same, and the reason gives IT the budget the fleet needs.
func (p *pacing) plan(base time.Duration, now time.Time) pacePlan {
	n := float64(p.fleet())
	if p.budget <= 0 || n <= 0 {
		return pacePlan{base, "not paced", 1}
	}
	overhead := tokenRefreshRate + p.unpacedRate(now)
	if p.admin {
		overhead += p.readCost()/AdminReadEvery.Seconds() + 1/AdminHeartbeat.Seconds()
		// The daily count: one page of keys per fleetCountPage agents,
		// every FleetCountEvery and half the spread on average.
		pages := math.Ceil(n / fleetCountPage)
		overhead += pages / (FleetCountEvery + FleetCountSpread/2).Seconds()
	}
	left := paceTarget*float64(p.budget) - n*overhead
	need := func(perPoll float64) time.Duration {
		if left <= 0 {
			return MaxPacedInterval + time.Second // over the budget even with no polls at all
		}
		return min(MaxPacedInterval+time.Second, time.Duration(n*perPoll/left*float64(time.Second)))
	}
	fleet := fmt.Sprintf("%s agents (%s)", thousands(p.fleet()), map[bool]string{true: "counted in the agents hub", false: "estimated: vantagepoint.fleetSize"}[p.counted > 0])
	switch d := need(p.perPoll); {
	case d <= base:
		return pacePlan{base, fmt.Sprintf("not paced: %s within the budget of %d req/s", fleet, p.budget), 1}
	case d <= MaxPacedInterval:
		return pacePlan{ceilSecond(d), fmt.Sprintf("paced: %s, budget %d req/s", fleet, p.budget), 1}
	}
	avg := (p.perPoll + p.lightCost()) / 2
	if d := need(avg); d <= MaxPacedInterval {
		return pacePlan{max(base, ceilSecond(d)), fmt.Sprintf("paced: %s, budget %d req/s; contacts every second poll", fleet, p.budget), 2}
	}
	needed := int(math.Ceil(n * (overhead + avg/MaxPacedInterval.Seconds())))
	return pacePlan{MaxPacedInterval, fmt.Sprintf("paced to the longest interval (%v), contacts every second poll: %s need about %d req/s even so, over the budget of %d: raise vantagepoint.maxRequestsPerSecond", MaxPacedInterval, fleet, needed, p.budget), 2}
}

// ceilSecond rounds d up to a whole second: rounded down, a paced
// interval would spend a hair over the budget.
func ceilSecond(d time.Duration) time.Duration {
	return (d + time.Second - 1).Truncate(time.Second)
}

// pollScope is the scope of the paced poll about to run: whole, or
// meetings only every second poll when the plan says so.
func (p *pacing) pollScope(base time.Duration, now time.Time) syncer.Scope {
	if p.plan(base, now).ContactsEvery < 2 {
		return syncer.ScopeFull
	}
	p.polls++
	if p.polls%2 == 0 {
		return syncer.ScopeMeetings
	}
	return syncer.ScopeFull
}

// observe takes a batch's Vantagepoint requests into the measures: a
// scheduled poll's into the per-poll cost (a light one's into its own),
// any other's (a batch the mailbox probe started included: it comes on
// top of the polls) into the unpaced rate.
func (p *pacing) observe(poll bool, scope syncer.Scope, requests int64, now time.Time) {
	if requests <= 0 {
		return
	}
	const alpha = 0.2
	switch {
	case poll && scope == syncer.ScopeMeetings:
		if p.perLight == 0 {
			p.perLight = p.lightCost()
		}
		p.perLight = (1-alpha)*p.perLight + alpha*float64(requests)
		return
	case poll:
		p.perPoll = (1-alpha)*p.perPoll + alpha*float64(requests)
		return
	}
	p.unpaced = p.unpacedRate(now) + float64(requests)/unpacedWindow.Seconds()
	p.unpacedAt = now
}

// pacedPoll says whether a batch was one of the polls pacing plans: a
// scheduled batch that the scheduler's timer started, not a mailbox
// probe's news.
func pacedPoll(trigger string, fromProbe bool) bool {
	return syncer.Trigger(trigger) == syncer.TriggerSchedule && !fromProbe
}

// repace sets the scheduler's interval from the pacing.
func (l *loop) repace() {
	l.pace.admin = l.a.opts.Admin != nil && l.adm.present
	d, _ := l.pace.interval(l.sched.cfg.Interval, l.a.clock.Now())
	l.sched.paced = d
}

// pacingSnapshot is the pacing part of Status.
func (l *loop) pacingSnapshot() *PacingStatus {
	pl := l.pace.plan(l.sched.cfg.Interval, l.a.clock.Now())
	s := &PacingStatus{Interval: Duration(pl.Interval), Reason: pl.Reason, FleetSize: l.pace.fleet(), FleetFromHub: l.pace.counted > 0,
		Budget: l.pace.budget, PerPoll: l.pace.perPoll, ContactsEvery: pl.ContactsEvery}
	if !l.pace.countedAt.IsZero() {
		t := l.pace.countedAt.UTC()
		s.FleetCounted = &t
	}
	return s
}

// thousands writes n with a comma every three digits, as status reads it
// ("5,000 agents").
func thousands(n int) string {
	s := fmt.Sprint(n)
	if n < 0 {
		return "-" + thousands(-n)
	}
	for i := len(s) - 3; i > 0; i -= 3 {
		s = s[:i] + "," + s[i:]
	}
	return s
}
