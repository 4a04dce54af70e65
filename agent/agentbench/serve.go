// Package agentbench measures the running agent end to end against the
// simulated services (the agent figures of docs/behaviour.md §7): start → loopback API
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
	"fmt"
	"io"
	"log/slog"
	"time"

	"vpconnect/agent"
	"vpconnect/agent/config"
	"vpconnect/agent/system"
	"vpconnect/auth"
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

// Serve is the agent process: it reads a Start from in, and runs the agent
// Build builds until ctx ends.
func Serve(ctx context.Context, in io.Reader) error {
	var s Start
	if err := json.NewDecoder(in).Decode(&s); err != nil {
		return fmt.Errorf("read the start line: %w", err)
	}
	log, closer, err := agent.OpenLog(s.DataDir, slog.LevelInfo)
	if err != nil {
		return err
	}
	defer closer.Close()
	sys, err := Build(ctx, s, log)
	if err != nil {
		return err
	}
	defer sys.Close()
	return sys.Run(ctx, nil)
}

// Build builds the agent of a Start as `vpconnect run --headless` builds it
// (agent/system), with the sign-ins in a keychain in memory instead of the
// system's and the schedule of the default configuration. The first start
// with a fresh data dir finds the mailbox unknown to the state, and its
// first batch takes it up, as after activation.
func Build(ctx context.Context, s Start, log *slog.Logger) (*system.System, error) {
	cfg := config.Default()
	cfg.Microsoft.ClientID = s.ClientID
	cfg.Microsoft.AuthorityURL = s.AuthorityURL
	cfg.Microsoft.GraphURL = s.GraphURL
	cfg.Vantagepoint.APIURL = s.VPURL
	cfg.Vantagepoint.Database = s.Database
	cfg.Vantagepoint.ClientID = benchVPClientID
	cfg.Vantagepoint.ClientSecret = benchVPClientSecret
	cfg.Vantagepoint.FleetSize = 1 // one agent on its own server: nothing to pace
	cfg.DataDir = s.DataDir
	cfg.LocalAPI.Port = s.Port
	cfg.KeychainService = "vpconnect-bench"
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("the bench configuration: %w", err)
	}
	// The stored sign-ins, as activation leaves them.
	kc := auth.NewMemoryKeychain()
	st := auth.NewStore(kc, s.DataDir)
	if err := st.Save(ctx, auth.Record{Account: auth.Microsoft, RefreshToken: s.MSRefresh, User: s.User}); err != nil {
		return nil, err
	}
	if err := st.Save(ctx, auth.Record{Account: auth.Vantagepoint, RefreshToken: s.VPRefresh, URL: s.VPURL,
		Database: s.Database, Username: s.VPUser, Employee: s.Employee}); err != nil {
		return nil, err
	}
	// The simulated Graph applies a write before it answers: the claim of
	// the mailbox's lease need not wait long for the service, but its read
	// and write must fit in the wait even on a loaded computer, or the
	// claim is abandoned.
	return system.Build(ctx, system.Env{Keychain: func(string) auth.Keychain { return kc }, Logger: log,
		LeaseSettle: 500 * time.Millisecond}, cfg, s.DataDir, nil)
}
