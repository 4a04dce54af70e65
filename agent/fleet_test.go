package agent

import (
	"testing"
	"time"
)

// The fleet tests assert, on 500 simulated agents driven by the real
// scheduler (fleetsim_test.go), what an IT department would notice on its
// Vantagepoint server or a user at 9 a.m. They measure simulated time only;
// nothing here depends on how fast the machine runs.

// fleetSameInstant is a fleet of n agents whose computers all start at
// 09:00:00 exactly (a terminal-server farm at logon, or a forced reboot):
// only the scheduler can spread them. Nobody changes anything and nobody is
// idle, so every batch is the scheduler's own. firstProbeNews says whether
// the first mailbox probe finds news (it does on a real morning: see
// defaultFleetModel).
func fleetSameInstant(n int, firstProbeNews bool) fleetModel {
	m := defaultFleetModel()
	m.Agents = n
	m.OvernightShare, m.WakeShare = 0, 0
	m.WaveFrom, m.WavePeak, m.WaveTo = 9*time.Hour, 9*time.Hour, 9*time.Hour
	m.BootMin, m.BootMax = 0, 0
	m.FirstProbeNews = firstProbeNews
	m.Idle = false
	m.TrackPerHour, m.TagPerHour, m.EditPerHour, m.SyncNowPerHour, m.VPChangesPerHour = 0, 0, 0, 0, 0
	m.Start, m.End = 8*time.Hour+50*time.Minute, 10*time.Hour+30*time.Minute
	m.SteadyFrom, m.SteadyTo = 10*time.Hour, 10*time.Hour+30*time.Minute
	m.LoginFrom, m.LoginTo = 9*time.Hour, 9*time.Hour+5*time.Minute
	return m
}

// During the 9 a.m. login wave, every user's first sync comes within a
// minute of their agent starting (or their laptop waking), and the first
// polls follow the people, not a clock: no 10 seconds carry more than 5%
// of them. The arrivals alone put about 3% in the busiest 10 s; first polls
// aligned to anything shared (a wall-clock boundary, a server signal) would
// exceed 5%.
func TestFleetLoginWaveSpreadsFirstPolls(t *testing.T) {
	m := defaultFleetModel()
	m.Agents = 500
	f := newFleetSim(m)
	f.run()
	after, at := f.firstPolls(fleetBoot, fleetWake)
	if len(at) < m.Agents/2 {
		t.Fatalf("only %d of %d agents started or woke and polled during the morning", len(at), m.Agents)
	}
	for _, d := range after {
		if d < 0 || d > DefaultSchedule.FirstPollMax {
			t.Fatalf("a first poll came %v after the agent started or woke; want within %v", d, DefaultSchedule.FirstPollMax)
		}
	}
	if n := fleetBusiest(at, 10*time.Second); float64(n) > 0.05*float64(len(at)) {
		t.Errorf("%d of %d first polls (%.1f%%) fell in one 10-s window of the login wave; want at most 5%%",
			n, len(at), 100*float64(n)/float64(len(at)))
	}
}

// Agents started at the same instant do not poll Vantagepoint in step: the
// random 0–60 s first wait spreads their first polls (no 10 s carry more
// than a quarter of them; a uniform spread puts about a sixth there), and
// the ±20% jitter of every interval then mixes them, so that an hour later
// the busiest 10 s of polls carry at most twice their fair share and the
// quietest at least a quarter of it. Without jitter the fleet would keep
// the first minute's shape: every 2 minutes a crowded minute, then silence.
func TestFleetJitterDesynchronisesAgentsStartedTogether(t *testing.T) {
	const n = 500
	f := newFleetSim(fleetSameInstant(n, false))
	f.run()
	_, at := f.firstPolls(fleetBoot)
	if len(at) != n {
		t.Fatalf("%d of %d agents polled", len(at), n)
	}
	if busiest := fleetBusiest(at, 10*time.Second); busiest > n/4 {
		t.Errorf("%d of %d first polls in one 10-s window; want at most a quarter", busiest, n)
	}

	// 10:00–10:30, an hour after the start: ~30 jittered polls each.
	from := int((10*time.Hour - f.m.Start).Nanoseconds() / fleetBin)
	to := int((10*time.Hour + 30*time.Minute - f.m.Start).Nanoseconds() / fleetBin)
	bins := f.polls[from:to]
	const w = int(10 * time.Second / time.Duration(fleetBin))
	fair := float64(n) * 10 / DefaultSchedule.Interval.Seconds()
	busiest, _ := fleetPeak(bins, w)
	quietest := busiest
	for i := 0; i+w <= len(bins); i++ {
		quietest = min(quietest, float64(fleetSum(bins[i:i+w])))
	}
	if busiest > 2*fair || quietest < fair/4 {
		t.Errorf("an hour after a simultaneous start, 10-s windows carry %v to %v polls; want within [%.0f, %.0f] (fair share %.1f)",
			quietest, busiest, fair/4, 2*fair, fair)
	}

	// On a real morning the first mailbox probe finds news (the calendar
	// window moved overnight). No probe runs before the startup batch, so
	// that news cannot start the batch early and undo the random wait.
	t.Run("first probe finds news", func(t *testing.T) {
		f := newFleetSim(fleetSameInstant(n, true))
		f.run()
		_, at := f.firstPolls(fleetBoot)
		if busiest := fleetBusiest(at, 10*time.Second); busiest > n/4 {
			t.Errorf("%d of %d first polls (%.0f%%) in one 10-s window; the first probe's batch bypassed the 0–60 s wait",
				busiest, n, 100*float64(busiest)/n)
		}
	})
}
