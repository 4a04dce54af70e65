package syncer

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"time"

	"vpconnect/syncer/store"
)

// Trigger says why a batch ran.
type Trigger string

// Triggers, as recorded in a batch.
const (
	TriggerSchedule Trigger = "schedule"
	TriggerManual   Trigger = "manual"
	TriggerTrack    Trigger = "track"
	TriggerStartup  Trigger = "startup"
	TriggerWake     Trigger = "wake"
)

// Scope says which Vantagepoint listings a batch leaves out; the mailbox
// is always listed. What a batch does not list waits for the next batch
// that does: Vantagepoint's watermark stays where it was.
type Scope uint8

const (
	skipVPContacts Scope = 1 << iota
	skipVPEvents

	// ScopeFull lists both sides of every type: the Vantagepoint polls,
	// and the batches of a start, a wake and Sync now.
	ScopeFull Scope = 0
	// ScopeMailbox takes the mailbox's changes to Vantagepoint without
	// listing Vantagepoint: the batches a mailbox change or a track
	// request starts. Vantagepoint's own changes wait for the next poll,
	// which the fleet's budget paces (docs/behaviour.md §4.6); an edit on
	// both sides is still caught, by the record read before each write
	// (checkBase), and decided by sync.conflict in the next batch.
	ScopeMailbox = skipVPContacts | skipVPEvents
	// ScopeMeetings lists Vantagepoint's meetings but not its contacts:
	// the light polls of a fleet whose budget cannot carry whole polls
	// every 30 minutes (agent/pacing.go). A moved meeting is due in the
	// calendar today; a changed phone number can wait for the next
	// whole poll.
	ScopeMeetings = skipVPContacts
)

// listsVP says whether a batch of the scope lists Vantagepoint's items of
// the type.
func (s Scope) listsVP(typ string) bool {
	switch typ {
	case TypeContacts:
		return s&skipVPContacts == 0
	case TypeEvents:
		return s&skipVPEvents == 0
	}
	return true
}

// Outcomes of a batch (docs/behaviour.md §5.1).
const (
	OutcomeOK     = "ok"
	OutcomeIssues = "issues"
	OutcomeFailed = "failed"
)

// Item types, as keys of a batch's counts.
const (
	TypeEmails   = "emails"
	TypeContacts = "contacts"
	TypeEvents   = "events"
)

// Sides, as recorded in issues.
const (
	SideMailbox      = "mailbox"
	SideVantagepoint = "vantagepoint"
)

// Options are the sync rules of docs/behaviour.md §4 that the configuration sets.
type Options struct {
	// Category is the category that selects items (sync.category).
	Category string
	// EmailType is the activity type of synced e-mails (sync.emailType).
	EmailType string
	// MailFolders names folders synced besides Inbox and Sent Items.
	MailFolders []string
	// LookbackDays is how far before activation e-mails are taken.
	LookbackDays int
	// Employee is the signed-in user's Vantagepoint employee id.
	Employee string
	// ContactFolder is the display name of the synced contact folder
	// (sync.contactFolder).
	ContactFolder string
	// DaysAhead is how far ahead the calendar is synced (sync.daysAhead).
	DaysAhead int
	// CalendarTypes are the activity types synced as meetings; the first is
	// the type of activities made from Outlook events.
	CalendarTypes []string
	// Conflict says which side wins when both changed: "vantagepoint"
	// (default), "mailbox" or "newest".
	Conflict string
	// CreateFirms lets a company name typed in Outlook that no firm has
	// become a new Vantagepoint firm (sync.createFirms); otherwise the
	// contact is saved without a firm.
	CreateFirms bool
	// Mark is what initialization writes on the mailbox to link it to this
	// Vantagepoint user and database (docs/behaviour.md §4.5).
	Mark MailboxMark
	// Now is the clock; nil means time.Now.
	Now func() time.Time
	// Logger receives the engine's diagnostics; nil discards them.
	Logger *slog.Logger
}

// SyncedCategory and ErrorCategory are the categories the engine sets on
// messages it handled.
func (o Options) SyncedCategory() string { return o.Category + ": Synced" }

// ErrorCategory is set on messages whose activity could not be created.
func (o Options) ErrorCategory() string { return o.Category + ": Sync Error" }

// Categories are the master categories the engine needs in the mailbox.
func (o Options) Categories() []string {
	return []string{o.Category, o.SyncedCategory(), o.ErrorCategory()}
}

func (o Options) withDefaults() Options {
	if o.Category == "" {
		o.Category = "Vantagepoint"
	}
	if o.EmailType == "" {
		o.EmailType = "EMail"
	}
	if o.LookbackDays == 0 {
		o.LookbackDays = 14
	}
	if o.ContactFolder == "" {
		o.ContactFolder = "Vantagepoint"
	}
	if o.DaysAhead == 0 {
		o.DaysAhead = 180
	}
	if len(o.CalendarTypes) == 0 {
		o.CalendarTypes = []string{"Meeting"}
	}
	if o.Conflict == "" {
		o.Conflict = ConflictVantagepoint
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	return o
}

// Engine runs batches between one mailbox and one Vantagepoint employee. It
// is not safe for concurrent use: its owner runs one batch at a time.
type Engine struct {
	mailbox Mailbox
	vp      Vantagepoint
	store   *store.Store
	opts    Options
	log     *slog.Logger
	me      *MailboxUser // the signed-in user, read once

	// contacts and contactsByID are the contact index (contactindex.go) as
	// loaded and brought up to date for the running batch; nil between
	// batches, when the store holds it.
	contacts, contactsByID map[string]Contact
	// gate takes or renews the mailbox's lease before each batch (lease.go).
	gate func(ctx context.Context) error
	// leaseFolderID is the lease's folder as found by name when the state
	// does not know it (lease.go); only the gate's goroutine uses it.
	leaseFolderID string
	// started is when the engine was made, and indexSettle how long after
	// that a full listing of the contact index may fall due by age alone.
	started     time.Time
	indexSettle time.Duration
	// stepHook, set by tests, is called at every step where a crash leaves
	// a distinct state; errKilled from it stops the engine dead.
	stepHook func(step string) error
}

// New returns an engine over the two services and the state store.
func New(mailbox Mailbox, vp Vantagepoint, st *store.Store, opts Options) *Engine {
	opts = opts.withDefaults()
	return &Engine{mailbox: mailbox, vp: vp, store: st, opts: opts, log: opts.Logger,
		started: opts.Now().UTC(), indexSettle: newIndexSettle()}
}

// Meta keys the engine keeps in the store.
const (
	metaActivatedAt = "activated_at"
)

// The employee look-up's failures (docs/behaviour.md §4: none or several → activation
// stops and says which).
var (
	ErrNoEmployee        = errors.New("no employee record")
	ErrAmbiguousEmployee = errors.New("more than one employee record")
)

// employeeError is a look-up failure that matches its kind and reads as
// its sentence alone.
func employeeError(kind error, msg string) error { return kindError{kind, msg} }

type kindError struct {
	kind error
	msg  string
}

func (e kindError) Error() string { return e.msg }
func (e kindError) Unwrap() error { return e.kind }

// ResolveEmployee finds the user's employee: the one active Vantagepoint
// employee whose e-mail equals the mailbox address. None or several is an
// error that says which, because activation cannot go on without it.
func ResolveEmployee(ctx context.Context, mailbox Mailbox, vp Vantagepoint) (MailboxUser, Employee, error) {
	me, err := mailbox.Me(ctx)
	if err != nil {
		return MailboxUser{}, Employee{}, fmt.Errorf("read the signed-in Microsoft 365 user: %w", err)
	}
	addrs := me.Addresses()
	if len(addrs) == 0 {
		return me, Employee{}, fmt.Errorf("the Microsoft 365 account %q has no e-mail address", me.DisplayName)
	}
	var found []Employee
	for _, a := range addrs {
		emps, err := vp.EmployeesByEmail(ctx, a)
		if err != nil {
			return me, Employee{}, fmt.Errorf("look up the Vantagepoint employee for %s: %w", a, err)
		}
		for _, e := range emps {
			if !strings.EqualFold(e.Status, "A") && e.Status != "" {
				continue
			}
			dup := false
			for _, f := range found {
				dup = dup || f.ID == e.ID
			}
			if !dup {
				found = append(found, e)
			}
		}
		if len(found) > 0 {
			break
		}
	}
	switch len(found) {
	case 0:
		return me, Employee{}, employeeError(ErrNoEmployee, fmt.Sprintf("no active Vantagepoint employee has the e-mail address %s: ask your Vantagepoint administrator to set it on your employee record", addrs[0]))
	case 1:
		return me, found[0], nil
	default:
		ids := make([]string, len(found))
		for i, e := range found {
			ids[i] = e.ID
		}
		return me, Employee{}, employeeError(ErrAmbiguousEmployee, fmt.Sprintf("several active Vantagepoint employees have the e-mail address %s (%s): ask your Vantagepoint administrator to keep it on one", addrs[0], strings.Join(ids, ", ")))
	}
}

// Prepare makes the mailbox ready for sync; it is InitializeMailbox
// without re-initialization.
func (e *Engine) Prepare(ctx context.Context) error {
	return e.InitializeMailbox(ctx, false)
}

// since is the earliest sent or received time of an e-mail the engine takes.
func (e *Engine) since(ctx context.Context) (time.Time, error) {
	var v string
	err := e.store.View(ctx, func(tx *store.Tx) error {
		var err error
		v, err = tx.Meta(metaActivatedAt)
		return err
	})
	if err != nil {
		return time.Time{}, fmt.Errorf("read the activation time: %w", err)
	}
	at := e.opts.Now()
	if v != "" {
		if at, err = time.Parse(time.RFC3339, v); err != nil {
			return time.Time{}, fmt.Errorf("read the activation time %q: %w", v, err)
		}
	}
	return at.AddDate(0, 0, -e.opts.LookbackDays), nil
}

// batchRun collects what one batch did while it runs.
type batchRun struct {
	id       int64
	trigger  Trigger
	scope    Scope
	started  time.Time
	counts   map[string]*store.Counts
	issues   []store.Issue
	resolved []issueKey
}

type issueKey struct{ typ, side, item string }

func (b *batchRun) count(typ string) *store.Counts {
	c, ok := b.counts[typ]
	if !ok {
		c = &store.Counts{}
		b.counts[typ] = c
	}
	return c
}

// issue and resolve keep the last word per item: an item that fails and
// then succeeds within one batch (a retry) has no issue, and the reverse
// has one.
func (b *batchRun) issue(typ, side, item, reason string) {
	k := issueKey{typ, side, item}
	b.resolved = slices.DeleteFunc(b.resolved, func(x issueKey) bool { return x == k })
	b.issues = slices.DeleteFunc(b.issues, func(i store.Issue) bool { return issueKey{i.Type, i.Side, i.Item} == k })
	b.issues = append(b.issues, store.Issue{Type: typ, Side: side, Item: item, Reason: reason})
}

func (b *batchRun) resolve(typ, side, item string) {
	k := issueKey{typ, side, item}
	b.issues = slices.DeleteFunc(b.issues, func(i store.Issue) bool { return issueKey{i.Type, i.Side, i.Item} == k })
	b.resolved = append(b.resolved, k)
}

// Run runs one batch and records it. The returned batch is what was
// recorded; the error is set when the batch failed as a whole (a service
// refused the credentials, a listing could not be completed).
//
// With a lease gate (SetLeaseGate) the batch first takes or renews the
// mailbox's lease: ErrStandby (another agent syncs the mailbox) is no
// batch at all and records nothing; any other failure of the gate is a
// failed batch, recorded as one.
func (e *Engine) Run(ctx context.Context, trigger Trigger) (store.Batch, error) {
	return e.RunScoped(ctx, trigger, ScopeFull)
}

// RunScoped runs one batch that leaves out what scope says, and records
// it, as Run does.
func (e *Engine) RunScoped(ctx context.Context, trigger Trigger, scope Scope) (store.Batch, error) {
	var gateErr error
	if e.gate != nil {
		if gateErr = e.gate(ctx); errors.Is(gateErr, ErrStandby) {
			return store.Batch{}, gateErr
		}
	}
	b := &batchRun{trigger: trigger, scope: scope, started: e.opts.Now().UTC(), counts: map[string]*store.Counts{}}
	if err := e.store.Update(ctx, func(tx *store.Tx) error {
		var err error
		b.id, err = tx.StartBatch(string(trigger), b.started)
		return err
	}); err != nil {
		return store.Batch{}, fmt.Errorf("record the start of a batch: %w", err)
	}
	graphBefore, vpBefore := e.mailbox.Requests(), e.vp.Requests()
	b.count(TypeEmails)
	// The contact index is loaded by the first item of this batch that
	// needs it, and kept in the store, not in memory, between batches.
	e.contacts, e.contactsByID = nil, nil
	defer func() { e.contacts, e.contactsByID = nil, nil }()

	runErr := gateErr
	if runErr == nil {
		runErr = e.syncEmails(ctx, b)
	}
	for _, k := range []kind{e.newContactKind(), newEventKind(e)} {
		if runErr != nil {
			break
		}
		runErr = e.syncKind(ctx, b, k)
	}
	if errors.Is(runErr, errKilled) {
		// A killed process records nothing more.
		return store.Batch{}, runErr
	}

	batch := store.Batch{
		ID:       b.id,
		Trigger:  string(trigger),
		Started:  b.started,
		Finished: e.opts.Now().UTC(),
		Counts:   map[string]store.Counts{},
		Requests: map[string]int64{
			"graph":        e.mailbox.Requests() - graphBefore,
			"vantagepoint": e.vp.Requests() - vpBefore,
		},
		Issues: []store.Issue{},
	}
	for typ, c := range b.counts {
		batch.Counts[typ] = *c
	}
	// Record issues first so that attempts and first-seen carry over.
	saveCtx := context.WithoutCancel(ctx)
	err := e.store.Update(saveCtx, func(tx *store.Tx) error {
		for _, k := range b.resolved {
			if err := tx.ResolveIssue(k.typ, k.side, k.item); err != nil {
				return err
			}
		}
		for _, i := range b.issues {
			rec, err := tx.RecordIssue(i, batch.Finished)
			if err != nil {
				return err
			}
			batch.Issues = append(batch.Issues, rec)
		}
		switch {
		case runErr != nil:
			batch.Outcome = OutcomeFailed
			batch.Error = runErr.Error()
		case len(batch.Issues) > 0:
			batch.Outcome = OutcomeIssues
		default:
			batch.Outcome = OutcomeOK
		}
		if err := tx.FinishBatch(batch); err != nil {
			return err
		}
		_, err := tx.PruneBatches(batch.Finished.AddDate(0, 0, -30))
		return err
	})
	if err != nil {
		return batch, errors.Join(runErr, fmt.Errorf("record batch %d: %w", b.id, err))
	}
	return batch, runErr
}
