package agent

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"vpconnect/agent/agenttest"
	"vpconnect/agent/config"
	"vpconnect/syncer"
	"vpconnect/syncer/store"
)

// fakeLeaseMailbox is the lease property of one contact folder: the last
// write wins, as on a contact folder (no changeKey). beforeWrite, when set,
// runs before each write is applied (to hold a racer back).
type fakeLeaseMailbox struct {
	mu          sync.Mutex
	lease       syncer.MailboxLease
	reads       int
	writes      int
	beforeWrite func(syncer.MailboxLease)
	noFolder    bool
}

func (m *fakeLeaseMailbox) ReadLease(context.Context) (syncer.MailboxLease, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.reads++
	if m.noFolder {
		return syncer.MailboxLease{}, syncer.ErrNoLeaseFolder
	}
	return m.lease, nil
}

func (m *fakeLeaseMailbox) WriteLease(_ context.Context, l syncer.MailboxLease) error {
	if m.beforeWrite != nil {
		m.beforeWrite(l)
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	m.writes++
	m.lease = l
	return nil
}

func (m *fakeLeaseMailbox) SetLeaseGate(func(context.Context) error) {}

func (m *fakeLeaseMailbox) counts() (reads, writes int) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.reads, m.writes
}

const testSettle = 30 * time.Millisecond

// Two agents that both find the lease free both write a claim; the later
// write is the one both read back, so exactly one holds the lease.
func TestLeaseRaceHasOneWinner(t *testing.T) {
	clock := agenttest.NewFakeClock(time.Date(2026, 12, 3, 9, 0, 0, 0, time.UTC))
	mb := &fakeLeaseMailbox{}
	// Both read (and find the lease free) before either writes.
	var reads sync.WaitGroup
	reads.Add(2)
	var once [2]sync.Once
	gates := [2]*leaseGate{
		newLeaseGate(mb, "agent-laptop", "LAPTOP-7", testSettle, clock.Now),
		newLeaseGate(mb, "agent-desktop", "DESKTOP-2", testSettle, clock.Now),
	}
	errs := make([]error, 2)
	var wg sync.WaitGroup
	for i, g := range gates {
		wg.Add(1)
		go func() {
			defer wg.Done()
			first := true
			g.leaser = readHook{mb, func() {
				if first {
					first = false
					once[i].Do(reads.Done)
					reads.Wait()
				}
			}}
			errs[i] = g.acquire(context.Background())
		}()
	}
	wg.Wait()
	won := 0
	for i, err := range errs {
		var sb *StandbyError
		switch {
		case err == nil:
			won++
			if !gates[i].holding() {
				t.Errorf("gate %d won but does not hold", i)
			}
		case errors.As(err, &sb):
			if gates[i].holding() {
				t.Errorf("gate %d is on standby and holds", i)
			}
		default:
			t.Errorf("gate %d: %v", i, err)
		}
	}
	if won != 1 {
		t.Fatalf("%d agents hold the lease; want 1 (errors %v)", won, errs)
	}
	if _, w := mb.counts(); w != 2 {
		t.Errorf("%d writes; want the two claims", w)
	}
}

// readHook runs fn after each read of the lease, before its answer.
type readHook struct {
	*fakeLeaseMailbox
	fn func()
}

func (h readHook) ReadLease(ctx context.Context) (syncer.MailboxLease, error) {
	l, err := h.fakeLeaseMailbox.ReadLease(ctx)
	h.fn()
	return l, err
}

// A claim written too long after the read that found the lease free may
// have overwritten a claim confirmed meanwhile: it is never held, and the
// lease it wrote is left to expire, also by its own agent.
func TestLeaseLateClaimIsAbandoned(t *testing.T) {
	clock := agenttest.NewFakeClock(time.Date(2026, 12, 3, 9, 0, 0, 0, time.UTC))
	mb := &fakeLeaseMailbox{}
	mb.beforeWrite = func(syncer.MailboxLease) { time.Sleep(2 * testSettle) }
	g := newLeaseGate(mb, "agent-laptop", "LAPTOP-7", testSettle, clock.Now)
	var sb *StandbyError
	if err := g.acquire(context.Background()); !errors.As(err, &sb) || g.holding() {
		t.Fatalf("a late claim: %v, holding %v", err, g.holding())
	}
	if !sb.Abandoned || strings.Contains(sb.Error(), "synced on") {
		t.Fatalf("the standby must say the claim was this computer's own, abandoned: %q", sb.Error())
	}
	mb.beforeWrite = nil
	clock.Advance(2 * time.Minute)
	if err := g.acquire(context.Background()); !errors.As(err, &sb) {
		t.Fatalf("the abandoned claim, unexpired: %v", err)
	}
	if !sb.Abandoned {
		t.Fatalf("its own abandoned claim read back: %q", sb.Error())
	}
	clock.Advance(g.period)
	if err := g.acquire(context.Background()); err != nil || !g.holding() {
		t.Fatalf("after the abandoned claim expired: %v", err)
	}
}

// The holder renews at most once an interval, and a batch between
// renewals costs no request; another agent stays on standby until the
// lease expires, then takes over; a restarted agent claims its own lease
// again at once.
func TestLeaseRenewStandbyTakeover(t *testing.T) {
	clock := agenttest.NewFakeClock(time.Date(2026, 12, 3, 9, 0, 0, 0, time.UTC))
	mb := &fakeLeaseMailbox{}
	ctx := context.Background()
	laptop := newLeaseGate(mb, "agent-laptop", "LAPTOP-7", testSettle, clock.Now)
	desktop := newLeaseGate(mb, "agent-desktop", "DESKTOP-2", testSettle, clock.Now)
	if err := laptop.acquire(ctx); err != nil {
		t.Fatal(err)
	}
	r0, w0 := mb.counts()
	if r0 != 2 || w0 != 1 {
		t.Errorf("a claim: %d reads, %d writes; want 2 and 1", r0, w0)
	}
	clock.Advance(30 * time.Second) // a probe's batch
	if err := laptop.acquire(ctx); err != nil {
		t.Fatal(err)
	}
	if r, w := mb.counts(); r != r0 || w != w0 {
		t.Errorf("a batch within the interval made %d reads, %d writes", r-r0, w-w0)
	}
	clock.Advance(laptop.period / LeaseIntervals)
	if err := laptop.acquire(ctx); err != nil {
		t.Fatal(err)
	}
	if r, w := mb.counts(); r != r0+1 || w != w0+1 {
		t.Errorf("a renewal made %d reads, %d writes; want 1 and 1", r-r0, w-w0)
	}
	renewed := clock.Now()
	var sb *StandbyError
	if err := desktop.acquire(ctx); !errors.As(err, &sb) || sb.Computer != "LAPTOP-7" {
		t.Fatalf("the desktop while the laptop holds: %v", err)
	}
	if _, w := mb.counts(); w != w0+1 {
		t.Error("the standby agent wrote")
	}
	// The laptop stops. Until its lease expires the desktop waits.
	clock.Advance(laptop.period - time.Second)
	if err := desktop.acquire(ctx); !errors.As(err, &sb) {
		t.Fatalf("before the expiry: %v", err)
	}
	clock.Advance(time.Second)
	if err := desktop.acquire(ctx); err != nil || !desktop.holding() {
		t.Fatalf("after the expiry: %v", err)
	}
	if took := clock.Now().Sub(renewed); took != laptop.period {
		t.Errorf("took over %v after the last renewal; the lease lasts %v", took, laptop.period)
	}
	// The laptop comes back: standby, no ping-pong.
	if err := laptop.acquire(ctx); !errors.As(err, &sb) || sb.Computer != "DESKTOP-2" || laptop.holding() {
		t.Fatalf("the laptop back: %v", err)
	}
	// The desktop's agent restarts (a new gate, the same agent id): its
	// own lease is claimed again at once.
	restarted := newLeaseGate(mb, "agent-desktop", "DESKTOP-2", testSettle, clock.Now)
	if err := restarted.acquire(ctx); err != nil || !restarted.holding() {
		t.Fatalf("after a restart: %v", err)
	}
}

// The administrator's Delete is carried out by the holder; another agent
// waits for it, and carries it out itself only when the holder has not
// renewed the lease for the Not Seen period (docs/behaviour.md §5.5).
func TestLeaseDeleteWaitsForTheHolder(t *testing.T) {
	clock := agenttest.NewFakeClock(time.Date(2026, 12, 3, 9, 0, 0, 0, time.UTC))
	mb := &fakeLeaseMailbox{}
	ctx := context.Background()
	laptop := newLeaseGate(mb, "agent-laptop", "LAPTOP-7", testSettle, clock.Now)
	desktop := newLeaseGate(mb, "agent-desktop", "DESKTOP-2", testSettle, clock.Now)
	if err := laptop.acquire(ctx); err != nil {
		t.Fatal(err)
	}
	if wait, gone, err := laptop.deleteWaits(ctx); wait != nil || gone || err != nil {
		t.Errorf("the holder: wait %v, gone %v, %v", wait, gone, err)
	}
	clock.Advance(LeaseGoneAfter - time.Minute)
	if wait, _, err := desktop.deleteWaits(ctx); wait == nil || wait.Computer != "LAPTOP-7" || err != nil {
		t.Errorf("the other agent before the Not Seen period: wait %v, %v", wait, err)
	}
	clock.Advance(time.Minute)
	if wait, gone, err := desktop.deleteWaits(ctx); wait != nil || gone || err != nil {
		t.Errorf("the other agent after the Not Seen period: wait %v, gone %v, %v", wait, gone, err)
	}
	mb.noFolder = true // the holder's Delete removed the folder
	if wait, gone, err := desktop.deleteWaits(ctx); wait != nil || !gone || err != nil {
		t.Errorf("after the holder's Delete: wait %v, gone %v, %v", wait, gone, err)
	}
}

// What the employee is told on standby: the computer that syncs, when
// another holds the lease; when the lease is this computer's own claim,
// abandoned, no computer at all (none is known to sync) but when it claims
// the mailbox again. The next batch that holds the lease ends the standby.
func TestStandbyStatusNamesTheComputerOrTheOwnClaim(t *testing.T) {
	until := t0.Add(20 * time.Minute)
	var mu sync.Mutex
	answer := error(&StandbyError{Computer: "DESKTOP-2", Until: until})
	h := startAgent(t, func(o *Options) {
		o.Config.Sync.Interval = config.Duration(2 * time.Minute)
	})
	h.sync.mu.Lock()
	h.sync.next = func(int, syncer.Trigger) (store.Batch, error) {
		mu.Lock()
		defer mu.Unlock()
		return store.Batch{Outcome: syncer.OutcomeOK}, answer
	}
	h.sync.mu.Unlock()
	set := func(err error) {
		mu.Lock()
		answer = err
		mu.Unlock()
	}

	if _, err := h.a.SyncNow(context.Background(), syncer.TriggerManual); err != nil {
		t.Fatal(err)
	}
	s := h.waitFor(t, "standby behind DESKTOP-2", func(s Status) bool { return s.State == StateStandby })
	if s.SyncingOn != "DESKTOP-2" || !strings.Contains(s.Reason, "DESKTOP-2") || s.Headline != "Syncing on DESKTOP-2" {
		t.Errorf("standby behind another computer: syncingOn %q, headline %q, reason %q; want DESKTOP-2 named", s.SyncingOn, s.Headline, s.Reason)
	}

	set(&StandbyError{Computer: "LAPTOP-7", Until: until, Abandoned: true})
	if _, err := h.a.SyncNow(context.Background(), syncer.TriggerManual); err != nil {
		t.Fatal(err)
	}
	s = h.waitFor(t, "standby on its own late claim", func(s Status) bool {
		return s.State == StateStandby && s.SyncingOn != "DESKTOP-2"
	})
	if s.SyncingOn != "" || strings.Contains(s.Reason, "LAPTOP-7") || strings.Contains(s.Reason, "Syncing on") || s.Headline != StateStandby {
		t.Errorf("an abandoned claim names a computer that syncs: syncingOn %q, headline %q, reason %q", s.SyncingOn, s.Headline, s.Reason)
	}
	if !strings.Contains(s.Reason, "claim") || !strings.Contains(s.Reason, until.UTC().Format("15:04")) {
		t.Errorf("an abandoned claim's reason %q does not say it is this computer's claim and when it claims again (%s UTC)", s.Reason, until.UTC().Format("15:04"))
	}

	set(nil)
	if _, err := h.a.SyncNow(context.Background(), syncer.TriggerManual); err != nil {
		t.Fatal(err)
	}
	s = h.waitFor(t, "syncing again once the lease is held", func(s Status) bool { return s.State != StateStandby && !s.Running })
	if s.State != StateActive || s.SyncingOn != "" {
		t.Errorf("after a batch that holds the lease: state %s, syncingOn %q", s.State, s.SyncingOn)
	}
}
