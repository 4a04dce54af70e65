package syncer

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"vpconnect/syncer/store"
)

// checkingVP is the fake Vantagepoint that also knows which records exist,
// as the real client does through LinkChecker.
type checkingVP struct {
	*fakeVP
	mu     sync.Mutex
	known  map[LinkKind]map[string]bool
	checks int
	err    error
}

func (c *checkingVP) RecordExists(ctx context.Context, kind LinkKind, id string) (bool, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.checks++
	if c.err != nil {
		return false, c.err
	}
	return c.known[kind][id], nil
}

func newCheckingEnv(t *testing.T) (*env, *checkingVP) {
	t.Helper()
	e := newEnv(t)
	vp := &checkingVP{fakeVP: e.vp, known: map[LinkKind]map[string]bool{
		LinkProject: {"2026001.00": true, "2026002.00": true},
		LinkContact: {"C-ALICE": true, "C-BOB": true},
		LinkFirm:    {"F-FABRIKAM": true, "F-NORTHWIND": true},
	}}
	e.eng = New(e.mb, vp, e.st, Options{Employee: "E001", Now: func() time.Time { return now }})
	if err := e.eng.Prepare(context.Background()); err != nil {
		t.Fatal(err)
	}
	return e, vp
}

func TestAddinChoiceOnTheMessageFilesWithItsRecords(t *testing.T) {
	e, vp := newCheckingEnv(t)
	msg := tagged("Drawings rev B", "alice@fabrikam.com")
	msg.Addin = &AddinTrack{Links: Links{Project: "2026001.00", Contact: "C-BOB", Firm: "F-NORTHWIND"}}
	id := e.mb.add("inbox", msg)
	plain := tagged("Tagged by hand", "alice@fabrikam.com")
	e.mb.add("inbox", plain)

	e.run()
	acts := e.vp.all()
	if len(acts) != 2 {
		t.Fatalf("%d activities, want 2", len(acts))
	}
	for _, a := range acts {
		switch a.Subject {
		case "Drawings rev B":
			if a.WBS1 != "2026001.00" || a.ContactID != "C-BOB" || a.ClientID != "F-NORTHWIND" {
				t.Errorf("the add-in's choice was not used: %+v", a)
			}
		case "Tagged by hand":
			if a.WBS1 != "" || a.ContactID != "C-ALICE" || a.ClientID != "F-FABRIKAM" {
				t.Errorf("a message without a choice: %+v", a)
			}
		}
	}
	if vp.checks != 3 {
		t.Errorf("%d records checked, want 3 (project, contact, firm)", vp.checks)
	}
	// Filed through the mailbox, it answers GET /v1/track like a request.
	tr, ok, err := e.eng.TrackStatus(context.Background(), id)
	if err != nil || !ok || tr.State != store.TrackSynced || tr.Project != "2026001.00" || tr.ActivityID == "" {
		t.Errorf("track status = %+v, %v, %v", tr, ok, err)
	}
}

func TestAddinChoiceNeedsTheCategory(t *testing.T) {
	e, _ := newCheckingEnv(t)
	msg := tagged("Untracked again", "alice@fabrikam.com")
	msg.Categories = []string{"Blue"} // the user removed the category
	msg.Addin = &AddinTrack{Links: Links{Project: "2026001.00"}}
	e.mb.add("inbox", msg)
	e.run()
	if n := len(e.vp.all()); n != 0 {
		t.Fatalf("%d activities from a message without the category", n)
	}
}

func TestAddinChoiceLetsAPrivateMessageThrough(t *testing.T) {
	e, _ := newCheckingEnv(t)
	msg := tagged("Private, chosen", "alice@fabrikam.com")
	msg.Private = true
	msg.Addin = &AddinTrack{Links: Links{Project: "2026002.00"}}
	e.mb.add("inbox", msg)
	e.run()
	acts := e.vp.all()
	if len(acts) != 1 || !acts[0].Private || acts[0].WBS1 != "2026002.00" {
		t.Fatalf("activities = %+v", acts)
	}
}

func TestAddinChoiceOfAnUnknownRecordIsAnIssueUntilCorrected(t *testing.T) {
	e, _ := newCheckingEnv(t)
	msg := tagged("Wrong project", "alice@fabrikam.com")
	msg.Addin = &AddinTrack{Links: Links{Project: "1999999.99"}}
	id := e.mb.add("inbox", msg)

	b := e.run()
	if n := len(e.vp.all()); n != 0 {
		t.Fatalf("filed with a project that does not exist")
	}
	if b.Counts[TypeEmails].Failed != 1 || len(b.Issues) == 0 || !strings.Contains(b.Issues[0].Reason, `project "1999999.99"`) {
		t.Errorf("batch = %+v", b)
	}
	if cats := e.mb.get(id).Categories; !hasCategory(cats, "Vantagepoint: Sync Error") {
		t.Errorf("categories = %v, want the Sync Error mark", cats)
	}
	if _, ok, _ := e.eng.TrackStatus(context.Background(), id); ok {
		t.Error("a failed choice was kept as a track request; the message's properties must stay the truth")
	}

	// The user picks another project in the add-in: the next batch files it.
	e.mb.mu.Lock()
	fm := e.mb.msgs[id]
	fm.Addin = &AddinTrack{Links: Links{Project: "2026002.00"}}
	e.mb.mu.Unlock()
	e.run()
	acts := e.vp.all()
	if len(acts) != 1 || acts[0].WBS1 != "2026002.00" {
		t.Fatalf("after the correction: %+v", acts)
	}
}

func TestAddinChoiceUnreadableIsAnIssue(t *testing.T) {
	e, _ := newCheckingEnv(t)
	msg := tagged("Damaged", "alice@fabrikam.com")
	msg.Addin = &AddinTrack{Invalid: "the add-in's saved project is not text"}
	e.mb.add("inbox", msg)
	b := e.run()
	if len(e.vp.all()) != 0 || b.Counts[TypeEmails].Failed != 1 {
		t.Fatalf("batch = %+v, activities %d", b, len(e.vp.all()))
	}
}

func TestTrackRequestWinsAndTakesTheAddinChoiceWhenItNamesNone(t *testing.T) {
	e, _ := newCheckingEnv(t)
	ctx := context.Background()
	a := tagged("Both ways", "alice@fabrikam.com")
	a.Addin = &AddinTrack{Links: Links{Project: "2026001.00"}}
	ida := e.mb.add("inbox", a)
	b := tagged("Request names one", "alice@fabrikam.com")
	b.Addin = &AddinTrack{Links: Links{Project: "2026001.00"}}
	idb := e.mb.add("inbox", b)
	e.eng.TrackEmail(ctx, store.Track{MessageID: ida})
	e.eng.TrackEmail(ctx, store.Track{MessageID: idb, Project: "2026002.00"})
	e.run()
	got := map[string]string{}
	for _, act := range e.vp.all() {
		got[act.Subject] = act.WBS1
	}
	if got["Both ways"] != "2026001.00" || got["Request names one"] != "2026002.00" {
		t.Errorf("projects = %v", got)
	}
}

func TestTrackRequestOfAnUnknownRecordFails(t *testing.T) {
	e, _ := newCheckingEnv(t)
	ctx := context.Background()
	msg := tagged("Requested", "alice@fabrikam.com")
	msg.Categories = nil
	id := e.mb.add("inbox", msg)
	e.eng.TrackEmail(ctx, store.Track{MessageID: id, Contact: "C-NOBODY"})
	e.run()
	tr, _, _ := e.eng.TrackStatus(ctx, id)
	if len(e.vp.all()) != 0 || tr.State != store.TrackFailed || !strings.Contains(tr.Reason, `contact "C-NOBODY"`) {
		t.Errorf("track = %+v, activities %d", tr, len(e.vp.all()))
	}
}

func TestFailedEmailUntrackedBeforeFilingIsNotRetried(t *testing.T) {
	e, _ := newCheckingEnv(t)
	msg := tagged("Untracked after a failure", "alice@fabrikam.com")
	id := e.mb.add("inbox", msg)
	e.vp.fail["CreateActivity"] = []error{fmt.Errorf("400 bad request: %w", ErrInvalid)}
	if b := e.run(); b.Counts[TypeEmails].Failed != 1 {
		t.Fatalf("batch = %+v", b)
	}
	// The user takes the category away (the add-in's Untrack) before the
	// retry: nothing is filed, and the issue goes.
	e.mb.edit(id, func(m *Message) { m.Categories = []string{"Blue"} })
	b := e.run()
	if n := len(e.vp.all()); n != 0 {
		t.Fatalf("%d activities for an e-mail untracked before it was filed", n)
	}
	if len(b.Issues) != 0 {
		t.Errorf("issues left: %+v", b.Issues)
	}
	// Tagged again, it is filed.
	e.mb.edit(id, func(m *Message) { m.Categories = []string{"Vantagepoint"} })
	e.run()
	if n := len(e.vp.all()); n != 1 {
		t.Fatalf("%d activities after tagging again", n)
	}
}

func TestFailedTrackRequestIsRetriedWithItsRecords(t *testing.T) {
	e, _ := newCheckingEnv(t)
	ctx := context.Background()
	msg := tagged("Tracked, failed once", "alice@fabrikam.com")
	msg.Categories = nil
	id := e.mb.add("inbox", msg)
	e.eng.TrackEmail(ctx, store.Track{MessageID: id, Project: "2026002.00"})
	e.vp.fail["CreateActivity"] = []error{fmt.Errorf("400 bad request: %w", ErrInvalid)}
	// The Sync Error mark is not written either, so no delta round brings
	// the message back: only the retry of track requests files it (a
	// message without the category, so not as a failed e-mail).
	e.mb.fail["SetMessageCategories"] = []error{fmt.Errorf("503: %w", ErrUnavailable)}
	e.run()
	if tr, _, _ := e.eng.TrackStatus(ctx, id); tr.State != store.TrackFailed {
		t.Fatalf("track after the failure: %+v", tr)
	}
	e.run()
	acts := e.vp.all()
	if len(acts) != 1 || acts[0].WBS1 != "2026002.00" {
		t.Fatalf("retry: %+v", acts)
	}
	if tr, _, _ := e.eng.TrackStatus(ctx, id); tr.State != store.TrackSynced {
		t.Errorf("track after the retry: %+v", tr)
	}
}

func TestChoiceCorrectedAfterAFailedTrackRequestWins(t *testing.T) {
	e, _ := newCheckingEnv(t)
	ctx := context.Background()
	msg := tagged("Corrected in the add-in", "alice@fabrikam.com")
	msg.Addin = &AddinTrack{Links: Links{Project: "1999999.99"}}
	id := e.mb.add("inbox", msg)
	e.eng.TrackEmail(ctx, store.Track{MessageID: id, Project: "1999999.99"})
	e.run()
	if tr, _, _ := e.eng.TrackStatus(ctx, id); tr.State != store.TrackFailed {
		t.Fatalf("track after the first batch: %+v", tr)
	}
	// The user, away from the agent, picks another project in the add-in.
	e.mb.edit(id, func(m *Message) { m.Addin = &AddinTrack{Links: Links{Project: "2026002.00"}} })
	e.run()
	acts := e.vp.all()
	if len(acts) != 1 || acts[0].WBS1 != "2026002.00" {
		t.Fatalf("activities = %+v", acts)
	}
	if tr, _, _ := e.eng.TrackStatus(ctx, id); tr.State != store.TrackSynced || tr.Project != "2026002.00" {
		t.Errorf("track = %+v", tr)
	}
}
