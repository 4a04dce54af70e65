package config

import (
	"errors"
	"fmt"
	"net"
	"net/url"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"
)

// Limits enforced by Validate; docs/configuration.md quotes them.
const (
	MinInterval        = time.Minute      // gentle on an on-premises server (docs/behaviour.md §4.6)
	MaxInterval        = 24 * time.Hour   // beyond that "sync" has lost its meaning
	MinMailboxInterval = 10 * time.Second // Graph: 10,000 requests / 10 min per mailbox
	MaxMailboxInterval = time.Hour
	MaxLookbackDays    = 365
	MaxDaysAhead       = 730
	MinPort            = 1024       // no privileged ports
	MaxPort            = 65535 - 19 // the agent may use port…port+19
	PortRange          = 20         // how many ports from localApi.port the agent may try
	maxNameLen         = 255        // Outlook's limit for category and folder names
	maxCategoryLen     = 255 - 12   // room for ": Sync Error"
)

// hubName is what a Vantagepoint user-defined hub is called: it goes into a
// URL path (/UDIC/{area}), so only letters, digits and underscores.
var hubName = regexp.MustCompile(`^UDIC_[A-Za-z0-9_]+$`)

// Validate checks every key and reports all problems at once (errors.Join of
// *FieldError), so that an admin fixes a file in one go rather than one error
// per restart.
func (c Config) Validate() error {
	fes := c.validate()
	if len(fes) == 0 {
		return nil
	}
	errs := make([]error, len(fes))
	for i, fe := range fes {
		errs[i] = fe
	}
	return errors.Join(errs...)
}

type checker struct{ errs []*FieldError }

func (ch *checker) add(key string, idx int, format string, args ...any) {
	ch.errs = append(ch.errs, &FieldError{Key: key, Index: idx, Msg: fmt.Sprintf(format, args...)})
}

func (c Config) validate() []*FieldError {
	ch := &checker{}
	m := c.Microsoft
	ch.text("microsoft.clientId", -1, m.ClientID, true, 200)
	if m.Tenant == "" {
		ch.add("microsoft.tenant", -1, `must not be empty; use "organizations", "common", a tenant id or a domain`)
	} else if strings.ContainsAny(m.Tenant, "/?#%\\ ") || !printable(m.Tenant) {
		ch.add("microsoft.tenant", -1, "must be a tenant id, a domain or \"organizations\", got %q", m.Tenant)
	}
	ch.url("microsoft.authorityUrl", m.AuthorityURL, true)
	ch.url("microsoft.graphUrl", m.GraphURL, true)

	v := c.Vantagepoint
	ch.url("vantagepoint.apiUrl", v.APIURL, false)
	ch.text("vantagepoint.database", -1, v.Database, true, 200)
	ch.text("vantagepoint.clientId", -1, v.ClientID, true, 200)
	ch.text("vantagepoint.clientSecret", -1, v.ClientSecret, true, 1000)
	if v.MaxRequestsPerSecond < 1 || v.MaxRequestsPerSecond > 10000 {
		ch.add("vantagepoint.maxRequestsPerSecond", -1, "must be between 1 and 10000, got %d", v.MaxRequestsPerSecond)
	}
	if v.FleetSize < 1 || v.FleetSize > 1000000 {
		ch.add("vantagepoint.fleetSize", -1, "must be between 1 and 1000000, got %d", v.FleetSize)
	}

	s := c.Sync
	ch.duration("sync.interval", s.Interval, MinInterval, MaxInterval)
	ch.duration("sync.mailboxInterval", s.MailboxInterval, MinMailboxInterval, MaxMailboxInterval)
	ch.text("sync.category", -1, s.Category, false, maxCategoryLen)
	if strings.ContainsAny(s.Category, ":,;") {
		// The agent derives "<category>: Synced" and "<category>: Sync
		// Error"; a colon would make those ambiguous, and Outlook treats
		// commas and semicolons as separators between categories.
		ch.add("sync.category", -1, "must not contain ':', ',' or ';', got %q", s.Category)
	}
	ch.text("sync.contactFolder", -1, s.ContactFolder, false, maxNameLen)
	if s.LookbackDays < 0 || s.LookbackDays > MaxLookbackDays {
		ch.add("sync.lookbackDays", -1, "must be between 0 and %d, got %d", MaxLookbackDays, s.LookbackDays)
	}
	if s.DaysAhead < 1 || s.DaysAhead > MaxDaysAhead {
		ch.add("sync.daysAhead", -1, "must be between 1 and %d, got %d", MaxDaysAhead, s.DaysAhead)
	}
	switch s.Conflict {
	case ConflictVantagepoint, ConflictMailbox, ConflictNewest:
	default:
		ch.add("sync.conflict", -1, "must be %q, %q or %q, got %q", ConflictVantagepoint, ConflictMailbox, ConflictNewest, s.Conflict)
	}
	ch.list("sync.mailFolders", s.MailFolders, false, maxNameLen)
	ch.text("sync.emailType", -1, s.EmailType, false, 100)
	ch.list("sync.calendarTypes", s.CalendarTypes, true, 100)

	l := c.LocalAPI
	if l.Port < MinPort || l.Port > MaxPort {
		ch.add("localApi.port", -1, "must be between %d and %d (the agent may use up to %d ports from it), got %d", MinPort, MaxPort, PortRange, l.Port)
	}
	ch.origins("localApi.allowedOrigins", l.AllowedOrigins)
	ch.origins("localApi.autoApproveOrigins", l.AutoApproveOrigins)
	for i, o := range l.AutoApproveOrigins {
		if !contains(l.AllowedOrigins, o) {
			ch.add("localApi.autoApproveOrigins", i, "%q is not in localApi.allowedOrigins; the add-in could not call the agent", o)
		}
	}

	a := c.Admin
	for _, h := range []struct{ key, val string }{{"admin.agentsHub", a.AgentsHub}, {"admin.groupsHub", a.GroupsHub}} {
		if !hubName.MatchString(h.val) {
			ch.add(h.key, -1, "must be a Vantagepoint hub name like \"UDIC_Name\" (letters, digits, _), got %q", h.val)
		}
	}
	ch.text("admin.group", -1, a.Group, true, maxNameLen)

	switch {
	case c.DataDir == "":
		ch.add("dataDir", -1, "must not be empty (no home directory to derive a default from)")
	case !filepath.IsAbs(c.DataDir):
		// A relative path would depend on the directory the agent was
		// started from, which differs between a login item and a terminal.
		ch.add("dataDir", -1, "must be an absolute path, got %q", c.DataDir)
	case !printable(c.DataDir):
		ch.add("dataDir", -1, "must not contain control characters")
	}
	ch.text("keychainService", -1, c.KeychainService, false, 100)
	return ch.errs
}

// text checks a free-text value: no control characters or surrounding
// spaces (invisible in the file, fatal in a comparison), a length limit.
func (ch *checker) text(key string, idx int, s string, emptyOK bool, maxLen int) {
	switch {
	case s == "":
		if !emptyOK {
			ch.add(key, idx, "must not be empty")
		}
	case !utf8.ValidString(s) || !printable(s):
		ch.add(key, idx, "must not contain control characters, got %q", s)
	case strings.TrimSpace(s) != s:
		ch.add(key, idx, "must not start or end with spaces, got %q", s)
	case utf8.RuneCountInString(s) > maxLen:
		ch.add(key, idx, "must be at most %d characters long", maxLen)
	}
}

func (ch *checker) list(key string, items []string, needOne bool, maxLen int) {
	if needOne && len(items) == 0 {
		ch.add(key, -1, "must list at least one value")
	}
	seen := map[string]bool{}
	for i, s := range items {
		ch.text(key, i, s, false, maxLen)
		if k := strings.ToLower(s); seen[k] {
			ch.add(key, i, "%q is listed twice", s)
		} else {
			seen[k] = true
		}
	}
}

func (ch *checker) duration(key string, d Duration, lo, hi time.Duration) {
	if d.D() < lo || d.D() > hi {
		ch.add(key, -1, "must be between %s and %s, got %s", Duration(lo), Duration(hi), d)
	}
}

// url checks a service endpoint: absolute http(s), https unless the host is
// loopback (tests and the demo run simulators there; anything else would
// send credentials in clear), no user info (it would end up in logs), no
// query or fragment (paths are appended to it).
func (ch *checker) url(key, s string, required bool) {
	if s == "" {
		if required {
			ch.add(key, -1, "must not be empty")
		}
		return
	}
	u, err := url.Parse(s)
	switch {
	case err != nil || !printable(s):
		ch.add(key, -1, "not a valid URL: %q", s)
	case u.Scheme != "https" && u.Scheme != "http" || u.Opaque != "":
		ch.add(key, -1, "want an absolute https:// URL, got %q", s)
	case u.Host == "" || u.Hostname() == "":
		ch.add(key, -1, "has no host: %q", s)
	case u.User != nil:
		ch.add(key, -1, "must not contain a user name or password")
	case u.RawQuery != "" || u.ForceQuery || u.Fragment != "":
		ch.add(key, -1, "must not have a query (?) or fragment (#): %q", s)
	case !validPort(u.Port()):
		ch.add(key, -1, "has an invalid port: %q", s)
	case u.Scheme == "http" && !isLoopback(u.Hostname()):
		ch.add(key, -1, "http:// is only allowed for loopback hosts (127.0.0.1, ::1, localhost); use https://, got %q", s)
	}
}

// origins checks browser origins. CORS compares them exactly with what the
// browser sends, which is lower case, without a path and without a default
// port, so anything else would silently never match.
func (ch *checker) origins(key string, list []string) {
	seen := map[string]bool{}
	for i, o := range list {
		if seen[o] {
			ch.add(key, i, "%q is listed twice", o)
			continue
		}
		seen[o] = true
		if o == "*" || strings.Contains(o, "*") {
			ch.add(key, i, "wildcards are not allowed; list each add-in origin, got %q", o)
			continue
		}
		u, err := url.Parse(o)
		switch {
		case err != nil || !printable(o):
			ch.add(key, i, "not a valid origin: %q", o)
		case u.Scheme != "https" && u.Scheme != "http" || u.Host == "" || u.Opaque != "":
			ch.add(key, i, "want an origin like \"https://addin.example.com\", got %q", o)
		case u.User != nil || u.RawQuery != "" || u.ForceQuery || u.Fragment != "" || u.Path != "":
			ch.add(key, i, "an origin has no path, query or fragment; want %q, got %q", u.Scheme+"://"+u.Host, o)
		case !validPort(u.Port()):
			ch.add(key, i, "has an invalid port: %q", o)
		case u.Scheme == "http" && !isLoopback(u.Hostname()):
			ch.add(key, i, "http:// is only allowed for loopback hosts; use https://, got %q", o)
		default:
			if canon := canonicalOrigin(u); canon != o {
				ch.add(key, i, "write it as the browser sends it: %q, got %q", canon, o)
			}
		}
	}
}

func canonicalOrigin(u *url.URL) string {
	host := strings.ToLower(u.Hostname())
	if strings.Contains(host, ":") {
		host = "[" + host + "]"
	}
	port := u.Port()
	if (u.Scheme == "https" && port == "443") || (u.Scheme == "http" && port == "80") {
		port = ""
	}
	if port != "" {
		host += ":" + port
	}
	return strings.ToLower(u.Scheme) + "://" + host
}

func validPort(p string) bool {
	if p == "" {
		return true
	}
	n, err := strconv.Atoi(p)
	return err == nil && n >= 1 && n <= 65535 && strconv.Itoa(n) == p
}

func isLoopback(host string) bool {
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

func printable(s string) bool {
	for _, r := range s {
		if unicode.IsControl(r) || r == utf8.RuneError {
			return false
		}
	}
	return true
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// normalize removes what is harmless to accept but would be wrong to keep:
// a trailing slash on an endpoint (paths are appended to it).
func (c *Config) normalize() {
	for _, p := range []*string{&c.Microsoft.AuthorityURL, &c.Microsoft.GraphURL, &c.Vantagepoint.APIURL} {
		if strings.HasPrefix(*p, "http") {
			*p = strings.TrimRight(*p, "/")
			if strings.HasSuffix(*p, ":") { // "https://" stays as written, to be reported
				*p += "//"
			}
		}
	}
}
