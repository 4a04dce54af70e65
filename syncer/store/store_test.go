package store

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func openTemp(t *testing.T) (*Store, string) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "state", "sync.db")
	s, err := Open(path)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() { s.Close() })
	return s, path
}

var ctx = context.Background()

func TestOpenCreatesPrivateFilesInWALMode(t *testing.T) {
	s, path := openTemp(t)
	if err := s.Update(ctx, func(tx *Tx) error { return tx.SetMeta("k", "v") }); err != nil {
		t.Fatal(err)
	}
	var mode string
	if err := s.db.QueryRow("PRAGMA journal_mode").Scan(&mode); err != nil || mode != "wal" {
		t.Fatalf("journal_mode = %q, %v; want wal", mode, err)
	}
	for _, p := range []string{path, path + "-wal", path + "-shm"} {
		fi, err := os.Stat(p)
		if err != nil {
			t.Fatalf("stat %s: %v", p, err)
		}
		if fi.Mode().Perm() != 0o600 {
			t.Errorf("%s has mode %v, want 0600", filepath.Base(p), fi.Mode().Perm())
		}
	}
	fi, err := os.Stat(filepath.Dir(path))
	if err != nil || fi.Mode().Perm() != 0o700 {
		t.Errorf("state dir mode = %v, %v; want 0700", fi.Mode().Perm(), err)
	}
}

func TestMigrationsRunOnceAndRecordTheVersion(t *testing.T) {
	s, path := openTemp(t)
	var v int
	if err := s.db.QueryRow("PRAGMA user_version").Scan(&v); err != nil || v != SchemaVersion() {
		t.Fatalf("user_version = %d, %v; want %d", v, err, SchemaVersion())
	}
	if err := s.Update(ctx, func(tx *Tx) error { return tx.SetMeta("kept", "yes") }); err != nil {
		t.Fatal(err)
	}
	s.Close()
	// Reopening must not re-run migration 1 (it would fail on CREATE TABLE)
	// and must keep the data.
	s2, err := Open(path)
	if err != nil {
		t.Fatalf("reopen: %v", err)
	}
	defer s2.Close()
	s2.View(ctx, func(tx *Tx) error {
		if v, _ := tx.Meta("kept"); v != "yes" {
			t.Errorf("meta after reopen = %q", v)
		}
		return nil
	})
}

func TestFailedMigrationLeavesThePreviousSchema(t *testing.T) {
	path := filepath.Join(t.TempDir(), "sync.db")
	saved := migrations
	defer func() { migrations = saved }()
	migrations = append(append([]string{}, saved...), `CREATE TABLE extra(x); THIS IS NOT SQL;`)
	want := fmt.Sprintf("schema version %d", len(saved)+1)
	if _, err := Open(path); err == nil || !strings.Contains(err.Error(), want) {
		t.Fatalf("Open with a broken migration: %v; want an error naming %s", err, want)
	}
	migrations = saved
	s, err := Open(path)
	if err != nil {
		t.Fatalf("Open after the failed migration: %v", err)
	}
	defer s.Close()
	var n int
	s.db.QueryRow(`SELECT count(*) FROM sqlite_master WHERE name = 'extra'`).Scan(&n)
	if n != 0 {
		t.Fatal("half of the failed migration was committed")
	}
}

func TestNewerSchemaIsRefused(t *testing.T) {
	s, path := openTemp(t)
	s.db.Exec(`PRAGMA user_version = 99`)
	s.Close()
	if _, err := Open(path); err == nil || !strings.Contains(err.Error(), "newer than this vpconnect") {
		t.Fatalf("Open of a newer schema: %v", err)
	}
}

func TestCorruptDatabaseIsDetectedAndRecreated(t *testing.T) {
	path := filepath.Join(t.TempDir(), "sync.db")
	junk := []byte(strings.Repeat("this is not a database, ", 400))
	if err := os.WriteFile(path, junk, 0o600); err != nil {
		t.Fatal(err)
	}
	_, err := Open(path)
	if !errors.Is(err, ErrCorrupt) {
		t.Fatalf("Open of junk: %v; want ErrCorrupt", err)
	}
	s, err := Recreate(path)
	if err != nil {
		t.Fatalf("Recreate: %v", err)
	}
	defer s.Close()
	matches, _ := filepath.Glob(path + ".corrupt-*")
	if len(matches) != 1 {
		t.Fatalf("corrupt file kept aside: %v", matches)
	}
	if err := s.Update(ctx, func(tx *Tx) error { return tx.SetCursor("c", "v", time.Now()) }); err != nil {
		t.Fatalf("write to the recreated store: %v", err)
	}
}

func TestUpdateIsAllOrNothing(t *testing.T) {
	s, _ := openTemp(t)
	boom := errors.New("boom")
	err := s.Update(ctx, func(tx *Tx) error {
		if err := tx.PutEmail(Email{InternetMessageID: "<a@x>", MessageID: "m1", State: EmailPending, Updated: time.Now()}); err != nil {
			return err
		}
		if _, err := tx.AddJournal(JournalEntry{Type: "emails", Op: "create", Key: "<a@x>", Created: time.Now()}); err != nil {
			return err
		}
		return boom
	})
	if !errors.Is(err, boom) {
		t.Fatalf("Update returned %v", err)
	}
	s.View(ctx, func(tx *Tx) error {
		if _, ok, _ := tx.Email("<a@x>"); ok {
			t.Error("the e-mail of a rolled-back batch was kept")
		}
		if j, _ := tx.Journal(); len(j) != 0 {
			t.Errorf("journal of a rolled-back batch: %v", j)
		}
		return nil
	})
}

func TestViewRefusesWrites(t *testing.T) {
	s, _ := openTemp(t)
	err := s.View(ctx, func(tx *Tx) error { return tx.SetMeta("a", "b") })
	if err == nil {
		t.Fatal("a write inside View succeeded")
	}
}

func TestEmailsTracksAndAgentWrites(t *testing.T) {
	s, _ := openTemp(t)
	now := time.Date(2026, 11, 2, 9, 0, 0, 0, time.UTC)
	err := s.Update(ctx, func(tx *Tx) error {
		for i, st := range []EmailState{EmailSynced, EmailFailed, EmailPending} {
			e := Email{InternetMessageID: string(rune('a'+i)) + "@x", MessageID: "m" + string(rune('a'+i)), State: st, Updated: now.Add(time.Duration(i) * time.Minute)}
			if err := tx.PutEmail(e); err != nil {
				return err
			}
		}
		if err := tx.SetAgentChangeKey("ma", "CK1"); err != nil {
			return err
		}
		if err := tx.SetAgentChangeKey("ma", "CK2"); err != nil {
			return err
		}
		return tx.PutTrack(Track{MessageID: "mt", Project: "P1", State: TrackQueued, Requested: now})
	})
	if err != nil {
		t.Fatal(err)
	}
	s.View(ctx, func(tx *Tx) error {
		retry, err := tx.EmailsIn(EmailFailed, EmailPending)
		if err != nil || len(retry) != 2 || retry[0].State != EmailFailed || retry[1].State != EmailPending {
			t.Errorf("EmailsIn(failed, pending) = %+v, %v", retry, err)
		}
		if ck, _ := tx.AgentChangeKey("ma"); ck != "CK2" {
			t.Errorf("agent change key = %q, want the latest", ck)
		}
		if ck, _ := tx.AgentChangeKey("none"); ck != "" {
			t.Errorf("agent change key of an untouched message = %q", ck)
		}
		q, err := tx.QueuedTracks()
		if err != nil || len(q) != 1 || q[0].Project != "P1" || !q[0].Requested.Equal(now) {
			t.Errorf("QueuedTracks = %+v, %v", q, err)
		}
		return nil
	})
}

func TestPairingsAreOneToOne(t *testing.T) {
	s, _ := openTemp(t)
	err := s.Update(ctx, func(tx *Tx) error {
		if err := tx.PutPairing(Pairing{Type: "contacts", MailboxID: "M1", VPID: "V1", Updated: time.Now()}); err != nil {
			return err
		}
		// Re-pairing V1 with another mailbox item replaces the old pair.
		return tx.PutPairing(Pairing{Type: "contacts", MailboxID: "M2", VPID: "V1", Origin: "vantagepoint", Updated: time.Now()})
	})
	if err != nil {
		t.Fatal(err)
	}
	s.View(ctx, func(tx *Tx) error {
		if n, _ := tx.CountPairings("contacts"); n != 1 {
			t.Errorf("%d pairings, want 1", n)
		}
		if _, ok, _ := tx.PairingByMailbox("contacts", "M1"); ok {
			t.Error("the replaced pairing is still there")
		}
		p, ok, _ := tx.PairingByVP("contacts", "V1")
		if !ok || p.MailboxID != "M2" || p.Origin != "vantagepoint" {
			t.Errorf("PairingByVP = %+v, %v", p, ok)
		}
		return nil
	})
}

func TestPairingsOfTheFirstSchemaGainAnEmptyChangeKey(t *testing.T) {
	path := filepath.Join(t.TempDir(), "sync.db")
	saved := migrations
	defer func() { migrations = saved }()
	migrations = saved[:1]
	s, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.db.Exec(`INSERT INTO pairings(type, mailbox_id, vp_id, mailbox_version, vp_version, origin, updated)
		VALUES('contacts', 'M1', 'V1', 'mh', 'vh', 'both', '2026-01-01T00:00:00Z')`); err != nil {
		t.Fatal(err)
	}
	s.Close()
	migrations = saved
	s, err = Open(path)
	if err != nil {
		t.Fatalf("Open after the upgrade: %v", err)
	}
	defer s.Close()
	err = s.Update(ctx, func(tx *Tx) error {
		p, ok, err := tx.PairingByMailbox("contacts", "M1")
		if err != nil || !ok || p.MailboxVersion != "mh" || p.MailboxChangeKey != "" {
			t.Errorf("upgraded pairing = %+v, %v, %v", p, ok, err)
		}
		p.MailboxChangeKey = "CK9"
		return tx.PutPairing(p)
	})
	if err != nil {
		t.Fatal(err)
	}
	s.View(ctx, func(tx *Tx) error {
		if p, _, _ := tx.PairingByVP("contacts", "V1"); p.MailboxChangeKey != "CK9" {
			t.Errorf("change key not kept: %+v", p)
		}
		return nil
	})
}

func TestBatchesAndIssues(t *testing.T) {
	s, _ := openTemp(t)
	t0 := time.Date(2026, 10, 1, 8, 0, 0, 0, time.UTC)
	var first, second int64
	err := s.Update(ctx, func(tx *Tx) error {
		var err error
		if first, err = tx.StartBatch("startup", t0); err != nil {
			return err
		}
		iss, err := tx.RecordIssue(Issue{Type: "emails", Side: "vantagepoint", Item: "Hello", Reason: "503"}, t0)
		if err != nil || iss.Attempts != 1 {
			t.Errorf("first RecordIssue = %+v, %v", iss, err)
		}
		if err := tx.FinishBatch(Batch{ID: first, Trigger: "startup", Started: t0, Finished: t0.Add(time.Second), Outcome: "issues",
			Counts: map[string]Counts{"emails": {Scanned: 3, Failed: 1}}, Issues: []Issue{iss}}); err != nil {
			return err
		}
		t1 := t0.AddDate(0, 0, 31)
		if second, err = tx.StartBatch("schedule", t1); err != nil {
			return err
		}
		iss, err = tx.RecordIssue(Issue{Type: "emails", Side: "vantagepoint", Item: "Hello", Reason: "timeout"}, t1)
		if err != nil || iss.Attempts != 2 || !iss.FirstSeen.Equal(t0) || iss.Reason != "timeout" {
			t.Errorf("second RecordIssue = %+v, %v", iss, err)
		}
		return tx.FinishBatch(Batch{ID: second, Trigger: "schedule", Started: t1, Finished: t1, Outcome: "ok"})
	})
	if err != nil {
		t.Fatal(err)
	}
	s.View(ctx, func(tx *Tx) error {
		b, ok, err := tx.Batch(first)
		if err != nil || !ok || b.Counts["emails"].Scanned != 3 || len(b.Issues) != 1 {
			t.Errorf("Batch(%d) = %+v, %v, %v", first, b, ok, err)
		}
		last, ok, _ := tx.LastBatch()
		if !ok || last.ID != second {
			t.Errorf("LastBatch = %d, want %d", last.ID, second)
		}
		return nil
	})
	s.Update(ctx, func(tx *Tx) error {
		n, err := tx.PruneBatches(t0.AddDate(0, 0, 1))
		if n != 1 || err != nil {
			t.Errorf("PruneBatches = %d, %v", n, err)
		}
		return tx.ResolveIssue("emails", "vantagepoint", "Hello")
	})
	s.View(ctx, func(tx *Tx) error {
		if open, _ := tx.OpenIssues(); len(open) != 0 {
			t.Errorf("open issues after resolve: %v", open)
		}
		if _, ok, _ := tx.Batch(first); ok {
			t.Error("a batch older than 30 days was kept")
		}
		return nil
	})
}

func TestUnfinishedBatchReadsBack(t *testing.T) {
	s, _ := openTemp(t)
	var id int64
	s.Update(ctx, func(tx *Tx) error { id, _ = tx.StartBatch("manual", time.Now()); return nil })
	s.View(ctx, func(tx *Tx) error {
		b, ok, err := tx.Batch(id)
		if !ok || err != nil || b.Trigger != "manual" || b.Outcome != "" {
			t.Errorf("unfinished batch = %+v, %v, %v", b, ok, err)
		}
		if _, ok, _ := tx.LastBatch(); ok {
			t.Error("LastBatch returned an unfinished batch")
		}
		return nil
	})
}
