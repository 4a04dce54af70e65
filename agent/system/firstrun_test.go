package system

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"vpconnect/agent"
	"vpconnect/agent/config"
	"vpconnect/agent/localapi"
	"vpconnect/auth"
	"vpconnect/syncer/graph/graphsim"
	"vpconnect/syncer/vantagepoint/vpsim"
)

const (
	frUser     = "dana.whitfield@contoso.example"
	frClientID = "0a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d"
	frVPUser   = "DWHITFIELD"
	// frPassword is unique enough to be searched for in every file the
	// agent wrote and in its log.
	frPassword = "Correct-Horse-7391"
	frEmployee = "00042"
)

// firstRunWorld is an empty data dir and the two simulated services, with
// Dana's employee record and one tagged e-mail for the first batch.
type firstRunWorld struct {
	graph *graphsim.Server
	vp    *vpsim.Server
	cfg   config.Config
	kc    auth.Keychain
	log   *bytes.Buffer
	logMu *sync.Mutex
	// cleanup closes what a case started.
	cleanup []func()
	// cfgPath is the configuration file Serve reads.
	cfgPath string
}

func newFirstRunWorld(t *testing.T, gopts graphsim.Options) *firstRunWorld {
	t.Helper()
	w := &firstRunWorld{log: &bytes.Buffer{}, logMu: &sync.Mutex{}, kc: auth.NewMemoryKeychain()}
	if gopts.User.Mail == "" {
		gopts.User = graphsim.User{DisplayName: "Dana Whitfield", Mail: frUser, UserPrincipalName: frUser}
	}
	gopts.ClientID = frClientID
	w.graph = graphsim.New(gopts)
	if _, err := w.graph.Start("127.0.0.1:0"); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(w.graph.Close)
	w.vp = vpsim.New(vpsim.Options{Database: "E2E", ClientID: "vpc", ClientSecret: "vps"})
	if _, err := w.vp.Start("127.0.0.1:0"); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(w.vp.Close)
	w.vp.AddUser(frVPUser, frPassword, frEmployee)
	w.vp.AddEmployee(vpsim.Employee{Employee: frEmployee, FirstName: "Dana", LastName: "Whitfield", EMail: frUser})
	w.graph.AddMessage("inbox", graphsim.Message{Subject: "Harbour bridge: revised drawings", BodyType: "text", Body: "Attached.",
		From:             graphsim.Recipient{Name: "Alice Ng", Address: "alice@fabrikam.example"},
		To:               []graphsim.Recipient{{Name: "Dana Whitfield", Address: frUser}},
		ReceivedDateTime: time.Now().Add(-time.Hour), Categories: []string{"Vantagepoint"}})

	cfg := config.Default()
	cfg.Microsoft.ClientID = frClientID
	cfg.Microsoft.AuthorityURL = w.graph.AuthorityURL()
	cfg.Microsoft.GraphURL = w.graph.GraphURL()
	cfg.Vantagepoint.APIURL = w.vp.APIURL()
	cfg.Vantagepoint.Database = w.vp.Database()
	cfg.Vantagepoint.ClientID, cfg.Vantagepoint.ClientSecret = "vpc", "vps"
	cfg.Vantagepoint.FleetSize = 1
	cfg.DataDir = t.TempDir()
	cfg.LocalAPI.Port = freePort(t)
	cfg.KeychainService = "vpconnect-test"
	w.cfg = cfg
	return w
}

// freePort is a loopback port free now, in the range a configuration
// accepts.
func freePort(t *testing.T) int {
	t.Helper()
	for range 50 {
		ln, err := net.Listen("tcp4", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		p := ln.Addr().(*net.TCPAddr).Port
		ln.Close()
		if p >= 1024 && p <= 65516 {
			return p
		}
	}
	t.Fatal("no free port")
	return 0
}

type lockedWriter struct {
	mu *sync.Mutex
	w  io.Writer
}

func (l lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}

// env is the agent's environment: the test's keychain, browser and page
// opener, a log the test reads.
func (w *firstRunWorld) env(browser auth.BrowserFunc, openPage func(context.Context, string) error) Env {
	return Env{Keychain: func(string) auth.Keychain { return w.kc }, Browser: browser, OpenPage: openPage,
		Idle: func() bool { return false }, Schedule: agent.Schedule{FirstPollMax: time.Nanosecond},
		Logger: slog.New(slog.NewTextHandler(lockedWriter{w.logMu, w.log}, &slog.HandlerOptions{Level: slog.LevelDebug}))}
}

// serve runs Serve as 'vpconnect run' does, until the test ends.
func (w *firstRunWorld) serve(t *testing.T, env Env) <-chan *System {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	listening := make(chan *System, 1)
	done := make(chan error, 1)
	path := filepath.Join(t.TempDir(), "config.json")
	if err := config.Save(path, w.cfg); err != nil {
		t.Fatal(err)
	}
	w.cfgPath = path
	if env.Policy == nil {
		env.Policy = func() (config.Policy, []error) { return config.Policy{}, nil }
	}
	go func() {
		done <- Serve(ctx, env, path, func(s *System) { listening <- s })
	}()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Serve: %v", err)
		}
	})
	return listening
}

// noSecretsLeft checks that the password is nowhere in the data dir or the
// log (docs/behaviour.md §6: not logged, not stored).
func (w *firstRunWorld) noSecretsLeft(t *testing.T) {
	t.Helper()
	filepath.WalkDir(w.cfg.DataDir, func(p string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return nil
		}
		b, _ := os.ReadFile(p)
		if bytes.Contains(b, []byte(frPassword)) {
			t.Errorf("the password is in %s", p)
		}
		return nil
	})
	w.logMu.Lock()
	defer w.logMu.Unlock()
	if strings.Contains(w.log.String(), frPassword) {
		t.Error("the password is in the log")
	}
	rec, err := Store(Env{Keychain: func(string) auth.Keychain { return w.kc }}, w.cfg, w.cfg.DataDir).Load(context.Background(), auth.Vantagepoint)
	if err == nil && rec.Password != "" {
		t.Error("the password was kept in the keychain record")
	}
}

// followRedirects is a browser that signs in at once: graphsim's sign-in
// page consents and redirects to the agent's loopback listener.
func followRedirects(ctx context.Context, address string) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, address, nil)
	if err != nil {
		return err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return fmt.Errorf("follow the sign-in redirects: %w", err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return nil
}

// waitFlow waits until the page flow's state satisfies ok.
func waitFlow(t *testing.T, f *pageFlow, what string, ok func(localapi.ActivationState) bool) localapi.ActivationState {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		st := f.State()
		if ok(st) {
			return st
		}
		if time.Now().After(deadline) {
			t.Fatalf("waiting for %s; state %+v (problem %+v)", what, st, st.Problem)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// flowFor builds a Not Configured agent and a page flow on it.
func (w *firstRunWorld) flowFor(t *testing.T, env Env) *pageFlow {
	t.Helper()
	sys, err := Build(context.Background(), env, w.cfg, w.cfg.DataDir, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { sys.Close() })
	f := newPageFlow(env)
	f.serve(w.cfg, w.cfg.DataDir, sys.Agent)
	return f
}

// Each failure of an activation on the page has its own sentence and next
// step: a wrong password keeps the Microsoft sign-in and asks
// again; no employee, several employees, a mailbox linked to someone else,
// an unreachable Vantagepoint and a misregistered app each say what to do.
func TestPageActivationFailuresSayWhatToDo(t *testing.T) {
	ctx := context.Background()
	t.Run("wrong password, then the right one", func(t *testing.T) {
		w := newFirstRunWorld(t, graphsim.Options{})
		f := w.flowFor(t, w.env(followRedirects, nil))
		if err := f.Start(ctx, localapi.ModeActivate, false); err != nil {
			t.Fatal(err)
		}
		st := waitFlow(t, f, "the Vantagepoint form", func(s localapi.ActivationState) bool { return s.Step == localapi.StepVantagepoint })
		if st.Microsoft != frUser {
			t.Errorf("Microsoft user %q", st.Microsoft)
		}
		if err := f.SubmitVantagepoint(ctx, frVPUser, "wrong"); err != nil {
			t.Fatal(err)
		}
		st = waitFlow(t, f, "the refusal", func(s localapi.ActivationState) bool { return s.Problem != nil })
		if st.Step != localapi.StepVantagepoint || st.Problem.Code != "wrong_password" || !strings.Contains(st.Problem.Next, w.cfg.Vantagepoint.APIURL) {
			t.Fatalf("after a wrong password: %+v %+v", st, st.Problem)
		}
		if err := f.SubmitVantagepoint(ctx, frVPUser, frPassword); err != nil {
			t.Fatal(err)
		}
		st = waitFlow(t, f, "done", func(s localapi.ActivationState) bool {
			return s.Step == localapi.StepDone || s.Step == localapi.StepFailed
		})
		if st.Step != localapi.StepDone || st.Employee != frEmployee || st.Microsoft != frUser || st.Username != frVPUser {
			t.Fatalf("done: %+v %+v", st, st.Problem)
		}
		w.noSecretsLeft(t)
	})
	for _, c := range []struct {
		name  string
		gopts graphsim.Options
		setup func(w *firstRunWorld)
		code  string
		retry string
	}{
		{"no employee", graphsim.Options{User: graphsim.User{DisplayName: "Dana", Mail: "dana@elsewhere.example", UserPrincipalName: "dana@elsewhere.example"}},
			nil, "no_employee", "start"},
		{"ambiguous employee", graphsim.Options{}, func(w *firstRunWorld) {
			w.vp.AddEmployee(vpsim.Employee{Employee: "00077", FirstName: "D", LastName: "W", EMail: frUser})
		}, "ambiguous_employee", "start"},
		{"mailbox linked to someone else", graphsim.Options{}, func(w *firstRunWorld) {
			// Another Vantagepoint (another URL) activated this mailbox
			// first, and marked it for its employee.
			vp2 := vpsim.New(vpsim.Options{Database: "E2E", ClientID: "vpc", ClientSecret: "vps"})
			if _, err := vp2.Start("127.0.0.1:0"); err != nil {
				panic(err)
			}
			w.cleanup = append(w.cleanup, vp2.Close)
			vp2.AddUser("OTHER", "pw2", "00099")
			vp2.AddEmployee(vpsim.Employee{Employee: "00099", FirstName: "Dana", LastName: "Whitfield", EMail: frUser})
			other := w.cfg
			other.Vantagepoint.APIURL = vp2.APIURL()
			other.DataDir = filepath.Join(w.cfg.DataDir, "other")
			os.MkdirAll(other.DataDir, 0o700)
			_, err := Activation{Env: Env{Keychain: func(string) auth.Keychain { return auth.NewMemoryKeychain() }}, Config: other, DataDir: other.DataDir,
				SignIn:      auth.SignInOptions{Browser: followRedirects, NoDeviceCode: true, Out: io.Discard},
				Credentials: func(context.Context) (string, string, error) { return "OTHER", "pw2", nil }}.Run(context.Background())
			if err != nil {
				panic(err)
			}
		}, "foreign_mailbox", "reinitialize"},
		{"Vantagepoint unreachable", graphsim.Options{}, func(w *firstRunWorld) {
			w.vp.Close()
		}, "vantagepoint_unreachable", localapi.ModeVantagepoint},
		{"app registered for one organization", graphsim.Options{SingleTenant: true}, nil, "app_registration", "start"},
	} {
		t.Run(c.name, func(t *testing.T) {
			w := newFirstRunWorld(t, c.gopts)
			if c.setup != nil {
				c.setup(w)
			}
			t.Cleanup(func() {
				for _, f := range w.cleanup {
					f()
				}
			})
			f := w.flowFor(t, w.env(followRedirects, nil))
			if err := f.Start(ctx, localapi.ModeActivate, false); err != nil {
				t.Fatal(err)
			}
			st := waitFlow(t, f, "the form or a failure", func(s localapi.ActivationState) bool {
				return s.Step == localapi.StepVantagepoint || s.Step == localapi.StepFailed
			})
			if st.Step == localapi.StepVantagepoint {
				if err := f.SubmitVantagepoint(ctx, frVPUser, frPassword); err != nil {
					t.Fatal(err)
				}
				st = waitFlow(t, f, "the failure", func(s localapi.ActivationState) bool { return s.Problem != nil })
			}
			p := st.Problem
			if p == nil || p.Code != c.code || p.Retry != c.retry || p.Sentence == "" || p.Next == "" {
				t.Fatalf("state %+v, problem %+v; want code %s", st, p, c.code)
			}
			t.Logf("%s: %s / %s", p.Code, p.Sentence, p.Next)
			if c.code == "foreign_mailbox" {
				// "Link this mailbox to me" activates.
				if err := f.Start(ctx, localapi.ModeActivate, true); err != nil {
					t.Fatal(err)
				}
				waitFlow(t, f, "the form", func(s localapi.ActivationState) bool { return s.Step == localapi.StepVantagepoint })
				if err := f.SubmitVantagepoint(ctx, frVPUser, frPassword); err != nil {
					t.Fatal(err)
				}
				st = waitFlow(t, f, "done", func(s localapi.ActivationState) bool {
					return s.Step == localapi.StepDone || s.Step == localapi.StepFailed
				})
				if st.Step != localapi.StepDone {
					t.Fatalf("re-initialize: %+v %+v", st, st.Problem)
				}
			}
		})
	}
}
