package store

import (
	"fmt"
)

// migrations are the schema, one numbered step each, applied in order.
// PRAGMA user_version records how many have run. Never edit a step that has
// shipped: add a new one.
var migrations = []string{
	// 1: the first schema.
	`
CREATE TABLE meta (
	key   TEXT PRIMARY KEY,
	value TEXT NOT NULL
);
-- Positions of listings: Graph delta links, Vantagepoint ModDate marks.
CREATE TABLE cursors (
	key     TEXT PRIMARY KEY,
	value   TEXT NOT NULL,
	updated TEXT NOT NULL
);
-- One row per e-mail (by internetMessageId, so a copy in another folder is
-- the same e-mail) that the engine selected.
CREATE TABLE emails (
	internet_message_id TEXT PRIMARY KEY,
	message_id          TEXT NOT NULL,
	state               TEXT NOT NULL CHECK (state IN ('pending', 'synced', 'failed', 'gone')),
	activity_id         TEXT NOT NULL DEFAULT '',
	reason              TEXT NOT NULL DEFAULT '',
	attempts            INTEGER NOT NULL DEFAULT 0,
	updated             TEXT NOT NULL
);
CREATE INDEX emails_by_state ON emails(state);
-- The changeKey each message had right after the agent's own write, so that
-- the next delta round does not take the agent's write for the user's.
CREATE TABLE agent_writes (
	message_id TEXT PRIMARY KEY,
	change_key TEXT NOT NULL
);
-- E-mails the add-in asked to file, with the records to link.
CREATE TABLE tracks (
	message_id  TEXT PRIMARY KEY,
	project     TEXT NOT NULL DEFAULT '',
	opportunity TEXT NOT NULL DEFAULT '',
	contact     TEXT NOT NULL DEFAULT '',
	firm        TEXT NOT NULL DEFAULT '',
	state       TEXT NOT NULL CHECK (state IN ('queued', 'synced', 'failed')),
	activity_id TEXT NOT NULL DEFAULT '',
	reason      TEXT NOT NULL DEFAULT '',
	requested   TEXT NOT NULL
);
-- Pairs of items that are the same thing on both sides (contacts, events).
CREATE TABLE pairings (
	type            TEXT NOT NULL,
	mailbox_id      TEXT NOT NULL,
	vp_id           TEXT NOT NULL,
	mailbox_version TEXT NOT NULL DEFAULT '',
	vp_version      TEXT NOT NULL DEFAULT '',
	hash            TEXT NOT NULL DEFAULT '',
	origin          TEXT NOT NULL DEFAULT '',
	updated         TEXT NOT NULL,
	PRIMARY KEY (type, mailbox_id),
	UNIQUE (type, vp_id)
);
-- Writes announced before they are sent, so that after a crash the engine
-- looks for them by natural key instead of sending them twice.
CREATE TABLE journal (
	id          INTEGER PRIMARY KEY AUTOINCREMENT,
	type        TEXT NOT NULL,
	op          TEXT NOT NULL,
	natural_key TEXT NOT NULL,
	payload     TEXT NOT NULL DEFAULT '',
	created     TEXT NOT NULL
);
CREATE TABLE batches (
	id       INTEGER PRIMARY KEY AUTOINCREMENT,
	trigger  TEXT NOT NULL,
	started  TEXT NOT NULL,
	finished TEXT NOT NULL DEFAULT '',
	outcome  TEXT NOT NULL DEFAULT '',
	record   TEXT NOT NULL DEFAULT ''
);
CREATE INDEX batches_by_started ON batches(started);
-- Open issues: an item that failed, kept until it succeeds.
CREATE TABLE issues (
	type       TEXT NOT NULL,
	side       TEXT NOT NULL,
	item       TEXT NOT NULL,
	reason     TEXT NOT NULL,
	attempts   INTEGER NOT NULL,
	first_seen TEXT NOT NULL,
	last_seen  TEXT NOT NULL,
	PRIMARY KEY (type, side, item)
);
`,
	// 2: the changeKey of the mailbox item as last synced, the version an
	// update of it is based on (sent as If-Match).
	`ALTER TABLE pairings ADD COLUMN mailbox_change_key TEXT NOT NULL DEFAULT '';`,
	// 3: the contact index, a cache of the Vantagepoint contacts that have
	// an e-mail address (what links e-mails and attendees to contacts),
	// kept between batches and brought up to date by ModDate listings. Its
	// marks (the latest ModDate seen, when it was last listed in full) are
	// meta values, written in the same transaction as its rows.
	`
CREATE TABLE contact_index (
	contact_id TEXT PRIMARY KEY,
	email_key  TEXT NOT NULL,            -- the e-mail, trimmed and lower-cased
	client_id  TEXT NOT NULL DEFAULT '',
	first_name TEXT NOT NULL DEFAULT '',
	last_name  TEXT NOT NULL DEFAULT '',
	email      TEXT NOT NULL DEFAULT '', -- as Vantagepoint has it
	status     TEXT NOT NULL DEFAULT '',
	mod_date   TEXT NOT NULL DEFAULT ''
);
CREATE INDEX contact_index_by_email ON contact_index(email_key);
`,
}

// SchemaVersion is the number of migrations this build knows.
func SchemaVersion() int { return len(migrations) }

// migrate applies the pending migrations in one transaction: a crash in the
// middle leaves the previous schema, never half of the next.
func (s *Store) migrate() error {
	tx, err := s.db.Begin()
	if err != nil {
		return fmt.Errorf("begin the schema migration: %w", err)
	}
	defer tx.Rollback()
	var version int
	if err := tx.QueryRow(`PRAGMA user_version`).Scan(&version); err != nil {
		return fmt.Errorf("read the schema version: %w", err)
	}
	if version > len(migrations) {
		return fmt.Errorf("the state database %s has schema version %d, newer than this vpconnect (%d): update vpconnect", s.path, version, len(migrations))
	}
	for i := version; i < len(migrations); i++ {
		if _, err := tx.Exec(migrations[i]); err != nil {
			return fmt.Errorf("migrate the state database to schema version %d: %w", i+1, err)
		}
	}
	if version == len(migrations) {
		return nil
	}
	// PRAGMA does not take parameters; the value is our own integer.
	if _, err := tx.Exec(fmt.Sprintf(`PRAGMA user_version = %d`, len(migrations))); err != nil {
		return fmt.Errorf("record the schema version: %w", err)
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("commit the schema migration: %w", err)
	}
	return nil
}
