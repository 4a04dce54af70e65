package agentbench

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"vpconnect/agent"
	"vpconnect/agent/localapi"
	"vpconnect/syncer/graph/graphsim"
)

// Options configure a measurement.
type Options struct {
	// Self and Args start an agent process that runs Serve (this program
	// with its serve flag).
	Self string
	Args []string
	// Starts is how many starts are timed (besides the first, which
	// activates); Tracks how many e-mails are tracked; Changes how many
	// rounds of a tag and a contact edit in Outlook are made.
	Starts, Tracks, Changes int
	// Quiet is the idle window.
	Quiet time.Duration
	// Progress receives a line per step (nil: none).
	Progress io.Writer
}

// Result are the figures of one measurement.
type Result struct {
	// Starts are the times from starting the agent process to its
	// GET /v1/hello answering.
	Starts []time.Duration
	// The idle agent, over Quiet after the latency samples.
	Quiet                       time.Duration
	RSSEnd, RSSMax, RSSPeak     int64 // VmRSS at the end, its largest sample, VmHWM
	CPU                         time.Duration
	CPUTicks                    time.Duration // the same from utime+stime (10 ms ticks)
	QuietGraph, QuietVP         int64         // requests the simulators saw in the window
	QuietBatches                int64         // batches that ran in the window
	MailboxInterval, VPInterval time.Duration
	Jitter                      float64
	// Track: POST /v1/track → the activity in Vantagepoint; TrackAccepted
	// the POST alone; TrackSynced how many GET /v1/track/{id} then report
	// synced.
	Track, TrackAccepted []time.Duration
	TrackSynced          int
	// Tag and Edit: the change in Outlook → in Vantagepoint. Pickup is the
	// time from the change to the agent's next Graph request (the probe, or
	// a batch's listing).
	Tag, Edit, Pickup []time.Duration
	// InitialCreated is what the activating start's first batch created,
	// per type; Messages, Contacts and Meetings the size of the world.
	InitialCreated               map[string]int
	Messages, Contacts, Meetings int
}

// Run measures: the first start activates and runs the initial batches
// (through Sync now); then Starts starts are timed and stopped; the last
// process started is kept running: Sync now (its startup batch, instead of
// the random 0–60 s first poll), Tracks tracked e-mails one after another,
// Changes rounds of a tag and a contact edit in Outlook at a random moment
// (0–30 s after the previous round landed, so the changes fall anywhere in
// the probe cycle), then the quiet window.
func Run(ctx context.Context, o Options) (Result, error) {
	progress := func(format string, args ...any) {
		if o.Progress != nil {
			fmt.Fprintf(o.Progress, "agent bench: "+format+"\n", args...)
		}
	}
	r := Result{MailboxInterval: agent.DefaultSchedule.MailboxInterval, VPInterval: agent.DefaultSchedule.Interval,
		Jitter: agent.DefaultSchedule.Jitter}
	w, err := newWorld(o.Tracks, o.Changes)
	if err != nil {
		return r, err
	}
	defer w.close()
	r.Messages, r.Contacts, r.Meetings = w.size()
	// Every Graph request's arrival, to see when the agent looked.
	var obsMu sync.Mutex
	var graphAt []time.Time
	w.g.Observe(func(graphsim.RequestInfo) {
		obsMu.Lock()
		graphAt = append(graphAt, time.Now())
		obsMu.Unlock()
	})
	firstGraphAfter := func(t time.Time) time.Time {
		obsMu.Lock()
		defer obsMu.Unlock()
		for _, at := range graphAt {
			if !at.Before(t) {
				return at
			}
		}
		return time.Time{}
	}
	dir, err := os.MkdirTemp("", "vpconnect-agentbench-")
	if err != nil {
		return r, err
	}
	defer os.RemoveAll(dir)
	port, err := freePort()
	if err != nil {
		return r, err
	}
	run := func() (*child, time.Duration, error) {
		return startChild(ctx, o.Self, o.Args, w.start(dir, port), port)
	}

	// Activation and the initial sync.
	c, _, err := run()
	if err != nil {
		return r, fmt.Errorf("first start: %w", err)
	}
	api, err := c.client(dir)
	if err != nil {
		c.stop()
		return r, err
	}
	var initial *agent.Status
	for i := range 3 {
		if _, err := api.Sync(ctx, true); err != nil {
			c.stop()
			return r, fmt.Errorf("initial batch %d: %w", i+1, err)
		}
		if i == 0 {
			s, err := api.Status(ctx)
			if err != nil || s.LastBatch == nil {
				c.stop()
				return r, fmt.Errorf("status after the initial batch: %v", err)
			}
			initial = &s
		}
	}
	r.InitialCreated = map[string]int{}
	for t, n := range initial.LastBatch.Counts {
		r.InitialCreated[t] = n.Created
	}
	progress("initial sync done (%v); timing %d starts", r.InitialCreated, o.Starts)
	if err := c.stop(); err != nil {
		return r, err
	}

	// Starts: each process is stopped once it answers, but the last.
	for i := range o.Starts {
		c, d, err := run()
		if err != nil {
			return r, fmt.Errorf("start %d: %w", i+1, err)
		}
		r.Starts = append(r.Starts, d)
		progress("start %d: API answering after %v", i+1, d.Round(time.Millisecond))
		if i < o.Starts-1 {
			if err := c.stop(); err != nil {
				return r, err
			}
			continue
		}
		defer c.stop()
		// The kept agent.
		if api, err = c.client(dir); err != nil {
			return r, err
		}
		secret, err := localapi.ReadSecret(dir)
		if err != nil {
			return r, err
		}
		if _, err := api.Sync(ctx, true); err != nil {
			return r, fmt.Errorf("the startup batch: %w", err)
		}
		progress("startup batch done")
		progress("tracking %d e-mails", o.Tracks)
		if err := measureTracks(ctx, &r, &owner{base: api.Base(), secret: secret, hc: &http.Client{}}, w); err != nil {
			return r, err
		}
		progress("%d rounds of a tag and a contact edit in Outlook (each waits for the %v mailbox probe)", o.Changes, r.MailboxInterval)
		for i := range o.Changes {
			delay := time.Duration(rand.Int64N(int64(r.MailboxInterval)))
			if err := sleep(ctx, delay); err != nil {
				return r, err
			}
			title := fmt.Sprintf("Planner, round %d", i+1)
			email := w.edits[i].EmailAddresses[0].Address
			subject := w.tags[i].Subject
			t0 := time.Now()
			w.tag(w.tags[i].ID)
			w.editTitle(w.edits[i].ID, title)
			var tag, edit time.Duration
			err := poll(ctx, 10*time.Millisecond, 3*r.MailboxInterval+time.Minute, func() bool {
				if tag == 0 && w.activity(subject) {
					tag = time.Since(t0)
				}
				if edit == 0 && w.contactTitle(email) == title {
					edit = time.Since(t0)
				}
				return tag > 0 && edit > 0
			})
			if err != nil {
				return r, fmt.Errorf("round %d (tag %v, edit %v): %w", i+1, tag, edit, err)
			}
			r.Tag, r.Edit = append(r.Tag, tag), append(r.Edit, edit)
			if at := firstGraphAfter(t0); !at.IsZero() {
				r.Pickup = append(r.Pickup, at.Sub(t0))
			}
			progress("round %d: waited %v, tag %v, edit %v", i+1, delay.Round(time.Second), tag.Round(time.Millisecond), edit.Round(time.Millisecond))
		}

		// The quiet window, once the last round's batch ended: nothing
		// asks the agent anything; its probes and any batch its schedule
		// runs are in the figures.
		var before agent.Status
		if err := poll(ctx, 100*time.Millisecond, time.Minute, func() bool {
			before, err = api.Status(ctx)
			return err == nil && !before.Running
		}); err != nil {
			return r, fmt.Errorf("wait for the last batch to end: %w", err)
		}
		if err := sleep(ctx, 2*time.Second); err != nil {
			return r, err
		}
		progress("quiet window of %v", o.Quiet)
		cpu0, ticks0, err := procCPU(c.pid())
		if err != nil {
			return r, err
		}
		g0, v0 := w.g.Requests(), w.v.Requests()
		start := time.Now()
		for time.Since(start) < o.Quiet {
			if err := sleep(ctx, time.Second); err != nil {
				return r, err
			}
			if rss, _, err := procRSS(c.pid()); err == nil && rss > r.RSSMax {
				r.RSSMax = rss
			}
		}
		cpu1, ticks1, err := procCPU(c.pid())
		if err != nil {
			return r, err
		}
		r.Quiet = time.Since(start)
		r.QuietGraph, r.QuietVP = w.g.Requests()-g0, w.v.Requests()-v0
		r.CPU, r.CPUTicks = cpu1-cpu0, ticks1-ticks0
		if r.RSSEnd, r.RSSPeak, err = procRSS(c.pid()); err != nil {
			return r, err
		}
		after, err := api.Status(ctx)
		if err != nil {
			return r, err
		}
		if before.LastBatch != nil && after.LastBatch != nil {
			r.QuietBatches = after.LastBatch.ID - before.LastBatch.ID
		}
	}
	return r, nil
}

// measureTracks tracks each of the world's untagged track messages, one at
// a time, as the add-in does (POST /v1/track with the message's REST id),
// and waits for its activity in Vantagepoint.
func measureTracks(ctx context.Context, r *Result, api *owner, w *world) error {
	for _, m := range w.tracks {
		t0 := time.Now()
		if err := api.track(ctx, m.ID); err != nil {
			return fmt.Errorf("track %q: %w", m.Subject, err)
		}
		accepted := time.Since(t0)
		if err := poll(ctx, time.Millisecond, time.Minute, func() bool { return w.activity(m.Subject) }); err != nil {
			return fmt.Errorf("tracked %q: %w", m.Subject, err)
		}
		r.Track = append(r.Track, time.Since(t0))
		r.TrackAccepted = append(r.TrackAccepted, accepted)
		// The add-in's view: the batch may still be marking the message
		// when the activity appears.
		_ = poll(ctx, 5*time.Millisecond, 10*time.Second, func() bool {
			state, err := api.trackState(ctx, m.ID)
			return err == nil && state == "synced"
		})
		if state, err := api.trackState(ctx, m.ID); err == nil && state == "synced" {
			r.TrackSynced++
		}
		if err := sleep(ctx, 200*time.Millisecond); err != nil {
			return err
		}
	}
	return nil
}

// owner calls the track endpoints with the owner's secret, as the add-in
// calls them with its paired token (localapi.Client has no track call).
type owner struct {
	base, secret string
	hc           *http.Client
}

func (o *owner) do(ctx context.Context, method, path string, body []byte) (*http.Response, error) {
	req, err := http.NewRequestWithContext(ctx, method, o.base+path, bytes.NewReader(body))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Authorization", "Bearer "+o.secret)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	return o.hc.Do(req)
}

// track is POST /v1/track for a message id; 202 is success.
func (o *owner) track(ctx context.Context, messageID string) error {
	b, _ := json.Marshal(agent.TrackRequest{MessageID: messageID})
	resp, err := o.do(ctx, http.MethodPost, "/v1/track", b)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusAccepted {
		msg, _ := io.ReadAll(io.LimitReader(resp.Body, 1024))
		return fmt.Errorf("POST /v1/track: %s %s", resp.Status, strings.TrimSpace(string(msg)))
	}
	return nil
}

// trackState is GET /v1/track/{messageId}'s state.
func (o *owner) trackState(ctx context.Context, messageID string) (string, error) {
	resp, err := o.do(ctx, http.MethodGet, "/v1/track/"+url.PathEscape(messageID), nil)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	var a localapi.TrackAnswer
	if resp.StatusCode != http.StatusOK {
		return "", fmt.Errorf("GET /v1/track: %s", resp.Status)
	}
	if err := json.NewDecoder(resp.Body).Decode(&a); err != nil {
		return "", err
	}
	return a.State, nil
}

// child is a running agent process.
type child struct {
	cmd  *exec.Cmd
	port int
	done chan error
}

// startChild starts an agent process, hands it its start line and returns
// once GET /v1/hello answers, with the time since the process was started.
func startChild(ctx context.Context, self string, args []string, s Start, port int) (*child, time.Duration, error) {
	line, err := json.Marshal(s)
	if err != nil {
		return nil, 0, err
	}
	cmd := exec.Command(self, args...)
	cmd.Stdin = bytes.NewReader(append(line, '\n'))
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	c := &child{cmd: cmd, port: port, done: make(chan error, 1)}
	t0 := time.Now()
	if err := cmd.Start(); err != nil {
		return nil, 0, err
	}
	done := c.done
	go func() { done <- cmd.Wait() }()
	hc := &http.Client{Timeout: 200 * time.Millisecond, Transport: &http.Transport{DisableKeepAlives: true}}
	hello := "http://127.0.0.1:" + strconv.Itoa(port) + "/v1/hello"
	deadline := t0.Add(20 * time.Second)
	for {
		if answered(ctx, hc, hello) {
			return c, time.Since(t0), nil
		}
		select {
		case err := <-done:
			c.done = nil
			return nil, 0, fmt.Errorf("the agent process ended before its API answered: %v", err)
		case <-ctx.Done():
			c.stop()
			return nil, 0, ctx.Err()
		case <-time.After(time.Millisecond):
		}
		if time.Now().After(deadline) {
			c.stop()
			return nil, 0, errors.New("the agent's API did not answer within 20 s")
		}
	}
}

func answered(ctx context.Context, hc *http.Client, hello string) bool {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, hello, nil)
	if err != nil {
		return false
	}
	resp, err := hc.Do(req)
	if err != nil {
		return false
	}
	defer resp.Body.Close()
	var h localapi.Hello
	return resp.StatusCode == http.StatusOK && json.NewDecoder(resp.Body).Decode(&h) == nil && h.Product == "vpconnect"
}

func (c *child) pid() int { return c.cmd.Process.Pid }

// client is the owner's API client (the secret the agent keeps in its data
// dir, as the CLI and the tray use it).
func (c *child) client(dir string) (*localapi.Client, error) {
	secret, err := localapi.ReadSecret(dir)
	if err != nil {
		return nil, err
	}
	return localapi.NewClient("http://127.0.0.1:"+strconv.Itoa(c.port), secret), nil
}

// stop stops the agent as a signal does, and waits for it; once only.
func (c *child) stop() error {
	if c.done == nil {
		return nil
	}
	done := c.done
	c.done = nil
	_ = c.cmd.Process.Signal(os.Interrupt)
	select {
	case err := <-done:
		return err
	case <-time.After(45 * time.Second):
		_ = c.cmd.Process.Kill()
		<-done
		return errors.New("the agent process did not stop within 45 s of an interrupt")
	}
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// poll calls done every interval until it reports true, for at most limit.
func poll(ctx context.Context, interval, limit time.Duration, done func() bool) error {
	deadline := time.Now().Add(limit)
	for !done() {
		if time.Now().After(deadline) {
			return fmt.Errorf("not seen within %v", limit)
		}
		if err := sleep(ctx, interval); err != nil {
			return err
		}
	}
	return nil
}

// procRSS reads VmRSS and VmHWM of a process (Linux).
func procRSS(pid int) (rss, hwm int64, err error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, 0, err
	}
	for _, l := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(l, "VmRSS:"); ok {
			rss = kB(v)
		} else if v, ok := strings.CutPrefix(l, "VmHWM:"); ok {
			hwm = kB(v)
		}
	}
	return rss, hwm, nil
}

func kB(v string) int64 {
	n, _ := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 10, 64)
	return n * 1024
}

// procCPU is the CPU time a process used: the sum of its threads' run time
// from /proc/<pid>/task/*/schedstat (nanoseconds; Go's threads live as long
// as the process), and utime+stime from /proc/<pid>/stat (10 ms ticks, all
// threads, dead ones included).
func procCPU(pid int) (precise, ticks time.Duration, err error) {
	tasks, err := filepath.Glob(fmt.Sprintf("/proc/%d/task/*/schedstat", pid))
	if err != nil {
		return 0, 0, err
	}
	for _, t := range tasks {
		b, err := os.ReadFile(t)
		if err != nil {
			continue // a thread that just ended
		}
		if f := strings.Fields(string(b)); len(f) > 0 {
			ns, _ := strconv.ParseInt(f[0], 10, 64)
			precise += time.Duration(ns)
		}
	}
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, 0, err
	}
	s := string(b)
	f := strings.Fields(s[strings.LastIndexByte(s, ')')+1:])
	if len(f) < 13 {
		return 0, 0, fmt.Errorf("unexpected /proc/%d/stat", pid)
	}
	ut, _ := strconv.ParseInt(f[11], 10, 64) // field 14, utime
	st, _ := strconv.ParseInt(f[12], 10, 64) // field 15, stime
	return precise, time.Duration(ut+st) * 10 * time.Millisecond, nil
}

// Print writes the figures with the docs/behaviour.md §7 targets.
func (r Result) Print(w io.Writer) {
	ms := func(d time.Duration) string { return fmt.Sprintf("%.0f ms", float64(d)/float64(time.Millisecond)) }
	sec := func(d time.Duration) string { return fmt.Sprintf("%.1f s", d.Seconds()) }
	fmt.Fprintf(w, "the agent against the simulators (agent alone in its own process, wired as 'vpconnect run --headless'; default schedule: mailbox probe %v, Vantagepoint %v, ±%.0f%% jitter)\n",
		r.MailboxInterval, r.VPInterval, 100*r.Jitter)
	fmt.Fprintf(w, "  initial sync         %d e-mails, %d contacts, %d meetings created (a small world: %d messages, %d contacts, %d meetings on both sides)\n",
		r.InitialCreated["emails"], r.InitialCreated["contacts"], r.InitialCreated["events"], r.Messages, r.Contacts, r.Meetings)
	fmt.Fprintf(w, "  start → API          median %s, max %s over %d starts (target ≤ 500 ms; process start to GET /v1/hello answering)\n",
		ms(median(r.Starts)), ms(maxOf(r.Starts)), len(r.Starts))
	fmt.Fprintf(w, "                       %s\n", list(r.Starts, ms))
	cpuPct := 100 * r.CPU.Seconds() / r.Quiet.Seconds()
	fmt.Fprintf(w, "  idle RSS             %.1f MB at the end, %.1f MB largest sample, %.1f MB peak of the process (target ≤ 40 MB; a restarted agent, after the samples below)\n",
		mb(r.RSSEnd), mb(r.RSSMax), mb(r.RSSPeak))
	fmt.Fprintf(w, "  idle CPU             %.3f%% over %s: %s of CPU (target ≤ 0.1%%; threads' schedstat; utime+stime say %s); %d batches, %d Graph and %d Vantagepoint requests in the window\n",
		cpuPct, sec(r.Quiet), fmt.Sprintf("%.1f ms", float64(r.CPU)/float64(time.Millisecond)), ms(r.CPUTicks), r.QuietBatches, r.QuietGraph, r.QuietVP)
	fmt.Fprintf(w, "  tracked e-mail       median %s, max %s over %d (target ≤ 2 s; POST /v1/track → activity in Vantagepoint; the POST alone: median %s); %d/%d then synced on GET /v1/track\n",
		ms(median(r.Track)), ms(maxOf(r.Track)), len(r.Track), ms(median(r.TrackAccepted)), r.TrackSynced, len(r.Track))
	fmt.Fprintf(w, "                       %s\n", list(r.Track, ms))
	fmt.Fprintf(w, "  tagged in Outlook    median %s, p95 %s, max %s over %d (target p95 ≤ 60 s)\n",
		sec(median(r.Tag)), sec(p95(r.Tag)), sec(maxOf(r.Tag)), len(r.Tag))
	fmt.Fprintf(w, "                       %s\n", list(r.Tag, sec))
	fmt.Fprintf(w, "  contact edited       median %s, p95 %s, max %s over %d (target p95 ≤ 60 s; made with the tag of the same round)\n",
		sec(median(r.Edit)), sec(p95(r.Edit)), sec(maxOf(r.Edit)), len(r.Edit))
	fmt.Fprintf(w, "                       %s\n", list(r.Edit, sec))
	bound := time.Duration(float64(r.MailboxInterval) * (1 + r.Jitter))
	fmt.Fprintf(w, "  of which the wait    %s until the agent's next Graph request after each change (a probe comes every %v ±%.0f%%: at most %s after a change, plus the batch)\n",
		list(r.Pickup, sec), r.MailboxInterval, 100*r.Jitter, sec(bound))
}

func mb(b int64) float64 { return float64(b) / (1 << 20) }

func sorted(ds []time.Duration) []time.Duration {
	s := append([]time.Duration(nil), ds...)
	slices.Sort(s)
	return s
}

func median(ds []time.Duration) time.Duration {
	if len(ds) == 0 {
		return 0
	}
	s := sorted(ds)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

// p95 is the nearest-rank 95th percentile (the maximum below 20 samples).
func p95(ds []time.Duration) time.Duration {
	if len(ds) == 0 {
		return 0
	}
	s := sorted(ds)
	return s[int(math.Ceil(0.95*float64(len(s))))-1]
}

func maxOf(ds []time.Duration) time.Duration {
	if len(ds) == 0 {
		return 0
	}
	return slices.Max(ds)
}

func list(ds []time.Duration, f func(time.Duration) string) string {
	out := make([]string, len(ds))
	for i, d := range ds {
		out[i] = f(d)
	}
	return strings.Join(out, ", ")
}
