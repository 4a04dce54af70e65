package cli

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"golang.org/x/term"

	"vpconnect/agent/config"
	"vpconnect/agent/localapi"
	"vpconnect/agent/system"
	"vpconnect/auth"
)

func init() {
	register("activate", command{synopsis: "activate [--no-browser]", order: 10,
		help: "sign in to Microsoft 365 and Vantagepoint, initialize the mailbox", run: (*cli).runActivate})
	register("reauthorize", command{synopsis: "reauthorize microsoft|vantagepoint [--no-browser]", order: 11,
		help: "sign in again to one account", run: (*cli).runReauthorize})
}

// Environment variables for scripted activation (docs/behaviour.md §5.1).
const (
	envVPUsername = "VPCONNECT_VP_USERNAME"
	envVPPassword = "VPCONNECT_VP_PASSWORD"
)

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
func (c *cli) signinConfig(stderr io.Writer) (config.Config, string, error) {
	path, err := config.PathFromEnv(c.configPath)
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

func (c *cli) runActivate(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := c.newFlags("activate", stderr)
	noBrowser := fs.Bool("no-browser", false, "print the Microsoft sign-in address instead of opening a browser")
	reinit := fs.Bool("reinitialize", false, "take over a mailbox linked to another Vantagepoint user or database")
	if err := parse(fs, args, 0); err != nil {
		return err
	}
	cfg, dir, err := c.signinConfig(stderr)
	if err != nil {
		return err
	}
	act := system.Activation{Env: c.env, Config: cfg, DataDir: dir, Reinitialize: *reinit,
		SignIn:      auth.SignInOptions{NoBrowser: *noBrowser, Browser: c.env.Browser, Out: stderr},
		Credentials: func(ctx context.Context) (string, string, error) { return c.vpCredentials("", stderr) },
	}
	res, err := act.Run(ctx)
	if err != nil {
		return signInError(err)
	}
	fmt.Fprint(stdout, res.Summary())
	switch err := c.restartAgent(ctx); {
	case errors.Is(err, localapi.ErrNoAgent):
		fmt.Fprintln(stdout, "Start the agent with 'vpconnect run' (once installed, it starts at login).")
	case err != nil:
		fmt.Fprintf(stderr, "vpconnect activate: the running agent did not take the activation up (%v); restart it\n", err)
	default:
		fmt.Fprintln(stdout, "The running agent took the activation up: sync starts now.")
	}
	return nil
}

func (c *cli) runReauthorize(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := c.newFlags("reauthorize", stderr)
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
	cfg, dir, err := c.signinConfig(stderr)
	if err != nil {
		return err
	}
	msApp, vpApp := system.Apps(c.env, cfg)
	st := system.Store(c.env, cfg, dir)
	if err := st.Check(); err != nil {
		return signInError(err)
	}
	s, err := auth.Reauthorization{Store: st, Account: account, Microsoft: msApp, Vantagepoint: vpApp,
		SignIn:      auth.SignInOptions{NoBrowser: *noBrowser, Browser: c.env.Browser, Out: stderr},
		Credentials: func(known string) (string, string, error) { return c.vpCredentials(known, stderr) },
	}.Run(ctx)
	if errors.Is(err, auth.ErrNotFound) {
		return needSignIn{err}
	} else if err != nil {
		return signInError(err)
	}
	user := s.Record.User
	if account == auth.Vantagepoint {
		user = s.Record.Username
	}
	if err := c.tellAgentSignedIn(ctx, account, user); err != nil {
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
func (c *cli) vpCredentials(knownUser string, stderr io.Writer) (string, string, error) {
	user, pass := os.Getenv(envVPUsername), os.Getenv(envVPPassword)
	if user == "" {
		user = knownUser
	}
	if user != "" && pass != "" {
		return user, pass, nil
	}
	in := bufio.NewReader(c.stdin)
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
		read := c.readPassword
		if read == nil {
			read = c.terminalPassword
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
func (c *cli) terminalPassword() (string, error) {
	f, ok := c.stdin.(*os.File)
	if !ok || !term.IsTerminal(int(f.Fd())) {
		return "", fmt.Errorf("no terminal to ask for the Vantagepoint password: set %s and %s", envVPUsername, envVPPassword)
	}
	b, err := term.ReadPassword(int(f.Fd()))
	if err != nil {
		return "", fmt.Errorf("read the password: %w", err)
	}
	return string(b), nil
}
