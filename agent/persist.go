package agent

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"time"

	"vpconnect/agent/config"
	"vpconnect/syncer/store"
)

// agentStateFile keeps the little the agent itself must remember across
// restarts: the user's pause. A user who paused sync expects it to stay
// paused after a reboot.
const agentStateFile = "agent.json"

type persisted struct {
	Paused bool `json:"paused"`
	// AdminDisabled: the administrator's switch in Vantagepoint stopped
	// sync (docs/behaviour.md §5.5); kept so that a restart does not sync once before
	// the switch is read again.
	AdminDisabled bool `json:"adminDisabled,omitempty"`
	// FleetSize is the fleet last counted in the agents hub, at
	// FleetCounted (pacing.go): counted at most once a day.
	FleetSize    int       `json:"fleetSize,omitempty"`
	FleetCounted time.Time `json:"fleetCounted,omitzero"`
	// AgentID names this agent in the mailbox's lease: made once, so that
	// a restarted agent knows its own lease.
	AgentID string `json:"agentId,omitempty"`
}

func (a *Agent) loadPersisted() persisted {
	if a.opts.DataDir == "" {
		return persisted{}
	}
	b, err := os.ReadFile(filepath.Join(a.opts.DataDir, agentStateFile))
	if err != nil {
		return persisted{}
	}
	var p persisted
	if json.Unmarshal(b, &p) != nil {
		a.log.Warn("ignoring an unreadable agent state file", "file", agentStateFile)
		return persisted{}
	}
	return p
}

// save keeps the loop's pause and administrator's switch.
func (l *loop) save() error {
	if l.a.opts.DataDir == "" {
		return nil
	}
	b, _ := json.Marshal(persisted{Paused: l.paused, AdminDisabled: l.adminDisabled, FleetSize: l.pace.counted, FleetCounted: l.pace.countedAt,
		AgentID: l.agentID})
	return config.WriteFile(l.a.opts.DataDir, agentStateFile, b)
}

// StoreHistory reads batches and issues from the state store.
func StoreHistory(st *store.Store) History { return storeHistory{st} }

type storeHistory struct{ st *store.Store }

func (h storeHistory) LastBatch(ctx context.Context) (b store.Batch, ok bool, err error) {
	err = h.st.View(ctx, func(tx *store.Tx) error {
		b, ok, err = tx.LastBatch()
		return err
	})
	return b, ok, err
}

func (h storeHistory) OpenIssues(ctx context.Context) (is []store.Issue, err error) {
	err = h.st.View(ctx, func(tx *store.Tx) error {
		is, err = tx.OpenIssues()
		return err
	})
	return is, err
}

func (h storeHistory) Batches(ctx context.Context, since time.Time) (bs []store.Batch, err error) {
	err = h.st.View(ctx, func(tx *store.Tx) error {
		bs, err = tx.Batches(since)
		return err
	})
	return bs, err
}
