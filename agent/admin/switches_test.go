package admin

import (
	"fmt"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"golang.org/x/oauth2"

	"vpconnect/agent"
	"vpconnect/syncer/vantagepoint"
	"vpconnect/syncer/vantagepoint/vpsim"
)

// as is a client signed in as another user of the simulator.
func (e *env) as(t *testing.T, user string) *vantagepoint.Client {
	t.Helper()
	c, err := vantagepoint.New(vantagepoint.Options{APIURL: e.sim.APIURL(),
		TokenSource: oauth2.StaticTokenSource(&oauth2.Token{AccessToken: e.sim.IssueAccessToken(user)})})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func (e *env) read(t *testing.T, h *Hubs) string {
	t.Helper()
	ans, err := h.Exchange(ctx, nil, true)
	if err != nil {
		t.Fatal(err)
	}
	return ans.Switch
}

// docs/behaviour.md §5.5: whatever the roles allow, a switch the employee loosened
// themself (ModUser) is not obeyed; one tightened by anyone, or set by the
// administrator, is; and this holds across a restart of the agent.
func TestSwitchLoosenedByTheEmployeeIsNotObeyed(t *testing.T) {
	e := newEnv(t, true) // no roles: the employee may write every hub
	e.sim.AddUser("colleague", "pw", "E002")
	state := filepath.Join(t.TempDir(), "admin-switches.json")
	newHubs := func() *Hubs {
		return NewHubs(Options{Client: e.c, Group: "Sales", Employee: "E001", StateFile: state, Now: func() time.Time { return e.now }})
	}
	h := newHubs()
	// The agent's first write tells it how the server names its user.
	if _, err := h.Exchange(ctx, &agent.AdminRecord{State: agent.StateActive}, true); err != nil {
		t.Fatal(err)
	}
	own, err := e.sim.AddConnectSwitch("E001", "Jane Doe", "Disabled")
	if err != nil {
		t.Fatal(err)
	}
	group, err := e.sim.AddConnectGroup("Sales", "sg-sales", "Enabled")
	if err != nil {
		t.Fatal(err)
	}
	if got := e.read(t, h); got != agent.SwitchDisabled {
		t.Fatalf("disabled by the administrator: %s", got)
	}
	employee := e.as(t, "jdoe")
	set := func(c *vantagepoint.Client, uid, sw string) {
		t.Helper()
		if _, err := c.UDICUpdate(ctx, vpsim.ConnectGroupsHub, uid, vantagepoint.Record{FieldSyncStatus: sw}); err != nil {
			t.Fatal(err)
		}
	}
	// The employee sets their own switch back to Enabled: not obeyed.
	set(employee, own, "Enabled")
	if r := e.sim.UDICRecords(vpsim.ConnectGroupsHub)[0]; r["ModUser"] != "jdoe" || r[FieldSyncStatus] != "Enabled" {
		t.Fatalf("the employee's write: %v", r)
	}
	if got := e.read(t, h); got != agent.SwitchDisabled {
		t.Fatalf("loosened by the employee: %s; want Disabled", got)
	}
	// Nor after a restart of the agent (the file keeps what was obeyed).
	h = newHubs()
	if got := e.read(t, h); got != agent.SwitchDisabled {
		t.Fatalf("after a restart: %s; want Disabled", got)
	}
	// The administrator's Enable works at once.
	if err := e.sim.UpdateUDIC(vpsim.ConnectGroupsHub, own, map[string]any{FieldSyncStatus: "Enabled"}); err != nil {
		t.Fatal(err)
	}
	if got := e.read(t, h); got != agent.SwitchEnabled {
		t.Fatalf("enabled by the administrator: %s", got)
	}
	// Tightened by the employee themself: obeyed; loosened again: not.
	set(employee, own, "Delete")
	if got := e.read(t, h); got != agent.SwitchDelete {
		t.Fatalf("tightened by the employee: %s", got)
	}
	set(employee, own, "Disabled")
	if got := e.read(t, h); got != agent.SwitchDelete {
		t.Fatalf("Delete loosened to Disabled by the employee: %s", got)
	}
	// A switch record deleted does not lift the switch either.
	if err := employee.UDICDelete(ctx, vpsim.ConnectGroupsHub, own); err != nil {
		t.Fatal(err)
	}
	if got := e.read(t, h); got != agent.SwitchDelete {
		t.Fatalf("the switch deleted: %s", got)
	}
	// The group: disabled by anyone is obeyed; loosened by the employee
	// is not; loosened by someone else is.
	// Nor does a new record the employee makes for themself.
	mine, err := employee.UDICCreate(ctx, vpsim.ConnectGroupsHub, vantagepoint.Record{FieldGroupName: "Jane Doe", FieldEmployee: "E001",
		FieldSyncStatus: "Enabled"})
	if err != nil {
		t.Fatal(err)
	}
	if got := e.read(t, h); got != agent.SwitchDelete {
		t.Fatalf("a new switch record the employee made: %s", got)
	}
	if err := e.sim.UpdateUDIC(vpsim.ConnectGroupsHub, mine.String("UDIC_UID"), map[string]any{FieldSyncStatus: "Enabled"}); err != nil {
		t.Fatal(err)
	}
	if got := e.read(t, h); got != agent.SwitchEnabled {
		t.Fatalf("that record enabled by the administrator: %s", got)
	}
	// The group: disabled by anyone is obeyed; loosened by the employee
	// is not; loosened by someone else is.
	set(e.as(t, "colleague"), group, "Disabled")
	if got := e.read(t, h); got != agent.SwitchDisabled {
		t.Fatalf("own enabled by the administrator, group disabled by a colleague: %s", got)
	}
	set(employee, group, "Enabled")
	if got := e.read(t, h); got != agent.SwitchDisabled {
		t.Fatalf("the group loosened by the employee: %s", got)
	}
	set(e.as(t, "colleague"), group, "Enabled")
	if got := e.read(t, h); got != agent.SwitchEnabled {
		t.Fatalf("the group loosened by someone else: %s", got)
	}
}

// The employee's user name may be given; ModUser compares without regard
// to case. Without a file, the rule holds for the agent's run.
func TestSwitchRuleWithAGivenUserName(t *testing.T) {
	e := newEnv(t, true)
	h := NewHubs(Options{Client: e.c, Employee: "E001", User: "JDOE", Now: func() time.Time { return e.now }})
	uid, err := e.sim.AddConnectSwitch("E001", "Jane Doe", "Force Delete")
	if err != nil {
		t.Fatal(err)
	}
	if got := e.read(t, h); got != agent.SwitchForceDelete {
		t.Fatalf("Force Delete: %s", got)
	}
	if _, err := e.as(t, "jdoe").UDICUpdate(ctx, vpsim.ConnectGroupsHub, uid, vantagepoint.Record{FieldSyncStatus: ""}); err != nil {
		t.Fatal(err)
	}
	if got := e.read(t, h); got != agent.SwitchForceDelete {
		t.Fatalf("emptied by the employee: %s", got)
	}
}

// A groups hub of the older template (no Employee field) refuses the
// filter by employee: the group's switch still counts.
func TestSwitchesHubOfTheOlderTemplate(t *testing.T) {
	e := newEnv(t, false)
	e.sim.AddHub(vpsim.ConnectAgentsHub, vpsim.ConnectAgentFields)
	e.sim.AddHub(vpsim.ConnectGroupsHub, []vpsim.HubField{vpsim.ConnectGroupFields[0], vpsim.ConnectGroupFields[1], vpsim.ConnectGroupFields[3]})
	if _, err := e.sim.AddUDICRecord(vpsim.ConnectGroupsHub, map[string]any{FieldGroupName: "Sales", FieldSyncStatus: "Disabled"}); err != nil {
		t.Fatal(err)
	}
	if got := e.read(t, e.hubs("Sales")); got != agent.SwitchDisabled {
		t.Fatalf("group switch in an older groups hub: %s", got)
	}
}

// admin check finds a role setup that lets an employee write the switches
// (a same-value write that succeeds), and one that keeps the agents from
// writing their record, each with the role setting to change; with the
// roles of docs/admin.md both lines pass.
func TestCheckFindsTheRolesThatLetEmployeesWriteSwitches(t *testing.T) {
	e := newEnv(t, true)
	e.sim.AddUser("it", "pw", "E900")
	base := CheckEnv{APIURL: e.sim.APIURL(), Database: e.sim.Database(), Client: e.c, MicrosoftUser: "jdoe@contoso.example", Group: "Sales"}
	line := func(prefix string) CheckResult {
		t.Helper()
		for _, r := range Check(ctx, base) {
			if strings.HasPrefix(r.Name, prefix) {
				return r
			}
		}
		t.Fatalf("no check %q", prefix)
		return CheckResult{}
	}
	const switches, agents = "groups hub UDIC_ConnectGroup: switches", "agents hub UDIC_ConnectAgent: writable"
	// Empty hubs: nothing to try, nothing wrong.
	if r := line(switches); !r.OK || !strings.Contains(r.Detail, "not tried") {
		t.Errorf("no switch yet: %+v", r)
	}
	if _, err := e.hubs("Sales").Exchange(ctx, &agent.AdminRecord{State: agent.StateActive}, false); err != nil {
		t.Fatal(err)
	}
	gid, err := e.sim.AddConnectGroup("Sales", "", "Disabled")
	if err != nil {
		t.Fatal(err)
	}
	// No role: the employee can write the group's switch (they have none
	// of their own).
	r := line(switches)
	if r.OK || !strings.Contains(r.Detail, "your group Sales") || !strings.Contains(r.Detail, "succeeded") ||
		!strings.Contains(r.Fix, "Record Access tab") || !strings.Contains(r.Fix, "UDIC_ConnectGroup to Read Only") {
		t.Errorf("writable switches: %+v", r)
	}
	// The write changed no value.
	if g := e.sim.UDICRecords(vpsim.ConnectGroupsHub)[0]; g["UDIC_UID"] != gid || g[FieldSyncStatus] != "Disabled" || g["ModUser"] != "jdoe" {
		t.Errorf("the group after the probe: %v", g)
	}
	// Modify Only is still a finding, on the employee's own switch first.
	if _, err := e.sim.AddConnectSwitch("E001", "Jane Doe", "Enabled"); err != nil {
		t.Fatal(err)
	}
	e.sim.SetUserRole("jdoe", "Employees")
	e.sim.SetRoleAccess("Employees", vpsim.ConnectGroupsHub, vpsim.AccessModify)
	if r := line(switches); r.OK || !strings.Contains(r.Detail, "your own switch") {
		t.Errorf("Modify Only: %+v", r)
	}
	// The roles of docs/admin.md: Read Only on the switches, Add/Modify
	// on the agents hub.
	e.sim.SetRoleAccess("Employees", vpsim.ConnectGroupsHub, vpsim.AccessReadOnly)
	e.sim.SetRoleAccess("Employees", vpsim.ConnectAgentsHub, vpsim.AccessAddModify)
	if r := line(switches); !r.OK || !strings.Contains(r.Detail, "refused (403)") {
		t.Errorf("Read Only: %+v", r)
	}
	if r := line(agents); !r.OK {
		t.Errorf("agents hub with Add/Modify: %+v", r)
	}
	// An agents hub the agents cannot write, a switches hub they cannot read.
	e.sim.SetRoleAccess("Employees", vpsim.ConnectAgentsHub, vpsim.AccessReadOnly)
	if r := line(agents); r.OK || !strings.Contains(r.Fix, "UDIC_ConnectAgent to Add/Modify") {
		t.Errorf("agents hub read-only: %+v", r)
	}
	e.sim.SetRoleAccess("Employees", vpsim.ConnectGroupsHub, vpsim.AccessNone)
	if r := line(switches); r.OK || !strings.Contains(r.Detail, "cannot read") || !strings.Contains(r.Fix, "Read Only") {
		t.Errorf("switches unreadable: %+v", r)
	}
	// With the right roles the agent still reads its switches.
	e.sim.SetRoleAccess("Employees", vpsim.ConnectGroupsHub, vpsim.AccessReadOnly)
	if got := e.read(t, e.hubs("Sales")); got != agent.SwitchDisabled {
		t.Errorf("read-only switches: %s", got)
	}
}

// What the agents hub holds: states, counts, times, names of this
// product, and the last error as a category and a short reason; never a
// subject, an address or other mail content, whatever the failure said.
func TestAgentsHubHoldsNoMailContent(t *testing.T) {
	e := newEnv(t, true)
	h := e.hubs("Sales")
	secrets := []string{"Quarterly results Q3", "dana@contoso.example", "Dana Smith", "Board room", "hunter2"}
	failures := []string{
		"",
		`create activity for message "Quarterly results Q3" from dana@contoso.example: Vantagepoint POST /activity: 400 Bad Request: Invalid value (Subject Quarterly results Q3)`,
		"sign-in needed: the sign-in has expired or was revoked (AADSTS700082 for dana@contoso.example)",
		"needs IT: cannot be used: the mailbox is not enabled for Microsoft Graph (dana@contoso.example); to fix: license it",
		"list messages of Board room: Get \"https://graph.microsoft.com/v1.0/me/messages\": dial tcp: lookup graph.microsoft.com: no such host",
		"the administrator's Delete failed: remove contact Dana Smith: delete contact folder: ServiceUnavailable: busy (HTTP 503)",
		"Force Delete: the mailbox was not touched",
		"token=hunter2 refused: Dana Smith",
	}
	vocabulary := regexp.MustCompile(`^(|(sign-in|needs IT|vantagepoint|mailbox|delete|error): [A-Za-z ,'/;-]+( \(HTTP [45][0-9][0-9]\))?)$`)
	for _, f := range failures {
		rec := agent.AdminRecord{State: agent.StateWithIssues, MailboxStatus: "Initialized", LastBatch: e.now, LastOutcome: "issues",
			OpenIssues: 3, LastError: f}
		if _, err := h.Exchange(ctx, &rec, false); err != nil {
			t.Fatal(err)
		}
		r := e.sim.UDICRecords(vpsim.ConnectAgentsHub)[0]
		for k, v := range r {
			s := fmt.Sprint(v)
			for _, secret := range secrets {
				if strings.Contains(strings.ToLower(s), strings.ToLower(secret)) {
					t.Errorf("%s = %q carries %q (failure %q)", k, s, secret, f)
				}
			}
		}
		le, _ := r[FieldLastError].(string)
		if !vocabulary.MatchString(le) || len(le) > 100 {
			t.Errorf("last error %q (from %q) is not a category and a short reason", le, f)
		}
		// Only the template's fields and the server's own.
		for k := range r {
			known := strings.HasPrefix(k, "UDIC") || k == "CreateDate" || k == "CreateUser" || k == "ModDate" || k == "ModUser"
			for _, fd := range AgentFields {
				known = known || fd.Name == k
			}
			if !known {
				t.Errorf("field %s in the record", k)
			}
		}
	}
	for in, want := range map[string]string{
		failures[1]: "vantagepoint: refused a request (HTTP 400)",
		failures[2]: "sign-in: the sign-in expired or was revoked",
		failures[3]: "needs IT: the mailbox is not enabled for Microsoft Graph",
		failures[4]: "mailbox: unreachable",
		failures[5]: "delete: the administrator's Delete failed, unavailable (HTTP 503)",
		failures[6]: "delete: Force Delete, the mailbox was not touched",
	} {
		if got := Summarize(in); got != want {
			t.Errorf("Summarize(%q) = %q; want %q", in, got, want)
		}
	}
}
