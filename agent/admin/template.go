// Package admin is the administration inside Vantagepoint of docs/behaviour.md §5.5:
// the agent's record in the agents hub and the administrator's switches in
// the groups hub, which employees read but do not write (Hubs, the
// agent.Admin of a running agent), the dashboard IT reads from
// that hub (ReadDashboard), and the prerequisites checklist (Check). It
// speaks to Vantagepoint only through the UDIC helpers of the
// syncer/vantagepoint client; the template IT creates is docs/admin.md,
// and its field names are here, in one place.
package admin

// The template of docs/admin.md. Vantagepoint names the fields a user adds
// to a hub with the Cust prefix; the labels are what IT types.
const (
	DefaultAgentsHub = "UDIC_ConnectAgent"
	DefaultGroupsHub = "UDIC_ConnectGroup"

	// Agents hub: one record per employee, written by their agent: what it
	// reports, nothing the administrator sets.
	FieldEmployee      = "CustEmployee"
	FieldGroup         = "CustGroup"
	FieldAgentState    = "CustAgentState"
	FieldMailboxStatus = "CustMailboxStatus"
	FieldLastBatch     = "CustLastBatch"
	FieldLastOutcome   = "CustLastOutcome"
	FieldOpenIssues    = "CustOpenIssues"
	FieldLastError     = "CustLastError"
	FieldAgentVersion  = "CustAgentVersion"
	FieldMachine       = "CustMachine"
	FieldUpdated       = "CustUpdated"

	// Groups hub, the administrator's switches: a group's record (name,
	// external id, SyncStatus) or an employee's (FieldEmployee set; the
	// name is what the record shows).
	FieldGroupName       = "CustName"
	FieldGroupExternalID = "CustExternalID"
	FieldSyncStatus      = "CustSyncStatus"
)

// Field is one field of the template: its name, the label IT gives it,
// its type (as the metadata names types: string, date, number) and
// whether it is required.
type Field struct {
	Name, Label, Type string
	Required          bool
}

// AgentFields are the fields of the agents hub.
var AgentFields = []Field{
	{FieldEmployee, "Employee", "string", true},
	{FieldGroup, "Group", "string", false},
	{FieldAgentState, "Agent State", "string", false},
	{FieldMailboxStatus, "Mailbox Status", "string", false},
	{FieldLastBatch, "Last Batch", "date", false},
	{FieldLastOutcome, "Last Outcome", "string", false},
	{FieldOpenIssues, "Open Issues", "number", false},
	{FieldLastError, "Last Error", "string", false},
	{FieldAgentVersion, "Agent Version", "string", false},
	{FieldMachine, "Machine", "string", false},
	{FieldUpdated, "Updated", "date", false},
}

// GroupFields are the fields of the groups hub, the administrator's
// switches.
var GroupFields = []Field{
	{FieldGroupName, "Name", "string", true},
	{FieldGroupExternalID, "External ID", "string", false},
	{FieldEmployee, "Employee", "string", false},
	{FieldSyncStatus, "Sync Status", "string", false},
}
