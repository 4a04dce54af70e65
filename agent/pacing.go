package agent

import (
	"context"
	"fmt"
	"math"
	"time"

	"vpconnect/syncer"
)

// Pacing (SPEC §7, docs/configuration.md): the whole fleet of agents must
// stay within the request budget IT gives the Vantagepoint server
// (vantagepoint.maxRequestsPerSecond). A fixed interval cannot serve both a
// 40-person firm and a 5,000-person one, so each agent sets its
// Vantagepoint poll interval from the fleet's size and its own measured
// requests per poll: never more often than sync.interval, never less often
// than MaxPacedInterval. Sync now, tracking and mailbox changes are never
// paced: they are the user's, and the Outlook → Vantagepoint direction
// rides on the mailbox probe, which loads Microsoft, not the server.

// MaxPacedInterval is the longest Vantagepoint poll interval pacing sets.
const MaxPacedInterval = 30 * time.Minute

// Per agent, besides its polls: the switches read every AdminReadEvery
// (when the hubs exist) and a token refresh about every 30 minutes
// (Vantagepoint's tokens last 1,799 s).
const (
	AdminReadEvery   = 10 * time.Minute
	tokenRefreshRate = 1.0 / (28 * 60) // requests/s
)

// FleetCountEvery is how often an agent counts the fleet in the agents
// hub; each count is spread by up to fleetCountSpread, so that a fleet's
// counts do not fall together.
const (
	FleetCountEvery  = 24 * time.Hour
	fleetCountSpread = 2 * time.Hour
	// fleetActiveWithin: an agent whose record was written within this is
	// counted as active.
	fleetActiveWithin = 24 * time.Hour
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
	// pacing does not plan (Sync now, tracking, Outlook changes), decayed
	// over unpacedWindow and last updated at unpacedAt: the polls leave
	// room for it in the budget.
	unpaced   float64
	unpacedAt time.Time
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

// interval is the Vantagepoint poll interval for a base (sync.interval):
// fleet × per-poll requests ÷ interval, plus what every agent costs besides
// its polls, stays within the budget.
func (p *pacing) interval(base time.Duration) (time.Duration, string) {
	n := float64(p.fleet())
	if p.budget <= 0 || n <= 0 {
		return base, "not paced"
	}
	overhead := tokenRefreshRate + p.unpaced
	if p.admin {
		overhead += 1 / AdminReadEvery.Seconds()
	}
	left := float64(p.budget) - n*overhead
	d := MaxPacedInterval
	if left > 0 {
		d = time.Duration(n * p.perPoll / left * float64(time.Second))
	}
	fleet := fmt.Sprintf("%d agents (%s)", p.fleet(), map[bool]string{true: "counted in the agents hub", false: "vantagepoint.fleetSize"}[p.counted > 0])
	switch {
	case d <= base:
		return base, fmt.Sprintf("not paced: %s within the budget of %d req/s", fleet, p.budget)
	case d >= MaxPacedInterval:
		return MaxPacedInterval, fmt.Sprintf("paced to the longest interval: %s, budget %d req/s", fleet, p.budget)
	}
	return d.Round(time.Second), fmt.Sprintf("paced: %s, budget %d req/s", fleet, p.budget)
}

// observe takes a batch's Vantagepoint requests into the measures: a
// scheduled poll's into the per-poll cost, any other's into the unpaced
// rate.
func (p *pacing) observe(trigger string, requests int64, now time.Time) {
	if requests <= 0 {
		return
	}
	if syncer.Trigger(trigger) == syncer.TriggerSchedule {
		const alpha = 0.2
		p.perPoll = (1-alpha)*p.perPoll + alpha*float64(requests)
		return
	}
	if !p.unpacedAt.IsZero() {
		p.unpaced *= math.Exp(-now.Sub(p.unpacedAt).Seconds() / unpacedWindow.Seconds())
	}
	p.unpaced += float64(requests) / unpacedWindow.Seconds()
	p.unpacedAt = now
}

// repace sets the scheduler's interval from the pacing.
func (l *loop) repace() {
	l.pace.admin = l.a.opts.Admin != nil && l.adm.present
	d, _ := l.pace.interval(l.sched.cfg.Interval)
	l.sched.paced = d
}

// pacingSnapshot is the pacing part of Status.
func (l *loop) pacingSnapshot() *PacingStatus {
	d, why := l.pace.interval(l.sched.cfg.Interval)
	s := &PacingStatus{Interval: Duration(d), Reason: why, FleetSize: l.pace.fleet(), FleetFromHub: l.pace.counted > 0,
		Budget: l.pace.budget, PerPoll: l.pace.perPoll}
	if !l.pace.countedAt.IsZero() {
		t := l.pace.countedAt.UTC()
		s.FleetCounted = &t
	}
	return s
}
