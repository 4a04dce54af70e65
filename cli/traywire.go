package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"regexp"
	"strings"
	"sync"

	"vpconnect/agent"
	"vpconnect/agent/localapi"
	"vpconnect/tray"
)

// The tray of 'vpconnect run': the wiring between package tray, which knows
// the agent only through tray.Client, and the loopback API's client. The
// tray talks to the agent of its own process over loopback, exactly as it
// would from another process, so it sees what the CLI and the add-in see and
// follows the agent through a restart in place (after 'vpconnect activate').

// runWithTray runs the agent (serve) in a goroutine and the tray on this
// one, which is the main goroutine: macOS and Windows want their event loop
// there. Quit in the tray, or ctx ending, stops the agent as a signal does;
// the tray goes once the agent has stopped (so does an agent that ends on
// its own). Without a tray to show (no graphical session) it says so once
// and runs headless. dial finds the agent serve runs; cmd names the command
// in what it says; the Sync Options page opens through a launcher file in
// dataDir.
func (c *cli) runWithTray(ctx context.Context, cmd string, serve func(context.Context) error, dial func(context.Context) (*localapi.Client, error), dataDir string, stderr io.Writer, log *slog.Logger) error {
	agentCtx, stopAgent := context.WithCancel(ctx)
	defer stopAgent()
	// Not ctx's child: the tray outlives the agent (see tray.Options.Quit).
	trayCtx, stopTray := context.WithCancel(context.Background())
	defer stopTray()
	agentDone := make(chan error, 1)
	go func() {
		err := serve(agentCtx)
		stopTray()
		agentDone <- err
	}()
	err := tray.Run(trayCtx, &trayClient{dial: dial}, tray.Options{
		// Through the launcher file: never a secret on a command line.
		OpenBrowser: func(ctx context.Context, pageURL string) error { return c.openOptionsPage(ctx, dataDir, pageURL) },
		Log:         log,
		Quit:        stopAgent,
		Notice:      func(s string) { fmt.Fprintf(stderr, "vpconnect %s: %s\n", cmd, s) },
	})
	if err != nil {
		fmt.Fprintf(stderr, "vpconnect %s: %v; running headless\n", cmd, err)
		log.Info("running headless", "why", err.Error())
	}
	return <-agentDone
}

// trayClient is tray.Client over the loopback API. It dials the agent on
// every Watch, since a restarted agent may have a new port.
type trayClient struct {
	dial func(ctx context.Context) (*localapi.Client, error)

	mu sync.Mutex
	c  *localapi.Client // the agent last dialed, for the actions
}

// Watch dials the agent and streams its status with the pending pairings.
// The channel closes when the agent's stream ends (it stops or restarts)
// or ctx ends; the goroutine behind it has ended by then.
func (t *trayClient) Watch(ctx context.Context) (<-chan tray.Status, error) {
	c, err := t.dial(ctx)
	if err != nil {
		return nil, err
	}
	t.mu.Lock()
	t.c = c
	t.mu.Unlock()
	wctx, cancel := context.WithCancel(ctx)
	events, err := c.WatchEvents(wctx)
	if err != nil {
		cancel()
		return nil, err
	}
	out := make(chan tray.Status)
	go func() {
		defer close(out)
		defer func() {
			cancel()
			for range events { // localapi's reader ends with the request
			}
		}()
		var st agent.Status
		have := false
		var pend []localapi.PairingInfo
		for {
			select {
			case <-wctx.Done():
				return
			case e, ok := <-events:
				if !ok {
					return
				}
				if e.Status != nil {
					st, have = *e.Status, true
				}
				if e.Pairings != nil {
					pend = e.Pairings
				}
			}
			if !have {
				continue // the pairings come first; the menu waits for a state
			}
			select {
			case out <- trayStatus(st, pend):
			case <-wctx.Done():
				return
			}
		}
	}()
	return out, nil
}

// trayStatus is the part of the agent's status the tray shows.
func trayStatus(s agent.Status, pend []localapi.PairingInfo) tray.Status {
	ts := tray.Status{State: s.State, Headline: s.Headline, Reason: s.Reason, SyncingOn: s.SyncingOn, PauseAllowed: s.PauseAllowed, Running: s.Running,
		MicrosoftSignInNeeded:    s.Accounts.Microsoft.SignInNeeded,
		VantagepointSignInNeeded: s.Accounts.Vantagepoint.SignInNeeded,
		OpenIssues:               len(s.OpenIssues)}
	if s.LastBatch != nil {
		ts.LastBatch = s.LastBatch.Finished
	}
	for _, p := range pend {
		ts.Pairings = append(ts.Pairings, tray.Pairing{ID: p.ID, Origin: p.Origin, Name: p.Name})
	}
	for _, i := range s.OpenIssues {
		if i.Item == agent.HeldBackItem {
			ts.Held = append(ts.Held, tray.Held{Type: i.Type, Summary: heldSummary(i.Reason), Reason: i.Reason})
		}
	}
	return ts
}

// confirmingDeletes finds what a confirmation deletes in the guard's issue
// (syncer's doomedNames: "Confirming deletes 6 contacts in Vantagepoint").
var confirmingDeletes = regexp.MustCompile(`Confirming deletes (\d+ \S+ in [A-Za-z]+)`)

// heldSummary is what a confirmation does, in a few words for the menu:
// "deleting 6 contacts in Vantagepoint"; "" when the issue does not say.
func heldSummary(reason string) string {
	if m := confirmingDeletes.FindStringSubmatch(reason); m != nil {
		return "deleting " + m[1]
	}
	if strings.Contains(reason, "Confirming deletes nothing") {
		return "deleting nothing, only unlinking"
	}
	return ""
}

// AnswerDeletions is POST /v1/deletions.
func (t *trayClient) AnswerDeletions(ctx context.Context, typ string, confirm bool) error {
	answer := localapi.AnswerRefuse
	if confirm {
		answer = localapi.AnswerConfirm
	}
	return t.do(ctx, func(c *localapi.Client) error { _, err := c.AnswerDeletions(ctx, typ, answer); return err })
}

// do runs an action on the agent last dialed, dialing again once when the
// agent cannot be reached there (it restarted).
func (t *trayClient) do(ctx context.Context, fn func(*localapi.Client) error) error {
	t.mu.Lock()
	c := t.c
	t.mu.Unlock()
	if c != nil {
		err := fn(c)
		var apiErr *localapi.APIError
		if err == nil || errors.As(err, &apiErr) || ctx.Err() != nil {
			return err
		}
	}
	c, err := t.dial(ctx)
	if err != nil {
		return err
	}
	t.mu.Lock()
	t.c = c
	t.mu.Unlock()
	return fn(c)
}

// SyncNow is POST /v1/sync.
func (t *trayClient) SyncNow(ctx context.Context) error {
	return t.do(ctx, func(c *localapi.Client) error { _, err := c.Sync(ctx, false); return err })
}

// Pause is POST /v1/pause.
func (t *trayClient) Pause(ctx context.Context) error {
	return t.do(ctx, func(c *localapi.Client) error { _, err := c.Pause(ctx); return err })
}

// Resume is POST /v1/resume.
func (t *trayClient) Resume(ctx context.Context) error {
	return t.do(ctx, func(c *localapi.Client) error { _, err := c.Resume(ctx); return err })
}

// OpenURL is POST /v1/open: a one-time address of Sync Options.
func (t *trayClient) OpenURL(ctx context.Context) (string, error) {
	var url string
	err := t.do(ctx, func(c *localapi.Client) (err error) { url, err = c.OpenURL(ctx); return err })
	return url, err
}
