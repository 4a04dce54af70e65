package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"

	_ "modernc.org/sqlite" // the pure-Go SQLite driver: no cgo, so cross-builds stay simple
)

// ErrCorrupt means the state file is not a readable SQLite database. The
// caller decides whether to Recreate it: the engine then re-pairs items by
// their natural keys instead of creating them again.
var ErrCorrupt = errors.New("the sync state database is corrupt")

// Store is the sync state of one mailbox/employee pair. All writes go through
// Update, one transaction at a time.
type Store struct {
	db   *sql.DB
	path string
}

// Open opens (creating if needed) the state database at path, brings its
// schema up to date, and checks that it is readable. The file and its WAL
// companions are private to the user (0600) in a 0700 directory.
func Open(path string) (*Store, error) {
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, fmt.Errorf("create the state directory: %w", err)
	}
	// Create the file ourselves so that it is 0600 from its first byte;
	// SQLite gives the -wal and -shm files the database file's mode.
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("open the state database %s: %w", path, err)
	}
	f.Close()
	if err := os.Chmod(path, 0o600); err != nil {
		return nil, fmt.Errorf("restrict the state database %s: %w", path, err)
	}
	dsn := "file:" + (&url.URL{Path: path}).EscapedPath() +
		"?_pragma=busy_timeout(5000)&_pragma=journal_mode(WAL)&_pragma=foreign_keys(1)&_pragma=synchronous(NORMAL)&_txlock=immediate"
	db, err := sql.Open("sqlite", dsn)
	if err != nil {
		return nil, fmt.Errorf("open the state database %s: %w", path, err)
	}
	// One connection: SQLite has one writer anyway, and a single connection
	// keeps read-your-writes trivially true for the engine's goroutine.
	db.SetMaxOpenConns(1)
	s := &Store{db: db, path: path}
	if err := s.check(); err != nil {
		db.Close()
		return nil, err
	}
	if err := s.migrate(); err != nil {
		db.Close()
		if isCorrupt(err) {
			return nil, fmt.Errorf("%s: %w (%v)", path, ErrCorrupt, err)
		}
		return nil, err
	}
	return s, nil
}

// Recreate moves a corrupt state database aside (keeping it for support,
// as <path>.corrupt-<time>) and opens a fresh one.
func Recreate(path string) (*Store, error) {
	aside := fmt.Sprintf("%s.corrupt-%s", path, time.Now().UTC().Format("20060102T150405"))
	for _, suffix := range []string{"", "-wal", "-shm"} {
		if err := os.Rename(path+suffix, aside+suffix); err != nil && !errors.Is(err, os.ErrNotExist) {
			return nil, fmt.Errorf("move the corrupt state database aside: %w", err)
		}
	}
	return Open(path)
}

func (s *Store) check() error {
	var res string
	if err := s.db.QueryRow("PRAGMA quick_check").Scan(&res); err != nil {
		if isCorrupt(err) {
			return fmt.Errorf("%s: %w (%v)", s.path, ErrCorrupt, err)
		}
		return fmt.Errorf("check the state database %s: %w", s.path, err)
	}
	if res != "ok" {
		return fmt.Errorf("%s: %w (%s)", s.path, ErrCorrupt, res)
	}
	return nil
}

func isCorrupt(err error) bool {
	msg := strings.ToLower(err.Error())
	return strings.Contains(msg, "not a database") || strings.Contains(msg, "malformed") || strings.Contains(msg, "corrupt")
}

// Path is the file the store lives in.
func (s *Store) Path() string { return s.path }

// Close closes the database.
func (s *Store) Close() error { return s.db.Close() }

// Tx is one transaction over the state. Its methods are only valid inside
// the function given to Update or View.
type Tx struct {
	tx       *sql.Tx
	readOnly bool
}

// Update runs fn in one write transaction: everything fn writes commits
// together, or nothing does when fn returns an error. Network calls do not
// belong inside fn: they would hold the writer lock.
func (s *Store) Update(ctx context.Context, fn func(*Tx) error) error {
	return s.run(ctx, false, fn)
}

// View runs fn in a read transaction.
func (s *Store) View(ctx context.Context, fn func(*Tx) error) error {
	return s.run(ctx, true, fn)
}

func (s *Store) run(ctx context.Context, readOnly bool, fn func(*Tx) error) error {
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("begin a state transaction: %w", err)
	}
	if err := fn(&Tx{tx: tx, readOnly: readOnly}); err != nil {
		tx.Rollback()
		return err
	}
	if readOnly {
		return tx.Rollback()
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("commit the sync state: %w", err)
	}
	return nil
}

func (t *Tx) exec(query string, args ...any) (sql.Result, error) {
	if t.readOnly {
		return nil, errors.New("store: write in a read-only transaction")
	}
	return t.tx.Exec(query, args...)
}

// Times are stored as RFC 3339 text in UTC so that the file stays readable
// with the sqlite3 shell and sorts correctly as text.
func fmtTime(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format(time.RFC3339Nano)
}

func parseTime(s string) time.Time {
	if s == "" {
		return time.Time{}
	}
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return time.Time{}
	}
	return t
}

// Meta returns a named value of the state ("" when unset).
func (t *Tx) Meta(key string) (string, error) {
	var v string
	err := t.tx.QueryRow(`SELECT value FROM meta WHERE key = ?`, key).Scan(&v)
	if errors.Is(err, sql.ErrNoRows) {
		return "", nil
	}
	if err != nil {
		return "", fmt.Errorf("read state %q: %w", key, err)
	}
	return v, nil
}

// SetMeta sets a named value of the state; "" deletes it.
func (t *Tx) SetMeta(key, value string) error {
	var err error
	if value == "" {
		_, err = t.exec(`DELETE FROM meta WHERE key = ?`, key)
	} else {
		_, err = t.exec(`INSERT INTO meta(key, value) VALUES(?, ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value`, key, value)
	}
	if err != nil {
		return fmt.Errorf("write state %q: %w", key, err)
	}
	return nil
}

// Cursor returns the saved position of a listing (a Graph delta link, a
// Vantagepoint ModDate), or "" to list from the start.
func (t *Tx) Cursor(key string) (string, error) {
	var v string
	err := t.tx.QueryRow(`SELECT value FROM cursors WHERE key = ?`, key).Scan(&v)
	if errors.Is(err, sql.ErrNoRows) {
		return "", nil
	}
	if err != nil {
		return "", fmt.Errorf("read cursor %q: %w", key, err)
	}
	return v, nil
}

// SetCursor saves the position of a listing.
func (t *Tx) SetCursor(key, value string, at time.Time) error {
	_, err := t.exec(`INSERT INTO cursors(key, value, updated) VALUES(?, ?, ?)
		ON CONFLICT(key) DO UPDATE SET value = excluded.value, updated = excluded.updated`, key, value, fmtTime(at))
	if err != nil {
		return fmt.Errorf("save cursor %q: %w", key, err)
	}
	return nil
}

// DeleteCursor forgets the position of a listing, so the next one is full.
func (t *Tx) DeleteCursor(key string) error {
	if _, err := t.exec(`DELETE FROM cursors WHERE key = ?`, key); err != nil {
		return fmt.Errorf("forget cursor %q: %w", key, err)
	}
	return nil
}
