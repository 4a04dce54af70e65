package agent

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"

	"vpconnect/auth"
	"vpconnect/syncer"
	"vpconnect/syncer/store"
)

// The actions the tray, the page, the add-in and the CLI ask of a running
// agent: sync now, pause, resume, track, confirm deletions, re-authorize,
// deactivate.

// SyncNow starts a batch at once (an explicit sync never waits for jitter).
// A batch already running is followed by this one.
func (a *Agent) SyncNow(ctx context.Context, trigger syncer.Trigger) (Ticket, error) {
	done := make(chan Result, 1)
	var t Ticket
	var err error
	if e := a.do(ctx, func(l *loop) {
		switch {
		case !a.opts.Config.SyncEnabled():
			err = ErrDisabledByPolicy
		case l.adminDisabled && l.syncer != nil:
			err = ErrDisabledByAdmin
		case l.syncer == nil || l.deactivating:
			err = ErrNotConfigured
		default:
			l.sched.activity(a.clock.Now())
			t.Batch = l.lastID + 1
			if l.running {
				t.Batch++
			}
			l.request(trigger, done)
		}
	}); e != nil {
		return Ticket{}, e
	}
	t.Done = done
	return t, err
}

// Pause stops scheduled sync until Resume; it survives a restart.
func (a *Agent) Pause(ctx context.Context) error {
	var err error
	if e := a.do(ctx, func(l *loop) {
		if err = l.pauseAllowed(); err == nil {
			l.paused = true
			err = l.save()
		}
	}); e != nil {
		return e
	}
	return err
}

// Resume ends a pause or a suspension (docs/behaviour.md §3: "until the user
// re-authorizes or presses Resume") and runs a batch at once.
func (a *Agent) Resume(ctx context.Context) error {
	var err error
	if e := a.do(ctx, func(l *loop) {
		if err = l.pauseAllowed(); err != nil {
			return
		}
		l.paused = false
		l.failures = 0
		clear(l.rejected)
		err = l.save()
		if l.syncer != nil && !l.running {
			l.sched.runNow(a.clock.Now())
		}
	}); e != nil {
		return e
	}
	return err
}

func (l *loop) pauseAllowed() error {
	a := l.a
	if !a.opts.Config.SyncEnabled() {
		return ErrDisabledByPolicy
	}
	if l.adminDisabled {
		return ErrDisabledByAdmin
	}
	if !a.opts.Config.PauseAllowed() {
		return ErrPauseNotAllowed
	}
	return nil
}

// Track queues an e-mail for filing (POST /v1/track) and pushes it at once.
func (a *Agent) Track(ctx context.Context, req TrackRequest) error {
	if !a.opts.Config.SyncEnabled() {
		return ErrDisabledByPolicy
	}
	if a.opts.Tracker == nil || a.deactivated.Load() {
		return ErrNotConfigured
	}
	if strings.TrimSpace(req.MessageID) == "" {
		return fmt.Errorf("%w: messageId is required", ErrInvalid)
	}
	id, err := a.translate(ctx, req.MessageID)
	if err != nil {
		return err
	}
	if err := a.opts.Tracker.TrackEmail(ctx, store.Track{MessageID: id, Project: req.Project,
		Opportunity: req.Opportunity, Contact: req.Contact, Firm: req.Firm}); err != nil {
		return fmt.Errorf("queue the e-mail: %w", err)
	}
	return a.do(ctx, func(l *loop) {
		l.sched.activity(a.clock.Now())
		if !l.paused && l.syncer != nil && !l.adminDisabled {
			l.request(syncer.TriggerTrack, nil)
		}
	})
}

// Untracker withdraws track requests; *syncer.Engine is one.
type Untracker interface {
	UntrackEmail(ctx context.Context, messageID string) (store.Track, bool, error)
}

// Untrack withdraws the add-in's track request for a message that has not
// been filed (the add-in removes the category itself). A filed one is
// answered as it stands, with its activity; found is false when the
// message was never tracked.
func (a *Agent) Untrack(ctx context.Context, messageID string) (store.Track, bool, error) {
	u, ok := a.opts.Tracker.(Untracker)
	if !ok || a.deactivated.Load() {
		return store.Track{}, false, ErrNotConfigured
	}
	id, err := a.translate(ctx, messageID)
	if err != nil {
		return store.Track{}, false, err
	}
	t, found, err := u.UntrackEmail(ctx, id)
	if err != nil {
		return store.Track{}, false, fmt.Errorf("withdraw the track request: %w", err)
	}
	return t, found, nil
}

// TrackStatus reports where a track request stands, by the id the add-in
// used.
func (a *Agent) TrackStatus(ctx context.Context, messageID string) (store.Track, bool, error) {
	if a.opts.Tracker == nil || a.deactivated.Load() {
		return store.Track{}, false, ErrNotConfigured
	}
	id, err := a.translate(ctx, messageID)
	if err != nil {
		return store.Track{}, false, err
	}
	return a.opts.Tracker.TrackStatus(ctx, id)
}

// translate turns an Office.js message id into the immutable REST id the
// engine keys e-mails by. An EWS id (base64 with '/' or '+') is translated
// as "ewsId"; another is tried as "restId", and kept as it is when Graph
// does not translate it (it is already immutable).
func (a *Agent) translate(ctx context.Context, id string) (string, error) {
	if a.opts.Hooks.TranslateIDs == nil {
		return id, nil
	}
	a.idMu.Lock()
	if v, ok := a.idMap[id]; ok {
		a.idMu.Unlock()
		return v, nil
	}
	a.idMu.Unlock()
	source := "restId"
	if strings.ContainsAny(id, "/+") {
		source = "ewsId"
	}
	m, err := a.opts.Hooks.TranslateIDs(ctx, []string{id}, source)
	out := id
	if v, ok := m[id]; err == nil && ok && v != "" {
		out = v
	} else if source == "ewsId" {
		if err == nil {
			err = errors.New("Graph did not translate it")
		}
		return "", fmt.Errorf("translate the message id: %w", err)
	}
	a.idMu.Lock()
	if len(a.idMap) > 10000 {
		clear(a.idMap)
	}
	a.idMap[id] = out
	a.idMu.Unlock()
	return out, nil
}

// ConfirmDeletes is the user's answer to the empty-side guard (docs/behaviour.md §4.4):
// the deletions of typ that were held back are intended. A batch runs at
// once to apply them.
func (a *Agent) ConfirmDeletes(ctx context.Context, typ string) (Ticket, error) {
	return a.answerDeletes(ctx, typ, "confirm", a.opts.Hooks.ConfirmDeletes)
}

// RefuseDeletes is the other answer: nothing of typ is deleted, and the
// items left on one side are copied back to the side they disappeared
// from, in a batch that runs at once.
func (a *Agent) RefuseDeletes(ctx context.Context, typ string) (Ticket, error) {
	return a.answerDeletes(ctx, typ, "refuse", a.opts.Hooks.RefuseDeletes)
}

func (a *Agent) answerDeletes(ctx context.Context, typ, verb string, hook func(context.Context, string) error) (Ticket, error) {
	if typ != syncer.TypeContacts && typ != syncer.TypeEvents {
		return Ticket{}, fmt.Errorf("%w: deletions are held back only for contacts and events, not %q", ErrInvalid, typ)
	}
	if hook == nil || a.deactivated.Load() {
		return Ticket{}, ErrNotConfigured
	}
	if err := hook(ctx, typ); err != nil {
		return Ticket{}, fmt.Errorf("%s the deletions of %s: %w", verb, typ, err)
	}
	return a.SyncNow(ctx, syncer.TriggerManual)
}

// Reauthorize signs an account in again and lifts its suspension.
func (a *Agent) Reauthorize(ctx context.Context, account string, cred Credentials) error {
	if account != auth.Microsoft && account != auth.Vantagepoint {
		return fmt.Errorf("%w: unknown account %q", ErrInvalid, account)
	}
	if a.opts.Hooks.Reauthorize == nil {
		return ErrUnsupported
	}
	if err := a.opts.Hooks.Reauthorize(ctx, account, cred); err != nil {
		return fmt.Errorf("re-authorize %s: %w", auth.AccountTitle(account), err)
	}
	return a.do(ctx, func(l *loop) {
		delete(l.rejected, account)
		delete(l.rejected, "")
		l.failures = 0
		if l.syncer != nil && !l.running {
			l.sched.runNow(a.clock.Now())
		}
	})
}

// Deactivate is docs/behaviour.md §3's Delete (force false: un-initialize the mailbox,
// then forget) or Force Delete (force true: forget tokens and local state
// without touching the mailbox). The running batch finishes first. After
// it the agent is Not Configured and keeps serving its API.
func (a *Agent) Deactivate(ctx context.Context, force bool) error {
	return a.deactivate(ctx, force, nil)
}

// deactivate is Deactivate; beforeForget, when set, runs once the mailbox is
// clean and before the sign-ins are forgotten (the administrator's Delete
// reports Deleted then, while it can still sign in).
func (a *Agent) deactivate(ctx context.Context, force bool, beforeForget func(ctx context.Context)) error {
	if !force && a.opts.Hooks.Uninitialize == nil {
		return fmt.Errorf("delete: %w; use Force Delete", ErrUnsupported)
	}
	idle := make(chan struct{})
	var notConfigured bool
	if err := a.do(ctx, func(l *loop) {
		if l.syncer == nil {
			notConfigured = true
			close(idle)
			return
		}
		l.deactivating = true
		l.pending = ""
		if l.running {
			l.idleWaiters = append(l.idleWaiters, idle)
		} else {
			close(idle)
		}
	}); err != nil {
		return err
	}
	if notConfigured && !force {
		return ErrNotConfigured
	}
	select {
	case <-idle:
	case <-ctx.Done():
		_ = a.do(context.Background(), func(l *loop) { l.deactivating = false })
		return ctx.Err()
	}
	if !force {
		if err := a.opts.Hooks.Uninitialize(ctx); err != nil {
			_ = a.do(context.Background(), func(l *loop) { l.deactivating = false })
			return fmt.Errorf("remove vpconnect's data from the mailbox: %w (when the mailbox cannot be reached, use Force Delete)", err)
		}
	}
	if beforeForget != nil {
		beforeForget(ctx)
	}
	err := ForgetLocal(ctx, a.opts.Hooks, a.opts.StateFiles)
	_ = a.do(context.Background(), func(l *loop) {
		l.syncer = nil
		l.deactivating = false
		l.mailboxStatus = syncer.MailboxNotInitialized
		l.lastBatch, l.issues, l.totals = nil, nil, map[string]store.Counts{}
		clear(l.rejected)
		l.failures = 0
		l.paused = false
		l.adminDisabled = false
		_ = l.save()
	})
	a.deactivated.Store(true)
	return err
}

// ForgetLocal forgets this computer's activation: it closes the state
// store, removes the state files (with SQLite's companions), and deletes the
// sign-ins. It is Force Delete's whole work, and Delete's last step; the
// CLI calls it directly when no agent runs.
func ForgetLocal(ctx context.Context, h Hooks, files []string) error {
	var errs []error
	if h.CloseState != nil {
		if err := h.CloseState(); err != nil {
			errs = append(errs, fmt.Errorf("close the state database: %w", err))
		}
	}
	for _, f := range files {
		for _, p := range []string{f, f + "-wal", f + "-shm", f + "-journal"} {
			if err := os.Remove(p); err != nil && !errors.Is(err, os.ErrNotExist) {
				errs = append(errs, fmt.Errorf("remove %s: %w", p, err))
			}
		}
	}
	if h.ForgetTokens != nil {
		if err := h.ForgetTokens(ctx); err != nil {
			errs = append(errs, fmt.Errorf("forget the sign-ins: %w", err))
		}
	}
	return errors.Join(errs...)
}
