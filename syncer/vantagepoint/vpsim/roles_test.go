package vpsim

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"
)

// Each access level of a role allows what Deltek's Record Access tab says
// and refuses the rest with 403; every write stamps ModUser with the
// signed-in user, whoever that is.
func TestRoleAccessPerHub(t *testing.T) {
	s := start(t, Options{})
	s.AddUser("admin", "pw", "E900")
	s.AddConnectHubs()
	uid, err := s.AddConnectSwitch("E001", "Jane Doe", "Disabled")
	if err != nil {
		t.Fatal(err)
	}
	do := func(tok, method, path, body string) (int, []map[string]any) {
		t.Helper()
		req, _ := http.NewRequest(method, s.APIURL()+path, strings.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+tok)
		req.Header.Set("Content-Type", "application/json")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var out []map[string]any
		if resp.StatusCode < 300 {
			json.NewDecoder(resp.Body).Decode(&out)
		}
		return resp.StatusCode, out
	}
	emp, adm := s.IssueAccessToken("jdoe"), s.IssueAccessToken("admin")
	sw := "/UDIC/" + ConnectGroupsHub
	one := sw + "/" + uid

	// No role: full access, as before roles; the write is the employee's.
	if st, out := do(emp, "PUT", one, `{"CustSyncStatus":"Disabled"}`); st != 200 || out[0]["ModUser"] != "jdoe" {
		t.Fatalf("a same-value write without a role: %d %v", st, out)
	}

	s.SetUserRole("jdoe", "Employee")
	for _, c := range []struct {
		access                   Access
		get, list, put, post, dl int
	}{
		{AccessNone, 403, 403, 403, 403, 403},
		{AccessReadOnly, 200, 200, 403, 403, 403},
		{AccessModify, 200, 200, 200, 403, 403},
		{AccessAddModify, 200, 200, 200, 201, 403},
	} {
		s.SetRoleAccess("employee", ConnectGroupsHub, c.access)
		got := []int{}
		st, _ := do(emp, "GET", one, "")
		got = append(got, st)
		st, _ = do(emp, "GET", sw, "")
		got = append(got, st)
		st, _ = do(emp, "PUT", one, `{"CustSyncStatus":"Enabled"}`)
		got = append(got, st)
		st, _ = do(emp, "POST", sw, `{"CustName":"x","CustEmployee":"E002"}`)
		got = append(got, st)
		st, _ = do(emp, "DELETE", sw+"/NOSUCH", "")
		got = append(got, st)
		want := []int{c.get, c.list, c.put, c.post, c.dl}
		for i := range want {
			if got[i] != want[i] {
				t.Errorf("%s: GET one, list, PUT, POST, DELETE = %v; want %v", c.access, got, want)
				break
			}
		}
		// The administrator's role names nothing: full access.
		if st, _ := do(adm, "PUT", one, `{"CustSyncStatus":"Disabled"}`); st != 200 {
			t.Errorf("%s: the administrator's write = %d", c.access, st)
		}
	}
	// A hub the role does not name keeps full access; metadata follows the
	// hub's access.
	s.SetRoleAccess("Employee", ConnectGroupsHub, AccessNone)
	if st, _ := do(emp, "POST", "/UDIC/"+ConnectAgentsHub, `{"CustEmployee":"E001"}`); st != 201 {
		t.Errorf("the agents hub, not named by the role: %d", st)
	}
	if st, b := get(t, s, emp, "/metadata/UDIC/"+ConnectGroupsHub); st != 403 || !strings.Contains(string(b), "None access to") {
		t.Errorf("metadata with no access: %d %s", st, b)
	}
	r := s.UDICRecords(ConnectGroupsHub)[0]
	if r["ModUser"] != "admin" || r["CustSyncStatus"] != "Disabled" {
		t.Errorf("the switch after the administrator's last write: %v", r)
	}
	s.UpdateUDICAs("jdoe", ConnectGroupsHub, uid, map[string]any{"CustSyncStatus": "Enabled"})
	if r := s.UDICRecords(ConnectGroupsHub)[0]; r["ModUser"] != "jdoe" {
		t.Errorf("UpdateUDICAs: %v", r)
	}
}
