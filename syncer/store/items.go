package store

import (
	"database/sql"
	"errors"
	"fmt"
	"time"
)

// EmailState is where an e-mail stands on its way to Vantagepoint.
type EmailState string

// E-mail states.
const (
	// EmailPending: the activity create was journaled and may or may not
	// have reached Vantagepoint.
	EmailPending EmailState = "pending"
	// EmailSynced: the activity exists.
	EmailSynced EmailState = "synced"
	// EmailFailed: the last attempt failed; the next batch retries.
	EmailFailed EmailState = "failed"
	// EmailGone: the message was deleted before its activity could be
	// created; nothing is left to retry.
	EmailGone EmailState = "gone"
)

// Email is the state of one selected e-mail, keyed by internetMessageId so
// that the same e-mail in two folders is one activity.
type Email struct {
	InternetMessageID string
	MessageID         string
	State             EmailState
	ActivityID        string
	Reason            string
	Attempts          int
	Updated           time.Time
}

// Email returns the state of an e-mail; ok is false when it was never
// selected.
func (t *Tx) Email(internetMessageID string) (e Email, ok bool, err error) {
	row := t.tx.QueryRow(`SELECT internet_message_id, message_id, state, activity_id, reason, attempts, updated
		FROM emails WHERE internet_message_id = ?`, internetMessageID)
	e, err = scanEmail(row)
	if errors.Is(err, sql.ErrNoRows) {
		return Email{}, false, nil
	}
	if err != nil {
		return Email{}, false, fmt.Errorf("read e-mail %s: %w", internetMessageID, err)
	}
	return e, true, nil
}

type scanner interface{ Scan(...any) error }

func scanEmail(r scanner) (Email, error) {
	var e Email
	var state, updated string
	err := r.Scan(&e.InternetMessageID, &e.MessageID, &state, &e.ActivityID, &e.Reason, &e.Attempts, &updated)
	e.State, e.Updated = EmailState(state), parseTime(updated)
	return e, err
}

// PutEmail saves the state of an e-mail.
func (t *Tx) PutEmail(e Email) error {
	_, err := t.exec(`INSERT INTO emails(internet_message_id, message_id, state, activity_id, reason, attempts, updated)
		VALUES(?, ?, ?, ?, ?, ?, ?)
		ON CONFLICT(internet_message_id) DO UPDATE SET message_id = excluded.message_id, state = excluded.state,
			activity_id = excluded.activity_id, reason = excluded.reason, attempts = excluded.attempts, updated = excluded.updated`,
		e.InternetMessageID, e.MessageID, string(e.State), e.ActivityID, e.Reason, e.Attempts, fmtTime(e.Updated))
	if err != nil {
		return fmt.Errorf("save e-mail %s: %w", e.InternetMessageID, err)
	}
	return nil
}

// EmailsIn lists the e-mails in one of the given states, oldest first.
func (t *Tx) EmailsIn(states ...EmailState) ([]Email, error) {
	var out []Email
	for _, st := range states {
		rows, err := t.tx.Query(`SELECT internet_message_id, message_id, state, activity_id, reason, attempts, updated
			FROM emails WHERE state = ? ORDER BY updated`, string(st))
		if err != nil {
			return nil, fmt.Errorf("list %s e-mails: %w", st, err)
		}
		for rows.Next() {
			e, err := scanEmail(rows)
			if err != nil {
				rows.Close()
				return nil, fmt.Errorf("list %s e-mails: %w", st, err)
			}
			out = append(out, e)
		}
		if err := rows.Close(); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// AgentChangeKey returns the changeKey a message had right after the agent
// last wrote to it ("" when the agent never did).
func (t *Tx) AgentChangeKey(messageID string) (string, error) {
	var v string
	err := t.tx.QueryRow(`SELECT change_key FROM agent_writes WHERE message_id = ?`, messageID).Scan(&v)
	if errors.Is(err, sql.ErrNoRows) {
		return "", nil
	}
	if err != nil {
		return "", fmt.Errorf("read the agent's write to %s: %w", messageID, err)
	}
	return v, nil
}

// SetAgentChangeKey records the changeKey the agent's own write produced.
func (t *Tx) SetAgentChangeKey(messageID, changeKey string) error {
	_, err := t.exec(`INSERT INTO agent_writes(message_id, change_key) VALUES(?, ?)
		ON CONFLICT(message_id) DO UPDATE SET change_key = excluded.change_key`, messageID, changeKey)
	if err != nil {
		return fmt.Errorf("record the agent's write to %s: %w", messageID, err)
	}
	return nil
}

// TrackState is where a track request of the add-in stands.
type TrackState string

// Track states.
const (
	TrackQueued TrackState = "queued"
	TrackSynced TrackState = "synced"
	TrackFailed TrackState = "failed"
)

// Track is the add-in's request to file one e-mail, with the records to
// link the activity to.
type Track struct {
	MessageID   string
	Project     string
	Opportunity string
	Contact     string
	Firm        string
	State       TrackState
	ActivityID  string
	Reason      string
	Requested   time.Time
}

const trackColumns = `message_id, project, opportunity, contact, firm, state, activity_id, reason, requested`

func scanTrack(r scanner) (Track, error) {
	var tr Track
	var state, requested string
	err := r.Scan(&tr.MessageID, &tr.Project, &tr.Opportunity, &tr.Contact, &tr.Firm, &state, &tr.ActivityID, &tr.Reason, &requested)
	tr.State, tr.Requested = TrackState(state), parseTime(requested)
	return tr, err
}

// PutTrack saves a track request.
func (t *Tx) PutTrack(tr Track) error {
	_, err := t.exec(`INSERT INTO tracks(`+trackColumns+`) VALUES(?, ?, ?, ?, ?, ?, ?, ?, ?)
		ON CONFLICT(message_id) DO UPDATE SET project = excluded.project, opportunity = excluded.opportunity,
			contact = excluded.contact, firm = excluded.firm, state = excluded.state,
			activity_id = excluded.activity_id, reason = excluded.reason, requested = excluded.requested`,
		tr.MessageID, tr.Project, tr.Opportunity, tr.Contact, tr.Firm, string(tr.State), tr.ActivityID, tr.Reason, fmtTime(tr.Requested))
	if err != nil {
		return fmt.Errorf("save the track request for %s: %w", tr.MessageID, err)
	}
	return nil
}

// Track returns the track request for a message.
func (t *Tx) Track(messageID string) (Track, bool, error) {
	tr, err := scanTrack(t.tx.QueryRow(`SELECT `+trackColumns+` FROM tracks WHERE message_id = ?`, messageID))
	if errors.Is(err, sql.ErrNoRows) {
		return Track{}, false, nil
	}
	if err != nil {
		return Track{}, false, fmt.Errorf("read the track request for %s: %w", messageID, err)
	}
	return tr, true, nil
}

// DeleteTrack forgets a track request.
func (t *Tx) DeleteTrack(messageID string) error {
	if _, err := t.exec(`DELETE FROM tracks WHERE message_id = ?`, messageID); err != nil {
		return fmt.Errorf("forget the track request for %s: %w", messageID, err)
	}
	return nil
}

// QueuedTracks lists the track requests still to do, oldest first.
func (t *Tx) QueuedTracks() ([]Track, error) {
	rows, err := t.tx.Query(`SELECT ` + trackColumns + ` FROM tracks WHERE state IN ('queued', 'failed') ORDER BY requested`)
	if err != nil {
		return nil, fmt.Errorf("list track requests: %w", err)
	}
	defer rows.Close()
	var out []Track
	for rows.Next() {
		tr, err := scanTrack(rows)
		if err != nil {
			return nil, fmt.Errorf("list track requests: %w", err)
		}
		out = append(out, tr)
	}
	return out, rows.Err()
}

// Pairing says that a mailbox item and a Vantagepoint record are the same
// thing, with the versions and content hash last synced.
type Pairing struct {
	Type           string
	MailboxID      string
	VPID           string
	MailboxVersion string
	VPVersion      string
	Hash           string
	// MailboxChangeKey is the mailbox item's changeKey as last synced: the
	// version an update of it is based on. Empty in pairings saved before
	// it was kept, which are then updated unconditionally once.
	MailboxChangeKey string
	// Origin is the side the item was first created on; a deletion of the
	// copy only unlinks the original (docs/behaviour.md §4.4).
	Origin  string
	Updated time.Time
}

const pairingColumns = `type, mailbox_id, vp_id, mailbox_version, vp_version, hash, origin, updated, mailbox_change_key`

func scanPairing(r scanner) (Pairing, error) {
	var p Pairing
	var updated string
	err := r.Scan(&p.Type, &p.MailboxID, &p.VPID, &p.MailboxVersion, &p.VPVersion, &p.Hash, &p.Origin, &updated, &p.MailboxChangeKey)
	p.Updated = parseTime(updated)
	return p, err
}

// PutPairing saves a pairing, replacing any pairing of either item.
func (t *Tx) PutPairing(p Pairing) error {
	if _, err := t.exec(`DELETE FROM pairings WHERE type = ? AND (mailbox_id = ? OR vp_id = ?)`, p.Type, p.MailboxID, p.VPID); err != nil {
		return fmt.Errorf("replace the pairing of %s %s: %w", p.Type, p.MailboxID, err)
	}
	_, err := t.exec(`INSERT INTO pairings(`+pairingColumns+`) VALUES(?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		p.Type, p.MailboxID, p.VPID, p.MailboxVersion, p.VPVersion, p.Hash, p.Origin, fmtTime(p.Updated), p.MailboxChangeKey)
	if err != nil {
		return fmt.Errorf("save the pairing of %s %s: %w", p.Type, p.MailboxID, err)
	}
	return nil
}

// PairingByMailbox finds the pairing of a mailbox item.
func (t *Tx) PairingByMailbox(typ, mailboxID string) (Pairing, bool, error) {
	return t.pairing(`SELECT `+pairingColumns+` FROM pairings WHERE type = ? AND mailbox_id = ?`, typ, mailboxID)
}

// PairingByVP finds the pairing of a Vantagepoint record.
func (t *Tx) PairingByVP(typ, vpID string) (Pairing, bool, error) {
	return t.pairing(`SELECT `+pairingColumns+` FROM pairings WHERE type = ? AND vp_id = ?`, typ, vpID)
}

func (t *Tx) pairing(query, typ, id string) (Pairing, bool, error) {
	p, err := scanPairing(t.tx.QueryRow(query, typ, id))
	if errors.Is(err, sql.ErrNoRows) {
		return Pairing{}, false, nil
	}
	if err != nil {
		return Pairing{}, false, fmt.Errorf("read the pairing of %s %s: %w", typ, id, err)
	}
	return p, true, nil
}

// DeletePairing forgets the pairing of a mailbox item.
func (t *Tx) DeletePairing(typ, mailboxID string) error {
	if _, err := t.exec(`DELETE FROM pairings WHERE type = ? AND mailbox_id = ?`, typ, mailboxID); err != nil {
		return fmt.Errorf("forget the pairing of %s %s: %w", typ, mailboxID, err)
	}
	return nil
}

// Pairings calls fn for every pairing of a type, streaming them.
func (t *Tx) Pairings(typ string, fn func(Pairing) error) error {
	rows, err := t.tx.Query(`SELECT `+pairingColumns+` FROM pairings WHERE type = ? ORDER BY mailbox_id`, typ)
	if err != nil {
		return fmt.Errorf("list %s pairings: %w", typ, err)
	}
	defer rows.Close()
	for rows.Next() {
		p, err := scanPairing(rows)
		if err != nil {
			return fmt.Errorf("list %s pairings: %w", typ, err)
		}
		if err := fn(p); err != nil {
			return err
		}
	}
	return rows.Err()
}

// CountPairings counts the pairings of a type.
func (t *Tx) CountPairings(typ string) (int, error) {
	var n int
	if err := t.tx.QueryRow(`SELECT count(*) FROM pairings WHERE type = ?`, typ).Scan(&n); err != nil {
		return 0, fmt.Errorf("count %s pairings: %w", typ, err)
	}
	return n, nil
}

// JournalEntry is a write announced before it is sent to a service.
type JournalEntry struct {
	ID   int64
	Type string // item type, e.g. "emails"
	Op   string // "create", "update", "delete"
	// Key is the natural key the write can be found by after a crash.
	Key     string
	Payload string
	Created time.Time
}

// AddJournal records a write about to be sent and returns its id.
func (t *Tx) AddJournal(e JournalEntry) (int64, error) {
	res, err := t.exec(`INSERT INTO journal(type, op, natural_key, payload, created) VALUES(?, ?, ?, ?, ?)`,
		e.Type, e.Op, e.Key, e.Payload, fmtTime(e.Created))
	if err != nil {
		return 0, fmt.Errorf("journal the %s of %s %s: %w", e.Op, e.Type, e.Key, err)
	}
	return res.LastInsertId()
}

// DeleteJournal removes a write that is known to have happened or not.
func (t *Tx) DeleteJournal(id int64) error {
	if _, err := t.exec(`DELETE FROM journal WHERE id = ?`, id); err != nil {
		return fmt.Errorf("clear journal entry %d: %w", id, err)
	}
	return nil
}

// Journal lists the writes whose outcome is unknown, oldest first.
func (t *Tx) Journal() ([]JournalEntry, error) {
	rows, err := t.tx.Query(`SELECT id, type, op, natural_key, payload, created FROM journal ORDER BY id`)
	if err != nil {
		return nil, fmt.Errorf("read the journal: %w", err)
	}
	defer rows.Close()
	var out []JournalEntry
	for rows.Next() {
		var e JournalEntry
		var created string
		if err := rows.Scan(&e.ID, &e.Type, &e.Op, &e.Key, &e.Payload, &created); err != nil {
			return nil, fmt.Errorf("read the journal: %w", err)
		}
		e.Created = parseTime(created)
		out = append(out, e)
	}
	return out, rows.Err()
}
