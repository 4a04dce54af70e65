// Package bench measures an initial sync end to end against the simulated
// services (docs/behaviour.md §7): a mailbox of N messages, a tenth of them tagged,
// contacts and meetings on both sides, the real Graph and Vantagepoint
// clients, the engine and the SQLite store. The services run in a child
// process, so the agent's peak memory is measured alone.
package bench

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync/atomic"
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
	Events        int    `json:"events"`
	Employee      string `json:"employee"`
	GraphRequests string `json:"-"`
}

const (
	benchUser     = "pat.bench@contoso.example"
	benchEmployee = "00100"
)

// Serve starts both simulators on loopback, seeds them with messages
// messages (every tenth tagged), contacts contacts and events meetings (half
// of each in Vantagepoint, half in Outlook, so both directions are
// measured), writes the World as one JSON line to w, and serves until ctx
// ends.
func Serve(ctx context.Context, messages, contacts, events int, w io.Writer) error {
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
	// The user's contacts: the Vantagepoint half owned by the user (and
	// the e-mails' correspondents), the Outlook half in the contact folder
	// the agent would create (it adopts a folder of that name).
	vpContacts := max((contacts+1)/2, 1)
	for i := range vpContacts {
		v.AddContact(vpsim.Contact{ClientID: "F1", FirstName: "C", LastName: fmt.Sprintf("Contact%05d", i),
			Email: fmt.Sprintf("c%05d@client.example", i), ContactStatus: "A", Owner: benchEmployee, Title: "Engineer"})
	}
	folder := g.AddContactFolder("Vantagepoint")
	for i := range contacts / 2 {
		g.AddContact(folder.ID, graphsim.Contact{GivenName: "O", Surname: fmt.Sprintf("Outlook%05d", i), CompanyName: "Firm One",
			EmailAddresses: []graphsim.Recipient{{Address: fmt.Sprintf("o%05d@partner.example", i)}}, JobTitle: "Planner"})
	}
	day := now.Truncate(24 * time.Hour)
	for i := range events {
		// Spread over the next 170 days, inside the window.
		start := day.Add(24*time.Hour + time.Duration(i)*((170*24*time.Hour)/time.Duration(max(events, 1))))
		if i%2 == 0 {
			v.AddActivity(vpsim.Activity{Type: "Meeting", Subject: fmt.Sprintf("VP meeting %05d", i), StartDate: vpsim.FormatDate(start),
				EndDate: vpsim.FormatDate(start.Add(time.Hour)), Notes: "Agenda", Location: "Room 1", PrivateInd: "N", AllDayEventInd: "N",
				Owner: benchEmployee, Employee: benchEmployee})
			continue
		}
		g.AddEvent(graphsim.Event{Subject: fmt.Sprintf("Outlook meeting %05d", i), BodyType: "text", Body: "Agenda",
			Start: start, End: start.Add(time.Hour), Location: "Teams", Categories: []string{"Vantagepoint"}, Type: "singleInstance"})
	}
	tagged := 0
	body := strings.Repeat("Lorem ipsum dolor sit amet, consectetur adipiscing elit. ", 20)
	for i := range messages {
		m := graphsim.Message{
			Subject:      fmt.Sprintf("Message %06d", i),
			BodyType:     "text",
			Body:         body,
			From:         graphsim.Recipient{Address: fmt.Sprintf("c%05d@client.example", i%vpContacts)},
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
		VPURL: v.APIURL(), VPRefresh: v.IssueRefreshToken("PBENCH"), Messages: messages, Tagged: tagged, Contacts: contacts, Events: events, Employee: benchEmployee,
	}
	if err := json.NewEncoder(w).Encode(world); err != nil {
		return err
	}
	<-ctx.Done()
	return nil
}

// Result are the figures of one run.
type Result struct {
	Messages, Tagged, Contacts, Events int
	InitialWall                        time.Duration
	Initial                            store.Batch
	// Settle is the batch after it: the agent's own writes come back in
	// both sides' listings once (Graph delta, Vantagepoint ModDate), and
	// are recognised as no change.
	Settle          store.Batch
	NoChange        store.Batch
	PeakRSSBytes    int64
	HeapInUseBytes  uint64
	GraphScanTarget int
	// InitialGraph sorts the initial batch's Graph requests.
	InitialGraph GraphRequests
}

// GraphRequests sorts Graph requests by what they are for: delta pages
// (the scan docs/behaviour.md §7 bounds), other reads (the user, folders, categories,
// each tagged message's body), and writes.
type GraphRequests struct{ Delta, Reads, Writes int64 }

// graphCounter counts the requests to Graph by kind.
type graphCounter struct {
	next                 http.RoundTripper
	delta, reads, writes atomic.Int64
}

func (c *graphCounter) RoundTrip(r *http.Request) (*http.Response, error) {
	switch {
	case r.Method != http.MethodGet:
		c.writes.Add(1)
	case strings.Contains(r.URL.Path, "/delta"):
		c.delta.Add(1)
	default:
		c.reads.Add(1)
	}
	return c.next.RoundTrip(r)
}

func (c *graphCounter) take() GraphRequests {
	return GraphRequests{Delta: c.delta.Swap(0), Reads: c.reads.Swap(0), Writes: c.writes.Swap(0)}
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
	counter := &graphCounter{next: http.DefaultTransport}
	mb, err := graph.New(graph.Options{GraphURL: w.GraphURL, TokenSource: msTS, Logger: log, HTTPClient: &http.Client{Transport: counter}})
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
	initialGraph := counter.take()
	settle, err := eng.Run(ctx, syncer.TriggerSchedule)
	if err != nil {
		return Result{}, fmt.Errorf("second batch: %w", err)
	}
	second, err := eng.Run(ctx, syncer.TriggerSchedule)
	if err != nil {
		return Result{}, fmt.Errorf("no-change batch: %w", err)
	}
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return Result{
		Messages: w.Messages, Tagged: w.Tagged, Contacts: w.Contacts, Events: w.Events,
		InitialWall: wall, Initial: first, Settle: settle, NoChange: second,
		PeakRSSBytes: peakRSS(), HeapInUseBytes: ms.HeapInuse, InitialGraph: initialGraph,
		// docs/behaviour.md §7: items / largest page Graph honours + 2 per collection
		// (Inbox, Sent Items, the contact folder, the calendar).
		GraphScanTarget: (w.Messages+w.Contacts/2+w.Events/2)/graph.DefaultPageSize + 2*4,
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

// Print writes the figures as a table with the docs/behaviour.md §7 targets.
func (r Result) Print(w io.Writer) {
	c := r.Initial.Counts[syncer.TypeEmails]
	ct, ev := r.Initial.Counts[syncer.TypeContacts], r.Initial.Counts[syncer.TypeEvents]
	fmt.Fprintf(w, "initial sync of %d messages (%d tagged), %d contacts and %d meetings (half on each side)\n", r.Messages, r.Tagged, r.Contacts, r.Events)
	fmt.Fprintf(w, "  wall                 %v\n", r.InitialWall.Round(time.Millisecond))
	fmt.Fprintf(w, "  emails               scanned %d, created %d, skipped %d, failed %d\n", c.Scanned, c.Created, c.Skipped, c.Failed)
	fmt.Fprintf(w, "  contacts             scanned %d, created %d, updated %d, failed %d\n", ct.Scanned, ct.Created, ct.Updated, ct.Failed)
	fmt.Fprintf(w, "  meetings             scanned %d, created %d, updated %d, skipped %d, failed %d\n", ev.Scanned, ev.Created, ev.Updated, ev.Skipped, ev.Failed)
	fmt.Fprintf(w, "  requests             graph %d, vantagepoint %d\n", r.Initial.Requests["graph"], r.Initial.Requests["vantagepoint"])
	// The scan is the delta pages; each tagged message costs a read and a
	// category write, each copy made in Outlook a create, and the start a
	// few look-ups (the user, the folders, the categories).
	g := r.InitialGraph
	fmt.Fprintf(w, "  graph scan requests  %d delta pages (target ≤ %d: items/%d + 2 per collection); besides: %d other reads (%d tagged messages, the rest look-ups), %d writes\n",
		g.Delta, r.GraphScanTarget, graph.DefaultPageSize, g.Reads, c.Created, g.Writes)
	vpCreates := c.Created + r.Contacts/2 + r.Events/2
	fmt.Fprintf(w, "  vantagepoint         %d requests for %d records created (target: 1 write each, plus listings)\n", r.Initial.Requests["vantagepoint"], vpCreates)
	fmt.Fprintf(w, "  peak RSS             %.1f MB (agent process; the simulators run in another)\n", float64(r.PeakRSSBytes)/(1<<20))
	fmt.Fprintf(w, "  heap in use after    %.1f MB\n", float64(r.HeapInUseBytes)/(1<<20))
	fmt.Fprintf(w, "second batch           graph %d, vantagepoint %d requests, %v (the agent's own writes listed once more; %d changes)\n", r.Settle.Requests["graph"], r.Settle.Requests["vantagepoint"],
		r.Settle.Finished.Sub(r.Settle.Started).Round(time.Millisecond), changes(r.Settle))
	fmt.Fprintf(w, "no-change batch        graph %d, vantagepoint %d requests, %v (target ≤ 4 and ≤ 2: one per collection)\n", r.NoChange.Requests["graph"], r.NoChange.Requests["vantagepoint"],
		r.NoChange.Finished.Sub(r.NoChange.Started).Round(time.Millisecond))
}

func changes(b store.Batch) int {
	n := 0
	for _, c := range b.Counts {
		n += c.Created + c.Updated + c.Deleted + c.Unlinked
	}
	return n
}
