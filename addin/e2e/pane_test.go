//go:build linux

package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/oauth2"

	"vpconnect/addin"
	"vpconnect/agent"
	"vpconnect/agent/config"
	"vpconnect/agent/localapi"
	"vpconnect/agent/system"
	"vpconnect/syncer"
	"vpconnect/syncer/graph"
	"vpconnect/syncer/graph/graphsim"
	"vpconnect/syncer/store"
	"vpconnect/syncer/vantagepoint"
	"vpconnect/syncer/vantagepoint/vpsim"
)

const (
	userMail = "dana@contoso.example"
	employee = "00042"
	project  = "2026001.00"
)

// world is a real agent (engine, agent core, loopback API with its
// Vantagepoint directory) on the simulated services, and the page server
// that hosts the add-in's pane with a stand-in Office.js.
type world struct {
	graph    *graphsim.Server
	vp       *vpsim.Server
	agent    *agent.Agent
	api      *localapi.Server
	pageURL  string // http://127.0.0.1:PORT
	pagePort int
	alice    vpsim.Contact
	files    atomic.Pointer[map[string][]byte]
	// trackRequests counts the track requests the API passed to the agent.
	trackRequests atomic.Int32
}

// trackCounter is the agent as the loopback API's backend, counting the
// track requests that reach it.
type trackCounter struct {
	*agent.Agent
	n *atomic.Int32
}

func (c trackCounter) Track(ctx context.Context, req agent.TrackRequest) error {
	c.n.Add(1)
	return c.Agent.Track(ctx, req)
}

// startWorld starts it; the agent probes the mailbox every mailboxInterval
// (sync.mailboxInterval) and polls Vantagepoint hourly.
func startWorld(t *testing.T, mailboxInterval time.Duration) *world {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	w := &world{}
	w.graph = graphsim.New(graphsim.Options{User: graphsim.User{DisplayName: "Dana Whitfield", Mail: userMail, UserPrincipalName: userMail}})
	if _, err := w.graph.Start("127.0.0.1:0"); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(w.graph.Close)
	w.vp = vpsim.New(vpsim.Options{Database: "E2E"})
	if _, err := w.vp.Start("127.0.0.1:0"); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(w.vp.Close)
	w.vp.AddUser("DANA", "pw", employee)
	w.vp.AddEmployee(vpsim.Employee{Employee: employee, FirstName: "Dana", LastName: "Whitfield", EMail: userMail})
	firm := w.vp.AddFirm(vpsim.Firm{Name: "Fabrikam Developments"})
	w.alice = w.vp.AddContact(vpsim.Contact{FirstName: "Alice", LastName: "Ng", Email: "alice@fabrikam.example", Title: "Development Director", ClientID: firm.ClientID})
	w.vp.AddProject(vpsim.Project{WBS1: project, Name: "Harbour bridge", ClientID: firm.ClientID, Status: "A"})
	w.vp.AddProject(vpsim.Project{WBS1: "2026002.00", Name: "Ferry terminal", ClientID: firm.ClientID, Status: "A"})

	log := slog.New(slog.DiscardHandler)
	dataDir := t.TempDir()
	mailbox, err := graph.New(graph.Options{GraphURL: w.graph.GraphURL(),
		TokenSource: oauth2.StaticTokenSource(&oauth2.Token{AccessToken: w.graph.IssueAccessToken(), TokenType: "Bearer"}), Logger: log})
	if err != nil {
		t.Fatal(err)
	}
	vpc, err := vantagepoint.New(vantagepoint.Options{APIURL: w.vp.APIURL(), Logger: log,
		TokenSource: oauth2.StaticTokenSource(&oauth2.Token{AccessToken: w.vp.IssueAccessToken("DANA"), TokenType: "bearer"})})
	if err != nil {
		t.Fatal(err)
	}
	st, err := store.Open(filepath.Join(dataDir, "sync.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })

	// The page first: the agent's allowedOrigins name its origin.
	w.startPage(t)
	cfg := config.Default()
	cfg.DataDir = dataDir
	cfg.LocalAPI.Port = freePort(t)
	cfg.LocalAPI.AllowedOrigins = []string{w.pageURL}
	eng := syncer.New(mailbox, vpc, st, agent.EngineOptions(cfg, employee, log))
	if err := eng.Prepare(ctx); err != nil {
		t.Fatal(err)
	}
	w.agent, err = agent.New(agent.Options{
		Config: cfg, Syncer: eng, Tracker: eng, History: agent.StoreHistory(st), DataDir: dataDir,
		MailboxStatus: syncer.MailboxInitialized,
		Accounts: agent.Accounts{Microsoft: agent.MicrosoftAccount{User: userMail},
			Vantagepoint: agent.VantagepointAccount{URL: w.vp.APIURL(), Database: "E2E", Employee: employee}},
		Schedule: agent.Schedule{MailboxInterval: mailboxInterval, Interval: time.Hour, FirstPollMax: time.Nanosecond},
		Logger:   log,
	})
	if err != nil {
		t.Fatal(err)
	}
	w.api, err = localapi.New(localapi.Options{Backend: trackCounter{w.agent, &w.trackRequests}, Directory: system.Directory(vpc),
		Port: cfg.LocalAPI.Port, AllowedOrigins: cfg.LocalAPI.AllowedOrigins, DataDir: dataDir, Logger: log})
	if err != nil {
		t.Fatal(err)
	}
	if err := w.api.Listen(); err != nil {
		t.Fatal(err)
	}
	w.setFiles(t, w.api.Port())
	var wg sync.WaitGroup
	wg.Add(2)
	go func() { defer wg.Done(); w.agent.Run(ctx) }()
	go func() { defer wg.Done(); w.api.Serve(ctx) }()
	t.Cleanup(func() { cancel(); wg.Wait() })
	// The startup batch creates the master categories the add-in needs.
	w.sync(t)
	if !slices.ContainsFunc(w.graph.Categories(), func(c graphsim.Category) bool { return c.DisplayName == "Vantagepoint" }) {
		t.Fatalf("no Vantagepoint master category after the first batch: %+v", w.graph.Categories())
	}
	return w
}

// sync runs one batch through the agent and waits for it.
func (w *world) sync(t *testing.T) store.Batch {
	t.Helper()
	tk, err := w.agent.SyncNow(context.Background(), syncer.TriggerManual)
	if err != nil {
		t.Fatal(err)
	}
	select {
	case r := <-tk.Done:
		if r.Err != nil {
			t.Fatalf("batch: %v", r.Err)
		}
		return r.Batch
	case <-time.After(60 * time.Second):
		t.Fatal("no batch result after 60 s")
	}
	return store.Batch{}
}

// freePort finds a port whose next 19 are in range, for the agent (the
// pane tries port…port+19).
func freePort(t *testing.T) int {
	t.Helper()
	for range 50 {
		ln, err := net.Listen("tcp4", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		p := ln.Addr().(*net.TCPAddr).Port
		ln.Close()
		if p < 65535-20 {
			return p
		}
	}
	t.Fatal("no free port")
	return 0
}

// startPage serves the pane's files as 'vpconnect addin package' writes
// them, but with the stand-in Office.js and a config.js for this agent,
// and the stand-in's view of the simulated mailbox.
func (w *world) startPage(t *testing.T) {
	t.Helper()
	ln, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	w.pagePort = ln.Addr().(*net.TCPAddr).Port
	w.pageURL = fmt.Sprintf("http://127.0.0.1:%d", w.pagePort)
	standin, err := os.ReadFile("testdata/office-standin.js")
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("/standin/office.js", func(rw http.ResponseWriter, r *http.Request) {
		rw.Header().Set("Content-Type", "text/javascript")
		rw.Write(standin)
	})
	mux.HandleFunc("GET /standin/item", func(rw http.ResponseWriter, r *http.Request) {
		id := r.URL.Query().Get("id")
		m, ok := w.graph.Message(id)
		if !ok {
			http.NotFound(rw, r)
			return
		}
		props, _ := w.graph.AddinProperties(id, syncer.AddinManifestID)
		addr := func(a graphsim.Recipient) map[string]string {
			return map[string]string{"displayName": a.Name, "emailAddress": a.Address}
		}
		var to, cc []map[string]string
		for _, a := range m.To {
			to = append(to, addr(a))
		}
		for _, a := range m.Cc {
			cc = append(cc, addr(a))
		}
		writeJSON(rw, http.StatusOK, map[string]any{"itemId": m.ID, "internetMessageId": m.InternetMessageID, "subject": m.Subject, "from": addr(m.From), "to": to, "cc": cc,
			"categories": m.Categories, "props": props, "me": userMail, "meName": "Dana Whitfield"})
	})
	mux.HandleFunc("POST /standin/categories", func(rw http.ResponseWriter, r *http.Request) {
		var req struct {
			ID          string
			Add, Remove []string
		}
		json.NewDecoder(r.Body).Decode(&req)
		for _, name := range req.Add {
			// Office.Categories.addAsync: "Each category must be in the
			// categories master list".
			if !slices.ContainsFunc(w.graph.Categories(), func(c graphsim.Category) bool { return c.DisplayName == name }) {
				writeJSON(rw, http.StatusBadRequest, map[string]string{"name": "InvalidCategory", "message": "Invalid categories were provided."})
				return
			}
		}
		w.graph.UpdateMessage(req.ID, func(m *graphsim.Message) {
			m.Categories = slices.DeleteFunc(m.Categories, func(c string) bool { return slices.Contains(req.Remove, c) })
			for _, a := range req.Add {
				if !slices.Contains(m.Categories, a) {
					m.Categories = append(m.Categories, a)
				}
			}
		})
		writeJSON(rw, http.StatusOK, map[string]any{})
	})
	mux.HandleFunc("POST /standin/props", func(rw http.ResponseWriter, r *http.Request) {
		var req struct {
			ID    string
			Props map[string]any
		}
		json.NewDecoder(r.Body).Decode(&req)
		if err := w.graph.SetAddinProperties(req.ID, syncer.AddinManifestID, req.Props); err != nil {
			writeJSON(rw, http.StatusBadRequest, map[string]string{"name": "GenericResponseError", "message": err.Error()})
			return
		}
		writeJSON(rw, http.StatusOK, map[string]any{})
	})
	mux.HandleFunc("/", func(rw http.ResponseWriter, r *http.Request) {
		name := strings.TrimPrefix(r.URL.Path, "/")
		var b []byte
		ok := false
		if files := w.files.Load(); files != nil {
			b, ok = (*files)[name]
		}
		if !ok {
			http.NotFound(rw, r)
			return
		}
		switch {
		case strings.HasSuffix(name, ".js"):
			rw.Header().Set("Content-Type", "text/javascript")
		case strings.HasSuffix(name, ".css"):
			rw.Header().Set("Content-Type", "text/css")
		case strings.HasSuffix(name, ".html"):
			rw.Header().Set("Content-Type", "text/html; charset=utf-8")
		}
		rw.Write(b)
	})
	srv := &http.Server{Handler: mux}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
}

// setFiles prepares the pane's files as 'vpconnect addin package' writes
// them, with the stand-in Office.js and a config.js for this agent.
func (w *world) setFiles(t *testing.T, port int) {
	t.Helper()
	files, err := addin.Files(addin.Options{BaseURL: "https://addins.example.com/vpconnect", Port: port, OfficeJSURL: "/standin/office.js"})
	if err != nil {
		t.Fatal(err)
	}
	// Only the agent's own port: other tests' agents may answer on the
	// ports after it.
	files["config.js"] = []byte(strings.Replace(string(files["config.js"]), `"ports":20`, `"ports":1`, 1))
	w.files.Store(&files)
}

func writeJSON(rw http.ResponseWriter, code int, v any) {
	rw.Header().Set("Content-Type", "application/json")
	rw.WriteHeader(code)
	json.NewEncoder(rw).Encode(v)
}
