package cli

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"vpconnect/agent/admin"
	"vpconnect/agent/config"
	"vpconnect/agent/system"
	"vpconnect/auth"
	"vpconnect/syncer"
	"vpconnect/syncer/vantagepoint"
)

// Administration inside Vantagepoint (docs/behaviour.md §5.5): the agent's record and
// switches (wired into the agent by agent/system), and the two commands for
// IT. The work is agent/admin's; this file is flags and wiring.

func init() {
	register("admin", command{synopsis: "admin status [--state S] [--group G] [--json] [--html FILE] | admin check", order: 40,
		help:  "for IT: the agents dashboard from Vantagepoint, and the prerequisites checklist",
		usage: "usage: vpconnect admin status [--state S] [--group G] [--json] [--html FILE] | vpconnect admin check",
		verbs: map[string]func(*cli, context.Context, []string, io.Writer, io.Writer) error{
			"status": (*cli).runAdminStatus, "check": (*cli).runAdminCheck}})
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
	state := fs.String("state", "", `list only the people counted in this status (e.g. "Suspended by Error", "Not Seen")`)
	group := fs.String("group", "", `only this group (its name; "`+admin.NoGroup+`" for the people without one)`)
	htmlFile := fs.String("html", "", "also write the dashboard as one self-contained HTML page to this file")
	if err := parse(fs, args, 0); err != nil {
		return err
	}
	s, err := c.openAdminSession(ctx)
	if err != nil {
		return err
	}
	if s.client == nil {
		return needSignIn{errors.New("not activated on this computer: 'vpconnect admin status' reads the hubs signed in as you; run 'vpconnect activate' first")}
	}
	d, err := admin.ReadDashboard(ctx, s.client, admin.DashboardOptions{AgentsHub: s.cfg.Admin.AgentsHub, GroupsHub: s.cfg.Admin.GroupsHub})
	if errors.Is(err, syncer.ErrNotFound) {
		return fmt.Errorf("the agents hub %s does not exist in Vantagepoint: create it from docs/admin.md ('vpconnect admin check' lists what is missing)", d.AgentsHub)
	} else if err != nil {
		return signInError(err)
	}
	d, known := d.Only(*state, *group)
	if !known {
		var groups []string
		for _, g := range d.Groups {
			groups = append(groups, admin.GroupLabel(g.Group))
		}
		fmt.Fprintf(stderr, "vpconnect admin status: no status %q or group %q; statuses: %s; groups: %s\n", *state, *group,
			strings.Join(d.States(), ", "), strings.Join(groups, ", "))
		return errUsage
	}
	if *htmlFile != "" {
		if err := writeDashboardPage(*htmlFile, d); err != nil {
			return err
		}
	}
	if *asJSON {
		return json.NewEncoder(stdout).Encode(d)
	}
	if err := admin.WriteText(stdout, d); err != nil {
		return err
	}
	if *htmlFile != "" {
		fmt.Fprintf(stdout, "\nThe page: %s\n", *htmlFile)
	}
	return nil
}

// writeDashboardPage writes the page whole or not at all.
func writeDashboardPage(path string, d admin.Dashboard) error {
	var b strings.Builder
	if err := admin.WriteHTML(&b, d); err != nil {
		return fmt.Errorf("make the dashboard page: %w", err)
	}
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, []byte(b.String()), 0o644); err != nil {
		return fmt.Errorf("write the dashboard page: %w", err)
	}
	if err := os.Rename(tmp, path); err != nil {
		os.Remove(tmp)
		return fmt.Errorf("write the dashboard page: %w", err)
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
		FleetSize: cfg.Vantagepoint.FleetSize, Budget: cfg.Vantagepoint.MaxRequestsPerSecond,
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
