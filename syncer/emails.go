package syncer

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"vpconnect/syncer/store"
)

// This file turns selected e-mails into Vantagepoint activities (docs/behaviour.md §4.1).
//
// The path of one e-mail: a delta round reports it; it is selected by the
// category or a track request; its create is journaled with the natural key
// (the e-mail's internetMessageId, which the activity's Notes carry); the
// activity is created; the journal entry is replaced by the e-mail's synced
// state; the message gets the Synced category and the changeKey of that write
// is kept, so that the next round does not take the agent's write for the
// user's. A crash between journal and create is resolved by looking the
// activity up by its natural key before sending the create again.

// NotesLimit is how much of a message body an activity's Notes keep.
const NotesLimit = 64 << 10

// messageRefPrefix starts the line of an activity's Notes that names the
// e-mail it came from; it is the natural key of the activity. Where the
// server has the user-defined activity field docs/admin.md asks for, the
// key is kept there too (Activity.MessageID): a user's edit of the Notes
// cannot lose it.
const messageRefPrefix = "Message-ID: "

// MessageRef is the Notes line that names an e-mail: "Message-ID: <id>".
func MessageRef(internetMessageID string) string { return messageRefPrefix + internetMessageID }

func messageRef(internetMessageID string) string { return MessageRef(internetMessageID) }

// wellKnownFolders are always synced (docs/behaviour.md §4.1).
var wellKnownFolders = []string{"inbox", "sentitems"}

func folderCursorKey(folderID string) string { return "messages:" + folderID }

// emailRun is the state of the e-mail part of one batch.
type emailRun struct {
	b       *batchRun
	since   time.Time
	me      []string        // the user's own addresses
	handled map[string]bool // internetMessageIds handled in this batch
}

// syncEmails runs the e-mail part of a batch.
func (e *Engine) syncEmails(ctx context.Context, b *batchRun) error {
	since, err := e.since(ctx)
	if err != nil {
		return err
	}
	me, err := e.mailboxUser(ctx)
	if err != nil {
		return err
	}
	r := &emailRun{b: b, since: since, me: me.Addresses(), handled: map[string]bool{}}

	// Writes whose outcome a crash left unknown come first: they decide
	// whether an e-mail still needs its activity.
	if err := e.recoverEmailJournal(ctx, r); err != nil {
		return err
	}
	folders, err := e.emailFolders(ctx, r)
	if err != nil {
		return err
	}
	for _, f := range folders {
		if err := e.syncFolder(ctx, r, f); err != nil {
			return err
		}
	}
	if err := e.retryEmails(ctx, r); err != nil {
		return err
	}
	return e.retryMarks(ctx, r)
}

// mailboxUser reads the signed-in user once per engine: it does not change
// while the engine lives, and a no-change batch must cost one request per
// collection.
func (e *Engine) mailboxUser(ctx context.Context) (MailboxUser, error) {
	if e.me != nil {
		return *e.me, nil
	}
	me, err := e.mailbox.Me(ctx)
	if err != nil {
		return MailboxUser{}, fmt.Errorf("read the signed-in Microsoft 365 user: %w", err)
	}
	e.me = &me
	return me, nil
}

// emailFolders resolves the folders to scan. Their ids are kept in the store
// (immutable ids do not change), so resolving costs requests only once.
func (e *Engine) emailFolders(ctx context.Context, r *emailRun) ([]MailFolder, error) {
	names := append(append([]string{}, wellKnownFolders...), e.opts.MailFolders...)
	var out []MailFolder
	seen := map[string]bool{}
	for _, name := range names {
		key := "mailfolder:" + strings.ToLower(name)
		var id string
		if err := e.store.View(ctx, func(tx *store.Tx) error {
			var err error
			id, err = tx.Meta(key)
			return err
		}); err != nil {
			return nil, err
		}
		if id == "" {
			f, err := e.mailbox.MailFolder(ctx, name)
			if errors.Is(err, ErrNotFound) && !contains(wellKnownFolders, name) {
				r.b.issue(TypeEmails, SideMailbox, "folder "+name,
					fmt.Sprintf("the mail folder %q named in sync.mailFolders does not exist", name))
				continue
			}
			if err != nil {
				return nil, fmt.Errorf("find the mail folder %q: %w", name, err)
			}
			id = f.ID
			if err := e.store.Update(ctx, func(tx *store.Tx) error { return tx.SetMeta(key, id) }); err != nil {
				return nil, err
			}
		}
		r.b.resolve(TypeEmails, SideMailbox, "folder "+name)
		if !seen[id] {
			seen[id] = true
			out = append(out, MailFolder{ID: id, DisplayName: name})
		}
	}
	return out, nil
}

// syncFolder runs one delta round over a folder and files the e-mails it
// selects. The round's cursor is saved only when the round completed, so a
// failed round is listed again, never taken for deletions.
func (e *Engine) syncFolder(ctx context.Context, r *emailRun, f MailFolder) error {
	key := folderCursorKey(f.ID)
	var cursor string
	if err := e.store.View(ctx, func(tx *store.Tx) error {
		var err error
		cursor, err = tx.Cursor(key)
		return err
	}); err != nil {
		return err
	}
	page := func(changes []MessageChange) error {
		for _, c := range changes {
			if err := e.considerMessage(ctx, r, c); err != nil {
				return err
			}
		}
		return nil
	}
	next, err := e.mailbox.MessageChanges(ctx, f.ID, cursor, page)
	if errors.Is(err, ErrResyncRequired) && cursor != "" {
		// The service forgot our position: list everything again. E-mails
		// already filed are known by internetMessageId, so nothing doubles.
		e.log.Info("mail folder needs a full resync", "folder", f.DisplayName)
		next, err = e.mailbox.MessageChanges(ctx, f.ID, "", page)
	}
	if err != nil {
		return fmt.Errorf("list changes in mail folder %s: %w", f.DisplayName, err)
	}
	return e.store.Update(ctx, func(tx *store.Tx) error { return tx.SetCursor(key, next, e.opts.Now()) })
}

// considerMessage decides what one delta entry means for Vantagepoint.
func (e *Engine) considerMessage(ctx context.Context, r *emailRun, c MessageChange) error {
	if c.Removed {
		// Deleting or moving an e-mail changes nothing in Vantagepoint: an
		// activity is a business record (docs/behaviour.md §4.1).
		return nil
	}
	counts := r.b.count(TypeEmails)
	var (
		agentKey string
		track    store.Track
		tracked  bool
		state    store.Email
		known    bool
	)
	if err := e.store.View(ctx, func(tx *store.Tx) error {
		var err error
		if agentKey, err = tx.AgentChangeKey(c.ID); err != nil {
			return err
		}
		if track, tracked, err = tx.Track(c.ID); err != nil {
			return err
		}
		tracked = tracked && track.State != store.TrackSynced
		if c.InternetMessageID != "" {
			state, known, err = tx.Email(c.InternetMessageID)
		}
		return err
	}); err != nil {
		return err
	}
	if agentKey != "" && agentKey == c.ChangeKey {
		// The agent's own category write coming back: not a change of the
		// user's, so it is not even counted as scanned.
		return nil
	}
	counts.Scanned++
	if !tracked && !hasCategory(c.Categories, e.opts.Category) {
		return nil
	}
	if c.IsDraft {
		counts.Skipped++
		return nil
	}
	if !tracked && c.latest().Before(r.since) {
		return nil // older than the look-back window
	}
	if c.InternetMessageID == "" {
		c.InternetMessageID = "id:" + c.ID
	}
	if r.handled[c.InternetMessageID] {
		return e.markCopy(ctx, r, c)
	}
	if known && state.State == store.EmailSynced {
		// Filed already: this is a copy in another folder, or the mark
		// was not set (the process stopped between the two writes).
		r.handled[c.InternetMessageID] = true
		return e.markCopy(ctx, r, c)
	}
	if known && state.State == store.EmailPending {
		// A create whose outcome is unknown; recovery decides it.
		return nil
	}
	var tr *store.Track
	if tracked {
		tr = &track
	}
	if !known && hasCategory(c.Categories, e.opts.SyncedCategory()) {
		// Marked filed, but the state does not know it (the state file was
		// lost, or the user's agent on another computer filed it): look
		// the activity up by its natural key before filing it, so that an
		// e-mail is filed once (docs/behaviour.md §8: never a mass create).
		adopted, err := e.adoptFiled(ctx, r, c, tr)
		if err != nil || adopted {
			return err
		}
	}
	return e.fileEmail(ctx, r, c.ID, c.InternetMessageID, tr)
}

// adoptFiled looks up the activity of a message marked Synced and, when it
// exists, records the message as filed. A failed look-up files nothing this
// batch (an issue says why): never create blindly.
func (e *Engine) adoptFiled(ctx context.Context, r *emailRun, c MessageChange, track *store.Track) (bool, error) {
	found, err := e.vp.FindActivities(ctx, ActivityQuery{Type: e.opts.EmailType, Employee: e.opts.Employee, MessageID: c.InternetMessageID})
	if err != nil {
		if errors.Is(err, ErrAuthRejected) {
			return false, fmt.Errorf("look up the activity of an e-mail marked filed: %w", err)
		}
		r.handled[c.InternetMessageID] = true
		r.b.count(TypeEmails).Failed++
		r.b.issue(TypeEmails, SideVantagepoint, issueItem(c.Subject, c.InternetMessageID),
			fmt.Sprintf("could not check whether this e-mail is filed already: %v", err))
		return true, nil
	}
	if len(found) == 0 {
		return false, nil
	}
	r.handled[c.InternetMessageID] = true
	return true, e.store.Update(ctx, func(tx *store.Tx) error {
		return e.recordSynced(tx, c.ID, c.InternetMessageID, found[0].ID, track)
	})
}

// latest is when the message was last sent or received.
func (c MessageChange) latest() time.Time {
	if c.ReceivedAt.After(c.SentAt) {
		return c.ReceivedAt
	}
	return c.SentAt
}

func hasCategory(cats []string, name string) bool {
	for _, c := range cats {
		if strings.EqualFold(strings.TrimSpace(c), name) {
			return true
		}
	}
	return false
}

// markCopy gives a second copy of an e-mail already filed (sent to self,
// copied to a folder) the Synced category, without a second activity.
func (e *Engine) markCopy(ctx context.Context, r *emailRun, c MessageChange) error {
	if hasCategory(c.Categories, e.opts.SyncedCategory()) {
		return nil
	}
	return e.setCategories(ctx, r, c.ID, c.InternetMessageID, c.Categories, true)
}

// fileEmail creates the activity of one e-mail. It returns an error only
// when the batch cannot go on (credentials rejected, state not writable);
// a failure of this e-mail alone becomes an issue.
func (e *Engine) fileEmail(ctx context.Context, r *emailRun, messageID, internetMessageID string, track *store.Track) error {
	counts := r.b.count(TypeEmails)
	r.handled[internetMessageID] = true
	msg, err := e.mailbox.Message(ctx, messageID)
	if errors.Is(err, ErrNotFound) {
		return e.store.Update(ctx, func(tx *store.Tx) error {
			if track != nil {
				track.State, track.Reason = store.TrackFailed, "the message no longer exists"
				if err := tx.PutTrack(*track); err != nil {
					return err
				}
			}
			return tx.PutEmail(store.Email{InternetMessageID: internetMessageID, MessageID: messageID, State: store.EmailGone,
				Reason: "the message no longer exists", Updated: e.opts.Now()})
		})
	}
	if err != nil {
		return e.emailFailed(ctx, r, messageID, internetMessageID, "", nil, track, fmt.Errorf("read the message: %w", err))
	}
	if msg.InternetMessageID == "" {
		msg.InternetMessageID = internetMessageID
	}
	subject := issueItem(msg.Subject, internetMessageID)
	if track == nil && !hasCategory(msg.Categories, e.opts.Category) {
		// A retry of an e-mail that failed, whose category the user took
		// away since (the add-in's Untrack does): it is no longer to be
		// filed. Setting the category again files it anew.
		r.b.resolve(TypeEmails, SideVantagepoint, subject)
		return e.store.Update(ctx, func(tx *store.Tx) error {
			return tx.PutEmail(store.Email{InternetMessageID: internetMessageID, MessageID: messageID, State: store.EmailGone,
				Reason: "no longer tracked: the category was removed before it was filed", Updated: e.opts.Now()})
		})
	}
	// The add-in's choice saved on the message tracks it like a track
	// request: it names the records and lets a private e-mail through.
	// Such a track is kept only once filed (for GET /v1/track): while it
	// fails, the message's own properties stay the truth, so that a choice
	// corrected in the add-in is what the next batch files.
	track, fromAddin, invalid := e.addinTrack(msg, messageID, track)
	failTrack := track
	if fromAddin {
		failTrack = nil
	}
	if invalid != "" {
		return e.emailFailed(ctx, r, messageID, internetMessageID, subject, msg.Categories, nil, errors.New(invalid))
	}
	if track != nil {
		reason, err := e.checkLinks(ctx, track)
		if err != nil {
			return err
		}
		if reason != "" {
			return e.emailFailed(ctx, r, messageID, internetMessageID, subject, msg.Categories, failTrack, errors.New(reason))
		}
	}
	if msg.Private && track == nil {
		// Private e-mails go to Vantagepoint only when the user files them
		// explicitly from the add-in (docs/behaviour.md §4.1).
		counts.Skipped++
		r.b.resolve(TypeEmails, SideVantagepoint, subject)
		return nil
	}
	act, err := e.activityFor(ctx, r, msg, track)
	if err != nil {
		return e.emailFailed(ctx, r, messageID, internetMessageID, subject, msg.Categories, failTrack, err)
	}

	// Announce the create before sending it: after a crash the journal says
	// to look the activity up by its natural key instead of sending it again.
	var journalID int64
	if err := e.store.Update(ctx, func(tx *store.Tx) error {
		var err error
		journalID, err = tx.AddJournal(store.JournalEntry{Type: TypeEmails, Op: "create", Key: internetMessageID,
			Payload: messageID, Created: e.opts.Now()})
		if err != nil {
			return err
		}
		return tx.PutEmail(store.Email{InternetMessageID: internetMessageID, MessageID: messageID, State: store.EmailPending, Updated: e.opts.Now()})
	}); err != nil {
		return err
	}
	if err := e.step("emails:create:journaled"); err != nil {
		return err
	}
	created, err := e.vp.CreateActivity(ctx, act)
	if err != nil {
		if errors.Is(err, ErrAuthRejected) {
			return fmt.Errorf("create the activity for %q: %w", subject, err)
		}
		ambiguous := errors.Is(err, ErrUnavailable) || ctx.Err() != nil
		if !ambiguous {
			// The server refused it: nothing was created, so forget the
			// journal entry and retry from scratch next batch.
			if derr := e.store.Update(ctx, func(tx *store.Tx) error { return tx.DeleteJournal(journalID) }); derr != nil {
				return derr
			}
			if track == nil || track.Contact == "" {
				// Perhaps the contact the index linked was deleted.
				e.checkLinkedContact(ctx, act.ContactID, err)
			}
		}
		// When ambiguous the journal stays: the next batch looks the
		// activity up before creating it again.
		return e.emailFailed(ctx, r, messageID, internetMessageID, subject, msg.Categories, failTrack, fmt.Errorf("create the activity: %w", err))
	}
	if err := e.step("emails:create:sent"); err != nil {
		return err
	}
	if err := e.store.Update(ctx, func(tx *store.Tx) error {
		if err := tx.DeleteJournal(journalID); err != nil {
			return err
		}
		return e.recordSynced(tx, messageID, internetMessageID, created.ID, track)
	}); err != nil {
		return err
	}
	counts.Created++
	r.b.resolve(TypeEmails, SideVantagepoint, subject)
	e.log.Info("e-mail filed", "activity", created.ID)
	if err := e.step("emails:create:committed"); err != nil {
		return err
	}
	return e.setCategories(ctx, r, messageID, internetMessageID, msg.Categories, true)
}

func (e *Engine) recordSynced(tx *store.Tx, messageID, internetMessageID, activityID string, track *store.Track) error {
	if track != nil {
		track.State, track.ActivityID, track.Reason = store.TrackSynced, activityID, ""
		if err := tx.PutTrack(*track); err != nil {
			return err
		}
	}
	return tx.PutEmail(store.Email{InternetMessageID: internetMessageID, MessageID: messageID, State: store.EmailSynced,
		ActivityID: activityID, Updated: e.opts.Now()})
}

// emailFailed records a failed e-mail: state failed (retried next batch), an
// issue, and the Sync Error category so the user sees it in Outlook.
func (e *Engine) emailFailed(ctx context.Context, r *emailRun, messageID, internetMessageID, subject string, cats []string, track *store.Track, cause error) error {
	if errors.Is(cause, ErrAuthRejected) {
		return cause
	}
	if ctx.Err() != nil {
		return ctx.Err()
	}
	r.b.count(TypeEmails).Failed++
	if subject == "" {
		subject = issueItem("", internetMessageID)
	}
	reason := cause.Error()
	r.b.issue(TypeEmails, SideVantagepoint, subject, reason)
	e.log.Warn("e-mail not filed", "error", reason)
	if err := e.store.Update(ctx, func(tx *store.Tx) error {
		prev, _, err := tx.Email(internetMessageID)
		if err != nil {
			return err
		}
		state := store.EmailFailed
		if prev.State == store.EmailPending {
			// Keep pending when the journal still holds the create.
			if j, err := tx.Journal(); err == nil && journalHas(j, internetMessageID) {
				state = store.EmailPending
			}
		}
		if track != nil {
			track.State, track.Reason = store.TrackFailed, reason
			if err := tx.PutTrack(*track); err != nil {
				return err
			}
		}
		return tx.PutEmail(store.Email{InternetMessageID: internetMessageID, MessageID: messageID, State: state,
			Reason: reason, Attempts: prev.Attempts + 1, Updated: e.opts.Now()})
	}); err != nil {
		return err
	}
	if cats == nil {
		return nil // the message could not even be read: leave it alone
	}
	return e.setCategories(ctx, r, messageID, internetMessageID, cats, false)
}

func journalHas(j []store.JournalEntry, key string) bool {
	for _, x := range j {
		if x.Type == TypeEmails && x.Key == key {
			return true
		}
	}
	return false
}

// setCategories marks a message Synced (or Sync Error) and remembers the
// changeKey of that write as the agent's own.
func (e *Engine) setCategories(ctx context.Context, r *emailRun, messageID, internetMessageID string, cats []string, synced bool) error {
	add, drop := e.opts.SyncedCategory(), e.opts.ErrorCategory()
	if !synced {
		add, drop = drop, add
	}
	want := make([]string, 0, len(cats)+1)
	for _, c := range cats {
		if !strings.EqualFold(c, drop) && !strings.EqualFold(c, add) {
			want = append(want, c)
		}
	}
	want = append(want, add)
	if hasCategory(cats, add) && !hasCategory(cats, drop) {
		return e.store.Update(ctx, func(tx *store.Tx) error { return clearMarks(tx, internetMessageID) })
	}
	ck, err := e.mailbox.SetMessageCategories(ctx, messageID, want)
	if err == nil {
		err = e.step("emails:category:sent")
	}
	if err != nil {
		if errors.Is(err, errKilled) {
			return err
		}
		if errors.Is(err, ErrAuthRejected) {
			return fmt.Errorf("set the category of a message: %w", err)
		}
		if errors.Is(err, ErrNotFound) {
			return nil
		}
		// The activity exists; only the visible mark is missing. Report it
		// so the user knows, and queue the mark for the next batch (the
		// message may never change again to bring it back).
		r.b.issue(TypeEmails, SideMailbox, internetMessageID, fmt.Sprintf("set the %q category: %v", add, err))
		return e.store.Update(ctx, func(tx *store.Tx) error {
			j, err := tx.Journal()
			if err != nil {
				return err
			}
			for _, x := range j {
				if x.Type == TypeEmails && x.Op == "mark" && x.Key == internetMessageID {
					return nil
				}
			}
			_, err = tx.AddJournal(store.JournalEntry{Type: TypeEmails, Op: "mark", Key: internetMessageID, Payload: messageID, Created: e.opts.Now()})
			return err
		})
	}
	r.b.resolve(TypeEmails, SideMailbox, internetMessageID)
	return e.store.Update(ctx, func(tx *store.Tx) error {
		if err := clearMarks(tx, internetMessageID); err != nil {
			return err
		}
		return tx.SetAgentChangeKey(messageID, ck)
	})
}

// clearMarks drops the queued category writes of an e-mail.
func clearMarks(tx *store.Tx, internetMessageID string) error {
	j, err := tx.Journal()
	if err != nil {
		return err
	}
	for _, x := range j {
		if x.Type == TypeEmails && x.Op == "mark" && x.Key == internetMessageID {
			if err := tx.DeleteJournal(x.ID); err != nil {
				return err
			}
		}
	}
	return nil
}

// retryMarks sets the categories whose write failed in an earlier batch,
// from the e-mail's recorded state.
func (e *Engine) retryMarks(ctx context.Context, r *emailRun) error {
	var marks []store.JournalEntry
	if err := e.store.View(ctx, func(tx *store.Tx) error {
		j, err := tx.Journal()
		for _, x := range j {
			if x.Type == TypeEmails && x.Op == "mark" {
				marks = append(marks, x)
			}
		}
		return err
	}); err != nil {
		return err
	}
	for _, m := range marks {
		var st store.Email
		if err := e.store.View(ctx, func(tx *store.Tx) error { var err error; st, _, err = tx.Email(m.Key); return err }); err != nil {
			return err
		}
		msg, err := e.mailbox.Message(ctx, m.Payload)
		if errors.Is(err, ErrNotFound) {
			if err := e.store.Update(ctx, func(tx *store.Tx) error { return clearMarks(tx, m.Key) }); err != nil {
				return err
			}
			r.b.resolve(TypeEmails, SideMailbox, m.Key)
			continue
		}
		if err != nil {
			if errors.Is(err, ErrAuthRejected) {
				return err
			}
			continue // still unreachable: the next batch tries again
		}
		if err := e.setCategories(ctx, r, m.Payload, m.Key, msg.Categories, st.State == store.EmailSynced); err != nil {
			return err
		}
	}
	return nil
}

// issueItem names an e-mail in the issues list: its subject for the user,
// its internetMessageId to tell apart two e-mails with the same subject.
func issueItem(subject, internetMessageID string) string {
	return activitySubject(subject) + " " + internetMessageID
}

// activitySubject is the Subject of an e-mail's activity.
func activitySubject(s string) string {
	if s = strings.TrimSpace(s); s == "" {
		return "(no subject)"
	}
	return s
}

// activityFor builds the activity of a message: docs/behaviour.md §4.1 field by field.
func (e *Engine) activityFor(ctx context.Context, r *emailRun, msg Message, track *store.Track) (Activity, error) {
	when := msg.SentAt
	if when.IsZero() {
		when = msg.ReceivedAt
	}
	when = when.UTC()
	a := Activity{
		Type:      e.opts.EmailType,
		Subject:   activitySubject(msg.Subject),
		StartDate: when,
		EndDate:   when,
		Notes:     activityNotes(msg),
		MessageID: msg.InternetMessageID,
		Owner:     e.opts.Employee,
		Employee:  e.opts.Employee,
		Private:   msg.Private,
	}
	contact, ok, err := e.firstContact(ctx, r, msg.MessageChange)
	if err != nil {
		return Activity{}, err
	}
	if ok {
		a.ContactID, a.ClientID = contact.ID, contact.ClientID
	}
	if track != nil {
		a.WBS1, a.OpportunityID = track.Project, track.Opportunity
		if track.Contact != "" {
			a.ContactID = track.Contact
		}
		if track.Firm != "" {
			a.ClientID = track.Firm
		}
	}
	return a, nil
}

// firstContact is the first correspondent (from, to, cc; not the user)
// whose address is a Vantagepoint contact's e-mail.
func (e *Engine) firstContact(ctx context.Context, r *emailRun, c MessageChange) (Contact, bool, error) {
	idx, _, err := e.contactIndex(ctx)
	if err != nil {
		return Contact{}, false, fmt.Errorf("link e-mails to contacts: %w", err)
	}
	all := append(append([]Address{c.From}, c.To...), c.Cc...)
	for _, a := range all {
		addr := normalizeAddress(a.Address)
		if addr == "" || contains(r.me, addr) {
			continue
		}
		if ct, ok := idx[addr]; ok {
			return ct, true, nil
		}
	}
	return Contact{}, false, nil
}

// activityNotes is the Notes of an e-mail's activity: the body as plain text
// cut at NotesLimit with a visible marker, the attachments, and the line
// naming the e-mail (the activity's natural key).
func activityNotes(msg Message) string {
	body := msg.Body
	if msg.BodyType == BodyHTML || (msg.BodyType == "" && looksLikeHTML(body)) {
		body = htmlToText(body)
	}
	body = strings.TrimSpace(strings.ReplaceAll(body, "\r\n", "\n"))
	var b strings.Builder
	if len(body) > NotesLimit {
		b.WriteString(truncateUTF8(body, NotesLimit))
		fmt.Fprintf(&b, "\n\n[… message truncated by vpconnect: %s of %s shown …]", humanSize(NotesLimit), humanSize(int64(len(body))))
	} else {
		b.WriteString(body)
	}
	if len(msg.Attachments) > 0 {
		b.WriteString("\n\nAttachments:")
		for _, a := range msg.Attachments {
			fmt.Fprintf(&b, "\n- %s (%s)", a.Name, humanSize(a.Size))
		}
	}
	b.WriteString("\n\n")
	b.WriteString(messageRef(msg.InternetMessageID))
	return strings.TrimLeft(b.String(), "\n")
}

func looksLikeHTML(s string) bool {
	t := strings.ToLower(strings.TrimSpace(s))
	return strings.HasPrefix(t, "<html") || strings.HasPrefix(t, "<!doctype html") || strings.Contains(t, "<body")
}

func humanSize(n int64) string {
	switch {
	case n >= 1<<20:
		return fmt.Sprintf("%.1f MB", float64(n)/(1<<20))
	case n >= 1<<10:
		return fmt.Sprintf("%d KB", (n+512)>>10)
	default:
		return fmt.Sprintf("%d bytes", n)
	}
}

// recoverEmailJournal settles the creates a crash left unknown: an activity
// carrying the e-mail's natural key means the create happened.
func (e *Engine) recoverEmailJournal(ctx context.Context, r *emailRun) error {
	var entries []store.JournalEntry
	if err := e.store.View(ctx, func(tx *store.Tx) error {
		var err error
		entries, err = tx.Journal()
		return err
	}); err != nil {
		return err
	}
	for _, j := range entries {
		if j.Type != TypeEmails || j.Op != "create" {
			continue
		}
		found, err := e.vp.FindActivities(ctx, ActivityQuery{Type: e.opts.EmailType, Employee: e.opts.Employee, MessageID: j.Key})
		if err != nil {
			if errors.Is(err, ErrAuthRejected) {
				return fmt.Errorf("look up the activity of an interrupted create: %w", err)
			}
			// Leave the entry for the next batch; never create blindly.
			r.b.issue(TypeEmails, SideVantagepoint, j.Key, fmt.Sprintf("could not check whether an interrupted create happened: %v", err))
			r.handled[j.Key] = true
			continue
		}
		messageID := j.Payload
		if err := e.store.Update(ctx, func(tx *store.Tx) error {
			if err := tx.DeleteJournal(j.ID); err != nil {
				return err
			}
			track, tracked, err := tx.Track(messageID)
			if err != nil {
				return err
			}
			var tr *store.Track
			if tracked {
				tr = &track
			}
			if len(found) > 0 {
				return e.recordSynced(tx, messageID, j.Key, found[0].ID, tr)
			}
			// It never arrived: retry it in this batch.
			prev, _, err := tx.Email(j.Key)
			if err != nil {
				return err
			}
			prev.InternetMessageID, prev.MessageID, prev.State = j.Key, messageID, store.EmailFailed
			prev.Updated = e.opts.Now()
			return tx.PutEmail(prev)
		}); err != nil {
			return err
		}
		if len(found) > 0 {
			r.handled[j.Key] = true
			r.b.count(TypeEmails).Created++
			msg, err := e.mailbox.Message(ctx, messageID)
			if err == nil {
				r.b.resolve(TypeEmails, SideVantagepoint, issueItem(msg.Subject, j.Key))
				if err := e.setCategories(ctx, r, messageID, j.Key, msg.Categories, true); err != nil {
					return err
				}
			} else if errors.Is(err, ErrAuthRejected) {
				return err
			}
		}
	}
	return nil
}

// retryEmails retries the e-mails that failed in earlier batches and the
// track requests no delta round brought (a message tracked before the agent
// saw it, or in a folder it does not scan).
func (e *Engine) retryEmails(ctx context.Context, r *emailRun) error {
	var failed []store.Email
	var tracks []store.Track
	if err := e.store.View(ctx, func(tx *store.Tx) error {
		var err error
		if failed, err = tx.EmailsIn(store.EmailFailed); err != nil {
			return err
		}
		tracks, err = tx.QueuedTracks()
		return err
	}); err != nil {
		return err
	}
	for _, t := range tracks {
		if err := ctx.Err(); err != nil {
			return err
		}
		msg, err := e.mailbox.Message(ctx, t.MessageID)
		if errors.Is(err, ErrNotFound) {
			t.State, t.Reason = store.TrackFailed, "the message no longer exists"
			if err := e.store.Update(ctx, func(tx *store.Tx) error { return tx.PutTrack(t) }); err != nil {
				return err
			}
			continue
		}
		if err != nil {
			if errors.Is(err, ErrAuthRejected) {
				return err
			}
			r.b.count(TypeEmails).Failed++
			r.b.issue(TypeEmails, SideMailbox, t.MessageID, fmt.Sprintf("read the tracked message: %v", err))
			continue
		}
		imid := msg.InternetMessageID
		if imid == "" {
			imid = "id:" + msg.ID
		}
		if r.handled[imid] {
			continue
		}
		var state store.Email
		var known bool
		if err := e.store.View(ctx, func(tx *store.Tx) error {
			var err error
			state, known, err = tx.Email(imid)
			return err
		}); err != nil {
			return err
		}
		if known && state.State == store.EmailSynced {
			// Already filed (by its category): the track adds nothing new
			// that an activity, a business record, should take later.
			tr := t
			if err := e.store.Update(ctx, func(tx *store.Tx) error {
				tr.State, tr.ActivityID = store.TrackSynced, state.ActivityID
				return tx.PutTrack(tr)
			}); err != nil {
				return err
			}
			continue
		}
		tr := t
		if err := e.fileEmail(ctx, r, t.MessageID, imid, &tr); err != nil {
			return err
		}
	}
	for _, f := range failed {
		if err := ctx.Err(); err != nil {
			return err
		}
		if r.handled[f.InternetMessageID] {
			continue
		}
		if err := e.fileEmail(ctx, r, f.MessageID, f.InternetMessageID, nil); err != nil {
			return err
		}
	}
	return nil
}

// TrackEmail queues the add-in's request to file a message; the next batch
// (which the caller starts at once) files it.
func (e *Engine) TrackEmail(ctx context.Context, t store.Track) error {
	if t.MessageID == "" {
		return fmt.Errorf("track an e-mail: %w: no message id", ErrInvalid)
	}
	t.State, t.Reason, t.ActivityID = store.TrackQueued, "", ""
	t.Requested = e.opts.Now()
	return e.store.Update(ctx, func(tx *store.Tx) error { return tx.PutTrack(t) })
}

// UntrackEmail withdraws a track request that has not been filed: the
// e-mail is no longer filed for it (it still is when it carries the
// category). One already filed is returned as it is (State TrackSynced,
// with its activity): an activity is a business record and stays. A batch
// that read the request just before may still file it; its status then
// says where. found is false when the message was never tracked.
func (e *Engine) UntrackEmail(ctx context.Context, messageID string) (t store.Track, found bool, err error) {
	err = e.store.Update(ctx, func(tx *store.Tx) error {
		if t, found, err = tx.Track(messageID); err != nil || !found || t.State == store.TrackSynced {
			return err
		}
		return tx.DeleteTrack(messageID)
	})
	return t, found, err
}

// TrackStatus reports where a track request stands.
func (e *Engine) TrackStatus(ctx context.Context, messageID string) (store.Track, bool, error) {
	var t store.Track
	var ok bool
	err := e.store.View(ctx, func(tx *store.Tx) error {
		var err error
		t, ok, err = tx.Track(messageID)
		return err
	})
	return t, ok, err
}

// addinTrack decides the track of a message read in full: an explicit track
// request (POST /v1/track) comes first, and takes the records the add-in
// saved on the message when it names none itself or failed before; without
// one, the add-in's
// saved choice on a message carrying the category is a track of its own
// (fromAddin). invalid says why a saved choice cannot be used.
func (e *Engine) addinTrack(msg Message, messageID string, track *store.Track) (_ *store.Track, fromAddin bool, invalid string) {
	a := msg.Addin
	if a == nil || !hasCategory(msg.Categories, e.opts.Category) {
		return track, false, ""
	}
	if a.Invalid != "" {
		if track != nil {
			return track, false, "" // the request names what to do
		}
		return nil, false, a.Invalid + "; choose the records again in the Outlook add-in"
	}
	if track != nil {
		// The add-in saves its choice on the message whenever it sends a
		// request, so the two agree, unless the user corrected the choice
		// in the add-in since a request that failed: then the message's is
		// the newer one.
		if trackLinks(*track).IsZero() || (track.State == store.TrackFailed && !a.Links.IsZero()) {
			t := *track
			t.Project, t.Opportunity, t.Contact, t.Firm = a.Project, a.Opportunity, a.Contact, a.Firm
			return &t, false, ""
		}
		return track, false, ""
	}
	return &store.Track{MessageID: messageID, Project: a.Project, Opportunity: a.Opportunity, Contact: a.Contact,
		Firm: a.Firm, State: store.TrackQueued, Requested: e.opts.Now()}, true, ""
}

func trackLinks(t store.Track) Links {
	return Links{Project: t.Project, Opportunity: t.Opportunity, Contact: t.Contact, Firm: t.Firm}
}

// checkLinks confirms that the records a track names exist in Vantagepoint,
// when the Vantagepoint side can tell (LinkChecker). reason says which one
// does not, in words for the issues list; err is returned only when the
// batch cannot go on (credentials refused).
func (e *Engine) checkLinks(ctx context.Context, t *store.Track) (reason string, err error) {
	lc, ok := e.vp.(LinkChecker)
	if !ok {
		return "", nil
	}
	for _, l := range []struct {
		kind LinkKind
		id   string
	}{{LinkProject, t.Project}, {LinkOpportunity, t.Opportunity}, {LinkContact, t.Contact}, {LinkFirm, t.Firm}} {
		if l.id == "" {
			continue
		}
		found, err := lc.RecordExists(ctx, l.kind, l.id)
		if errors.Is(err, ErrAuthRejected) {
			return "", fmt.Errorf("check the records chosen for an e-mail: %w", err)
		}
		if err != nil {
			return fmt.Sprintf("could not check the %s %q chosen for this e-mail: %v", l.kind, l.id, err), nil
		}
		if !found {
			return fmt.Sprintf("the %s %q chosen for this e-mail does not exist in Vantagepoint; choose another in the Outlook add-in", l.kind, l.id), nil
		}
	}
	return "", nil
}
