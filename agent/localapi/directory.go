package localapi

import (
	"context"
	"strings"
	"sync"
	"time"
)

// SearchTypes are the record types GET /v1/search accepts.
var SearchTypes = []string{"project", "contact", "firm", "opportunity"}

// MaxResults is the most matches a search answers (docs/behaviour.md §5.3).
const MaxResults = 25

// ContactCard is GET /v1/lookup's answer: what the add-in shows beside a
// message about its sender.
type ContactCard struct {
	ContactID  string         `json:"contactId"`
	Name       string         `json:"name"`
	Email      string         `json:"email"`
	Title      string         `json:"title,omitempty"`
	Phone      string         `json:"phone,omitempty"`
	CellPhone  string         `json:"cellPhone,omitempty"`
	Firm       *Match         `json:"firm,omitempty"`
	Activities []ActivityLine `json:"recentActivities"`
	Projects   []Match        `json:"projects"`
}

// ActivityLine is one recent activity on a contact card.
type ActivityLine struct {
	ID      string    `json:"id"`
	Type    string    `json:"type"`
	Subject string    `json:"subject"`
	Date    time.Time `json:"date"`
}

// Match is one search result.
type Match struct {
	Type   string `json:"type"`
	ID     string `json:"id"`
	Name   string `json:"name"`
	Detail string `json:"detail,omitempty"`
}

// Directory answers the add-in's look-ups and searches from Vantagepoint.
// Errors unwrap to syncer's sentinels (ErrNotFound for an unknown address).
type Directory interface {
	Lookup(ctx context.Context, email string) (ContactCard, error)
	Search(ctx context.Context, typ, q string, limit int) ([]Match, error)
}

// CachedDirectory remembers answers for ttl, so that an add-in re-rendering
// its pane for the same message does not cost Vantagepoint a query each time.
// Errors are not cached.
func CachedDirectory(d Directory, ttl time.Duration, now func() time.Time) Directory {
	if now == nil {
		now = time.Now
	}
	return &cachedDirectory{d: d, ttl: ttl, now: now, entries: map[string]cacheEntry{}}
}

type cachedDirectory struct {
	d       Directory
	ttl     time.Duration
	now     func() time.Time
	mu      sync.Mutex
	entries map[string]cacheEntry
}

type cacheEntry struct {
	at   time.Time
	card ContactCard
	list []Match
}

const maxCacheEntries = 512

func (c *cachedDirectory) get(key string) (cacheEntry, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.entries[key]
	if ok && c.now().Sub(e.at) < c.ttl {
		return e, true
	}
	return cacheEntry{}, false
}

func (c *cachedDirectory) put(key string, e cacheEntry) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.entries) >= maxCacheEntries {
		clear(c.entries) // simple and bounded; a miss only costs one query
	}
	e.at = c.now()
	c.entries[key] = e
}

func (c *cachedDirectory) Lookup(ctx context.Context, email string) (ContactCard, error) {
	key := "l\x00" + strings.ToLower(email)
	if e, ok := c.get(key); ok {
		return e.card, nil
	}
	card, err := c.d.Lookup(ctx, email)
	if err == nil {
		c.put(key, cacheEntry{card: card})
	}
	return card, err
}

func (c *cachedDirectory) Search(ctx context.Context, typ, q string, limit int) ([]Match, error) {
	key := "s\x00" + typ + "\x00" + strings.ToLower(q)
	if e, ok := c.get(key); ok {
		return e.list, nil
	}
	list, err := c.d.Search(ctx, typ, q, limit)
	if err == nil {
		c.put(key, cacheEntry{list: list})
	}
	return list, err
}
