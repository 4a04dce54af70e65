package config

import (
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"runtime"
	"strings"
	"testing"
	"time"
)

func TestDefaultIsValid(t *testing.T) {
	c := Default()
	if err := c.Validate(); err != nil {
		t.Fatalf("Default() is invalid: %v", err)
	}
	if c.Sync.Interval.D() != 2*time.Minute || c.Sync.MailboxInterval.D() != 30*time.Second {
		t.Errorf("intervals = %s, %s; want 2m, 30s (docs/behaviour.md §4.6)", c.Sync.Interval, c.Sync.MailboxInterval)
	}
	if c.LocalAPI.Port != 48613 || c.KeychainService != "vpconnect" || c.Sync.Conflict != "vantagepoint" {
		t.Errorf("defaults differ from docs/behaviour.md §5.2: %+v", c)
	}
	if !c.SyncEnabled() || !c.PauseAllowed() {
		t.Error("sync and pause must be allowed unless policy says otherwise")
	}
	if got := c.Incomplete(); len(got) != 5 {
		t.Errorf("Incomplete() = %v; want the five keys without a default", got)
	}
}

func TestDefaultDataDirXDG(t *testing.T) {
	if runtime.GOOS == "windows" || runtime.GOOS == "darwin" {
		t.Skip("XDG applies to Linux and other Unix systems")
	}
	t.Setenv("XDG_STATE_HOME", "/x/state")
	if d, _ := DefaultDataDir(); d != "/x/state/vpconnect" {
		t.Errorf("with XDG_STATE_HOME: %q", d)
	}
	t.Setenv("XDG_STATE_HOME", "relative") // XDG: ignore relative paths
	t.Setenv("HOME", "/home/u")
	if d, _ := DefaultDataDir(); d != "/home/u/.local/state/vpconnect" {
		t.Errorf("without XDG_STATE_HOME: %q", d)
	}
}

func TestPathFromEnv(t *testing.T) {
	t.Setenv(EnvConfig, "")
	def, err := DefaultPath()
	if err != nil {
		t.Skip("no user config dir here:", err)
	}
	if !strings.HasSuffix(def, filepath.Join("vpconnect", "config.json")) {
		t.Errorf("DefaultPath() = %q", def)
	}
	if p, _ := PathFromEnv(""); p != def {
		t.Errorf("no flag, no env: %q, want %q", p, def)
	}
	env := filepath.Join(t.TempDir(), "env.json")
	t.Setenv(EnvConfig, env)
	if p, _ := PathFromEnv(""); p != env {
		t.Errorf("env: %q, want %q", p, env)
	}
	flag := filepath.Join(t.TempDir(), "flag.json")
	if p, _ := PathFromEnv(flag); p != flag {
		t.Errorf("flag must win over env: %q", p)
	}
	if p, _ := PathFromEnv("rel.json"); !filepath.IsAbs(p) {
		t.Errorf("relative flag not made absolute: %q", p)
	}
}

func sampleConfig(t *testing.T) Config {
	c := Default()
	c.Microsoft.ClientID = "11111111-2222-3333-4444-555555555555"
	c.Vantagepoint = Vantagepoint{APIURL: "https://example.deltekfirst.com/example/api", Database: "C0001_PROD", ClientID: "cid", ClientSecret: "s3cret",
		MaxRequestsPerSecond: 30, FleetSize: 1200}
	c.Sync.Interval = Duration(5 * time.Minute)
	c.Sync.MailFolders = []string{"Projects", "Clients"}
	c.LocalAPI.AllowedOrigins = []string{"https://addin.example.com"}
	c.DataDir = filepath.Join(t.TempDir(), "data")
	return c
}

func TestSaveLoadRoundTrip(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "cfg")
	path := filepath.Join(dir, "config.json")
	c := sampleConfig(t)
	enabled := false
	c.Sync.Enabled = &enabled // policy-only: must not be written
	if err := Save(path, c); err != nil {
		t.Fatal(err)
	}
	got, exists, err := Load(path)
	if err != nil || !exists {
		t.Fatalf("Load: exists=%v err=%v", exists, err)
	}
	c.Sync.Enabled = nil
	if !reflect.DeepEqual(got, c) {
		t.Errorf("round trip differs:\n got %+v\nwant %+v", got, c)
	}
	raw, _ := os.ReadFile(path)
	if !strings.Contains(string(raw), `"interval": "5m"`) || strings.Contains(string(raw), "enabled") {
		t.Errorf("file content:\n%s", raw)
	}
	if runtime.GOOS != "windows" {
		assertMode(t, path, 0o600)
		assertMode(t, dir, 0o700)
	}
	// Saving again replaces the file and leaves no temporary behind.
	if err := Save(path, c); err != nil {
		t.Fatal(err)
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 1 {
		t.Errorf("directory holds %d entries, want only config.json", len(entries))
	}
}

func TestSaveRefusesInvalid(t *testing.T) {
	c := Default()
	c.Sync.Conflict = "coin toss"
	path := filepath.Join(t.TempDir(), "config.json")
	if err := Save(path, c); err == nil || !strings.Contains(err.Error(), "sync.conflict") {
		t.Fatalf("Save(invalid) = %v", err)
	}
	if _, err := os.Stat(path); !errors.Is(err, os.ErrNotExist) {
		t.Error("an invalid config was written")
	}
}

func assertMode(t *testing.T, path string, want os.FileMode) {
	t.Helper()
	st, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if got := st.Mode().Perm(); got != want {
		t.Errorf("%s: mode %v, want %v", path, got, want)
	}
}

func TestLoadMissingGivesDefaults(t *testing.T) {
	c, exists, err := Load(filepath.Join(t.TempDir(), "nope.json"))
	if err != nil || exists {
		t.Fatalf("exists=%v err=%v", exists, err)
	}
	if !reflect.DeepEqual(c, Default()) {
		t.Error("missing file must give Default()")
	}
}

func TestParsePartialKeepsDefaults(t *testing.T) {
	c, err := Parse([]byte("\xef\xbb\xbf"+`{"sync": {"lookbackDays": 30}, "admin": null}`), "config.json")
	if err != nil {
		t.Fatal(err)
	}
	want := Default()
	want.Sync.LookbackDays = 30
	if !reflect.DeepEqual(c, want) {
		t.Errorf("got %+v", c)
	}
}

func TestParseErrors(t *testing.T) {
	for _, tc := range []struct {
		name, in string
		want     []string // substrings of the error
	}{
		{"unknown nested key", "{\n  \"sync\": {\n    \"lookbakDays\": 3\n  }\n}",
			[]string{`config.json:3:5: unknown key "sync.lookbakDays" (did you mean "sync.lookbackDays"?)`}},
		{"unknown top-level key", `{"keychainServce": "x"}`,
			[]string{`config.json:1:2: unknown key "keychainServce" (did you mean "keychainService"?)`}},
		{"unknown without a guess", `{"colour": "blue"}`, []string{`unknown key "colour"`}},
		{"wrong case", `{"Sync": {}}`, []string{`unknown key "Sync" (did you mean "sync"?)`}},
		{"key in the wrong section", `{"lookbackDays": 3}`, []string{`unknown key "lookbackDays" (did you mean "sync.lookbackDays"?)`}},
		{"dotted key in file", `{"sync.interval": "5m"}`, []string{`write {"sync": {"interval": ...}}`}},
		{"policy-only key", `{"sync": {"enabled": false}}`, []string{`sync.enabled: can only be set by the administrator's policy`}},
		{"policy-only section", `{"ui": {"allowPause": false}}`, []string{`ui.allowPause: can only be set`}},
		{"string for number", `{"sync": {"lookbackDays": "fourteen"}}`,
			[]string{`config.json:1:27: sync.lookbackDays: want a number, got "fourteen"`}},
		{"fraction for number", `{"sync": {"daysAhead": 1.5}}`, []string{`sync.daysAhead: want a whole number, got 1.5`}},
		{"huge number", `{"localApi": {"port": 1e40}}`, []string{`localApi.port: want a whole number, got 1e40`}},
		{"number for string", `{"vantagepoint": {"database": 7}}`, []string{`vantagepoint.database: want a string, got 7`}},
		{"string for bool", `{"sync": {"createFirms": "yes"}}`, []string{`sync.createFirms: want true or false, got "yes"`}},
		{"string for list", `{"sync": {"mailFolders": "Inbox"}}`, []string{`sync.mailFolders: want a list of strings, got "Inbox"`}},
		{"number in list", `{"sync": {"calendarTypes": ["Meeting", 3]}}`, []string{`sync.calendarTypes[1]: want a string, got 3`}},
		{"list for section", `{"sync": []}`, []string{`sync: want an object ({ ... }), got a list`}},
		{"duration in words", `{"sync": {"interval": "2 minutes"}}`, []string{`sync.interval: want a duration such as "2m" or "30s" (units h, m, s, ms), got "2 minutes"`}},
		{"duration as number", `{"sync": {"interval": 120}}`, []string{`sync.interval: want a duration such as "2m" or "30s", got 120`}},
		{"duration too short", `{"sync": {"interval": "30s"}}`, []string{`config.json:1:11: sync.interval: must be between 1m and 24h, got 30s`}},
		{"syntax error", "{\n  \"sync\": {,}\n}", []string{`config.json:2:`, `syntax error`}},
		{"truncated", `{"sync": {`, []string{`unexpected end of file`}},
		{"trailing text", `{} {}`, []string{`config.json:1:4: unexpected text after the end`}},
		{"top is a list", `[]`, []string{`want a JSON object`}},
		{"empty", "  \n", []string{`config.json: the file is empty`}},
		{"duplicate key", `{"sync": {}, "sync": {}}`, []string{`duplicate key "sync"`}},
		{"all problems at once", `{"sync": {"lookbackDays": 999, "daysAhead": 0, "conflict": "x"}, "bogus": 1}`,
			[]string{"sync.lookbackDays", "sync.daysAhead", "sync.conflict", `"bogus"`}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Parse([]byte(tc.in), "config.json")
			if err == nil {
				t.Fatal("no error")
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q\ndoes not contain %q", err, w)
				}
			}
		})
	}
}

func TestFieldErrorIsReachable(t *testing.T) {
	_, err := Parse([]byte(`{"sync": {"conflict": "x"}}`), "c.json")
	var fe *FieldError
	if !errors.As(err, &fe) || fe.Key != "sync.conflict" {
		t.Fatalf("errors.As FieldError: %v", err)
	}
	var le *LocatedError
	if !errors.As(err, &le) || le.Source != "c.json" || le.Line != 1 {
		t.Fatalf("errors.As LocatedError: %+v", le)
	}
}

func TestDuration(t *testing.T) {
	for _, tc := range []struct {
		d    time.Duration
		want string
	}{{2 * time.Minute, "2m"}, {30 * time.Second, "30s"}, {90 * time.Minute, "1h30m"}, {0, "0s"}, {1500 * time.Millisecond, "1.5s"}, {time.Hour + time.Second, "1h1s"}} {
		if got := Duration(tc.d).String(); got != tc.want {
			t.Errorf("%v: %q, want %q", tc.d, got, tc.want)
		}
		b, _ := json.Marshal(Duration(tc.d))
		var back Duration
		if err := json.Unmarshal(b, &back); err != nil || back.D() != tc.d {
			t.Errorf("%s: round trip %v %v", b, back, err)
		}
	}
	var d Duration
	for _, bad := range []string{`"2 minutes"`, `120`, `""`, `" 2m"`, `"2"`} {
		if err := json.Unmarshal([]byte(bad), &d); err == nil || !strings.Contains(err.Error(), `"2m"`) {
			t.Errorf("%s: err = %v", bad, err)
		}
	}
}

func TestValidateRules(t *testing.T) {
	for _, tc := range []struct {
		key    string
		mutate func(*Config)
	}{
		{"microsoft.clientId", func(c *Config) { c.Microsoft.ClientID = " id" }},
		{"microsoft.tenant", func(c *Config) { c.Microsoft.Tenant = "" }},
		{"microsoft.tenant", func(c *Config) { c.Microsoft.Tenant = "a/b" }},
		{"microsoft.authorityUrl", func(c *Config) { c.Microsoft.AuthorityURL = "login.microsoftonline.com" }},
		{"microsoft.authorityUrl", func(c *Config) { c.Microsoft.AuthorityURL = "http://login.microsoftonline.com" }},
		{"microsoft.authorityUrl", func(c *Config) { c.Microsoft.AuthorityURL = "" }},
		{"microsoft.graphUrl", func(c *Config) { c.Microsoft.GraphURL = "https://u:p@graph.microsoft.com" }},
		{"microsoft.graphUrl", func(c *Config) { c.Microsoft.GraphURL = "https://graph.microsoft.com/v1.0?x=1" }},
		{"microsoft.graphUrl", func(c *Config) { c.Microsoft.GraphURL = "https://graph.microsoft.com:99999" }},
		{"microsoft.graphUrl", func(c *Config) { c.Microsoft.GraphURL = "ftp://graph.microsoft.com" }},
		{"vantagepoint.apiUrl", func(c *Config) { c.Vantagepoint.APIURL = "https:///api" }},
		{"vantagepoint.apiUrl", func(c *Config) { c.Vantagepoint.APIURL = "http://10.0.0.5/api" }},
		{"vantagepoint.database", func(c *Config) { c.Vantagepoint.Database = "db\n" }},
		{"vantagepoint.clientId", func(c *Config) { c.Vantagepoint.ClientID = "x\x00" }},
		{"vantagepoint.clientSecret", func(c *Config) { c.Vantagepoint.ClientSecret = strings.Repeat("s", 1001) }},
		{"sync.interval", func(c *Config) { c.Sync.Interval = Duration(59 * time.Second) }},
		{"sync.interval", func(c *Config) { c.Sync.Interval = Duration(25 * time.Hour) }},
		{"sync.mailboxInterval", func(c *Config) { c.Sync.MailboxInterval = Duration(9 * time.Second) }},
		{"sync.mailboxInterval", func(c *Config) { c.Sync.MailboxInterval = Duration(-time.Minute) }},
		{"sync.category", func(c *Config) { c.Sync.Category = "" }},
		{"sync.category", func(c *Config) { c.Sync.Category = "VP: mine" }},
		{"sync.category", func(c *Config) { c.Sync.Category = "a,b" }},
		{"sync.category", func(c *Config) { c.Sync.Category = strings.Repeat("c", 250) }},
		{"sync.contactFolder", func(c *Config) { c.Sync.ContactFolder = "" }},
		{"sync.lookbackDays", func(c *Config) { c.Sync.LookbackDays = -1 }},
		{"sync.lookbackDays", func(c *Config) { c.Sync.LookbackDays = 366 }},
		{"sync.daysAhead", func(c *Config) { c.Sync.DaysAhead = 0 }},
		{"sync.daysAhead", func(c *Config) { c.Sync.DaysAhead = 731 }},
		{"sync.conflict", func(c *Config) { c.Sync.Conflict = "Newest" }},
		{"sync.mailFolders", func(c *Config) { c.Sync.MailFolders = []string{"A", "a"} }},
		{"sync.mailFolders", func(c *Config) { c.Sync.MailFolders = []string{""} }},
		{"sync.emailType", func(c *Config) { c.Sync.EmailType = "" }},
		{"sync.calendarTypes", func(c *Config) { c.Sync.CalendarTypes = nil }},
		{"sync.calendarTypes", func(c *Config) { c.Sync.CalendarTypes = []string{"Meeting "} }},
		{"localApi.port", func(c *Config) { c.LocalAPI.Port = 1023 }},
		{"localApi.port", func(c *Config) { c.LocalAPI.Port = 65517 }},
		{"localApi.allowedOrigins", func(c *Config) { c.LocalAPI.AllowedOrigins = []string{"*"} }},
		{"localApi.allowedOrigins", func(c *Config) { c.LocalAPI.AllowedOrigins = []string{"https://addin.example.com/"} }},
		{"localApi.allowedOrigins", func(c *Config) { c.LocalAPI.AllowedOrigins = []string{"https://addin.example.com/taskpane.html"} }},
		{"localApi.allowedOrigins", func(c *Config) { c.LocalAPI.AllowedOrigins = []string{"https://Addin.example.com"} }},
		{"localApi.allowedOrigins", func(c *Config) { c.LocalAPI.AllowedOrigins = []string{"https://addin.example.com:443"} }},
		{"localApi.allowedOrigins", func(c *Config) { c.LocalAPI.AllowedOrigins = []string{"http://addin.example.com"} }},
		{"localApi.allowedOrigins", func(c *Config) { c.LocalAPI.AllowedOrigins = []string{"addin.example.com"} }},
		{"localApi.allowedOrigins", func(c *Config) {
			c.LocalAPI.AllowedOrigins = []string{"https://a.example.com", "https://a.example.com"}
		}},
		{"localApi.autoApproveOrigins", func(c *Config) { c.LocalAPI.AutoApproveOrigins = []string{"https://other.example.com"} }},
		{"localApi.autoApproveOrigins", func(c *Config) { c.LocalAPI.AutoApproveOrigins = []string{"https://x.example.com/p"} }},
		{"admin.agentsHub", func(c *Config) { c.Admin.AgentsHub = "ConnectAgent" }},
		{"admin.groupsHub", func(c *Config) { c.Admin.GroupsHub = "UDIC_Connect/Group" }},
		{"admin.group", func(c *Config) { c.Admin.Group = " Sales" }},
		{"dataDir", func(c *Config) { c.DataDir = "" }},
		{"dataDir", func(c *Config) { c.DataDir = "relative/dir" }},
		{"keychainService", func(c *Config) { c.KeychainService = "" }},
	} {
		c := Default()
		tc.mutate(&c)
		err := c.Validate()
		var fe *FieldError
		if err == nil || !errors.As(err, &fe) || fe.Key != tc.key {
			t.Errorf("%s: Validate() = %v", tc.key, err)
		}
	}
}

func TestValidateAccepts(t *testing.T) {
	c := Default()
	c.Microsoft.AuthorityURL = "http://127.0.0.1:5001" // simulators on loopback
	c.Microsoft.GraphURL = "http://[::1]:5002/v1.0"
	c.Vantagepoint.APIURL = "http://localhost:5003/vp/api"
	c.LocalAPI.AllowedOrigins = []string{"https://addin.example.com", "https://addin.example.com:8443", "http://localhost:3000", "http://[::1]:3000"}
	c.LocalAPI.AutoApproveOrigins = []string{"https://addin.example.com"}
	c.Sync.LookbackDays = 0
	c.LocalAPI.Port = MaxPort
	if err := c.Validate(); err != nil {
		t.Fatal(err)
	}
}

func TestURLTrailingSlashNormalized(t *testing.T) {
	c, err := Parse([]byte(`{"vantagepoint": {"apiUrl": "https://vp.example.com/vp/api/"}}`), "c.json")
	if err != nil || c.Vantagepoint.APIURL != "https://vp.example.com/vp/api" {
		t.Fatalf("%q %v", c.Vantagepoint.APIURL, err)
	}
}

func TestEnsureDataDir(t *testing.T) {
	c := Default()
	c.DataDir = filepath.Join(t.TempDir(), "a", "b")
	dir, err := EnsureDataDir(c)
	if err != nil || dir != c.DataDir {
		t.Fatalf("%q %v", dir, err)
	}
	if runtime.GOOS == "windows" {
		return
	}
	assertMode(t, dir, 0o700)
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if _, err := EnsureDataDir(c); err != nil {
		t.Fatal(err)
	}
	assertMode(t, dir, 0o700)

	file := filepath.Join(t.TempDir(), "file")
	os.WriteFile(file, nil, 0o600)
	c.DataDir = file
	if _, err := EnsureDataDir(c); err == nil {
		t.Error("a file as data dir was accepted")
	}
}

func TestWriteFile(t *testing.T) {
	dir := t.TempDir()
	if err := WriteFile(dir, "secret", []byte("x")); err != nil {
		t.Fatal(err)
	}
	if err := WriteFile(dir, "secret", []byte("yy")); err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(filepath.Join(dir, "secret")); string(b) != "yy" {
		t.Errorf("content %q", b)
	}
	if runtime.GOOS != "windows" {
		assertMode(t, filepath.Join(dir, "secret"), 0o600)
	}
	for _, bad := range []string{"", ".", "..", "../x", "a/b", `a\b`} {
		if err := WriteFile(dir, bad, nil); err == nil {
			t.Errorf("WriteFile(%q) accepted", bad)
		}
	}
}

// TestNoCredentialFields guards docs/behaviour.md §6: tokens and passwords live only in
// the keychain, so the config must never grow a field for them.
func TestNoCredentialFields(t *testing.T) {
	for _, k := range Keys() {
		l := strings.ToLower(k)
		if strings.Contains(l, "token") || strings.Contains(l, "password") {
			t.Errorf("config key %q would put a credential in the file", k)
		}
	}
}

// TestDocsCoverEveryKey keeps docs/configuration.md in step with the struct.
func TestDocsCoverEveryKey(t *testing.T) {
	doc, err := os.ReadFile("../../docs/configuration.md")
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range Keys() {
		if !strings.Contains(string(doc), "`"+k+"`") {
			t.Errorf("docs/configuration.md does not document `%s`", k)
		}
	}
	for _, s := range []string{WindowsPolicyKey, MacPolicyDomain, MacPolicyPath, LinuxPolicyPath, EnvConfig} {
		if !strings.Contains(string(doc), s) {
			t.Errorf("docs/configuration.md does not mention %s", s)
		}
	}
}
