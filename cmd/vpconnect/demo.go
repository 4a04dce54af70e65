package main

import (
	"context"
	"io"

	"vpconnect/agent/demo"
)

func init() {
	register("demo", command{synopsis: "demo [--once] [--json] [--interval D]", order: 90,
		help: "everything against built-in simulated Microsoft 365 and Vantagepoint", run: runDemo})
}

func runDemo(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlags("demo", stderr)
	once := fs.Bool("once", false, "run one batch and exit")
	asJSON := fs.Bool("json", false, "print each batch as the JSON batch object, one per line")
	interval := fs.Duration("interval", 0, "time between batches (default 15s)")
	if err := parse(fs, args, 0); err != nil {
		return err
	}
	return demo.Run(ctx, demo.Options{Once: *once, JSON: *asJSON, Interval: *interval, Out: stdout, Err: stderr})
}
