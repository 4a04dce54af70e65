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
// while the budget allows it: a Vantagepoint change reaches Outlook within
// about half an hour even in a large fleet. Only a fleet whose agents
// would exceed the budget even then (their switches, tokens, heartbeats and
// the users' own batches leave too little room for polls) is paced beyond
// it, up to BudgetPacedInterval: the budget is IT's limit for the server,
// the half hour a target.
const (
	MaxPacedInterval    = 30 * time.Minute
	BudgetPacedInterval = 2 * time.Hour
)

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
	admin     bool    // the agent reads the switches (the hubs exist)
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

// interval is the Vantagepoint poll interval for a base (sync.interval)
// at now: fleet × per-poll requests ÷ interval, plus what every agent
// costs besides its polls (token, switches, heartbeat, unpaced batches),
// stays within the budget.
func (p *pacing) interval(base time.Duration, now time.Time) (time.Duration, string) {
	n := float64(p.fleet())
	if p.budget <= 0 || n <= 0 {
		return base, "not paced"
	}
	overhead := tokenRefreshRate + p.unpacedRate(now)
	if p.admin {
		overhead += 1/AdminReadEvery.Seconds() + 1/AdminHeartbeat.Seconds()
		// The daily count: one page of keys per fleetCountPage agents,
		// every FleetCountEvery and half the spread on average.
		pages := math.Ceil(n / fleetCountPage)
		overhead += pages / (FleetCountEvery + FleetCountSpread/2).Seconds()
	}
	left := float64(p.budget) - n*overhead
	d := BudgetPacedInterval
	if left > 0 {
		d = min(BudgetPacedInterval, time.Duration(n*p.perPoll/left*float64(time.Second)))
	}
	fleet := fmt.Sprintf("%s agents (%s)", thousands(p.fleet()), map[bool]string{true: "counted in the agents hub", false: "estimated: vantagepoint.fleetSize"}[p.counted > 0])
	switch {
	case d <= base:
		return base, fmt.Sprintf("not paced: %s within the budget of %d req/s", fleet, p.budget)
	case d >= BudgetPacedInterval:
		return BudgetPacedInterval, fmt.Sprintf("paced to the longest interval (%v): %s exceed the budget of %d req/s even so", BudgetPacedInterval, fleet, p.budget)
	case d > MaxPacedInterval:
		return d.Round(time.Second), fmt.Sprintf("paced beyond %v: %s, budget %d req/s", MaxPacedInterval, fleet, p.budget)
	}
	return d.Round(time.Second), fmt.Sprintf("paced: %s, budget %d req/s", fleet, p.budget)
}

// observe takes a batch's Vantagepoint requests into the measures: a
// scheduled poll's into the per-poll cost, any other's (a batch the
// mailbox probe started included: it comes on top of the polls) into the
// unpaced rate.
func (p *pacing) observe(poll bool, requests int64, now time.Time) {
	if requests <= 0 {
		return
	}
	if poll {
		const alpha = 0.2
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
	d, why := l.pace.interval(l.sched.cfg.Interval, l.a.clock.Now())
	s := &PacingStatus{Interval: Duration(d), Reason: why, FleetSize: l.pace.fleet(), FleetFromHub: l.pace.counted > 0,
		Budget: l.pace.budget, PerPoll: l.pace.perPoll}
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
