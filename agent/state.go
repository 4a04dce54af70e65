package agent

import (
	"time"

	"vpconnect/syncer"
)

// Agent states of docs/behaviour.md §3. The words are the product's: the tray, the CLI,
// the Sync Options page and the admin hub all show them as they are.
const (
	StateNotConfigured = "Not Configured"
	StateActive        = "Active"
	StateWithIssues    = "With Issues"
	StateSuspended     = "Suspended by Error"
	StatePaused        = "Paused"
	StateDisabled      = "Disabled by administrator"
	// StateStandby: another agent of the employee (another computer)
	// holds the mailbox's lease and syncs it; this one waits to take over
	// (docs/behaviour.md §5.5). Shown with "Syncing on COMPUTER".
	StateStandby = "Standby"
)

// HeldBackItem is the item of the open issue of a type whose deletions
// the empty-side guard held back (docs/behaviour.md §4.4): the user
// confirms or refuses them (ConfirmDeletes, RefuseDeletes).
const HeldBackItem = syncer.HeldBack

// Synchronization status words of docs/behaviour.md §3 (the user's switch).
const (
	SyncEnabled  = "Enabled"
	SyncDisabled = "Disabled"
)

// MaxConsecutiveFailures is how many failed batches in a row suspend
// scheduled sync (docs/behaviour.md §3): past that, retrying is only noise on both servers.
const MaxConsecutiveFailures = 10

// Inputs are the facts the agent state is computed from. Keeping them in one
// plain struct, and the decision in one function, means the tray, the API and
// the admin hub can never disagree about the state.
type Inputs struct {
	// Activated: both accounts are signed in on this computer.
	Activated bool
	// MailboxStatus is one of the syncer.Mailbox* words.
	MailboxStatus string
	// PolicyEnabled is the administrator's sync.enabled.
	PolicyEnabled bool
	// Paused: the user paused sync.
	Paused bool
	// Rejected names the accounts whose credentials were definitively
	// refused, with the reason.
	Rejected map[string]string
	// ConsecutiveFailures counts failed batches since the last one that was
	// not failed (reset by Resume and by re-authorizing).
	ConsecutiveFailures int
	// Running: a batch is running now.
	Running bool
	// LastOutcome is the outcome of the last finished batch ("" when none).
	LastOutcome string
	// Standby names the computer whose agent holds the mailbox's lease
	// ("" when this agent holds it, or there is none).
	Standby string
}

// ComputeState is the one place the agent state of docs/behaviour.md §3 is decided.
// Precedence, first match wins, and why:
//   - Disabled by administrator: nothing the user does changes it, so it must
//     not be hidden behind a state that suggests an action.
//   - Not Configured: without activation nothing else means anything.
//   - Suspended by Error: a rejected credential or ten failed batches; sync
//     stays stopped until the user acts, so it outranks Paused.
//   - Paused.
//   - Standby: another computer syncs the mailbox; a lease check that runs
//     is not a batch, so it does not show Active.
//   - Active while a batch runs (docs/behaviour.md §3: "or a batch running").
//   - With Issues when the last batch had failed items or failed as a whole.
//   - Active.
func ComputeState(in Inputs) string {
	switch {
	case !in.PolicyEnabled:
		return StateDisabled
	case !in.Activated || in.MailboxStatus == syncer.MailboxNotInitialized || in.MailboxStatus == "":
		return StateNotConfigured
	case len(in.Rejected) > 0 || in.ConsecutiveFailures >= MaxConsecutiveFailures:
		return StateSuspended
	case in.Paused:
		return StatePaused
	case in.Standby != "":
		return StateStandby
	case in.Running:
		return StateActive
	case in.LastOutcome == syncer.OutcomeIssues || in.LastOutcome == syncer.OutcomeFailed:
		return StateWithIssues
	default:
		return StateActive
	}
}

// Status is a snapshot of the agent. Its JSON form is the status object of
// docs/behaviour.md §5.1 (`status --json`, `GET /v1/status`): the fields up to NextBatchAt
// are a contract and are never renamed; the rest are additions.
type Status struct {
	State         string     `json:"state"`
	MailboxStatus string     `json:"mailboxStatus"`
	SyncStatus    string     `json:"syncStatus"`
	Accounts      Accounts   `json:"accounts"`
	LastBatch     *Batch     `json:"lastBatch"`
	NextBatchAt   *time.Time `json:"nextBatchAt"`

	// Reason explains the state in a sentence when it needs explaining
	// (why sync is suspended, disabled or not configured).
	Reason string `json:"reason,omitempty"`
	// Running is true while a batch runs.
	Running bool `json:"running"`
	// ConsecutiveFailures counts failed batches in a row.
	ConsecutiveFailures int `json:"consecutiveFailures"`
	// PauseAllowed is false when policy forbids pause/resume (or disables
	// sync): the UIs then do not offer them.
	PauseAllowed bool `json:"pauseAllowed"`
	// PolicyErrors are bad policy values that were ignored (docs/behaviour.md §5.4).
	PolicyErrors []string `json:"policyErrors,omitempty"`
	// OpenIssues are the items that failed and are retried every batch.
	OpenIssues []Issue `json:"openIssues"`
	// Totals sums what the batches of the last 30 days did, per item type.
	Totals map[string]Counts `json:"totals"`
	// Version is the agent's version.
	Version string `json:"version"`
	// Seq grows with every change, so that a watcher can tell snapshots apart.
	Seq uint64 `json:"seq"`
	// Updated is when this snapshot was taken.
	Updated time.Time `json:"updated"`
	// Admin is the administration in Vantagepoint (docs/behaviour.md §5.5): the
	// record's last write and the administrator's switch; absent when the
	// agent has none (not activated).
	Admin *AdminStatus `json:"admin,omitempty"`
	// SyncingOn names the computer that syncs the mailbox while this agent
	// is on standby (State "Standby", docs/behaviour.md §5.5).
	SyncingOn string `json:"syncingOn,omitempty"`
	// Headline is the state as the tray's first line and the Sync Options
	// page's badge show it: the state, or "Syncing on COMPUTER" on
	// standby. With Reason it is the one text of a state both show.
	Headline string `json:"headline"`
	// Pacing is the Vantagepoint poll interval the fleet's budget allows,
	// and why (pacing.go).
	Pacing *PacingStatus `json:"pacing,omitempty"`
}

// Accounts are the two accounts of docs/behaviour.md §5.1's status object.
type Accounts struct {
	Microsoft    MicrosoftAccount    `json:"microsoft"`
	Vantagepoint VantagepointAccount `json:"vantagepoint"`
}

// MicrosoftAccount is the Microsoft 365 account as status shows it.
type MicrosoftAccount struct {
	User      string `json:"user"`
	Connected bool   `json:"connected"`
	// SignInNeeded is set when the credentials were refused: the user must
	// re-authorize this account.
	SignInNeeded bool   `json:"signInNeeded,omitempty"`
	Reason       string `json:"reason,omitempty"`
	// LastSuccess is when a batch last reached the service.
	LastSuccess *time.Time `json:"lastSuccess,omitempty"`
}

// VantagepointAccount is the Vantagepoint account as status shows it.
type VantagepointAccount struct {
	URL          string     `json:"url"`
	Database     string     `json:"database"`
	Employee     string     `json:"employee"`
	Connected    bool       `json:"connected"`
	SignInNeeded bool       `json:"signInNeeded,omitempty"`
	Reason       string     `json:"reason,omitempty"`
	LastSuccess  *time.Time `json:"lastSuccess,omitempty"`
}
