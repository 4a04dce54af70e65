package config

import (
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Duration is a time.Duration written in the config file as a Go duration
// string ("2m", "30s", "1h30m"). A string, not a number, because a bare
// number leaves the unit to guesswork.
type Duration time.Duration

// D returns d as a time.Duration.
func (d Duration) D() time.Duration { return time.Duration(d) }

// String formats d without zero components ("2m", not "2m0s"), the way a
// person would write it in the file.
func (d Duration) String() string {
	t := time.Duration(d)
	if t == 0 {
		return "0s"
	}
	if t%time.Second != 0 || t < 0 {
		return t.String()
	}
	var b strings.Builder
	h, m, s := t/time.Hour, (t%time.Hour)/time.Minute, (t%time.Minute)/time.Second
	if h > 0 {
		b.WriteString(strconv.FormatInt(int64(h), 10) + "h")
	}
	if m > 0 {
		b.WriteString(strconv.FormatInt(int64(m), 10) + "m")
	}
	if s > 0 {
		b.WriteString(strconv.FormatInt(int64(s), 10) + "s")
	}
	return b.String()
}

// MarshalJSON writes d as a duration string.
func (d Duration) MarshalJSON() ([]byte, error) {
	return json.Marshal(d.String())
}

// UnmarshalJSON accepts a duration string. It is used when a Config is
// decoded with encoding/json directly; [Parse] does its own decoding with
// better messages but the same rules.
func (d *Duration) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return fmt.Errorf("want %s, got %s", wantDuration, shorten(string(b)))
	}
	v, err := ParseDuration(s)
	if err != nil {
		return err
	}
	*d = v
	return nil
}

const wantDuration = `a duration such as "2m" or "30s"`

// ParseDuration parses a duration string with the error message the config
// file uses: it names the accepted form, since "2 minutes" or "120" are the
// usual mistakes.
func ParseDuration(s string) (Duration, error) {
	v, err := time.ParseDuration(strings.TrimSpace(s))
	if err != nil || strings.TrimSpace(s) != s {
		return 0, fmt.Errorf("want %s (units h, m, s, ms), got %q", wantDuration, s)
	}
	return Duration(v), nil
}
