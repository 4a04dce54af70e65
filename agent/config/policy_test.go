package config

import (
	"os"
	"path/filepath"
	"reflect"
	"runtime"
	"strings"
	"testing"
	"time"
)

func joinErrs(errs []error) string {
	var b strings.Builder
	for _, e := range errs {
		b.WriteString(e.Error() + "\n")
	}
	return b.String()
}

func TestPolicyOverridesConfig(t *testing.T) {
	c := Default()
	c.Vantagepoint.APIURL = "https://user.example.com/api"
	c.LocalAPI.AllowedOrigins = []string{"https://user-addin.example.com"}
	p, errs := ParsePolicy([]byte(`{
		"vantagepoint": {"apiUrl": "https://it.example.com/api"},
		"sync.enabled": false,
		"sync": {"interval": "5m"},
		"ui": {"allowPause": false},
		"localApi": {"allowedOrigins": ["https://addin.example.com"], "autoApproveOrigins": ["https://addin.example.com"]}
	}`), "policy.json")
	if len(errs) > 0 {
		t.Fatal(joinErrs(errs))
	}
	eff, errs := c.Effective(p)
	if len(errs) > 0 {
		t.Fatal(joinErrs(errs))
	}
	if eff.Vantagepoint.APIURL != "https://it.example.com/api" || eff.SyncEnabled() || eff.PauseAllowed() ||
		eff.Sync.Interval.D() != 5*time.Minute || !reflect.DeepEqual(eff.LocalAPI.AutoApproveOrigins, []string{"https://addin.example.com"}) ||
		!reflect.DeepEqual(eff.LocalAPI.AllowedOrigins, []string{"https://addin.example.com"}) {
		t.Errorf("effective: %+v", eff)
	}
	if c.Vantagepoint.APIURL != "https://user.example.com/api" || c.Sync.Enabled != nil {
		t.Error("Effective changed the file config")
	}
	if !p.Has("sync.enabled") || p.Has("sync.category") || p.Source("sync.enabled") != "policy.json" {
		t.Errorf("Has/Source: %v", p.Keys())
	}
	// The effective config must not share memory with the policy.
	eff.LocalAPI.AllowedOrigins[0] = "changed"
	if eff2, _ := c.Effective(p); eff2.LocalAPI.AllowedOrigins[0] != "https://addin.example.com" {
		t.Error("effective config aliases the policy")
	}
}

func TestBadPolicyValueIgnoredRestApplies(t *testing.T) {
	c := Default()
	p, errs := ParsePolicy([]byte(`{
		"sync": {"enabled": "no", "interval": "10s", "lookbackDays": 30, "categry": "x"},
		"localApi": {"allowedOrigins": ["https://ok.example.com", "https://bad.example.com/path"]},
		"vantagepoint": {"database": "PROD"}
	}`), "/etc/vpconnect/policy.json")
	parseMsgs := joinErrs(errs)
	for _, w := range []string{`sync.enabled: want true or false, got "no"`, `unknown key "sync.categry" (did you mean "sync.category"?)`, "/etc/vpconnect/policy.json:2:", "(ignored)"} {
		if !strings.Contains(parseMsgs, w) {
			t.Errorf("parse errors lack %q:\n%s", w, parseMsgs)
		}
	}
	eff, errs := c.Effective(p)
	msgs := joinErrs(errs)
	for _, w := range []string{"sync.interval: must be between 1m and 24h", "localApi.allowedOrigins[1]", "(ignored)"} {
		if !strings.Contains(msgs, w) {
			t.Errorf("effective errors lack %q:\n%s", w, msgs)
		}
	}
	if eff.Sync.Interval != c.Sync.Interval || !eff.SyncEnabled() {
		t.Error("bad values were applied")
	}
	if eff.Sync.LookbackDays != 30 || eff.Vantagepoint.Database != "PROD" ||
		!reflect.DeepEqual(eff.LocalAPI.AllowedOrigins, []string{"https://ok.example.com"}) {
		t.Errorf("good values not applied: %+v", eff)
	}
	if err := eff.Validate(); err != nil {
		t.Errorf("effective config invalid: %v", err)
	}
}

func TestPolicyAutoApproveMustBeAllowed(t *testing.T) {
	c := Default()
	c.LocalAPI.AllowedOrigins = []string{"https://a.example.com"}
	p, _ := ParsePolicy([]byte(`{"localApi.autoApproveOrigins": ["https://a.example.com", "https://b.example.com"]}`), "p")
	eff, errs := c.Effective(p)
	if len(errs) != 1 || !strings.Contains(errs[0].Error(), "not in localApi.allowedOrigins") {
		t.Fatalf("errs: %s", joinErrs(errs))
	}
	if !reflect.DeepEqual(eff.LocalAPI.AutoApproveOrigins, []string{"https://a.example.com"}) {
		t.Errorf("auto-approve: %v", eff.LocalAPI.AutoApproveOrigins)
	}
}

func TestPolicyNotJSON(t *testing.T) {
	p, errs := ParsePolicy([]byte(`{"sync": `), "p.json")
	if !p.IsZero() || len(errs) != 1 || !strings.Contains(errs[0].Error(), "p.json:1:") {
		t.Fatalf("%v %s", p.Keys(), joinErrs(errs))
	}
}

func TestPolicyFromRegistryValues(t *testing.T) {
	p, errs := PolicyFromValues(map[string]any{
		"Sync.Enabled":                uint64(0), // registry names are case-insensitive
		"sync.mailboxInterval":        uint64(45),
		"sync.interval":               "3m",
		"localApi.port":               uint64(50000),
		"localApi.allowedOrigins":     "https://a.example.com; https://b.example.com",
		"localApi.autoApproveOrigins": []string{"https://a.example.com"},
		"vantagepoint.apiUrl":         "https://vp.example.com/api",
		"ui.allowPause":               "true",
		"sync.createFirms":            uint64(2),
		"sync.lookbackDays":           unsupportedTestValue("REG_BINARY"),
		"no.such":                     "x",
		"microsoft.tenant":            uint64(5),
		"sync.daysAhead":              "90",
		"admin.group":                 "Sales",
		"localApi.alowedOrigins":      "x",
	}, `HKLM\SOFTWARE\Policies\vpconnect`)
	msgs := joinErrs(errs)
	for _, w := range []string{"sync.createFirms: want true or false, got 2", "sync.lookbackDays", `unknown key "no.such"`, "microsoft.tenant: want a string, got 5", `unknown key "localApi.alowedOrigins" (did you mean "localApi.allowedOrigins"?)`} {
		if !strings.Contains(msgs, w) {
			t.Errorf("errors lack %q:\n%s", w, msgs)
		}
	}
	eff, errs := Default().Effective(p)
	if len(errs) > 0 {
		t.Fatal(joinErrs(errs))
	}
	if eff.SyncEnabled() || !eff.PauseAllowed() || eff.Sync.MailboxInterval.D() != 45*time.Second ||
		eff.Sync.Interval.D() != 3*time.Minute || eff.LocalAPI.Port != 50000 || eff.Sync.DaysAhead != 90 ||
		!reflect.DeepEqual(eff.LocalAPI.AllowedOrigins, []string{"https://a.example.com", "https://b.example.com"}) ||
		eff.Admin.Group != "Sales" {
		t.Errorf("effective: %+v", eff)
	}
}

type unsupportedTestValue string

func TestPolicyOverPrecedence(t *testing.T) {
	hklm, _ := PolicyFromValues(map[string]any{"sync.enabled": uint64(0)}, "HKLM")
	hkcu, _ := PolicyFromValues(map[string]any{"sync.enabled": uint64(1), "admin.group": "G"}, "HKCU")
	p := hklm.Over(hkcu)
	eff, _ := Default().Effective(p)
	if eff.SyncEnabled() || eff.Admin.Group != "G" || p.Source("sync.enabled") != "HKLM" {
		t.Errorf("precedence: %+v", eff)
	}
}

func TestLoadPolicyFile(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "policy.json")
	if p, errs := LoadPolicyFile(path); !p.IsZero() || errs != nil {
		t.Fatal("missing policy file must be an empty policy, no error")
	}
	os.WriteFile(path, []byte(`{"sync": {"enabled": false}}`), 0o644)
	p, errs := LoadPolicyFile(path)
	if len(errs) > 0 || !p.Has("sync.enabled") {
		t.Fatalf("%v %s", p.Keys(), joinErrs(errs))
	}
	if runtime.GOOS == "windows" {
		return
	}
	os.Chmod(path, 0o666)
	p, errs = LoadPolicyFile(path)
	if !p.IsZero() || len(errs) != 1 || !strings.Contains(errs[0].Error(), "writable by other users") {
		t.Fatalf("world-writable policy: %v %s", p.Keys(), joinErrs(errs))
	}
}

func TestPolicyOnlyKeys(t *testing.T) {
	var got []string
	for _, k := range Keys() {
		if PolicyOnly(k) {
			got = append(got, k)
		}
	}
	want := []string{"vantagepoint.silentRelogin", "sync.enabled", "localApi.autoApproveOrigins", "ui.allowPause"}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("policy-only keys %v, want %v", got, want)
	}
}
