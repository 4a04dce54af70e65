package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net"
	"net/http"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"vpconnect/agent"
	"vpconnect/agent/agenttest"
	"vpconnect/agent/config"
	"vpconnect/agent/localapi"
	"vpconnect/syncer/graph/graphsim"
	"vpconnect/syncer/store"
	"vpconnect/syncer/vantagepoint/vpsim"
)

// The helpers of the agent tests: the simulators and sign-ins of
// signin_test.go's world, plus the real agent of 'vpconnect run --headless'
// running in this process on a fake clock, so that the scheduler moves only
// when a test advances it.

// vpInterval is sync.interval of the test config (the default).
const vpInterval = 2 * time.Minute

// tokenCounter counts the requests that reach each token endpoint, under
// everything the CLI and the agent send (the environment's transport).
type tokenCounter struct {
	next   http.RoundTripper
	vpHost string
	ms, vp atomic.Int64
}

func (c *tokenCounter) RoundTrip(req *http.Request) (*http.Response, error) {
	switch {
	case strings.HasSuffix(req.URL.Path, "/oauth2/v2.0/token"):
		c.ms.Add(1)
	case req.URL.Host == c.vpHost && strings.HasSuffix(req.URL.Path, "/token"):
		c.vp.Add(1)
	}
	return c.next.RoundTrip(req)
}

// agentWorld is a world whose agent can be started.
type agentWorld struct {
	*world
	clock *agenttest.FakeClock
	// policyClock times the running agent's policy check (system.Env's
	// PolicyClock), apart from the agent's own timers.
	policyClock *agenttest.FakeClock
	tokens      *tokenCounter
	dir         string // the data dir
}

type vpActivity = vpsim.Activity

func itoa(n int) string { return strconv.Itoa(n) }

// newAgentWorld is newWorld with an isolated policy file, a free local API
// port, a counter of token requests, and a little to sync: a Vantagepoint
// contact, a tagged e-mail from them and a meeting planned in Vantagepoint.
func newAgentWorld(t *testing.T) *agentWorld {
	t.Helper()
	w := &agentWorld{world: newWorld(t), clock: agenttest.NewFakeClock(time.Now())}
	isolatePolicy(t) // none until a test writes it
	w.cli.env.Clock = w.clock
	w.policyClock = agenttest.NewFakeClock(time.Now())
	w.cli.env.PolicyClock = w.policyClock
	w.cli.env.Rand = func() float64 { return 0.5 } // no jitter; the first poll 30 s after the start
	w.cfg.LocalAPI.Port = freePort(t)
	if err := config.Save(w.cfgPath, w.cfg); err != nil {
		t.Fatal(err)
	}
	w.dir = w.cfg.DataDir
	w.tokens = &tokenCounter{next: w.rec.next, vpHost: strings.TrimPrefix(w.v.URL(), "http://")}
	w.rec.next = w.tokens

	w.v.AddContact(vpsim.Contact{FirstName: "Elena", LastName: "Rossi", Email: "elena.rossi@northwind.example", Owner: "00042"})
	now := time.Now().UTC()
	w.g.AddMessage("inbox", graphsim.Message{InternetMessageID: "<budget-1@northwind.example>",
		Subject: "Revised budget", BodyType: "text", Body: "Hi Dana, the revised budget is attached.",
		From:         graphsim.Recipient{Name: "Elena Rossi", Address: "elena.rossi@northwind.example"},
		To:           []graphsim.Recipient{{Name: "Dana Whitfield", Address: "dana@contoso.example"}},
		SentDateTime: now.Add(-time.Hour).Truncate(time.Second), ReceivedDateTime: now.Add(-time.Hour).Truncate(time.Second),
		Categories: []string{"Vantagepoint"}})
	start := now.Truncate(24 * time.Hour).Add(48*time.Hour + 14*time.Hour)
	w.v.AddActivity(vpsim.Activity{Type: "Meeting", Subject: "Design review", Location: "Board room",
		StartDate: vpsim.FormatDate(start), EndDate: vpsim.FormatDate(start.Add(time.Hour)),
		PrivateInd: "N", AllDayEventInd: "N", Owner: "00042", Employee: "00042"})
	return w
}

// freePort is a port the local API can listen on.
func freePort(t *testing.T) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

func (w *agentWorld) activate(t *testing.T) {
	t.Helper()
	if code, out, errOut := w.run("activate"); code != exitOK {
		t.Fatalf("activate = %d\n%s%s", code, out, errOut)
	}
}

// readyWriter is the agent's standard error: it signals once the agent
// says it listens.
type readyWriter struct {
	mu    sync.Mutex
	buf   bytes.Buffer
	once  sync.Once
	ready chan struct{}
}

func (r *readyWriter) Write(p []byte) (int, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	n, err := r.buf.Write(p)
	if strings.Contains(r.buf.String(), ", API on ") {
		r.once.Do(func() { close(r.ready) })
	}
	return n, err
}

func (r *readyWriter) String() string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.buf.String()
}

// runningAgent is 'vpconnect run --headless' in this process.
type runningAgent struct {
	cancel context.CancelFunc
	done   chan error
	stderr *readyWriter
	once   sync.Once
	err    error
}

// startAgent runs the agent as 'vpconnect run --headless' does, and
// returns once its API listens.
func (w *agentWorld) startAgent(t *testing.T) *runningAgent {
	t.Helper()
	return startRun(t, w, "--headless")
}

// startRun runs 'vpconnect run' with args in this process, and returns once
// its API listens.
func startRun(t *testing.T, w *agentWorld, args ...string) *runningAgent {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	r := &runningAgent{cancel: cancel, done: make(chan error, 1), stderr: &readyWriter{ready: make(chan struct{})}}
	go func() { r.done <- w.command().runAgent(ctx, append(args, "--config", w.cfgPath), io.Discard, r.stderr) }()
	select {
	case <-r.stderr.ready:
	case err := <-r.done:
		cancel()
		t.Fatalf("vpconnect run ended at once: %v\n%s", err, r.stderr)
	case <-time.After(30 * time.Second):
		cancel()
		t.Fatalf("vpconnect run did not start listening:\n%s", r.stderr)
	}
	t.Cleanup(func() { r.stop(t) })
	return r
}

// stop ends the agent as a SIGTERM does, and waits for it.
func (r *runningAgent) stop(t *testing.T) {
	t.Helper()
	r.once.Do(func() {
		r.cancel()
		select {
		case r.err = <-r.done:
		case <-time.After(60 * time.Second):
			r.err = errors.New("the agent did not stop")
		}
	})
	if r.err != nil {
		t.Errorf("vpconnect run: %v\n%s", r.err, r.stderr)
	}
}

// client is the CLI's client of the running agent.
func (w *agentWorld) client(t *testing.T) *localapi.Client {
	t.Helper()
	c, err := localapi.Dial(context.Background(), w.dir, w.cfg.LocalAPI.Port)
	if err != nil {
		t.Fatalf("dial the agent: %v", err)
	}
	return c
}

// status is 'vpconnect status --json', decoded, and the raw object.
func (w *agentWorld) status(t *testing.T) (agent.Status, map[string]any) {
	t.Helper()
	code, out, errOut := w.run("status", "--json")
	if code != exitOK {
		t.Fatalf("status --json = %d\n%s%s", code, out, errOut)
	}
	var st agent.Status
	var raw map[string]any
	if err := json.Unmarshal([]byte(out), &st); err != nil {
		t.Fatalf("status --json printed %q: %v", out, err)
	}
	if err := json.Unmarshal([]byte(out), &raw); err != nil {
		t.Fatal(err)
	}
	return st, raw
}

// waitStatus reads 'status --json' until ok holds. The agent publishes its
// snapshot just after it answers an action, so the status a command prints
// next may still be the one before; nothing here depends on how long
// anything takes (the deadline only stops a hung test).
func (w *agentWorld) waitStatus(t *testing.T, what string, ok func(agent.Status) bool) agent.Status {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		st, _ := w.status(t)
		if ok(st) {
			return st
		}
		if time.Now().After(deadline) {
			b, _ := json.MarshalIndent(st, "", "  ")
			t.Fatalf("waiting for %s; status is %s", what, b)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// settled reports a status with no batch running and a last batch of at
// least id.
func settled(id int64) func(agent.Status) bool {
	return func(s agent.Status) bool { return !s.Running && s.LastBatch != nil && s.LastBatch.ID >= id }
}

// sync runs 'vpconnect sync --json' and returns its exit code, the batch it
// printed (nil when none) and its standard error.
func (w *agentWorld) sync(t *testing.T, args ...string) (int, *store.Batch, string) {
	t.Helper()
	code, out, errOut := w.run(append([]string{"sync", "--json"}, args...)...)
	out = strings.TrimSpace(out)
	if out == "" {
		return code, nil, errOut
	}
	var b store.Batch
	if err := json.Unmarshal([]byte(out), &b); err != nil {
		t.Fatalf("sync --json printed %q: %v", out, err)
	}
	return code, &b, errOut
}

// requests is what both simulators served so far: Graph API, Vantagepoint
// API (token endpoints included for Vantagepoint) and each token endpoint.
type requests struct{ graph, vp, msToken, vpToken int64 }

func (w *agentWorld) requests() requests {
	return requests{graph: w.g.Requests(), vp: w.v.Requests(), msToken: w.tokens.ms.Load(), vpToken: w.tokens.vp.Load()}
}

// staysSilent checks that scheduled sync has stopped (what: "while
// suspended", …): no timer is left, and n intervals later neither service
// was asked anything (no retry storm, no polling).
func (w *agentWorld) staysSilent(t *testing.T, what string, n int) {
	t.Helper()
	if p := w.clock.Pending(); p != 0 {
		t.Errorf("%d timers pending %s", p, what)
	}
	before := w.requests()
	for range n {
		w.clock.Advance(vpInterval)
	}
	if now := w.requests(); now != before {
		t.Errorf("requests %s: %+v, then %+v", what, before, now)
	}
}

// dataFiles lists the files of the data dir.
func (w *agentWorld) dataFiles(t *testing.T) []string {
	t.Helper()
	var names []string
	entries, err := os.ReadDir(w.dir)
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		t.Fatal(err)
	}
	for _, e := range entries {
		names = append(names, e.Name())
	}
	return names
}

// startSynced activates, starts the agent and runs a first batch through
// it; it returns the status once that batch has settled.
func (w *agentWorld) startSynced(t *testing.T) agent.Status {
	t.Helper()
	w.activate(t)
	w.startAgent(t)
	code, b, errOut := w.sync(t)
	if code != exitOK || b == nil {
		t.Fatalf("sync = %d\n%s", code, errOut)
	}
	return w.waitStatus(t, "the first batch", settled(b.ID))
}
