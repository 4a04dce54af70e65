package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"vpconnect/agent"
	"vpconnect/agent/config"
	"vpconnect/agent/system"
	"vpconnect/auth"
	"vpconnect/syncer"
	"vpconnect/syncer/graph/graphsim"
	"vpconnect/syncer/store"
	"vpconnect/syncer/vantagepoint/vpsim"
)

const (
	testMSClient = "6731de76-14a6-49ae-97bc-6eba6914391e"
	testPassword = "Pa55-word-of-Dana"
)

// recorder sees every request and answer, and keeps every secret that
// crossed the wire: bearer tokens, and the tokens of token answers.
type recorder struct {
	next    http.RoundTripper
	mu      sync.Mutex
	secrets map[string]bool
}

func (r *recorder) add(s string) {
	if len(s) >= 8 {
		r.mu.Lock()
		r.secrets[s] = true
		r.mu.Unlock()
	}
}

func (r *recorder) RoundTrip(req *http.Request) (*http.Response, error) {
	if h := req.Header.Get("Authorization"); len(h) > 7 {
		r.add(h[7:])
	}
	resp, err := r.next.RoundTrip(req)
	if err != nil || !strings.Contains(req.URL.Path, "token") {
		return resp, err
	}
	body, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil {
		return nil, err
	}
	resp.Body = io.NopCloser(bytes.NewReader(body))
	var m map[string]any
	if json.Unmarshal(body, &m) == nil {
		for _, k := range []string{"access_token", "refresh_token", "id_token"} {
			if s, ok := m[k].(string); ok {
				r.add(s)
			}
		}
	}
	return resp, nil
}

type world struct {
	g       *graphsim.Server
	v       *vpsim.Server
	cfgPath string
	cfg     config.Config
	kc      *auth.MemoryKeychain
	rec     *recorder
	// cli is the command line the test runs, in the test's environment.
	cli *cli
}

func browse(ctx context.Context, address string) error {
	resp, err := http.Get(address)
	if err != nil {
		return err
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	return resp.Body.Close()
}

func newWorld(t *testing.T) *world {
	t.Helper()
	w := &world{}
	w.g = graphsim.New(graphsim.Options{ClientID: testMSClient,
		User: graphsim.User{DisplayName: "Dana Whitfield", Mail: "dana@contoso.example", UserPrincipalName: "dana@contoso.example"}})
	if _, err := w.g.Start("127.0.0.1:0"); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(w.g.Close)
	w.v = vpsim.New(vpsim.Options{Database: "VPTest", ClientID: "vpc", ClientSecret: "vpc-client-secret"})
	if _, err := w.v.Start("127.0.0.1:0"); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(w.v.Close)
	w.v.AddEmployee(vpsim.Employee{Employee: "00042", FirstName: "Dana", LastName: "Whitfield", EMail: "dana@contoso.example", Status: "A"})
	w.v.AddUser("DWHITFIELD", testPassword, "00042")

	dir := testDir(t)
	cfg := config.Default()
	cfg.Microsoft.ClientID = testMSClient
	cfg.Microsoft.AuthorityURL = w.g.AuthorityURL()
	cfg.Microsoft.GraphURL = w.g.GraphURL()
	cfg.Vantagepoint.APIURL = w.v.APIURL()
	cfg.Vantagepoint.Database = "VPTest"
	cfg.Vantagepoint.ClientID = "vpc"
	cfg.Vantagepoint.ClientSecret = "vpc-client-secret"
	cfg.DataDir = filepath.Join(dir, "data")
	cfg.KeychainService = "vpconnect-test"
	w.cfg = cfg
	w.cfgPath = filepath.Join(dir, "config.json")
	if err := config.Save(w.cfgPath, cfg); err != nil {
		t.Fatal(err)
	}
	w.kc = auth.NewMemoryKeychain()
	w.rec = &recorder{next: http.DefaultTransport, secrets: map[string]bool{}}
	w.cli = &cli{
		env: system.Env{
			Keychain: func(service string) auth.Keychain {
				if service != "vpconnect-test" {
					t.Errorf("keychain service %q", service)
				}
				return w.kc
			},
			Browser:   browse,
			Transport: w.rec,
			// The first run's activation page is opened by the tests
			// that look at it.
			OpenPage: func(context.Context, string) error { return nil },
			// The simulator applies a write before it answers: a claim
			// of the mailbox's lease need not wait long for Graph (but
			// its read and write must fit in it, or it is abandoned).
			LeaseSettle: 500 * time.Millisecond,
		},
		stdin:        strings.NewReader(""),
		readPassword: func() (string, error) { return "", errors.New("no terminal in tests") },
		openPage: func(context.Context, string) error {
			t.Error("a real browser would have been opened")
			return errors.New("no browser in tests")
		},
	}
	t.Setenv(envVPUsername, "DWHITFIELD")
	t.Setenv(envVPPassword, testPassword)
	return w
}

// command is a copy of the test's command line for one command, as each
// process has its own (a running agent and the commands the test runs
// meanwhile do not share their --config).
func (w *world) command() *cli {
	c := *w.cli
	return &c
}

func (w *world) run(args ...string) (int, string, string) {
	var out, errOut bytes.Buffer
	code := w.command().run(append([]string{"--config", w.cfgPath}, args...), &out, &errOut)
	return code, out.String(), errOut.String()
}

func TestActivateThenBatchLeavesNoSecretOnDisk(t *testing.T) {
	w := newWorld(t)
	code, out, errOut := w.run("activate")
	if code != exitOK {
		t.Fatalf("activate = %d\n%s%s", code, out, errOut)
	}
	if !strings.Contains(out, "Microsoft 365: dana@contoso.example (tenant ") ||
		!strings.Contains(out, "Vantagepoint: DWHITFIELD on "+w.v.APIURL()+", database VPTest, employee 00042") {
		t.Errorf("activate said:\n%s", out)
	}
	// The mailbox is initialized: the master categories exist.
	cats := map[string]bool{}
	for _, c := range w.g.Categories() {
		cats[c.DisplayName] = true
	}
	if !cats["Vantagepoint"] || !cats["Vantagepoint: Synced"] {
		t.Errorf("categories after activation: %v", cats)
	}

	// A batch with what the keychain holds, as the agent will run it.
	var logBuf bytes.Buffer
	log := slog.New(slog.NewTextHandler(&logBuf, &slog.HandlerOptions{Level: slog.LevelDebug}))
	ctx := context.Background()
	st := auth.NewStore(w.kc, w.cfg.DataDir)
	msApp, vpApp := system.Apps(w.cli.env, w.cfg)
	ms := msApp.TokenSource(ctx, st, nil)
	vp := vpApp.TokenSource(ctx, st, nil)
	mailbox, err := system.Mailbox(w.cli.env, w.cfg, ms, log)
	if err != nil {
		t.Fatal(err)
	}
	vpc, err := system.Vantagepoint(w.cli.env, w.cfg, vp, log)
	if err != nil {
		t.Fatal(err)
	}
	rec, _ := st.Load(ctx, auth.Vantagepoint)
	db, err := store.Open(filepath.Join(w.cfg.DataDir, system.StateFile))
	if err != nil {
		t.Fatal(err)
	}
	b, err := syncer.New(mailbox, vpc, db, agent.EngineOptions(w.cfg, rec.Employee, log)).Run(ctx, syncer.TriggerManual)
	db.Close()
	if err != nil || b.Outcome == syncer.OutcomeFailed {
		t.Fatalf("batch: %v %+v", err, b)
	}

	secrets := []string{testPassword}
	for s := range w.rec.secrets {
		secrets = append(secrets, s)
	}
	if len(secrets) < 5 {
		t.Fatalf("only %d secrets seen; the recorder is not recording", len(secrets))
	}
	places := map[string]string{"stdout": out, "stderr": errOut, "log": logBuf.String()}
	for _, dir := range []string{w.cfg.DataDir, filepath.Dir(w.cfgPath)} {
		filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
			if err == nil && !d.IsDir() {
				b, _ := os.ReadFile(p)
				places[p] = string(b)
				if fi, _ := d.Info(); fi.Mode().Perm()&0o077 != 0 {
					t.Errorf("%s is %v, readable by others", p, fi.Mode().Perm())
				}
			}
			return nil
		})
	}
	if len(places) < 5 {
		t.Fatalf("scanned only %v", places)
	}
	for where, content := range places {
		for _, s := range secrets {
			if strings.Contains(content, s) {
				t.Errorf("%s holds a secret (%.6s…)", where, s)
			}
		}
	}
	// The keychain holds refresh tokens only, not the password or an
	// access token.
	for name, e := range w.kc.Entries() {
		if strings.Contains(e, testPassword) {
			t.Errorf("keychain entry %s holds the password", name)
		}
	}
}

func TestActivateNoBrowserPrintsTheAddress(t *testing.T) {
	w := newWorld(t)
	w.cli.env.Browser = func(context.Context, string) error {
		t.Error("a browser was opened")
		return nil
	}
	pr, pw := io.Pipe()
	done := make(chan struct{})
	var code int
	var out string
	go func() {
		defer close(done)
		var o bytes.Buffer
		code = w.command().run([]string{"--config", w.cfgPath, "activate", "--no-browser"}, &o, pw)
		pw.Close()
		out = o.String()
	}()
	buf := make([]byte, 0, 4096)
	tmp := make([]byte, 512)
	for {
		n, err := pr.Read(tmp)
		buf = append(buf, tmp[:n]...)
		if i := bytes.Index(buf, []byte("Sign in: ")); i >= 0 {
			if j := bytes.IndexByte(buf[i:], '\n'); j > 0 {
				if err := browse(context.Background(), string(buf[i+9:i+j])); err != nil {
					t.Fatal(err)
				}
				break
			}
		}
		if err != nil {
			t.Fatalf("no Sign in line: %q", buf)
		}
	}
	go io.Copy(io.Discard, pr)
	<-done
	if code != exitOK || !strings.Contains(out, "employee 00042") {
		t.Fatalf("activate --no-browser = %d: %s", code, out)
	}
}

func TestSignInProblemsExitWithCode3(t *testing.T) {
	t.Run("wrong password", func(t *testing.T) {
		w := newWorld(t)
		t.Setenv(envVPPassword, "wrong")
		code, _, errOut := w.run("activate")
		if code != exitNeedSignIn || !strings.Contains(errOut, "password was refused") || strings.Contains(errOut, "wrong") {
			t.Errorf("exit %d: %s", code, errOut)
		}
	})
	t.Run("keychain unavailable", func(t *testing.T) {
		w := newWorld(t)
		w.cli.env.Keychain = func(string) auth.Keychain { return brokenKeychain{} }
		code, _, errOut := w.run("activate")
		if code != exitNeedSignIn || !strings.Contains(errOut, "keychain is unavailable") {
			t.Errorf("exit %d: %s", code, errOut)
		}
		if code, _, _ := w.run("reauthorize", "vantagepoint"); code != exitNeedSignIn {
			t.Errorf("reauthorize exit %d", code)
		}
	})
	t.Run("reauthorize before activate", func(t *testing.T) {
		w := newWorld(t)
		code, _, errOut := w.run("reauthorize", "microsoft")
		if code != exitNeedSignIn || !strings.Contains(errOut, "vpconnect activate") {
			t.Errorf("exit %d: %s", code, errOut)
		}
	})
	t.Run("no credentials and no terminal", func(t *testing.T) {
		w := newWorld(t)
		t.Setenv(envVPUsername, "")
		t.Setenv(envVPPassword, "")
		code, _, errOut := w.run("activate")
		if code != exitNeedSignIn || !strings.Contains(errOut, envVPUsername) {
			t.Errorf("exit %d: %s", code, errOut)
		}
	})
}

func TestReauthorize(t *testing.T) {
	w := newWorld(t)
	if code, out, errOut := w.run("activate"); code != exitOK {
		t.Fatalf("activate = %d\n%s%s", code, out, errOut)
	}
	w.v.RevokeTokens()
	w.g.RevokeRefreshTokens()
	code, out, errOut := w.run("reauthorize", "vantagepoint")
	if code != exitOK || !strings.Contains(out, "Vantagepoint: DWHITFIELD on ") || !strings.Contains(out, "employee 00042") {
		t.Errorf("reauthorize vantagepoint = %d: %s%s", code, out, errOut)
	}
	code, out, errOut = w.run("reauthorize", "microsoft")
	if code != exitOK || !strings.Contains(out, "Microsoft 365: dana@contoso.example") {
		t.Errorf("reauthorize microsoft = %d: %s%s", code, out, errOut)
	}
	ctx := context.Background()
	st := auth.NewStore(w.kc, w.cfg.DataDir)
	msApp, vpApp := system.Apps(w.cli.env, w.cfg)
	if _, err := msApp.TokenSource(ctx, st, nil).Token(); err != nil {
		t.Errorf("Microsoft after reauthorize: %v", err)
	}
	if _, err := vpApp.TokenSource(ctx, st, nil).Token(); err != nil {
		t.Errorf("Vantagepoint after reauthorize: %v", err)
	}
	if code, _, _ := w.run("reauthorize", "salesforce"); code != exitUsage {
		t.Errorf("unknown account: exit %d", code)
	}
}

func TestActivateRefusesAnIncompleteConfig(t *testing.T) {
	w := newWorld(t)
	cfg := w.cfg
	cfg.Vantagepoint.ClientSecret = ""
	cfg.Microsoft.ClientID = ""
	if err := config.Save(w.cfgPath, cfg); err != nil {
		t.Fatal(err)
	}
	code, _, errOut := w.run("activate")
	if code != exitFailure || !strings.Contains(errOut, "microsoft.clientId, vantagepoint.clientSecret") {
		t.Errorf("exit %d: %s", code, errOut)
	}
}

func TestActivateStopsWhenTheEmployeeIsAmbiguous(t *testing.T) {
	w := newWorld(t)
	w.v.AddEmployee(vpsim.Employee{Employee: "00043", FirstName: "Dana", LastName: "W", EMail: "dana@contoso.example", Status: "A"})
	code, _, errOut := w.run("activate")
	if code != exitFailure || !strings.Contains(errOut, "00042, 00043") {
		t.Errorf("exit %d: %s", code, errOut)
	}
}

type brokenKeychain struct{}

var errBroken = errors.Join(auth.ErrKeychainUnavailable, errors.New("no Secret Service on the session bus"))

func (brokenKeychain) Get(string) (string, error) { return "", errBroken }
func (brokenKeychain) Set(string, string) error   { return errBroken }
func (brokenKeychain) Delete(string) error        { return errBroken }
