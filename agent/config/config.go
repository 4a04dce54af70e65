package config

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"slices"
)

// Config is the content of the configuration file (docs/behaviour.md §5.2). JSON names are
// part of the product's contract: never rename one.
//
// A few fields may only be set by policy (docs/behaviour.md §5.4): Sync.Enabled,
// UI.AllowPause and LocalAPI.AutoApproveOrigins. The config file rejects them
// and [Save] does not write them, so a user cannot grant themselves what the
// administrator controls.
type Config struct {
	Microsoft       Microsoft    `json:"microsoft"`
	Vantagepoint    Vantagepoint `json:"vantagepoint"`
	Sync            Sync         `json:"sync"`
	LocalAPI        LocalAPI     `json:"localApi"`
	UI              UI           `json:"ui,omitzero"`
	Admin           Admin        `json:"admin"`
	DataDir         string       `json:"dataDir"`
	KeychainService string       `json:"keychainService"`
}

// Microsoft holds the Microsoft identity platform and Graph endpoints. The
// authorize, token and device code endpoints are
// <AuthorityURL>/<Tenant>/oauth2/v2.0/{authorize,token,devicecode}.
type Microsoft struct {
	ClientID     string `json:"clientId"`
	Tenant       string `json:"tenant"`
	AuthorityURL string `json:"authorityUrl"`
	GraphURL     string `json:"graphUrl"`
}

// Vantagepoint holds the Vantagepoint REST API base and the API authorization
// (client id and secret) that its token endpoint <APIURL>/token requires.
// The client secret identifies the integration, not the user; it may live in
// the file (docs/behaviour.md §5.2), unlike tokens and passwords (docs/behaviour.md §6).
type Vantagepoint struct {
	APIURL       string `json:"apiUrl"`
	Database     string `json:"database"`
	ClientID     string `json:"clientId"`
	ClientSecret string `json:"clientSecret"`
	// MaxRequestsPerSecond is the steady request rate the whole fleet of
	// agents may put on the Vantagepoint server: each agent paces its
	// polls so that fleet size × its requests per poll ÷ interval stays
	// within it (agent/pacing.go).
	MaxRequestsPerSecond int `json:"maxRequestsPerSecond"`
	// FleetSize is the number of active agents assumed until the agents
	// hub tells (docs/admin.md), or where it does not exist.
	FleetSize int `json:"fleetSize"`
	// SilentRelogin (policy only) true lets the agent keep the user's
	// Vantagepoint password in the keychain and sign in again with it when
	// the refresh token is refused. nil or false: the password is used once.
	SilentRelogin *bool `json:"silentRelogin,omitempty" policy:"only"`
}

// Sync holds what is synchronized and how often (docs/behaviour.md §4).
type Sync struct {
	Interval        Duration `json:"interval"`
	MailboxInterval Duration `json:"mailboxInterval"`
	Category        string   `json:"category"`
	ContactFolder   string   `json:"contactFolder"`
	LookbackDays    int      `json:"lookbackDays"`
	DaysAhead       int      `json:"daysAhead"`
	Conflict        string   `json:"conflict"`
	MailFolders     []string `json:"mailFolders"`
	EmailType       string   `json:"emailType"`
	CalendarTypes   []string `json:"calendarTypes"`
	CreateFirms     bool     `json:"createFirms"`
	// Enabled is the administrator's switch (policy only): false means
	// "Disabled by administrator". nil means not set, i.e. enabled; use
	// [Config.SyncEnabled].
	Enabled *bool `json:"enabled,omitempty" policy:"only"`
}

// LocalAPI configures the loopback HTTP API (docs/behaviour.md §5.3).
type LocalAPI struct {
	// Port is the first port tried; the agent may use Port…Port+19 on a
	// shared host, which is why the upper limit is 65535-19.
	Port int `json:"port"`
	// AllowedOrigins are the exact browser origins (scheme://host[:port])
	// answered by CORS.
	AllowedOrigins []string `json:"allowedOrigins"`
	// AutoApproveOrigins (policy only) are add-in origins whose pairing
	// requests are approved without asking the user. Each must also be in
	// AllowedOrigins.
	AutoApproveOrigins []string `json:"autoApproveOrigins,omitempty" policy:"only"`
}

// UI holds the administrator's switches for the user interface. The section
// exists only in policy; the config file has no "ui" keys.
type UI struct {
	// AllowPause (policy only) false hides pause/resume from the user. nil
	// means allowed; use [Config.PauseAllowed].
	AllowPause *bool `json:"allowPause,omitempty" policy:"only"`
}

// Admin names the Vantagepoint hubs used for administration (docs/behaviour.md §5.5).
type Admin struct {
	AgentsHub string `json:"agentsHub"`
	GroupsHub string `json:"groupsHub"`
	Group     string `json:"group"`
}

// Conflict policies for sync.conflict (docs/behaviour.md §4.2).
const (
	ConflictVantagepoint = "vantagepoint"
	ConflictMailbox      = "mailbox"
	ConflictNewest       = "newest"
)

// EnvConfig is the environment variable that names the config file when no
// --config flag is given.
const EnvConfig = "VPCONNECT_CONFIG"

// PageCapFile is where the Vantagepoint client keeps what it learned of the
// server's page cap, between runs ("" without a data directory).
func (c Config) PageCapFile() string {
	if c.DataDir == "" {
		return ""
	}
	return filepath.Join(c.DataDir, "vantagepoint-pages")
}

// ZoneFile is where the Vantagepoint client keeps the zone it measured the
// server's ModDate in, between runs ("" without a data directory).
func (c Config) ZoneFile() string {
	if c.DataDir == "" {
		return ""
	}
	return filepath.Join(c.DataDir, "vantagepoint-zone")
}

// The fleet's defaults (docs/behaviour.md §7): a budget of 20 requests/s on the
// Vantagepoint server, and 500 agents assumed until the agents hub says.
const (
	DefaultMaxRequestsPerSecond = 20
	DefaultFleetSize            = 500
)

// Default returns the configuration used for every key the file leaves out.
// It is valid on its own, although the agent cannot activate until the
// endpoints and app registrations are filled in (see [Config.Incomplete]).
// DataDir is empty only when the home directory cannot be determined;
// Validate then says so.
func Default() Config {
	dataDir, _ := DefaultDataDir()
	return Config{
		Microsoft: Microsoft{
			Tenant:       "organizations",
			AuthorityURL: "https://login.microsoftonline.com",
			GraphURL:     "https://graph.microsoft.com/v1.0",
		},
		Vantagepoint: Vantagepoint{
			MaxRequestsPerSecond: DefaultMaxRequestsPerSecond,
			FleetSize:            DefaultFleetSize,
		},
		Sync: Sync{
			Interval:        Duration(2 * 60e9),
			MailboxInterval: Duration(30e9),
			Category:        "Vantagepoint",
			ContactFolder:   "Vantagepoint",
			LookbackDays:    14,
			DaysAhead:       180,
			Conflict:        ConflictVantagepoint,
			MailFolders:     []string{},
			EmailType:       "EMail",
			CalendarTypes:   []string{"Meeting"},
		},
		LocalAPI: LocalAPI{
			Port:           48613,
			AllowedOrigins: []string{},
		},
		Admin: Admin{
			AgentsHub: "UDIC_ConnectAgent",
			GroupsHub: "UDIC_ConnectGroup",
		},
		DataDir:         dataDir,
		KeychainService: "vpconnect",
	}
}

// DefaultPath returns <os.UserConfigDir>/vpconnect/config.json: %AppData% on
// Windows (it roams with the profile, as settings should), ~/Library/Application
// Support on macOS, $XDG_CONFIG_HOME or ~/.config on Linux.
func DefaultPath() (string, error) {
	dir, err := os.UserConfigDir()
	if err != nil {
		return "", fmt.Errorf("default config path: %w", err)
	}
	return filepath.Join(dir, "vpconnect", "config.json"), nil
}

// PathFromEnv returns the config file to use: flag (the --config value) when
// set, else $VPCONNECT_CONFIG, else [DefaultPath]. The result is absolute so
// that it means the same thing to a service started elsewhere.
func PathFromEnv(flag string) (string, error) {
	p := flag
	if p == "" {
		p = os.Getenv(EnvConfig)
	}
	if p == "" {
		return DefaultPath()
	}
	abs, err := filepath.Abs(p)
	if err != nil {
		return "", fmt.Errorf("config path %q: %w", p, err)
	}
	return abs, nil
}

// DefaultDataDir returns where the agent keeps its state database, logs and
// per-user secret file. It is machine-local on purpose: a SQLite database must
// not roam with a Windows profile or be synced by a cloud drive.
//
//   - Windows: %LocalAppData%\vpconnect
//   - macOS:   ~/Library/Application Support/vpconnect
//   - others:  $XDG_STATE_HOME/vpconnect, or ~/.local/state/vpconnect
func DefaultDataDir() (string, error) {
	switch runtime.GOOS {
	case "windows":
		if d := os.Getenv("LocalAppData"); d != "" {
			return filepath.Join(d, "vpconnect"), nil
		}
		d, err := os.UserCacheDir() // %LocalAppData% as well
		if err != nil {
			return "", fmt.Errorf("default data dir: %w", err)
		}
		return filepath.Join(d, "vpconnect"), nil
	case "darwin", "ios":
		d, err := os.UserConfigDir()
		if err != nil {
			return "", fmt.Errorf("default data dir: %w", err)
		}
		return filepath.Join(d, "vpconnect"), nil
	default:
		// XDG says a relative $XDG_STATE_HOME is invalid and must be ignored.
		if d := os.Getenv("XDG_STATE_HOME"); d != "" && filepath.IsAbs(d) {
			return filepath.Join(d, "vpconnect"), nil
		}
		home, err := os.UserHomeDir()
		if err != nil {
			return "", fmt.Errorf("default data dir: %w", err)
		}
		if home == "" {
			return "", errors.New("default data dir: $HOME is not set")
		}
		return filepath.Join(home, ".local", "state", "vpconnect"), nil
	}
}

// SyncEnabled reports the administrator's switch: true unless policy set
// sync.enabled to false.
func (c Config) SyncEnabled() bool { return c.Sync.Enabled == nil || *c.Sync.Enabled }

// PauseAllowed reports whether the user may pause and resume: true unless
// policy set ui.allowPause to false.
func (c Config) PauseAllowed() bool { return c.UI.AllowPause == nil || *c.UI.AllowPause }

// Clone returns a deep copy, so that a caller holding the effective config
// cannot change the one it came from through a shared slice.
func (c Config) Clone() Config {
	c.Sync.MailFolders = cloneStrings(c.Sync.MailFolders)
	c.Sync.CalendarTypes = cloneStrings(c.Sync.CalendarTypes)
	c.LocalAPI.AllowedOrigins = cloneStrings(c.LocalAPI.AllowedOrigins)
	c.LocalAPI.AutoApproveOrigins = cloneStrings(c.LocalAPI.AutoApproveOrigins)
	if c.Sync.Enabled != nil {
		v := *c.Sync.Enabled
		c.Sync.Enabled = &v
	}
	if c.UI.AllowPause != nil {
		v := *c.UI.AllowPause
		c.UI.AllowPause = &v
	}
	if c.Vantagepoint.SilentRelogin != nil {
		v := *c.Vantagepoint.SilentRelogin
		c.Vantagepoint.SilentRelogin = &v
	}
	return c
}

// PasswordKept says whether policy lets the agent keep the Vantagepoint
// password (vantagepoint.silentRelogin).
func (c Config) PasswordKept() bool {
	return c.Vantagepoint.SilentRelogin != nil && *c.Vantagepoint.SilentRelogin
}

func cloneStrings(s []string) []string {
	if s == nil {
		return nil
	}
	return slices.Clone(s)
}

// Incomplete lists the keys that must be filled in before the agent can
// activate (sign in and initialize the mailbox). They have no usable default,
// yet an empty value is valid so that a fresh install starts and can tell the
// user what is missing instead of refusing to run.
func (c Config) Incomplete() []string {
	var missing []string
	for _, k := range []struct {
		key, val string
	}{
		{"microsoft.clientId", c.Microsoft.ClientID},
		{"vantagepoint.apiUrl", c.Vantagepoint.APIURL},
		{"vantagepoint.database", c.Vantagepoint.Database},
		{"vantagepoint.clientId", c.Vantagepoint.ClientID},
		{"vantagepoint.clientSecret", c.Vantagepoint.ClientSecret},
	} {
		if k.val == "" {
			missing = append(missing, k.key)
		}
	}
	return missing
}
