package vantagepoint

import (
	"fmt"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// serverClock is what the client learned of the zone in which the server
// writes ModDate. Deltek's examples show dates without a zone, and no
// source says which zone ModDate is in (docs/vantagepoint-api.md, "Dates").
// The client therefore hands ModDate out as the server wrote it, read as if
// it were UTC, and converts only the values it sends back in a ModDate
// filter: a mark taken from the server's own ModDate then means the same
// instant whenever the zone was learned. The zone is measured from the
// client's own writes: the answer's ModDate against its Date header, which
// HTTP requires in UTC (RFC 9110 §6.6.1).
type serverClock struct {
	offset atomic.Int64 // seconds east of UTC, once known
	known  atomic.Bool
	// file, when set, keeps the measured zone between runs, so that a run
	// that writes nothing still filters exactly (Options.ZoneFile).
	file   string
	saveMu sync.Mutex
}

// load reads a zone saved by an earlier run; a missing or unreadable file
// leaves the zone unknown.
func (c *serverClock) load() {
	if c.file == "" {
		return
	}
	b, err := os.ReadFile(c.file)
	if err != nil {
		return
	}
	n, err := strconv.ParseInt(strings.TrimSpace(string(b)), 10, 64)
	if err != nil || time.Duration(n)*time.Second > maxZoneOffset || time.Duration(-n)*time.Second > maxZoneOffset {
		return
	}
	c.offset.Store(n)
	c.known.Store(true)
}

// save keeps the zone in the file, written whole (a temporary file
// renamed), readable by the user only.
func (c *serverClock) save(seconds int64) error {
	if c.file == "" {
		return nil
	}
	c.saveMu.Lock()
	defer c.saveMu.Unlock()
	if err := writePrivate(c.file, []byte(strconv.FormatInt(seconds, 10)+"\n")); err != nil {
		return fmt.Errorf("save the Vantagepoint server's zone: %w", err)
	}
	return nil
}

// maxZoneOffset bounds real zones (UTC-12 to UTC+14); before the zone is
// known a ModDate filter is widened by it, so that no change is missed.
const maxZoneOffset = 14 * time.Hour

// observe learns the zone from a write's answer: its ModDate (server
// local, no zone) and the Date header. A measurement that is not close to
// a multiple of 15 minutes (a skewed clock, a ModDate that is not "now")
// is ignored.
func (c *serverClock) observe(date time.Time, modDate string) error {
	if date.IsZero() || modDate == "" {
		return nil
	}
	mod, err := ParseDate(modDate)
	if err != nil || hasZone(modDate) {
		return nil
	}
	d := mod.Sub(date)
	q := d.Round(15 * time.Minute)
	if q < -maxZoneOffset || q > maxZoneOffset || (d-q).Abs() > 2*time.Minute {
		return nil
	}
	n := int64(q / time.Second)
	if old := c.offset.Swap(n); old == n && c.known.Load() {
		return nil
	}
	c.known.Store(true)
	return c.save(n)
}

// hasZone reports whether a date string carries its own offset.
func hasZone(s string) bool {
	if len(s) < 11 {
		return false
	}
	t := s[10:]
	if t[len(t)-1] == 'Z' || t[len(t)-1] == 'z' {
		return true
	}
	if i := len(t) - 6; i > 0 && (t[i] == '+' || t[i] == '-') && t[i+3] == ':' {
		return true
	}
	return false
}

// Offset returns the server's zone offset and whether it was measured.
func (c *serverClock) Offset() (time.Duration, bool) {
	return time.Duration(c.offset.Load()) * time.Second, c.known.Load()
}

// sinceFilter turns a ModDate mark (as handed out: server local read as
// UTC) into the instant a ModDate filter compares with: exact once the
// zone is known, widened by the largest zone before.
func (c *serverClock) sinceFilter(mark time.Time) time.Time {
	off, ok := c.Offset()
	if !ok {
		return mark.Add(-maxZoneOffset)
	}
	return mark.Add(-off)
}

// futureSlack is how far a listed record's ModDate may lie after the
// answer's Date header before the zone is taken as changed: the database's
// clock and the web server's may differ a little.
const futureSlack = 5 * time.Minute

// checkListed looks at a ModDate that a listing answered, against that
// answer's Date header. A server that keeps local time moves its clock an
// hour forward in spring (daylight saving time); until the agent's next
// write measures the zone again, the measured offset is an hour short, and
// a filter converted with it starts an hour late, missing the changes of
// that hour for good. A record changed within that hour then seems to
// have been changed after the answer was sent: the zone is set back to
// unknown, so that the next filters start 14 hours early (catching up what
// was skipped) until a write measures it again. It reports whether it did
// so. Checking costs no request.
func (c *serverClock) checkListed(date time.Time, modDate string) bool {
	if date.IsZero() || modDate == "" || !c.known.Load() || hasZone(modDate) {
		return false
	}
	mod, err := ParseDate(modDate)
	if err != nil {
		return false
	}
	off := time.Duration(c.offset.Load()) * time.Second
	if mod.Add(-off).Sub(date) <= futureSlack {
		return false
	}
	return c.known.CompareAndSwap(true, false)
}

// ServerZone returns the offset from UTC at which the server writes
// ModDate, and whether it has been measured yet (after a first write).
func (c *Client) ServerZone() (time.Duration, bool) { return c.clock.Offset() }
