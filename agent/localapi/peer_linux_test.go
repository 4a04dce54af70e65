package localapi

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"vpconnect/agent"
)

func TestProcAddr(t *testing.T) {
	for _, c := range []struct {
		addr *net.TCPAddr
		want string
	}{
		{&net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 8080}, "0100007F:1F90"},
		{&net.TCPAddr{IP: net.IPv6loopback, Port: 48613}, "00000000000000000000000001000000:BDE5"},
	} {
		if got := procAddr(c.addr); got != c.want {
			t.Errorf("procAddr(%v) = %s, want %s", c.addr, got, c.want)
		}
	}
}

// peerClientEnv makes the test binary a client that asks a URL with an
// Origin and prints the status and body (run as another user below).
const peerClientEnv = "VPCONNECT_TEST_PEER_CLIENT"

// peerRequest is one request of the client run as another user.
type peerRequest struct {
	Method, URL, Origin, Body string
	Header                    map[string]string
}

func TestMain(m *testing.M) {
	if spec := os.Getenv(peerClientEnv); spec != "" {
		var reqs []peerRequest
		if err := json.Unmarshal([]byte(spec), &reqs); err != nil {
			fmt.Println("bad spec:", err)
			os.Exit(2)
		}
		for _, req := range reqs {
			r, _ := http.NewRequest(req.Method, req.URL, strings.NewReader(req.Body))
			if req.Origin != "" {
				r.Header.Set("Origin", req.Origin)
			}
			r.Header.Set("Content-Type", "application/json")
			for k, v := range req.Header {
				r.Header.Set(k, v)
			}
			resp, err := http.DefaultClient.Do(r)
			if err != nil {
				fmt.Println("error:", err)
				continue
			}
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			fmt.Printf("%d %s\n", resp.StatusCode, strings.TrimSpace(string(b)))
		}
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// asOtherUser runs the test binary as uid nobody against url and returns
// what it printed.
func asOtherUser(t *testing.T, method, url, origin, body string) string {
	t.Helper()
	return asOtherUserMany(t, peerRequest{Method: method, URL: url, Origin: origin, Body: body})[0]
}

// asOtherUserMany runs the test binary as uid nobody, sending each request
// in turn, and returns one line per request: its status and body.
func asOtherUserMany(t *testing.T, reqs ...peerRequest) []string {
	t.Helper()
	if os.Getuid() != 0 {
		t.Skip("another user's process needs root to start (CI runs as root)")
	}
	setpriv, err := exec.LookPath("setpriv")
	if err != nil {
		t.Fatalf("setpriv (util-linux) is needed to run a process as another user: %v", err)
	}
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	// A copy nobody may run: the test binary's own directory is not.
	dir, err := os.MkdirTemp("", "peer")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	os.Chmod(dir, 0o755)
	bin, _ := os.ReadFile(exe)
	copyPath := filepath.Join(dir, "client")
	if err := os.WriteFile(copyPath, bin, 0o755); err != nil {
		t.Fatal(err)
	}
	spec, _ := json.Marshal(reqs)
	cmd := exec.Command(setpriv, "--reuid=65534", "--regid=65534", "--clear-groups", copyPath)
	cmd.Env = []string{peerClientEnv + "=" + string(spec)}
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("client as nobody: %v\n%s", err, out)
	}
	lines := strings.Split(strings.TrimSuffix(string(out), "\n"), "\n")
	if len(lines) != len(reqs) {
		t.Fatalf("client as nobody printed %d lines for %d requests:\n%s", len(lines), len(reqs), out)
	}
	return lines
}

// Another user of the computer, sending an auto-approved Origin as a local
// process can, is refused before anything else; the owner is served.
func TestAnotherUserIsRefused(t *testing.T) {
	e := startEnv(t, func(_ *agent.Options, o *Options) { o.AutoApproveOrigins = []string{addinOrigin} })
	for _, c := range []struct{ method, path, origin, body string }{
		{"GET", "/v1/hello", "", ""},
		{"POST", "/v1/pair", addinOrigin, `{"name":"Outlook"}`},
		{"GET", "/", "", ""},
	} {
		out := asOtherUser(t, c.method, e.base+c.path, c.origin, c.body)
		if !strings.HasPrefix(out, "403 ") || !strings.Contains(out, "forbidden_user") {
			t.Errorf("%s %s as another user: %s", c.method, c.path, out)
		}
	}
	if n := len(e.srv.Pending()); n != 0 {
		t.Errorf("%d pairings pending after another user's requests", n)
	}
	if b, _ := os.ReadFile(filepath.Join(e.dir, TokensFile)); strings.Contains(string(b), addinOrigin) {
		t.Errorf("another user's pairing left a token: %s", b)
	}
	resp, err := http.Get(e.base + "/v1/hello")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Errorf("the owner's hello: %d", resp.StatusCode)
	}
}

// Issue 14 points 3 to 5 against another user of the computer, who even
// holds what it should not (the owner's page cookie and page secret, the
// owner's secret, the add-in's code): the page cannot be read or used,
// pairing cannot be jammed, the owner's add-ins cannot be listed or
// revoked, and no pairing can be approved.
func TestAnotherUserCannotUseThePageOrPairing(t *testing.T) {
	e := startEnv(t)
	cookie, pageSecret := e.pageSession(t)
	page := map[string]string{"Cookie": cookie, PageSecretHeader: pageSecret}
	owner := map[string]string{"Authorization": "Bearer " + e.secret}
	resp, body := e.do(t, req{method: "POST", path: "/v1/pair", ctype: "application/json", origin: addinOrigin, body: `{"name":"Outlook"}`})
	wantCode(t, resp, body, http.StatusAccepted, "")
	var p PairAnswer
	json.Unmarshal([]byte(body), &p)
	// A paired add-in to try revoking.
	resp, body = e.do(t, req{method: "POST", path: "/v1/pair", ctype: "application/json", origin: addinOrigin, body: `{"name":"Old"}`})
	var old PairAnswer
	json.Unmarshal([]byte(body), &old)
	if err := e.srv.Approve(old.Code); err != nil {
		t.Fatal(err)
	}
	paired := e.srv.Addins()

	reqs := []peerRequest{
		{Method: "GET", URL: e.base + "/ui/state", Header: page},
		{Method: "GET", URL: e.base + "/ui/events", Header: page},
		{Method: "POST", URL: e.base + "/ui/action", Body: `{"action":"approve","code":"` + p.Code + `"}`, Header: page},
		{Method: "POST", URL: e.base + "/ui/action", Body: `{"action":"deactivate","force":true}`, Header: page},
		{Method: "POST", URL: e.base + "/v1/pairings/approve", Body: `{"code":"` + p.Code + `"}`, Header: owner},
		{Method: "GET", URL: e.base + "/v1/addins", Header: owner},
		{Method: "POST", URL: e.base + "/v1/addins/" + paired[0].ID + "/revoke", Body: `{}`, Header: owner},
	}
	for range 2 * pairsPerWindow {
		reqs = append(reqs, peerRequest{Method: "POST", URL: e.base + "/v1/pair", Origin: addinOrigin, Body: `{"name":"Outlook"}`})
	}
	for i, out := range asOtherUserMany(t, reqs...) {
		if !strings.HasPrefix(out, "403 ") || !strings.Contains(out, "forbidden_user") {
			t.Errorf("%s %s as another user: %s", reqs[i].Method, reqs[i].URL, out)
		}
	}
	if st := e.agent.Status(); st.State != agent.StateActive {
		t.Errorf("after another user's requests the agent is %q", st.State)
	}
	if pend := e.srv.Pending(); len(pend) != 1 || pend[0].ID != p.ID {
		t.Errorf("pending after another user's requests: %+v", pend)
	}
	if a := e.srv.Addins(); len(a) != 1 || a[0].ID != paired[0].ID {
		t.Errorf("paired after another user's requests: %+v", a)
	}
	// The owner's add-in still pairs, and the owner approves it.
	resp, body = e.do(t, req{method: "POST", path: "/v1/pair", ctype: "application/json", origin: addinOrigin, body: `{"name":"Outlook"}`})
	wantCode(t, resp, body, http.StatusAccepted, "")
	json.Unmarshal([]byte(body), &p)
	if err := NewClient(e.base, e.secret).ApprovePairing(context.Background(), p.Code); err != nil {
		t.Fatal(err)
	}
}
