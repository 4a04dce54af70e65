package syncer

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"vpconnect/syncer/store"
)

// errNews stops a probe's delta round at the first change worth a batch.
var errNews = errors.New("the mailbox changed")

// MailboxChanged tells whether the mailbox holds a change the next batch
// would act on, at the cost of one delta round per collection (docs/behaviour.md §4.6:
// the mailbox is polled every sync.mailboxInterval, Vantagepoint only every
// sync.interval). A round with news saves no cursor: the batch it leads to
// lists the same changes again. A round without news saves its new cursor,
// because Exchange keeps only the last few generations of a sync state
// (graphsim's keptGenerations): a probe that called the same saved
// deltaLink every 30 s would lose it within minutes, and every batch would
// then list its collection from scratch. The agent's own writes coming back (a category it set, an
// item it created or updated) are not news, so a batch's writes do not wake
// the next one. It must not run while a batch does.
//
// When it cannot tell (not initialized, no cursor yet, a resync needed) it
// answers true: a batch decides.
func (e *Engine) MailboxChanged(ctx context.Context) (bool, error) {
	folders, err := e.knownMailFolders(ctx)
	if err != nil || folders == nil {
		return true, err
	}
	for _, id := range folders {
		news, err := e.probeFolder(ctx, id)
		if news || err != nil {
			return news, err
		}
	}
	for _, k := range []kind{e.newContactKind(), newEventKind(e)} {
		news, err := e.probeKind(ctx, k)
		if news || err != nil {
			return news, err
		}
	}
	return false, nil
}

// knownMailFolders returns the ids of the mail folders the e-mail part
// lists, as the last batch resolved them; nil when one is not known yet.
func (e *Engine) knownMailFolders(ctx context.Context) ([]string, error) {
	names := append(append([]string{}, wellKnownFolders...), e.opts.MailFolders...)
	ids := []string{}
	seen := map[string]bool{}
	err := e.store.View(ctx, func(tx *store.Tx) error {
		for _, name := range names {
			id, err := tx.Meta("mailfolder:" + strings.ToLower(name))
			if err != nil {
				return err
			}
			if id == "" {
				if contains(wellKnownFolders, name) {
					ids = nil
					return nil
				}
				continue // a missing configured folder is an issue of the batches
			}
			if !seen[id] {
				seen[id] = true
				ids = append(ids, id)
			}
		}
		return nil
	})
	return ids, err
}

func (e *Engine) probeFolder(ctx context.Context, folderID string) (bool, error) {
	var cursor string
	if err := e.store.View(ctx, func(tx *store.Tx) error {
		var err error
		cursor, err = tx.Cursor(folderCursorKey(folderID))
		return err
	}); err != nil {
		return false, err
	}
	if cursor == "" {
		return true, nil
	}
	next, err := e.mailbox.MessageChanges(ctx, folderID, cursor, func(changes []MessageChange) error {
		for _, c := range changes {
			if c.Removed {
				continue // never acted on (docs/behaviour.md §4.1)
			}
			// Only a tagged e-mail not yet marked Synced can lead to a
			// write; a tracked one is pushed by its track request. Untagged
			// mail arriving all day long must not wake Vantagepoint.
			if !hasCategory(c.Categories, e.opts.Category) || hasCategory(c.Categories, e.opts.SyncedCategory()) {
				continue
			}
			var agentKey string
			if err := e.store.View(ctx, func(tx *store.Tx) error {
				var err error
				agentKey, err = tx.AgentChangeKey(c.ID)
				return err
			}); err != nil {
				return err
			}
			if agentKey == "" || agentKey != c.ChangeKey {
				return errNews
			}
		}
		return nil
	})
	if err == nil {
		if err := e.saveProbeCursor(ctx, folderCursorKey(folderID), cursor, next); err != nil {
			return false, err
		}
	}
	return probeOutcome(err, "mail folder")
}

// saveProbeCursor keeps the cursor a probe's round without news ended on,
// unless a batch moved the saved one meanwhile.
func (e *Engine) saveProbeCursor(ctx context.Context, key, old, next string) error {
	if next == "" || next == old {
		return nil
	}
	return e.store.Update(ctx, func(tx *store.Tx) error {
		cur, err := tx.Cursor(key)
		if err != nil || cur != old {
			return err
		}
		if err := tx.SetCursor(key, next, e.opts.Now()); err != nil {
			return fmt.Errorf("save the cursor of a quiet mailbox check: %w", err)
		}
		return nil
	})
}

func (e *Engine) probeKind(ctx context.Context, k kind) (bool, error) {
	ok, _, err := k.ready(ctx)
	if err != nil || !ok {
		return false, err
	}
	var cursor string
	pairs := map[string]store.Pairing{}
	if err := e.store.View(ctx, func(tx *store.Tx) error {
		var err error
		if cursor, err = tx.Cursor(k.mailboxCursorKey()); err != nil {
			return err
		}
		return tx.Pairings(k.name(), func(p store.Pairing) error { pairs[p.MailboxID] = p; return nil })
	}); err != nil {
		return false, err
	}
	if cursor == "" {
		return true, nil // first listing, or the calendar window moved
	}
	next, err := k.mailboxRound(ctx, cursor, func(it item) error {
		p, paired := pairs[it.id]
		switch {
		case !paired:
			// A new item in scope; one out of scope is news only when it
			// carries an issue to report (a recurring series).
			if !it.removed && (it.outOfScope == "" || it.issue != "") {
				return errNews
			}
		case p.Origin == originUnlinked:
		case it.removed || it.hash() != p.MailboxVersion:
			return errNews
		}
		return nil
	})
	if err == nil {
		if err := e.saveProbeCursor(ctx, k.mailboxCursorKey(), cursor, next); err != nil {
			return false, err
		}
	}
	return probeOutcome(err, k.name())
}

func probeOutcome(err error, what string) (bool, error) {
	switch {
	case err == nil:
		return false, nil
	case errors.Is(err, errNews), errors.Is(err, ErrResyncRequired):
		return true, nil
	default:
		return false, fmt.Errorf("check the %s for changes: %w", what, err)
	}
}
