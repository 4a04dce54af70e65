package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"vpconnect/agent/system"

	"vpconnect/agent"
	"vpconnect/agent/admin"
	"vpconnect/agent/config"
	"vpconnect/auth"
	"vpconnect/syncer"
	"vpconnect/syncer/vantagepoint"
)

// Administration inside Vantagepoint (SPEC §5.5): the agent's record and
// switches (wired into the agent by agent/system), and the two commands for
// IT. The work is agent/admin's; this file is flags and wiring.

func init() {
	register("admin", command{synopsis: "admin status [--json] [--state S] | admin check", order: 40,
		help: "for IT: the agents dashboard from Vantagepoint, and the prerequisites checklist", run: (*cli).runAdmin})
}

func (c *cli) runAdmin(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		fmt.Fprintln(stderr, "usage: vpconnect admin status [--json] [--state S] | vpconnect admin check")
		return errUsage
	}
	switch args[0] {
	case "status":
		return c.runAdminStatus(ctx, args[1:], stdout, stderr)
	case "check":
		return c.runAdminCheck(ctx, args[1:], stdout, stderr)
	case "-h", "--help", "help":
		fmt.Fprintln(stdout, "usage: vpconnect admin status [--json] [--state S] | vpconnect admin check")
		return nil
	}
	fmt.Fprintf(stderr, "vpconnect admin: unknown subcommand %q (status or check)\n", args[0])
	return errUsage
}

// adminSession is the stored sign-in as the current user, for the admin
// commands: a Vantagepoint client (nil when not activated) and the
// Microsoft 365 address.
type adminSession struct {
	cfg    config.Config
	client *vantagepoint.Client
	msUser string
}

func (c *cli) openAdminSession(ctx context.Context) (adminSession, error) {
	cfg, dir, _, err := c.config()
	if err != nil {
		return adminSession{}, err
	}
	s := adminSession{cfg: cfg}
	if len(cfg.Incomplete()) > 0 {
		return s, nil
	}
	st := system.Store(c.env, cfg, dir)
	msRec, msErr := st.Load(ctx, auth.Microsoft)
	_, vpErr := st.Load(ctx, auth.Vantagepoint)
	if msErr == nil {
		s.msUser = msRec.User
	}
	if vpErr != nil {
		if errors.Is(vpErr, auth.ErrNotFound) || errors.Is(vpErr, auth.ErrDamaged) {
			return s, nil
		}
		return s, fmt.Errorf("read the sign-ins: %w", vpErr)
	}
	_, vpApp := system.Apps(c.env, cfg)
	vpc, err := system.Vantagepoint(c.env, cfg, vpApp.TokenSource(ctx, st, nil), nil)
	if err != nil {
		return s, err
	}
	s.client = vpc
	return s, nil
}

func (c *cli) runAdminStatus(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := c.newFlags("admin status", stderr)
	asJSON := fs.Bool("json", false, "print the dashboard as JSON")
	state := fs.String("state", "", `list only the agents in this state (e.g. "Suspended by Error")`)
	if err := parse(fs, args, 0); err != nil {
		return err
	}
	s, err := c.openAdminSession(ctx)
	if err != nil {
		return err
	}
	if s.client == nil {
		return needSignIn{errors.New("not activated on this computer: 'vpconnect admin status' reads the agents hub signed in as you; run 'vpconnect activate' first")}
	}
	hub := s.cfg.Admin.AgentsHub
	d, err := admin.ReadDashboard(ctx, s.client, hub)
	if errors.Is(err, syncer.ErrNotFound) {
		return fmt.Errorf("the agents hub %s does not exist in Vantagepoint: create it from docs/admin.md ('vpconnect admin check' lists what is missing)", d.Hub)
	} else if err != nil {
		return signInError(err)
	}
	if *state != "" {
		for st := range d.Agents {
			if !strings.EqualFold(st, *state) {
				delete(d.Agents, st)
			}
		}
	}
	if *asJSON {
		return json.NewEncoder(stdout).Encode(d)
	}
	if *state == "" {
		fmt.Fprintf(stdout, "Agents hub %s: %d agents\n", d.Hub, d.Total)
		for _, st := range d.States() {
			fmt.Fprintf(stdout, "  %-26s %d\n", st, d.Counts[st])
		}
	}
	for _, st := range d.States() {
		rows := d.Agents[st]
		if len(rows) == 0 {
			continue
		}
		fmt.Fprintf(stdout, "\n%s (%d)\n", st, len(rows))
		for _, r := range rows {
			line := fmt.Sprintf("  %-10s %-16s %-16s last batch %s %s, %d open issues", r.Employee, dash(r.Machine), dash(r.MailboxStatus),
				dash(r.LastBatch), dash(r.LastOutcome), r.OpenIssues)
			if r.SyncStatus != agent.SwitchEnabled {
				line += ", Sync Status " + r.SyncStatus
			}
			if r.LastError != "" {
				line += ": " + r.LastError
			}
			fmt.Fprintln(stdout, line)
		}
	}
	if *state != "" && len(d.Agents) == 0 {
		fmt.Fprintf(stdout, "No agent is %s.\n", *state)
	}
	return nil
}

func (c *cli) runAdminCheck(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := c.newFlags("admin check", stderr)
	if err := parse(fs, args, 0); err != nil {
		return err
	}
	s, err := c.openAdminSession(ctx)
	if err != nil {
		return err
	}
	cfg := s.cfg
	results := admin.Check(ctx, admin.CheckEnv{
		APIURL: cfg.Vantagepoint.APIURL, Database: cfg.Vantagepoint.Database,
		ClientID: cfg.Vantagepoint.ClientID, ClientSecret: cfg.Vantagepoint.ClientSecret,
		AuthorityURL: cfg.Microsoft.AuthorityURL, Tenant: cfg.Microsoft.Tenant, MicrosoftClientID: cfg.Microsoft.ClientID,
		AgentsHub: cfg.Admin.AgentsHub, GroupsHub: cfg.Admin.GroupsHub, Group: cfg.Admin.Group,
		HTTPClient: c.env.HTTPClient(), Client: s.client, MicrosoftUser: s.msUser,
	})
	lines := make([]checkLine, 0, len(results))
	for _, r := range results {
		lines = append(lines, checkLine{name: r.Name, ok: r.OK, detail: r.Detail, fix: r.Fix})
	}
	if failed := printChecklist(stdout, lines); failed > 0 {
		return fmt.Errorf("%d of %d checks failed", failed, len(results))
	}
	fmt.Fprintln(stdout, "All prerequisites are met.")
	return nil
}
