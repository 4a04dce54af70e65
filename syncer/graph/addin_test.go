package graph

import (
	"context"
	"testing"

	"vpconnect/syncer"
	"vpconnect/syncer/graph/graphsim"
)

func TestAddinPropertyNameFollowsMSOXCEXT(t *testing.T) {
	// The simulator derives the name on its own; both must agree.
	for _, id := range []string{syncer.AddinManifestID, "{8159D090-4379-4395-A14A-D9E216D48366}", "urn:uuid:8159D090-4379-4395-A14A-D9E216D48366"} {
		if got, want := addinPropertyID(id), graphsim.AddinPropertyID(id); got != want {
			t.Errorf("addinPropertyID(%q) = %q, the simulator says %q", id, got, want)
		}
	}
	if !isAddinProperty("string {00020329-0000-0000-c000-000000000046} name cecp-"+syncer.AddinManifestID, syncer.AddinManifestID) {
		t.Error("the property spelt in lower case was not recognised")
	}
	if isAddinProperty("String {00020329-0000-0000-C000-000000000046} Name CECP-"+syncer.AddinManifestID, syncer.AddinManifestID) {
		t.Error("a name of another case was taken for the add-in's")
	}
}

func TestMessageReadsAddinChoice(t *testing.T) {
	e := newEnv(t, Options{})
	ctx := context.Background()
	tracked := e.sim.AddMessage("inbox", graphsim.Message{Subject: "Tracked", Categories: []string{"Vantagepoint"}})
	if err := e.sim.SetAddinProperties(tracked.ID, syncer.AddinManifestID, map[string]any{
		"project": "2026001.00", "contact": "C-1", "firm": "F-1", "opportunity": "", "savedBy": "pane 1.0"}); err != nil {
		t.Fatal(err)
	}
	got, err := e.client.Message(ctx, tracked.ID)
	if err != nil {
		t.Fatal(err)
	}
	want := syncer.AddinTrack{Links: syncer.Links{Project: "2026001.00", Contact: "C-1", Firm: "F-1"}}
	if got.Addin == nil || *got.Addin != want {
		t.Fatalf("Addin = %+v, want %+v", got.Addin, want)
	}

	// Another add-in's properties (another manifest Id) are not ours.
	other := e.sim.AddMessage("inbox", graphsim.Message{Subject: "Other add-in", Categories: []string{"Vantagepoint"}})
	if err := e.sim.SetAddinProperties(other.ID, "{00000000-1111-2222-3333-444444444444}", map[string]any{"project": "X"}); err != nil {
		t.Fatal(err)
	}
	if got, err := e.client.Message(ctx, other.ID); err != nil || got.Addin != nil {
		t.Errorf("another add-in's properties: %+v, %v", got.Addin, err)
	}

	// A damaged value is reported, not guessed at.
	bad := e.sim.AddMessage("inbox", graphsim.Message{Subject: "Bad", Categories: []string{"Vantagepoint"},
		ExtendedProperties: map[string]string{graphsim.AddinPropertyID(syncer.AddinManifestID): `{"project": 42}`}})
	if got, err := e.client.Message(ctx, bad.ID); err != nil || got.Addin == nil || got.Addin.Invalid == "" {
		t.Errorf("a non-text project: %+v, %v", got.Addin, err)
	}

	// A message without categories costs no second request.
	plain := e.sim.AddMessage("inbox", graphsim.Message{Subject: "Plain"})
	before := e.client.Requests()
	if got, err := e.client.Message(ctx, plain.ID); err != nil || got.Addin != nil {
		t.Errorf("plain: %+v, %v", got.Addin, err)
	}
	if n := e.client.Requests() - before; n != 1 {
		t.Errorf("reading a message without categories took %d requests, want 1", n)
	}
}

func TestParseAddinProperties(t *testing.T) {
	for in, want := range map[string]syncer.AddinTrack{
		`{"project":" P-1 ","contact":null}`: {Links: syncer.Links{Project: "P-1"}},
		`{}`:                                 {},
		`[]`:                                 {Invalid: "the add-in's saved choice is not a JSON object"},
		`not json`:                           {Invalid: "the add-in's saved choice is not a JSON object"},
		`{"firm":["F"]}`:                     {Invalid: "the add-in's saved firm is not text"},
	} {
		if got := syncer.ParseAddinProperties(in); got != want {
			t.Errorf("ParseAddinProperties(%s) = %+v, want %+v", in, got, want)
		}
	}
}
