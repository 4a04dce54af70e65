package auth

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// Record is what the keychain keeps of one account: the refresh token and
// who signed in where, nothing else. Access tokens are never stored.
type Record struct {
	// Account is Microsoft or Vantagepoint.
	Account string `json:"account"`
	// RefreshToken is the latest refresh token; it rotates.
	RefreshToken string `json:"refreshToken"`

	// User is the Microsoft 365 user principal name; Name the display name;
	// Tenant the directory (tenant) id.
	User   string `json:"user,omitempty"`
	Name   string `json:"name,omitempty"`
	Tenant string `json:"tenant,omitempty"`

	// URL, Database and Username say where and as whom Vantagepoint was
	// signed in to; Employee is the user's employee id there.
	URL      string `json:"url,omitempty"`
	Database string `json:"database,omitempty"`
	Username string `json:"username,omitempty"`
	Employee string `json:"employee,omitempty"`
	// Password is kept only when the administrator allows it
	// (VantagepointApp.KeepPassword), for signing in again unattended.
	Password string `json:"password,omitempty"`

	// Saved is when the record was last written.
	Saved time.Time `json:"saved"`
}

// Blob layout. The first entry, named after the account, starts with a
// header line "vpconnect1 <parts> <checksum>\n"; the record's JSON follows,
// continued in entries "<account>#1", "<account>#2", ... when it does not
// fit. The checksum (the first 16 hex digits of the SHA-256 of the JSON)
// catches parts that do not belong together: a crash between writing the
// parts and the header leaves the old header over new parts.
const (
	blobMagic = "vpconnect1"
	// maxParts bounds what a damaged or hostile header can make the reader
	// fetch: 16 entries is 40 KiB, far more than two refresh tokens need.
	maxParts = 16
	// headerRoom is the most a header line takes (two-digit part count).
	headerRoom = len(blobMagic) + 1 + 2 + 1 + 16 + 1
)

// ErrDamaged is a keychain record that cannot be read back: parts missing
// or mismatched, or not a vpconnect record at all.
var ErrDamaged = errors.New("the stored sign-in is damaged")

func partName(account string, i int) string {
	if i == 0 {
		return account
	}
	return account + "#" + strconv.Itoa(i)
}

func checksum(data string) string {
	h := sha256.Sum256([]byte(data))
	return hex.EncodeToString(h[:8])
}

// splitBlob cuts data into keychain entries of at most MaxEntrySize bytes,
// the first carrying the header. Cuts fall on UTF-8 boundaries, so that each
// entry is valid text on every backend.
func splitBlob(data string) ([]string, error) {
	var chunks []string
	rest := data
	room := MaxEntrySize - headerRoom
	for {
		if len(rest) <= room {
			chunks = append(chunks, rest)
			break
		}
		cut := room
		for cut > 0 && !utf8.RuneStart(rest[cut]) {
			cut--
		}
		chunks = append(chunks, rest[:cut])
		rest = rest[cut:]
		room = MaxEntrySize
	}
	if len(chunks) > maxParts {
		return nil, fmt.Errorf("a record of %d bytes needs %d keychain entries, more than %d", len(data), len(chunks), maxParts)
	}
	chunks[0] = fmt.Sprintf("%s %d %s\n", blobMagic, len(chunks), checksum(data)) + chunks[0]
	return chunks, nil
}

// parseHeader reads the first entry: the number of parts, the checksum and
// the first part's data.
func parseHeader(first string) (parts int, sum, data string, err error) {
	line, data, ok := strings.Cut(first, "\n")
	if !ok {
		return 0, "", "", fmt.Errorf("%w: no header", ErrDamaged)
	}
	f := strings.Fields(line)
	if len(f) != 3 || f[0] != blobMagic {
		return 0, "", "", fmt.Errorf("%w: not a vpconnect record", ErrDamaged)
	}
	parts, err = strconv.Atoi(f[1])
	if err != nil || parts < 1 || parts > maxParts {
		return 0, "", "", fmt.Errorf("%w: bad part count %q", ErrDamaged, f[1])
	}
	if len(f[2]) != 16 {
		return 0, "", "", fmt.Errorf("%w: bad checksum", ErrDamaged)
	}
	return parts, f[2], data, nil
}

// joinBlob reassembles the parts read after the header and checks them.
func joinBlob(sum string, chunks []string) (string, error) {
	data := strings.Join(chunks, "")
	if checksum(data) != sum {
		return "", fmt.Errorf("%w: its parts do not belong together", ErrDamaged)
	}
	return data, nil
}

// decodeRecord parses a record's JSON.
func decodeRecord(account, data string) (Record, error) {
	var r Record
	dec := json.NewDecoder(strings.NewReader(data))
	if err := dec.Decode(&r); err != nil {
		return Record{}, fmt.Errorf("%w: %v", ErrDamaged, err)
	}
	if r.Account != account {
		return Record{}, fmt.Errorf("%w: the entry of %s holds account %q", ErrDamaged, account, r.Account)
	}
	if r.RefreshToken == "" {
		return Record{}, fmt.Errorf("%w: no refresh token", ErrDamaged)
	}
	return r, nil
}

// Store keeps account records in a Keychain, split over several entries
// when needed, and serializes writers, in this process and others, with a
// lock file per account in the data dir.
type Store struct {
	kc  Keychain
	dir string
	now func() time.Time
	// lockTimeout bounds the wait for another process's lock.
	lockTimeout time.Duration
}

// NewStore returns a store over kc; lock files go to dataDir (0600).
func NewStore(kc Keychain, dataDir string) *Store {
	return &Store{kc: kc, dir: dataDir, now: time.Now, lockTimeout: 30 * time.Second}
}

// Keychain returns the keychain the store writes to.
func (s *Store) Keychain() Keychain { return s.kc }

// Check tells whether the keychain can be used at all, before a sign-in
// whose result could not be kept. It reads one entry and writes nothing.
func (s *Store) Check() error {
	_, err := s.kc.Get(Microsoft)
	if err == nil || errors.Is(err, ErrNotFound) {
		return nil
	}
	return err
}

// Load reads an account's record. A missing one is ErrNotFound; an
// unreadable one ErrDamaged.
func (s *Store) Load(ctx context.Context, account string) (Record, error) {
	var r Record
	err := s.withLock(ctx, account, func() error {
		var err error
		r, err = s.loadLocked(account)
		return err
	})
	return r, err
}

// Save writes an account's record, replacing the one before.
func (s *Store) Save(ctx context.Context, r Record) error {
	return s.withLock(ctx, r.Account, func() error { return s.saveLocked(r) })
}

// Delete forgets an account: every entry of its record.
func (s *Store) Delete(ctx context.Context, account string) error {
	return s.withLock(ctx, account, func() error {
		n := s.partsLocked(account)
		if err := s.kc.Delete(account); err != nil && !errors.Is(err, ErrNotFound) {
			return fmt.Errorf("forget the %s sign-in: %w", AccountTitle(account), err)
		}
		return s.deletePartsLocked(account, 1, n)
	})
}

func (s *Store) loadLocked(account string) (Record, error) {
	first, err := s.kc.Get(account)
	if err != nil {
		if errors.Is(err, ErrNotFound) {
			return Record{}, fmt.Errorf("read the %s sign-in: %w", AccountTitle(account), ErrNotFound)
		}
		return Record{}, fmt.Errorf("read the %s sign-in: %w", AccountTitle(account), err)
	}
	parts, sum, data, err := parseHeader(first)
	if err != nil {
		return Record{}, err
	}
	chunks := []string{data}
	for i := 1; i < parts; i++ {
		c, err := s.kc.Get(partName(account, i))
		if errors.Is(err, ErrNotFound) {
			return Record{}, fmt.Errorf("%w: part %d of %d is missing", ErrDamaged, i, parts)
		}
		if err != nil {
			return Record{}, fmt.Errorf("read the %s sign-in: %w", AccountTitle(account), err)
		}
		chunks = append(chunks, c)
	}
	blob, err := joinBlob(sum, chunks)
	if err != nil {
		return Record{}, err
	}
	return decodeRecord(account, blob)
}

// partsLocked is how many entries the stored record uses; 1 when the
// header cannot be read (a stale part is then left, and overwritten later).
func (s *Store) partsLocked(account string) int {
	first, err := s.kc.Get(account)
	if err != nil {
		return 1
	}
	n, _, _, err := parseHeader(first)
	if err != nil {
		return 1
	}
	return n
}

func (s *Store) saveLocked(r Record) error {
	if r.Account != Microsoft && r.Account != Vantagepoint {
		return fmt.Errorf("save sign-in: unknown account %q", r.Account)
	}
	r.Saved = s.now().UTC().Truncate(time.Second)
	data, err := json.Marshal(r)
	if err != nil {
		return fmt.Errorf("save the %s sign-in: %w", AccountTitle(r.Account), err)
	}
	entries, err := splitBlob(string(data))
	if err != nil {
		return fmt.Errorf("save the %s sign-in: %w", AccountTitle(r.Account), err)
	}
	old := s.partsLocked(r.Account)
	// Parts first, the header last: the header is what makes a new record
	// visible.
	for i := len(entries) - 1; i >= 0; i-- {
		if err := s.kc.Set(partName(r.Account, i), entries[i]); err != nil {
			return fmt.Errorf("save the %s sign-in: %w", AccountTitle(r.Account), err)
		}
	}
	return s.deletePartsLocked(r.Account, len(entries), old)
}

// deletePartsLocked removes entries from..to-1 (stale parts of a longer
// record).
func (s *Store) deletePartsLocked(account string, from, to int) error {
	for i := max(from, 1); i < to; i++ {
		if err := s.kc.Delete(partName(account, i)); err != nil && !errors.Is(err, ErrNotFound) {
			return fmt.Errorf("remove a stale part of the %s sign-in: %w", AccountTitle(account), err)
		}
	}
	return nil
}

// withLock runs fn holding the account's lock file, so that one process at
// a time reads, refreshes and writes that account's record.
func (s *Store) withLock(ctx context.Context, account string, fn func() error) error {
	if s.dir == "" {
		return errors.New("auth store: no data dir for the lock files")
	}
	path := filepath.Join(s.dir, "auth-"+account+".lock")
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return fmt.Errorf("open the sign-in lock: %w", err)
	}
	defer f.Close()
	deadline := time.Now().Add(s.lockTimeout)
	for {
		ok, err := tryLock(f)
		if err != nil {
			return fmt.Errorf("lock %s: %w", path, err)
		}
		if ok {
			break
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("lock %s: another vpconnect process has held it for %s", path, s.lockTimeout)
		}
		// The holder is refreshing a token (one HTTP exchange); polling a
		// few times is cheaper than a blocking lock that ctx cannot cancel.
		t := time.NewTimer(10 * time.Millisecond)
		select {
		case <-ctx.Done():
			t.Stop()
			return fmt.Errorf("wait for the sign-in lock: %w", ctx.Err())
		case <-t.C:
		}
	}
	defer unlock(f)
	return fn()
}

// Update changes an account's stored record under the lock, so that a
// refresh token rotated meanwhile by a TokenSource is kept.
func (s *Store) Update(ctx context.Context, account string, fn func(*Record)) error {
	return s.withLock(ctx, account, func() error {
		r, err := s.loadLocked(account)
		if err != nil {
			return err
		}
		fn(&r)
		r.Account = account
		return s.saveLocked(r)
	})
}
