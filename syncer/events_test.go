package syncer

import (
	"context"
	"strings"
	"testing"
	"time"

	"vpconnect/syncer/store"
)

// Calendar both ways: each rule of docs/behaviour.md §4.3.

func meeting(subject string, start time.Time) Activity {
	return Activity{Type: "Meeting", Subject: subject, StartDate: start, EndDate: start.Add(time.Hour), Location: "Room 4",
		Notes: "Agenda: " + subject, Owner: "E001", Employee: "E001"}
}

func (m *fakeMailbox) putEventLocked(ev MailboxEvent) MailboxEvent {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.putEvent(ev)
}

func (e *env) outlookMeeting(subject string, start time.Time, mutate ...func(*MailboxEvent)) MailboxEvent {
	ev := MailboxEvent{Subject: subject, Start: start, End: start.Add(time.Hour), Location: "Teams", Body: "Notes of " + subject,
		BodyType: BodyText, Categories: []string{"Vantagepoint"}, IsOrganizer: true, Organizer: Address{Address: "dana@contoso.com"},
		Type: "singleInstance"}
	for _, m := range mutate {
		m(&ev)
	}
	return e.mb.putEventLocked(ev)
}

func (e *env) editOutlookEvent(id string, fn func(*MailboxEvent)) {
	e.mb.mu.Lock()
	defer e.mb.mu.Unlock()
	next := e.mb.tw().events[id].MailboxEvent
	fn(&next)
	e.mb.putEvent(next)
}

func meetingsNamed(e *env, subject string) []Activity {
	var out []Activity
	for _, a := range e.vp.all() {
		if a.Subject == subject {
			out = append(out, a)
		}
	}
	return out
}

func eventsNamed(e *env, subject string) []MailboxEvent {
	var out []MailboxEvent
	for _, ev := range e.mb.allEvents() {
		if ev.Subject == subject {
			out = append(out, ev)
		}
	}
	return out
}

func TestTaggedOutlookMeetingBecomesAVantagepointMeeting(t *testing.T) {
	e := newEnv(t)
	start := now.Add(26 * time.Hour).Truncate(time.Hour)
	e.outlookMeeting("Design review", start, func(ev *MailboxEvent) {
		ev.Attendees = []Address{{Address: "dana@contoso.com"}, {Address: "nobody@x.example"}, {Address: "bob@northwind.example"}, {Address: "alice@fabrikam.com"}}
	})
	e.outlookMeeting("Untagged", start, func(ev *MailboxEvent) { ev.Categories = nil })
	e.outlookMeeting("Private", start, func(ev *MailboxEvent) { ev.Private = true })
	e.outlookMeeting("Too far", now.AddDate(0, 0, 200))
	e.outlookMeeting("Someone else's", start, func(ev *MailboxEvent) {
		ev.IsOrganizer = false
		ev.Attendees = []Address{{Address: "carl@x.example"}}
	})
	b := e.run()
	got := meetingsNamed(e, "Design review")
	if len(got) != 1 {
		t.Fatalf("activities = %+v", e.vp.all())
	}
	a := got[0]
	if a.Type != "Meeting" || !a.StartDate.Equal(start) || !a.EndDate.Equal(start.Add(time.Hour)) || a.Location != "Teams" ||
		a.Notes != "Notes of Design review" || a.Employee != "E001" || a.Owner != "E001" || a.ContactID != "C-BOB" || a.ClientID != "F-NORTHWIND" {
		t.Errorf("activity = %+v", a)
	}
	if n := len(e.vp.all()); n != 1 {
		t.Errorf("%d activities; untagged, private, out-of-window and others' meetings must not sync", n)
	}
	if b.Counts[TypeEvents].Created != 1 {
		t.Errorf("counts = %+v", b.Counts[TypeEvents])
	}
	e.quiet()
}

func TestVantagepointMeetingAppearsInOutlookWithoutAttendees(t *testing.T) {
	e := newEnv(t)
	m := meeting("Site walk", now.Add(72*time.Hour))
	m.ContactID = "C-ALICE"
	e.vp.addActivity(m)
	priv := meeting("Private lunch", now.Add(72*time.Hour))
	priv.Private = true
	e.vp.addActivity(priv)
	call := meeting("Phone call", now.Add(72*time.Hour))
	call.Type = "Phone Call"
	e.vp.addActivity(call)
	e.run()
	evs := e.mb.allEvents()
	if len(evs) != 1 {
		t.Fatalf("Outlook events = %+v", evs)
	}
	ev := evs[0]
	if ev.Subject != "Site walk" || len(ev.Attendees) != 0 || !hasCategory(ev.Categories, "Vantagepoint") || ev.VPID == "" ||
		!strings.Contains(ev.Body, "Agenda: Site walk") || !strings.Contains(ev.Body, "Alice Ng") {
		t.Errorf("Outlook event = %+v", ev)
	}
	e.quiet()
	// Editing the body in Outlook keeps the contact line out of Notes.
	e.editOutlookEvent(ev.ID, func(x *MailboxEvent) { x.Location = "Gate 3" })
	e.run()
	a := meetingsNamed(e, "Site walk")[0]
	if a.Location != "Gate 3" || strings.Contains(a.Notes, "Alice") {
		t.Errorf("activity after the Outlook edit = %+v", a)
	}
	e.quiet()
}

func TestRecurringSeriesIsOneIssueNotOnePerOccurrence(t *testing.T) {
	e := newEnv(t)
	for i := range 5 {
		e.outlookMeeting("Weekly sync", now.AddDate(0, 0, 7*i+1), func(ev *MailboxEvent) {
			ev.Type, ev.SeriesMasterID = "occurrence", "SERIES-1"
		})
	}
	b := e.run()
	if n := len(e.vp.all()); n != 0 {
		t.Fatalf("%d activities from a recurring series", n)
	}
	var n int
	for _, i := range b.Issues {
		if strings.Contains(i.Reason, "recurring meetings are not synced") {
			n++
		}
	}
	if n != 1 {
		t.Errorf("%d recurring issues, want 1: %+v", n, b.Issues)
	}
}

func TestFirstSyncPairsTheSameMeetingOnBothSides(t *testing.T) {
	e := newEnv(t)
	start := now.Add(30 * time.Hour).Truncate(time.Hour)
	e.vp.addActivity(meeting("Budget review", start))
	e.outlookMeeting("  budget REVIEW ", start)
	e.run()
	if len(e.vp.all()) != 1 || len(e.mb.allEvents()) != 1 {
		t.Fatalf("after matching: %d activities, %d events", len(e.vp.all()), len(e.mb.allEvents()))
	}
	e.quiet()
}

func TestMeetingTimeChangesFlowBothWays(t *testing.T) {
	e := newEnv(t)
	start := now.Add(30 * time.Hour).Truncate(time.Hour)
	a := e.vp.addActivity(meeting("Planning", start))
	e.run()
	ev := eventsNamed(e, "Planning")[0]
	e.editOutlookEvent(ev.ID, func(x *MailboxEvent) { x.Start, x.End = start.Add(time.Hour), start.Add(3*time.Hour) })
	e.run()
	got := meetingsNamed(e, "Planning")[0]
	if !got.StartDate.Equal(start.Add(time.Hour)) || !got.EndDate.Equal(start.Add(3*time.Hour)) {
		t.Fatalf("activity after moving the Outlook event: %v–%v", got.StartDate, got.EndDate)
	}
	e.vp.editActivity(a.ID, func(x *Activity) { x.Subject = "Planning (moved)"; x.AllDay = true })
	e.run()
	evs := eventsNamed(e, "Planning (moved)")
	if len(evs) != 1 || !evs[0].AllDay {
		t.Fatalf("Outlook after the Vantagepoint edit: %+v", e.mb.allEvents())
	}
	e.quiet()
}

func TestMeetingDeletes(t *testing.T) {
	e := newEnv(t)
	start := now.Add(30 * time.Hour).Truncate(time.Hour)
	fromVP := e.vp.addActivity(meeting("From VP", start))
	fromOutlook := e.outlookMeeting("From Outlook", start)
	e.run()
	// The Vantagepoint original goes: its Outlook copy goes too.
	e.vp.removeActivity(fromVP.ID)
	// The Outlook copy of the Outlook original's activity goes: unlink only.
	e.vp.removeActivity(meetingsNamed(e, "From Outlook")[0].ID)
	e.st.Update(context.Background(), func(tx *store.Tx) error { return tx.SetMeta("vp_full:events", "") })
	b := e.run()
	if len(eventsNamed(e, "From VP")) != 0 {
		t.Error("the copy of a deleted Vantagepoint meeting is still in Outlook")
	}
	if len(eventsNamed(e, "From Outlook")) != 1 || len(meetingsNamed(e, "From Outlook")) != 0 {
		t.Error("deleting a copy destroyed the original or re-created the copy")
	}
	if c := b.Counts[TypeEvents]; c.Deleted != 1 || c.Unlinked != 1 {
		t.Errorf("counts = %+v", c)
	}
	_ = fromOutlook
	e.st.Update(context.Background(), func(tx *store.Tx) error { return tx.SetMeta("vp_full:events", "") })
	e.quiet()
}

func TestEventLeavingTheWindowIsNotADeletion(t *testing.T) {
	e := newEnv(t)
	ev := e.outlookMeeting("Soon", now.Add(30*time.Hour))
	e.run()
	// Moved far into the future: calendarView delta reports it removed.
	e.editOutlookEvent(ev.ID, func(x *MailboxEvent) { x.Start, x.End = now.AddDate(1, 0, 0), now.AddDate(1, 0, 0).Add(time.Hour) })
	b := e.run()
	if len(meetingsNamed(e, "Soon")) != 1 || b.Counts[TypeEvents].Deleted != 0 {
		t.Fatalf("an event that left the window was deleted: %+v", b.Counts[TypeEvents])
	}
}

// A contact added in Outlook and a meeting with that person, tagged in the
// same minute, arrive in one batch: the meeting links to the contact the
// batch has just created, not to nobody. A tagged e-mail in the batch makes
// the engine index the Vantagepoint contacts before the new one exists.
func TestMeetingLinksAContactCreatedInTheSameBatch(t *testing.T) {
	e := newEnv(t)
	e.run()
	e.mb.add("inbox", tagged("Hi", "alice@fabrikam.com"))
	e.outlookContact(MailboxContact{GivenName: "Nora", Surname: "Quinn", Email: "nora@northwind.example", CompanyName: "Northwind Traders"})
	start := now.Add(50 * time.Hour).Truncate(time.Hour)
	e.outlookMeeting("Kick-off with Nora", start, func(ev *MailboxEvent) {
		ev.Attendees = []Address{{Address: "Nora@Northwind.example"}}
	})
	e.run()
	nora := findVP(e, "nora@northwind.example")
	if len(nora) != 1 {
		t.Fatalf("Vantagepoint contacts for Nora = %+v", nora)
	}
	got := meetingsNamed(e, "Kick-off with Nora")
	if len(got) != 1 || got[0].ContactID != nora[0].ID || got[0].ClientID != "F-NORTHWIND" {
		t.Fatalf("meeting = %+v, want it linked to contact %s of firm F-NORTHWIND", got, nora[0].ID)
	}
	e.quiet()
}

// calendarView delta sends an occurrence or an exception stripped to
// @odata.type, @odata.etag, id, seriesMasterId, type, start and end
// (microsoft-graph-docs issue 7632): no subject, no categories. The engine
// reads each series master once per batch, so a tagged series is still
// one issue (docs/behaviour.md §4.3) and an untagged one stays silent.
func TestStrippedOccurrencesAreKnownByTheirSeriesMaster(t *testing.T) {
	e := newEnv(t)
	outside := now.AddDate(0, 0, -60) // masters start before the window: delta never lists them
	tagged := e.outlookMeeting("Weekly sync", outside, func(ev *MailboxEvent) { ev.Type = "seriesMaster" })
	untagged := e.outlookMeeting("Standup", outside, func(ev *MailboxEvent) { ev.Type, ev.Categories = "seriesMaster", nil })
	strip := func(master string, i int) MailboxEvent {
		return e.outlookMeeting("", now.AddDate(0, 0, 7*i+1), func(ev *MailboxEvent) {
			*ev = MailboxEvent{Type: "occurrence", SeriesMasterID: master, Start: ev.Start, End: ev.End}
		})
	}
	for i := range 4 {
		strip(tagged.ID, i)
		strip(untagged.ID, i)
	}
	exception := strip(tagged.ID, 5)
	e.editOutlookEvent(exception.ID, func(ev *MailboxEvent) { ev.Type = "exception" })

	b := e.run()
	if n := len(e.vp.all()); n != 0 {
		t.Fatalf("%d activities from recurring series", n)
	}
	var issues []string
	for _, i := range b.Issues {
		if strings.Contains(i.Reason, "recurring meetings are not synced") {
			issues = append(issues, i.Item)
		}
	}
	if len(issues) != 1 || !strings.Contains(issues[0], "Weekly sync") {
		t.Errorf("recurring issues %q; want one, for Weekly sync", issues)
	}
	e.mb.mu.Lock()
	reads := map[string]int{tagged.ID: e.mb.eventReads[tagged.ID], untagged.ID: e.mb.eventReads[untagged.ID]}
	e.mb.mu.Unlock()
	if reads[tagged.ID] != 1 || reads[untagged.ID] != 1 {
		t.Errorf("series masters read %v times; want each once in the batch", reads)
	}
}
