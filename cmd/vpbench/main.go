// Command vpbench runs the end-to-end initial-sync measurement of docs/behaviour.md §7
// against the simulated services and prints its figures (`make bench`);
// with -agent it measures the running agent instead (agent/agentbench:
// start → API, the idle agent, tracked, tagged and edited items →
// Vantagepoint).
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"time"

	"vpconnect/agent/agentbench"
	"vpconnect/syncer/bench"
)

func main() {
	serve := flag.Bool("serve", false, "run the simulated services (the child process)")
	messages := flag.Int("messages", 10000, "messages in the mailbox; every tenth is tagged")
	contacts := flag.Int("contacts", 5000, "the user's contacts, half in Vantagepoint and half in Outlook")
	events := flag.Int("events", 5000, "meetings, half in Vantagepoint and half in Outlook")
	agentRun := flag.Bool("agent", false, "measure the running agent (start, idle, tracked and Outlook changes → Vantagepoint) instead of the initial sync")
	agentServe := flag.Bool("agent-serve", false, "run the agent (the child process of -agent; its start line on stdin)")
	starts := flag.Int("starts", 5, "with -agent: starts timed")
	tracks := flag.Int("tracks", 10, "with -agent: e-mails tracked")
	changes := flag.Int("changes", 5, "with -agent: rounds of a tag and a contact edit in Outlook")
	quiet := flag.Duration("quiet", 65*time.Second, "with -agent: the idle window")
	flag.Parse()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	if *agentServe {
		if err := agentbench.Serve(ctx, os.Stdin); err != nil {
			fmt.Fprintln(os.Stderr, "vpbench agent-serve:", err)
			os.Exit(1)
		}
		return
	}
	if *serve {
		if err := bench.Serve(ctx, *messages, *contacts, *events, os.Stdout); err != nil {
			fmt.Fprintln(os.Stderr, "vpbench serve:", err)
			os.Exit(1)
		}
		return
	}
	self, err := os.Executable()
	if err != nil {
		fmt.Fprintln(os.Stderr, "vpbench:", err)
		os.Exit(1)
	}
	if *agentRun {
		r, err := agentbench.Run(ctx, agentbench.Options{Self: self, Args: []string{"-agent-serve"},
			Starts: *starts, Tracks: *tracks, Changes: *changes, Quiet: *quiet, Progress: os.Stderr})
		if err != nil {
			fmt.Fprintln(os.Stderr, "vpbench -agent:", err)
			os.Exit(1)
		}
		r.Print(os.Stdout)
		return
	}
	r, err := bench.Run(ctx, self, []string{"-serve", "-messages", fmt.Sprint(*messages), "-contacts", fmt.Sprint(*contacts), "-events", fmt.Sprint(*events)})
	if err != nil {
		fmt.Fprintln(os.Stderr, "vpbench:", err)
		os.Exit(1)
	}
	r.Print(os.Stdout)
}
