// Package bench measures an initial sync end to end against the simulated
// services (SPEC §7): a mailbox of N messages, a tenth of them tagged, the
// real Graph and Vantagepoint clients, the engine and the SQLite store. The
// services run in a child process, so the agent's peak memory is measured
// alone.
package bench

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"time"

	"golang.org/x/oauth2"

	"vpconnect/syncer"
	"vpconnect/syncer/graph"
	"vpconnect/syncer/graph/graphsim"
	"vpconnect/syncer/store"
	"vpconnect/syncer/vantagepoint"
	"vpconnect/syncer/vantagepoint/vpsim"
)

// World is what the service process tells the agent process.
type World struct {
	GraphURL      string `json:"graphUrl"`
	TokenURL      string `json:"tokenUrl"`
	GraphRefresh  string `json:"graphRefresh"`
	VPURL         string `json:"vpUrl"`
	VPRefresh     string `json:"vpRefresh"`
	Messages      int    `json:"messages"`
	Tagged        int    `json:"tagged"`
	Contacts      int    `json:"contacts"`
	Employee      string `json:"employee"`
	GraphRequests string `json:"-"`
}

const (
	benchUser     = "pat.bench@contoso.example"
	benchEmployee = "00100"
)

// Serve starts both simulators on loopback, seeds them with messages
// messages (every tenth tagged) and contacts contacts, writes the World as
// one JSON line to w, and serves until ctx ends.
func Serve(ctx context.Context, messages, contacts int, w io.Writer) error {
	now := time.Now().UTC()
	g := graphsim.New(graphsim.Options{User: graphsim.User{DisplayName: "Pat Bench", Mail: benchUser, UserPrincipalName: benchUser}})
	if _, err := g.Start("127.0.0.1:0"); err != nil {
		return err
	}
	defer g.Close()
	v := vpsim.New(vpsim.Options{Database: "BENCH"})
	if _, err := v.Start("127.0.0.1:0"); err != nil {
		return err
	}
	defer v.Close()
	v.AddEmployee(vpsim.Employee{Employee: benchEmployee, FirstName: "Pat", LastName: "Bench", EMail: benchUser, Status: "A"})
	v.AddUser("PBENCH", "bench", benchEmployee)
	v.AddFirm(vpsim.Firm{ClientID: "F1", Name: "Firm One"})
	for i := range contacts {
		v.AddContact(vpsim.Contact{ClientID: "F1", FirstName: "C", LastName: fmt.Sprintf("Contact%05d", i),
			Email: fmt.Sprintf("c%05d@client.example", i), ContactStatus: "A", Owner: "99999"})
	}
	tagged := 0
	body := strings.Repeat("Lorem ipsum dolor sit amet, consectetur adipiscing elit. ", 20)
	for i := range messages {
		m := graphsim.Message{
			Subject:      fmt.Sprintf("Message %06d", i),
			BodyType:     "text",
			Body:         body,
			From:         graphsim.Recipient{Address: fmt.Sprintf("c%05d@client.example", i%max(contacts, 1))},
			To:           []graphsim.Recipient{{Address: benchUser}},
			SentDateTime: now.Add(-time.Duration(i%(13*24*60)) * time.Minute),
			Categories:   []string{},
		}
		if i%10 == 0 {
			m.Categories = []string{"Vantagepoint"}
			tagged++
		}
		g.AddMessage("inbox", m)
	}
	world := World{
		GraphURL: g.GraphURL(), TokenURL: g.AuthorityURL() + "/organizations/oauth2/v2.0/token", GraphRefresh: g.IssueRefreshToken(),
		VPURL: v.APIURL(), VPRefresh: v.IssueRefreshToken("PBENCH"), Messages: messages, Tagged: tagged, Contacts: contacts, Employee: benchEmployee,
	}
	if err := json.NewEncoder(w).Encode(world); err != nil {
		return err
	}
	<-ctx.Done()
	return nil
}

// Result are the figures of one run.
type Result struct {
	Messages, Tagged, Contacts int
	InitialWall                time.Duration
	Initial                    store.Batch
	NoChange                   store.Batch
	PeakRSSBytes               int64
	HeapInUseBytes             uint64
	GraphScanTarget            int
}

// Run starts `self serve` as the service process (self is this program's
// path and serveArgs its arguments to serve), runs an initial batch and a
// no-change batch, and returns the figures.
func Run(ctx context.Context, self string, serveArgs []string) (Result, error) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	cmd := exec.CommandContext(ctx, self, serveArgs...)
	cmd.Stderr = os.Stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		return Result{}, err
	}
	if err := cmd.Start(); err != nil {
		return Result{}, fmt.Errorf("start the simulated services: %w", err)
	}
	defer func() { cancel(); cmd.Wait() }()
	line, err := bufio.NewReader(out).ReadBytes('\n')
	if err != nil {
		return Result{}, fmt.Errorf("read the simulated world: %w", err)
	}
	var w World
	if err := json.Unmarshal(line, &w); err != nil {
		return Result{}, fmt.Errorf("read the simulated world: %w", err)
	}

	dir, err := os.MkdirTemp("", "vpconnect-bench-")
	if err != nil {
		return Result{}, err
	}
	defer os.RemoveAll(dir)
	st, err := store.Open(filepath.Join(dir, "sync.db"))
	if err != nil {
		return Result{}, err
	}
	defer st.Close()
	log := slog.New(slog.DiscardHandler)
	msTS := (&oauth2.Config{ClientID: "bench", Endpoint: oauth2.Endpoint{TokenURL: w.TokenURL, AuthStyle: oauth2.AuthStyleInParams}}).
		TokenSource(ctx, &oauth2.Token{RefreshToken: w.GraphRefresh})
	vpTS := (&oauth2.Config{ClientID: "bench", Endpoint: oauth2.Endpoint{TokenURL: w.VPURL + "/token", AuthStyle: oauth2.AuthStyleInParams}}).
		TokenSource(ctx, &oauth2.Token{RefreshToken: w.VPRefresh})
	mb, err := graph.New(graph.Options{GraphURL: w.GraphURL, TokenSource: msTS, Logger: log})
	if err != nil {
		return Result{}, err
	}
	vp, err := vantagepoint.New(vantagepoint.Options{APIURL: w.VPURL, TokenSource: vpTS, Logger: log})
	if err != nil {
		return Result{}, err
	}
	eng := syncer.New(mb, vp, st, syncer.Options{Employee: w.Employee, Logger: log})
	if err := eng.Prepare(ctx); err != nil {
		return Result{}, err
	}
	start := time.Now()
	first, err := eng.Run(ctx, syncer.TriggerStartup)
	if err != nil {
		return Result{}, fmt.Errorf("initial batch: %w", err)
	}
	wall := time.Since(start)
	second, err := eng.Run(ctx, syncer.TriggerSchedule)
	if err != nil {
		return Result{}, fmt.Errorf("no-change batch: %w", err)
	}
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return Result{
		Messages: w.Messages, Tagged: w.Tagged, Contacts: w.Contacts,
		InitialWall: wall, Initial: first, NoChange: second,
		PeakRSSBytes: peakRSS(), HeapInUseBytes: ms.HeapInuse,
		// SPEC §7: items / largest page Graph honours + 2 per collection.
		GraphScanTarget: w.Messages/graph.DefaultPageSize + 2*2,
	}, nil
}

// peakRSS reads the process's high-water resident set (Linux); -1 elsewhere.
func peakRSS() int64 {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return -1
	}
	for _, l := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(l, "VmHWM:"); ok {
			kb, err := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 10, 64)
			if err == nil {
				return kb * 1024
			}
		}
	}
	return -1
}

// Print writes the figures as a table with the SPEC §7 targets.
func (r Result) Print(w io.Writer) {
	c := r.Initial.Counts[syncer.TypeEmails]
	fmt.Fprintf(w, "initial sync of %d messages (%d tagged), %d Vantagepoint contacts\n", r.Messages, r.Tagged, r.Contacts)
	fmt.Fprintf(w, "  wall                 %v\n", r.InitialWall.Round(time.Millisecond))
	fmt.Fprintf(w, "  emails               scanned %d, created %d, skipped %d, failed %d\n", c.Scanned, c.Created, c.Skipped, c.Failed)
	fmt.Fprintf(w, "  requests             graph %d, vantagepoint %d\n", r.Initial.Requests["graph"], r.Initial.Requests["vantagepoint"])
	scan := r.Initial.Requests["graph"] - 2*int64(c.Created)
	fmt.Fprintf(w, "  graph scan requests  %d (target ≤ %d: items/%d + 2 per collection; includes the user, folder and category look-ups; excludes the read and the category write of each tagged message, 2 × %d)\n",
		scan, r.GraphScanTarget, graph.DefaultPageSize, c.Created)
	fmt.Fprintf(w, "  peak RSS             %.1f MB (agent process; the simulators run in another)\n", float64(r.PeakRSSBytes)/(1<<20))
	fmt.Fprintf(w, "  heap in use after    %.1f MB\n", float64(r.HeapInUseBytes)/(1<<20))
	fmt.Fprintf(w, "no-change batch        graph %d, vantagepoint %d requests, %v\n", r.NoChange.Requests["graph"], r.NoChange.Requests["vantagepoint"],
		r.NoChange.Finished.Sub(r.NoChange.Started).Round(time.Millisecond))
}
