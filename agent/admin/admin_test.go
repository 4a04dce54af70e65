package admin

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/oauth2"

	"vpconnect/agent"
	"vpconnect/syncer/graph/graphsim"
	"vpconnect/syncer/vantagepoint"
	"vpconnect/syncer/vantagepoint/vpsim"
)

var ctx = context.Background()

type env struct {
	sim *vpsim.Server
	c   *vantagepoint.Client
	now time.Time
}

func newEnv(t *testing.T, hubs bool) *env {
	t.Helper()
	sim := vpsim.New(vpsim.Options{ClientID: "app", ClientSecret: "s3cret"})
	if _, err := sim.Start(""); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(sim.Close)
	sim.AddUser("jdoe", "pw", "E001")
	sim.AddEmployee(vpsim.Employee{Employee: "E001", LastName: "Doe", EMail: "jdoe@contoso.example"})
	if hubs {
		sim.AddConnectHubs()
	}
	// The client knows the server's page cap, as an agent's does after its
	// first run (the file vpconnect keeps): a short page ends a listing.
	caps := filepath.Join(t.TempDir(), "vantagepoint-pages")
	if err := os.WriteFile(caps, []byte("500\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	c, err := vantagepoint.New(vantagepoint.Options{APIURL: sim.APIURL(), PageCapFile: caps,
		TokenSource: oauth2.StaticTokenSource(&oauth2.Token{AccessToken: sim.IssueAccessToken("jdoe")})})
	if err != nil {
		t.Fatal(err)
	}
	return &env{sim: sim, c: c, now: time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)}
}

func (e *env) hubs(group string) *Hubs {
	return NewHubs(Options{Client: e.c, Group: group, Employee: "E001", Machine: "LAPTOP-7", Version: "1.2.3",
		Now: func() time.Time { return e.now }})
}

// requests runs fn and returns how many requests reached the simulator.
func (e *env) requests(fn func()) int64 {
	before := e.sim.Requests()
	fn()
	return e.sim.Requests() - before
}

func TestRecordIsUpsertedAndTheSwitchIsTheAdministrators(t *testing.T) {
	e := newEnv(t, true)
	h := e.hubs("")
	rec := agent.AdminRecord{State: agent.StateActive, MailboxStatus: "Initialized", LastBatch: e.now.Add(-time.Minute),
		LastOutcome: "ok", OpenIssues: 2, LastError: "Vantagepoint POST /activity: 503 Service Unavailable (contact dana@contoso.example)"}
	var ans agent.AdminAnswer
	var err error
	// First write of a run: a listing by employee (none), then a POST;
	// the read lists the switches hub by employee (none: Enabled).
	if n := e.requests(func() { ans, err = h.Exchange(ctx, &rec, true) }); err != nil || n != 3 {
		t.Fatalf("first exchange: %d requests, %v", n, err)
	}
	if !ans.Reported || ans.Switch != agent.SwitchEnabled || ans.AgentsHubMissing || len(ans.Missing) != 0 {
		t.Fatalf("first answer: %+v", ans)
	}
	rs := e.sim.UDICRecords(vpsim.ConnectAgentsHub)
	if len(rs) != 1 {
		t.Fatalf("%d records", len(rs))
	}
	r := rs[0]
	want := map[string]string{FieldEmployee: "E001", FieldAgentState: "Active", FieldMailboxStatus: "Initialized",
		FieldLastOutcome: "ok", FieldMachine: "LAPTOP-7", FieldAgentVersion: "1.2.3", FieldLastError: "vantagepoint: unavailable (HTTP 503)"}
	for k, v := range want {
		if got, _ := r[k].(string); got != v {
			t.Errorf("%s = %v; want %q", k, r[k], v)
		}
	}
	if r[FieldOpenIssues] == nil || r[FieldLastBatch] == nil || r[FieldUpdated] == nil {
		t.Errorf("record: %v", r)
	}

	// The administrator disables the employee in the switches hub; a read
	// is then one GET of that switch.
	uid, err := e.sim.AddConnectSwitch("E001", "Jane Doe", "Disabled")
	if err != nil {
		t.Fatal(err)
	}
	if n := e.requests(func() { ans, err = h.Exchange(ctx, nil, true) }); err != nil || n != 1 || ans.Switch != agent.SwitchDisabled || ans.Reported {
		t.Fatalf("first read: %d requests, %+v, %v", n, ans, err)
	}
	if n := e.requests(func() { ans, err = h.Exchange(ctx, nil, true) }); err != nil || n != 1 || ans.Switch != agent.SwitchDisabled {
		t.Fatalf("read: %d requests, %+v, %v", n, ans, err)
	}
	// A write and a read: the PUT and the GET.
	rec.State = agent.StateDisabled
	if n := e.requests(func() { ans, err = h.Exchange(ctx, &rec, true) }); err != nil || n != 2 || ans.Switch != agent.SwitchDisabled || !ans.Reported || ans.Requests != 2 {
		t.Fatalf("write+read: %d requests (answered %d), %+v, %v", n, ans.Requests, ans, err)
	}
	if r = e.sim.UDICRecords(vpsim.ConnectAgentsHub)[0]; r[FieldAgentState] != agent.StateDisabled || r[FieldSyncStatus] != nil {
		t.Errorf("after the write: %v", r)
	}
	if e.sim.UDICRecords(vpsim.ConnectGroupsHub)[0]["ModUser"] != "ADMIN" {
		t.Errorf("the agent wrote the switch: %v", e.sim.UDICRecords(vpsim.ConnectGroupsHub))
	}
	// Enabled by the administrator: obeyed at the next read.
	if err := e.sim.UpdateUDIC(vpsim.ConnectGroupsHub, uid, map[string]any{FieldSyncStatus: "Enabled"}); err != nil {
		t.Fatal(err)
	}
	if ans, err = h.Exchange(ctx, nil, true); err != nil || ans.Switch != agent.SwitchEnabled {
		t.Fatalf("enabled by the administrator: %+v, %v", ans, err)
	}
	// A new run of the agent finds the record by employee: no second one.
	h2 := e.hubs("")
	if _, err := h2.Exchange(ctx, &rec, false); err != nil {
		t.Fatal(err)
	}
	if n := len(e.sim.UDICRecords(vpsim.ConnectAgentsHub)); n != 1 {
		t.Errorf("%d records after a restart", n)
	}
}

func TestGroupSwitchIsTheMostRestrictive(t *testing.T) {
	e := newEnv(t, true)
	if _, err := e.sim.AddConnectGroup("Sales", "sg-sales", "Enabled"); err != nil {
		t.Fatal(err)
	}
	gid, err := e.sim.AddConnectGroup("Field engineers", "sg-field", "Disabled")
	if err != nil {
		t.Fatal(err)
	}
	rec := agent.AdminRecord{State: agent.StateActive}
	// By name.
	h := e.hubs("Sales")
	ans, err := h.Exchange(ctx, &rec, true)
	if err != nil || ans.Switch != agent.SwitchEnabled {
		t.Fatalf("Sales: %+v %v", ans, err)
	}
	// By external id. After the first read of a run, a read is one
	// listing of the switches changed since, with a group as without.
	h = e.hubs("sg-field")
	if ans, err = h.Exchange(ctx, &rec, true); err != nil || ans.Switch != agent.SwitchDisabled {
		t.Fatalf("sg-field: %+v %v", ans, err)
	}
	var n int64
	if n = e.requests(func() { ans, err = h.Exchange(ctx, nil, true) }); err != nil || n != 1 || ans.Switch != agent.SwitchDisabled {
		t.Fatalf("read: %d requests, %+v %v", n, ans, err)
	}
	if ans.Requests != 1 {
		// The pacing counts a read at what it costs.
		t.Errorf("a read with a group answers %d requests; the server saw 1", ans.Requests)
	}
	if err := e.sim.UpdateUDIC(vpsim.ConnectGroupsHub, gid, map[string]any{FieldSyncStatus: "Enabled"}); err != nil {
		t.Fatal(err)
	}
	if ans, err = h.Exchange(ctx, nil, true); err != nil || ans.Switch != agent.SwitchEnabled {
		t.Fatalf("group enabled again: %+v %v", ans, err)
	}
	// A group that no record names restricts nothing, and is looked for
	// again only after Recheck.
	h = e.hubs("Nobody")
	if ans, err = h.Exchange(ctx, nil, true); err != nil || ans.Switch != agent.SwitchEnabled {
		t.Fatalf("no such group: %+v %v", ans, err)
	}
	if n = e.requests(func() { h.Exchange(ctx, nil, true) }); n != 1 {
		t.Errorf("a read with an unknown group: %d requests; want 1 (the employee's switch)", n)
	}
}

// After the first read of a run, the switches are read with one listing of
// the groups hub's records changed since: the administrator's changes to
// the employee's switch and to the group's arrive, a switch the employee
// loosened is still not obeyed, a deleted switch lifts nothing, and once a
// day the switches are read one by one again.
func TestChangedSwitchesAreReadWithOneListing(t *testing.T) {
	e := newEnv(t, true)
	gid, err := e.sim.AddConnectGroup("Sales", "sg-sales", "Enabled")
	if err != nil {
		t.Fatal(err)
	}
	h := e.hubs("Sales")
	rec := agent.AdminRecord{State: agent.StateActive}
	if ans, err := h.Exchange(ctx, &rec, true); err != nil || ans.Switch != agent.SwitchEnabled {
		t.Fatalf("first read: %+v %v", ans, err)
	}
	read := func(what, want string) {
		t.Helper()
		var ans agent.AdminAnswer
		var err error
		if n := e.requests(func() { ans, err = h.Exchange(ctx, nil, true) }); err != nil || n != 1 || ans.Switch != want {
			t.Fatalf("%s: %d requests, switch %q, %v; want 1 request, %q", what, n, ans.Switch, err, want)
		}
	}
	read("nothing changed", agent.SwitchEnabled)
	if err := e.sim.UpdateUDIC(vpsim.ConnectGroupsHub, gid, map[string]any{FieldSyncStatus: "Disabled"}); err != nil {
		t.Fatal(err)
	}
	read("the group disabled", agent.SwitchDisabled)
	if err := e.sim.UpdateUDIC(vpsim.ConnectGroupsHub, gid, map[string]any{FieldSyncStatus: "Enabled"}); err != nil {
		t.Fatal(err)
	}
	read("the group enabled again", agent.SwitchEnabled)
	uid, err := e.sim.AddConnectSwitch("E001", "Jane Doe", "Disabled")
	if err != nil {
		t.Fatal(err)
	}
	read("the employee disabled", agent.SwitchDisabled)
	if err := e.sim.UpdateUDICAs("jdoe", vpsim.ConnectGroupsHub, uid, map[string]any{FieldSyncStatus: "Enabled"}); err != nil {
		t.Fatal(err)
	}
	read("enabled by the employee themself", agent.SwitchDisabled)
	if !e.sim.DeleteUDIC(vpsim.ConnectGroupsHub, uid) {
		t.Fatal("no switch to delete")
	}
	read("the employee's switch deleted", agent.SwitchDisabled)
	// A day later: the switches one by one (the employee's GET finds it
	// gone and lists by employee; the group's GET), then one listing again.
	e.now = e.now.Add(FullReadEvery)
	if n := e.requests(func() { h.Exchange(ctx, nil, true) }); n != 3 {
		t.Errorf("the daily full read: %d requests, want 3", n)
	}
	read("the day after", agent.SwitchDisabled)
}

func TestMissingHubsAreAskedForHourly(t *testing.T) {
	e := newEnv(t, false)
	h := e.hubs("Sales")
	rec := agent.AdminRecord{State: agent.StateActive}
	var ans agent.AdminAnswer
	var err error
	if n := e.requests(func() { ans, err = h.Exchange(ctx, &rec, true) }); err != nil || n != 2 {
		t.Fatalf("first: %d requests, %v", n, err)
	}
	if !ans.AgentsHubMissing || ans.Reported || ans.Switch != agent.SwitchEnabled ||
		strings.Join(ans.Missing, ",") != "UDIC_ConnectAgent,UDIC_ConnectGroup" {
		t.Fatalf("answer: %+v", ans)
	}
	for range 10 {
		e.now = e.now.Add(5 * time.Minute)
		if n := e.requests(func() { ans, err = h.Exchange(ctx, &rec, true) }); err != nil || n != 0 || !ans.AgentsHubMissing {
			t.Fatalf("within the hour: %d requests, %+v, %v", n, ans, err)
		}
	}
	// IT creates them; the agent notices within the hour.
	e.sim.AddConnectHubs()
	e.now = e.now.Add(10 * time.Minute)
	if ans, err = h.Exchange(ctx, &rec, true); err != nil || !ans.Reported || ans.AgentsHubMissing || len(ans.Missing) != 0 {
		t.Fatalf("after the hour: %+v, %v", ans, err)
	}
}

func TestStrictest(t *testing.T) {
	cases := []struct {
		in   []string
		want string
	}{
		{nil, "Enabled"}, {[]string{"", ""}, "Enabled"}, {[]string{"Enabled", "Disabled"}, "Disabled"},
		{[]string{"disabled", ""}, "Disabled"}, {[]string{"Delete", "Disabled"}, "Delete"},
		{[]string{"Disabled", "force delete"}, "Force Delete"}, {[]string{"Maybe"}, "Enabled"},
	}
	for _, c := range cases {
		if got := Strictest(c.in...); got != c.want {
			t.Errorf("Strictest(%q) = %q; want %q", c.in, got, c.want)
		}
	}
}

func TestCheck(t *testing.T) {
	e := newEnv(t, false)
	g := graphsim.New(graphsim.Options{})
	if _, err := g.Start(""); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(g.Close)
	base := CheckEnv{APIURL: e.sim.APIURL(), Database: e.sim.Database(), ClientID: "app", ClientSecret: "s3cret",
		AuthorityURL: g.AuthorityURL(), Tenant: "organizations", MicrosoftClientID: "ms-app",
		Client: e.c, MicrosoftUser: "jdoe@contoso.example", FleetSize: 500, Budget: 20}
	byName := func(rs []CheckResult) map[string]CheckResult {
		m := map[string]CheckResult{}
		for _, r := range rs {
			m[r.Name] = r
		}
		return m
	}
	rs := Check(ctx, base)
	if len(rs) != 12 {
		t.Fatalf("%d checks", len(rs))
	}
	if r := byName(rs)["Vantagepoint server clock"]; !r.OK || !strings.Contains(r.Detail, "not measured yet") {
		t.Errorf("server clock before any write: %+v", r)
	}
	for _, r := range rs {
		hub := strings.Contains(r.Name, " hub ") || strings.Contains(r.Name, "activity field")
		if r.OK == hub || (!r.OK && r.Fix == "") {
			t.Errorf("without hubs: %+v", r)
		}
	}
	if r := byName(rs)["agents hub UDIC_ConnectAgent with its fields"]; !strings.Contains(r.Fix, "docs/admin.md") {
		t.Errorf("agents hub line: %+v", r)
	}
	if r := byName(rs)["activity field CustMessageID for the key of filed e-mails"]; !strings.Contains(r.Fix, "CustMessageID") || !strings.Contains(r.Fix, "docs/admin.md") {
		t.Errorf("key field line: %+v", r)
	}
	// Without the agents hub the agents pace on the estimate, and the
	// check says so (for information: not a failure).
	if r := byName(rs)["fleet size the agents pace on"]; !r.OK || !strings.Contains(r.Detail, "vantagepoint.fleetSize = 500") ||
		!strings.Contains(r.Detail, "budget 20 req/s") || !strings.Contains(r.Fix, "docs/admin.md") {
		t.Errorf("fleet line without hubs: %+v", r)
	}
	e.sim.AddConnectHubs()
	rs = Check(ctx, base)
	for _, r := range rs {
		if !r.OK {
			t.Errorf("with the template's hubs: %+v", r)
		}
	}
	if r := byName(rs)["fleet size the agents pace on"]; !strings.Contains(r.Detail, "agents active in the agents hub") || r.Fix != "" {
		t.Errorf("fleet line with the hubs: %+v", r)
	}
	// A hub made without one of the template's fields is named with it
	// (here: a groups hub of the older template, without Employee).
	e.sim.AddHub(vpsim.ConnectGroupsHub, []vpsim.HubField{vpsim.ConnectGroupFields[0], vpsim.ConnectGroupFields[1], vpsim.ConnectGroupFields[3]})
	if r := byName(Check(ctx, base))["groups hub UDIC_ConnectGroup with its fields"]; r.OK ||
		r.Detail != "missing CustEmployee (Employee, string)" || !strings.Contains(r.Fix, "add these fields to UDIC_ConnectGroup") {
		t.Errorf("a hub without Sync Status: %+v", r)
	}
	e.sim.AddHub(vpsim.ConnectGroupsHub, vpsim.ConnectGroupFields)

	bad := base
	bad.ClientSecret, bad.Database, bad.MicrosoftUser = "wrong", "NOPE", "nobody@contoso.example"
	bad.Tenant = "no/such"
	bad.Client = nil
	m := byName(Check(ctx, bad))
	for name, want := range map[string]string{
		"API authorization (client id and secret) accepted": "vantagepoint.clientId",
		`database "NOPE" offered by Vantagepoint`:           "set vantagepoint.database to one of: " + e.sim.Database(),
		"employee record with the user's e-mail":            "vpconnect activate",
		"Microsoft authority and app registration":          "microsoft.tenant",
	} {
		if r := m[name]; r.OK || !strings.Contains(r.Fix, want) {
			t.Errorf("%s: %+v; want a fix with %q", name, r, want)
		}
	}
	bad = base
	bad.MicrosoftUser = "nobody@contoso.example"
	if r := byName(Check(ctx, bad))["employee record with the user's e-mail"]; r.OK || !strings.Contains(r.Fix, "nobody@contoso.example") {
		t.Errorf("no employee: %+v", r)
	}
	bad = base
	bad.APIURL = "http://127.0.0.1:1/api"
	if r := Check(ctx, bad)[0]; r.OK || !strings.Contains(r.Fix, "vantagepoint.apiUrl") {
		t.Errorf("unreachable: %+v", r)
	}

	// "Allow Password Grant Type" off on the API authorization.
	nopw := vpsim.New(vpsim.Options{Database: e.sim.Database(), NoPasswordGrant: true})
	if _, err := nopw.Start(""); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nopw.Close)
	bad = base
	bad.APIURL = nopw.APIURL()
	if r := byName(Check(ctx, bad))["API authorization (client id and secret) accepted"]; r.OK || !strings.Contains(r.Fix, "Allow Password Grant Type") {
		t.Errorf("password grant off: %+v", r)
	}

	// A misregistered app is told apart from an unreachable authority,
	// each with the setting to change.
	for _, c := range []struct {
		opts graphsim.Options
		fix  string
	}{
		{graphsim.Options{ClientID: "ms-app", SingleTenant: true}, "Directory (tenant) ID"},
		{graphsim.Options{ClientID: "ms-app", NoPublicClientFlows: true}, "Allow public client flows"},
		{graphsim.Options{ClientID: "another-app"}, "Application (client) ID"},
	} {
		g := graphsim.New(c.opts)
		if _, err := g.Start(""); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(g.Close)
		bad = base
		bad.AuthorityURL = g.AuthorityURL()
		r := byName(Check(ctx, bad))["Microsoft authority and app registration"]
		if r.OK || !strings.Contains(r.Fix, c.fix) || !strings.Contains(r.Detail, "refused the app registration") {
			t.Errorf("%+v: %+v; want a fix with %q", c.opts, r, c.fix)
		}
	}
}
