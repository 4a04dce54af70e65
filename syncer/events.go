package syncer

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"vpconnect/syncer/store"
)

// eventKind syncs the default calendar with the user's Vantagepoint
// meetings (docs/behaviour.md §4.3).
type eventKind struct {
	e          *Engine
	mb         MailboxCalendar
	reader     MailboxItemReader
	vp         VantagepointRecords
	start, end time.Time // the window, whole UTC days
	// masters are the series masters read this batch, by id: an
	// occurrence in calendarView delta carries no subject and no
	// categories (microsoft-graph-docs issue 7632), its master does.
	masters map[string]MailboxEvent
}

// completeOccurrence gives a stripped occurrence or exception its series'
// subject and categories, reading each series master once per batch. A
// master that cannot be read leaves it as it is (not tagged: not synced,
// and reported by the next batch that can read it).
func (k *eventKind) completeOccurrence(ctx context.Context, ev MailboxEvent) (MailboxEvent, error) {
	if ev.Removed || ev.SeriesMasterID == "" || ev.Subject != "" || len(ev.Categories) > 0 || k.reader == nil {
		return ev, nil
	}
	m, ok := k.masters[ev.SeriesMasterID]
	if !ok {
		var err error
		m, err = k.reader.Event(ctx, ev.SeriesMasterID)
		switch {
		case errors.Is(err, ErrNotFound):
		case err != nil:
			return ev, fmt.Errorf("read the series of a recurring meeting: %w", err)
		}
		if k.masters == nil {
			k.masters = map[string]MailboxEvent{}
		}
		k.masters[ev.SeriesMasterID] = m
	}
	ev.Subject, ev.Categories = m.Subject, m.Categories
	return ev, nil
}

func (k *eventKind) name() string { return TypeEvents }
func (k *eventKind) noun() string { return "meeting" }

func newEventKind(e *Engine) *eventKind {
	k := &eventKind{e: e}
	k.mb, _ = e.mailbox.(MailboxCalendar)
	k.reader, _ = e.mailbox.(MailboxItemReader)
	k.vp, _ = e.vp.(VantagepointRecords)
	today := e.opts.Now().UTC().Truncate(24 * time.Hour)
	k.start = today.AddDate(0, 0, -14)
	k.end = today.AddDate(0, 0, e.opts.DaysAhead+1)
	return k
}

func (k *eventKind) ready(ctx context.Context) (bool, string, error) {
	if k.mb == nil || k.vp == nil || k.reader == nil {
		return false, "the services do not support calendars", nil
	}
	var folder string
	if err := k.e.store.View(ctx, func(tx *store.Tx) error { var err error; folder, err = tx.Meta(metaContactFolder); return err }); err != nil {
		return false, "", err
	}
	if folder == "" {
		return false, "the mailbox is not initialized", nil
	}
	return true, "", nil
}

// mailboxCursorKey carries the window: a calendarView delta link is only
// valid for the window it was made for.
func (k *eventKind) mailboxCursorKey() string {
	return "events:" + k.start.Format("2006-01-02") + ":" + k.end.Format("2006-01-02")
}

// attendeeMarker starts the block of an agent-made Outlook event's body
// that names the meeting's Vantagepoint contacts (docs/behaviour.md §4.3: events the agent
// creates carry no attendees, which would send invitations).
const attendeeMarker = "\n\n[Vantagepoint contact: "

func stripAttendees(body string) string {
	if i := strings.LastIndex(body, attendeeMarker); i >= 0 && strings.HasSuffix(strings.TrimSpace(body), "]") {
		return body[:i]
	}
	if strings.HasPrefix(body, attendeeMarker[2:]) && strings.HasSuffix(strings.TrimSpace(body), "]") {
		return ""
	}
	return body
}

func eventTimes(start, end time.Time, allDay bool) (string, string) {
	if allDay {
		return start.UTC().Format("2006-01-02"), end.UTC().Format("2006-01-02")
	}
	return start.UTC().Truncate(time.Second).Format(time.RFC3339), end.UTC().Truncate(time.Second).Format(time.RFC3339)
}

func yesNo(b bool) string {
	if b {
		return "Y"
	}
	return "N"
}

func eventLabel(subject string, start time.Time) string {
	return fmt.Sprintf("%s (%s)", activitySubject(subject), start.UTC().Format("2006-01-02 15:04"))
}

func (k *eventKind) inWindow(start, end time.Time) bool {
	return end.After(k.start) && start.Before(k.end)
}

func (k *eventKind) fromMailbox(ev MailboxEvent) item {
	if ev.Removed {
		return item{id: ev.ID, removed: true}
	}
	s, e := eventTimes(ev.Start, ev.End, ev.AllDay)
	body := ev.Body
	if ev.BodyType == BodyHTML {
		body = htmlToText(body)
	}
	f := map[string]string{"subject": norm(ev.Subject), "start": s, "end": e, "allDay": yesNo(ev.AllDay),
		"location": norm(ev.Location), "notes": norm(stripAttendees(norm(body)))}
	it := item{id: ev.ID, modified: ev.LastModified, fields: f, label: eventLabel(ev.Subject, ev.Start), raw: ev, version: ev.ChangeKey}
	if len(ev.Attendees) > 0 {
		// Any change but its categories would send every attendee an
		// update (Graph, "Update event"): the agent never writes it.
		it.readOnly = "it has attendees"
	}
	me, _ := k.e.mailboxUser(context.Background())
	switch {
	case ev.SeriesMasterID != "" || ev.Type == "seriesMaster" || ev.Type == "occurrence" || ev.Type == "exception":
		it.outOfScope = "recurring"
		if hasCategory(ev.Categories, k.e.opts.Category) {
			master := ev.SeriesMasterID
			if master == "" {
				master = ev.ID
			}
			it.issue, it.issueKey = "recurring meetings are not synced", "series:"+master
			it.label = activitySubject(ev.Subject) + " (recurring)"
		}
	case !hasCategory(ev.Categories, k.e.opts.Category):
		it.outOfScope = "not tagged"
	case ev.Private:
		it.outOfScope = "private"
	case ev.IsCancelled:
		it.outOfScope = "cancelled"
	case !k.inWindow(ev.Start, ev.End):
		it.outOfScope = "outside the window"
	case !ev.IsOrganizer && !attends(ev.Attendees, me.Addresses()):
		it.outOfScope = "the user neither organizes nor attends it"
	}
	return it
}

func attends(attendees []Address, me []string) bool {
	if len(me) == 0 {
		return true // the user is unknown here: do not exclude
	}
	for _, a := range attendees {
		if contains(me, normalizeAddress(a.Address)) {
			return true
		}
	}
	return false
}

func (k *eventKind) fromVP(a Activity) item {
	s, e := eventTimes(a.StartDate, a.EndDate, a.AllDay)
	f := map[string]string{"subject": norm(a.Subject), "start": s, "end": e, "allDay": yesNo(a.AllDay),
		"location": norm(a.Location), "notes": norm(a.Notes)}
	it := item{id: a.ID, modified: a.ModDate, fields: f, label: eventLabel(a.Subject, a.StartDate), raw: a}
	me := k.e.opts.Employee
	switch {
	case a.Private:
		it.outOfScope = "private"
	case !containsFold(k.e.opts.CalendarTypes, a.Type):
		it.outOfScope = "not a calendar type"
	case !strings.EqualFold(a.Employee, me) && !strings.EqualFold(a.Owner, me):
		it.outOfScope = "another employee's"
	case !k.inWindow(a.StartDate, a.EndDate):
		it.outOfScope = "outside the window"
	}
	return it
}

func containsFold(list []string, s string) bool {
	for _, v := range list {
		if strings.EqualFold(v, s) {
			return true
		}
	}
	return false
}

func (k *eventKind) mailboxRound(ctx context.Context, cursor string, fn func(item) error) (string, error) {
	if _, err := k.e.mailboxUser(ctx); err != nil {
		return "", err
	}
	return k.mb.EventChanges(ctx, k.start, k.end, cursor, func(evs []MailboxEvent) error {
		for _, ev := range evs {
			ev, err := k.completeOccurrence(ctx, ev)
			if err != nil {
				return err
			}
			if err := fn(k.fromMailbox(ev)); err != nil {
				return err
			}
		}
		return nil
	})
}

func (k *eventKind) sides() [2]side { return [2]side{eventMailbox{k}, eventVP{k}} }

// eventMailbox is the mailbox side of events: the default calendar,
// within the window.
type eventMailbox struct{ *eventKind }

func (s eventMailbox) list(ctx context.Context) (listing, error) {
	return s.e.deltaListing(ctx, s.name(), s.mailboxCursorKey(), s.mailboxRound)
}

func (s eventMailbox) get(ctx context.Context, id string) (item, bool, error) {
	ev, found, err := lookup(s.reader.Event(ctx, id))
	if !found {
		return item{}, false, err
	}
	return s.fromMailbox(ev), true, nil
}

// eventVP is the Vantagepoint side of events: the user's activities of
// the calendar types, within the window.
type eventVP struct{ *eventKind }

func (s eventVP) list(ctx context.Context) (listing, error) {
	return s.e.watermarkListing(ctx, s.name(), s.listSince)
}

func (s eventVP) listAll(ctx context.Context, fn func(item) error) error {
	return s.listSince(ctx, time.Time{}, fn)
}

func (k *eventKind) listSince(ctx context.Context, since time.Time, fn func(item) error) error {
	q := ActivityListQuery{Employee: k.e.opts.Employee, Types: k.e.opts.CalendarTypes, From: k.start.AddDate(0, 0, -1), To: k.end, ModifiedSince: since}
	return k.vp.ListActivities(ctx, q, func(as []Activity) error {
		for _, a := range as {
			if err := fn(k.fromVP(a)); err != nil {
				return err
			}
		}
		return nil
	})
}

func (s eventVP) get(ctx context.Context, id string) (item, bool, error) {
	a, found, err := lookup(s.vp.Activity(ctx, id))
	if !found {
		return item{}, false, err
	}
	return s.fromVP(a), true, nil
}

func parseEventTimes(f map[string]string) (start, end time.Time, allDay bool) {
	allDay = f["allDay"] == "Y"
	layout := time.RFC3339
	if allDay {
		layout = "2006-01-02"
	}
	start, _ = time.Parse(layout, f["start"])
	end, _ = time.Parse(layout, f["end"])
	return start.UTC(), end.UTC(), allDay
}

// applyFieldsToVP writes an Outlook event's mapped fields onto an
// activity.
func applyFieldsToVP(a *Activity, f map[string]string) {
	a.Subject = activitySubject(f["subject"])
	a.StartDate, a.EndDate, a.AllDay = parseEventTimes(f)
	a.Location, a.Notes = f["location"], f["notes"]
}

// applyToVP writes an Outlook event's mapped fields onto an activity; the
// first attendee who is a Vantagepoint contact becomes its contact.
func (k *eventKind) applyToVP(ctx context.Context, a *Activity, src item) error {
	applyFieldsToVP(a, src.fields)
	if ev, ok := src.raw.(MailboxEvent); ok && len(ev.Attendees) > 0 {
		idx, _, err := k.e.contactIndex(ctx)
		if err != nil {
			return err
		}
		me, _ := k.e.mailboxUser(ctx)
		for _, at := range append([]Address{ev.Organizer}, ev.Attendees...) {
			addr := normalizeAddress(at.Address)
			if addr == "" || contains(me.Addresses(), addr) {
				continue
			}
			if c, ok := idx[addr]; ok {
				a.ContactID, a.ClientID = c.ID, c.ClientID
				break
			}
		}
	}
	return nil
}

func (s eventVP) create(ctx context.Context, src item) (item, error) {
	k := s.eventKind
	a := Activity{Type: k.e.opts.CalendarTypes[0], Owner: k.e.opts.Employee, Employee: k.e.opts.Employee}
	if err := k.applyToVP(ctx, &a, src); err != nil {
		return item{}, err
	}
	got, err := k.e.vp.CreateActivity(ctx, a)
	if err != nil {
		k.e.checkLinkedContact(ctx, a.ContactID, err)
		return item{}, err
	}
	return k.fromVP(got), nil
}

func (s eventVP) update(ctx context.Context, vpID string, base version, src item) (item, error) {
	k := s.eventKind
	cur, err := k.vp.Activity(ctx, vpID)
	if err != nil {
		return item{}, err
	}
	was := k.fromVP(cur)
	if done, err := checkBase(was, base, src, "Vantagepoint activity "+vpID); done || err != nil {
		return was, err
	}
	if err := k.applyToVP(ctx, &cur, src); err != nil {
		return item{}, err
	}
	got, err := k.vp.UpdateActivity(ctx, cur)
	if err != nil {
		k.e.checkLinkedContact(ctx, cur.ContactID, err)
		return item{}, err
	}
	if got.ID == "" {
		got = cur
	}
	return k.fromVP(got), nil
}

func (s eventVP) remove(ctx context.Context, id string) error {
	return s.vp.DeleteActivity(ctx, id)
}

// mailboxEventFields is the Outlook side of an activity's mapped fields.
func (k *eventKind) mailboxEventFields(f map[string]string) MailboxEvent {
	start, end, allDay := parseEventTimes(f)
	return MailboxEvent{Subject: f["subject"], Start: start, End: end, AllDay: allDay, Location: f["location"],
		Body: f["notes"], BodyType: BodyText, Categories: []string{k.e.opts.Category}}
}

func (s eventVP) asCreated(_ context.Context, src item) (item, error) {
	a := Activity{Type: s.e.opts.CalendarTypes[0], Owner: s.e.opts.Employee, Employee: s.e.opts.Employee}
	applyFieldsToVP(&a, src.fields)
	return s.fromVP(a), nil
}

// asCreated leaves out the contact line of the body, which is not
// compared.
func (s eventMailbox) asCreated(_ context.Context, src item) (item, error) {
	return s.fromMailbox(s.mailboxEventFields(src.fields)), nil
}

// toMailboxEvent makes the Outlook side of an activity: the category, no
// attendees, the contact's name in the body.
func (k *eventKind) toMailboxEvent(ctx context.Context, src item) (MailboxEvent, error) {
	ev := k.mailboxEventFields(src.fields)
	if a, ok := src.raw.(Activity); ok && a.ContactID != "" {
		_, byID, err := k.e.contactIndex(ctx)
		if err != nil {
			return MailboxEvent{}, err
		}
		if c, ok := byID[a.ContactID]; ok {
			ev.Body += attendeeMarker + contactLabel(c.FirstName, c.LastName, c.Email) + "]"
		}
	}
	return ev, nil
}

func (s eventMailbox) create(ctx context.Context, src item) (item, error) {
	k := s.eventKind
	ev, err := k.toMailboxEvent(ctx, src)
	if err != nil {
		return item{}, err
	}
	ev.VPID = src.id
	got, err := k.mb.CreateEvent(ctx, ev)
	if err != nil {
		return item{}, err
	}
	return k.fromMailbox(got), nil
}

func (s eventMailbox) update(ctx context.Context, id string, base version, src item) (item, error) {
	return updateBasedOn(ctx, s.noun(), s.get, s.put, id, base, src)
}

// put writes src onto the Outlook event mbID if its changeKey is still
// version ("" writes unconditionally). A meeting with attendees is not
// written (errMailboxReadOnly).
func (s eventMailbox) put(ctx context.Context, mbID, version string, src item) (item, error) {
	k := s.eventKind
	if cur, found, err := s.get(ctx, mbID); err != nil {
		return item{}, fmt.Errorf("read the Outlook meeting before changing it: %w", err)
	} else if found && cur.readOnly != "" {
		return cur, errMailboxReadOnly
	}
	ev, err := k.toMailboxEvent(ctx, src)
	if err != nil {
		return item{}, err
	}
	ev.ID, ev.ChangeKey = mbID, version
	ev.Categories = nil // an update leaves the user's categories alone
	got, err := k.mb.UpdateEvent(ctx, ev)
	if err != nil {
		return item{}, err
	}
	return k.fromMailbox(got), nil
}

func (s eventMailbox) remove(ctx context.Context, id string) error {
	if cur, found, err := s.get(ctx, id); err != nil {
		return fmt.Errorf("read the Outlook meeting before deleting it: %w", err)
	} else if !found {
		return ErrNotFound
	} else if cur.readOnly != "" {
		return errMailboxReadOnly
	}
	return s.mb.DeleteEvent(ctx, id)
}

// findCopy looks for the activity by its subject and start, and picks
// the one the create made.
func (s eventVP) findCopy(ctx context.Context, src item, taken func(string) bool) (item, bool, error) {
	start, _, _ := parseEventTimes(src.fields)
	find := func(ctx context.Context, fn func(item) error) error {
		found, err := s.e.vp.FindActivities(ctx, ActivityQuery{Type: s.e.opts.CalendarTypes[0], Subject: activitySubject(src.fields["subject"]),
			StartDate: start, Employee: s.e.opts.Employee})
		for _, a := range found {
			if err := fn(s.fromVP(a)); err != nil {
				return err
			}
		}
		return err
	}
	return findRecovered(ctx, s.matchKeys, src, find, taken)
}

// findCopy finds the event a create made by the record id stamped on it.
func (s eventMailbox) findCopy(ctx context.Context, src item, _ func(string) bool) (item, bool, error) {
	ev, ok, err := s.mb.FindEventByVPID(ctx, src.id)
	if err != nil || !ok {
		return item{}, false, err
	}
	return s.fromMailbox(ev), true, nil
}

// matchKeys: subject (trimmed, case-insensitive) + start + end (docs/behaviour.md §4.3).
func (k *eventKind) matchKeys(it item) []string {
	f := it.fields
	return []string{"meeting:" + strings.ToLower(f["subject"]) + " at " + f["start"] + "–" + f["end"]}
}
