package syncer

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"vpconnect/syncer/store"
)

var now = time.Date(2026, 11, 20, 10, 0, 0, 0, time.UTC)

type env struct {
	t   *testing.T
	mb  *fakeMailbox
	vp  *fakeVP
	st  *store.Store
	eng *Engine
}

func newEnv(t *testing.T, mutate ...func(*Options)) *env {
	t.Helper()
	st, err := store.Open(filepath.Join(t.TempDir(), "sync.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	opts := Options{Employee: "E001", Now: func() time.Time { return now }}
	for _, m := range mutate {
		m(&opts)
	}
	e := &env{t: t, mb: newFakeMailbox(), vp: newFakeVP(), st: st}
	e.eng = New(e.mb, e.vp, st, opts)
	if err := e.eng.Prepare(context.Background()); err != nil {
		t.Fatalf("Prepare: %v", err)
	}
	return e
}

func (e *env) run() store.Batch {
	e.t.Helper()
	b, err := e.eng.Run(context.Background(), TriggerManual)
	if err != nil {
		e.t.Fatalf("batch failed: %v (%+v)", err, b)
	}
	return b
}

func tagged(subject string, from string, to ...string) Message {
	m := Message{MessageChange: MessageChange{
		InternetMessageID: "<" + strings.ReplaceAll(strings.ToLower(subject), " ", "-") + "@fabrikam.com>",
		Subject:           subject,
		From:              Address{Address: from},
		SentAt:            now.Add(-26 * time.Hour),
		ReceivedAt:        now.Add(-26*time.Hour + time.Minute),
		Categories:        []string{"Vantagepoint"},
	}, BodyType: BodyText, Body: "Hello,\nthe drawings are attached.\n"}
	for _, a := range to {
		m.To = append(m.To, Address{Address: a})
	}
	return m
}

func TestTaggedEmailBecomesOneLinkedActivity(t *testing.T) {
	e := newEnv(t)
	msg := tagged("Site visit", "alice@fabrikam.com", "dana@contoso.com")
	msg.Attachments = []Attachment{{Name: "plan.pdf", Size: 250_000}, {Name: "notes.txt", Size: 300}}
	id := e.mb.add("inbox", msg)
	e.mb.add("inbox", Message{MessageChange: MessageChange{InternetMessageID: "<untagged@x>", Subject: "Lunch?", SentAt: now}})

	b := e.run()
	acts := e.vp.all()
	if len(acts) != 1 {
		t.Fatalf("%d activities, want 1: %+v", len(acts), acts)
	}
	a := acts[0]
	sent := msg.SentAt
	if a.Type != "EMail" || a.Subject != "Site visit" || !a.StartDate.Equal(sent) || !a.EndDate.Equal(sent) ||
		a.Owner != "E001" || a.Employee != "E001" || a.ContactID != "C-ALICE" || a.ClientID != "F-FABRIKAM" {
		t.Errorf("activity = %+v", a)
	}
	for _, want := range []string{"the drawings are attached.", "Attachments:\n- plan.pdf (244 KB)\n- notes.txt (300 bytes)", "Message-ID: <site-visit@fabrikam.com>"} {
		if !strings.Contains(a.Notes, want) {
			t.Errorf("Notes lack %q:\n%s", want, a.Notes)
		}
	}
	got := e.mb.get(id).Categories
	if !hasCategory(got, "Vantagepoint") || !hasCategory(got, "Vantagepoint: Synced") {
		t.Errorf("categories after sync = %v", got)
	}
	c := b.Counts[TypeEmails]
	if b.Outcome != OutcomeOK || c.Scanned != 2 || c.Created != 1 || c.Failed != 0 {
		t.Errorf("batch = %+v", b)
	}
	if b.Requests["graph"] == 0 || b.Requests["vantagepoint"] == 0 {
		t.Errorf("requests not counted: %v", b.Requests)
	}

	// The agent's own category write comes back in the next delta round;
	// it is not a user change and writes nothing.
	patches, vpBefore, graphBefore := e.mb.patches, e.vp.Requests(), e.mb.Requests()
	b2 := e.run()
	if len(e.vp.all()) != 1 || e.mb.patches != patches || b2.Counts[TypeEmails] != (store.Counts{}) {
		t.Fatalf("second batch wrote: activities %d, patches %d→%d, %+v", len(e.vp.all()), patches, e.mb.patches, b2)
	}
	// One request per collection per side (docs/behaviour.md §4.6): Inbox, Sent Items,
	// contacts and calendar on Graph; contacts and meetings on Vantagepoint.
	if n := e.vp.Requests() - vpBefore; n != 2 {
		t.Errorf("a no-change batch sent %d Vantagepoint requests, want 2", n)
	}
	if n := e.mb.Requests() - graphBefore; n != 4 {
		t.Errorf("a no-change batch sent %d Graph requests, want 4", n)
	}
}

func TestBatchJSONUsesTheContractFieldNames(t *testing.T) {
	e := newEnv(t)
	e.mb.add("inbox", tagged("Hi", "alice@fabrikam.com"))
	raw, err := json.Marshal(e.run())
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	json.Unmarshal(raw, &m)
	for _, k := range []string{"id", "trigger", "started", "finished", "outcome", "counts", "requests", "issues"} {
		if _, ok := m[k]; !ok {
			t.Errorf("batch JSON lacks %q: %s", k, raw)
		}
	}
	emails := m["counts"].(map[string]any)["emails"].(map[string]any)
	for _, k := range []string{"scanned", "created", "updated", "deleted", "unlinked", "skipped", "failed"} {
		if _, ok := emails[k]; !ok {
			t.Errorf("counts.emails lacks %q: %s", k, raw)
		}
	}
	req := m["requests"].(map[string]any)
	if _, ok := req["graph"]; !ok {
		t.Errorf("requests lacks graph: %s", raw)
	}
	if _, ok := req["vantagepoint"]; !ok {
		t.Errorf("requests lacks vantagepoint: %s", raw)
	}
}

func TestContactIsTheFirstCorrespondentThatIsNotTheUser(t *testing.T) {
	e := newEnv(t)
	// Sent by the user (in any case) to an unknown address, then Bob (mixed
	// case in Vantagepoint), then Alice on cc.
	msg := tagged("Proposal", "DANA@contoso.com", "someone@unknown.example", "bob@northwind.example")
	msg.Cc = []Address{{Address: "alice@fabrikam.com"}}
	e.mb.add("sentitems", msg)
	e.run()
	a := e.vp.all()[0]
	if a.ContactID != "C-BOB" || a.ClientID != "F-NORTHWIND" {
		t.Errorf("linked to %s/%s, want C-BOB/F-NORTHWIND", a.ContactID, a.ClientID)
	}
	// The user's UPN counts as the user too.
	e.mb.add("inbox", tagged("From my other address", "dana@contoso.onmicrosoft.com", "alice@fabrikam.com"))
	e.run()
	if a := e.vp.all()[1]; a.ContactID != "C-ALICE" {
		t.Errorf("linked to %q, want C-ALICE", a.ContactID)
	}
	if e.vp.contactLists != 2 {
		t.Errorf("contacts listed %d times in 2 batches, want one listing per batch", e.vp.contactLists)
	}
}

func TestNoContactMatchLeavesTheActivityUnlinked(t *testing.T) {
	e := newEnv(t)
	e.mb.add("inbox", tagged("Newsletter", "news@unknown.example", "dana@contoso.com"))
	e.run()
	if a := e.vp.all()[0]; a.ContactID != "" || a.ClientID != "" {
		t.Errorf("linked to %q/%q", a.ContactID, a.ClientID)
	}
}

func TestEmptySubjectAndHTMLBody(t *testing.T) {
	e := newEnv(t)
	msg := tagged("", "alice@fabrikam.com")
	msg.BodyType = BodyHTML
	msg.Body = `<html><head><style>p{color:red}</style></head><body><p>Dear Dana,</p><p>see <a href="https://fabrikam.com/x">the plan</a> &amp; call me.</p><ul><li>one</li><li>two</li></ul></body></html>`
	e.mb.add("inbox", msg)
	e.run()
	a := e.vp.all()[0]
	if a.Subject != "(no subject)" {
		t.Errorf("Subject = %q", a.Subject)
	}
	want := "Dear Dana,\n\nsee the plan <https://fabrikam.com/x> & call me.\n\n- one\n- two"
	if !strings.HasPrefix(a.Notes, want) {
		t.Errorf("Notes =\n%q\nwant prefix\n%q", a.Notes, want)
	}
	if strings.Contains(a.Notes, "color") || strings.Contains(a.Notes, "<p>") {
		t.Errorf("Notes keep markup: %q", a.Notes)
	}
}

func TestLongBodyIsCutWithAVisibleMarker(t *testing.T) {
	e := newEnv(t)
	msg := tagged("Long", "alice@fabrikam.com")
	msg.Body = strings.Repeat("é", 40_000) // 80,000 bytes
	msg.Attachments = []Attachment{{Name: "big.zip", Size: 3 << 20}}
	e.mb.add("inbox", msg)
	e.run()
	notes := e.vp.all()[0].Notes
	body, _, ok := strings.Cut(notes, "\n\n[… message truncated by vpconnect: 64 KB of 78 KB shown …]")
	if !ok {
		t.Fatalf("no truncation marker in Notes (len %d): %q", len(notes), notes[len(notes)-200:])
	}
	if len(body) > NotesLimit || len(body) < NotesLimit-1 || !strings.HasSuffix(body, "é") {
		t.Errorf("kept %d bytes of body, want %d without splitting a character", len(body), NotesLimit)
	}
	if !strings.Contains(notes, "- big.zip (3.0 MB)") {
		t.Error("the attachment list was cut with the body")
	}
}

func TestSameMessageInTwoFoldersIsOneActivity(t *testing.T) {
	e := newEnv(t)
	msg := tagged("Note to self", "dana@contoso.com", "dana@contoso.com")
	a := e.mb.add("inbox", msg)
	b := e.mb.add("sentitems", msg)
	e.run()
	if n := len(e.vp.all()); n != 1 {
		t.Fatalf("%d activities for one message in two folders", n)
	}
	for _, id := range []string{a, b} {
		if !hasCategory(e.mb.get(id).Categories, "Vantagepoint: Synced") {
			t.Errorf("copy %s not marked Synced: %v", id, e.mb.get(id).Categories)
		}
	}
	// A copy appearing in a later batch is marked, not filed again.
	e.mb.folders["archive"] = "F-ARCH"
	e.eng.opts.MailFolders = []string{"Archive"}
	c := e.mb.add("archive", msg)
	e.run()
	if n := len(e.vp.all()); n != 1 {
		t.Fatalf("%d activities after a later copy", n)
	}
	if !hasCategory(e.mb.get(c).Categories, "Vantagepoint: Synced") {
		t.Errorf("later copy not marked: %v", e.mb.get(c).Categories)
	}
}

func TestPrivateMessagesOnlyWhenTracked(t *testing.T) {
	e := newEnv(t)
	priv := tagged("Medical leave", "alice@fabrikam.com")
	priv.Private = true
	e.mb.add("inbox", priv)
	b := e.run()
	if n := len(e.vp.all()); n != 0 {
		t.Fatalf("a private tagged message was filed")
	}
	if b.Counts[TypeEmails].Skipped != 1 {
		t.Errorf("skipped = %d, want 1", b.Counts[TypeEmails].Skipped)
	}
	priv2 := tagged("Private but tracked", "alice@fabrikam.com")
	priv2.Private, priv2.Categories = true, nil
	id := e.mb.add("inbox", priv2)
	if err := e.eng.TrackEmail(context.Background(), store.Track{MessageID: id, Project: "2026001.00"}); err != nil {
		t.Fatal(err)
	}
	e.run()
	acts := e.vp.all()
	if len(acts) != 1 || acts[0].Subject != "Private but tracked" || !acts[0].Private || acts[0].WBS1 != "2026001.00" {
		t.Fatalf("activities = %+v", acts)
	}
}

func TestTrackRequestLinksProjectOpportunityContactAndFirm(t *testing.T) {
	e := newEnv(t)
	msg := tagged("Untagged but tracked", "alice@fabrikam.com")
	msg.Categories = []string{"Blue"}
	msg.SentAt = now.AddDate(0, 0, -60) // tracking ignores the look-back window
	msg.ReceivedAt = msg.SentAt
	id := e.mb.add("inbox", msg)
	e.run() // seen once, before the track: nothing
	if len(e.vp.all()) != 0 {
		t.Fatal("an untagged, untracked message was filed")
	}
	ctx := context.Background()
	e.eng.TrackEmail(ctx, store.Track{MessageID: id, Project: "P-1", Opportunity: "O-1", Contact: "C-BOB", Firm: "F-OTHER"})
	if tr, ok, _ := e.eng.TrackStatus(ctx, id); !ok || tr.State != store.TrackQueued {
		t.Fatalf("track status before the batch = %+v", tr)
	}
	e.run()
	acts := e.vp.all()
	if len(acts) != 1 {
		t.Fatalf("%d activities", len(acts))
	}
	a := acts[0]
	if a.WBS1 != "P-1" || a.OpportunityID != "O-1" || a.ContactID != "C-BOB" || a.ClientID != "F-OTHER" {
		t.Errorf("activity links = %+v", a)
	}
	tr, _, _ := e.eng.TrackStatus(ctx, id)
	if tr.State != store.TrackSynced || tr.ActivityID != a.ID {
		t.Errorf("track status = %+v", tr)
	}
	if cats := e.mb.get(id).Categories; !hasCategory(cats, "Blue") || !hasCategory(cats, "Vantagepoint: Synced") {
		t.Errorf("categories = %v", cats)
	}
}

// A track request withdrawn before it was filed (the add-in's Untrack)
// files nothing, also after a failure kept it for the next batch; one
// already filed answers its activity and stays.
func TestUntrackWithdrawsARequestNotYetFiled(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	msg := tagged("Tracked, then not", "alice@fabrikam.com")
	msg.Categories = nil
	id := e.mb.add("inbox", msg)
	e.vp.fail["CreateActivity"] = []error{fmt.Errorf("injected: %w", ErrInvalid)}
	e.eng.TrackEmail(ctx, store.Track{MessageID: id, Project: "P-1"})
	e.run() // refused: the request stays, to be retried
	if tr, _, _ := e.eng.TrackStatus(ctx, id); tr.State != store.TrackFailed {
		t.Fatalf("after a refused create the track is %+v; want failed", tr)
	}
	tr, found, err := e.eng.UntrackEmail(ctx, id)
	if err != nil || !found || tr.State == store.TrackSynced {
		t.Fatalf("untrack = %+v %v %v", tr, found, err)
	}
	e.run()
	if acts := e.vp.all(); len(acts) != 0 {
		t.Errorf("a withdrawn request was filed: %+v", acts)
	}
	if _, ok, _ := e.eng.TrackStatus(ctx, id); ok {
		t.Error("the withdrawn request is still there")
	}
	if _, found, _ := e.eng.UntrackEmail(ctx, "never-tracked"); found {
		t.Error("a message never tracked was found")
	}

	filed := e.mb.add("inbox", tagged("Filed already", "alice@fabrikam.com"))
	e.eng.TrackEmail(ctx, store.Track{MessageID: filed})
	e.run()
	tr, found, err = e.eng.UntrackEmail(ctx, filed)
	if err != nil || !found || tr.State != store.TrackSynced || tr.ActivityID == "" {
		t.Errorf("untrack of a filed e-mail = %+v %v %v; want its activity", tr, found, err)
	}
	if len(e.vp.all()) != 1 {
		t.Errorf("activities after untracking a filed e-mail: %d; it stays", len(e.vp.all()))
	}
}

func TestOnlyTheLookbackWindowIsTaken(t *testing.T) {
	e := newEnv(t, func(o *Options) { o.LookbackDays = 7 })
	old := tagged("Old", "alice@fabrikam.com")
	old.SentAt, old.ReceivedAt = now.AddDate(0, 0, -8), now.AddDate(0, 0, -8)
	e.mb.add("inbox", old)
	recent := tagged("Recent", "alice@fabrikam.com")
	recent.SentAt, recent.ReceivedAt = now.AddDate(0, 0, -6), now.AddDate(0, 0, -6)
	e.mb.add("inbox", recent)
	e.run()
	acts := e.vp.all()
	if len(acts) != 1 || acts[0].Subject != "Recent" {
		t.Fatalf("activities = %+v", acts)
	}
}

func TestLaterEditsAndDeletesChangeNothingInVantagepoint(t *testing.T) {
	e := newEnv(t)
	id := e.mb.add("inbox", tagged("Contract", "alice@fabrikam.com"))
	e.run()
	before := e.vp.all()
	e.mb.edit(id, func(m *Message) { m.Subject = "Contract (edited)"; m.Categories = []string{"Vantagepoint: Synced"} })
	e.run()
	e.mb.edit(id, func(m *Message) { m.Categories = []string{"Vantagepoint"} })
	e.run()
	e.mb.remove(id)
	b := e.run()
	after := e.vp.all()
	if len(after) != 1 || after[0] != before[0] {
		t.Fatalf("Vantagepoint changed: %+v → %+v", before, after)
	}
	if b.Outcome != OutcomeOK {
		t.Errorf("batch after a delete: %+v", b)
	}
}

func TestRefusedCreateMarksSyncErrorAndRetriesNextBatch(t *testing.T) {
	e := newEnv(t)
	id := e.mb.add("inbox", tagged("Budget", "alice@fabrikam.com"))
	e.vp.fail["CreateActivity"] = []error{fmt.Errorf("POST activity: 400 Invalid ContactID: %w", ErrInvalid)}
	b := e.run()
	if b.Outcome != OutcomeIssues || b.Counts[TypeEmails].Failed != 1 || len(b.Issues) != 1 {
		t.Fatalf("batch = %+v", b)
	}
	iss := b.Issues[0]
	if iss.Type != TypeEmails || iss.Side != SideVantagepoint || !strings.Contains(iss.Item, "Budget") || !strings.Contains(iss.Reason, "Invalid ContactID") {
		t.Errorf("issue = %+v", iss)
	}
	if cats := e.mb.get(id).Categories; !hasCategory(cats, "Vantagepoint: Sync Error") || hasCategory(cats, "Vantagepoint: Synced") {
		t.Errorf("categories after failure = %v", cats)
	}
	b2 := e.run()
	if len(e.vp.all()) != 1 || b2.Outcome != OutcomeOK || b2.Counts[TypeEmails].Created != 1 {
		t.Fatalf("retry batch = %+v, activities %d", b2, len(e.vp.all()))
	}
	cats := e.mb.get(id).Categories
	if !hasCategory(cats, "Vantagepoint: Synced") || hasCategory(cats, "Vantagepoint: Sync Error") {
		t.Errorf("categories after retry = %v", cats)
	}
	var open []store.Issue
	e.st.View(context.Background(), func(tx *store.Tx) error { open, _ = tx.OpenIssues(); return nil })
	if len(open) != 0 {
		t.Errorf("issue still open after success: %+v", open)
	}
}

func TestLostReplyIsFoundByNaturalKeyNotCreatedTwice(t *testing.T) {
	e := newEnv(t)
	id := e.mb.add("inbox", tagged("Invoice", "alice@fabrikam.com"))
	e.vp.lostReplies = 1
	b := e.run()
	if b.Outcome != OutcomeIssues {
		t.Fatalf("batch with a lost reply = %+v", b)
	}
	var journal []store.JournalEntry
	e.st.View(context.Background(), func(tx *store.Tx) error { journal, _ = tx.Journal(); return nil })
	if len(journal) != 1 {
		t.Fatalf("journal after a lost reply = %+v", journal)
	}
	b2 := e.run()
	acts := e.vp.all()
	if len(acts) != 1 {
		t.Fatalf("%d activities after recovery, want 1", len(acts))
	}
	if b2.Outcome != OutcomeOK || !hasCategory(e.mb.get(id).Categories, "Vantagepoint: Synced") {
		t.Errorf("recovery batch = %+v, categories %v", b2, e.mb.get(id).Categories)
	}
	e.st.View(context.Background(), func(tx *store.Tx) error { journal, _ = tx.Journal(); return nil })
	if len(journal) != 0 {
		t.Errorf("journal after recovery = %+v", journal)
	}
}

func TestCreateNeverSentIsRetriedAfterRecovery(t *testing.T) {
	e := newEnv(t)
	e.mb.add("inbox", tagged("Memo", "alice@fabrikam.com"))
	// A timeout whose request never reached the server.
	e.vp.fail["CreateActivity"] = []error{fmt.Errorf("POST activity: timeout: %w", ErrUnavailable)}
	e.run()
	if len(e.vp.all()) != 0 {
		t.Fatal("unexpected activity")
	}
	e.run()
	if n := len(e.vp.all()); n != 1 {
		t.Fatalf("%d activities after recovery, want 1", n)
	}
}

func TestResyncRelistsWithoutDuplicates(t *testing.T) {
	e := newEnv(t)
	e.mb.add("inbox", tagged("One", "alice@fabrikam.com"))
	e.run()
	e.mb.add("inbox", tagged("Two", "alice@fabrikam.com"))
	e.mb.forgetAll = true
	b := e.run()
	if n := len(e.vp.all()); n != 2 {
		t.Fatalf("%d activities after a resync, want 2", n)
	}
	if b.Outcome != OutcomeOK || b.Counts[TypeEmails].Created != 1 {
		t.Errorf("resync batch = %+v", b)
	}
}

func TestFailedListingFailsTheBatchAndKeepsTheCursor(t *testing.T) {
	e := newEnv(t)
	e.mb.add("inbox", tagged("One", "alice@fabrikam.com"))
	e.run()
	var cursor string
	e.st.View(context.Background(), func(tx *store.Tx) error { cursor, _ = tx.Cursor(folderCursorKey("F-INBOX")); return nil })
	e.mb.fail["MessageChanges"] = []error{fmt.Errorf("delta page 3: %w", ErrUnavailable)}
	b, err := e.eng.Run(context.Background(), TriggerSchedule)
	if !errors.Is(err, ErrUnavailable) || b.Outcome != OutcomeFailed || !strings.Contains(b.Error, "inbox") {
		t.Fatalf("batch = %+v, %v", b, err)
	}
	var after string
	e.st.View(context.Background(), func(tx *store.Tx) error { after, _ = tx.Cursor(folderCursorKey("F-INBOX")); return nil })
	if after != cursor || cursor == "" {
		t.Errorf("cursor %q → %q after a failed listing", cursor, after)
	}
}

func TestRejectedCredentialsFailTheBatch(t *testing.T) {
	e := newEnv(t)
	e.mb.add("inbox", tagged("One", "alice@fabrikam.com"))
	e.vp.fail["CreateActivity"] = []error{fmt.Errorf("POST activity: 401: %w", ErrAuthRejected)}
	b, err := e.eng.Run(context.Background(), TriggerSchedule)
	if !errors.Is(err, ErrAuthRejected) || b.Outcome != OutcomeFailed {
		t.Fatalf("batch = %+v, %v", b, err)
	}
}

func TestMissingConfiguredFolderIsAnIssue(t *testing.T) {
	e := newEnv(t, func(o *Options) { o.MailFolders = []string{"Projects"} })
	e.mb.add("inbox", tagged("One", "alice@fabrikam.com"))
	b := e.run()
	if b.Outcome != OutcomeIssues || len(b.Issues) != 1 || !strings.Contains(b.Issues[0].Reason, `"Projects"`) {
		t.Fatalf("batch = %+v", b)
	}
	if len(e.vp.all()) != 1 {
		t.Error("the other folders were not synced")
	}
}

func TestCategoryWriteFailureKeepsTheActivity(t *testing.T) {
	e := newEnv(t)
	id := e.mb.add("inbox", tagged("One", "alice@fabrikam.com"))
	e.mb.fail["SetMessageCategories"] = []error{fmt.Errorf("PATCH: %w", ErrUnavailable), fmt.Errorf("PATCH again: %w", ErrUnavailable)}
	b := e.run()
	if len(e.vp.all()) != 1 || b.Outcome != OutcomeIssues || b.Issues[0].Side != SideMailbox {
		t.Fatalf("batch = %+v", b)
	}
	b = e.run()
	if len(e.vp.all()) != 1 {
		t.Fatal("the activity was created again")
	}
	// The mark is set again by the next batch, though the message did not
	// change, and the issue closes.
	if cats := e.mb.get(id).Categories; !hasCategory(cats, "Vantagepoint: Synced") {
		t.Errorf("categories after the retry = %v", cats)
	}
	var open []store.Issue
	e.st.View(context.Background(), func(tx *store.Tx) error { open, _ = tx.OpenIssues(); return nil })
	if len(open) != 0 || b.Outcome != OutcomeOK {
		t.Errorf("after the retry: outcome %s, open issues %+v", b.Outcome, open)
	}
}

func TestResolveEmployee(t *testing.T) {
	ctx := context.Background()
	mb, vp := newFakeMailbox(), newFakeVP()
	_, emp, err := ResolveEmployee(ctx, mb, vp)
	if err != nil || emp.ID != "E001" {
		t.Fatalf("ResolveEmployee = %+v, %v", emp, err)
	}
	vp.employees = append(vp.employees, Employee{ID: "E777", Email: "dana@contoso.com", Status: "A"})
	if _, _, err := ResolveEmployee(ctx, mb, vp); err == nil || !strings.Contains(err.Error(), "E001, E777") {
		t.Errorf("two employees: %v", err)
	}
	vp.employees = []Employee{{ID: "E001", Email: "dana@contoso.com", Status: "T"}}
	if _, _, err := ResolveEmployee(ctx, mb, vp); err == nil || !strings.Contains(err.Error(), "no active Vantagepoint employee") {
		t.Errorf("terminated employee: %v", err)
	}
}
