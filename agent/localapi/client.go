package localapi

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"time"

	"vpconnect/agent"
	"vpconnect/agent/config"
)

// ErrNoAgent means no agent of this user answers on loopback.
var ErrNoAgent = errors.New("vpconnect is not running")

// APIError is an error answer of the API.
type APIError struct {
	Status  int
	Code    string
	Message string
}

func (e *APIError) Error() string { return e.Message + " (" + e.Code + ")" }

// Client is the one client of the loopback API that the tray and the CLI
// share. It authenticates with the per-user secret, so it is the owner.
type Client struct {
	base   string
	secret string
	hc     *http.Client
}

// Dial finds this user's running agent: the port from the runtime file in
// dataDir, or else the first port of port…port+19 whose /v1/hello names the
// instance derived from our secret (another user's agent on a shared host
// answers with another instance, and never sees our secret).
func Dial(ctx context.Context, dataDir string, port int) (*Client, error) {
	secret, err := ReadSecret(dataDir)
	if errors.Is(err, os.ErrNotExist) {
		return nil, ErrNoAgent
	} else if err != nil {
		return nil, err
	}
	c := &Client{secret: secret, hc: &http.Client{Timeout: 0}}
	want := InstanceID(secret)
	var ports []int
	if b, err := os.ReadFile(filepath.Join(dataDir, RuntimeFile)); err == nil {
		var rt Runtime
		if json.Unmarshal(b, &rt) == nil && rt.Port > 0 {
			ports = append(ports, rt.Port)
		}
	}
	for i := range config.PortRange {
		if port > 0 {
			ports = append(ports, port+i)
		}
	}
	for _, p := range ports {
		base := "http://127.0.0.1:" + strconv.Itoa(p)
		hctx, cancel := context.WithTimeout(ctx, time.Second)
		var h Hello
		err := getJSON(hctx, &http.Client{}, base+"/v1/hello", "", &h)
		cancel()
		if err == nil && h.Product == "vpconnect" && h.Instance == want {
			c.base = base
			return c, nil
		}
	}
	return nil, ErrNoAgent
}

// NewClient returns a client for the agent at base (http://127.0.0.1:port)
// with the given secret.
func NewClient(base, secret string) *Client {
	return &Client{base: base, secret: secret, hc: &http.Client{}}
}

// Base is the agent's address.
func (c *Client) Base() string { return c.base }

func getJSON(ctx context.Context, hc *http.Client, url, token string, out any) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return err
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	return do(hc, req, out)
}

func do(hc *http.Client, req *http.Request, out any) error {
	resp, err := hc.Do(req)
	if err != nil {
		return fmt.Errorf("call the agent: %w", err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 16<<20))
	if err != nil {
		return fmt.Errorf("read the agent's answer: %w", err)
	}
	if resp.StatusCode >= 400 {
		var e ErrorBody
		if json.Unmarshal(body, &e) == nil && e.Error.Code != "" {
			return &APIError{Status: resp.StatusCode, Code: e.Error.Code, Message: e.Error.Message}
		}
		return &APIError{Status: resp.StatusCode, Code: "http_" + strconv.Itoa(resp.StatusCode), Message: resp.Status}
	}
	if out == nil {
		return nil
	}
	if err := json.Unmarshal(body, out); err != nil {
		return fmt.Errorf("read the agent's answer: %w", err)
	}
	return nil
}

func (c *Client) get(ctx context.Context, path string, out any) error {
	return getJSON(ctx, c.hc, c.base+path, c.secret, out)
}

func (c *Client) post(ctx context.Context, path string, in, out any) error {
	if in == nil {
		in = struct{}{}
	}
	b, _ := json.Marshal(in)
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.base+path, bytes.NewReader(b))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+c.secret)
	return do(c.hc, req, out)
}

// Status is GET /v1/status.
func (c *Client) Status(ctx context.Context) (agent.Status, error) {
	var s agent.Status
	return s, c.get(ctx, "/v1/status", &s)
}

// Sync asks for a batch now; with wait it returns once the batch finished.
func (c *Client) Sync(ctx context.Context, wait bool) (SyncAnswer, error) {
	var a SyncAnswer
	path := "/v1/sync"
	if wait {
		path += "?wait=1"
	}
	return a, c.post(ctx, path, nil, &a)
}

// Pause is POST /v1/pause.
func (c *Client) Pause(ctx context.Context) (agent.Status, error) {
	var s agent.Status
	return s, c.post(ctx, "/v1/pause", nil, &s)
}

// Resume is POST /v1/resume.
func (c *Client) Resume(ctx context.Context) (agent.Status, error) {
	var s agent.Status
	return s, c.post(ctx, "/v1/resume", nil, &s)
}

// Deactivate is Delete (force false) or Force Delete.
func (c *Client) Deactivate(ctx context.Context, force bool) (agent.Status, error) {
	var s agent.Status
	return s, c.post(ctx, "/v1/deactivate", DeactivateRequest{Force: force}, &s)
}

// AnswerDeletions confirms (AnswerConfirm) or refuses (AnswerRefuse) the
// deletions of typ that the empty-side guard held back.
func (c *Client) AnswerDeletions(ctx context.Context, typ, answer string) (agent.Status, error) {
	var s agent.Status
	return s, c.post(ctx, "/v1/deletions", DeletionsRequest{Type: typ, Answer: answer}, &s)
}

// OpenURL returns a one-time address of the Sync Options page.
func (c *Client) OpenURL(ctx context.Context) (string, error) {
	var a OpenAnswer
	return a.URL, c.post(ctx, "/v1/open", nil, &a)
}

// Pairings lists the add-in pairings waiting for approval.
func (c *Client) Pairings(ctx context.Context) ([]PairingInfo, error) {
	var ps []PairingInfo
	return ps, c.get(ctx, "/v1/pairings", &ps)
}

// ApprovePairing pairs the waiting add-in that shows code, as the owner
// typed it (*APIError wrong_code when none does).
func (c *Client) ApprovePairing(ctx context.Context, code string) error {
	return c.post(ctx, "/v1/pairings/approve", ApproveRequest{Code: code}, nil)
}

// DenyPairing refuses a waiting pairing.
func (c *Client) DenyPairing(ctx context.Context, id string) error {
	return c.post(ctx, "/v1/pair/"+url.PathEscape(id)+"/deny", nil, nil)
}

// Addins lists the paired add-ins.
func (c *Client) Addins(ctx context.Context) ([]AddinInfo, error) {
	var as []AddinInfo
	return as, c.get(ctx, "/v1/addins", &as)
}

// RevokeAddin forgets a paired add-in (*APIError not_found when there is
// none of that id).
func (c *Client) RevokeAddin(ctx context.Context, id string) error {
	return c.post(ctx, "/v1/addins/"+url.PathEscape(id)+"/revoke", nil, nil)
}

// Reauthorize signs an account in again through the agent.
func (c *Client) Reauthorize(ctx context.Context, account string, cred agent.Credentials) (agent.Status, error) {
	var s agent.Status
	return s, c.post(ctx, "/v1/reauthorize", ReauthorizeRequest{Account: account, Username: cred.Username, Password: cred.Password}, &s)
}

// Restart asks the agent to build itself again from the stored
// configuration and sign-ins (after an activation by another process). Its
// API is back on the same port moments later.
func (c *Client) Restart(ctx context.Context) error {
	return c.post(ctx, "/v1/restart", struct{}{}, nil)
}

// Watch streams status snapshots (server-sent events) until ctx ends; the
// channel closes when the stream does.
func (c *Client) Watch(ctx context.Context) (<-chan agent.Status, error) {
	events, err := c.WatchEvents(ctx)
	if err != nil {
		return nil, err
	}
	ch := make(chan agent.Status, 1)
	go func() {
		defer close(ch)
		for e := range events {
			if e.Status == nil {
				continue
			}
			select {
			case ch <- *e.Status:
			case <-ctx.Done():
			}
		}
	}()
	return ch, nil
}

// Event is one event of the owner's stream (WatchEvents): a status
// snapshot, or the pending add-in pairings (a non-nil, maybe empty, list).
type Event struct {
	Status   *agent.Status
	Pairings []PairingInfo
}

// WatchEvents streams the status snapshots and, for the owner, the pending
// add-in pairings, at once and on each change, until ctx ends; the channel
// closes when the stream does.
func (c *Client) WatchEvents(ctx context.Context) (<-chan Event, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, c.base+"/v1/events", nil)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Authorization", "Bearer "+c.secret)
	resp, err := c.hc.Do(req)
	if err != nil {
		return nil, fmt.Errorf("watch the agent: %w", err)
	}
	if resp.StatusCode != http.StatusOK {
		resp.Body.Close()
		return nil, &APIError{Status: resp.StatusCode, Code: "http_" + strconv.Itoa(resp.StatusCode), Message: resp.Status}
	}
	ch := make(chan Event, 1)
	go func() {
		defer close(ch)
		defer resp.Body.Close()
		readEvents(resp.Body, func(name string, data []byte) {
			var e Event
			switch name {
			case "status":
				var s agent.Status
				if json.Unmarshal(data, &s) != nil {
					return
				}
				e.Status = &s
			case "pairings":
				e.Pairings = []PairingInfo{}
				if json.Unmarshal(data, &e.Pairings) != nil {
					return
				}
			default:
				return
			}
			select {
			case ch <- e:
			case <-ctx.Done():
			}
		})
	}()
	return ch, nil
}

// readEvents parses a server-sent event stream.
func readEvents(r io.Reader, fn func(name string, data []byte)) {
	buf := make([]byte, 0, 64<<10)
	tmp := make([]byte, 32<<10)
	for {
		n, err := r.Read(tmp)
		buf = append(buf, tmp[:n]...)
		for {
			i := bytes.Index(buf, []byte("\n\n"))
			if i < 0 {
				break
			}
			var name string
			var data []byte
			for _, line := range bytes.Split(buf[:i], []byte("\n")) {
				if v, ok := bytes.CutPrefix(line, []byte("event: ")); ok {
					name = string(v)
				} else if v, ok := bytes.CutPrefix(line, []byte("data: ")); ok {
					data = append(data, v...)
				}
			}
			buf = buf[i+2:]
			if name != "" {
				fn(name, data)
			}
		}
		if err != nil || len(buf) > maxEvent {
			return // the stream ended, or this is not the agent's stream
		}
	}
}

// maxEvent bounds one server-sent event: a status snapshot is a few KiB.
const maxEvent = 4 << 20
