package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"

	"golang.org/x/term"

	"vpconnect/agent"
	"vpconnect/agent/config"
	"vpconnect/agent/localapi"
	"vpconnect/auth"
	"vpconnect/syncer"
	"vpconnect/syncer/graph"
	"vpconnect/syncer/store"
	"vpconnect/syncer/vantagepoint"
)

func init() {
	register("activate", command{synopsis: "activate [--no-browser]", order: 10,
		help: "sign in to Microsoft 365 and Vantagepoint, initialize the mailbox", run: runActivate})
	register("reauthorize", command{synopsis: "reauthorize microsoft|vantagepoint [--no-browser]", order: 11,
		help: "sign in again to one account", run: runReauthorize})
}

// Environment variables for scripted activation (SPEC §5.1).
const (
	envVPUsername = "VPCONNECT_VP_USERNAME"
	envVPPassword = "VPCONNECT_VP_PASSWORD"
)

// signinEnv is what the sign-in commands take from the outside world;
// tests replace parts of it.
var signinEnv = struct {
	keychain     func(service string) auth.Keychain
	browser      auth.BrowserFunc // nil: the system browser
	httpClient   *http.Client     // nil: clients with their own timeouts
	stdin        io.Reader
	readPassword func() (string, error) // nil: from the terminal without echo
}{
	keychain: func(service string) auth.Keychain { return auth.NewSystemKeychain(service) },
	stdin:    os.Stdin,
}

// needSignIn gives a sign-in problem exit code 3 without changing its
// message.
type needSignIn struct{ err error }

func (e needSignIn) Error() string   { return e.err.Error() }
func (e needSignIn) Unwrap() []error { return []error{errNeedSignIn, e.err} }

func signInError(err error) error {
	if err != nil && auth.IsSignInProblem(err) {
		return needSignIn{err}
	}
	return err
}

// signinConfig loads the effective configuration (file + policy) for a
// sign-in, refusing an incomplete one, and makes the data dir.
func signinConfig(stderr io.Writer) (config.Config, string, error) {
	path, err := config.PathFromEnv(globalConfigPath)
	if err != nil {
		return config.Config{}, "", err
	}
	file, _, err := config.Load(path)
	if err != nil {
		return config.Config{}, "", err
	}
	pol, problems := config.LoadPolicy()
	cfg, more := file.Effective(pol)
	for _, p := range append(problems, more...) {
		fmt.Fprintf(stderr, "vpconnect: %v\n", p)
	}
	if missing := cfg.Incomplete(); len(missing) > 0 {
		return cfg, "", fmt.Errorf("the configuration is not complete: set %s in %s (or have IT set them by policy)",
			strings.Join(missing, ", "), path)
	}
	dir, err := config.EnsureDataDir(cfg)
	if err != nil {
		return cfg, "", err
	}
	return cfg, dir, nil
}

// apps turns the configuration into the two sign-in endpoints.
func apps(cfg config.Config) (auth.MicrosoftApp, auth.VantagepointApp) {
	hc := signinEnv.httpClient
	return auth.MicrosoftApp{ClientID: cfg.Microsoft.ClientID, Tenant: cfg.Microsoft.Tenant,
			AuthorityURL: cfg.Microsoft.AuthorityURL, HTTPClient: hc},
		auth.VantagepointApp{APIURL: cfg.Vantagepoint.APIURL, Database: cfg.Vantagepoint.Database,
			ClientID: cfg.Vantagepoint.ClientID, ClientSecret: cfg.Vantagepoint.ClientSecret, HTTPClient: hc,
			// Only the administrator's policy may let the password be kept
			// (SPEC §6); otherwise it is used once and forgotten.
			KeepPassword: cfg.PasswordKept()}
}

// connect builds the real Graph and Vantagepoint clients over the token
// sources; their transports let the sources see 401s.
func connect(cfg config.Config, log *slog.Logger) func(ctx context.Context, ms, vp *auth.TokenSource) (syncer.Mailbox, syncer.Vantagepoint, error) {
	return func(ctx context.Context, ms, vp *auth.TokenSource) (syncer.Mailbox, syncer.Vantagepoint, error) {
		var base http.RoundTripper
		if signinEnv.httpClient != nil {
			base = signinEnv.httpClient.Transport
		}
		mailbox, err := graph.New(graph.Options{GraphURL: cfg.Microsoft.GraphURL, TokenSource: ms,
			HTTPClient: &http.Client{Transport: ms.Transport(base)}, Logger: log})
		if err != nil {
			return nil, nil, fmt.Errorf("set up the Graph client: %w", err)
		}
		vpc, err := vantagepoint.New(vantagepoint.Options{APIURL: cfg.Vantagepoint.APIURL, ZoneFile: cfg.ZoneFile(), TokenSource: vp,
			HTTPClient: &http.Client{Transport: vp.Transport(base), Timeout: 60 * time.Second}, Logger: log})
		if err != nil {
			return nil, nil, fmt.Errorf("set up the Vantagepoint client: %w", err)
		}
		return mailbox, vpc, nil
	}
}

// stateFile is the sync state database in the data dir.
const stateFile = "sync.db"

// initializeMailbox is SPEC §4.5's initialization, in one place.
func initializeMailbox(ctx context.Context, eng *syncer.Engine, reinitialize bool) error {
	return eng.InitializeMailbox(ctx, reinitialize)
}

func runActivate(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlags("activate", stderr)
	noBrowser := fs.Bool("no-browser", false, "print the Microsoft sign-in address instead of opening a browser")
	reinit := fs.Bool("reinitialize", false, "take over a mailbox linked to another Vantagepoint user or database")
	if err := parse(fs, args, 0); err != nil {
		return err
	}
	cfg, dir, err := signinConfig(stderr)
	if err != nil {
		return err
	}
	log := slog.New(slog.DiscardHandler)
	msApp, vpApp := apps(cfg)
	st := auth.NewStore(signinEnv.keychain(cfg.KeychainService), dir)
	act := auth.Activation{
		Microsoft: msApp, Vantagepoint: vpApp, Store: st,
		SignIn:      auth.SignInOptions{NoBrowser: *noBrowser, Browser: signinEnv.browser, Out: stderr},
		Credentials: func(ctx context.Context) (string, string, error) { return vpCredentials("", stderr) },
		Connect:     connect(cfg, log),
		Initialize: func(ctx context.Context, mailbox syncer.Mailbox, vp syncer.Vantagepoint, emp syncer.Employee) error {
			db, err := store.Open(filepath.Join(dir, stateFile))
			if err != nil {
				return err
			}
			defer db.Close()
			err = initializeMailbox(ctx, syncer.New(mailbox, vp, db, agent.EngineOptions(cfg, emp.ID, log)), *reinit)
			if errors.Is(err, syncer.ErrForeignCustomization) {
				return fmt.Errorf("%w\nRun 'vpconnect activate --reinitialize' to link it to you instead", err)
			}
			return err
		},
	}
	res, err := act.Run(ctx)
	if err != nil {
		return signInError(err)
	}
	fmt.Fprint(stdout, res.Summary())
	switch err := restartAgent(ctx); {
	case errors.Is(err, localapi.ErrNoAgent):
		fmt.Fprintln(stdout, "Start the agent with 'vpconnect run' (once installed, it starts at login).")
	case err != nil:
		fmt.Fprintf(stderr, "vpconnect activate: the running agent did not take the activation up (%v); restart it\n", err)
	default:
		fmt.Fprintln(stdout, "The running agent took the activation up: sync starts now.")
	}
	return nil
}

func runReauthorize(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlags("reauthorize", stderr)
	noBrowser := fs.Bool("no-browser", false, "print the Microsoft sign-in address instead of opening a browser")
	// The account comes first (reauthorize microsoft --no-browser), which
	// the flag package does not allow: take it off before parsing.
	var account string
	if len(args) > 0 && !strings.HasPrefix(args[0], "-") {
		account, args = args[0], args[1:]
	}
	if err := parse(fs, args, 1); err != nil {
		return err
	}
	if account == "" && fs.NArg() == 1 {
		account = fs.Arg(0)
	}
	if account != auth.Microsoft && account != auth.Vantagepoint {
		fmt.Fprintln(stderr, "usage: vpconnect reauthorize microsoft|vantagepoint [--no-browser]")
		return fmt.Errorf("%w: name the account: microsoft or vantagepoint", errUsage)
	}
	cfg, dir, err := signinConfig(stderr)
	if err != nil {
		return err
	}
	msApp, vpApp := apps(cfg)
	st := auth.NewStore(signinEnv.keychain(cfg.KeychainService), dir)
	if err := st.Check(); err != nil {
		return signInError(err)
	}
	old, err := st.Load(ctx, account)
	if errors.Is(err, auth.ErrNotFound) {
		return needSignIn{fmt.Errorf("%s is not signed in on this computer: run 'vpconnect activate'", auth.AccountTitle(account))}
	} else if err != nil && !errors.Is(err, auth.ErrDamaged) {
		return signInError(err) // a damaged record is what re-authorizing repairs
	}
	var s auth.Session
	switch account {
	case auth.Microsoft:
		s, err = msApp.SignIn(ctx, auth.SignInOptions{NoBrowser: *noBrowser, Browser: signinEnv.browser, Out: stderr, LoginHint: old.User})
		if err == nil && old.User != "" && !strings.EqualFold(s.Record.User, old.User) {
			err = needSignIn{fmt.Errorf("signed in as %s, but this computer is activated for %s: sign in as %s, or run 'vpconnect deactivate' and then 'vpconnect activate'", s.Record.User, old.User, old.User)}
		}
	case auth.Vantagepoint:
		var user, pass string
		if user, pass, err = vpCredentials(old.Username, stderr); err == nil {
			s, err = vpApp.SignIn(ctx, user, pass)
		}
		if err == nil && old.Username != "" && !strings.EqualFold(s.Record.Username, old.Username) {
			err = needSignIn{fmt.Errorf("signed in as %s, but this computer is activated for %s: sign in as %s, or run 'vpconnect deactivate' and then 'vpconnect activate'", s.Record.Username, old.Username, old.Username)}
		}
		s.Record.Employee = old.Employee
	}
	if err != nil {
		return signInError(err)
	}
	if s.Record.User == "" {
		s.Record.User = old.User
	}
	if err := st.Save(ctx, s.Record); err != nil {
		return signInError(err)
	}
	user := s.Record.User
	if account == auth.Vantagepoint {
		user = s.Record.Username
	}
	if err := tellAgentSignedIn(ctx, account, user); err != nil {
		fmt.Fprintf(stderr, "vpconnect reauthorize: the running agent did not take the new sign-in up (%v); restart it\n", err)
	}
	if account == auth.Microsoft {
		fmt.Fprintln(stdout, auth.MicrosoftLine(s.Record))
	} else {
		fmt.Fprintln(stdout, auth.VantagepointLine(s.Record))
	}
	return nil
}

// vpCredentials takes the Vantagepoint user name and password from
// VPCONNECT_VP_USERNAME and VPCONNECT_VP_PASSWORD, or asks on the terminal
// (the password without echo). knownUser is offered as the default.
func vpCredentials(knownUser string, stderr io.Writer) (string, string, error) {
	user, pass := os.Getenv(envVPUsername), os.Getenv(envVPPassword)
	if user == "" {
		user = knownUser
	}
	if user != "" && pass != "" {
		return user, pass, nil
	}
	in := bufio.NewReader(signinEnv.stdin)
	if user == "" {
		fmt.Fprint(stderr, "Vantagepoint user name: ")
		line, err := in.ReadString('\n')
		user = strings.TrimSpace(line)
		if user == "" {
			if err != nil {
				return "", "", needSignIn{fmt.Errorf("no Vantagepoint user name: set %s and %s, or run this in a terminal", envVPUsername, envVPPassword)}
			}
			return "", "", needSignIn{errors.New("no Vantagepoint user name given")}
		}
	}
	if pass == "" {
		read := signinEnv.readPassword
		if read == nil {
			read = terminalPassword
		}
		fmt.Fprintf(stderr, "Vantagepoint password for %s: ", user)
		p, err := read()
		fmt.Fprintln(stderr)
		if err != nil {
			return "", "", needSignIn{err}
		}
		pass = p
	}
	return user, pass, nil
}

// terminalPassword reads a password from the terminal without echo.
func terminalPassword() (string, error) {
	f, ok := signinEnv.stdin.(*os.File)
	if !ok || !term.IsTerminal(int(f.Fd())) {
		return "", fmt.Errorf("no terminal to ask for the Vantagepoint password: set %s and %s", envVPUsername, envVPPassword)
	}
	b, err := term.ReadPassword(int(f.Fd()))
	if err != nil {
		return "", fmt.Errorf("read the password: %w", err)
	}
	return string(b), nil
}
