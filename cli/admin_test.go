package cli

import (
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"vpconnect/agent"
	"vpconnect/agent/admin"
	"vpconnect/agent/config"
	"vpconnect/syncer"
	"vpconnect/syncer/graph/graphsim"
	"vpconnect/syncer/vantagepoint/vpsim"
)

// Administration inside Vantagepoint (docs/behaviour.md §5.5), through the real agent
// on a fake clock and the simulators' hubs of the template.

// waitAdmin waits until the agent's administration status satisfies ok.
func (w *agentWorld) waitAdmin(t *testing.T, what string, ok func(agent.AdminStatus) bool) agent.Status {
	t.Helper()
	return w.waitStatus(t, what, func(s agent.Status) bool { return s.Admin != nil && ok(*s.Admin) })
}

// agentRecord is the agent's record in the simulated agents hub (nil when none).
func (w *agentWorld) agentRecord(t *testing.T) vpsim.Record {
	t.Helper()
	var found vpsim.Record
	for _, r := range w.v.UDICRecords(vpsim.ConnectAgentsHub) {
		if r[admin.FieldEmployee] == "00042" {
			if found != nil {
				t.Fatalf("two records for the employee: %v", w.v.UDICRecords(vpsim.ConnectAgentsHub))
			}
			found = r
		}
	}
	return found
}

// setSwitch sets the employee's switch in the switches (groups) hub as
// the administrator does (ModUser ADMIN), adding their record the first
// time.
func (w *agentWorld) setSwitch(t *testing.T, status string) {
	t.Helper()
	if uid := w.switchUID(t); uid != "" {
		if err := w.v.UpdateUDIC(vpsim.ConnectGroupsHub, uid, map[string]any{admin.FieldSyncStatus: status}); err != nil {
			t.Fatal(err)
		}
		return
	}
	if _, err := w.v.AddConnectSwitch("00042", "Dana Whitfield", status); err != nil {
		t.Fatal(err)
	}
}

// switchUID is the employee's switch record ("" when none).
func (w *agentWorld) switchUID(t *testing.T) string {
	t.Helper()
	for _, r := range w.v.UDICRecords(vpsim.ConnectGroupsHub) {
		if r[admin.FieldEmployee] == "00042" {
			return r["UDIC_UID"].(string)
		}
	}
	return ""
}

// startWithRecord activates, starts the agent, runs a first batch and
// waits until its record is written.
func (w *agentWorld) startWithRecord(t *testing.T) int64 {
	t.Helper()
	b := w.startSynced(t).LastBatch
	w.waitAdmin(t, "the first record", func(a agent.AdminStatus) bool { return a.Reports == 1 && a.SwitchReads == 1 })
	return b.ID
}

func TestAdminRecordIsWrittenOnChangesOnly(t *testing.T) {
	w := newAgentWorld(t)
	w.v.AddConnectHubs()
	first := w.startWithRecord(t)
	r := w.agentRecord(t)
	host, _ := os.Hostname()
	want := map[string]any{admin.FieldAgentState: "Active", admin.FieldMailboxStatus: "Initialized", admin.FieldLastOutcome: "ok",
		admin.FieldOpenIssues: "0", admin.FieldAgentVersion: agent.Version, admin.FieldMachine: host, admin.FieldGroup: nil}
	for k, v := range want {
		if r[k] != v && !(v == nil && r[k] == "") {
			t.Errorf("%s = %#v; want %#v (record %v)", k, r[k], v, r)
		}
	}
	if r[admin.FieldLastBatch] == nil || r[admin.FieldUpdated] == nil {
		t.Errorf("record: %v", r)
	}

	// A batch that changes nothing: the switch is not read again (it is
	// read every AdminReadEvery, not after every batch: a fleet's reads
	// count against the server's budget), the record is not written.
	// (The fleet is counted once, a minute after the first read.)
	w.clock.Advance(agent.AdminMinInterval)
	w.waitStatus(t, "the fleet counted", func(s agent.Status) bool { return s.Pacing != nil && s.Pacing.FleetFromHub })
	before := w.requests()
	w.clock.Advance(vpInterval - agent.AdminMinInterval)
	st := w.waitStatus(t, "the second batch", settled(first+1))
	after := w.requests()
	extra := after.vp - before.vp - (after.vpToken - before.vpToken) - st.LastBatch.Requests["vantagepoint"]
	if extra != 0 || st.Admin.SwitchReads != 1 {
		t.Errorf("the administration added %d Vantagepoint requests to a quiet batch (%d reads); want none", extra, st.Admin.SwitchReads)
	}
	// AdminReadEvery after the first read: one GET of the record (no group
	// configured), batch or not.
	w.clock.Advance(agent.AdminReadEvery - vpInterval)
	st = w.waitAdmin(t, "the second read", func(a agent.AdminStatus) bool { return a.SwitchReads == 2 })
	if st.Admin.Reports != 1 || st.Admin.Switch != "Enabled" {
		t.Fatalf("after the periodic read: %+v", st.Admin)
	}
	if got := w.agentRecord(t); got[admin.FieldUpdated] != r[admin.FieldUpdated] || got["ModDate"] != r["ModDate"] {
		t.Errorf("the record was written again: %v, then %v", r, got)
	}

	// A state change is written, at most once a minute.
	if code, out, errOut := w.run("pause"); code != exitOK {
		t.Fatalf("pause = %d\n%s%s", code, out, errOut)
	}
	w.waitStatus(t, "Paused", func(s agent.Status) bool { return s.State == agent.StatePaused })
	w.clock.Advance(agent.AdminMinInterval - time.Second)
	if st, _ := w.status(t); st.Admin.Reports != 1 || w.agentRecord(t)[admin.FieldAgentState] != "Active" {
		t.Fatalf("written within the minute: %+v", st.Admin)
	}
	w.clock.Advance(time.Second)
	w.waitAdmin(t, "the write of Paused", func(a agent.AdminStatus) bool { return a.Reports == 2 })
	if got := w.agentRecord(t)[admin.FieldAgentState]; got != "Paused" {
		t.Errorf("record state %v; want Paused", got)
	}
	// Nothing more while paused but the periodic read of the switches
	// (an administrator's Delete still takes effect within AdminReadEvery).
	if n := w.clock.Pending(); n != 1 {
		t.Errorf("%d timers pending while paused; want the switches' read only", n)
	}
}

func TestAdminSwitchDisabledThenEnabled(t *testing.T) {
	w := newAgentWorld(t)
	w.v.AddConnectHubs()
	first := w.startWithRecord(t)
	w.setSwitch(t, "Disabled")
	w.clock.Advance(agent.AdminReadEvery) // the periodic read of the switches
	st := w.waitStatus(t, "Disabled by administrator", func(s agent.Status) bool { return s.State == agent.StateDisabled })
	if st.SyncStatus != agent.SyncDisabled || st.PauseAllowed || !strings.Contains(st.Reason, "in Vantagepoint") || st.NextBatchAt != nil {
		t.Errorf("disabled: %+v", st)
	}
	if code, out, _ := w.run("status"); code != exitOK || !strings.Contains(out, "Administration:   switch Disabled") {
		t.Errorf("status while disabled = %d\n%s", code, out)
	}
	for _, verb := range []string{"resume", "pause", "sync"} {
		code, _, errOut := w.run(verb)
		if code != exitFailure || !strings.Contains(errOut, "disabled by your administrator") {
			t.Errorf("%s while disabled = %d\n%s", verb, code, errOut)
		}
	}
	// The record says so (within the minute).
	w.clock.Advance(agent.AdminMinInterval)
	w.waitAdmin(t, "the record of the disabled state", func(a agent.AdminStatus) bool { return a.Reports == 2 })
	if r := w.agentRecord(t); r[admin.FieldAgentState] != agent.StateDisabled {
		t.Errorf("record: %v", r)
	}
	// No batch while disabled; the switch is read every interval.
	for range 3 {
		w.clock.Advance(vpInterval)
	}
	w.waitAdmin(t, "reads while disabled", func(a agent.AdminStatus) bool { return a.SwitchReads >= 4 })
	// The batch the poll started before the switch was read may still be
	// running (nothing here waits for it to end); it is the last.
	st = w.waitStatus(t, "the batch started before the switch was read", func(s agent.Status) bool { return !s.Running })
	if st.LastBatch.ID != first+1 || st.State != agent.StateDisabled {
		t.Fatalf("while disabled: last batch %d (first %d): %+v", st.LastBatch.ID, first, st)
	}
	// Enabled again: the next read lifts it and a batch runs at once.
	w.setSwitch(t, "Enabled")
	w.clock.Advance(vpInterval)
	st = w.waitStatus(t, "Active again", func(s agent.Status) bool {
		return s.State == agent.StateActive && !s.Running && s.LastBatch.ID > first+1
	})
	if st.SyncStatus != agent.SyncEnabled || !st.PauseAllowed || st.NextBatchAt == nil {
		t.Errorf("enabled again: %+v", st)
	}
}

func TestAdminGroupDisabled(t *testing.T) {
	w := newAgentWorld(t)
	w.v.AddConnectHubs()
	if _, err := w.v.AddConnectGroup("Field engineers", "sg-field", "Disabled"); err != nil {
		t.Fatal(err)
	}
	w.cfg.Admin.Group = "sg-field"
	if err := config.Save(w.cfgPath, w.cfg); err != nil {
		t.Fatal(err)
	}
	w.activate(t)
	w.startAgent(t)
	if code, _, errOut := w.sync(t); code != exitOK {
		t.Fatalf("sync = %d\n%s", code, errOut)
	}
	st := w.waitStatus(t, "Disabled by administrator", func(s agent.Status) bool { return s.State == agent.StateDisabled })
	if st.Admin.Switch != "Disabled" {
		t.Errorf("switch: %+v", st.Admin)
	}
	if code, _, errOut := w.run("resume"); code != exitFailure || !strings.Contains(errOut, "disabled by your administrator") {
		t.Errorf("resume = %d\n%s", code, errOut)
	}
	if r := w.agentRecord(t); r[admin.FieldGroup] != "sg-field" {
		t.Errorf("record: %v", r)
	}
	// The employee's own record being Enabled does not lift the group's.
	w.setSwitch(t, "Enabled")
	w.clock.Advance(vpInterval)
	st = w.waitAdmin(t, "another read", func(a agent.AdminStatus) bool { return a.SwitchReads >= 2 })
	if st.State != agent.StateDisabled {
		t.Errorf("state with the group disabled and the employee enabled: %s", st.State)
	}
}

func TestAdminDelete(t *testing.T) {
	w := newAgentWorld(t)
	w.v.AddConnectHubs()
	w.startWithRecord(t)
	if !hasContactFolder(w.g, "Vantagepoint") {
		t.Fatal("no contact folder after the first batch")
	}
	w.setSwitch(t, "Delete")
	w.clock.Advance(agent.AdminReadEvery) // within AdminReadEvery, as docs/admin.md says
	w.waitStatus(t, "Not Configured", func(s agent.Status) bool { return s.State == agent.StateNotConfigured })
	if hasContactFolder(w.g, "Vantagepoint") || len(agentCategories(w.g)) != 0 {
		t.Errorf("the mailbox after the administrator's Delete: folders %+v, categories %+v", w.g.ContactFolders(), w.g.Categories())
	}
	checkForgotten(t, w)
	r := w.agentRecord(t)
	if r[admin.FieldAgentState] != agent.StateDeleted || r[admin.FieldMailboxStatus] != syncer.MailboxNotInitialized {
		t.Errorf("record after Delete: %v", r)
	}
	before := w.requests()
	for range 5 {
		w.clock.Advance(vpInterval)
	}
	if now := w.requests(); now != before {
		t.Errorf("requests after Delete: %+v, then %+v", before, now)
	}
}

func TestAdminHubsMissing(t *testing.T) {
	w := newAgentWorld(t)
	w.activate(t)
	w.startAgent(t)
	code, b, errOut := w.sync(t)
	if code != exitOK {
		t.Fatalf("sync = %d\n%s", code, errOut)
	}
	st := w.waitAdmin(t, "the hubs found missing", func(a agent.AdminStatus) bool { return len(a.MissingHubs) > 0 })
	if st.State != agent.StateActive || st.Admin.Reports != 0 || st.Admin.MissingHubs[0] != "UDIC_ConnectAgent" {
		t.Errorf("without hubs: %+v %+v", st, st.Admin)
	}
	// Not asked again within the hour: a quiet batch costs what it costs.
	before := w.requests()
	w.clock.Advance(vpInterval)
	st = w.waitStatus(t, "the next batch", settled(b.ID+1))
	after := w.requests()
	if extra := after.vp - before.vp - (after.vpToken - before.vpToken) - st.LastBatch.Requests["vantagepoint"]; extra != 0 {
		t.Errorf("%d requests for missing hubs within the hour", extra)
	}

	if code, out, _ := w.run("status"); code != exitOK || !strings.Contains(out, "Administration:   not set up in Vantagepoint (missing UDIC_ConnectAgent") {
		t.Errorf("status without the hubs = %d\n%s", code, out)
	}
	code, out, _ := w.run("admin", "check")
	if code != exitFailure || !strings.Contains(out, "✗ agents hub UDIC_ConnectAgent with its fields: GET /metadata/UDIC/UDIC_ConnectAgent answered 404") ||
		!strings.Contains(out, "    fix: create the hub UDIC_ConnectAgent from the template in docs/admin.md") ||
		!strings.Contains(out, "✓ Vantagepoint reachable") || !strings.Contains(out, `✓ database "VPTest" offered by Vantagepoint`) ||
		!strings.Contains(out, "✓ API authorization") || !strings.Contains(out, "✓ employee record with the user's e-mail: employee 00042") ||
		!strings.Contains(out, "✓ Microsoft authority and app registration") ||
		!strings.Contains(out, "✗ activity field CustMessageID for the key of filed e-mails") ||
		!strings.Contains(out, "✗ agents hub UDIC_ConnectAgent: writable by the employee's agent: not tried: the hub does not exist") ||
		strings.Count(out, "✗") != 5 {
		t.Errorf("admin check = %d\n%s", code, out)
	}
	code, _, errOut = w.run("admin", "status")
	if code != exitFailure || !strings.Contains(errOut, "does not exist in Vantagepoint") {
		t.Errorf("admin status without the hub = %d\n%s", code, errOut)
	}
	w.v.AddConnectHubs()
	if code, out, _ := w.run("admin", "check"); code != exitOK || strings.Contains(out, "✗") {
		t.Errorf("admin check with the hubs = %d\n%s", code, out)
	}
	// A wrong client secret is named with its fix.
	w.cfg.Vantagepoint.ClientSecret = "wrong"
	if err := config.Save(w.cfgPath, w.cfg); err != nil {
		t.Fatal(err)
	}
	if code, out, _ := w.run("admin", "check"); code != exitFailure || !strings.Contains(out, "✗ API authorization (client id and secret) accepted: the token endpoint answered invalid_client") {
		t.Errorf("admin check with a wrong secret = %d\n%s", code, out)
	}
}

// seedFleet gives the simulated Vantagepoint 49 more active employees with
// an e-mail (50 with the world's user, who has not activated), two groups
// and their agents as of now: 20 Active, 5 With Issues, 5 Suspended by
// Error, 6 silent for a week (the first with a Delete), 13 never activated.
// Odd employees report the group "Sales", even ones "sg-field" (the
// external id of "Field engineers").
func seedFleet(t *testing.T, v *vpsim.Server) {
	t.Helper()
	v.AddConnectHubs()
	if _, err := v.AddConnectGroup("Sales", "sg-sales", "Enabled"); err != nil {
		t.Fatal(err)
	}
	if _, err := v.AddConnectGroup("Field engineers", "sg-field", "Enabled"); err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	for i := 1; i <= 49; i++ {
		id := fmt.Sprintf("1%04d", i)
		v.AddEmployee(vpsim.Employee{Employee: id, FirstName: "Person", LastName: id, EMail: id + "@contoso.example", Status: "A"})
		state, seen := agent.StateActive, now.Add(-5*time.Minute)
		switch {
		case i <= 20:
		case i <= 25:
			state = agent.StateWithIssues
		case i <= 30:
			state = agent.StateSuspended
		case i <= 36:
			seen = now.Add(-7 * 24 * time.Hour)
		default:
			continue
		}
		group := "Sales"
		if i%2 == 0 {
			group = "sg-field"
		}
		if _, err := v.AddUDICRecord(vpsim.ConnectAgentsHub, map[string]any{admin.FieldEmployee: id, admin.FieldGroup: group,
			admin.FieldAgentState: state, admin.FieldMachine: "PC-" + id, admin.FieldUpdated: vpsim.FormatDate(seen)}); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := v.AddConnectSwitch("10031", "Person 10031", "Delete"); err != nil {
		t.Fatal(err)
	}
}

func TestAdminStatus(t *testing.T) {
	w := newAgentWorld(t)
	seedFleet(t, w.v)
	if code, _, errOut := w.run("admin", "status"); code != exitNeedSignIn || !strings.Contains(errOut, "vpconnect activate") {
		t.Errorf("admin status before activation = %d\n%s", code, errOut)
	}
	w.activate(t)
	code, out, errOut := w.run("admin", "status", "--json")
	if code != exitOK {
		t.Fatalf("admin status --json = %d\n%s%s", code, out, errOut)
	}
	var d admin.Dashboard
	if err := json.Unmarshal([]byte(out), &d); err != nil {
		t.Fatalf("%v: %s", err, out)
	}
	// Per status: total, Field engineers, Sales, no group.
	want := map[string][4]int{
		agent.StateActive: {20, 10, 10, 0}, agent.StateWithIssues: {5, 2, 3, 0}, agent.StateSuspended: {5, 3, 2, 0},
		agent.StateNotConfigured: {14, 0, 0, 14}, admin.StatusNotSeen: {6, 3, 3, 0},
	}
	if d.Total != 50 || len(d.Groups) != 3 || d.Groups[0].Group != "Field engineers" || d.Groups[1].Group != "Sales" || d.Groups[2].Group != "" {
		t.Fatalf("dashboard: %s", out)
	}
	for s, c := range want {
		if got := [4]int{d.Counts[s], d.Groups[0].Counts[s], d.Groups[1].Counts[s], d.Groups[2].Counts[s]}; got != c || len(d.People[s]) != c[0] {
			t.Errorf("%s: %v, %d listed; want %v", s, got, len(d.People[s]), c)
		}
	}
	if len(d.DeletesWaiting) != 1 || d.DeletesWaiting[0].Employee != "10031" {
		t.Errorf("deletes waiting: %+v", d.DeletesWaiting)
	}
	// The text: a row per status, a column per group, then the lists.
	code, out, _ = w.run("admin", "status")
	for _, s := range []string{"50 active employees with an e-mail",
		"                      Total  Field engineers  Sales  (no group)\n",
		"Active                   20               10     10           0\n",
		"Suspended by Error        5                3      2           0\n",
		"Not Configured           14                0      0          14\n",
		"Not Seen                  6                3      3           0\n",
		"Deletes waiting (1)", "Delete waiting: the agent on PC-10031 has not reported since",
	} {
		if code != exitOK || !strings.Contains(out, s) {
			t.Errorf("admin status = %d, lacks %q:\n%s", code, s, out)
		}
	}
	// The people behind one count.
	code, out, _ = w.run("admin", "status", "--state", "not seen", "--group", "Sales")
	if code != exitOK || !strings.Contains(out, "Not Seen (3)") || !strings.Contains(out, "10033") || strings.Contains(out, "10032") ||
		strings.Contains(out, "Active (") {
		t.Errorf("--state --group = %d\n%s", code, out)
	}
	code, out, _ = w.run("admin", "status", "--json", "--state", "Not Configured", "--group", admin.NoGroup)
	d = admin.Dashboard{}
	if code != exitOK || json.Unmarshal([]byte(out), &d) != nil || len(d.People) != 1 || len(d.People[agent.StateNotConfigured]) != 14 {
		t.Errorf("--json --state --group = %d\n%s", code, out)
	}
	if code, _, errOut := w.run("admin", "status", "--state", "Sleeping"); code != exitUsage || !strings.Contains(errOut, "statuses: Active, With Issues") {
		t.Errorf("an unknown status = %d\n%s", code, errOut)
	}
	// The page: the same counts, linked to the lists.
	page := filepath.Join(t.TempDir(), "dashboard.html")
	code, out, _ = w.run("admin", "status", "--html", page)
	b, err := os.ReadFile(page)
	if code != exitOK || err != nil || !strings.Contains(out, "The page: "+page) {
		t.Fatalf("--html = %d, %v\n%s", code, err, out)
	}
	for _, s := range []string{`<a href="#s-not-seen-g-sales">3</a>`, `<a href="#s-not-configured">14</a>`, `<h3 id="s-not-seen-g-sales">Sales (3)</h3>`,
		`id="deletes-waiting"`} {
		if !strings.Contains(string(b), s) {
			t.Errorf("the page lacks %s", s)
		}
	}
}

// The administrator's Disable survives a restart of the agent: it does not
// sync once before the switch is read again (agent.json keeps it).
func TestAdminDisabledSurvivesARestart(t *testing.T) {
	w := newAgentWorld(t)
	w.v.AddConnectHubs()
	w.activate(t)
	running := w.startAgent(t)
	code, b, errOut := w.sync(t)
	if code != exitOK || b == nil {
		t.Fatalf("sync = %d\n%s", code, errOut)
	}
	w.waitAdmin(t, "the first record", func(a agent.AdminStatus) bool { return a.Reports == 1 })
	w.setSwitch(t, "Disabled")
	w.clock.Advance(agent.AdminReadEvery)
	last := w.waitStatus(t, "Disabled by administrator", func(s agent.Status) bool { return s.State == agent.StateDisabled && !s.Running }).LastBatch.ID
	running.stop(t)

	w.startAgent(t)
	st := w.waitStatus(t, "still disabled after the restart", func(s agent.Status) bool { return s.State == agent.StateDisabled })
	if st.SyncStatus != agent.SyncDisabled {
		t.Errorf("after the restart: %+v", st)
	}
	// No batch until the switch says so: the scheduled ones are refused.
	for range 3 {
		w.clock.Advance(vpInterval)
	}
	st = w.waitAdmin(t, "the switch read after the restart", func(a agent.AdminStatus) bool { return a.SwitchReads >= 1 })
	if st.State != agent.StateDisabled || (st.LastBatch != nil && st.LastBatch.ID > last) {
		t.Errorf("after the restart: %s, last batch %+v (the last before was %d)", st.State, st.LastBatch, last)
	}
}

// Force Delete set in the hub: the agent forgets its sign-ins and state
// without touching the mailbox, and says so in its record.
func TestAdminForceDelete(t *testing.T) {
	w := newAgentWorld(t)
	w.v.AddConnectHubs()
	w.startWithRecord(t)
	w.setSwitch(t, "Force Delete")
	w.clock.Advance(agent.AdminReadEvery)
	w.waitStatus(t, "Not Configured", func(s agent.Status) bool { return s.State == agent.StateNotConfigured })
	if !hasContactFolder(w.g, "Vantagepoint") {
		t.Error("Force Delete touched the mailbox: the contact folder is gone")
	}
	checkForgotten(t, w)
	r := w.agentRecord(t)
	if r[admin.FieldAgentState] != agent.StateDeleted || !strings.Contains(fmt.Sprint(r[admin.FieldLastError]), "Force Delete") {
		t.Errorf("record after Force Delete: %v", r)
	}
}

// docs/behaviour.md §5.5: an employee who sets their own switch back to Enabled in
// Vantagepoint (their role lets them write it; ModUser is then themself)
// stays Disabled; the administrator's Enable works at the next read. The
// rule holds across a restart of the agent.
func TestAdminSwitchTheEmployeeLoosensIsNotObeyed(t *testing.T) {
	w := newAgentWorld(t)
	w.v.AddConnectHubs()
	w.startWithRecord(t)
	w.setSwitch(t, "Disabled")
	w.clock.Advance(agent.AdminReadEvery)
	last := w.waitStatus(t, "Disabled by administrator", func(s agent.Status) bool { return s.State == agent.StateDisabled && !s.Running }).LastBatch.ID

	// The employee, signed in to Vantagepoint as themself, writes Enabled.
	req, _ := http.NewRequest(http.MethodPut, w.v.APIURL()+"/UDIC/"+vpsim.ConnectGroupsHub+"/"+w.switchUID(t),
		strings.NewReader(`{"`+admin.FieldSyncStatus+`":"Enabled"}`))
	req.Header.Set("Authorization", "Bearer "+w.v.IssueAccessToken("DWHITFIELD"))
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("the employee's write: %s", resp.Status)
	}
	for _, r := range w.v.UDICRecords(vpsim.ConnectGroupsHub) {
		if r["ModUser"] != "DWHITFIELD" || r[admin.FieldSyncStatus] != "Enabled" {
			t.Fatalf("the switch after the employee's write: %v", r)
		}
	}
	reads := w.waitAdmin(t, "reads", func(agent.AdminStatus) bool { return true }).Admin.SwitchReads
	var st agent.Status
	for i := 1; i <= 3; i++ {
		w.clock.Advance(vpInterval)
		st = w.waitAdmin(t, "another read", func(a agent.AdminStatus) bool { return a.SwitchReads >= reads+i })
	}
	if st.State != agent.StateDisabled || st.Admin.Switch != "Disabled" || st.LastBatch.ID != last {
		t.Fatalf("after the employee's Enable: %s, switch %s, last batch %d (was %d)", st.State, st.Admin.Switch, st.LastBatch.ID, last)
	}
	if code, _, errOut := w.run("resume"); code != exitFailure || !strings.Contains(errOut, "disabled by your administrator") {
		t.Errorf("resume = %d\n%s", code, errOut)
	}

	// The administrator's Enable: at the next read, and a batch at once.
	w.setSwitch(t, "Enabled")
	w.clock.Advance(vpInterval)
	st = w.waitStatus(t, "Active again", func(s agent.Status) bool {
		return s.State == agent.StateActive && !s.Running && s.LastBatch.ID > last
	})
	if st.Admin.Switch != "Enabled" || st.SyncStatus != agent.SyncEnabled {
		t.Errorf("enabled by the administrator: %+v %+v", st, st.Admin)
	}
}

// A paused agent runs no batch, yet writes its record once a day (at a
// read of the switches), so that the dashboard does not count it Not Seen.
func TestAdminPausedAgentReportsDaily(t *testing.T) {
	w := newAgentWorld(t)
	w.v.AddConnectHubs()
	w.startWithRecord(t)
	if code, out, errOut := w.run("pause"); code != exitOK {
		t.Fatalf("pause = %d\n%s%s", code, out, errOut)
	}
	w.waitStatus(t, "Paused", func(s agent.Status) bool { return s.State == agent.StatePaused && !s.Running })
	st := w.waitAdmin(t, "a read", func(agent.AdminStatus) bool { return true })
	reads := st.Admin.SwitchReads
	step := func() {
		t.Helper()
		w.clock.Advance(agent.AdminReadEvery)
		reads++
		st = w.waitAdmin(t, "the next read", func(a agent.AdminStatus) bool { return a.SwitchReads >= reads })
	}
	// The first hour settles what the first batches left (the write of
	// Paused, the hourly refresh after a batch that ended meanwhile).
	for range 7 {
		step()
	}
	if st.Admin.LastReport == nil || st.State != agent.StatePaused {
		t.Fatalf("paused: %+v", st)
	}
	written, reports, batch := *st.Admin.LastReport, st.Admin.Reports, st.LastBatch.ID
	updated := w.agentRecord(t)[admin.FieldUpdated]
	for w.clock.Now().Add(agent.AdminReadEvery).Sub(written) < agent.AdminIdleHeartbeat {
		step()
		if st.LastBatch.ID != batch {
			t.Fatalf("a batch ran while paused: %+v", st.LastBatch)
		}
		if st.Admin.Reports != reports {
			t.Fatalf("written again %s after the last write, before a day: %v", w.clock.Now().Sub(written), w.agentRecord(t))
		}
	}
	step()
	st = w.waitAdmin(t, "the daily write", func(a agent.AdminStatus) bool { return a.Reports == reports+1 })
	if r := w.agentRecord(t); r[admin.FieldAgentState] != agent.StatePaused || r[admin.FieldUpdated] == updated {
		t.Errorf("the record after a day paused: %v (Updated was %v)", r, updated)
	}
}

// The administrator's Delete while Graph refuses: the mailbox is not
// touched and nothing is forgotten; the record says why (a category and a
// reason, no more); the Delete is tried again while disabled and done once
// the mailbox answers.
func TestAdminDeleteRefusedWhileTheMailboxIsUnreachable(t *testing.T) {
	w := newAgentWorld(t)
	w.v.AddConnectHubs()
	w.startWithRecord(t)
	w.waitStatus(t, "idle", func(s agent.Status) bool { return !s.Running })
	// 500: not retried by the Graph SDK's own retry handler (503 is, with
	// real waits).
	w.g.InjectFault(graphsim.Fault{Status: 500, PathContains: "/v1.0/"})
	w.setSwitch(t, "Delete")
	w.clock.Advance(agent.AdminReadEvery)
	st := w.waitStatus(t, "disabled, the Delete refused", func(s agent.Status) bool {
		return s.State == agent.StateDisabled && s.Admin != nil && s.Admin.Switch == "Delete"
	})
	// The reason reaches the record within a minute; each read of the
	// switch while disabled tries again.
	var r vpsim.Record
	for i := 0; ; i++ {
		w.clock.Advance(vpInterval)
		w.waitAdmin(t, "a read", func(a agent.AdminStatus) bool { return a.SwitchReads > st.Admin.SwitchReads+i })
		if r = w.agentRecord(t); r[admin.FieldAgentState] == agent.StateDisabled && strings.HasPrefix(fmt.Sprint(r[admin.FieldLastError]), "delete:") {
			break
		}
		if i > 10 {
			t.Fatalf("the record does not say why the Delete waits: %v", r)
		}
	}
	if got := r[admin.FieldLastError]; got != "delete: the administrator's Delete failed, unavailable (HTTP 500)" {
		t.Errorf("last error %q", got)
	}
	if !hasContactFolder(w.g, "Vantagepoint") || len(w.kc.Entries()) == 0 {
		t.Fatal("a refused Delete touched the mailbox or forgot the sign-ins")
	}
	// The mailbox answers again: the next try deletes.
	w.g.ClearFaults()
	w.clock.Advance(vpInterval)
	w.waitStatus(t, "Not Configured", func(s agent.Status) bool { return s.State == agent.StateNotConfigured })
	if hasContactFolder(w.g, "Vantagepoint") || len(agentCategories(w.g)) != 0 {
		t.Errorf("the mailbox after the retried Delete: folders %+v, categories %+v", w.g.ContactFolders(), w.g.Categories())
	}
	checkForgotten(t, w)
	if r := w.agentRecord(t); r[admin.FieldAgentState] != agent.StateDeleted {
		t.Errorf("record after the retried Delete: %v", r)
	}
}

// admin check, run by an employee whose role lets them write the
// switches, fails with the role setting to change; with the role of
// docs/admin.md (Read Only on the groups hub) it passes.
func TestAdminCheckFindsSwitchesEmployeesCanWrite(t *testing.T) {
	w := newAgentWorld(t)
	w.v.AddConnectHubs()
	w.setSwitch(t, "Disabled")
	w.activate(t)
	code, out, _ := w.run("admin", "check")
	if code != exitFailure || !strings.Contains(out, "✗ groups hub UDIC_ConnectGroup: switches read-only for employees: a same-value write of your own switch (Dana Whitfield) succeeded") ||
		!strings.Contains(out, "fix: in Vantagepoint's Settings > Security > Roles, on the Record Access tab of the employees' role, set UDIC_ConnectGroup to Read Only") ||
		strings.Count(out, "✗") != 1 {
		t.Errorf("admin check with writable switches = %d\n%s", code, out)
	}
	for _, r := range w.v.UDICRecords(vpsim.ConnectGroupsHub) {
		if r[admin.FieldSyncStatus] != "Disabled" {
			t.Errorf("the check changed the switch: %v", r)
		}
	}
	w.v.SetUserRole("DWHITFIELD", "Employees")
	w.v.SetRoleAccess("Employees", vpsim.ConnectGroupsHub, vpsim.AccessReadOnly)
	code, out, _ = w.run("admin", "check")
	if code != exitOK || !strings.Contains(out, "✓ groups hub UDIC_ConnectGroup: switches read-only for employees: a same-value write of your own switch was refused (403)") {
		t.Errorf("admin check with read-only switches = %d\n%s", code, out)
	}
}

// Without an agents hub the agent writes nothing, so it cannot learn its
// user name from its writes: the sign-in's user name tells it who the
// employee is, and their own Enable is not obeyed either.
func TestAdminSwitchRuleWithoutAnAgentsHub(t *testing.T) {
	w := newAgentWorld(t)
	w.v.AddHub(vpsim.ConnectGroupsHub, vpsim.ConnectGroupFields)
	w.setSwitch(t, "Disabled")
	w.activate(t)
	w.startAgent(t)
	w.sync(t)
	st := w.waitStatus(t, "Disabled by administrator", func(s agent.Status) bool { return s.State == agent.StateDisabled && !s.Running })
	if err := w.v.UpdateUDICAs("dwhitfield", vpsim.ConnectGroupsHub, w.switchUID(t), map[string]any{admin.FieldSyncStatus: "Enabled"}); err != nil {
		t.Fatal(err)
	}
	reads := st.Admin.SwitchReads
	for i := 1; i <= 2; i++ {
		w.clock.Advance(vpInterval)
		st = w.waitAdmin(t, "another read", func(a agent.AdminStatus) bool { return a.SwitchReads >= reads+i })
	}
	if st.State != agent.StateDisabled || st.Admin.Reports != 0 {
		t.Fatalf("after the employee's Enable, without an agents hub: %s, %+v", st.State, st.Admin)
	}
	w.setSwitch(t, "Enabled")
	w.clock.Advance(vpInterval)
	w.waitStatus(t, "Active again", func(s agent.Status) bool { return s.State == agent.StateActive })
}
