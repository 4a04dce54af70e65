package syncer

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"vpconnect/syncer/store"
)

// MailboxMark links a mailbox to one Vantagepoint user and database. It is
// written on the agent's contact folder at initialization (docs/behaviour.md §4.5), so a
// second agent, or the same agent pointed at another database, notices.
type MailboxMark struct {
	URL      string `json:"url"`
	Database string `json:"database"`
	Employee string `json:"employee"`
}

func (m MailboxMark) encode() string {
	b, _ := json.Marshal(m)
	return string(b)
}

func (m MailboxMark) same(o MailboxMark) bool {
	return strings.EqualFold(strings.TrimRight(m.URL, "/"), strings.TrimRight(o.URL, "/")) &&
		strings.EqualFold(m.Database, o.Database) && strings.EqualFold(m.Employee, o.Employee)
}

// ErrForeignCustomization: the mailbox is marked for another Vantagepoint
// user or database. The user may re-initialize it.
var ErrForeignCustomization = errors.New("Foreign customization detected: this mailbox is linked to another Vantagepoint user or database")

// MailboxStatus words of docs/behaviour.md §3.
const (
	MailboxNotInitialized = "Not initialized"
	MailboxInitialized    = "Initialized"
	MailboxConnectionLost = "Connection lost"
)

// InitializeMailbox makes the mailbox ready (docs/behaviour.md §4.5): the master
// categories, the contact folder, and the mark naming the Vantagepoint URL,
// database and employee. A mailbox marked for someone else is refused with
// ErrForeignCustomization unless reinitialize is set.
func (e *Engine) InitializeMailbox(ctx context.Context, reinitialize bool) error {
	if err := e.mailbox.EnsureCategories(ctx, e.opts.Categories()); err != nil {
		return fmt.Errorf("create the mailbox categories: %w", err)
	}
	contacts, ok := e.mailbox.(MailboxContacts)
	if ok {
		folder, found, err := contacts.ContactFolder(ctx, e.opts.ContactFolder)
		if err != nil {
			return fmt.Errorf("find the contact folder %q: %w", e.opts.ContactFolder, err)
		}
		if found {
			raw, err := contacts.MailboxMark(ctx, folder.ID)
			if err != nil {
				return fmt.Errorf("read the mark of the contact folder %q: %w", e.opts.ContactFolder, err)
			}
			var mark MailboxMark
			if raw != "" && (json.Unmarshal([]byte(raw), &mark) != nil || !mark.same(e.opts.Mark)) && !reinitialize {
				return fmt.Errorf("%w (it is linked to employee %s of database %s at %s)", ErrForeignCustomization, mark.Employee, mark.Database, mark.URL)
			}
		} else {
			if folder, err = contacts.CreateContactFolder(ctx, e.opts.ContactFolder); err != nil {
				return fmt.Errorf("create the contact folder %q: %w", e.opts.ContactFolder, err)
			}
		}
		if err := contacts.SetMailboxMark(ctx, folder.ID, e.opts.Mark.encode()); err != nil {
			return fmt.Errorf("mark the mailbox: %w", err)
		}
		if err := e.store.Update(ctx, func(tx *store.Tx) error { return tx.SetMeta(metaContactFolder, folder.ID) }); err != nil {
			return err
		}
	}
	return e.store.Update(ctx, func(tx *store.Tx) error {
		v, err := tx.Meta(metaActivatedAt)
		if err != nil || v != "" {
			return err
		}
		return tx.SetMeta(metaActivatedAt, e.opts.Now().UTC().Format(time.RFC3339))
	})
}

// Initialized says whether this state was initialized for a mailbox.
func (e *Engine) Initialized(ctx context.Context) (bool, error) {
	var v string
	err := e.store.View(ctx, func(tx *store.Tx) error { var err error; v, err = tx.Meta(metaActivatedAt); return err })
	return v != "", err
}

// Deactivate un-initializes the mailbox (docs/behaviour.md §4.5, "Delete"): it removes
// the contact folder, the events the agent created and its categories. The
// caller then forgets tokens and state. When the mailbox cannot be reached
// it fails with the reason; "Force Delete" is then the caller's to offer.
func (e *Engine) Deactivate(ctx context.Context) error {
	var folder string
	var created []string
	err := e.store.View(ctx, func(tx *store.Tx) error {
		var err error
		if folder, err = tx.Meta(metaContactFolder); err != nil {
			return err
		}
		return tx.Pairings(TypeEvents, func(p store.Pairing) error {
			if p.Origin == originVantagepoint {
				created = append(created, p.MailboxID)
			}
			return nil
		})
	})
	if err != nil {
		return err
	}
	if cal, ok := e.mailbox.(MailboxCalendar); ok {
		for _, id := range created {
			if err := cal.DeleteEvent(ctx, id); err != nil && !errors.Is(err, ErrNotFound) {
				return fmt.Errorf("remove an event the agent created: %w", err)
			}
		}
		if err := cal.DeleteCategories(ctx, e.opts.Categories()); err != nil && !errors.Is(err, ErrNotFound) {
			return fmt.Errorf("remove the agent's categories: %w", err)
		}
	}
	if contacts, ok := e.mailbox.(MailboxContacts); ok && folder != "" {
		if err := contacts.DeleteContactFolder(ctx, folder); err != nil && !errors.Is(err, ErrNotFound) {
			return fmt.Errorf("remove the contact folder: %w", err)
		}
	}
	return e.store.Update(ctx, func(tx *store.Tx) error { return tx.SetMeta(metaContactFolder, "") })
}
