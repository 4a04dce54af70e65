package localapi

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"vpconnect/agent/config"
)

// tokenEntry is a paired add-in: only the token's hash is kept, so the file
// is useless to a thief.
type tokenEntry struct {
	Origin  string    `json:"origin"`
	Name    string    `json:"name"`
	Hash    string    `json:"sha256"`
	Created time.Time `json:"created"`
	hash    [32]byte
}

func newTokenEntry(token, origin, name string, now time.Time) tokenEntry {
	h := sha256.Sum256([]byte(token))
	return tokenEntry{Origin: origin, Name: name, Hash: hex.EncodeToString(h[:]), Created: now.UTC(), hash: h}
}

func loadTokens(dir string) ([]tokenEntry, error) {
	b, err := os.ReadFile(filepath.Join(dir, TokensFile))
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	} else if err != nil {
		return nil, fmt.Errorf("read %s: %w", TokensFile, err)
	}
	var ts []tokenEntry
	if err := json.Unmarshal(b, &ts); err != nil {
		return nil, fmt.Errorf("read %s: %w", TokensFile, err)
	}
	out := ts[:0]
	for _, t := range ts {
		h, err := hex.DecodeString(t.Hash)
		if err != nil || len(h) != 32 {
			continue
		}
		copy(t.hash[:], h)
		out = append(out, t)
	}
	return out, nil
}

func saveTokens(dir string, ts []tokenEntry) error {
	b, err := json.MarshalIndent(ts, "", "  ")
	if err != nil {
		return err
	}
	return config.WriteFile(dir, TokensFile, b)
}
