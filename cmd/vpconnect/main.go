package main

import (
	"fmt"
	"os"

	"vpconnect/agent"
)

func main() {
	os.Exit(run(os.Args[1:]))
}

const usage = `usage: vpconnect <command> [flags]

commands:
  demo [--once] [--json]   everything against the built-in simulated services
  version                  print the version
`

// run dispatches a command line and returns the process exit code
// (0 ok, 1 failure, 2 usage error, 3 needs sign-in).
func run(args []string) int {
	if len(args) == 0 {
		fmt.Fprint(os.Stderr, usage)
		return 2
	}
	switch args[0] {
	case "version":
		fmt.Println("vpconnect", agent.Version)
		return 0
	case "help", "-h", "--help":
		fmt.Print(usage)
		return 0
	default:
		fmt.Fprintf(os.Stderr, "vpconnect: unknown command %q\n\n%s", args[0], usage)
		return 2
	}
}
