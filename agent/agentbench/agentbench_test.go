package agentbench

import (
	"context"
	"encoding/json"
	"net/http"
	"os"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"

	"vpconnect/agent/localapi"
)

// The agent process as the bench runs it (here in the test's process):
// its API answers, an e-mail tracked through POST /v1/track becomes an
// activity that the bench's helper sees, and GET /v1/track says synced.
// No figure is asserted: the bench prints them.
func TestServedAgentFilesATrackedEmail(t *testing.T) {
	w, err := newWorld(1, 1)
	if err != nil {
		t.Fatal(err)
	}
	defer w.close()
	dir := t.TempDir()
	port, err := freePort()
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	s := w.start(dir, port)
	r, wr, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	go func() { done <- Serve(ctx, r) }()
	defer func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Serve: %v", err)
		}
	}()
	if err := writeStart(wr, s); err != nil {
		t.Fatal(err)
	}
	hc := &http.Client{Timeout: time.Second}
	hello := "http://127.0.0.1:" + strconv.Itoa(port) + "/v1/hello"
	if err := poll(ctx, 10*time.Millisecond, 30*time.Second, func() bool { return answered(ctx, hc, hello) }); err != nil {
		t.Fatalf("hello: %v", err)
	}
	secret, err := localapi.ReadSecret(dir)
	if err != nil {
		t.Fatal(err)
	}
	api := &owner{base: "http://127.0.0.1:" + strconv.Itoa(port), secret: secret, hc: &http.Client{}}
	m := w.tracks[0]
	if w.activity(m.Subject) {
		t.Fatalf("%q is an activity before it was tracked", m.Subject)
	}
	if err := api.track(ctx, m.ID); err != nil {
		t.Fatal(err)
	}
	if err := poll(ctx, 10*time.Millisecond, 30*time.Second, func() bool { return w.activity(m.Subject) }); err != nil {
		t.Fatalf("the tracked e-mail's activity: %v", err)
	}
	if err := poll(ctx, 10*time.Millisecond, 30*time.Second, func() bool {
		st, err := api.trackState(ctx, m.ID)
		return err == nil && st == "synced"
	}); err != nil {
		t.Fatalf("GET /v1/track never said synced: %v", err)
	}
	// The Outlook contact that the rounds edit was created in Vantagepoint.
	email := w.edits[0].EmailAddresses[0].Address
	if err := poll(ctx, 10*time.Millisecond, 30*time.Second, func() bool { return w.contactTitle(email) == "Planner" }); err != nil {
		t.Fatalf("the Outlook contact in Vantagepoint: %v", err)
	}
}

func writeStart(f *os.File, s Start) error {
	defer f.Close()
	return json.NewEncoder(f).Encode(s)
}

// The process readings work on this process.
func TestProcReadings(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("the bench reads /proc (Linux)")
	}
	rss, hwm, err := procRSS(os.Getpid())
	if err != nil || rss <= 0 || hwm < rss {
		t.Fatalf("procRSS = %d, %d, %v", rss, hwm, err)
	}
	// Use some CPU, so that the reading moves.
	deadline := time.Now().Add(50 * time.Millisecond)
	x := 0
	for time.Now().Before(deadline) {
		x++
	}
	cpu, ticks, err := procCPU(os.Getpid())
	if err != nil || cpu <= 0 || ticks < 0 || x == 0 {
		t.Fatalf("procCPU = %v, %v, %v", cpu, ticks, err)
	}
}

func TestPercentiles(t *testing.T) {
	var ds []time.Duration
	for _, s := range []int{5, 1, 4, 2, 3} {
		ds = append(ds, time.Duration(s)*time.Second)
	}
	if m := median(ds); m != 3*time.Second {
		t.Errorf("median = %v", m)
	}
	if p := p95(ds); p != 5*time.Second {
		t.Errorf("p95 of 5 = %v, want the maximum", p)
	}
	if got := list(ds[:2], func(d time.Duration) string { return d.String() }); !strings.Contains(got, "5s, 1s") {
		t.Errorf("list = %q", got)
	}
}
