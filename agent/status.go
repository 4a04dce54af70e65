package agent

import (
	"fmt"
	"strings"
	"sync"

	"vpconnect/auth"
	"vpconnect/syncer"
)

// The status snapshot the loop publishes after every change, and its
// subscribers (the loopback API's event stream, the tray).

func (l *loop) snapshot() Status {
	o := l.a.opts
	in := l.inputs()
	s := Status{
		State:               ComputeState(in),
		MailboxStatus:       l.mailboxStatus,
		SyncStatus:          SyncEnabled,
		Accounts:            o.Accounts,
		Running:             l.running,
		ConsecutiveFailures: l.failures,
		PauseAllowed:        o.Config.SyncEnabled() && o.Config.PauseAllowed() && !l.adminDisabled,
		OpenIssues:          issuesReport(l.issues),
		Totals:              countsReport(l.totals),
		Version:             Version,
		Seq:                 l.seq,
		Updated:             l.a.clock.Now().UTC(),
		Admin:               l.adminSnapshot(),
		Pacing:              l.pacingSnapshot(),
	}
	if l.lastBatch != nil {
		b := BatchReport(*l.lastBatch)
		s.LastBatch = &b
	}
	if !o.Config.SyncEnabled() || l.paused || l.adminDisabled {
		s.SyncStatus = SyncDisabled
	}
	for _, e := range o.PolicyErrors {
		s.PolicyErrors = append(s.PolicyErrors, e.Error())
	}
	ms, vp := &s.Accounts.Microsoft, &s.Accounts.Vantagepoint
	ms.Connected, vp.Connected = l.syncer != nil && l.msConnected, l.syncer != nil && l.vpConnected
	ms.LastSuccess, vp.LastSuccess = l.msSuccess, l.vpSuccess
	if r, ok := l.rejected[auth.Microsoft]; ok {
		ms.SignInNeeded, ms.Reason, ms.Connected = true, strings.TrimPrefix(r, adminFixReason), false
	}
	if r, ok := l.rejected[auth.Vantagepoint]; ok {
		vp.SignInNeeded, vp.Reason, vp.Connected = true, strings.TrimPrefix(r, adminFixReason), false
	}
	switch s.State {
	case StateDisabled:
		s.Reason = "Your administrator turned synchronization off for this computer."
		if o.Config.SyncEnabled() {
			s.Reason = "Your administrator turned synchronization off for you in Vantagepoint."
		}
	case StateNotConfigured:
		if l.syncer == nil {
			s.Reason = "Not activated: choose Activate… in the tray or on Sync Options to sign in."
		} else {
			s.Reason = "The mailbox is not set up for sync: choose Activate… in the tray or on Sync Options."
		}
	case StateSuspended:
		if len(l.rejected) > 0 {
			var names []string
			for _, acc := range []string{auth.Microsoft, auth.Vantagepoint, ""} {
				if r, ok := l.rejected[acc]; ok {
					if rest, ok := strings.CutPrefix(r, adminFixReason); ok {
						// Signing in again cannot help until IT has changed
						// the setting the fix names.
						problem, fix, _ := strings.Cut(rest, "; to fix: ")
						s.Reason = auth.AccountTitle(acc) + " " + problem + ". To fix: " + fix + ". Then re-authorize the account."
						break
					}
					if acc == "" {
						names = append(names, r)
					} else {
						names = append(names, auth.AccountTitle(acc)+": "+r)
					}
				}
			}
			if s.Reason == "" {
				s.Reason = "Sign-in needed (" + strings.Join(names, "; ") + "). Re-authorize the account."
			}
		} else {
			s.Reason = fmt.Sprintf("%d batches in a row failed (last: %s). Scheduled sync stopped: press Resume to try again.", l.failures, l.lastErr)
		}
	case StateStandby:
		s.SyncingOn = l.standby.Computer
		if l.standby.Abandoned {
			// Our own claim, written too late to trust: no other computer
			// is known to sync, and saying so would mislead.
			s.SyncingOn = ""
			s.Reason = fmt.Sprintf("Not syncing: this computer's claim on the mailbox was written too late to be sure no other computer syncs it. It claims the mailbox again at %s UTC.",
				l.standby.Until.UTC().Format("2006-01-02 15:04"))
		} else {
			s.Reason = fmt.Sprintf("Syncing on %s. This computer takes over if %s stops syncing (its lease runs until %s UTC).",
				l.standby.Computer, l.standby.Computer, l.standby.Until.UTC().Format("2006-01-02 15:04"))
		}
	case StateWithIssues:
		if l.lastBatch != nil && l.lastBatch.Outcome == syncer.OutcomeFailed {
			s.Reason = "The last batch failed: " + l.lastErr
		}
	}
	s.Headline = Headline(s.State, s.SyncingOn)
	if l.scheduling() && !l.sched.nextVP.IsZero() {
		t := l.sched.nextVP.UTC()
		s.NextBatchAt = &t
	}
	return s
}

func (a *Agent) publish(l *loop) {
	// The timer first: whoever reads the status (NextBatchAt) may rely on
	// the timer being set for it.
	l.arm()
	l.seq++
	s := l.snapshot()
	a.status.Store(&s)
	a.subMu.Lock()
	defer a.subMu.Unlock()
	for ch := range a.subs {
		// Latest wins: a slow watcher misses intermediate snapshots, never
		// the last one, and never blocks the agent.
		select {
		case <-ch:
		default:
		}
		ch <- s
	}
}

// Status returns the latest snapshot. It never blocks on a running batch.
func (a *Agent) Status() Status { return *a.status.Load() }

// Subscribe returns a channel that receives the current snapshot at once and
// then each change (latest wins), and a function that ends the subscription.
func (a *Agent) Subscribe() (<-chan Status, func()) {
	ch := make(chan Status, 1)
	a.subMu.Lock()
	a.subs[ch] = struct{}{}
	ch <- *a.status.Load()
	a.subMu.Unlock()
	var once sync.Once
	return ch, func() {
		once.Do(func() {
			a.subMu.Lock()
			delete(a.subs, ch)
			a.subMu.Unlock()
		})
	}
}

// Headline is a state as the tray and the Sync Options page name it: the
// state itself, or on standby the computer that syncs the mailbox.
func Headline(state, syncingOn string) string {
	if state == StateStandby && syncingOn != "" {
		return "Syncing on " + syncingOn
	}
	return state
}
