package agent

import (
	"context"
	"errors"
	"fmt"

	"vpconnect/auth"
	"vpconnect/syncer"
	"vpconnect/syncer/store"
)

// Runner runs the engine's batches for the agent (and for 'sync --once'),
// with the two rules that sit between a batch and the sign-ins.
//
// A 401 is a rejection only when confirmed. The service clients report
// every 401 as syncer.ErrAuthRejected, but docs/behaviour.md §3 suspends sync only on a
// definitive rejection: a refused refresh (invalid_grant), a refused
// password, or a 401 to a token that was just refreshed. A first 401 only
// made the token source drop its access token (Graph and Vantagepoint may
// end an access token early). So a batch that fails so is confirmed: the
// token sources refresh, and a refusal there is the rejection, with its
// reason; when they get fresh tokens the batch runs once more, and a 401
// then is the "401 after refresh" the token source itself turns into a
// rejection.
//
// A mailbox the state does not know is taken up again. Signed in means
// activated: when the state file was deleted, found damaged and recreated,
// or the activation stopped before its last step, the first batch
// initializes the mailbox again (a mailbox linked to another user or
// database is refused, with the way out) and pairs every item by its
// natural key (docs/behaviour.md §8), instead of asking the user to activate again.
type Runner struct {
	*syncer.Engine
	ms, vp *auth.TokenSource
	// takeUp: the next batch takes the mailbox up first. Batches run one
	// at a time, so only the running one touches it.
	takeUp bool
}

// NewRunner runs eng's batches over the two accounts' token sources;
// takeUp says the state does not know the mailbox (eng.Initialized was
// false).
func NewRunner(eng *syncer.Engine, ms, vp *auth.TokenSource, takeUp bool) *Runner {
	return &Runner{Engine: eng, ms: ms, vp: vp, takeUp: takeUp}
}

// Run runs one batch.
func (r *Runner) Run(ctx context.Context, trigger syncer.Trigger) (store.Batch, error) {
	return r.run(ctx, trigger, r.Engine.Run)
}

// RunScoped runs one batch that leaves out what scope says.
func (r *Runner) RunScoped(ctx context.Context, trigger syncer.Trigger, scope syncer.Scope) (store.Batch, error) {
	return r.run(ctx, trigger, func(ctx context.Context, t syncer.Trigger) (store.Batch, error) {
		return r.Engine.RunScoped(ctx, t, scope)
	})
}

func (r *Runner) run(ctx context.Context, trigger syncer.Trigger, batch func(context.Context, syncer.Trigger) (store.Batch, error)) (store.Batch, error) {
	if r.takeUp {
		// On standby the other agent keeps the mailbox: no writes here.
		if err := r.Engine.LeaseGate(ctx); errors.Is(err, syncer.ErrStandby) {
			return store.Batch{}, err
		}
		if err := r.Engine.InitializeMailbox(ctx, false); err != nil {
			if errors.Is(err, syncer.ErrForeignCustomization) {
				err = fmt.Errorf("%w; run 'vpconnect activate --reinitialize' to link it to you", err)
			}
			return store.Batch{}, fmt.Errorf("take the mailbox up again (the sync state did not know it): %w", err)
		}
		r.takeUp = false
	}
	b, err := batch(ctx, trigger)
	if !unconfirmed(err) {
		return b, err
	}
	for _, ts := range []*auth.TokenSource{r.ms, r.vp} {
		if _, terr := ts.TokenContext(ctx); terr != nil {
			if errors.Is(terr, syncer.ErrAuthRejected) {
				return b, errors.Join(err, terr)
			}
			return b, err // not reachable now: the agent retries later
		}
	}
	b, err = batch(ctx, trigger)
	if unconfirmed(err) {
		// Refused again: name the account that the token source gave up on.
		err = errors.Join(err, r.ms.Err(), r.vp.Err())
	}
	return b, err
}

// unconfirmed reports a rejection by a service that no token source has
// confirmed yet.
func unconfirmed(err error) bool {
	var sr *auth.SignInRequiredError
	return err != nil && errors.Is(err, syncer.ErrAuthRejected) && !errors.As(err, &sr)
}
