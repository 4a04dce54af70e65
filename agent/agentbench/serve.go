// Package agentbench measures the running agent end to end against the
// simulated services (the agent figures of SPEC §7): start → loopback API
// answering, the idle agent's memory and CPU with the product's default
// intervals, a tracked e-mail → Vantagepoint activity, and a tagged e-mail
// and an edited contact in Outlook → Vantagepoint. The measuring process
// holds both simulators; the agent runs alone in a child process (Serve),
// wired as `vpconnect run` wires it, so its memory and CPU are read from
// /proc/<pid> without the simulators in them. `make bench` runs it through
// `vpbench -agent`.
package agentbench

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"time"

	"vpconnect/agent"
	"vpconnect/agent/admin"
	"vpconnect/agent/config"
	"vpconnect/agent/localapi"
	"vpconnect/agent/sysmon"
	"vpconnect/auth"
	"vpconnect/syncer"
	"vpconnect/syncer/graph"
	"vpconnect/syncer/store"
	"vpconnect/syncer/vantagepoint"
)

// Start is what the measuring process hands each agent process it starts,
// as one JSON line on its standard input: where the simulated services are,
// the sign-ins (fresh refresh tokens each time: they rotate), the data dir
// and the loopback port.
type Start struct {
	AuthorityURL string `json:"authorityUrl"`
	GraphURL     string `json:"graphUrl"`
	ClientID     string `json:"clientId"`
	User         string `json:"user"`
	MSRefresh    string `json:"msRefresh"`
	VPURL        string `json:"vpUrl"`
	Database     string `json:"database"`
	VPUser       string `json:"vpUser"`
	Employee     string `json:"employee"`
	VPRefresh    string `json:"vpRefresh"`
	DataDir      string `json:"dataDir"`
	Port         int    `json:"port"`
}

// stateFile is the sync state database in the data dir, as the product
// names it.
const stateFile = "sync.db"

// Serve is the agent process: it reads a Start from in and runs the agent
// as `vpconnect run --headless` does (cmd/vpconnect's wireAgent and
// serveAgent): the sign-ins in a keychain (in memory here, the system's in
// the product), the real token sources, Graph and Vantagepoint clients,
// engine, SQLite state, administration hubs, agent with the default
// schedule of the configuration, and the loopback API, which listens before
// anything slow. The first start with a fresh data dir initializes the
// mailbox first, as activation does. It runs until ctx ends.
func Serve(ctx context.Context, in io.Reader) error {
	var s Start
	if err := json.NewDecoder(in).Decode(&s); err != nil {
		return fmt.Errorf("read the start line: %w", err)
	}
	cfg := config.Default()
	cfg.Microsoft.ClientID = s.ClientID
	cfg.Microsoft.AuthorityURL = s.AuthorityURL
	cfg.Microsoft.GraphURL = s.GraphURL
	cfg.Vantagepoint.APIURL = s.VPURL
	cfg.Vantagepoint.Database = s.Database
	cfg.Vantagepoint.ClientID = "vpconnect-bench"
	cfg.Vantagepoint.FleetSize = 1 // one agent on its own server: nothing to pace
	cfg.DataDir = s.DataDir
	cfg.LocalAPI.Port = s.Port
	cfg.KeychainService = "vpconnect-bench"
	if err := cfg.Validate(); err != nil {
		return fmt.Errorf("the bench configuration: %w", err)
	}
	dir := s.DataDir
	log, closer, err := agent.OpenLog(dir, slog.LevelInfo)
	if err != nil {
		return err
	}
	defer closer.Close()

	// The stored sign-ins, as activation leaves them.
	st := auth.NewStore(auth.NewMemoryKeychain(), dir)
	if err := st.Save(ctx, auth.Record{Account: auth.Microsoft, RefreshToken: s.MSRefresh, User: s.User}); err != nil {
		return err
	}
	if err := st.Save(ctx, auth.Record{Account: auth.Vantagepoint, RefreshToken: s.VPRefresh, URL: s.VPURL,
		Database: s.Database, Username: s.VPUser, Employee: s.Employee}); err != nil {
		return err
	}
	msApp := auth.MicrosoftApp{ClientID: cfg.Microsoft.ClientID, Tenant: cfg.Microsoft.Tenant, AuthorityURL: cfg.Microsoft.AuthorityURL}
	vpApp := auth.VantagepointApp{APIURL: cfg.Vantagepoint.APIURL, Database: cfg.Vantagepoint.Database, ClientID: cfg.Vantagepoint.ClientID}
	msTS, vpTS := msApp.TokenSource(ctx, st, nil), vpApp.TokenSource(ctx, st, nil)
	mailbox, err := graph.New(graph.Options{GraphURL: cfg.Microsoft.GraphURL, TokenSource: msTS,
		HTTPClient: &http.Client{Transport: msTS.Transport(nil)}, Logger: log})
	if err != nil {
		return err
	}
	newVP := func() (*vantagepoint.Client, error) {
		return vantagepoint.New(vantagepoint.Options{APIURL: cfg.Vantagepoint.APIURL, ZoneFile: cfg.ZoneFile(), TokenSource: vpTS,
			HTTPClient: &http.Client{Transport: vpTS.Transport(nil), Timeout: 60 * time.Second}, Logger: log})
	}
	vpc, err := newVP()
	if err != nil {
		return err
	}
	db, err := store.Open(filepath.Join(dir, stateFile))
	if err != nil {
		return fmt.Errorf("open the sync state: %w", err)
	}
	defer db.Close()
	eng := syncer.New(mailbox, vpc, db, agent.EngineOptions(cfg, s.Employee, log))
	initialized, err := eng.Initialized(ctx)
	if err != nil {
		return err
	}
	if !initialized {
		// Activation's step (SPEC §4.5), on the first start only.
		if err := eng.InitializeMailbox(ctx, false); err != nil {
			return fmt.Errorf("initialize the mailbox: %w", err)
		}
	}
	adminClient, err := newVP()
	if err != nil {
		return err
	}
	machine, _ := os.Hostname()
	hubs := admin.NewHubs(admin.Options{Client: adminClient, AgentsHub: cfg.Admin.AgentsHub, GroupsHub: cfg.Admin.GroupsHub,
		Group: cfg.Admin.Group, Employee: s.Employee, Machine: machine, Version: agent.Version})
	a, err := agent.New(agent.Options{
		Config: cfg, DataDir: dir, Logger: log,
		NetworkChanged: sysmon.NetworkWatcher{}.Watch,
		StateFiles:     []string{filepath.Join(dir, stateFile)},
		Accounts: agent.Accounts{
			Microsoft:    agent.MicrosoftAccount{User: s.User},
			Vantagepoint: agent.VantagepointAccount{URL: cfg.Vantagepoint.APIURL, Database: cfg.Vantagepoint.Database, Employee: s.Employee},
		},
		MailboxStatus: syncer.MailboxInitialized,
		Syncer:        eng, Tracker: eng, History: agent.StoreHistory(db),
		Hooks: agent.Hooks{TranslateIDs: mailbox.TranslateIDs, ConfirmDeletes: eng.ConfirmDeletes,
			Uninitialize: eng.Deactivate, CloseState: db.Close},
		Admin: hubs,
	})
	if err != nil {
		return err
	}
	srv, err := localapi.New(localapi.Options{Backend: a, Directory: localapi.CachedDirectory(localapi.VantagepointDirectory(vpc), time.Minute, nil),
		Port: cfg.LocalAPI.Port, AllowedOrigins: cfg.LocalAPI.AllowedOrigins, DataDir: dir, Logger: log})
	if err != nil {
		return err
	}
	if err := srv.Listen(); err != nil {
		return err
	}
	srvCtx, stopServer := context.WithCancel(ctx)
	defer stopServer()
	done := make(chan error, 1)
	go func() { done <- srv.Serve(srvCtx) }()
	err = a.Run(ctx)
	stopServer()
	return errors.Join(err, <-done)
}
