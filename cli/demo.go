package cli

import (
	"context"
	"io"
	"log/slog"

	"vpconnect/agent/demo"
	"vpconnect/agent/localapi"
)

func init() {
	register("demo", command{synopsis: "demo [--once] [--headless] [--json] [--interval D]", order: 90,
		help: "everything against built-in simulated Microsoft 365 and Vantagepoint", run: (*cli).runDemo})
}

func (c *cli) runDemo(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := c.newFlags("demo", stderr)
	once := fs.Bool("once", false, "run one batch and exit")
	asJSON := fs.Bool("json", false, "print each batch as the JSON batch object, one per line")
	interval := fs.Duration("interval", 0, "time between batches (default 15s)")
	headless := fs.Bool("headless", false, "no tray icon (also what happens without a graphical session)")
	if err := parse(fs, args, 0); err != nil {
		return err
	}
	opts := demo.Options{Once: *once, JSON: *asJSON, Interval: *interval, Out: stdout, Err: stderr}
	if !*headless {
		// The demo's agent shows the same tray as 'vpconnect run'.
		opts.Host = func(ctx context.Context, serve func(context.Context) error, dataDir string, port int) error {
			dial := func(ctx context.Context) (*localapi.Client, error) { return localapi.Dial(ctx, dataDir, port) }
			return c.runWithTray(ctx, "demo", serve, dial, dataDir, stderr, slog.New(slog.DiscardHandler))
		}
	}
	return demo.Run(ctx, opts)
}
