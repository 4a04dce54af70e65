package agent

// The fleet simulation of docs/behaviour.md §7 ("fleet: 5,000 agents on one Vantagepoint
// (simulated clock, agents' real scheduler code)"). It lives in package agent
// so that it drives the real, unexported scheduler of scheduler.go, and it is
// a discrete-event simulation (a heap of next-event times) so that a working
// morning of a whole company takes seconds, not hours. BenchmarkFleet
// (fleet_bench_test.go) prints the figures; fleet_test.go asserts what IT
// would notice on a smaller fleet.
//
// The simulation copies nothing of the scheduler's rules: jitter, the random
// first poll, the stretch and its snap-back all happen inside *scheduler. What
// it does copy is the order in which Agent.Run's loop (agent.go) calls the
// scheduler, in fleetSim.tick, request, startBatch, startProbe, batchDone and
// rearm; each names the loop code it mirrors. When that loop changes, these
// must change with it.

import (
	"math"
	"math/rand/v2"
	"slices"
	"time"

	"vpconnect/syncer"
	"vpconnect/syncer/vantagepoint"
)

// fleetModel holds every assumption of the simulation, in one place, so that
// a reader can see (and change) what the figures rest on. The defaults are
// in defaultFleetModel, with the reasoning for each.
type fleetModel struct {
	Agents int
	Seed   uint64

	// Schedule is the agents' schedule (zero: the product's defaults).
	Schedule Schedule

	// Population on the morning.
	OvernightShare float64       // agents left running on a locked desktop overnight
	WakeShare      float64       // laptops that slept overnight and wake when the user arrives
	WakeNoticed    float64       // of those, the share whose timers do not count sleep (macOS, Linux): the loop notices the wake and runs a second batch
	WaveFrom       time.Duration // arrivals: triangular from WaveFrom to WaveTo, peaking at WavePeak
	WavePeak       time.Duration
	WaveTo         time.Duration
	BootMin        time.Duration // from arrival to the agent's start (power on, log in, autostart)
	BootMax        time.Duration
	FirstProbeNews bool // the first probe after a start or wake finds news (see defaultFleetModel)

	// Idle or locked sessions (what the scheduler's idle func answers).
	Idle         bool
	ActiveMean   time.Duration // mean time at the desk between two absences (exponential)
	MeetingShare float64       // share of absences that are meetings (else short breaks)
	MeetingMin   time.Duration
	MeetingMax   time.Duration
	BreakMin     time.Duration
	BreakMax     time.Duration

	// Changes, per user and hour at the desk (not idle), except VPChanges.
	TrackPerHour   float64 // e-mails filed from the add-in (Agent.Track: a batch at once)
	TagPerHour     float64 // e-mails filed by the Vantagepoint category (a probe finds them)
	EditPerHour    float64 // synced contacts or meetings edited in Outlook (a probe finds them)
	SyncNowPerHour float64 // "Sync now" presses
	// VPChangesPerHour are changes in Vantagepoint within a user's scope
	// (a contact they own, one of their meetings) made by anyone, at any
	// time from VPChangesFrom: only a Vantagepoint poll sees them.
	VPChangesPerHour float64
	VPChangesFrom    time.Duration
	// VPContactShare is the share of those changes that are a contact's
	// (a light poll leaves them to the next whole one).
	VPContactShare float64
	// IndexShare is the share of edits and Vantagepoint changes that need
	// the batch's contact index (a meeting with attendees, or linked to a
	// contact); every e-mail filed needs it.
	IndexShare float64

	// Vantagepoint requests (see fleetCost).
	Listings int // per batch, one per collection
	// Admin: the company has the administration hubs: each agent reads
	// its switches every AdminReadEvery (and after Sync now), and paces
	// on the fleet counted there.
	Admin bool
	// Groups: every agent is in a group (admin.group), so the first read
	// of the switches in a run is two requests, the employee's and the
	// group's.
	Groups bool
	// Budget is vantagepoint.maxRequestsPerSecond (0: no pacing, the
	// fixed interval of before).
	Budget          int
	CompanyContacts int // contacts with an e-mail in the company's Vantagepoint
	PageSize        int
	// The contact index is kept in the state store (syncer/contactindex.go):
	// a batch that needs it lists only the contacts changed since, in one
	// request (the client keeps the server's page cap between runs, so no
	// probe follows the short page after a start: syncer/vantagepoint
	// pagecap.go), and every FullListingEvery an agent lists them all,
	// never in the first hours after its start.
	FullListingEvery time.Duration
	FullDeferMin     time.Duration
	FullDeferMax     time.Duration
	TokenLifetime    time.Duration
	TokenLeeway      time.Duration

	// Durations: requests of a batch are sequential.
	RequestTime time.Duration
	GraphBase   int           // Graph requests of a no-change batch
	ProbeTime   time.Duration // one delta round per mailbox collection

	// The simulated morning, as offsets from midnight.
	Start, End           time.Duration
	SteadyFrom, SteadyTo time.Duration // the steady-state window
	LoginFrom, LoginTo   time.Duration // the window the login wave's peaks are taken in
}

// defaultFleetModel is docs/behaviour.md §7's fleet on a working morning. Every number
// here is an assumption, not a measurement, except Listings (measured).
func defaultFleetModel() fleetModel {
	return fleetModel{
		Agents: 5000,
		Seed:   20261102,

		// One in five desktops stays on overnight (locked); three in ten
		// computers are laptops that slept and wake on arrival; the other
		// half are switched on in the morning. Most fleets are Windows,
		// whose monotonic clock counts sleep (clock.go), so the loop does
		// not notice the wake; on the other 15% it does and adds a second
		// batch (agent.go checkWake: the overdue batch runs, then the wake
		// batch).
		OvernightShare: 0.2,
		WakeShare:      0.3,
		WakeNoticed:    0.15,
		// Everyone arrives 08:45–09:15, most around 9:00: a harsher wave than
		// a real office's, on purpose.
		WaveFrom: 8*time.Hour + 45*time.Minute,
		WavePeak: 9 * time.Hour,
		WaveTo:   9*time.Hour + 15*time.Minute,
		BootMin:  30 * time.Second,
		BootMax:  3 * time.Minute,
		// The engine's calendar window is whole UTC days and its delta
		// cursor is keyed by the window (syncer/events.go mailboxCursorKey),
		// so on the first probe of a new day there is no cursor and
		// MailboxChanged answers "changed" (syncer/probe.go probeKind): the
		// first probe after a morning start finds news and starts a batch.
		FirstProbeNews: true,

		// Away from the desk about a third of the morning: meetings (half
		// the absences, 30–60 min, session locked) and short breaks (5–15
		// min), between stretches of 50 min at the desk on average.
		Idle:         true,
		ActiveMean:   50 * time.Minute,
		MeetingShare: 0.5,
		MeetingMin:   30 * time.Minute,
		MeetingMax:   60 * time.Minute,
		BreakMin:     5 * time.Minute,
		BreakMax:     15 * time.Minute,

		// A user files about one e-mail an hour at the desk (half from the
		// add-in, half by category), edits a synced contact or meeting in
		// Outlook every three hours or so, and rarely presses Sync now;
		// colleagues change something in their Vantagepoint scope about
		// every three hours.
		TrackPerHour:     0.5,
		TagPerHour:       0.5,
		EditPerHour:      0.3,
		SyncNowPerHour:   0.05,
		VPChangesPerHour: 0.3,
		VPChangesFrom:    7 * time.Hour,
		VPContactShare:   0.5,
		IndexShare:       0.5,

		// Measured: a no-change batch costs 2 Vantagepoint requests, one
		// ModDate listing each for contacts and meetings (syncer/emails_test.go,
		// `make bench`'s "no-change batch" line). A user's own contacts and
		// meetings fit in one page, so the hourly full listing costs the same.
		Listings: 2,
		// The company created the administration hubs (docs/admin.md), no
		// groups: one read of the agent's record every 10 minutes; the
		// fleet is counted there, and the agents pace themselves to the
		// default budget.
		Admin:  true,
		Budget: 20,
		// A company of 5,000 people with 4 contacts with an e-mail per
		// employee; the contact index is one full listing of them, paged.
		CompanyContacts: 20000,
		PageSize:        vantagepoint.DefaultPageSize,
		// syncer: contactIndexFullEvery (30 days), deferred 1–8 h after a
		// start.
		FullListingEvery: 30 * 24 * time.Hour,
		FullDeferMin:     time.Hour,
		FullDeferMax:     8 * time.Hour,
		// Vantagepoint's token answer says expires_in 1799 (vpsim
		// AccessTokenLifetime, from Deltek's example); auth refreshes 2 min
		// before expiry (auth/tokensource.go expiryLeeway), with one request
		// to <apiUrl>/token on the same server. Access tokens are kept in
		// memory only, so every start or wake needs one.
		TokenLifetime: 1799 * time.Second,
		TokenLeeway:   2 * time.Minute,

		RequestTime: 150 * time.Millisecond,
		GraphBase:   4,
		ProbeTime:   600 * time.Millisecond,

		Start:      5 * time.Hour,
		End:        12 * time.Hour,
		SteadyFrom: 10 * time.Hour,
		SteadyTo:   12 * time.Hour,
		LoginFrom:  8*time.Hour + 30*time.Minute,
		LoginTo:    9*time.Hour + 30*time.Minute,
	}
}

// fleetCost is the model of a batch's Vantagepoint requests, given what it
// finds, in one place:
//   - Listings (2): contacts and meetings, from their ModDate watermarks.
//   - one token request when the access token is missing or about to expire.
//   - the contact index, once per batch that files an e-mail or writes a
//     meeting with attendees: 1 request, and
//     ceil(CompanyContacts/PageSize) pages when the agent's weekly full
//     listing is due (the engine defers it 1–4 h after a start).
//   - 1 create per e-mail filed; 2 per Outlook edit (the record is read
//     before the PUT); Vantagepoint-side changes write only to Graph.
//   - admin: docs/behaviour.md §5.5's read of the agent's record in the agents hub,
//     every AdminReadEvery and after Sync now (agent/admin.go), when the
//     company has the hubs; counted apart from the batches (fleetEvAdmin).
//
// Not counted, because the scheduler does not cause them: the add-in's
// lookups (agent/localapi directory, user clicks).
type fleetCost struct {
	listings, token, index, writes, admin int
}

// total is the batch's Vantagepoint requests.
func (c fleetCost) total() int { return c.listings + c.token + c.index + c.writes + c.admin }

// fleetKind is how an agent meets the morning.
type fleetKind uint8

const (
	fleetBoot      fleetKind = iota // the computer is switched on: the agent starts
	fleetWake                       // a laptop wakes from sleep: the agent resumes
	fleetOvernight                  // the agent ran all night; the user unlocks
)

// fleetAgent is one agent: the real scheduler, the few loop fields that
// decide what it does next (agent.go loop), and the world it syncs.
type fleetAgent struct {
	sched *scheduler
	kind  fleetKind
	// noticesWake: the loop's checkWake sees the wall clock jump (timers
	// that do not count sleep), so a wake batch follows the overdue one.
	noticesWake bool

	arrive int64      // the user is at the desk (ns since midnight)
	idle   [][2]int64 // absences after arrival, [from, to)

	// The loop's state (agent.go loop).
	started  bool
	running  bool // a batch or a probe is in flight
	probing  bool // the one in flight is a probe
	pending  syncer.Trigger
	wakeSeen bool // checkWake's request is due after the timer's tick

	timerAt    int64
	timerVer   uint32
	timerArmed bool

	// The world: what the next probe and batch find.
	tagged, tracked, edits int
	needIndex              bool
	windowMoved            bool
	tokenUntil             int64
	changed                bool  // the batch in flight wrote something
	fullDue                int64 // when this agent's weekly full listing may run; 0: not today
	stretchedPlan          bool  // the planned poll is a stretched one

	// pace is the agent's real pacing (pacing.go), on the fleet counted
	// in the agents hub.
	pace         pacing
	adminStarted bool
	reportedAt   int64 // when the record was last written in the agents hub
	reported     bool  // it was, in this run
	// probeNews and fromProbe mirror the loop's: the batch requested, or
	// the one in flight, was started by a mailbox probe's news.
	probeNews, fromProbe bool
	// mailboxOnly: the batch in flight is of syncer.ScopeMailbox; scope
	// is a poll's (pacing.go pollScope).
	mailboxOnly bool
	scope       syncer.Scope

	trigger  syncer.Trigger // of the batch in flight
	lastCost int            // its Vantagepoint requests as the engine counts them

	// Measurements.
	startedAt int64
	firstPoll int64           // first Vantagepoint batch after the start or wake; -1 until then
	vpSince   []fleetVPChange // the Vantagepoint changes the next polls list
}

// fleetVPChange is a change in Vantagepoint within a user's scope: when it
// was made, and whether it is a contact's (else a meeting's).
type fleetVPChange struct {
	at      int64
	contact bool
}

// Event kinds of the heap.
const (
	fleetEvStart  uint8 = iota // the agent starts or wakes
	fleetEvArrive              // the user sits down: changes begin
	fleetEvTimer               // the loop's one timer fires
	fleetEvDone                // the batch or probe in flight ends
	fleetEvUser                // the user does something (at the desk only)
	fleetEvVP                  // a change in Vantagepoint within the user's scope
	fleetEvSample              // once a minute in the steady window: count stretched agents
	fleetEvAdmin               // the periodic read of the administrator's switches
	fleetEvCount               // the agent's daily count of the fleet in the agents hub
)

type fleetEvent struct {
	at    int64
	seq   uint64
	agent int32
	kind  uint8
	ver   uint32
}

// fleetHeap is a binary min-heap on (at, seq), typed to avoid boxing
// millions of events through container/heap.
type fleetHeap []fleetEvent

// less orders events by time, then by the order they were planned, so
// that a run is the same every time.
func (h fleetHeap) less(i, j int) bool {
	return h[i].at < h[j].at || (h[i].at == h[j].at && h[i].seq < h[j].seq)
}

// push adds an event (sift up).
func (h *fleetHeap) push(e fleetEvent) {
	*h = append(*h, e)
	s := *h
	for i := len(s) - 1; i > 0; {
		p := (i - 1) / 2
		if !s.less(i, p) {
			break
		}
		s[i], s[p] = s[p], s[i]
		i = p
	}
}

// pop removes the earliest event (sift down).
func (h *fleetHeap) pop() fleetEvent {
	s := *h
	top := s[0]
	n := len(s) - 1
	s[0] = s[n]
	s = s[:n]
	for i := 0; ; {
		l, r, m := 2*i+1, 2*i+2, i
		if l < n && s.less(l, m) {
			m = l
		}
		if r < n && s.less(r, m) {
			m = r
		}
		if m == i {
			break
		}
		s[i], s[m] = s[m], s[i]
		i = m
	}
	*h = s
	return top
}

// fleetBin is the resolution of the request histogram: peaks over 1 s and
// 10 s are sliding windows of 10 and 100 bins.
const fleetBin = int64(100 * time.Millisecond)

// fleetSim is one simulated morning.
type fleetSim struct {
	m      fleetModel
	base   time.Time // midnight of the simulated day
	now    int64     // ns since midnight
	heap   fleetHeap
	seq    uint64
	agents []*fleetAgent
	world  *rand.Rand // the world's randomness; each scheduler has its own
	events int

	requests []int32 // Vantagepoint requests per bin, from m.Start
	polls    []int32 // batches started per bin
	probes   int     // mailbox probes (Graph only)

	// delays are how long Vantagepoint changes made in the steady window
	// took to reach Outlook (the batch that lists them).
	delays []time.Duration
	// seenDelays count from when the user is at the desk to see it: a
	// change made while they are away (the idle stretch) is timed from
	// their return.
	seenDelays []time.Duration

	// Steady-window totals.
	steadyCost                fleetCost
	samples, stretchedSamples int // agents sampled, and those whose planned poll was stretched
}

func newFleetSim(m fleetModel) *fleetSim {
	bins := int((m.End - m.Start).Nanoseconds() / fleetBin)
	f := &fleetSim{
		m:        m,
		base:     time.Date(2026, 11, 2, 0, 0, 0, 0, time.UTC),
		world:    rand.New(rand.NewPCG(m.Seed, 0x5eed)),
		requests: make([]int32, bins),
		polls:    make([]int32, bins),
	}
	f.now = m.Start.Nanoseconds()
	for i := range m.Agents {
		f.addAgent(int32(i))
	}
	f.push(m.SteadyFrom.Nanoseconds(), 0, fleetEvSample, 0)
	return f
}

// at and ns convert between the simulation's clock (ns since midnight,
// cheap to compare in the heap) and the time.Time the scheduler works in.
func (f *fleetSim) at(ns int64) time.Time { return f.base.Add(time.Duration(ns)) }
func (f *fleetSim) ns(t time.Time) int64  { return int64(t.Sub(f.base)) }

// push plans an event; seq keeps simultaneous events in planning order.
func (f *fleetSim) push(at int64, agent int32, kind uint8, ver uint32) {
	f.seq++
	f.heap.push(fleetEvent{at: at, seq: f.seq, agent: agent, kind: kind, ver: ver})
}

// uniform draws a duration in [lo, hi) from the world's randomness.
func (f *fleetSim) uniform(lo, hi time.Duration) int64 {
	return int64(lo) + int64(f.world.Float64()*float64(hi-lo))
}

// exp draws the gap to the next event of a Poisson process of perHour.
func (f *fleetSim) exp(perHour float64) int64 {
	return int64(f.world.ExpFloat64() / perHour * float64(time.Hour))
}

// triangular draws an arrival between WaveFrom and WaveTo, peaking at
// WavePeak.
func (f *fleetSim) triangular() int64 {
	a, c, b := float64(f.m.WaveFrom), float64(f.m.WavePeak), float64(f.m.WaveTo)
	if b <= a {
		return int64(a)
	}
	u := f.world.Float64()
	if u < (c-a)/(b-a) {
		return int64(a + math.Sqrt(u*(b-a)*(c-a)))
	}
	return int64(b - math.Sqrt((1-u)*(b-a)*(b-c)))
}

// addAgent builds one agent with its own random stream (so that the world's
// draws never shift a scheduler's) and plans its morning.
func (f *fleetSim) addAgent(id int32) {
	m := f.m
	a := &fleetAgent{firstPoll: -1}
	f.agents = append(f.agents, a)
	r := rand.New(rand.NewPCG(m.Seed, uint64(id)+1))
	a.sched = newScheduler(m.Schedule, r.Float64, func() bool { return f.idleAt(a, f.now) })
	a.pace = pacing{budget: m.Budget, estimate: m.Agents, counted: m.Agents, perPoll: initialPerPoll, admin: m.Admin}
	a.sched.paced, _ = a.pace.interval(a.sched.cfg.Interval, f.at(f.now))
	a.arrive = f.triangular()
	switch u := f.world.Float64(); {
	case u < m.OvernightShare:
		a.kind = fleetOvernight
		// Running since before the simulated morning: started in its first
		// ten minutes, locked until the user arrives.
		f.push(m.Start.Nanoseconds()+f.uniform(0, 10*time.Minute), id, fleetEvStart, 0)
		f.push(a.arrive, id, fleetEvArrive, 0)
	case u < m.OvernightShare+m.WakeShare:
		a.kind = fleetWake
		a.noticesWake = f.world.Float64() < m.WakeNoticed
		f.push(a.arrive, id, fleetEvStart, 0)
		f.push(a.arrive, id, fleetEvArrive, 0)
	default:
		a.kind = fleetBoot
		f.push(a.arrive+f.uniform(m.BootMin, m.BootMax), id, fleetEvStart, 0)
		f.push(a.arrive, id, fleetEvArrive, 0)
	}
	if m.Idle {
		for t := a.arrive; t < m.End.Nanoseconds(); {
			from := t + f.exp(float64(time.Hour)/float64(m.ActiveMean))
			d := f.uniform(m.BreakMin, m.BreakMax)
			if f.world.Float64() < m.MeetingShare {
				d = f.uniform(m.MeetingMin, m.MeetingMax)
			}
			a.idle = append(a.idle, [2]int64{from, from + d})
			t = from + d
		}
	}
	if m.VPChangesPerHour > 0 {
		f.push(max(m.VPChangesFrom.Nanoseconds(), m.Start.Nanoseconds())+f.exp(m.VPChangesPerHour), id, fleetEvVP, 0)
	}
	// The daily count of the fleet comes at a moment spread over a cycle of
	// FleetCountEvery and a random part of FleetCountSpread (admin.go
	// adminPlan): the share of agents whose count falls in the morning
	// count at a uniform moment of it.
	if m.Admin {
		cycle := FleetCountEvery + FleetCountSpread/2
		if morning := m.End - m.Start; f.world.Float64() < morning.Seconds()/cycle.Seconds() {
			f.push(m.Start.Nanoseconds()+f.uniform(0, morning), id, fleetEvCount, 0)
		}
	}
}

// atDeskFrom is when the user is at the desk at or after t: t itself, or
// the end of the absence (or the arrival) t falls in.
func (f *fleetSim) atDeskFrom(a *fleetAgent, t int64) int64 {
	if t < a.arrive {
		return a.arrive
	}
	for _, s := range a.idle {
		if t >= s[0] && t < s[1] {
			return s[1]
		}
	}
	return t
}

// idleAt is the scheduler's idle func: locked overnight until the user
// arrives, then away during the absences.
func (f *fleetSim) idleAt(a *fleetAgent, t int64) bool {
	if !f.m.Idle {
		return false
	}
	if t < a.arrive {
		return a.kind == fleetOvernight
	}
	for _, s := range a.idle {
		if t < s[0] {
			return false
		}
		if t < s[1] {
			return true
		}
	}
	return false
}

// run processes events until the end of the morning.
func (f *fleetSim) run() {
	end := f.m.End.Nanoseconds()
	for len(f.heap) > 0 {
		e := f.heap.pop()
		if e.at >= end {
			break
		}
		f.now = e.at
		f.events++
		if e.kind == fleetEvSample {
			f.sample()
			continue
		}
		a := f.agents[e.agent]
		switch e.kind {
		case fleetEvStart:
			f.start(a, e.agent)
		case fleetEvArrive:
			f.arrive(a, e.agent)
		case fleetEvTimer:
			if !a.timerArmed || e.ver != a.timerVer {
				continue // the loop stopped this timer for a newer one
			}
			a.timerArmed = false
			f.tick(a, e.agent)
			if a.wakeSeen {
				// Run's loop calls checkWake after the event: the wall
				// clock jumped, so it asks for a wake batch (agent.go).
				a.wakeSeen = false
				f.request(a, e.agent, syncer.TriggerWake)
			}
		case fleetEvDone:
			f.batchDone(a, e.agent)
		case fleetEvUser:
			f.user(a, e.agent)
		case fleetEvCount:
			f.countFleet(a)
			continue
		case fleetEvAdmin:
			f.adminRead(a, !a.reported)
			f.push(f.now+int64(AdminReadEvery), e.agent, fleetEvAdmin, 0)
			continue
		case fleetEvVP:
			a.vpSince = append(a.vpSince, fleetVPChange{at: f.now, contact: f.world.Float64() < f.m.VPContactShare})
			if f.world.Float64() < f.m.IndexShare {
				a.needIndex = true
			}
			f.push(f.now+f.exp(f.m.VPChangesPerHour), e.agent, fleetEvVP, 0)
		}
		f.rearm(a, e.agent)
	}
}

// start mirrors the beginning of Agent.Run for a started agent (a fresh
// process: sched.start with probing, since *syncer.Engine is a
// MailboxProber), and, for a laptop, the first event after a wake.
func (f *fleetSim) start(a *fleetAgent, id int32) {
	a.started, a.startedAt, a.firstPoll = true, f.now, -1
	a.windowMoved = f.m.FirstProbeNews
	a.tokenUntil, a.fullDue = 0, 0
	// One agent in FullListingEvery/working days lists every contact
	// today, at its first index past the engine's deferral.
	if days := f.m.FullListingEvery.Hours() / 24 * 5 / 7; f.world.Float64() < 1/days {
		a.fullDue = f.now + f.uniform(f.m.FullDeferMin, f.m.FullDeferMax)
	}
	if a.kind != fleetWake {
		a.sched.start(f.at(f.now), true)
		return
	}
	// The laptop ran yesterday and slept at 17:30, a moment after a batch:
	// its plan is the scheduler's own from then, long overdue now.
	evening := f.at(f.now).Truncate(24 * time.Hour).Add(-6*time.Hour - 30*time.Minute)
	a.sched.start(evening.Add(-time.Hour), true)
	a.sched.batchStarted()
	a.sched.batchEnded(evening, false, false)
	// The loop's timer was set for the next event; where timers count sleep
	// (Windows) it fires at once on wake, else after its remaining time,
	// and then checkWake notices the jump (agent.go Run, checkWake).
	at := f.now
	if a.noticesWake {
		at += int64(a.sched.next().Sub(evening))
		a.wakeSeen = true
	}
	a.timerVer++
	a.timerAt, a.timerArmed = at, true
	f.push(at, id, fleetEvTimer, a.timerVer)
}

// arrive starts the user's changes (only at the desk; see user).
func (f *fleetSim) arrive(a *fleetAgent, id int32) {
	if r := f.userRate(); r > 0 {
		f.push(f.now+f.exp(r), id, fleetEvUser, 0)
	}
}

// userRate is the rate of everything a user does at the desk, per hour.
func (f *fleetSim) userRate() float64 {
	m := f.m
	return m.TrackPerHour + m.TagPerHour + m.EditPerHour + m.SyncNowPerHour
}

// user is one thing the user does at the desk, through the agent's real
// entry points: Agent.Track and Agent.SyncNow call sched.activity and then
// request a batch; an Outlook change waits for the next probe.
func (f *fleetSim) user(a *fleetAgent, id int32) {
	m := f.m
	rate := f.userRate()
	f.push(f.now+f.exp(rate), id, fleetEvUser, 0)
	if f.idleAt(a, f.now) || !a.started {
		return // away from the desk, or the agent is not up yet
	}
	switch u := f.world.Float64() * rate; {
	case u < m.TrackPerHour:
		a.tracked++
		a.needIndex = true
		f.activity(a)
		f.request(a, id, syncer.TriggerTrack) // agent.go Track
	case u < m.TrackPerHour+m.TagPerHour:
		a.tagged++
		a.needIndex = true
	case u < m.TrackPerHour+m.TagPerHour+m.EditPerHour:
		a.edits++
		if f.world.Float64() < m.IndexShare {
			a.needIndex = true
		}
	default:
		f.activity(a)
		f.request(a, id, syncer.TriggerManual) // agent.go SyncNow
	}
}

// activity is sched.activity, as Agent.Track and Agent.SyncNow call it,
// noting whether it snapped a stretched plan back.
func (f *fleetSim) activity(a *fleetAgent) {
	before := a.sched.nextVP
	a.sched.activity(f.at(f.now))
	if !a.sched.nextVP.Equal(before) {
		a.stretchedPlan = false
	}
}

// rearm mirrors the top of Run's for loop: one timer, set to the
// scheduler's next event while nothing runs (scheduling() is true
// throughout: the simulated agents are Active and never fail).
func (f *fleetSim) rearm(a *fleetAgent, id int32) {
	if !a.started || a.running {
		a.timerArmed = false
		return
	}
	if a.wakeSeen && a.timerArmed {
		return // the late timer of a wake (see start) is still to fire
	}
	next := a.sched.next()
	if next.IsZero() {
		a.timerArmed = false
		return
	}
	at := max(f.ns(next), f.now) // a timer for a past time fires at once
	if a.timerArmed && a.timerAt == at {
		return
	}
	a.timerVer++
	a.timerAt, a.timerArmed = at, true
	f.push(at, id, fleetEvTimer, a.timerVer)
}

// tick mirrors loop.tick: a due batch wins over a due probe.
func (f *fleetSim) tick(a *fleetAgent, id int32) {
	batch, probe := a.sched.due(f.at(f.now))
	switch {
	case batch:
		trigger := syncer.TriggerSchedule
		if a.sched.firstPoll {
			trigger = syncer.TriggerStartup
		}
		f.startBatch(a, id, trigger)
	case probe:
		a.sched.nextMailbox = time.Time{}
		f.startProbe(a, id)
	}
}

// request mirrors loop.request: while something runs, the request waits as
// l.pending (a scheduled one never replaces another trigger).
func (f *fleetSim) request(a *fleetAgent, id int32, trigger syncer.Trigger) {
	if a.running {
		if a.pending == "" || trigger != syncer.TriggerSchedule {
			a.pending = trigger
		}
		return
	}
	f.startBatch(a, id, trigger)
}

// startBatch mirrors loop.startBatch (sched.batchStarted, or
// mailboxBatchStarted for a probe's news or a track request, then the
// engine runs) with the engine replaced by the cost model: it takes what
// the world holds now and spreads the batch's Vantagepoint requests over
// its duration. A batch of syncer.ScopeMailbox lists no Vantagepoint: the
// Vantagepoint changes stay for the next poll.
func (f *fleetSim) startBatch(a *fleetAgent, id int32, trigger syncer.Trigger) {
	m := f.m
	a.running, a.probing = true, false
	a.stretchedPlan = false
	a.trigger = trigger
	a.fromProbe = a.probeNews && trigger == syncer.TriggerSchedule
	a.mailboxOnly = a.fromProbe || trigger == syncer.TriggerTrack
	if a.mailboxOnly {
		a.sched.mailboxBatchStarted()
	} else {
		a.sched.batchStarted()
	}

	scope := syncer.ScopeFull
	if pacedPoll(string(trigger), a.fromProbe) {
		scope = a.pace.pollScope(a.sched.cfg.Interval, f.at(f.now))
	}
	a.scope = scope
	var c fleetCost
	switch {
	case a.mailboxOnly:
	case scope == syncer.ScopeMeetings:
		c.listings = m.Listings - 1 // the meetings' listing alone
	default:
		c.listings = m.Listings
	}
	if m.Admin && trigger == syncer.TriggerManual {
		c.admin = 1 // Sync now reads the switches
	}
	// What the batch lists of Vantagepoint's changes: none (a mailbox
	// batch), the meetings (a light poll), or all.
	vpChanges := 0
	if !a.mailboxOnly {
		kept := a.vpSince[:0]
		for _, ch := range a.vpSince {
			if ch.contact && scope == syncer.ScopeMeetings {
				kept = append(kept, ch)
				continue
			}
			vpChanges++
			if t := ch.at; t >= m.SteadyFrom.Nanoseconds() && t < m.SteadyTo.Nanoseconds() {
				f.delays = append(f.delays, time.Duration(f.now-t))
				f.seenDelays = append(f.seenDelays, time.Duration(max(0, f.now-f.atDeskFrom(a, t))))
			}
		}
		a.vpSince = kept
	}
	if f.now+int64(m.TokenLeeway) >= a.tokenUntil {
		c.token = 1
		a.tokenUntil = f.now + int64(m.TokenLifetime)
	}
	if a.needIndex {
		switch {
		case a.fullDue != 0 && f.now >= a.fullDue:
			c.index = (m.CompanyContacts + m.PageSize - 1) / m.PageSize
			a.fullDue = 0
		default:
			c.index = 1
		}
	}
	c.writes = a.tagged + a.tracked + 2*a.edits
	a.changed = a.tagged+a.tracked+a.edits+vpChanges > 0
	graph := m.GraphBase + 2*(a.tagged+a.tracked+a.edits+vpChanges)
	a.tagged, a.tracked, a.edits = 0, 0, 0
	a.needIndex, a.windowMoved = false, false

	if a.firstPoll < 0 && !a.mailboxOnly {
		a.firstPoll = f.now
	}
	n := c.total()
	a.lastCost = c.listings + c.index + c.writes // the engine's count: no token, no admin
	dur := int64(m.RequestTime) * int64(n+graph)
	for i := range n {
		f.count(f.requests, f.now+dur*int64(2*i+1)/int64(2*n))
	}
	if !a.mailboxOnly {
		f.count(f.polls, f.now)
	}
	if f.now >= m.SteadyFrom.Nanoseconds() && f.now < m.SteadyTo.Nanoseconds() {
		f.steadyCost.listings += c.listings
		f.steadyCost.token += c.token
		f.steadyCost.index += c.index
		f.steadyCost.writes += c.writes
		f.steadyCost.admin += c.admin
	}
	f.push(f.now+dur, id, fleetEvDone, 0)
}

// startProbe mirrors loop.startProbe: a Graph-only round that finds news
// when an Outlook change waits (or the calendar window moved).
func (f *fleetSim) startProbe(a *fleetAgent, id int32) {
	a.running, a.probing = true, true
	a.changed = a.tagged > 0 || a.edits > 0 || a.windowMoved
	f.probes++
	f.push(f.now+int64(f.m.ProbeTime), id, fleetEvDone, 0)
}

// batchDone mirrors loop.batchDone. After a probe the loop calls
// sched.probed, starts a request left pending during the probe, else
// requests a batch on news; after a batch it calls sched.batchEnded, then
// starts the pending batch.
func (f *fleetSim) batchDone(a *fleetAgent, id int32) {
	now := f.at(f.now)
	a.running = false
	if a.probing {
		a.probing = false
		before := a.sched.nextVP
		a.sched.probed(now)
		if !a.sched.nextVP.Equal(before) {
			a.stretchedPlan = false // snapped back
		}
		if a.pending != "" {
			t := a.pending
			a.pending = ""
			f.startBatch(a, id, t)
			return
		}
		if a.changed {
			a.probeNews = true
			f.request(a, id, syncer.TriggerSchedule)
			a.probeNews = false
		}
		return
	}
	// The loop's batchDone: the batch's Vantagepoint requests into the
	// pacing (loop.go), the first read of the switches with the first
	// write of the record, or the record's hourly heartbeat (admin.go
	// adminPlan), then the plan.
	a.pace.observe(pacedPoll(string(a.trigger), a.fromProbe), a.scope, int64(a.lastCost), now)
	a.sched.paced, _ = a.pace.interval(a.sched.cfg.Interval, now)
	if f.m.Admin && !a.adminStarted {
		// The first round: at once, or in a paced fleet at a random
		// moment of AdminFirstSpread (loop.go batchDone, admin.go
		// adminPlan); Sync now's own read is counted with its batch.
		a.adminStarted = true
		if a.sched.paced > a.sched.cfg.Interval && a.trigger != syncer.TriggerManual {
			f.push(f.now+f.uniform(0, AdminFirstSpread), id, fleetEvAdmin, 0)
		} else {
			f.adminRead(a, true)
			f.push(f.now+int64(AdminReadEvery), id, fleetEvAdmin, 0)
		}
	} else if f.m.Admin && a.reported && f.now-a.reportedAt >= int64(AdminHeartbeat) {
		f.adminWrite(a)
	}
	if a.mailboxOnly {
		a.sched.mailboxBatchEnded(now, a.changed, false)
	} else {
		a.sched.batchEnded(now, a.changed, false)
	}
	a.stretchedPlan = a.sched.stretched(now)
	if a.pending != "" {
		t := a.pending
		a.pending = ""
		f.startBatch(a, id, t)
	}
}

// adminRead counts one read of the agent's switch in the groups hub (no
// groups: one GET, agent/admin hubs.go Exchange), with the write of its
// record in the agents hub when write is set, and the token either needs
// when the agent's has expired: the hubs' client shares the engine's token
// source, and on a quiet, paced agent the switches are what keeps asking
// for a token.
func (f *fleetSim) adminRead(a *fleetAgent, write bool) {
	f.adminToken(a)
	// After the first read of a run, a read is one listing of the switches
	// changed since (agent/admin hubs.go readChangedSwitches); the first
	// reads the employee's switch and, in a group, the group's.
	reads := 1
	if f.m.Groups && write {
		reads = 2
	}
	for range reads {
		f.count(f.requests, f.now)
		if f.steady() {
			f.steadyCost.admin++
		}
	}
	if write {
		f.adminWrite(a)
	} else {
		a.pace.observeRead(reads) // admin.go adminDone
	}
}

// adminWrite counts one write of the agent's record (a PUT), as the first
// round of a run and the heartbeat make it.
func (f *fleetSim) adminWrite(a *fleetAgent) {
	f.adminToken(a)
	a.reportedAt, a.reported = f.now, true
	f.count(f.requests, f.now)
	if f.steady() {
		f.steadyCost.admin++
	}
}

// countFleet counts the fleet in the agents hub: one listing of keys,
// paged (agent/admin hubs.go CountAgents), on the agent's token.
func (f *fleetSim) countFleet(a *fleetAgent) {
	if !a.started {
		return // the computer is off: it counts later in the day
	}
	f.adminToken(a)
	pages := (f.m.Agents + fleetCountPage - 1) / fleetCountPage
	for i := range pages {
		f.count(f.requests, f.now+int64(i)*int64(f.m.RequestTime))
		if f.steady() {
			f.steadyCost.admin++
		}
	}
}

// adminToken counts the token request of an administration round whose
// token has expired.
func (f *fleetSim) adminToken(a *fleetAgent) {
	if f.now+int64(f.m.TokenLeeway) < a.tokenUntil {
		return
	}
	a.tokenUntil = f.now + int64(f.m.TokenLifetime)
	f.count(f.requests, f.now)
	if f.steady() {
		f.steadyCost.token++
	}
}

// steady says whether now is in the steady window.
func (f *fleetSim) steady() bool {
	return f.now >= f.m.SteadyFrom.Nanoseconds() && f.now < f.m.SteadyTo.Nanoseconds()
}

// sample counts, once a simulated minute of the steady window, the agents
// waiting on a stretched (10-minute) poll.
func (f *fleetSim) sample() {
	for _, a := range f.agents {
		if a.started {
			f.samples++
			if a.stretchedPlan {
				f.stretchedSamples++
			}
		}
	}
	if next := f.now + int64(time.Minute); next < f.m.SteadyTo.Nanoseconds() {
		f.push(next, 0, fleetEvSample, 0)
	}
}

// count adds one to the histogram bin of at (outside the morning: dropped).
func (f *fleetSim) count(bins []int32, at int64) {
	if i := (at - f.m.Start.Nanoseconds()) / fleetBin; i >= 0 && i < int64(len(bins)) {
		bins[i]++
	}
}

// fleetResult is what a simulated morning measured.
type fleetResult struct {
	SteadyMean, SteadyPeak1s, SteadyPeak10s float64 // Vantagepoint requests/s
	SteadyPeak10sMax                        float64 // the busiest steady 10 s of several mornings (medianFleetResult)
	WavePeak1s, WavePeak10s, WaveMean       float64
	WavePeak1sAt, WavePeak10sAt             time.Duration
	SteadyPolls                             float64 // batches/s
	SteadyCost                              [5]float64
	StretchedShare                          float64   // of the agents, on average over the steady window
	Profile                                 []float64 // mean requests/s per quarter hour from 08:00
	ProbesPerSec                            float64   // Graph only, whole morning
	Events                                  int
	// DelayP50 and DelayP95: how long a Vantagepoint change made in the
	// steady window took to reach Outlook.
	DelayP50, DelayP95 time.Duration
	// SeenP50 and SeenP95 time the same from when the user is at the desk.
	SeenP50, SeenP95 time.Duration
	Interval         time.Duration // the paced interval of the fleet
}

// result computes the figures: means over windows, and the busiest sliding
// 1-s and 10-s windows.
func (f *fleetSim) result() fleetResult {
	m := f.m
	r := fleetResult{Events: f.events}
	bin := func(d time.Duration) int { return int((d - m.Start).Nanoseconds() / fleetBin) }
	sf, st := bin(m.SteadyFrom), bin(m.SteadyTo)
	lf, lt := bin(m.LoginFrom), bin(m.LoginTo)
	secs := (m.SteadyTo - m.SteadyFrom).Seconds()
	r.SteadyMean = float64(fleetSum(f.requests[sf:st])) / secs
	r.SteadyPolls = float64(fleetSum(f.polls[sf:st])) / secs
	r.SteadyPeak1s, _ = fleetPeak(f.requests[sf:st], 10)
	p10, _ := fleetPeak(f.requests[sf:st], 100)
	r.SteadyPeak10s = p10 / 10
	r.SteadyPeak10sMax = r.SteadyPeak10s
	var at1, at10 int
	r.WavePeak1s, at1 = fleetPeak(f.requests[lf:lt], 10)
	p10, at10 = fleetPeak(f.requests[lf:lt], 100)
	r.WavePeak10s = p10 / 10
	r.WavePeak1sAt = m.LoginFrom + time.Duration(int64(at1)*fleetBin)
	r.WavePeak10sAt = m.LoginFrom + time.Duration(int64(at10)*fleetBin)
	r.WaveMean = float64(fleetSum(f.requests[lf:lt])) / (m.LoginTo - m.LoginFrom).Seconds()
	c := f.steadyCost
	r.SteadyCost = [5]float64{float64(c.listings) / secs, float64(c.token) / secs, float64(c.index) / secs, float64(c.writes) / secs, float64(c.admin) / secs}
	if f.samples > 0 {
		r.StretchedShare = float64(f.stretchedSamples) / float64(f.samples)
	}
	for q := 8 * time.Hour; q+15*time.Minute <= m.End; q += 15 * time.Minute {
		if q >= m.Start {
			r.Profile = append(r.Profile, float64(fleetSum(f.requests[bin(q):bin(q+15*time.Minute)]))/(15*60))
		}
	}
	r.ProbesPerSec = float64(f.probes) / (m.End - m.Start).Seconds()
	if d := slices.Sorted(slices.Values(f.delays)); len(d) > 0 {
		r.DelayP50, r.DelayP95 = d[len(d)/2], d[len(d)*95/100]
	}
	if d := slices.Sorted(slices.Values(f.seenDelays)); len(d) > 0 {
		r.SeenP50, r.SeenP95 = d[len(d)/2], d[len(d)*95/100]
	}
	if len(f.agents) > 0 {
		r.Interval, _ = f.agents[0].pace.interval(f.agents[0].sched.cfg.Interval, f.at(f.now))
	}
	return r
}

// fleetSum adds up histogram bins.
func fleetSum(b []int32) int64 {
	var s int64
	for _, v := range b {
		s += int64(v)
	}
	return s
}

// fleetPeak is the largest sum of w consecutive bins, and where it starts.
func fleetPeak(b []int32, w int) (float64, int) {
	var s, best int64
	at := 0
	for i, v := range b {
		s += int64(v)
		if i >= w {
			s -= int64(b[i-w])
		}
		if s > best {
			best, at = s, max(0, i-w+1)
		}
	}
	return float64(best), at
}

// fleetBusiest is the largest number of times within any window of width w
// (times sorted or not), for the spread of first polls.
func fleetBusiest(times []int64, w time.Duration) int {
	ts := slices.Clone(times)
	slices.Sort(ts)
	best, j := 0, 0
	for i := range ts {
		for ts[i]-ts[j] >= int64(w) {
			j++
		}
		best = max(best, i-j+1)
	}
	return best
}

// firstPolls returns, for the agents of the given kinds, how long after
// their start (or wake) their first Vantagepoint batch ran, and when.
func (f *fleetSim) firstPolls(kinds ...fleetKind) (after []time.Duration, at []int64) {
	for _, a := range f.agents {
		if a.firstPoll >= 0 && slices.Contains(kinds, a.kind) {
			after = append(after, time.Duration(a.firstPoll-a.startedAt))
			at = append(at, a.firstPoll)
		}
	}
	return after, at
}
