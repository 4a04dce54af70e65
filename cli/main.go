package cli

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"sort"
	"strings"
	"syscall"

	"vpconnect/agent"
	"vpconnect/agent/system"
	"vpconnect/auth"
)

// Run runs the command line args (without the program's name) and returns
// the process's exit code (docs/behaviour.md §5.1).
func Run(args []string, stdout, stderr io.Writer) int {
	return newCLI().run(args, stdout, stderr)
}

// cli is one run of the command line: what it takes from the outside world
// (the agent's environment, the terminal, the page opener) and the --config
// path. Tests build their own, so nothing here is a package global.
type cli struct {
	// env is the running agent's environment (agent/system); the zero
	// value is the product's.
	env system.Env
	// stdin is the terminal the Vantagepoint credentials are asked on;
	// readPassword reads a password from it without echo (nil: the
	// terminal's).
	stdin        io.Reader
	readPassword func() (string, error)
	// openPage opens the Sync Options page's launcher file in the browser.
	openPage func(ctx context.Context, file string) error
	// configPath is --config PATH ("" means VPCONNECT_CONFIG or the
	// default path).
	configPath string
}

// newCLI is the product's command line.
func newCLI() *cli {
	return &cli{stdin: os.Stdin, openPage: auth.OpenSystemBrowser}
}

// Exit codes of docs/behaviour.md §5.1.
const (
	exitOK         = 0
	exitFailure    = 1
	exitUsage      = 2
	exitNeedSignIn = 3
)

// A command is one verb of the command line. Each lives in its own file and
// registers itself in init, so that adding one touches nothing else.
type command struct {
	// synopsis is the usage line without "vpconnect ".
	synopsis string
	// help is one line for the command list.
	help string
	// order places the command in the list (lower first).
	order int
	run   func(c *cli, ctx context.Context, args []string, stdout, stderr io.Writer) error
	// verbs, instead of run, make a command of verbs ('admin status'):
	// the first argument picks one; usage is the command's usage line.
	verbs map[string]func(c *cli, ctx context.Context, args []string, stdout, stderr io.Writer) error
	usage string
}

var commands = map[string]command{}

func register(name string, c command) {
	if _, dup := commands[name]; dup {
		panic("vpconnect: command registered twice: " + name)
	}
	if c.verbs != nil {
		s := subcommands{name: name, usage: c.usage, verbs: c.verbs}
		c.run = func(cl *cli, ctx context.Context, args []string, stdout, stderr io.Writer) error {
			return cl.dispatch(ctx, s, args, stdout, stderr)
		}
	}
	commands[name] = c
}

// Errors that map to exit codes: a usage mistake (2) and a sign-in that is
// needed (3). Commands wrap them.
var (
	errUsage      = errors.New("usage")
	errNeedSignIn = errors.New("sign-in needed")
)

func init() {
	register("version", command{synopsis: "version", help: "print the version", order: 100,
		run: func(_ *cli, ctx context.Context, args []string, stdout, stderr io.Writer) error {
			fmt.Fprintln(stdout, "vpconnect", agent.Version)
			return nil
		}})
}

func usage() string {
	names := make([]string, 0, len(commands))
	for n := range commands {
		names = append(names, n)
	}
	sort.Slice(names, func(i, j int) bool {
		a, b := commands[names[i]], commands[names[j]]
		if a.order != b.order {
			return a.order < b.order
		}
		return names[i] < names[j]
	})
	var b strings.Builder
	b.WriteString("usage: vpconnect [--config PATH] <command> [flags]\n\ncommands:\n")
	for _, n := range names {
		fmt.Fprintf(&b, "  %-44s %s\n", commands[n].synopsis, commands[n].help)
	}
	b.WriteString("\nRun 'vpconnect <command> -h' for the flags of a command.\n")
	return b.String()
}

// run dispatches a command line and returns the process exit code.
// --config PATH may come before the command (commands take it too).
func (c *cli) run(args []string, stdout, stderr io.Writer) int {
	for len(args) > 0 && strings.HasPrefix(args[0], "--config") {
		if v, ok := strings.CutPrefix(args[0], "--config="); ok {
			c.configPath, args = v, args[1:]
		} else if len(args) > 1 {
			c.configPath, args = args[1], args[2:]
		} else {
			fmt.Fprintln(stderr, "vpconnect: --config needs a path")
			return exitUsage
		}
	}
	if len(args) == 0 {
		fmt.Fprint(stderr, usage())
		return exitUsage
	}
	name := args[0]
	switch name {
	case "help", "-h", "--help":
		fmt.Fprint(stdout, usage())
		return exitOK
	case "--version":
		name = "version"
	}
	cmd, ok := commands[name]
	if !ok {
		fmt.Fprintf(stderr, "vpconnect: unknown command %q\n\n%s", name, usage())
		return exitUsage
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	err := cmd.run(c, ctx, args[1:], stdout, stderr)
	switch {
	case err == nil, errors.Is(err, flag.ErrHelp):
		return exitOK
	case errors.Is(err, errUsage):
		return exitUsage
	case errors.Is(err, errNeedSignIn):
		fmt.Fprintf(stderr, "vpconnect %s: %v\n", name, err)
		return exitNeedSignIn
	default:
		fmt.Fprintf(stderr, "vpconnect %s: %v\n", name, err)
		return exitFailure
	}
}

// newFlags returns a flag set that reports errors instead of exiting, with
// the global --config flag.
func (c *cli) newFlags(name string, stderr io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet("vpconnect "+name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&c.configPath, "config", c.configPath, "configuration file (default $VPCONNECT_CONFIG or the per-user config dir)")
	return fs
}

// parse parses a command's flags; positional arguments are refused unless
// the command asks for them with maxArgs.
func parse(fs *flag.FlagSet, args []string, maxArgs int) error {
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return err
		}
		return fmt.Errorf("%w: %v", errUsage, err)
	}
	if fs.NArg() > maxArgs {
		fmt.Fprintf(fs.Output(), "unexpected argument %q\n", fs.Arg(maxArgs))
		return fmt.Errorf("%w: unexpected argument %q", errUsage, fs.Arg(maxArgs))
	}
	return nil
}

// dash shows an empty value as a dash in a table.
func dash(s string) string {
	if s == "" {
		return "—"
	}
	return s
}

// subcommands is a command made of verbs ('admin status', 'addin package'):
// its name, its usage line and what each verb runs.
type subcommands struct {
	name, usage string
	verbs       map[string]func(c *cli, ctx context.Context, args []string, stdout, stderr io.Writer) error
}

// dispatch runs the verb args[0] of s; no verb or an unknown one is a usage
// error, -h prints the usage.
func (c *cli) dispatch(ctx context.Context, s subcommands, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		fmt.Fprintln(stderr, s.usage)
		return errUsage
	}
	if run, ok := s.verbs[args[0]]; ok {
		return run(c, ctx, args[1:], stdout, stderr)
	}
	switch args[0] {
	case "-h", "--help", "help":
		fmt.Fprintln(stdout, s.usage)
		return nil
	}
	verbs := make([]string, 0, len(s.verbs))
	for v := range s.verbs {
		verbs = append(verbs, v)
	}
	sort.Strings(verbs)
	fmt.Fprintf(stderr, "vpconnect %s: unknown subcommand %q (%s)\n", s.name, args[0], strings.Join(verbs, " or "))
	return errUsage
}
