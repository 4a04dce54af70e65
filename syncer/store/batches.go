package store

import (
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"time"
)

// Batch is the record of one sync run. Its JSON form is the batch object of
// docs/behaviour.md §5.1: field names are a contract with scripts and the add-in, so they
// may be added to, never renamed.
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

// Issue is an item that failed, kept open until it succeeds.
type Issue struct {
	Type      string    `json:"type"`
	Side      string    `json:"side"`
	Item      string    `json:"item"`
	Reason    string    `json:"reason"`
	Attempts  int       `json:"attempts"`
	FirstSeen time.Time `json:"firstSeen"`
}

// StartBatch records that a batch started and returns its id.
func (t *Tx) StartBatch(trigger string, started time.Time) (int64, error) {
	res, err := t.exec(`INSERT INTO batches(trigger, started) VALUES(?, ?)`, trigger, fmtTime(started))
	if err != nil {
		return 0, fmt.Errorf("record the start of a batch: %w", err)
	}
	return res.LastInsertId()
}

// FinishBatch records the outcome of a batch started with StartBatch.
func (t *Tx) FinishBatch(b Batch) error {
	rec, err := json.Marshal(b)
	if err != nil {
		return fmt.Errorf("encode batch %d: %w", b.ID, err)
	}
	res, err := t.exec(`UPDATE batches SET finished = ?, outcome = ?, record = ? WHERE id = ?`,
		fmtTime(b.Finished), b.Outcome, string(rec), b.ID)
	if err != nil {
		return fmt.Errorf("record batch %d: %w", b.ID, err)
	}
	if n, _ := res.RowsAffected(); n != 1 {
		return fmt.Errorf("record batch %d: no such batch", b.ID)
	}
	return nil
}

func scanBatch(r scanner) (Batch, error) {
	var b Batch
	var started, finished, rec string
	if err := r.Scan(&b.ID, &b.Trigger, &started, &finished, &b.Outcome, &rec); err != nil {
		return Batch{}, err
	}
	if rec != "" {
		if err := json.Unmarshal([]byte(rec), &b); err != nil {
			return Batch{}, fmt.Errorf("decode batch %d: %w", b.ID, err)
		}
		return b, nil
	}
	// A batch that never finished (the process stopped during it).
	b.Started, b.Finished = parseTime(started), parseTime(finished)
	return b, nil
}

const batchColumns = `id, trigger, started, finished, outcome, record`

// Batch reads one batch.
func (t *Tx) Batch(id int64) (Batch, bool, error) {
	b, err := scanBatch(t.tx.QueryRow(`SELECT `+batchColumns+` FROM batches WHERE id = ?`, id))
	if errors.Is(err, sql.ErrNoRows) {
		return Batch{}, false, nil
	}
	if err != nil {
		return Batch{}, false, fmt.Errorf("read batch %d: %w", id, err)
	}
	return b, true, nil
}

// LastBatch reads the most recent finished batch.
func (t *Tx) LastBatch() (Batch, bool, error) {
	b, err := scanBatch(t.tx.QueryRow(`SELECT ` + batchColumns + ` FROM batches WHERE finished != '' ORDER BY id DESC LIMIT 1`))
	if errors.Is(err, sql.ErrNoRows) {
		return Batch{}, false, nil
	}
	if err != nil {
		return Batch{}, false, fmt.Errorf("read the last batch: %w", err)
	}
	return b, true, nil
}

// Batches lists the batches started at or after since, newest first.
func (t *Tx) Batches(since time.Time) ([]Batch, error) {
	rows, err := t.tx.Query(`SELECT `+batchColumns+` FROM batches WHERE started >= ? ORDER BY id DESC`, fmtTime(since))
	if err != nil {
		return nil, fmt.Errorf("list batches: %w", err)
	}
	defer rows.Close()
	var out []Batch
	for rows.Next() {
		b, err := scanBatch(rows)
		if err != nil {
			return nil, fmt.Errorf("list batches: %w", err)
		}
		out = append(out, b)
	}
	return out, rows.Err()
}

// PruneBatches deletes the batches started before a time (docs/behaviour.md §3 keeps 30
// days) and returns how many went.
func (t *Tx) PruneBatches(before time.Time) (int64, error) {
	res, err := t.exec(`DELETE FROM batches WHERE started < ?`, fmtTime(before))
	if err != nil {
		return 0, fmt.Errorf("prune old batches: %w", err)
	}
	return res.RowsAffected()
}

// RecordIssue opens an issue or, when it is already open, counts one more
// attempt and takes the latest reason. It returns the issue as stored.
func (t *Tx) RecordIssue(i Issue, at time.Time) (Issue, error) {
	_, err := t.exec(`INSERT INTO issues(type, side, item, reason, attempts, first_seen, last_seen) VALUES(?, ?, ?, ?, 1, ?, ?)
		ON CONFLICT(type, side, item) DO UPDATE SET reason = excluded.reason, attempts = attempts + 1, last_seen = excluded.last_seen`,
		i.Type, i.Side, i.Item, i.Reason, fmtTime(at), fmtTime(at))
	if err != nil {
		return Issue{}, fmt.Errorf("record the issue of %s %s: %w", i.Type, i.Item, err)
	}
	var first string
	if err := t.tx.QueryRow(`SELECT attempts, first_seen FROM issues WHERE type = ? AND side = ? AND item = ?`,
		i.Type, i.Side, i.Item).Scan(&i.Attempts, &first); err != nil {
		return Issue{}, fmt.Errorf("read the issue of %s %s: %w", i.Type, i.Item, err)
	}
	i.FirstSeen = parseTime(first)
	return i, nil
}

// ResolveIssue closes an issue whose item now synced.
func (t *Tx) ResolveIssue(typ, side, item string) error {
	if _, err := t.exec(`DELETE FROM issues WHERE type = ? AND side = ? AND item = ?`, typ, side, item); err != nil {
		return fmt.Errorf("close the issue of %s %s: %w", typ, item, err)
	}
	return nil
}

// OpenIssues lists the open issues, oldest first.
func (t *Tx) OpenIssues() ([]Issue, error) {
	rows, err := t.tx.Query(`SELECT type, side, item, reason, attempts, first_seen FROM issues ORDER BY first_seen, item`)
	if err != nil {
		return nil, fmt.Errorf("list open issues: %w", err)
	}
	defer rows.Close()
	var out []Issue
	for rows.Next() {
		var i Issue
		var first string
		if err := rows.Scan(&i.Type, &i.Side, &i.Item, &i.Reason, &i.Attempts, &first); err != nil {
			return nil, fmt.Errorf("list open issues: %w", err)
		}
		i.FirstSeen = parseTime(first)
		out = append(out, i)
	}
	return out, rows.Err()
}
