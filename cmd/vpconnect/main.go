package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"

	"vpconnect/agent"
	"vpconnect/agent/demo"
)

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

// Exit codes of SPEC §5.1.
const (
	exitOK         = 0
	exitFailure    = 1
	exitUsage      = 2
	exitNeedSignIn = 3 // used once sign-in lands
)

const usage = `usage: vpconnect <command> [flags]

commands:
  demo [--once] [--json]   the agent against built-in simulated Microsoft 365 and Vantagepoint
  version                  print the version

Run 'vpconnect <command> -h' for the flags of a command.
`

// errUsage marks a command-line mistake (exit code 2).
var errUsage = errors.New("usage")

// run dispatches a command line and returns the process exit code.
func run(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return exitUsage
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	var err error
	switch args[0] {
	case "version", "--version":
		fmt.Fprintln(stdout, "vpconnect", agent.Version)
	case "help", "-h", "--help":
		fmt.Fprint(stdout, usage)
	case "demo":
		err = runDemo(ctx, args[1:], stdout, stderr)
	default:
		fmt.Fprintf(stderr, "vpconnect: unknown command %q\n\n%s", args[0], usage)
		return exitUsage
	}
	switch {
	case err == nil:
		return exitOK
	case errors.Is(err, flag.ErrHelp):
		return exitOK
	case errors.Is(err, errUsage):
		return exitUsage
	default:
		fmt.Fprintf(stderr, "vpconnect %s: %v\n", args[0], err)
		return exitFailure
	}
}

// newFlags returns a flag set that reports errors instead of exiting.
func newFlags(name string, stderr io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet("vpconnect "+name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	return fs
}

func parse(fs *flag.FlagSet, args []string) error {
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return err
		}
		return fmt.Errorf("%w: %v", errUsage, err)
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(fs.Output(), "unexpected argument %q\n", fs.Arg(0))
		return fmt.Errorf("%w: unexpected argument %q", errUsage, fs.Arg(0))
	}
	return nil
}

func runDemo(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlags("demo", stderr)
	once := fs.Bool("once", false, "run one batch and exit")
	asJSON := fs.Bool("json", false, "print each batch as JSON (SPEC batch object), one per line")
	interval := fs.Duration("interval", 0, "time between batches (default 15s)")
	if err := parse(fs, args); err != nil {
		return err
	}
	return demo.Run(ctx, demo.Options{Once: *once, JSON: *asJSON, Interval: *interval, Out: stdout, Err: stderr})
}
