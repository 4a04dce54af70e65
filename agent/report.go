package agent

import (
	"time"

	"vpconnect/syncer/store"
)

// The batch as the agent reports it: in its status (`status --json`,
// GET /v1/status), in the answer of a batch asked for (`sync --json`,
// POST /v1/sync) and in the Sync Options page. These are the loopback
// API's and the command line's own types: their JSON field names are a
// contract (docs/behaviour.md §5.1) and are never renamed, whatever the
// state store keeps.

// Batch is one batch: when and why it ran, how it ended, what it did per
// item type, the requests it made to each service and its issues.
type Batch struct {
	ID       int64             `json:"id"`
	Trigger  string            `json:"trigger"`
	Started  time.Time         `json:"started"`
	Finished time.Time         `json:"finished"`
	Outcome  string            `json:"outcome"`
	Counts   map[string]Counts `json:"counts"`
	Requests map[string]int64  `json:"requests"`
	Issues   []Issue           `json:"issues"`
	// Error says why a failed batch failed as a whole.
	Error string `json:"error,omitempty"`
}

// Counts are what a batch did with one item type.
type Counts struct {
	Scanned  int `json:"scanned"`
	Created  int `json:"created"`
	Updated  int `json:"updated"`
	Deleted  int `json:"deleted"`
	Unlinked int `json:"unlinked"`
	Skipped  int `json:"skipped"`
	Failed   int `json:"failed"`
}

// Issue is an item that failed, retried every batch until it succeeds.
type Issue struct {
	Type      string    `json:"type"`
	Side      string    `json:"side"`
	Item      string    `json:"item"`
	Reason    string    `json:"reason"`
	Attempts  int       `json:"attempts"`
	FirstSeen time.Time `json:"firstSeen"`
}

// BatchReport is a batch of the state store as the agent reports it.
func BatchReport(b store.Batch) Batch {
	out := Batch{ID: b.ID, Trigger: b.Trigger, Started: b.Started, Finished: b.Finished, Outcome: b.Outcome,
		Counts: countsReport(b.Counts), Requests: map[string]int64{}, Issues: issuesReport(b.Issues), Error: b.Error}
	for k, v := range b.Requests {
		out.Requests[k] = v
	}
	return out
}

func countsReport(in map[string]store.Counts) map[string]Counts {
	out := make(map[string]Counts, len(in))
	for k, c := range in {
		out[k] = Counts(c)
	}
	return out
}

func issuesReport(in []store.Issue) []Issue {
	out := make([]Issue, 0, len(in))
	for _, i := range in {
		out = append(out, Issue(i))
	}
	return out
}
