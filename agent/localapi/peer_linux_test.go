package localapi

import (
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

func TestMain(m *testing.M) {
	if spec := os.Getenv(peerClientEnv); spec != "" {
		var req struct{ Method, URL, Origin, Body string }
		if err := json.Unmarshal([]byte(spec), &req); err != nil {
			fmt.Println("bad spec:", err)
			os.Exit(2)
		}
		r, _ := http.NewRequest(req.Method, req.URL, strings.NewReader(req.Body))
		if req.Origin != "" {
			r.Header.Set("Origin", req.Origin)
		}
		r.Header.Set("Content-Type", "application/json")
		resp, err := http.DefaultClient.Do(r)
		if err != nil {
			fmt.Println("error:", err)
			os.Exit(0)
		}
		b, _ := io.ReadAll(resp.Body)
		fmt.Printf("%d %s", resp.StatusCode, b)
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// asOtherUser runs the test binary as uid nobody against url and returns
// what it printed.
func asOtherUser(t *testing.T, method, url, origin, body string) string {
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
	spec, _ := json.Marshal(map[string]string{"Method": method, "URL": url, "Origin": origin, "Body": body})
	cmd := exec.Command(setpriv, "--reuid=65534", "--regid=65534", "--clear-groups", copyPath)
	cmd.Env = []string{peerClientEnv + "=" + string(spec)}
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("client as nobody: %v\n%s", err, out)
	}
	return string(out)
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
