package demo

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"strings"
	"testing"

	"vpconnect/syncer"
	"vpconnect/syncer/store"
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
	if c := b.Counts[syncer.TypeEmails]; b.Outcome != "ok" || c.Created != len(want) || c.Skipped != 1 || c.Failed != 0 {
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
		if !strings.Contains(a.Notes, "Message-ID: <demo-") {
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

	// A second batch writes nothing.
	before := len(d.Vantagepoint.Activities())
	b2, err := d.Batch(ctx, syncer.TriggerSchedule)
	if err != nil {
		t.Fatal(err)
	}
	if n := len(d.Vantagepoint.Activities()); n != before || b2.Counts[syncer.TypeEmails] != (store.Counts{}) {
		t.Errorf("second batch: %d → %d activities, %+v", before, n, b2)
	}
	// One request per collection per side (SPEC §4.6): the delta links of
	// Inbox, Sent Items, the contact folder and the calendar; Vantagepoint's
	// contacts and meetings changed since the last batch.
	if b2.Requests["graph"] != 4 || b2.Requests["vantagepoint"] != 2 {
		t.Errorf("no-change batch requests = %v, want graph 4, vantagepoint 2 (one per collection)", b2.Requests)
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
	if b["outcome"] != "ok" || b["trigger"] != "startup" {
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
