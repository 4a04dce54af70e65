package demo

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"os"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"vpconnect/syncer"
	"vpconnect/syncer/graph/graphsim"
	"vpconnect/syncer/store"
	"vpconnect/syncer/vantagepoint"
	"vpconnect/syncer/vantagepoint/vpsim"
)

// The demo is the end-to-end test of the walking skeleton: real Graph and
// Vantagepoint clients, over loopback HTTP, against both simulators, through
// the engine and the SQLite store.

func startDemo(t *testing.T, out *bytes.Buffer) *Demo {
	t.Helper()
	d, err := Start(context.Background(), Options{Out: out, Err: out})
	if err != nil {
		t.Fatalf("Start: %v", err)
	}
	t.Cleanup(d.Close)
	return d
}

// wantFiled is what the seed says must arrive: tagged, inside the look-back
// window, not private; keyed by subject, with the contact's address.
func wantFiled() map[string]string {
	want := map[string]string{}
	for _, m := range seedMessages {
		if !m.tagged || m.private || m.daysAgo > 14 {
			continue
		}
		addr := ""
		if m.with >= 0 {
			addr = contactAddress(seedContacts[m.with])
		}
		want[m.subject] = addr
	}
	return want
}

func TestDemoFilesTheTaggedEmailsLinkedToTheirContacts(t *testing.T) {
	var out bytes.Buffer
	d := startDemo(t, &out)
	ctx := context.Background()
	b, err := d.Batch(ctx, syncer.TriggerStartup)
	if err != nil {
		t.Fatalf("first batch: %v\n%s", err, out.String())
	}
	want := wantFiled()
	if len(want) < 8 {
		t.Fatalf("the seed tags only %d e-mails", len(want))
	}
	// The seed's tagged weekly series is the batch's one issue (docs/behaviour.md §4.3:
	// recurring meetings are not synced), so the outcome is "issues".
	if c := b.Counts[syncer.TypeEmails]; b.Outcome != syncer.OutcomeIssues || len(b.Issues) != 1 || c.Created != len(want) || c.Skipped != 1 || c.Failed != 0 {
		t.Fatalf("first batch = %+v", b)
	}

	contactByID := map[string]string{}
	for _, c := range d.Vantagepoint.Contacts() {
		contactByID[c.ContactID] = c.Email
	}
	got := map[string]int{}
	for _, a := range d.Vantagepoint.Activities() {
		if a.Type != "EMail" {
			continue // the seed's meetings
		}
		got[a.Subject]++
		addr, ok := want[a.Subject]
		if !ok {
			t.Errorf("unexpected activity %q", a.Subject)
			continue
		}
		if a.Type != "EMail" || a.Employee != d.Employee.ID || a.Owner != d.Employee.ID {
			t.Errorf("activity %q: type %q employee %q owner %q", a.Subject, a.Type, a.Employee, a.Owner)
		}
		if contactByID[a.ContactID] != addr {
			t.Errorf("activity %q linked to %q (%s), want the contact %q", a.Subject, a.ContactID, contactByID[a.ContactID], addr)
		}
		if !strings.Contains(vantagepoint.NotesText(a.Notes), "Message-ID: <demo-") {
			t.Errorf("activity %q has no message reference in its Notes", a.Subject)
		}
	}
	for s := range want {
		if got[s] != 1 {
			t.Errorf("%q filed %d times, want once", s, got[s])
		}
	}

	// Every filed message now carries the Synced category in Outlook, the
	// copy in Sent Items of the note to self included.
	for _, f := range []string{"inbox", "sentitems"} {
		for _, m := range d.Graph.Messages(d.Graph.FolderID(f)) {
			_, filed := want[m.Subject]
			synced := false
			for _, c := range m.Categories {
				synced = synced || c == "Vantagepoint: Synced"
			}
			if filed != synced {
				t.Errorf("%s %q: filed %v but Synced category %v (%v)", f, m.Subject, filed, synced, m.Categories)
			}
		}
	}

	// A second batch writes nothing, of any type. It settles the first:
	// the contacts and meetings the agent wrote come back in both services'
	// listings (the delta links and the ModDate watermark were taken before
	// those writes), so it scans them, at most one per write, and finds no
	// change.
	before := len(d.Vantagepoint.Activities())
	b2, err := d.Batch(ctx, syncer.TriggerSchedule)
	if err != nil {
		t.Fatal(err)
	}
	if n := len(d.Vantagepoint.Activities()); n != before || b2.Outcome != syncer.OutcomeOK {
		t.Errorf("second batch: %d → %d activities, %+v", before, n, b2)
	}
	for _, typ := range []string{syncer.TypeEmails, syncer.TypeContacts, syncer.TypeEvents} {
		c, ok := b2.Counts[typ]
		written := b.Counts[typ].Created + b.Counts[typ].Updated
		if !ok || c.Scanned > written || (c != store.Counts{Scanned: c.Scanned}) {
			t.Errorf("second batch counts %s = %+v (present %v), want nothing but at most %d echoes scanned", typ, c, ok, written)
		}
	}
	// A third batch has nothing left to look at: all counts zero, and one
	// request per collection per side (docs/behaviour.md §4.6): the delta links of Inbox,
	// Sent Items, the contact folder and the calendar; Vantagepoint's
	// contacts and meetings changed since the last batch.
	b3, err := d.Batch(ctx, syncer.TriggerSchedule)
	if err != nil {
		t.Fatal(err)
	}
	for _, typ := range []string{syncer.TypeEmails, syncer.TypeContacts, syncer.TypeEvents} {
		if c, ok := b3.Counts[typ]; !ok || c != (store.Counts{}) {
			t.Errorf("third batch counts %s = %+v (present %v), want all zero", typ, c, ok)
		}
	}
	if b3.Outcome != syncer.OutcomeOK || b3.Requests["graph"] != 4 || b3.Requests["vantagepoint"] != 2 {
		t.Errorf("no-change batch: outcome %s, requests = %v, want ok, graph 4, vantagepoint 2 (one per collection)", b3.Outcome, b3.Requests)
	}
}

func TestDemoTaggingInOutlookArrivesNextBatch(t *testing.T) {
	var out bytes.Buffer
	d := startDemo(t, &out)
	ctx := context.Background()
	if _, err := d.Batch(ctx, syncer.TriggerStartup); err != nil {
		t.Fatal(err)
	}
	subject := untaggedToTag()[0]
	d.tagInOutlook(subject)
	b, err := d.Batch(ctx, syncer.TriggerSchedule)
	if err != nil {
		t.Fatal(err)
	}
	if b.Counts[syncer.TypeEmails].Created != 1 {
		t.Fatalf("batch after tagging = %+v", b)
	}
	if !strings.Contains(out.String(), "new  ") || !strings.Contains(out.String(), subject) {
		t.Errorf("the summary does not show the new activity:\n%s", out.String())
	}
}

func TestDemoOnceJSONPrintsTheBatchObject(t *testing.T) {
	var out, errOut bytes.Buffer
	if err := Run(context.Background(), Options{Once: true, JSON: true, Out: &out, Err: &errOut}); err != nil {
		t.Fatalf("Run: %v\n%s", err, errOut.String())
	}
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	var b map[string]any
	if err := json.Unmarshal([]byte(lines[len(lines)-1]), &b); err != nil {
		t.Fatalf("last line is not JSON: %v\n%s", err, out.String())
	}
	for _, k := range []string{"id", "trigger", "started", "finished", "outcome", "counts", "requests", "issues"} {
		if _, ok := b[k]; !ok {
			t.Errorf("batch JSON lacks %q", k)
		}
	}
	// The seed's tagged weekly series is one issue (docs/behaviour.md §4.3).
	issues, _ := b["issues"].([]any)
	if b["outcome"] != "issues" || b["trigger"] != "startup" || len(issues) != 1 {
		t.Errorf("batch = %v", b)
	}
}

func TestDemoLeavesNoDataDirBehind(t *testing.T) {
	var out bytes.Buffer
	d, err := Start(context.Background(), Options{Out: &out, Err: &out})
	if err != nil {
		t.Fatal(err)
	}
	dir := d.DataDir
	fi, err := os.Stat(dir)
	if err != nil || fi.Mode().Perm() != 0o700 {
		t.Fatalf("data dir %s: %v, %v; want 0700", dir, fi.Mode().Perm(), err)
	}
	d.Close()
	if _, err := os.Stat(dir); !os.IsNotExist(err) {
		t.Errorf("data dir %s still there after Close: %v", dir, err)
	}
}

func TestDemoFirstBatchSyncsContactsBothWays(t *testing.T) {
	var out bytes.Buffer
	d := startDemo(t, &out)
	if _, err := d.Batch(context.Background(), syncer.TriggerStartup); err != nil {
		t.Fatalf("first batch: %v\n%s", err, out.String())
	}
	if f := d.outlookContactFolders(); len(f) != 1 {
		t.Fatalf("%d contact folders named %q, want 1", len(f), d.Config.Sync.ContactFolder)
	}
	firmName, firmID := map[string]string{}, map[string]string{}
	for _, f := range seedFirms {
		firmName[f.id], firmID[f.name] = f.name, f.id
	}
	vp := map[string][]vpsim.Contact{}
	for _, c := range d.Vantagepoint.Contacts() {
		vp[strings.ToLower(c.Email)] = append(vp[strings.ToLower(c.Email)], c)
	}
	outlook := map[string][]graphsim.Contact{}
	for _, c := range d.Graph.Contacts(d.contactFolder) {
		for _, a := range c.EmailAddresses[:min(1, len(c.EmailAddresses))] {
			outlook[strings.ToLower(a.Address)] = append(outlook[strings.ToLower(a.Address)], c)
		}
	}

	// Dana's Outlook people are Vantagepoint contacts she owns, at the firm
	// their company name names; Grace Lee, known to both, is there once.
	for _, s := range seedOutlookContacts {
		got := vp[strings.ToLower(s.email)]
		if len(got) != 1 {
			t.Errorf("Outlook contact %s %s is %d times in Vantagepoint, want once", s.first, s.last, len(got))
			continue
		}
		c := got[0]
		if c.FirstName != s.first || c.LastName != s.last || c.Title != s.title || c.Owner != d.Employee.ID ||
			c.ContactStatus != "A" || c.ClientID != firmID[s.company] {
			t.Errorf("Vantagepoint contact of %s %s = %+v, want title %q, owner %s, firm %s", s.first, s.last, c, s.title, d.Employee.ID, firmID[s.company])
		}
	}
	// Her Vantagepoint contacts are in the Outlook folder, with the firm's
	// name as company.
	for _, s := range seedContacts {
		got := outlook[contactAddress(s)]
		if len(got) != 1 {
			t.Errorf("Vantagepoint contact %s %s is %d times in the Outlook folder, want once", s.first, s.last, len(got))
			continue
		}
		c := got[0]
		if c.GivenName != s.first || c.Surname != s.last || c.JobTitle != s.title || c.CompanyName != firmName[s.firm] {
			t.Errorf("Outlook contact of %s %s = given %q surname %q title %q company %q, want company %q",
				s.first, s.last, c.GivenName, c.Surname, c.JobTitle, c.CompanyName, firmName[s.firm])
		}
	}
	want := len(seedContacts) + seedOutlookContactsNew
	if n, m := len(d.Vantagepoint.Contacts()), len(d.Graph.Contacts(d.contactFolder)); n != want || m != want {
		t.Errorf("%d contacts in Vantagepoint and %d in the Outlook folder, want %d on each side", n, m, want)
	}
	for _, line := range []string{
		"contact → Vantagepoint  new      Ana Ruiz (Northwind Hospital Group)",
		"contact → Outlook       new      Alice Ng (Fabrikam Developments)",
		"contact ↔ both          paired   Grace Lee (Alpine Ski House)",
	} {
		if !strings.Contains(out.String(), line) {
			t.Errorf("the summary lacks %q:\n%s", line, out.String())
		}
	}
}

func TestDemoFirstBatchSyncsMeetingsBothWays(t *testing.T) {
	var out bytes.Buffer
	d := startDemo(t, &out)
	b, err := d.Batch(context.Background(), syncer.TriggerStartup)
	if err != nil {
		t.Fatalf("first batch: %v\n%s", err, out.String())
	}
	contactID := map[string]string{}
	for _, c := range d.Vantagepoint.Contacts() {
		contactID[strings.ToLower(c.Email)] = c.ContactID
	}
	meetings := map[string][]vpsim.Activity{}
	for _, a := range d.Vantagepoint.Activities() {
		if a.Type == "Meeting" {
			meetings[a.Subject] = append(meetings[a.Subject], a)
		}
	}
	events := map[string][]graphsim.Event{}
	for _, e := range d.Graph.Events() {
		events[e.Subject] = append(events[e.Subject], e)
	}

	// Dana's tagged Outlook meetings are Vantagepoint meetings, linked to
	// the first attendee; her series, private and untagged events are not.
	synced := 0
	for _, e := range seedEvents {
		got := meetings[e.subject]
		if !e.tagged || e.private || e.weekly > 0 {
			if len(got) != 0 {
				t.Errorf("%q (tagged %v, private %v, recurring %v) became %d Vantagepoint meetings, want none", e.subject, e.tagged, e.private, e.weekly > 0, len(got))
			}
			continue
		}
		synced++
		if len(got) != 1 {
			t.Errorf("%q is %d times in Vantagepoint, want once", e.subject, len(got))
			continue
		}
		a, ev := got[0], events[e.subject][0]
		start, _ := vpsim.ParseDate(a.StartDate)
		end, _ := vpsim.ParseDate(a.EndDate)
		first := seedContacts[e.attendees[0]]
		if !start.Equal(ev.Start) || !end.Equal(ev.End) || a.Location != e.location || a.Employee != d.Employee.ID ||
			a.Owner != d.Employee.ID || a.ContactID != contactID[contactAddress(first)] || a.ClientID != first.firm {
			t.Errorf("Vantagepoint meeting %q = %+v; want %s–%s, employee %s, contact %s (%s %s) at %s",
				e.subject, a, ev.Start, ev.End, d.Employee.ID, contactID[contactAddress(first)], first.first, first.last, first.firm)
		}
	}

	// Her Vantagepoint meetings are in her Outlook calendar, tagged, with no
	// attendees (they would get invitations).
	for _, m := range seedMeetings {
		got := events[m.subject]
		if len(got) != 1 || len(meetings[m.subject]) != 1 {
			t.Errorf("%q is %d times in Outlook and %d in Vantagepoint, want once each", m.subject, len(got), len(meetings[m.subject]))
			continue
		}
		e, a := got[0], meetings[m.subject][0]
		start, _ := vpsim.ParseDate(a.StartDate)
		end, _ := vpsim.ParseDate(a.EndDate)
		if e.Type != "singleInstance" || !e.Start.Equal(start) || !e.End.Equal(end) || e.Location != m.location ||
			!slices.Contains(e.Categories, "Vantagepoint") || len(e.Attendees) != 0 {
			t.Errorf("Outlook event %q = type %s %s–%s at %q, categories %v, attendees %v; want %s–%s, the category and no attendees",
				m.subject, e.Type, e.Start, e.End, e.Location, e.Categories, e.Attendees, start, end)
		}
	}

	// The series is one issue, not one per occurrence.
	var series []store.Issue
	for _, i := range b.Issues {
		if i.Type == syncer.TypeEvents && i.Reason == "recurring meetings are not synced" {
			series = append(series, i)
		}
	}
	if len(series) != 1 || !strings.Contains(series[0].Item, "Northwind: weekly clinic coordination") || b.Outcome != syncer.OutcomeIssues {
		t.Errorf("issues = %+v, outcome %s; want the one series, outcome issues", b.Issues, b.Outcome)
	}
	if c := b.Counts[syncer.TypeEvents]; c.Created != synced+len(seedMeetings) || c.Failed != 0 {
		t.Errorf("events counts = %+v, want %d created", c, synced+len(seedMeetings))
	}
	for _, line := range []string{"meeting → Vantagepoint  new      Riverside: intake screen options", "meeting → Outlook       new      Fabrikam: fee negotiation"} {
		if !strings.Contains(out.String(), line) {
			t.Errorf("the summary lacks %q:\n%s", line, out.String())
		}
	}
	for _, counts := range []string{"  emails   scanned", "  contacts scanned", "  events   scanned"} {
		if !strings.Contains(out.String(), counts) {
			t.Errorf("the summary lacks the counts line %q:\n%s", counts, out.String())
		}
	}
}

// What the running demo's user does flows to the other side in the next
// batch: a job title edited in Outlook, a meeting moved in Vantagepoint.
func TestDemoEditsFlowBothWaysNextBatch(t *testing.T) {
	var out bytes.Buffer
	d := startDemo(t, &out)
	ctx := context.Background()
	if _, err := d.Batch(ctx, syncer.TriggerStartup); err != nil {
		t.Fatal(err)
	}
	person, meeting := seedOutlookContacts[0], seedMeetings[0]
	d.editContactInOutlook(person.email, "Chief Facilities Officer")
	d.moveMeetingInVantagepoint(meeting.subject, 24*time.Hour)
	out.Reset()
	b, err := d.Batch(ctx, syncer.TriggerSchedule)
	if err != nil {
		t.Fatal(err)
	}
	if c, e := b.Counts[syncer.TypeContacts], b.Counts[syncer.TypeEvents]; c.Updated != 1 || e.Updated != 1 || c.Created+e.Created+c.Deleted+e.Deleted != 0 {
		t.Errorf("batch after the edits: contacts %+v, events %+v; want one update each", c, e)
	}
	var titles []string
	for _, c := range d.Vantagepoint.Contacts() {
		if strings.EqualFold(c.Email, person.email) {
			titles = append(titles, c.Title)
		}
	}
	if !slices.Equal(titles, []string{"Chief Facilities Officer"}) {
		t.Errorf("Vantagepoint contacts of %s %s have titles %q, want once the one typed in Outlook", person.first, person.last, titles)
	}
	var moved *vpsim.Activity
	for _, a := range d.Vantagepoint.Activities() {
		if a.Subject == meeting.subject {
			moved = &a
		}
	}
	if moved == nil {
		t.Fatalf("no Vantagepoint meeting %q", meeting.subject)
	}
	start, _ := vpsim.ParseDate(moved.StartDate)
	end, _ := vpsim.ParseDate(moved.EndDate)
	n := 0
	for _, e := range d.Graph.Events() {
		if e.Subject == meeting.subject {
			n++
			if !e.Start.Equal(start) || !e.End.Equal(end) {
				t.Errorf("Outlook event %q at %s–%s, want it moved to %s–%s", e.Subject, e.Start, e.End, start, end)
			}
		}
	}
	if n != 1 {
		t.Errorf("%q is %d times in Outlook, want once", meeting.subject, n)
	}
	for _, line := range []string{
		`contact → Vantagepoint  updated  Ana Ruiz (Northwind Hospital Group): job title "Chief Facilities Officer"`,
		"meeting → Outlook       moved    " + meeting.subject,
	} {
		if !strings.Contains(out.String(), line) {
			t.Errorf("the summary lacks %q:\n%s", line, out.String())
		}
	}
}

// syncBuffer is a bytes.Buffer safe for the demo's goroutines to write
// while the test reads it.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// The running demo plays the user: over a few intervals a newcomer sees an
// Outlook edit reach Vantagepoint and a Vantagepoint move reach Outlook,
// and Ctrl-C stops it, the user's goroutine included.
func TestDemoRunShowsChangesFlowingBothWays(t *testing.T) {
	var out syncBuffer
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- Run(ctx, Options{Interval: 50 * time.Millisecond, Out: &out, Err: &out}) }()
	want := []string{
		"(demo) Dana changes the job title of Ana Ruiz",
		`contact → Vantagepoint  updated  Ana Ruiz (Northwind Hospital Group): job title "Chief Facilities Officer"`,
		`(demo) Dana moves "Riverside: pump station design review"`,
		"meeting → Outlook       moved    Riverside: pump station design review",
	}
	deadline := time.Now().Add(20 * time.Second)
	for {
		missing := ""
		for _, w := range want {
			if !strings.Contains(out.String(), w) {
				missing = w
				break
			}
		}
		if missing == "" {
			break
		}
		select {
		case err := <-done:
			t.Fatalf("Run ended before %q: %v\n%s", missing, err, out.String())
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("after 20 s the demo has not shown %q:\n%s", missing, out.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
	cancel()
	select {
	case err := <-done:
		if err != nil && !errors.Is(err, context.Canceled) {
			t.Errorf("Run: %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Run did not return after its context ended")
	}
	if !strings.Contains(out.String(), "demo stopped") {
		t.Errorf("no stop note:\n%s", out.String())
	}
}

// A meeting with attendees is never changed in Outlook: any change but its
// categories would send every attendee an update, a body rewrite drops
// the Teams join block, and writing location drops the rooms (Graph,
// "Update event"). Vantagepoint edits become issues; Outlook wins.
func TestDemoNeverChangesAMeetingWithAttendees(t *testing.T) {
	var out bytes.Buffer
	d := startDemo(t, &out)
	ctx := context.Background()
	subject := "Alpine: spa wing concept review"
	var id string
	for _, e := range d.Graph.Events() {
		if e.Subject == subject {
			id = e.ID
		}
	}
	if id == "" {
		t.Fatalf("no seeded Outlook meeting %q", subject)
	}
	d.Graph.UpdateEvent(id, func(e *graphsim.Event) {
		e.IsOnlineMeeting = true
		e.Body += "\n________________________________________________________________________________\n" + graphsim.TeamsJoinMarker + "\nJoin: https://teams.example/l/meetup-join/1"
		e.Rooms = []string{"Alpine lodge, room 2"}
	})
	before, _ := d.Graph.Event(id)
	if _, err := d.Batch(ctx, syncer.TriggerStartup); err != nil {
		t.Fatal(err)
	}
	twin := func() vpsim.Activity {
		t.Helper()
		for _, a := range d.Vantagepoint.Activities() {
			if a.Subject == subject {
				return a
			}
		}
		t.Fatalf("no Vantagepoint twin of %q", subject)
		return vpsim.Activity{}
	}

	// Vantagepoint moves it: not copied, reported.
	d.Vantagepoint.UpdateActivity(twin().ActivityID, func(a *vpsim.Activity) {
		s, _ := vpsim.ParseDate(a.StartDate)
		e, _ := vpsim.ParseDate(a.EndDate)
		a.StartDate, a.EndDate = vpsim.FormatDate(s.Add(2*time.Hour)), vpsim.FormatDate(e.Add(2*time.Hour))
	})
	b, err := d.Batch(ctx, syncer.TriggerSchedule)
	if err != nil {
		t.Fatal(err)
	}
	reported := false
	for _, is := range b.Issues {
		reported = reported || strings.Contains(is.Reason, "change it in Outlook")
	}
	if !reported {
		t.Errorf("the Vantagepoint change was not reported: %+v %+v", b.Issues, b.Counts)
	}
	// The next batch does not try again.
	if b, err := d.Batch(ctx, syncer.TriggerSchedule); err != nil || len(b.Issues) != 0 || b.Counts[syncer.TypeEvents].Updated != 0 {
		t.Errorf("the batch after: %+v %v", b, err)
	}

	// Both sides edit it, with sync.conflict=vantagepoint: Outlook wins.
	d.Graph.UpdateEvent(id, func(e *graphsim.Event) { e.Subject = subject + " (moved to lodge)" })
	d.Vantagepoint.UpdateActivity(twin().ActivityID, func(a *vpsim.Activity) { a.Location = "Head office" })
	if _, err := d.Batch(ctx, syncer.TriggerSchedule); err != nil {
		t.Fatal(err)
	}
	var a *vpsim.Activity
	for _, x := range d.Vantagepoint.Activities() {
		if x.Subject == subject+" (moved to lodge)" {
			a = &x
		}
	}
	if a == nil || a.Location != before.Location {
		t.Errorf("Vantagepoint after both edits: %+v; want Outlook's subject and location", a)
	}

	after, _ := d.Graph.Event(id)
	if !after.Start.Equal(before.Start) || after.Location != before.Location || !after.IsOnlineMeeting ||
		!strings.Contains(after.Body, graphsim.TeamsJoinMarker) || !slices.Equal(after.Rooms, before.Rooms) {
		t.Errorf("the Outlook meeting changed:\nbefore %+v\nafter  %+v", before, after)
	}
	if n := d.Graph.AttendeeUpdates(); n != 0 {
		t.Errorf("Exchange would have sent %d updates or cancellations to attendees", n)
	}
}

// A create that the service stored but answered 503 or 504 (a gateway
// timeout after the work was done) is never sent again blindly: the next
// batch finds it by its natural key. Nothing the cut-short batch listed is
// lost, and every item exists once on each side.
func TestDemoAmbiguousCreatesMakeNoDuplicates(t *testing.T) {
	var out bytes.Buffer
	d := startDemo(t, &out)
	ctx := context.Background()
	d.Graph.InjectFault(graphsim.Fault{Method: "POST", PathContains: "/events", Status: 503, AfterServing: true, Times: 1})
	d.Graph.InjectFault(graphsim.Fault{Method: "POST", PathContains: "/contacts", Status: 504, AfterServing: true, Times: 1})
	d.Vantagepoint.InjectFault(vpsim.Fault{Method: "POST", PathContains: "/activity", Status: 504, AfterServing: true, Times: 2})
	d.Vantagepoint.InjectFault(vpsim.Fault{Method: "POST", PathContains: "/contact", Status: 503, AfterServing: true, Times: 1})
	for i := range 3 {
		if _, err := d.Batch(ctx, syncer.TriggerSchedule); err != nil && i == 2 {
			t.Fatalf("batch %d: %v", i+1, err)
		}
	}
	count := map[string]int{}
	for _, e := range d.Graph.Events() {
		if e.Type != "occurrence" {
			count["outlook "+e.Subject]++
		}
	}
	for _, a := range d.Vantagepoint.Activities() {
		count["vantagepoint "+a.Type+" "+a.Subject]++
	}
	for _, m := range seedMeetings {
		if n := count["outlook "+m.subject]; n != 1 {
			t.Errorf("Vantagepoint meeting %q is %d times in Outlook, want once", m.subject, n)
		}
	}
	for _, e := range seedEvents {
		if e.tagged && !e.private && e.weekly == 0 {
			if n := count["vantagepoint Meeting "+e.subject]; n != 1 {
				t.Errorf("Outlook meeting %q is %d times in Vantagepoint, want once", e.subject, n)
			}
		}
	}
	for subject := range wantFiled() {
		if n := count["vantagepoint EMail "+subject]; n != 1 {
			t.Errorf("e-mail %q filed %d times, want once", subject, n)
		}
	}
	byAddr := map[string]int{}
	for _, c := range d.Vantagepoint.Contacts() {
		byAddr[strings.ToLower(c.Email)]++
	}
	for _, c := range d.Graph.Contacts(d.contactFolder) {
		byAddr["outlook "+strings.ToLower(c.EmailAddresses[0].Address)]++
	}
	for addr, n := range byAddr {
		if n != 1 {
			t.Errorf("contact %s: %d times", addr, n)
		}
	}
}

// A 412 ErrorIrresolvableConflict can come even without any If-Match
// (msgraph-sdk-dotnet issue 1201): an update that meets one again and
// again gives up after one re-read, reports the item, and the batch ends.
func TestDemoSpuriousConflictsDoNotLoop(t *testing.T) {
	var out bytes.Buffer
	d := startDemo(t, &out)
	ctx := context.Background()
	if _, err := d.Batch(ctx, syncer.TriggerStartup); err != nil {
		t.Fatal(err)
	}
	held := 0
	for _, ev := range d.Graph.Events() {
		if ev.Subject == seedMeetings[0].subject {
			d.Graph.HoldItem(ev.ID, -1) // every update, with or without If-Match
			held++
		}
	}
	if held != 1 {
		t.Fatalf("%d Outlook events named %q", held, seedMeetings[0].subject)
	}
	d.moveMeetingInVantagepoint(seedMeetings[0].subject, 24*time.Hour)
	before := d.Graph.Requests()
	b, err := d.Batch(ctx, syncer.TriggerSchedule)
	if err != nil {
		t.Fatal(err)
	}
	if n := d.Graph.Requests() - before; n > 15 || b.Counts[syncer.TypeEvents].Failed != 1 || len(b.Issues) != 1 {
		t.Errorf("with a 412 on every PATCH: %d Graph requests, events %+v, issues %+v", n, b.Counts[syncer.TypeEvents], b.Issues)
	}
}

// With the template's activity field, an e-mail's key survives what the
// Notes do not: creates stored but answered 504, then every filed e-mail's
// Notes rewritten by a user (the Message-ID line gone, rich text as the
// server keeps it). The next batches find each activity by the field and
// file nothing twice.
func TestDemoKeyFieldSurvivesANotesEdit(t *testing.T) {
	var out bytes.Buffer
	d := startDemo(t, &out)
	ctx := context.Background()
	d.Vantagepoint.AddActivityField(vpsim.MessageIDField, "Message-ID")
	d.Vantagepoint.InjectFault(vpsim.Fault{Method: "POST", PathContains: "/activity", Status: 504, AfterServing: true, Times: 1000})
	d.Batch(ctx, syncer.TriggerSchedule) //nolint:errcheck // every create is answered 504: the batch reports them
	d.Vantagepoint.ClearFaults()
	edited := 0
	for _, a := range d.Vantagepoint.Activities() {
		if a.Type != "EMail" {
			continue
		}
		if a.CustMessageID == "" {
			t.Errorf("e-mail activity %q has no %s", a.Subject, vpsim.MessageIDField)
		}
		d.Vantagepoint.UpdateActivity(a.ActivityID, func(x *vpsim.Activity) { x.Notes = "<p>Called back,&nbsp;see the file.</p>" })
		edited++
	}
	if edited == 0 {
		t.Fatal("no e-mail was filed in the first batch")
	}
	for i := range 2 {
		if _, err := d.Batch(ctx, syncer.TriggerSchedule); err != nil {
			t.Fatalf("batch %d after the edit: %v\n%s", i+2, err, out.String())
		}
	}
	count := map[string]int{}
	for _, a := range d.Vantagepoint.Activities() {
		if a.Type == "EMail" {
			count[a.Subject]++
		}
	}
	for subject := range wantFiled() {
		if n := count[subject]; n != 1 {
			t.Errorf("e-mail %q filed %d times, want once", subject, n)
		}
	}
}

// An all-day activity made in Vantagepoint carries the times its Activity
// dialog shows (8:00 AM to 5:00 PM of its day, in the server's data): it
// reaches Outlook as a one-day all-day event (midnight to midnight, as
// Graph requires), and nothing flows back to change it.
func TestDemoAllDayActivityReachesOutlookAsOneDay(t *testing.T) {
	var out bytes.Buffer
	d := startDemo(t, &out)
	ctx := context.Background()
	if _, err := d.Batch(ctx, syncer.TriggerStartup); err != nil {
		t.Fatal(err)
	}
	day := time.Now().UTC().Truncate(24*time.Hour).AddDate(0, 0, 2)
	d.Vantagepoint.AddActivity(vpsim.Activity{Type: "Meeting", Subject: "Site walk (all day)", StartDate: vpsim.FormatDate(day.Add(8 * time.Hour)),
		EndDate: vpsim.FormatDate(day.Add(17 * time.Hour)), AllDayEventInd: "Y", PrivateInd: "N", Owner: d.Employee.ID, Employee: d.Employee.ID})
	for i := range 2 {
		b, err := d.Batch(ctx, syncer.TriggerSchedule)
		if err != nil {
			t.Fatalf("batch %d: %v\n%s", i+2, err, out.String())
		}
		if c := b.Counts[syncer.TypeEvents]; c.Failed != 0 || (i == 1 && c.Created+c.Updated != 0) {
			t.Errorf("batch %d: events %+v, issues %+v", i+2, c, b.Issues)
		}
	}
	var got []graphsim.Event
	for _, e := range d.Graph.Events() {
		if e.Subject == "Site walk (all day)" {
			got = append(got, e)
		}
	}
	if len(got) != 1 || !got[0].IsAllDay || !got[0].Start.Equal(day) || !got[0].End.Equal(day.AddDate(0, 0, 1)) {
		t.Fatalf("Outlook events %+v; want one all-day event on %s", got, day.Format("2006-01-02"))
	}
	for _, a := range d.Vantagepoint.Activities() {
		if a.Subject == "Site walk (all day)" && (a.StartDate != vpsim.FormatDate(day.Add(8*time.Hour)) || a.EndDate != vpsim.FormatDate(day.Add(17*time.Hour))) {
			t.Errorf("the Vantagepoint activity was rewritten: %s – %s", a.StartDate, a.EndDate)
		}
	}
}
