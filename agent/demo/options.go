package demo

import (
	"context"
	"fmt"
	"time"

	"vpconnect/agent"
	"vpconnect/agent/localapi"
	"vpconnect/syncer"
	"vpconnect/syncer/store"
)

// batcher is the demo's engine as the agent sees it: each batch is printed.
type batcher struct{ d *Demo }

func (b batcher) Run(ctx context.Context, t syncer.Trigger) (store.Batch, error) {
	return b.d.Batch(ctx, t)
}

// MailboxChanged lets the agent probe the mailbox between batches, as it
// does with the real engine.
func (b batcher) MailboxChanged(ctx context.Context) (bool, error) {
	return b.d.engine.MailboxChanged(ctx)
}

// Serve runs the real agent over the demo's engine, with its loopback API
// and Sync Options page on localApi.port (or the next free port), until ctx
// ends. The agent's scheduler runs the batches, every interval; ready
// receives the page's one-time address once the API answers.
func (d *Demo) Serve(ctx context.Context, interval time.Duration, ready func(optionsURL string)) error {
	a, err := agent.New(agent.Options{
		Config: d.Config, Syncer: batcher{d}, Tracker: d.engine, MailboxStatus: syncer.MailboxInitialized,
		History: agent.StoreHistory(d.store), DataDir: d.DataDir,
		Hooks: agent.Hooks{ConfirmDeletes: d.engine.ConfirmDeletes},
		Accounts: agent.Accounts{
			Microsoft:    agent.MicrosoftAccount{User: d.User.Mail},
			Vantagepoint: agent.VantagepointAccount{URL: d.Config.Vantagepoint.APIURL, Database: d.Config.Vantagepoint.Database, Employee: d.Employee.ID},
		},
		// The demo shows results at once: no first-poll wait, and its own
		// interval (below the product's one-minute minimum).
		Schedule: agent.Schedule{Interval: interval, FirstPollMax: time.Nanosecond},
	})
	if err != nil {
		return err
	}
	srv, err := localapi.New(localapi.Options{Backend: a, Port: d.Config.LocalAPI.Port,
		AllowedOrigins: d.Config.LocalAPI.AllowedOrigins, DataDir: d.DataDir})
	if err != nil {
		return err
	}
	if err := srv.Listen(); err != nil {
		return fmt.Errorf("start the demo's loopback API: %w", err)
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ctx) }()
	if ready != nil {
		ready(srv.OpenURL())
	}
	err = a.Run(ctx)
	cancel()
	if serr := <-done; err == nil {
		err = serr
	}
	return err
}
