package admin

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"vpconnect/agent"
	"vpconnect/syncer/vantagepoint/vpsim"
)

// fleet seeds the simulator with 50 active employees with an e-mail
// address, two groups and their agents as of now:
//
//	E001–E020 Active (E020 last reported 2 days ago: still Active)
//	E021–E025 With Issues, E026–E030 Suspended by Error
//	E031–E036 Active, but silent for a week: Not Seen (E031's switch is Delete)
//	E037–E038 Paused, E039–E040 Not Configured (an agent that was not activated)
//	E041–E050 never activated: no agent record
//
// Odd employees up to E040 report the group "Sales" (by name), even ones
// "sg-field" (the external id of "Field engineers"). Besides: E051 is
// active without an e-mail, E052 has left but its agent record remains.
func fleet(t *testing.T, sim *vpsim.Server, now time.Time) {
	t.Helper()
	sim.AddConnectHubs()
	if _, err := sim.AddConnectGroup("Sales", "sg-sales", "Enabled"); err != nil {
		t.Fatal(err)
	}
	if _, err := sim.AddConnectGroup("Field engineers", "sg-field", ""); err != nil {
		t.Fatal(err)
	}
	for i := 1; i <= 52; i++ {
		id := fmt.Sprintf("E%03d", i)
		e := vpsim.Employee{Employee: id, FirstName: "Person", LastName: id, EMail: strings.ToLower(id) + "@contoso.example", Status: "A"}
		switch i {
		case 51:
			e.EMail = ""
		case 52:
			e.Status = "T"
		}
		if id == "E001" {
			continue // the user of the tests' client, already added
		}
		sim.AddEmployee(e)
	}
	for i := 1; i <= 52; i++ {
		state, seen := agent.StateActive, now.Add(-10*time.Minute)
		switch {
		case i == 20:
			seen = now.Add(-48 * time.Hour)
		case i <= 20:
		case i <= 25:
			state = agent.StateWithIssues
		case i <= 30:
			state = agent.StateSuspended
		case i <= 36:
			seen = now.Add(-7 * 24 * time.Hour)
		case i <= 38:
			state = agent.StatePaused
		case i <= 40:
			state = agent.StateNotConfigured
		case i <= 51:
			continue
		}
		group := "Sales"
		if i%2 == 0 {
			group = "sg-field"
		}
		f := map[string]any{FieldEmployee: fmt.Sprintf("E%03d", i), FieldGroup: group, FieldAgentState: state,
			FieldMachine: fmt.Sprintf("PC-%03d", i), FieldUpdated: vpsim.FormatDate(seen), FieldLastBatch: vpsim.FormatDate(seen),
			FieldOpenIssues: "0", FieldMailboxStatus: "Initialized", FieldLastOutcome: "ok"}
		if state == agent.StateWithIssues {
			f[FieldOpenIssues], f[FieldLastOutcome] = "2", "issues"
		}
		if state == agent.StateSuspended {
			f[FieldLastError] = "sign-in: the sign-in expired or was revoked"
		}
		if _, err := sim.AddUDICRecord(vpsim.ConnectAgentsHub, f); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := sim.AddConnectSwitch("E031", "Person E031", "Delete"); err != nil {
		t.Fatal(err)
	}
}

// wantCounts are the fleet's counts: total, Sales, Field engineers, no group.
var wantCounts = map[string][4]int{
	agent.StateActive:        {20, 10, 10, 0},
	agent.StateWithIssues:    {5, 3, 2, 0},
	agent.StateSuspended:     {5, 2, 3, 0},
	agent.StateNotConfigured: {12, 1, 1, 10},
	StatusNotSeen:            {6, 3, 3, 0},
	agent.StatePaused:        {2, 1, 1, 0},
}

func checkCounts(t *testing.T, d Dashboard) {
	t.Helper()
	if d.Total != 50 || len(d.Groups) != 3 || d.Groups[0].Group != "Field engineers" || d.Groups[1].Group != "Sales" || d.Groups[2].Group != "" {
		t.Fatalf("total %d, groups %+v", d.Total, d.Groups)
	}
	for s, want := range wantCounts {
		got := [4]int{d.Counts[s], d.Groups[1].Counts[s], d.Groups[0].Counts[s], d.Groups[2].Counts[s]}
		if got != want {
			t.Errorf("%s: total, Sales, Field engineers, no group = %v; want %v", s, got, want)
		}
		if len(d.People[s]) != want[0] {
			t.Errorf("%s: %d people listed; want %d", s, len(d.People[s]), want[0])
		}
	}
	if got := strings.Join(d.States(), ","); got != "Active,With Issues,Suspended by Error,Not Configured,Not Seen,Paused" {
		t.Errorf("states: %s", got)
	}
	if d.Groups[0].Total != 20 || d.Groups[1].Total != 20 || d.Groups[2].Total != 10 {
		t.Errorf("group totals: %+v", d.Groups)
	}
}

func TestDashboardCountsEveryEmployee(t *testing.T) {
	e := newEnv(t, false)
	fleet(t, e.sim, e.now)
	d, err := ReadDashboard(ctx, e.c, DashboardOptions{Now: func() time.Time { return e.now }})
	if err != nil {
		t.Fatal(err)
	}
	checkCounts(t, d)
	// Not Seen says since when, and what the agent said last.
	ns := d.People[StatusNotSeen]
	if ns[0].Employee != "E031" || ns[0].LastSeen != e.now.Add(-7*24*time.Hour).Format(time.RFC3339) || ns[0].AgentState != agent.StateActive {
		t.Errorf("Not Seen: %+v", ns[0])
	}
	// The Delete of an agent not seen waits, and says so.
	if len(d.DeletesWaiting) != 1 || d.DeletesWaiting[0].Employee != "E031" || d.DeletesWaiting[0].Switch != agent.SwitchDelete ||
		d.DeletesWaiting[0].SwitchSetBy != "ADMIN" || !strings.Contains(d.DeletesWaiting[0].Pending, "Delete waiting: the agent on PC-031 has not reported since") {
		t.Errorf("deletes waiting: %+v", d.DeletesWaiting)
	}
	if len(d.Others) != 1 || d.Others[0].Employee != "E052" {
		t.Errorf("others: %+v", d.Others)
	}
	// The group named by its external id shows by its name.
	if p := d.People[agent.StateActive][1]; p.Employee != "E002" || p.Group != "Field engineers" || p.Name != "Person E002" {
		t.Errorf("E002: %+v", p)
	}
	// The lists behind one count.
	o, ok := d.Only("suspended by error", "sales")
	if !ok || len(o.People) != 1 || len(o.People[agent.StateSuspended]) != 2 || o.People[agent.StateSuspended][0].Employee != "E027" ||
		len(o.Groups) != 1 || o.Counts[agent.StateActive] != 20 {
		t.Errorf("Only(Suspended by Error, Sales): %+v", o)
	}
	if o, ok := d.Only("Not Configured", NoGroup); !ok || len(o.People[agent.StateNotConfigured]) != 10 {
		t.Errorf("Only(Not Configured, no group): %+v", o.People)
	}
	if _, ok := d.Only("Sleeping", ""); ok {
		t.Error("an unknown status was accepted")
	}
	if _, ok := d.Only("", "Marketing"); ok {
		t.Error("an unknown group was accepted")
	}
	// The text: a row per status, a column per group.
	var b bytes.Buffer
	if err := WriteText(&b, d); err != nil {
		t.Fatal(err)
	}
	out := b.String()
	for _, want := range []string{
		"50 active employees with an e-mail",
		"                      Total  Field engineers  Sales  (no group)\n",
		"Active                   20               10     10           0\n",
		"Not Configured           12                1      1          10\n",
		"Not Seen                  6                3      3           0\n",
		"Deletes waiting (1)",
		"E031     Person E031              Sales            on PC-031, last seen " + e.now.Add(-7*24*time.Hour).Format(time.RFC3339),
	} {
		if !strings.Contains(out, want) {
			t.Errorf("text lacks %q:\n%s", want, out)
		}
	}
	// JSON round trip.
	j, _ := json.Marshal(d)
	var back Dashboard
	if err := json.Unmarshal(j, &back); err != nil {
		t.Fatal(err)
	}
	checkCounts(t, back)
}
