package agent

import (
	"fmt"
	"strings"
	"testing"
	"time"
)

// SPEC §7's fleet target, as numbers the benchmark compares with.
const (
	fleetTargetSteady = 25.0 // Vantagepoint requests/s, steady state
	fleetTargetWave   = 2.0  // login-wave peak / steady
)

// BenchmarkFleet measures SPEC §7's fleet figure: 5,000 agents on one
// Vantagepoint over a simulated working morning (05:00–12:00, logins
// 08:45–09:15), each driven by the real scheduler as Agent.Run drives it
// (fleetsim_test.go). It reports steady-state Vantagepoint requests/s
// (10:00–12:00), the login wave's busiest 1-s and 10-s windows
// (08:30–09:30) and their ratio to steady, for three fleets: the modelled
// morning, the same with nobody ever idle (no stretch), and a quiet fleet
// (no changes at all: the most the idle stretch can save); then two
// what-ifs that are not the product, to show what the target would take.
// `make bench` runs it once; alone:
//
//	go test -run '^$' -bench Fleet -benchtime 1x ./agent/
func BenchmarkFleet(b *testing.B) {
	type scenario struct {
		name   string
		metric string // ReportMetric prefix of its figures
		model  func(m *fleetModel)
	}
	scenarios := []scenario{
		{"modelled morning", "", func(*fleetModel) {}},
		{"everyone active (never idle)", "active_", func(m *fleetModel) { m.Idle = false }},
		{"quiet fleet (no changes, idle as modelled)", "quiet_", func(m *fleetModel) {
			m.TrackPerHour, m.TagPerHour, m.EditPerHour, m.SyncNowPerHour, m.VPChangesPerHour = 0, 0, 0, 0, 0
		}},
		// What-ifs, not the product: what meeting the target would take.
		{"what-if: sync.interval 7m by policy", "whatif7m_", func(m *fleetModel) {
			m.Schedule.Interval = 7 * time.Minute
		}},
		{"what-if: a 1-request no-change poll and sync.interval 4m", "whatif4m1req_", func(m *fleetModel) {
			m.Schedule.Interval = 4 * time.Minute
			m.Listings = 1
		}},
	}
	var results []fleetResult
	var wall []time.Duration
	for b.Loop() {
		results, wall = results[:0], wall[:0]
		for _, s := range scenarios {
			m := defaultFleetModel()
			s.model(&m)
			start := time.Now()
			f := newFleetSim(m)
			f.run()
			results = append(results, f.result())
			wall = append(wall, time.Since(start))
		}
	}
	m := defaultFleetModel()
	var out strings.Builder
	fmt.Fprintf(&out, "fleet: %d agents on one Vantagepoint, simulated %s–%s, logins %s–%s (peak %s); target steady ≤ %.0f req/s, wave peak ≤ %.0f× steady\n",
		m.Agents, fleetClock(m.Start), fleetClock(m.End), fleetClock(m.WaveFrom), fleetClock(m.WaveTo), fleetClock(m.WavePeak), fleetTargetSteady, fleetTargetWave)
	fmt.Fprintf(&out, "  arithmetic: %d agents / %v interval = %.1f polls/s × %d requests = %.1f req/s before tokens and changes\n",
		m.Agents, DefaultSchedule.Interval, float64(m.Agents)/DefaultSchedule.Interval.Seconds(), m.Listings,
		float64(m.Agents)/DefaultSchedule.Interval.Seconds()*float64(m.Listings))
	for i, s := range scenarios {
		r := results[i]
		verdict := func(ok bool) string {
			if ok {
				return "meets"
			}
			return "MISSES"
		}
		fmt.Fprintf(&out, "  %s (%d events, %v):\n", s.name, r.Events, wall[i].Round(time.Millisecond))
		fmt.Fprintf(&out, "    steady %s–%s: %.1f req/s (%s ≤ %.0f), %.1f polls/s, %.1f%% of agents stretched; busiest 1 s %.0f, 10 s %.1f req/s\n",
			fleetClock(m.SteadyFrom), fleetClock(m.SteadyTo), r.SteadyMean, verdict(r.SteadyMean <= fleetTargetSteady), fleetTargetSteady,
			r.SteadyPolls, 100*r.StretchedShare, r.SteadyPeak1s, r.SteadyPeak10s)
		fmt.Fprintf(&out, "      per cause: listings %.1f, tokens %.1f, contact index pages %.1f, writes %.1f, admin hub %.1f req/s\n",
			r.SteadyCost[0], r.SteadyCost[1], r.SteadyCost[2], r.SteadyCost[3], r.SteadyCost[4])
		fmt.Fprintf(&out, "    login wave %s–%s: mean %.1f req/s; busiest 1 s %.0f req/s at %s (%.2f× steady), busiest 10 s %.1f req/s at %s (%.2f× steady): %s ≤ %.0f×\n",
			fleetClock(m.LoginFrom), fleetClock(m.LoginTo), r.WaveMean, r.WavePeak1s, fleetClock(r.WavePeak1sAt), r.WavePeak1s/r.SteadyMean,
			r.WavePeak10s, fleetClock(r.WavePeak10sAt), r.WavePeak10s/r.SteadyMean, verdict(r.WavePeak1s <= fleetTargetWave*r.SteadyMean), fleetTargetWave)
		fmt.Fprintf(&out, "    req/s per quarter hour from 08:00:")
		for _, p := range r.Profile {
			fmt.Fprintf(&out, " %.0f", p)
		}
		fmt.Fprintf(&out, "; mailbox probes (Graph only) %.1f/s\n", r.ProbesPerSec)
		b.ReportMetric(r.SteadyMean, s.metric+"steady_req/s")
		b.ReportMetric(r.WavePeak1s, s.metric+"wave_peak1s_req/s")
		b.ReportMetric(r.WavePeak10s, s.metric+"wave_peak10s_req/s")
		b.ReportMetric(r.WavePeak1s/r.SteadyMean, s.metric+"wave1s/steady")
	}
	// Printed, not b.Log: the testing package cuts a benchmark's log to
	// its first lines.
	fmt.Print(out.String())
}

// fleetClock formats an offset from midnight as a time of day.
func fleetClock(d time.Duration) string {
	d = d.Round(time.Second)
	h, mnt, s := int(d/time.Hour), int(d/time.Minute)%60, int(d/time.Second)%60
	if s != 0 {
		return fmt.Sprintf("%02d:%02d:%02d", h, mnt, s)
	}
	return fmt.Sprintf("%02d:%02d", h, mnt)
}
