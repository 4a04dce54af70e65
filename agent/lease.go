package agent

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"sync"
	"time"

	"vpconnect/syncer"
)

// One agent per mailbox (docs/behaviour.md §5.5). An employee with a laptop and a
// desktop runs an agent on each, on one mailbox: the one that syncs holds a
// lease kept in the mailbox (syncer/lease.go), renewed by its batches; the
// other stays on standby ("Syncing on LAPTOP-7"): no batches, no writes, one
// read of the lease at each Vantagepoint interval, and it takes over when
// the lease expires (the laptop closed, or its agent stopped).
//
// A contact folder cannot be written conditionally (it has no changeKey),
// so the last writer wins and a lease is claimed in two steps: write the
// claim, wait LeaseSettle, read it back; only a claim still there is held.
// Two agents that both saw the lease free both write; the later write is
// the one both read back, so one wins. This holds as long as a claim is
// written within LeaseSettle of the read that found the lease free: a claim
// that took longer is abandoned (it may have overwritten a claim that was
// already confirmed) and left to expire, never held.

// Leaser reads and writes the mailbox's lease, and calls the gate before
// each batch; *syncer.Engine is one.
type Leaser interface {
	ReadLease(ctx context.Context) (syncer.MailboxLease, error)
	WriteLease(ctx context.Context, l syncer.MailboxLease) error
	SetLeaseGate(gate func(ctx context.Context) error)
}

// Lease timing.
const (
	// LeaseIntervals is how many Vantagepoint intervals a lease outlasts
	// its renewal: a holder that missed two batches (a slow batch, a
	// network blip) keeps it.
	LeaseIntervals = 3
	// LeaseMargin is added to those intervals for the clocks of two
	// computers, which may differ by a little.
	LeaseMargin = 2 * time.Minute
	// DefaultLeaseSettle is how long a claim waits before it is read back:
	// far longer than Graph takes to apply a write.
	DefaultLeaseSettle = 10 * time.Second
	// LeaseGoneAfter is how long a holder may go without renewing before
	// it counts as gone: the dashboard's Not Seen period. The employee's
	// other agent then carries out the administrator's Delete.
	LeaseGoneAfter = 72 * time.Hour
)

// StandbyError is a batch's answer on standby: another agent holds the
// mailbox's lease.
type StandbyError struct {
	Computer string
	Until    time.Time
	// Abandoned: the lease is this computer's own claim, written too late
	// after its read to be trusted; it waits for it to expire.
	Abandoned bool
}

// Is makes a StandbyError match syncer.ErrStandby: the engine records no
// batch for it.
func (e *StandbyError) Is(target error) bool { return target == syncer.ErrStandby }

func (e *StandbyError) Error() string {
	if e.Abandoned {
		return fmt.Sprintf("this computer's claim on the mailbox was written too late to be sure no other computer holds it: it waits until %s, then claims the mailbox again",
			e.Until.Local().Format("15:04"))
	}
	return fmt.Sprintf("the mailbox is synced on %s: this computer is on standby and takes over if that one stops", e.Computer)
}

// leaseGate lets batches run only while the agent holds the lease (the
// engine calls acquire first). Batches come one at a time (the loop's
// running flag); the mutex is for the loop and the admin's Delete, which
// read it from other goroutines.
type leaseGate struct {
	leaser   Leaser
	agent    string
	computer string
	settle   time.Duration
	now      func() time.Time

	mu        sync.Mutex
	period    time.Duration // set by the loop before each batch
	held      *syncer.MailboxLease
	renewed   time.Time
	abandoned string // a claim written too late: never held, left to expire
	standby   *StandbyError
}

func newLeaseGate(leaser Leaser, agentID, computer string, settle time.Duration, now func() time.Time) *leaseGate {
	return &leaseGate{leaser: leaser, agent: agentID, computer: computer, settle: settle, now: now,
		period: LeaseIntervals*DefaultSchedule.Interval + LeaseMargin}
}

// setPeriod sets the lease period from the holder's Vantagepoint interval
// as planned now (paced or stretched), so that the lease outlasts the
// holder's next batches whatever its pace.
func (g *leaseGate) setPeriod(interval time.Duration) {
	g.mu.Lock()
	g.period = LeaseIntervals*interval + LeaseMargin
	g.mu.Unlock()
}

func (g *leaseGate) holding() bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.held != nil
}

func newClaim() string {
	var b [8]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// acquire renews the lease this agent holds, claims a free or expired one,
// or answers *StandbyError.
func (g *leaseGate) acquire(ctx context.Context) error {
	g.mu.Lock()
	period, held, renewed := g.period, g.held, g.renewed
	g.mu.Unlock()
	now := g.now()
	if held != nil && now.Before(held.Expires) && now.Sub(renewed) < period/LeaseIntervals {
		// Renewed within an interval, and nobody may claim a lease
		// before it expires: no request at all (a probe's batch).
		return nil
	}
	readAt := time.Now()
	cur, err := g.leaser.ReadLease(ctx)
	if errors.Is(err, syncer.ErrNoLeaseFolder) {
		// Nothing to hold yet: the batch takes the mailbox up (and the
		// next one claims the lease on the folder it made).
		g.set(nil, nil)
		return nil
	}
	if err != nil {
		return err
	}
	now = g.now()
	switch {
	case held != nil && cur.Agent == g.agent && cur.Claim == held.Claim && now.Before(cur.Expires):
		// Still ours: renew. No other agent writes an unexpired lease.
		l := *held
		l.Renewed, l.Expires = now.UTC(), now.Add(period).UTC()
		if err := g.leaser.WriteLease(ctx, l); err != nil {
			return err
		}
		g.set(&l, nil)
		return nil
	case cur.Agent != "" && now.Before(cur.Expires) && (cur.Agent != g.agent || cur.Claim == g.abandonedClaim()):
		// Another agent's, or a claim of ours that was abandoned.
		sb := &StandbyError{Computer: cur.Computer, Until: cur.Expires,
			Abandoned: cur.Agent == g.agent}
		g.set(nil, sb)
		return sb
	}
	// Free, expired, or ours from before a restart: claim it.
	claim := syncer.MailboxLease{Agent: g.agent, Computer: g.computer, Claim: newClaim(),
		Renewed: now.UTC(), Expires: now.Add(period).UTC()}
	if err := g.leaser.WriteLease(ctx, claim); err != nil {
		return err
	}
	if time.Since(readAt) > g.settle {
		// Written too long after the read: it may have overwritten a
		// claim confirmed meanwhile. Never hold it; it expires.
		//
		// No earlier retry is safe. The folder's PATCH is not conditional,
		// so the overwritten holder (if any) learns of it only at its next
		// acquire, and a batch it has started runs to its end; meanwhile it
		// still believes it holds the lease. Nothing we can read tells us
		// whether such a holder existed or when its batch ends: its own
		// lease's expiry was overwritten with ours. The only bound we know
		// is a full period after our write (a holder renews at least once
		// a period, or its claim had expired anyway), which is exactly
		// when our abandoned claim expires. A retry at that point is the
		// ordinary claim of an expired lease.
		g.mu.Lock()
		g.abandoned = claim.Claim
		g.mu.Unlock()
		sb := &StandbyError{Computer: g.computer, Until: claim.Expires, Abandoned: true}
		g.set(nil, sb)
		return sb
	}
	t := time.NewTimer(g.settle)
	select {
	case <-t.C:
	case <-ctx.Done():
		t.Stop()
		return ctx.Err()
	}
	back, err := g.leaser.ReadLease(ctx)
	if err != nil {
		return err
	}
	if back.Agent != g.agent || back.Claim != claim.Claim {
		sb := &StandbyError{Computer: back.Computer, Until: back.Expires}
		g.set(nil, sb)
		return sb
	}
	g.set(&claim, nil)
	return nil
}

func (g *leaseGate) abandonedClaim() string {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.abandoned
}

func (g *leaseGate) set(held *syncer.MailboxLease, sb *StandbyError) {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.held, g.standby = held, sb
	if held != nil {
		g.renewed = held.Renewed
	}
}

// deleteWaits decides whether this agent may carry out the administrator's
// Delete on the mailbox now (docs/behaviour.md §5.5): yes when it holds the lease, when
// there is none, or when its holder has not renewed it for LeaseGoneAfter
// (the retired laptop); otherwise the holder does it, and this agent waits.
// gone reports that the mailbox has no folder of the agent any more (the
// holder's Delete is done): only the local forgetting is left.
func (g *leaseGate) deleteWaits(ctx context.Context) (wait *StandbyError, gone bool, err error) {
	cur, err := g.leaser.ReadLease(ctx)
	if errors.Is(err, syncer.ErrNoLeaseFolder) {
		return nil, true, nil
	}
	if err != nil {
		return nil, false, err
	}
	if cur.Agent == "" || cur.Agent == g.agent || g.now().Sub(cur.Renewed) >= LeaseGoneAfter {
		return nil, false, nil
	}
	return &StandbyError{Computer: cur.Computer, Until: cur.Expires}, false, nil
}

// onStandby takes a lease check's answer that another agent syncs: no
// failure, no batch recorded, the next check at the Vantagepoint interval,
// and no mailbox probes meanwhile.
func (l *loop) onStandby(sb *StandbyError, now time.Time) {
	if l.standby == nil || l.standby.Computer != sb.Computer {
		l.a.log.Info("on standby: another computer syncs the mailbox", "computer", sb.Computer, "leaseUntil", sb.Until)
	}
	l.standby = sb
	if !l.adm.started {
		// The switches are read as after a first batch (a Delete or a
		// Disabled reaches a standby agent too); its record is not
		// written (adminPlan): it is the holder's.
		l.adm.readWanted = true
	}
	l.adm.started = true
	l.sched.batchEnded(now, false, false)
	l.sched.nextMailbox = time.Time{}
	res := Result{Err: sb}
	if len(l.waiters) > 0 {
		l.a.publish(l)
	}
	for _, w := range l.waiters {
		w <- res
	}
	l.waiters = nil
	if l.pending != "" && !l.deactivating {
		// A Sync now asked meanwhile gets the same answer.
		for _, w := range l.nextWaiters {
			w <- res
		}
		l.pending, l.nextWaiters = "", nil
	}
	l.afterIdle()
}
