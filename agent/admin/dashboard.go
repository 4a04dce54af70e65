package admin

import (
	"context"
	"sort"
	"strconv"

	"vpconnect/agent"
	"vpconnect/syncer/vantagepoint"
)

// AgentRow is one record of the agents hub, as the dashboard lists it.
type AgentRow struct {
	Employee      string `json:"employee"`
	Group         string `json:"group,omitempty"`
	State         string `json:"state"`
	MailboxStatus string `json:"mailboxStatus,omitempty"`
	LastBatch     string `json:"lastBatch,omitempty"`
	LastOutcome   string `json:"lastOutcome,omitempty"`
	OpenIssues    int    `json:"openIssues"`
	LastError     string `json:"lastError,omitempty"`
	Version       string `json:"version,omitempty"`
	Machine       string `json:"machine,omitempty"`
	Updated       string `json:"updated,omitempty"`
	SyncStatus    string `json:"syncStatus"`
}

// Dashboard is the Connect dashboard of the seeds, read from the agents
// hub: the number of agents per state and the list behind each count.
type Dashboard struct {
	Hub    string                `json:"hub"`
	Total  int                   `json:"total"`
	Counts map[string]int        `json:"counts"`
	Agents map[string][]AgentRow `json:"agents"`
}

// DashboardStates are the states the dashboard always counts, in its
// order; others (Paused, Disabled by administrator, Deleted, a word from
// a newer agent) follow when present.
var DashboardStates = []string{agent.StateActive, agent.StateWithIssues, agent.StateSuspended, agent.StateNotConfigured}

// ReadDashboard lists the agents hub (syncer.ErrNotFound when it does not
// exist). A record with no state yet counts as Not Configured.
func ReadDashboard(ctx context.Context, c *vantagepoint.Client, hub string) (Dashboard, error) {
	if hub == "" {
		hub = DefaultAgentsHub
	}
	d := Dashboard{Hub: hub, Counts: map[string]int{}, Agents: map[string][]AgentRow{}}
	for _, s := range DashboardStates {
		d.Counts[s] = 0
	}
	err := c.UDICList(ctx, hub, vantagepoint.Query{Order: FieldEmployee + "_A"}, func(rs []vantagepoint.Record) error {
		for _, r := range rs {
			row := AgentRow{Employee: r.String(FieldEmployee), Group: r.String(FieldGroup), State: r.String(FieldAgentState),
				MailboxStatus: r.String(FieldMailboxStatus), LastBatch: r.String(FieldLastBatch), LastOutcome: r.String(FieldLastOutcome),
				LastError: r.String(FieldLastError), Version: r.String(FieldAgentVersion), Machine: r.String(FieldMachine),
				Updated: r.String(FieldUpdated), SyncStatus: Strictest(r.String(FieldSyncStatus))}
			n, _ := strconv.ParseFloat(r.String(FieldOpenIssues), 64)
			row.OpenIssues = int(n)
			if row.State == "" {
				row.State = agent.StateNotConfigured
			}
			d.Counts[row.State]++
			d.Agents[row.State] = append(d.Agents[row.State], row)
			d.Total++
		}
		return nil
	})
	return d, err
}

// States lists the states of d in the dashboard's order.
func (d Dashboard) States() []string {
	out := append([]string(nil), DashboardStates...)
	var more []string
	for s := range d.Counts {
		known := false
		for _, k := range DashboardStates {
			known = known || k == s
		}
		if !known {
			more = append(more, s)
		}
	}
	sort.Strings(more)
	return append(out, more...)
}
