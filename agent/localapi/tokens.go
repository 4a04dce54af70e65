package localapi

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"time"

	"vpconnect/agent/config"
)

// tokenEntry is a paired add-in: only the token's hash is kept, so the file
// is useless to a thief.
type tokenEntry struct {
	// ID names the add-in in lists and for revoking; it says nothing of
	// the token.
	ID      string    `json:"id"`
	Origin  string    `json:"origin"`
	Name    string    `json:"name"`
	Hash    string    `json:"sha256"`
	Created time.Time `json:"created"`
	hash    [32]byte
}

func newTokenEntry(token, origin, name string, now time.Time) tokenEntry {
	h := sha256.Sum256([]byte(token))
	return tokenEntry{ID: randomToken(6), Origin: origin, Name: name, Hash: hex.EncodeToString(h[:]), Created: now.UTC(), hash: h}
}

// addTokenLocked adds a paired add-in, replacing the oldest of its origin's
// when the origin has maxTokensPerOrigin already.
func (s *Server) addTokenLocked(t tokenEntry) {
	s.tokens = append(s.tokens, t)
	s.tokens, _ = capTokens(s.tokens)
}

// capTokens keeps the newest maxTokensPerOrigin tokens of each origin, in
// their order, and says whether it dropped any.
func capTokens(ts []tokenEntry) ([]tokenEntry, bool) {
	keep := make([]bool, len(ts))
	byOrigin := map[string][]int{}
	for i, t := range ts {
		byOrigin[t.Origin] = append(byOrigin[t.Origin], i)
	}
	for _, idx := range byOrigin {
		slices.SortStableFunc(idx, func(a, b int) int { return ts[b].Created.Compare(ts[a].Created) })
		for n, i := range idx {
			keep[i] = n < maxTokensPerOrigin
		}
	}
	out := make([]tokenEntry, 0, len(ts))
	for i, t := range ts {
		if keep[i] {
			out = append(out, t)
		}
	}
	return out, len(out) < len(ts)
}

// loadTokens reads the paired tokens. A file of an older version (tokens
// without an id, or more per origin than are kept now) is brought up to
// date, and changed says it should be written back.
func loadTokens(dir string) (ts []tokenEntry, changed bool, err error) {
	b, err := os.ReadFile(filepath.Join(dir, TokensFile))
	if errors.Is(err, os.ErrNotExist) {
		return nil, false, nil
	} else if err != nil {
		return nil, false, fmt.Errorf("read %s: %w", TokensFile, err)
	}
	if err := json.Unmarshal(b, &ts); err != nil {
		return nil, false, fmt.Errorf("read %s: %w", TokensFile, err)
	}
	out := ts[:0]
	for _, t := range ts {
		h, err := hex.DecodeString(t.Hash)
		if err != nil || len(h) != 32 {
			changed = true
			continue
		}
		copy(t.hash[:], h)
		if t.ID == "" {
			t.ID, changed = t.Hash[:12], true
		}
		out = append(out, t)
	}
	out, dropped := capTokens(out)
	return out, changed || dropped, nil
}

func saveTokens(dir string, ts []tokenEntry) error {
	if ts == nil {
		ts = []tokenEntry{}
	}
	b, err := json.MarshalIndent(ts, "", "  ")
	if err != nil {
		return fmt.Errorf("write %s: %w", TokensFile, err)
	}
	if err := config.WriteFile(dir, TokensFile, b); err != nil {
		return fmt.Errorf("write %s: %w", TokensFile, err)
	}
	return nil
}
