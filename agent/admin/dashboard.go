package admin

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"vpconnect/agent"
	"vpconnect/syncer"
	"vpconnect/syncer/vantagepoint"
)

// The dashboard of the seeds' Connect administration, for IT: every active
// employee with an e-mail address, counted by what their agent last
// reported, per group and in total, and the people behind every count.

// StatusNotSeen is the dashboard's word for an agent that has not reported
// for NotSeenAfter: its last state is stale (the computer has been off, the
// agent removed without a Delete).
const StatusNotSeen = "Not Seen"

// NotSeenAfter is how long an agent may stay silent before the dashboard
// counts it Not Seen. A running agent writes its record after a batch at
// least hourly, and at least daily when no batch runs (paused, disabled).
const NotSeenAfter = 72 * time.Hour

// NoGroup names, in the text and the page, the people whose agent reported
// no group (and those who never activated: only an agent knows its group).
const NoGroup = "(no group)"

// DashboardStates are the statuses the dashboard always counts, in its
// order; others (Paused, Disabled by administrator, Deleted, a word from
// a newer agent) follow when present.
var DashboardStates = []string{agent.StateActive, agent.StateWithIssues, agent.StateSuspended, agent.StateNotConfigured, StatusNotSeen}

// Person is one employee as the dashboard lists them.
type Person struct {
	Employee string `json:"employee"`
	Name     string `json:"name,omitempty"`
	Group    string `json:"group,omitempty"`
	// Status is what the dashboard counts them as: the agent's state, Not
	// Configured without an agent record, Not Seen when the record is
	// older than NotSeenAfter.
	Status        string `json:"status"`
	AgentState    string `json:"agentState,omitempty"`
	MailboxStatus string `json:"mailboxStatus,omitempty"`
	LastBatch     string `json:"lastBatch,omitempty"`
	LastOutcome   string `json:"lastOutcome,omitempty"`
	OpenIssues    int    `json:"openIssues"`
	LastError     string `json:"lastError,omitempty"`
	Version       string `json:"version,omitempty"`
	Machine       string `json:"machine,omitempty"`
	// LastSeen is when the agent last wrote its record (RFC 3339, UTC).
	LastSeen string `json:"lastSeen,omitempty"`
	// Switch is the effective switch as the hubs hold it (the strictest
	// of the employee's and the group's), with who set it last and when.
	Switch      string `json:"switch"`
	SwitchSetBy string `json:"switchSetBy,omitempty"`
	SwitchSetAt string `json:"switchSetAt,omitempty"`
	// Pending says what an administrator's Delete or Force Delete waits
	// for (docs/behaviour.md §5.5, issue 17.5): "" when nothing waits.
	Pending string `json:"pending,omitempty"`
}

// GroupCounts are the counts of one group.
type GroupCounts struct {
	Group  string         `json:"group"`
	Total  int            `json:"total"`
	Counts map[string]int `json:"counts"`
}

// Dashboard is what `vpconnect admin status` shows.
type Dashboard struct {
	AgentsHub string `json:"agentsHub"`
	GroupsHub string `json:"groupsHub"`
	// Generated is when the hubs were read (RFC 3339, UTC).
	Generated string `json:"generated"`
	// NotSeenDays is NotSeenAfter in days.
	NotSeenDays int `json:"notSeenDays"`
	// Total is the number of active employees with an e-mail address.
	Total  int            `json:"total"`
	Counts map[string]int `json:"counts"`
	// Groups are the counts per group, NoGroup ("") last.
	Groups []GroupCounts `json:"groups"`
	// People lists, per status, the people counted in it.
	People map[string][]Person `json:"people"`
	// DeletesWaiting are the people whose Delete or Force Delete waits for
	// an agent that is not seen.
	DeletesWaiting []Person `json:"deletesWaiting,omitempty"`
	// Others are agent records of nobody counted: employees who left or
	// have no e-mail address any more (their records can be deleted).
	Others []Person `json:"others,omitempty"`
	// GroupsHubMissing: there is no groups hub; every switch is Enabled.
	GroupsHubMissing bool `json:"groupsHubMissing,omitempty"`
}

// DashboardOptions say where to read the dashboard from.
type DashboardOptions struct {
	AgentsHub, GroupsHub string
	// Now is time.Now when nil.
	Now func() time.Time
}

// ReadDashboard reads the employees, the agents hub and the groups hub
// (syncer.ErrNotFound when the agents hub does not exist). Requests: the
// listings of the three, in the client's pages.
func ReadDashboard(ctx context.Context, c *vantagepoint.Client, o DashboardOptions) (Dashboard, error) {
	if o.AgentsHub == "" {
		o.AgentsHub = DefaultAgentsHub
	}
	if o.GroupsHub == "" {
		o.GroupsHub = DefaultGroupsHub
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	now := o.Now().UTC()
	d := Dashboard{AgentsHub: o.AgentsHub, GroupsHub: o.GroupsHub, Generated: now.Format(time.RFC3339),
		NotSeenDays: int(NotSeenAfter / (24 * time.Hour)), Counts: map[string]int{}, People: map[string][]Person{}}
	for _, s := range DashboardStates {
		d.Counts[s] = 0
	}

	// The agents' records, by employee (the newest when there are two).
	records := map[string]vantagepoint.Record{}
	err := c.UDICList(ctx, o.AgentsHub, vantagepoint.Query{}, func(rs []vantagepoint.Record) error {
		for _, r := range rs {
			e := r.String(FieldEmployee)
			if old, ok := records[e]; !ok || r.Time(FieldUpdated).After(old.Time(FieldUpdated)) {
				records[e] = r
			}
		}
		return nil
	})
	if err != nil {
		return d, fmt.Errorf("list the agents hub %s: %w", o.AgentsHub, err)
	}

	// The switches: the employees' own and the groups'.
	own := map[string]vantagepoint.Record{}
	var groups []vantagepoint.Record
	err = c.UDICList(ctx, o.GroupsHub, vantagepoint.Query{}, func(rs []vantagepoint.Record) error {
		for _, r := range rs {
			if e := r.String(FieldEmployee); e != "" {
				own[e] = r
			} else {
				groups = append(groups, r)
			}
		}
		return nil
	})
	switch {
	case errors.Is(err, syncer.ErrNotFound):
		d.GroupsHubMissing = true
	case err != nil:
		return d, fmt.Errorf("list the groups hub %s: %w", o.GroupsHub, err)
	}
	// groupOf finds a group's record as an agent does: by name, else by
	// external id.
	groupOf := func(name string) vantagepoint.Record {
		if name == "" {
			return nil
		}
		for _, f := range []string{FieldGroupName, FieldGroupExternalID} {
			for _, g := range groups {
				if strings.EqualFold(g.String(f), name) {
					return g
				}
			}
		}
		return nil
	}

	perGroup := map[string]*GroupCounts{}
	count := func(p Person) {
		d.Total++
		d.Counts[p.Status]++
		d.People[p.Status] = append(d.People[p.Status], p)
		g := perGroup[p.Group]
		if g == nil {
			g = &GroupCounts{Group: p.Group, Counts: map[string]int{}}
			perGroup[p.Group] = g
		}
		g.Total++
		g.Counts[p.Status]++
	}
	seen := map[string]bool{}
	err = c.ActiveEmployees(ctx, func(es []syncer.Employee) error {
		for _, e := range es {
			if seen[e.ID] {
				continue
			}
			seen[e.ID] = true
			p := person(e.ID, records[e.ID], own[e.ID], now, groupOf)
			p.Name = e.Name
			count(p)
			if p.Pending != "" && p.Status == StatusNotSeen {
				d.DeletesWaiting = append(d.DeletesWaiting, p)
			}
		}
		return nil
	})
	if err != nil {
		return d, err
	}
	for e, r := range records {
		if !seen[e] {
			d.Others = append(d.Others, person(e, r, own[e], now, groupOf))
		}
	}
	slices.SortFunc(d.Others, func(a, b Person) int { return cmp.Compare(a.Employee, b.Employee) })
	for _, g := range groups {
		// Every group of the hub shows, with none counted or many.
		if name := g.String(FieldGroupName); name != "" && perGroup[name] == nil {
			perGroup[name] = &GroupCounts{Group: name, Counts: map[string]int{}}
		}
	}
	for _, g := range perGroup {
		for _, s := range DashboardStates {
			g.Counts[s] += 0
		}
		d.Groups = append(d.Groups, *g)
	}
	slices.SortFunc(d.Groups, func(a, b GroupCounts) int {
		if (a.Group == "") != (b.Group == "") {
			if a.Group == "" {
				return 1
			}
			return -1
		}
		return cmp.Compare(strings.ToLower(a.Group), strings.ToLower(b.Group))
	})
	return d, nil
}

// person makes one employee's line from their agent record (nil: none)
// and switches.
func person(employee string, r, ownSwitch vantagepoint.Record, now time.Time, groupOf func(string) vantagepoint.Record) Person {
	p := Person{Employee: employee, Status: agent.StateNotConfigured, Switch: agent.SwitchEnabled}
	var group vantagepoint.Record
	if r != nil {
		p.Group = r.String(FieldGroup)
		p.AgentState = r.String(FieldAgentState)
		p.MailboxStatus = r.String(FieldMailboxStatus)
		p.LastOutcome = r.String(FieldLastOutcome)
		p.LastError = r.String(FieldLastError)
		p.Version = r.String(FieldAgentVersion)
		p.Machine = r.String(FieldMachine)
		n, _ := strconv.ParseFloat(r.String(FieldOpenIssues), 64)
		p.OpenIssues = int(n)
		if t := r.Time(FieldLastBatch); !t.IsZero() {
			p.LastBatch = t.UTC().Format(time.RFC3339)
		}
		seenAt := r.Time(FieldUpdated)
		if !seenAt.IsZero() {
			p.LastSeen = seenAt.UTC().Format(time.RFC3339)
		}
		group = groupOf(p.Group)
		if group != nil && group.String(FieldGroupName) != "" {
			p.Group = group.String(FieldGroupName) // named by its external id in the policy
		}
		switch {
		case p.AgentState == agent.StateDeleted:
			p.Status = agent.StateDeleted
		case seenAt.IsZero() || now.Sub(seenAt) >= NotSeenAfter:
			p.Status = StatusNotSeen
		case p.AgentState != "":
			p.Status = p.AgentState
		}
	}
	// The effective switch, and whose write made it so.
	for _, sw := range []vantagepoint.Record{ownSwitch, group} {
		if sw == nil {
			continue
		}
		if v := Strictest(sw.String(FieldSyncStatus)); rank(v) > rank(p.Switch) {
			p.Switch, p.SwitchSetBy, p.SwitchSetAt = v, sw.String("ModUser"), sw.String("ModDate")
		}
	}
	if p.Switch == agent.SwitchDelete || p.Switch == agent.SwitchForceDelete {
		switch {
		case r == nil || p.AgentState == agent.StateDeleted:
			// Nothing to delete, or done.
		case p.Status == StatusNotSeen:
			p.Pending = fmt.Sprintf("%s waiting: the agent on %s has not reported since %s; no agent of this employee can reach the mailbox (docs/admin.md, \"A Delete that waits\")",
				p.Switch, dash(p.Machine), dash(p.LastSeen))
		case strings.HasPrefix(p.LastError, CategoryDelete+":"):
			p.Pending = p.Switch + " retried: " + p.LastError
		default:
			p.Pending = p.Switch + " requested: the agent carries it out at its next read of the switches (within 10 minutes)"
		}
	}
	return p
}

// States lists the statuses of d in the dashboard's order.
func (d Dashboard) States() []string {
	out := append([]string(nil), DashboardStates...)
	var more []string
	for s := range d.Counts {
		if !slices.Contains(DashboardStates, s) {
			more = append(more, s)
		}
	}
	slices.Sort(more)
	return append(out, more...)
}

// Only narrows the lists of d to a status and a group ("" for all; the
// people without a group are asked for as NoGroup); the counts stay whole,
// the groups shown are the one asked for. It reports whether the status
// and the group are ones the dashboard knows.
func (d Dashboard) Only(status, group string) (Dashboard, bool) {
	known := true
	if status != "" {
		st := ""
		for _, s := range d.States() {
			if strings.EqualFold(s, status) {
				st = s
			}
		}
		known = st != ""
		status = st
	}
	wantGroup := func(g string) bool {
		return group == "" || strings.EqualFold(g, group) || (g == "" && strings.EqualFold(group, NoGroup))
	}
	if group != "" {
		found := false
		for _, g := range d.Groups {
			found = found || wantGroup(g.Group)
		}
		known = known && found
	}
	out := d
	out.People = map[string][]Person{}
	for s, ps := range d.People {
		if status != "" && s != status {
			continue
		}
		for _, p := range ps {
			if wantGroup(p.Group) {
				out.People[s] = append(out.People[s], p)
			}
		}
	}
	if group != "" {
		out.Groups = nil
		for _, g := range d.Groups {
			if wantGroup(g.Group) {
				out.Groups = append(out.Groups, g)
			}
		}
		out.DeletesWaiting = nil
		for _, p := range d.DeletesWaiting {
			if wantGroup(p.Group) {
				out.DeletesWaiting = append(out.DeletesWaiting, p)
			}
		}
	}
	return out, known
}

// GroupLabel is how the text and the page name a group.
func GroupLabel(g string) string {
	if g == "" {
		return NoGroup
	}
	return g
}
