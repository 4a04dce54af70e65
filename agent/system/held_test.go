package system

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"vpconnect/agent"
	"vpconnect/auth"
	"vpconnect/syncer"
	"vpconnect/syncer/graph/graphsim"
)

// The empty-side guard end to end, on the simulators: when most of the
// contacts made in Outlook disappear at once, their Vantagepoint copies stay,
// batch after batch, and go only at the batch after the employee confirms
// on the Sync Options page.
func TestHeldDeletionsAreAppliedOnlyWhenConfirmedOnThePage(t *testing.T) {
	w := newFirstRunWorld(t, graphsim.Options{})
	ctx := context.Background()
	env := w.env(followRedirects, nil)
	env.LeaseSettle = 100 * time.Millisecond
	if _, err := (Activation{Env: env, Config: w.cfg, DataDir: w.cfg.DataDir,
		SignIn:      auth.SignInOptions{Browser: followRedirects, NoDeviceCode: true},
		Credentials: func(context.Context) (string, string, error) { return frVPUser, frPassword, nil }}).Run(ctx); err != nil {
		t.Fatal(err)
	}
	var folder string
	for _, f := range w.graph.ContactFolders() {
		if f.DisplayName == w.cfg.Sync.ContactFolder {
			folder = f.ID
		}
	}
	if folder == "" {
		t.Fatalf("activation made no contact folder %q: %+v", w.cfg.Sync.ContactFolder, w.graph.ContactFolders())
	}
	var ids []string
	for i := range 12 {
		c := w.graph.AddContact(folder, graphsim.Contact{GivenName: "Rana", Surname: fmt.Sprintf("Held%02d", i),
			EmailAddresses: []graphsim.Recipient{{Name: "Rana", Address: fmt.Sprintf("rana.held%02d@fabrikam.example", i)}}})
		ids = append(ids, c.ID)
	}
	vpCopies := func() int {
		n := 0
		for _, c := range w.vp.Contacts() {
			if strings.HasPrefix(c.LastName, "Held") {
				n++
			}
		}
		return n
	}
	sys := <-w.serve(t, env)
	base, dir := sys.API.BaseURL(), sys.DataDir
	waitStatus(t, base, dir, "the first batch", func(s agent.Status) bool { return s.LastBatch != nil && !s.Running })
	if n := vpCopies(); n != 12 {
		t.Fatalf("%d Vantagepoint copies after the first batch, want 12", n)
	}
	for _, id := range ids[:7] {
		w.graph.DeleteContact(id)
	}
	held := func(s agent.Status) bool {
		for _, i := range s.OpenIssues {
			if i.Type == "contacts" && i.Item == agent.HeldBackItem {
				return true
			}
		}
		return false
	}
	batch := func() agent.Status {
		t.Helper()
		if r := syncNow(t, sys); r.Err != nil {
			t.Fatalf("batch: %v", r.Err)
		}
		return waitStatus(t, base, dir, "the batch's status", func(s agent.Status) bool { return !s.Running })
	}
	for i := range 2 {
		st := batch()
		if !held(st) || vpCopies() != 12 {
			t.Fatalf("batch %d after the deletions: held %v, %d Vantagepoint copies; issues %+v", i+1, held(st), vpCopies(), st.OpenIssues)
		}
	}
	for _, i := range sys.Agent.Status().OpenIssues {
		if i.Item == agent.HeldBackItem && !strings.Contains(i.Reason, "Confirming deletes 7 contacts in Vantagepoint") {
			t.Errorf("the issue does not say what a confirmation deletes: %s", i.Reason)
		}
	}
	page := pageSession(t, base, dir)
	if code, body := page("POST", "/ui/action", `{"action":"confirm-deletes","type":"contacts"}`); code != 200 {
		t.Fatalf("confirm on the page: %d %s", code, body)
	}
	st := waitStatus(t, base, dir, "the batch after the confirmation", func(s agent.Status) bool { return !held(s) && !s.Running })
	if n := vpCopies(); n != 5 {
		t.Fatalf("%d Vantagepoint copies after the confirmation, want 5; status %+v", n, st)
	}
}

// syncNow runs a batch on the running agent now and returns its result.
func syncNow(t *testing.T, sys *System) agent.Result {
	t.Helper()
	tk, err := sys.Agent.SyncNow(context.Background(), syncer.TriggerManual)
	if err != nil {
		t.Fatalf("sync now: %v", err)
	}
	select {
	case r := <-tk.Done:
		return r
	case <-time.After(60 * time.Second):
		t.Fatal("no batch within 60 s")
	}
	return agent.Result{}
}
