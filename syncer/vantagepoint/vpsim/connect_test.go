package vpsim

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"
)

// The administration template's hubs, through the wire: metadata, create,
// list with filterHash and paging, read one (an array), update, and 404
// with the documented error body for an area that does not exist.
func TestConnectHubsOnTheWire(t *testing.T) {
	s := start(t, Options{})
	tok := s.IssueAccessToken("jdoe")
	for _, p := range []string{"/metadata/UDIC/UDIC_ConnectAgent", "/UDIC/UDIC_ConnectAgent", "/UDIC/UDIC_ConnectAgent/0123"} {
		st, b := get(t, s, tok, p)
		var e struct{ Message, Detail string }
		if st != 404 || json.Unmarshal(b, &e) != nil || e.Message == "" || !strings.Contains(strings.ToLower(e.Detail), "udic_connectagent") {
			t.Errorf("GET %s before the hub exists: %d %s", p, st, b)
		}
	}
	if err := s.LoadSeed(strings.NewReader(`{"connectHubs": true}`)); err != nil {
		t.Fatal(err)
	}
	st, b := get(t, s, tok, "/metadata/UDIC/UDIC_ConnectGroup")
	var md HubMetadata
	if st != 200 || json.Unmarshal(b, &md) != nil || md["UDIC_ConnectGroup"].Keys != "UDIC_UID" {
		t.Fatalf("metadata: %d %s", st, b)
	}
	names := map[string]MetadataField{}
	for _, f := range md["UDIC_ConnectGroup"].Fields {
		names[f.FieldName] = f
	}
	if !names["CustName"].Required || names["CustSyncStatus"].FieldType != "String" || !names["UDICNumber"].ReadOnly || !names["ModUser"].ReadOnly {
		t.Errorf("group fields: %+v", md)
	}

	send := func(method, path, body string) (int, []map[string]any) {
		req, _ := http.NewRequest(method, s.APIURL()+path, strings.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+tok)
		req.Header.Set("Content-Type", "application/json")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var out []map[string]any
		json.NewDecoder(resp.Body).Decode(&out)
		return resp.StatusCode, out
	}
	var uid string
	for i, emp := range []string{"00001", "00002", "00003"} {
		st, out := send("POST", "/UDIC/UDIC_ConnectAgent", `{"CustEmployee":"`+emp+`","CustOpenIssues":`+string(rune('0'+i))+`}`)
		if st != 201 || len(out) != 1 || out[0]["UDIC_UID"] == "" || out[0]["ModUser"] != "jdoe" || out[0]["UDICName"] != emp || out[0]["UDICNumber"] != fmt.Sprintf("%06d", i+1) {
			t.Fatalf("create: %d %v", st, out)
		}
		if emp == "00002" {
			uid = out[0]["UDIC_UID"].(string)
		}
	}
	q := url.Values{"filterHash[0][name]": {"CustEmployee"}, "filterHash[0][value]": {"00002"}, "filterHash[0][opp]": {"="}}
	st, b = get(t, s, tok, "/UDIC/UDIC_ConnectAgent?"+q.Encode())
	var list []map[string]any
	if st != 200 || json.Unmarshal(b, &list) != nil || len(list) != 1 || list[0]["UDIC_UID"] != uid {
		t.Fatalf("filtered list: %d %s", st, b)
	}
	st, b = get(t, s, tok, "/UDIC/UDIC_ConnectAgent?limit=2&offset=2")
	if st != 200 || json.Unmarshal(b, &list) != nil || len(list) != 1 {
		t.Errorf("second page: %d %s", st, b)
	}
	if st, out := send("PUT", "/UDIC/UDIC_ConnectAgent/"+uid, `{"CustAgentState":"Active"}`); st != 200 || len(out) != 1 || out[0]["CustEmployee"] != "00002" {
		t.Errorf("update: %d %v", st, out)
	}
	st, b = get(t, s, tok, "/UDIC/UDIC_ConnectAgent/"+uid)
	if st != 200 || json.Unmarshal(b, &list) != nil || len(list) != 1 || list[0]["CustAgentState"] != "Active" {
		t.Errorf("read one: %d %s", st, b)
	}
	if st, _ := send("POST", "/UDIC/UDIC_ConnectAgent", `{"CustNoSuchField":"x","CustEmployee":"1"}`); st != 400 {
		t.Errorf("unknown field: %d", st)
	}
}
