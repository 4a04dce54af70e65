package system

import (
	"context"
	"slices"
	"testing"

	"vpconnect/agent"
	"vpconnect/agent/config"
	"vpconnect/auth"
)

// testConfig is a complete configuration whose services are never asked:
// building a system talks to nothing.
func testConfig(t *testing.T) config.Config {
	cfg := config.Default()
	cfg.Microsoft.ClientID = "6731de76-14a6-49ae-97bc-6eba6914391e"
	cfg.Microsoft.AuthorityURL = "http://127.0.0.1:9/authority"
	cfg.Microsoft.GraphURL = "http://127.0.0.1:9/v1.0"
	cfg.Vantagepoint.APIURL = "http://127.0.0.1:9/vantagepoint/api"
	cfg.Vantagepoint.Database = "VPTest"
	cfg.Vantagepoint.ClientID = "vpc"
	cfg.Vantagepoint.ClientSecret = "secret"
	cfg.DataDir = t.TempDir()
	cfg.LocalAPI.Port = 0
	cfg.KeychainService = "vpconnect-test"
	return cfg
}

func build(t *testing.T, kc auth.Keychain, cfg config.Config) *System {
	t.Helper()
	s, err := Build(context.Background(), Env{Keychain: func(string) auth.Keychain { return kc },
		Idle: func() bool { return false }}, cfg, cfg.DataDir, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// Without stored sign-ins the agent is Not Configured: it serves its API and
// says what to do, with no engine behind it.
func TestNotActivatedIsNotConfigured(t *testing.T) {
	cfg := testConfig(t)
	s := build(t, auth.NewMemoryKeychain(), cfg)
	if st := s.Agent.Status(); st.State != agent.StateNotConfigured {
		t.Errorf("state %q, want %q", st.State, agent.StateNotConfigured)
	}
	if s.Engine != nil || s.Runner != nil || s.Store != nil {
		t.Error("an engine was built without sign-ins")
	}
	if p := s.Parts(); slices.Contains(p, "engine") || !slices.Contains(p, "localapi") {
		t.Errorf("parts %v", p)
	}
	if _, err := s.SyncOnce(context.Background()); err == nil {
		t.Error("a batch ran without an activation")
	}
	if err := s.Deactivate(context.Background(), false); err != agent.ErrNotConfigured {
		t.Errorf("Delete without an activation: %v", err)
	}
}

// With both sign-ins stored the agent is built whole, and the mailbox the
// fresh state does not know is taken up by the first batch.
func TestActivatedIsBuiltWhole(t *testing.T) {
	cfg := testConfig(t)
	kc := auth.NewMemoryKeychain()
	st := auth.NewStore(kc, cfg.DataDir)
	ctx := context.Background()
	if err := st.Save(ctx, auth.Record{Account: auth.Microsoft, RefreshToken: "r1", User: "dana@contoso.example"}); err != nil {
		t.Fatal(err)
	}
	if err := st.Save(ctx, auth.Record{Account: auth.Vantagepoint, RefreshToken: "r2", URL: cfg.Vantagepoint.APIURL,
		Database: "VPTest", Username: "DWHITFIELD", Employee: "00042"}); err != nil {
		t.Fatal(err)
	}
	s := build(t, kc, cfg)
	want := []string{"admin", "directory", "engine", "graph", "idle", "keychain", "lease", "localapi", "network",
		"reauthorize", "store", "translateIDs", "vantagepoint"}
	if p := s.Parts(); !slices.Equal(p, want) {
		t.Errorf("parts %v, want %v", p, want)
	}
	stt := s.Agent.Status()
	if stt.Accounts.Vantagepoint.Employee != "00042" || stt.Accounts.Microsoft.User != "dana@contoso.example" {
		t.Errorf("accounts %+v", stt.Accounts)
	}
	if stt.MailboxStatus != "Initialized" {
		t.Errorf("mailbox status %q", stt.MailboxStatus)
	}
}
