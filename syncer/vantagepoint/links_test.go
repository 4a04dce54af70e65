package vantagepoint

import (
	"testing"

	"vpconnect/syncer"
	"vpconnect/syncer/vantagepoint/vpsim"
)

func TestRecordExists(t *testing.T) {
	e := newEnv(t, 0)
	e.sim.AddProject(vpsim.Project{WBS1: "2026001.00", Name: "Harbour bridge"})
	f := e.sim.AddFirm(vpsim.Firm{Name: "Fabrikam"})
	c := e.sim.AddContact(vpsim.Contact{LastName: "Ng", ClientID: f.ClientID})
	for _, tc := range []struct {
		kind syncer.LinkKind
		id   string
		want bool
	}{
		{syncer.LinkProject, "2026001.00", true},
		{syncer.LinkProject, "2026009.00", false},
		{syncer.LinkFirm, f.ClientID, true},
		{syncer.LinkContact, c.ContactID, true},
		{syncer.LinkContact, "C-NOBODY", false},
		// The simulator has no opportunity hub, as a server without it.
		{syncer.LinkOpportunity, "O-1", false},
	} {
		got, err := e.c.RecordExists(ctx, tc.kind, tc.id)
		if err != nil || got != tc.want {
			t.Errorf("RecordExists(%s, %s) = %v, %v; want %v", tc.kind, tc.id, got, err, tc.want)
		}
	}
	if _, err := e.c.RecordExists(ctx, "task", "x"); err == nil {
		t.Error("an unknown kind was checked")
	}
}
