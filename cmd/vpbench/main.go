// Command vpbench runs the end-to-end initial-sync measurement of SPEC §7
// against the simulated services and prints its figures (`make bench`).
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"

	"vpconnect/syncer/bench"
)

func main() {
	serve := flag.Bool("serve", false, "run the simulated services (the child process)")
	messages := flag.Int("messages", 10000, "messages in the mailbox; every tenth is tagged")
	contacts := flag.Int("contacts", 5000, "the user's contacts, half in Vantagepoint and half in Outlook")
	events := flag.Int("events", 5000, "meetings, half in Vantagepoint and half in Outlook")
	flag.Parse()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
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
	r, err := bench.Run(ctx, self, []string{"-serve", "-messages", fmt.Sprint(*messages), "-contacts", fmt.Sprint(*contacts), "-events", fmt.Sprint(*events)})
	if err != nil {
		fmt.Fprintln(os.Stderr, "vpbench:", err)
		os.Exit(1)
	}
	r.Print(os.Stdout)
}
