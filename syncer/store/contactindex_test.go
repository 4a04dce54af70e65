package store

import (
	"errors"
	"path/filepath"
	"testing"
	"time"
)

var errRollback = errors.New("roll back")

func indexRows(t *testing.T, s *Store) map[string]IndexedContact {
	t.Helper()
	out := map[string]IndexedContact{}
	if err := s.View(ctx, func(tx *Tx) error {
		return tx.IndexedContacts(func(c IndexedContact) error { out[c.ContactID] = c; return nil })
	}); err != nil {
		t.Fatal(err)
	}
	return out
}

func TestContactIndexKeepsContactsAndMarksOnDisk(t *testing.T) {
	s, path := openTemp(t)
	t0 := time.Date(2026, 11, 2, 9, 0, 0, 0, time.UTC)
	marks := ContactIndexMarks{HighWater: t0.Add(-time.Hour).Add(123 * time.Millisecond), FullListed: t0, Source: "1 https://vp.example/api db"}
	err := s.Update(ctx, func(tx *Tx) error {
		if err := tx.PutIndexedContacts(
			IndexedContact{ContactID: "C1", ClientID: "F1", FirstName: "Alice", LastName: "Ng", Email: " Alice@Fabrikam.com ", Status: "A", ModDate: t0.Add(-2 * time.Hour)},
			IndexedContact{ContactID: "C2", FirstName: "Bob", LastName: "Ray", Email: "bob@northwind.example", Status: "I", ModDate: t0.Add(-time.Hour)},
			IndexedContact{ContactID: "C3", LastName: "No Mail"},
		); err != nil {
			return err
		}
		return tx.SetContactIndexMarks(marks)
	})
	if err != nil {
		t.Fatal(err)
	}
	s.Close()

	s, err = Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	rows := indexRows(t, s)
	if len(rows) != 2 {
		t.Fatalf("index = %+v; want C1 and C2 (a contact without an e-mail is not indexed)", rows)
	}
	if c := rows["C1"]; c.ClientID != "F1" || c.FirstName != "Alice" || c.LastName != "Ng" || c.Email != " Alice@Fabrikam.com " ||
		c.Status != "A" || !c.ModDate.Equal(t0.Add(-2*time.Hour)) {
		t.Errorf("C1 read back as %+v", c)
	}
	s.View(ctx, func(tx *Tx) error {
		got, err := tx.ContactIndexMarks()
		if err != nil || !got.HighWater.Equal(marks.HighWater) || !got.FullListed.Equal(marks.FullListed) || got.Source != marks.Source {
			t.Errorf("marks = %+v, %v; want %+v", got, err, marks)
		}
		byMail, err := tx.IndexedContactsByEmail("alice@FABRIKAM.com")
		if err != nil || len(byMail) != 1 || byMail[0].ContactID != "C1" {
			t.Errorf("by e-mail = %+v, %v", byMail, err)
		}
		if n, err := tx.CountIndexedContacts(); n != 2 || err != nil {
			t.Errorf("count = %d, %v", n, err)
		}
		return nil
	})
}

func TestContactIndexUpsertMovesAndRemovesAddresses(t *testing.T) {
	s, _ := openTemp(t)
	put := func(cs ...IndexedContact) {
		t.Helper()
		if err := s.Update(ctx, func(tx *Tx) error { return tx.PutIndexedContacts(cs...) }); err != nil {
			t.Fatal(err)
		}
	}
	byMail := func(addr string) []IndexedContact {
		t.Helper()
		var out []IndexedContact
		if err := s.View(ctx, func(tx *Tx) error { var err error; out, err = tx.IndexedContactsByEmail(addr); return err }); err != nil {
			t.Fatal(err)
		}
		return out
	}
	put(IndexedContact{ContactID: "C1", Email: "old@x.example", Status: "A"}, IndexedContact{ContactID: "C2", Email: "old@x.example", Status: "I"})
	if got := byMail("old@x.example"); len(got) != 2 || got[0].ContactID != "C1" || got[1].ContactID != "C2" {
		t.Fatalf("two contacts sharing an address = %+v", got)
	}
	// Upserting the same contact twice (an overlapping listing) is one row.
	put(IndexedContact{ContactID: "C1", Email: "New@X.example", Status: "A"})
	put(IndexedContact{ContactID: "C1", Email: "New@X.example", Status: "A"})
	if got := byMail("old@x.example"); len(got) != 1 || got[0].ContactID != "C2" {
		t.Errorf("old address after C1 moved = %+v", got)
	}
	if got := byMail("new@x.example"); len(got) != 1 || got[0].ContactID != "C1" || got[0].Email != "New@X.example" {
		t.Errorf("new address = %+v", got)
	}
	// An address removed in Vantagepoint takes the contact out.
	put(IndexedContact{ContactID: "C2", Email: "  "})
	if rows := indexRows(t, s); len(rows) != 1 {
		t.Errorf("index after C2 lost its address = %+v", rows)
	}
	if err := s.Update(ctx, func(tx *Tx) error { return tx.DeleteIndexedContact("C1") }); err != nil {
		t.Fatal(err)
	}
	if rows := indexRows(t, s); len(rows) != 0 {
		t.Errorf("index after delete = %+v", rows)
	}
}

func TestClearContactIndexForgetsRowsAndMarks(t *testing.T) {
	s, _ := openTemp(t)
	err := s.Update(ctx, func(tx *Tx) error {
		if err := tx.PutIndexedContacts(IndexedContact{ContactID: "C1", Email: "a@x.example"}); err != nil {
			return err
		}
		return tx.SetContactIndexMarks(ContactIndexMarks{HighWater: time.Now(), FullListed: time.Now(), Source: "s"})
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Update(ctx, func(tx *Tx) error { return tx.ClearContactIndex() }); err != nil {
		t.Fatal(err)
	}
	s.View(ctx, func(tx *Tx) error {
		m, err := tx.ContactIndexMarks()
		if err != nil || m != (ContactIndexMarks{}) {
			t.Errorf("marks after clear = %+v, %v", m, err)
		}
		return nil
	})
	if rows := indexRows(t, s); len(rows) != 0 {
		t.Errorf("rows after clear = %+v", rows)
	}
	// A rolled-back write leaves nothing (rows and marks are one transaction).
	s.Update(ctx, func(tx *Tx) error {
		tx.PutIndexedContacts(IndexedContact{ContactID: "C9", Email: "z@x.example"})
		tx.SetContactIndexMarks(ContactIndexMarks{Source: "s"})
		return errRollback
	})
	if rows := indexRows(t, s); len(rows) != 0 {
		t.Errorf("rows after a rolled-back write = %+v", rows)
	}
	if err := s.View(ctx, func(tx *Tx) error { return tx.PutIndexedContacts(IndexedContact{ContactID: "C1", Email: "a@x"}) }); err == nil {
		t.Error("PutIndexedContacts in a read transaction succeeded")
	}
}

func TestStateOfSchemaTwoGainsAnEmptyContactIndex(t *testing.T) {
	path := filepath.Join(t.TempDir(), "sync.db")
	saved := migrations
	defer func() { migrations = saved }()
	migrations = saved[:2]
	s, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Update(ctx, func(tx *Tx) error { return tx.SetMeta("kept", "yes") }); err != nil {
		t.Fatal(err)
	}
	s.Close()
	migrations = saved
	s, err = Open(path)
	if err != nil {
		t.Fatalf("Open after the upgrade: %v", err)
	}
	defer s.Close()
	s.View(ctx, func(tx *Tx) error {
		m, err := tx.ContactIndexMarks()
		if err != nil || !m.FullListed.IsZero() {
			t.Errorf("marks of an upgraded state = %+v, %v", m, err)
		}
		if n, err := tx.CountIndexedContacts(); n != 0 || err != nil {
			t.Errorf("upgraded index has %d contacts, %v", n, err)
		}
		if v, _ := tx.Meta("kept"); v != "yes" {
			t.Errorf("meta lost in the upgrade: %q", v)
		}
		return nil
	})
}
