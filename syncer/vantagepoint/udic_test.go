package vantagepoint

import (
	"errors"
	"fmt"
	"testing"

	"vpconnect/syncer"
	"vpconnect/syncer/vantagepoint/vpsim"
)

func TestUDIC(t *testing.T) {
	e := newEnv(t, 0)
	if _, err := e.c.UDICMetadata(ctx, "UDIC_ConnectAgent"); !errors.Is(err, syncer.ErrNotFound) {
		t.Fatalf("hub not created yet: %v", err)
	}
	e.sim.AddHub("UDIC_ConnectAgent", []vpsim.HubField{
		{Name: "CustEmployee", Type: vpsim.FieldString, Required: true},
		{Name: "CustSyncStatus", Type: vpsim.FieldString},
		{Name: "CustOpenIssues", Type: vpsim.FieldNumber},
		{Name: "CustLastBatch", Type: vpsim.FieldDate},
	})
	md, err := e.c.UDICMetadata(ctx, "UDIC_ConnectAgent")
	if err != nil {
		t.Fatal(err)
	}
	if f, ok := md.Field("CustEmployee"); !ok || !f.Required {
		t.Fatalf("metadata: %+v", md)
	}
	r, err := e.c.UDICCreate(ctx, "UDIC_ConnectAgent", Record{"CustEmployee": "E001", "CustOpenIssues": 2, "CustSyncStatus": "Enabled"})
	if err != nil {
		t.Fatal(err)
	}
	uid := r.String("UDIC_UID")
	if len(uid) != 32 || r.String("CustOpenIssues") != "2" {
		t.Fatalf("created %v", r)
	}
	if err := e.sim.UpdateUDIC("UDIC_ConnectAgent", uid, map[string]any{"CustSyncStatus": "Disabled"}); err != nil {
		t.Fatal(err)
	}
	got, err := e.c.UDICGet(ctx, "UDIC_ConnectAgent", uid)
	if err != nil || got.String("CustSyncStatus") != "Disabled" {
		t.Fatalf("get: %v %v", got, err)
	}
	if _, err := e.c.UDICUpdate(ctx, "UDIC_ConnectAgent", uid, Record{"CustOpenIssues": 0}); err != nil {
		t.Fatal(err)
	}
	for i := range 3 {
		if _, err := e.c.UDICCreate(ctx, "UDIC_ConnectAgent", Record{"CustEmployee": fmt.Sprintf("E10%d", i)}); err != nil {
			t.Fatal(err)
		}
	}
	n := 0
	err = e.c.UDICList(ctx, "UDIC_ConnectAgent", Query{Filters: []Filter{{Name: "CustEmployee", Op: OpLike, Value: "e10%"}}}, func(rs []Record) error {
		n += len(rs)
		return nil
	})
	if err != nil || n != 3 {
		t.Fatalf("list: %d %v", n, err)
	}
	if _, err := e.c.UDICCreate(ctx, "UDIC_ConnectAgent", Record{"CustSyncStatus": "Enabled"}); !errors.Is(err, syncer.ErrInvalid) {
		t.Fatalf("missing required field: %v", err)
	}
	if err := e.c.UDICDelete(ctx, "UDIC_ConnectAgent", uid); err != nil {
		t.Fatal(err)
	}
	if len(e.sim.UDICRecords("UDIC_ConnectAgent")) != 3 {
		t.Fatal("delete did not delete")
	}
}

func FuzzDecodeRecords(f *testing.F) {
	f.Add([]byte(`[{"ContactID":"A","ModDate":"2026-01-01T00:00:00.000","Email":null}]`))
	f.Add([]byte(`{"ClientID":"x","HasHierarchy":1}`))
	f.Add([]byte(`[null]`))
	f.Add([]byte(`[{"ContactID":"8A1F`))
	f.Add([]byte(`[] []`))
	f.Fuzz(func(t *testing.T, b []byte) {
		rs, err := DecodeRecords(b)
		if err != nil {
			if !errors.Is(err, syncer.ErrMalformed) {
				t.Fatalf("error not ErrMalformed: %v", err)
			}
			return
		}
		for _, r := range rs {
			if r == nil {
				t.Fatal("nil record")
			}
			ContactFromRecord(r)
			ActivityFromRecord(r)
			EmployeeFromRecord(r)
		}
	})
}

func BenchmarkListContacts5000(b *testing.B) {
	sim := vpsim.New(vpsim.Options{})
	if _, err := sim.Start(""); err != nil {
		b.Fatal(err)
	}
	defer sim.Close()
	sim.AddUser("jdoe", "pw", "E001")
	for i := range 5000 {
		sim.AddContact(vpsim.Contact{FirstName: "F", LastName: fmt.Sprint(i), Email: fmt.Sprintf("c%d@example.com", i), Owner: "E001"})
	}
	c, err := New(Options{APIURL: sim.APIURL(), TokenSource: staticToken(sim.IssueAccessToken("jdoe"))})
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		n := 0
		err := c.Contacts(ctx, syncer.ContactQuery{Owner: "E001", ActiveOnly: true, WithEmail: true}, func(cs []syncer.Contact) error {
			n += len(cs)
			return nil
		})
		if err != nil || n != 5000 {
			b.Fatalf("%d contacts, %v", n, err)
		}
	}
	b.ReportMetric(float64(c.Requests())/float64(b.N), "requests/op")
}
