package syncer

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"vpconnect/syncer/store"
)

// One agent per mailbox (docs/behaviour.md §5.5): an employee with a laptop and a desktop
// runs two agents on one mailbox, and only one of them may sync. The one
// that syncs holds a lease kept in the mailbox itself, next to the mark on
// the agent's contact folder (a second named property of ours), so that
// every agent that reaches the mailbox sees it, with no server of our own.
// The engine only reads and writes it; the agent decides (agent/lease.go).

// MailboxLease is the lease's value: which agent syncs the mailbox, on
// which computer, until when. Renewed is when its holder last renewed it:
// an agent whose lease was not renewed for days is gone (docs/behaviour.md §5.5, Delete
// without the computer).
type MailboxLease struct {
	Agent    string `json:"agent"`
	Computer string `json:"computer"`
	// Claim tells one claim of an agent from another: two claims written
	// by the same agent are different leases.
	Claim   string    `json:"claim"`
	Renewed time.Time `json:"renewed"`
	Expires time.Time `json:"expires"`
}

// MailboxLeases keeps the lease on the agent's contact folder. The Graph
// client implements it; a contact folder has no changeKey (its resource
// has only id, displayName and parentFolderId), so a write cannot be made
// conditional and the last writer wins: the agent's claim protocol allows
// for that.
type MailboxLeases interface {
	// MailboxLease reads the lease property of a contact folder; "" when
	// it has none.
	MailboxLease(ctx context.Context, folderID string) (string, error)
	// SetMailboxLease writes it.
	SetMailboxLease(ctx context.Context, folderID, value string) error
}

// ErrStandby is the lease gate's answer when another agent holds the
// lease: the batch does not run.
var ErrStandby = errors.New("another agent syncs this mailbox")

// SetLeaseGate makes every batch call gate first (the agent's lease:
// take or renew it, or answer ErrStandby). Set it before the first batch.
func (e *Engine) SetLeaseGate(gate func(ctx context.Context) error) { e.gate = gate }

// LeaseGate runs the lease gate alone (nil without one): what must not
// happen on standby (taking the mailbox up again writes its mark) asks it
// first.
func (e *Engine) LeaseGate(ctx context.Context) error {
	if e.gate == nil {
		return nil
	}
	return e.gate(ctx)
}

// ErrNoLeaseFolder: the mailbox has no contact folder of the agent yet
// (not initialized, or deactivated), so there is no lease to hold.
var ErrNoLeaseFolder = errors.New("the mailbox has no Vantagepoint contact folder to keep the lease on")

// leaseFolder is the contact folder the lease lives on: the one the state
// knows, or the one of the configured name (a state that was recreated).
func (e *Engine) leaseFolder(ctx context.Context) (MailboxLeases, string, error) {
	leases, ok := e.mailbox.(MailboxLeases)
	contacts, ok2 := e.mailbox.(MailboxContacts)
	if !ok || !ok2 {
		return nil, "", ErrNoLeaseFolder
	}
	var id string
	if err := e.store.View(ctx, func(tx *store.Tx) error { var err error; id, err = tx.Meta(metaContactFolder); return err }); err != nil {
		return nil, "", err
	}
	if id == "" {
		id = e.leaseFolderID
	}
	if id != "" {
		return leases, id, nil
	}
	f, found, err := contacts.ContactFolder(ctx, e.opts.ContactFolder)
	if err != nil {
		return nil, "", fmt.Errorf("find the contact folder %q: %w", e.opts.ContactFolder, err)
	}
	if !found {
		return nil, "", ErrNoLeaseFolder
	}
	// Kept for the next checks: a standby agent's state never learns it.
	e.leaseFolderID = f.ID
	return leases, f.ID, nil
}

// ReadLease reads the mailbox's lease; a zero lease when there is none.
// ErrNoLeaseFolder when the mailbox has no folder of the agent.
func (e *Engine) ReadLease(ctx context.Context) (MailboxLease, error) {
	leases, folder, err := e.leaseFolder(ctx)
	if err != nil {
		return MailboxLease{}, err
	}
	raw, err := leases.MailboxLease(ctx, folder)
	if errors.Is(err, ErrNotFound) {
		e.leaseFolderID = ""
		// The folder the state knew is gone (deleted in Outlook, or by the
		// other agent's Delete).
		return MailboxLease{}, fmt.Errorf("%w: %v", ErrNoLeaseFolder, err)
	}
	if err != nil {
		return MailboxLease{}, fmt.Errorf("read the mailbox lease: %w", err)
	}
	var l MailboxLease
	if raw != "" && json.Unmarshal([]byte(raw), &l) != nil {
		// Unreadable (a later version's, or damaged): nobody's, so it is
		// claimed as an expired one would be.
		return MailboxLease{}, nil
	}
	return l, nil
}

// WriteLease writes the mailbox's lease (unconditionally: see
// MailboxLeases).
func (e *Engine) WriteLease(ctx context.Context, l MailboxLease) error {
	leases, folder, err := e.leaseFolder(ctx)
	if err != nil {
		return err
	}
	b, _ := json.Marshal(l)
	if err := leases.SetMailboxLease(ctx, folder, string(b)); err != nil {
		return fmt.Errorf("write the mailbox lease: %w", err)
	}
	return nil
}
