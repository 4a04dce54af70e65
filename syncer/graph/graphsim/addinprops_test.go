package graphsim

import (
	"net/http"
	"net/url"
	"strings"
	"testing"
)

const testManifestID = "{8159D090-4379-4395-A14A-D9E216D48366}"

func TestAddinPropertyName(t *testing.T) {
	// [MS-OXCEXT] 2.2.5: lower case, no braces, no urn:uuid prefix.
	for in, want := range map[string]string{
		"{8159D090-4379-4395-A14A-D9E216D48366}":          "cecp-8159d090-4379-4395-a14a-d9e216d48366",
		"urn:uuid:8159D090-4379-4395-A14A-D9E216D48366":   "cecp-8159d090-4379-4395-a14a-d9e216d48366",
		"8159d090-4379-4395-a14a-d9e216d48366":            "cecp-8159d090-4379-4395-a14a-d9e216d48366",
		"{URN:UUID:8159D090-4379-4395-A14A-D9E216D48366}": "cecp-8159d090-4379-4395-a14a-d9e216d48366",
	} {
		if got := AddinPropertyName(in); got != want {
			t.Errorf("AddinPropertyName(%q) = %q, want %q", in, got, want)
		}
	}
	if got := AddinPropertyID(testManifestID); got != "String {00020329-0000-0000-C000-000000000046} Name cecp-8159d090-4379-4395-a14a-d9e216d48366" {
		t.Errorf("AddinPropertyID = %q", got)
	}
}

func expandURL(id, propID string) string {
	return "/v1.0/me/messages/" + url.PathEscape(id) + "?" + url.Values{
		"$select": {"subject"},
		"$expand": {"singleValueExtendedProperties($filter=id eq '" + propID + "')"},
	}.Encode()
}

func TestAddinPropertiesReadThroughGraph(t *testing.T) {
	s, tok := newTest(t)
	m := s.AddMessage("inbox", Message{Subject: "Proposal"})
	if err := s.SetAddinProperties(m.ID, testManifestID, map[string]any{"project": "2026001.00", "contact": "C-1"}); err != nil {
		t.Fatal(err)
	}
	after, _ := s.Message(m.ID)
	if after.ChangeKey == m.ChangeKey {
		t.Error("saving custom properties left the changeKey as it was; any change of an item gives it a new one")
	}

	resp, body := call(t, s, tok, "GET", expandURL(m.ID, AddinPropertyID(testManifestID)), nil, "")
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET: %d %v", resp.StatusCode, body)
	}
	props, _ := body["singleValueExtendedProperties"].([]any)
	if len(props) != 1 {
		t.Fatalf("singleValueExtendedProperties = %v", body["singleValueExtendedProperties"])
	}
	p := props[0].(map[string]any)
	if p["value"] != `{"contact":"C-1","project":"2026001.00"}` {
		t.Errorf("value = %v", p["value"])
	}

	// The GUID and type compare without case; the name does not (Graph:
	// "Filtering the string name (Name) in the id ... is case-sensitive").
	upper := strings.Replace(AddinPropertyID(testManifestID), "String {00020329-0000-0000-C000", "string {00020329-0000-0000-c000", 1)
	if _, body := call(t, s, tok, "GET", expandURL(m.ID, upper), nil, ""); body["singleValueExtendedProperties"] == nil {
		t.Error("the property was not found with the GUID in lower case")
	}
	wrongCase := strings.Replace(AddinPropertyID(testManifestID), "cecp-8159d090", "cecp-8159D090", 1)
	if _, body := call(t, s, tok, "GET", expandURL(m.ID, wrongCase), nil, ""); body["singleValueExtendedProperties"] != nil {
		t.Error("the property was found under a name of another case")
	}

	// A message without them has no singleValueExtendedProperties at all.
	other := s.AddMessage("inbox", Message{Subject: "Other"})
	if _, body := call(t, s, tok, "GET", expandURL(other.ID, AddinPropertyID(testManifestID)), nil, ""); body["singleValueExtendedProperties"] != nil {
		t.Errorf("a message without the property shows %v", body["singleValueExtendedProperties"])
	}

	// Only the documented form: one id eq per $expand.
	both := "Integer 0x0036' or id eq '" + AddinPropertyID(testManifestID)
	if resp, _ := call(t, s, tok, "GET", expandURL(m.ID, both), nil, ""); resp.StatusCode != http.StatusBadRequest {
		t.Errorf("an undocumented or-filter was answered %d, want 400", resp.StatusCode)
	}

	// Delta never carries them (docs/behaviour.md §11: delta fails when expanding
	// extended properties).
	resp, _ = call(t, s, tok, "GET", "/v1.0/me/mailFolders/inbox/messages/delta?"+url.Values{
		"$expand": {"singleValueExtendedProperties($filter=id eq '" + AddinPropertyID(testManifestID) + "')"}}.Encode(), nil, "")
	if resp.StatusCode < 400 {
		t.Errorf("delta with $expand of extended properties answered %d", resp.StatusCode)
	}
}

func TestAddinPropertiesLimitAndRemoval(t *testing.T) {
	s, _ := newTest(t)
	m := s.AddMessage("inbox", Message{Subject: "Big"})
	if err := s.SetAddinProperties(m.ID, testManifestID, map[string]any{"note": strings.Repeat("x", 2500)}); err == nil {
		t.Error("a JSON object over 2,500 characters was saved")
	}
	if err := s.SetAddinProperties(m.ID, testManifestID, map[string]any{"note": strings.Repeat("é", 2480)}); err != nil {
		t.Errorf("2,491 characters (more bytes) refused: %v", err)
	}
	got, err := s.AddinProperties(m.ID, testManifestID)
	if err != nil || got["note"] == nil {
		t.Fatalf("AddinProperties = %v, %v", got, err)
	}
	if err := s.SetAddinProperties(m.ID, testManifestID, nil); err != nil {
		t.Fatal(err)
	}
	if got, _ := s.AddinProperties(m.ID, testManifestID); got != nil {
		t.Errorf("after removal: %v", got)
	}
	if err := s.SetAddinProperties("nope", testManifestID, map[string]any{"a": "b"}); err == nil {
		t.Error("an unknown message took custom properties")
	}
}

func TestPatchMessageExtendedProperty(t *testing.T) {
	s, tok := newTest(t)
	m := s.AddMessage("inbox", Message{Subject: "Patched"})
	id := AddinPropertyID(testManifestID)
	resp, body := call(t, s, tok, "PATCH", "/v1.0/me/messages/"+url.PathEscape(m.ID), map[string]string{"Content-Type": "application/json"},
		`{"singleValueExtendedProperties":[{"id":"`+id+`","value":"{\"project\":\"P-9\"}"}]}`)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("PATCH: %d %v", resp.StatusCode, body)
	}
	got, err := s.AddinProperties(m.ID, testManifestID)
	if err != nil || got["project"] != "P-9" {
		t.Fatalf("after PATCH: %v, %v", got, err)
	}
	resp, _ = call(t, s, tok, "PATCH", "/v1.0/me/messages/"+url.PathEscape(m.ID), map[string]string{"Content-Type": "application/json"},
		`{"singleValueExtendedProperties":[{"id":"cecp-no-type","value":"x"}]}`)
	if resp.StatusCode != http.StatusBadRequest {
		t.Errorf("a malformed property id was answered %d", resp.StatusCode)
	}
}
