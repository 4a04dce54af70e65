package vantagepoint_test

import (
	"context"
	"net/http"
	"testing"

	"golang.org/x/oauth2"

	"vpconnect/syncer/vantagepoint"
	"vpconnect/syncer/vantagepoint/vpsim"
)

// The add-in's and Sync Options' searches against the simulated server: a project
// search offers projects, not their phases and tasks (GET project answers
// all three), and a server without the opportunity hub (Vantagepoint 4.0
// and later keep pursuits as projects) offers no opportunities rather than
// an error.
func TestSearches(t *testing.T) {
	sim := vpsim.New(vpsim.Options{})
	if _, err := sim.Start(""); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(sim.Close)
	sim.AddUser("jdoe", "pw", "E001")
	c, err := vantagepoint.New(vantagepoint.Options{APIURL: sim.APIURL(), HTTPClient: &http.Client{Transport: &http.Transport{}},
		TokenSource: oauth2.StaticTokenSource(&oauth2.Token{AccessToken: sim.IssueAccessToken("jdoe"), TokenType: "bearer"})})
	if err != nil {
		t.Fatal(err)
	}
	sim.AddProject(vpsim.Project{WBS1: "2026.001", Name: "Harbor Tower"})
	sim.AddProject(vpsim.Project{WBS1: "2026.001", WBS2: "01", Name: "Harbor Tower design"})
	sim.AddProject(vpsim.Project{WBS1: "2026.001", WBS2: "01", WBS3: "A", Name: "Harbor Tower sketches"})
	ctx := context.Background()
	ms, err := c.Search(ctx, "project", "harbor", 10)
	if err != nil || len(ms) != 1 || ms[0].ID != "2026.001" || ms[0].Name != "Harbor Tower" {
		t.Errorf("project search: %+v %v; want the project alone", ms, err)
	}
	ms, err = c.Search(ctx, "opportunity", "harbor", 10)
	if err != nil || ms == nil || len(ms) != 0 {
		t.Errorf("opportunity search without the hub: %+v %v; want none, no error", ms, err)
	}
}
