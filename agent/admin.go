package agent

import (
	"context"
	"fmt"
	"strings"
	"time"

	"vpconnect/syncer"
)

// Administration inside Vantagepoint (docs/behaviour.md §5.5). The agent keeps its
// record in the agents hub up to date and obeys the administrator's switch;
// the hubs themselves are reached through Options.Admin (agent/admin
// implements it over the Vantagepoint client), so that nothing here knows
// their wire form, and the sync engine knows nothing of administration.

// Admin writes the agent's record in the agents hub and reads the
// administrator's switches. Calls come from one goroutine at a time, never
// the loop's.
type Admin interface {
	// Exchange writes rec when it is not nil (the record is found or
	// created by employee), then, when readSwitch is set, reads the
	// effective switch: the most restrictive of the record's SyncStatus and
	// the group's. A hub that does not exist is not an error: the answer
	// says so, and the implementation does not ask again for a while.
	Exchange(ctx context.Context, rec *AdminRecord, readSwitch bool) (AdminAnswer, error)
}

// AdminRecord is what the agent reports of itself. Employee, group,
// version, machine name and the time of writing are the implementation's:
// they do not change while the agent runs.
type AdminRecord struct {
	State         string
	MailboxStatus string
	// LastBatch is when the last batch finished (zero: none yet), with its
	// outcome.
	LastBatch   time.Time
	LastOutcome string
	OpenIssues  int
	// LastError is the last failure in a sentence (no item names).
	LastError string
}

// changedFrom reports a change worth a write: anything but the time of the
// last batch, which moves every batch and is only refreshed with another
// change or by the heartbeat.
func (r AdminRecord) changedFrom(old AdminRecord) bool {
	r.LastBatch = old.LastBatch
	return r != old
}

// AdminAnswer is what an Exchange learnt.
type AdminAnswer struct {
	// Reported: the record was written.
	Reported bool
	// Switch is the effective switch (one of the Switch words); "" when it
	// was not read.
	Switch string
	// AgentsHubMissing: the agents hub does not exist, so nothing was
	// written and the record's own switch counts as Enabled.
	AgentsHubMissing bool
	// Missing names the hubs that do not exist.
	Missing []string
	// Requests counts the Vantagepoint requests the exchange made: the
	// pacing counts a read of the switches at what it costs (one request,
	// two with a group).
	Requests int
}

// The administrator's switch (the hubs' SyncStatus, docs/behaviour.md §3 and §5.5).
const (
	SwitchEnabled     = "Enabled"
	SwitchDisabled    = "Disabled"
	SwitchDelete      = "Delete"
	SwitchForceDelete = "Force Delete"
)

// StateDeleted is the state a record shows once the administrator's Delete
// or Force Delete is done: the agent no longer syncs for that employee.
const StateDeleted = "Deleted"

// Timing of the administration.
const (
	// AdminFirstSpread: in a fleet large enough to be paced, the first
	// round of a run (the record's write and the switches' read) comes at
	// a random moment this long after the first batch, not with it: at a
	// 9 a.m. login wave the rounds of thousands of agents would otherwise
	// crowd the minutes of their first polls. Sync now reads at once.
	AdminFirstSpread = 10 * time.Minute
	// AdminMinInterval: the record is written, and the switches read, at
	// most once a minute (docs/behaviour.md §5.5).
	AdminMinInterval = time.Minute
	// AdminHeartbeat: a record that did not change is written again after
	// a batch once it is six hours old, so that its last-batch time tells
	// IT that the agent is alive: well within the dashboard's three days
	// of Not Seen and the fleet count's day. Every state change is
	// written at once; more heartbeats would only spend the server's
	// budget (5,000 hourly ones are 1.4 req/s).
	AdminHeartbeat = 6 * time.Hour
	// AdminIdleHeartbeat: without batches (paused, disabled) the record is
	// written again once it is a day old, at a read of the switches, so
	// that the dashboard tells an agent that runs from one that does not
	// (Not Seen after three days).
	AdminIdleHeartbeat = 24 * time.Hour
)

// AdminStatus is the administration part of Status (only when the agent
// has an Admin).
type AdminStatus struct {
	// Switch is the effective switch as last read ("" before the first read).
	Switch string `json:"switch,omitempty"`
	// LastReport is when the record was last written.
	LastReport *time.Time `json:"lastReport,omitempty"`
	// Reports and SwitchReads count writes of the record and reads of the
	// switches since the agent started.
	Reports     int `json:"reports"`
	SwitchReads int `json:"switchReads"`
	// MissingHubs names the hubs that do not exist in Vantagepoint.
	MissingHubs []string `json:"missingHubs,omitempty"`
	// Error is the last failure to reach the hubs.
	Error string `json:"error,omitempty"`
}

// adminLoop is the administration state owned by the loop goroutine.
type adminLoop struct {
	started    bool // a batch finished in this run, or sync is disabled by the administrator
	busy       bool
	lastRound  time.Time
	reported   *AdminRecord
	reportedAt time.Time
	readWanted bool
	present    bool // the agents hub answered
	deleting   bool
	deleteErr  string
	next       time.Time // when a round is due (timer); zero: none
	lastRead   time.Time // when the switches were last read
	// countSpread delays each fleet count by a random part of
	// FleetCountSpread, chosen once per run.
	countSpread time.Duration
	// firstAt is when the run's first round, or the first after a
	// sleep, may come (zero: at once); firstSpread is its random wait in a
	// paced fleet, chosen once per run.
	firstAt     time.Time
	firstSpread time.Duration
	status      AdminStatus
}

type adminResult struct {
	rec  *AdminRecord
	read bool
	ans  AdminAnswer
	err  error
	// counted is the fleet counted in the agents hub; -1 when not counted.
	counted int
}

// adminRecord is the record as the agent's state makes it now. A batch
// running is not a state of its own here (it would flip the record twice a
// batch).
func (l *loop) adminRecord() AdminRecord {
	in := l.inputs()
	in.Running = false
	r := AdminRecord{State: ComputeState(in), MailboxStatus: l.mailboxStatus, OpenIssues: len(l.issues), LastError: l.lastErr}
	if l.lastBatch != nil {
		r.LastBatch, r.LastOutcome = l.lastBatch.Finished.UTC(), l.lastBatch.Outcome
	}
	for _, reason := range l.rejected {
		r.LastError = "sign-in needed: " + reason
		if strings.HasPrefix(reason, adminFixReason) {
			r.LastError = reason // IT's to fix, not the user's to sign in
		}
		break
	}
	if l.adm.deleteErr != "" {
		r.LastError = l.adm.deleteErr
	}
	return r
}

// adminPlan starts a round with the hubs when one is due, or sets adm.next
// for the loop's timer. It is called after every event of the loop. Rounds
// wait for the first batch of the run (agents starting at 9 a.m. keep the
// spread of their first poll). While the agents hub is known to exist the
// switches are read every AdminReadEvery and the fleet counted every
// FleetCountEvery (pacing.go); a missing hub is asked again after Sync now.
func (l *loop) adminPlan() {
	adm := &l.adm
	adm.next = time.Time{}
	if l.a.opts.Admin == nil || l.syncer == nil || adm.busy || adm.deleting || (!adm.started && !l.adminDisabled) {
		return
	}
	now := l.a.clock.Now()
	if adm.present && !adm.lastRead.IsZero() && now.Sub(adm.lastRead) > 2*AdminReadEvery &&
		adm.firstAt.Before(adm.lastRead) && l.sched.paced > l.sched.cfg.Interval {
		// The read is overdue by more than a period: the computer slept
		// (a laptop waking at 9 a.m.; Windows fires the late timer at
		// once). Like a start, the round comes at a random moment of the
		// next AdminFirstSpread, not with the wave's first polls.
		adm.firstAt = now.Add(adm.firstSpread)
	}
	if !l.adminDisabled && !adm.firstAt.IsZero() && now.Before(adm.firstAt) {
		adm.next = adm.firstAt
		return
	}
	rec := l.adminRecord()
	// One record per employee: on standby it is the lease holder's to
	// write (its machine name, its batches), so only the switches are read.
	report := l.standby == nil && (adm.reported == nil || rec.changedFrom(*adm.reported) ||
		(rec.LastBatch.After(adm.reported.LastBatch) && now.Sub(adm.reportedAt) >= AdminHeartbeat) ||
		now.Sub(adm.reportedAt) >= AdminIdleHeartbeat)
	readAt := time.Time{} // when the next periodic read is due; zero: none
	if adm.present && !adm.lastRead.IsZero() {
		readAt = adm.lastRead.Add(AdminReadEvery)
	}
	countAt := time.Time{}
	_, canCount := l.a.opts.Admin.(AgentCounter)
	if canCount && adm.present {
		countAt = now // never counted
		if !l.pace.countedAt.IsZero() {
			countAt = l.pace.countedAt.Add(FleetCountEvery + adm.countSpread)
		}
	}
	read := adm.readWanted || (!readAt.IsZero() && !now.Before(readAt))
	count := !countAt.IsZero() && !now.Before(countAt)
	due := adm.lastRound.Add(AdminMinInterval)
	if l.adminDisabled {
		// Nothing else runs: the switch is read every interval, so that
		// sync resumes when the administrator enables it again.
		read = true
		if !report || !adm.started {
			due = adm.lastRound.Add(l.sched.cfg.Interval)
		}
	}
	if !report && !read && !count {
		// Wake for the next periodic read or count.
		for _, t := range []time.Time{readAt, countAt} {
			if !t.IsZero() && (adm.next.IsZero() || t.Before(adm.next)) {
				adm.next = t
			}
		}
		return
	}
	if now.Before(due) {
		if adm.present || l.adminDisabled {
			adm.next = due
		} else {
			adm.readWanted = false // asked again after Sync now
		}
		return
	}
	var r *AdminRecord
	if report {
		r = &rec
	}
	adm.busy, adm.lastRound, adm.readWanted = true, now, false
	if read {
		adm.lastRead = now
	}
	a := l.a
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
		defer cancel()
		ans, err := a.opts.Admin.Exchange(ctx, r, read)
		res := adminResult{rec: r, read: read, ans: ans, err: err, counted: -1}
		if err == nil && count && !ans.AgentsHubMissing {
			if c, ok := a.opts.Admin.(AgentCounter); ok {
				n, cerr := c.CountAgents(ctx, a.clock.Now().Add(-fleetActiveWithin))
				if cerr != nil {
					a.log.Warn("count the agents in the agents hub", "err", cerr)
				} else {
					res.counted = n
				}
			}
		}
		a.adminResults <- res
	}()
}

// adminDone takes a round's answer.
func (l *loop) adminDone(r adminResult) {
	adm := &l.adm
	adm.busy = false
	adm.status.MissingHubs = r.ans.Missing
	if r.err != nil {
		adm.status.Error = r.err.Error()
		l.a.log.Warn("administration hubs", "err", r.err)
		return
	}
	adm.status.Error = ""
	adm.present = !r.ans.AgentsHubMissing
	now := l.a.clock.Now()
	if r.counted > 0 {
		l.pace.counted, l.pace.countedAt = r.counted, now
		if err := l.save(); err != nil {
			l.a.log.Warn("save the agent state", "err", err)
		}
	}
	l.repace()
	if r.ans.Reported {
		adm.reported, adm.reportedAt = r.rec, now
		t := now.UTC()
		adm.status.LastReport = &t
		adm.status.Reports++
	}
	if r.read && r.rec == nil {
		l.pace.observeRead(r.ans.Requests)
		l.repace()
	}
	if r.read && r.ans.Switch != "" {
		adm.status.SwitchReads++
		l.applySwitch(r.ans.Switch)
	}
}

// applySwitch obeys the administrator.
func (l *loop) applySwitch(sw string) {
	adm := &l.adm
	adm.status.Switch = sw
	was := l.adminDisabled
	switch sw {
	case SwitchDisabled, SwitchDelete, SwitchForceDelete:
		l.adminDisabled = true
	default:
		l.adminDisabled = false
		adm.deleteErr = ""
	}
	if was != l.adminDisabled {
		if err := l.save(); err != nil {
			l.a.log.Warn("save the agent state", "err", err)
		}
		l.a.log.Info("the administrator's switch", "syncStatus", sw)
		if !l.adminDisabled && l.syncer != nil && !l.running {
			// Enabled again: catch up at once.
			l.sched.runNow(l.a.clock.Now())
		}
	}
	if (sw == SwitchDelete || sw == SwitchForceDelete) && !adm.deleting && l.syncer != nil && !l.deactivating {
		adm.deleting = true
		go l.a.adminDelete(sw == SwitchForceDelete, l.gate)
	}
}

// adminDelete carries out the administrator's Delete (un-initialize the
// mailbox, then forget) or Force Delete (forget only), and reports Deleted
// in the record before the sign-ins are forgotten.
//
// With another agent of the employee on the same mailbox (lease.go), the
// mailbox is un-initialized by the agent that holds its lease; the other
// waits, re-checking at each read of the switch, and forgets only its own
// activation once the holder is done. When the holder has not renewed its
// lease for LeaseGoneAfter (the Not Seen period: a retired laptop), the
// other agent carries out the Delete itself. A mailbox no agent reaches is
// never touched.
func (a *Agent) adminDelete(force bool, gate *leaseGate) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	a.log.Info("the administrator asked to delete this computer's activation", "force", force)
	localOnly := force
	if !force && gate != nil {
		wait, gone, err := gate.deleteWaits(ctx)
		if err == nil && wait != nil {
			a.log.Info("the Delete is left to the computer that syncs the mailbox", "computer", wait.Computer)
			_ = a.do(context.Background(), func(l *loop) {
				l.adm.deleting = false
				l.adm.deleteErr = fmt.Sprintf("Delete waits for %s, which syncs this mailbox (done from this computer if %s is not seen for %d days)",
					wait.Computer, wait.Computer, int(LeaseGoneAfter/(24*time.Hour)))
			})
			return
		}
		if err == nil && gone {
			// The holder un-initialized the mailbox already.
			localOnly = true
		}
		// A failed read falls through: the Delete itself then fails
		// the same way, with its reason, and is retried.
	}
	err := a.deactivate(ctx, localOnly, func(ctx context.Context) {
		rec := &AdminRecord{State: StateDeleted, MailboxStatus: syncer.MailboxNotInitialized}
		if force {
			rec.LastError = "Force Delete: the mailbox was not touched"
		}
		if _, err := a.opts.Admin.Exchange(ctx, rec, false); err != nil {
			a.log.Warn("report Deleted", "err", err)
		}
	})
	_ = a.do(context.Background(), func(l *loop) {
		l.adm.deleting = false
		if err != nil {
			l.adm.deleteErr = fmt.Sprintf("the administrator's Delete failed: %v", err)
			a.log.Warn("the administrator's Delete failed", "err", err)
		}
	})
}

func (l *loop) adminSnapshot() *AdminStatus {
	if l.a.opts.Admin == nil {
		return nil
	}
	s := l.adm.status
	return &s
}
