//go:build linux

// Package chromiumtest drives Debian's headless Chromium from tests: a
// minimal Chrome DevTools Protocol client over a minimal WebSocket client,
// with the standard library only, enough to navigate, evaluate JavaScript
// and take a screenshot. Tests only: it skips (or, in CI, fails) the test
// when the browser is missing.
package chromiumtest

import (
	"bufio"
	"crypto/rand"
	"crypto/sha1"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// Path finds Debian's chromium. In CI (VPCONNECT_TEST_SECRET_SERVICE
// set by `make test`) a missing browser fails the test instead of skipping.
func Path(t *testing.T) string {
	t.Helper()
	for _, name := range []string{"chromium", "chromium-browser"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	if os.Getenv("VPCONNECT_TEST_SECRET_SERVICE") != "" {
		t.Fatal("chromium is missing: 'make test' installs it as root (Debian package chromium)")
	}
	t.Skip("chromium is not installed (apt-get install chromium)")
	return ""
}

// Browser is a headless Chromium with one page.
type Browser struct {
	cmd  *exec.Cmd
	page *cdpConn
	// devtools is the host:port of the DevTools HTTP endpoint.
	devtools string
}

// Start starts headless Chromium with a fresh profile and connects to
// its first page.
func Start(t *testing.T, extra ...string) *Browser {
	t.Helper()
	path := Path(t)
	// Not t.TempDir: Chromium's helpers may still write there for a moment
	// after it is killed, which would fail TempDir's cleanup.
	profile, err := os.MkdirTemp("", "vpconnect-chromium-")
	if err != nil {
		t.Fatal(err)
	}
	args := append([]string{"--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
		"--disable-background-networking", "--disable-component-update", "--disable-sync",
		"--remote-debugging-port=0", "--remote-allow-origins=*", "--window-size=1100,1400",
		"--user-data-dir=" + profile}, extra...)
	args = append(args, "about:blank")
	cmd := exec.Command(path, args...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatalf("start chromium: %v", err)
	}
	t.Cleanup(func() {
		// The whole process group: the browser and its helpers.
		syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
		cmd.Wait()
		for range 20 {
			if os.RemoveAll(profile) == nil {
				break
			}
			time.Sleep(50 * time.Millisecond)
		}
	})
	wsc := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			if u, ok := strings.CutPrefix(sc.Text(), "DevTools listening on "); ok {
				wsc <- u
			}
		}
	}()
	var browserWS string
	select {
	case browserWS = <-wsc:
	case <-time.After(30 * time.Second):
		t.Fatal("chromium did not open its DevTools port")
	}
	u, _ := url.Parse(browserWS)
	var targets []struct {
		Type, WebSocketDebuggerURL string
	}
	for i := 0; ; i++ {
		resp, err := http.Get("http://" + u.Host + "/json/list")
		if err == nil {
			json.NewDecoder(resp.Body).Decode(&targets)
			resp.Body.Close()
		}
		for _, tg := range targets {
			if tg.Type == "page" {
				c, err := dialCDP(tg.WebSocketDebuggerURL)
				if err != nil {
					t.Fatal(err)
				}
				t.Cleanup(c.close)
				return &Browser{cmd: cmd, page: c, devtools: u.Host}
			}
		}
		if i > 100 {
			t.Fatal("chromium has no page target")
		}
		time.Sleep(50 * time.Millisecond)
	}
}

type cdpConn struct {
	conn    net.Conn
	r       *bufio.Reader
	wmu     sync.Mutex
	mu      sync.Mutex
	id      int
	waiting map[int]chan cdpReply
	done    chan struct{}
}

type cdpReply struct {
	Result json.RawMessage `json:"result"`
	Error  *struct {
		Message string `json:"message"`
	} `json:"error"`
}

func dialCDP(wsURL string) (*cdpConn, error) {
	u, err := url.Parse(wsURL)
	if err != nil {
		return nil, err
	}
	conn, err := net.Dial("tcp", u.Host)
	if err != nil {
		return nil, err
	}
	key := make([]byte, 16)
	rand.Read(key)
	k := base64.StdEncoding.EncodeToString(key)
	fmt.Fprintf(conn, "GET %s HTTP/1.1\r\nHost: %s\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: %s\r\nSec-WebSocket-Version: 13\r\n\r\n", u.RequestURI(), u.Host, k)
	r := bufio.NewReader(conn)
	resp, err := http.ReadResponse(r, nil)
	if err != nil {
		conn.Close()
		return nil, err
	}
	sum := sha1.Sum([]byte(k + "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"))
	if resp.StatusCode != http.StatusSwitchingProtocols || resp.Header.Get("Sec-WebSocket-Accept") != base64.StdEncoding.EncodeToString(sum[:]) {
		conn.Close()
		return nil, fmt.Errorf("websocket handshake: %s", resp.Status)
	}
	c := &cdpConn{conn: conn, r: r, waiting: map[int]chan cdpReply{}, done: make(chan struct{})}
	go c.readLoop()
	return c, nil
}

func (c *cdpConn) close() { c.conn.Close() }

// writeFrame sends one masked text frame (clients must mask).
func (c *cdpConn) writeFrame(payload []byte) error {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	hdr := []byte{0x81}
	switch n := len(payload); {
	case n < 126:
		hdr = append(hdr, 0x80|byte(n))
	case n < 1<<16:
		hdr = append(hdr, 0x80|126, byte(n>>8), byte(n))
	default:
		hdr = append(hdr, 0x80|127)
		hdr = binary.BigEndian.AppendUint64(hdr, uint64(n))
	}
	mask := make([]byte, 4)
	rand.Read(mask)
	hdr = append(hdr, mask...)
	masked := make([]byte, len(payload))
	for i, b := range payload {
		masked[i] = b ^ mask[i%4]
	}
	_, err := c.conn.Write(append(hdr, masked...))
	return err
}

// readMessage reads one message (joining continuation frames).
func (c *cdpConn) readMessage() ([]byte, error) {
	var msg []byte
	for {
		h := make([]byte, 2)
		if _, err := io.ReadFull(c.r, h); err != nil {
			return nil, err
		}
		n := uint64(h[1] & 0x7f)
		switch n {
		case 126:
			b := make([]byte, 2)
			io.ReadFull(c.r, b)
			n = uint64(binary.BigEndian.Uint16(b))
		case 127:
			b := make([]byte, 8)
			io.ReadFull(c.r, b)
			n = binary.BigEndian.Uint64(b)
		}
		p := make([]byte, n)
		if _, err := io.ReadFull(c.r, p); err != nil {
			return nil, err
		}
		op := h[0] & 0x0f
		if op == 0x8 {
			return nil, io.EOF
		}
		if op == 0x9 || op == 0xA {
			continue // ping/pong
		}
		msg = append(msg, p...)
		if h[0]&0x80 != 0 {
			return msg, nil
		}
	}
}

func (c *cdpConn) readLoop() {
	defer close(c.done)
	for {
		b, err := c.readMessage()
		if err != nil {
			return
		}
		var m struct {
			ID int `json:"id"`
			cdpReply
		}
		if json.Unmarshal(b, &m) != nil || m.ID == 0 {
			continue // events are not needed
		}
		c.mu.Lock()
		ch := c.waiting[m.ID]
		delete(c.waiting, m.ID)
		c.mu.Unlock()
		if ch != nil {
			ch <- m.cdpReply
		}
	}
}

// call sends a CDP command and waits for its answer.
func (c *cdpConn) call(method string, params any, out any) error {
	c.mu.Lock()
	c.id++
	id := c.id
	ch := make(chan cdpReply, 1)
	c.waiting[id] = ch
	c.mu.Unlock()
	b, _ := json.Marshal(map[string]any{"id": id, "method": method, "params": params})
	if err := c.writeFrame(b); err != nil {
		return err
	}
	select {
	case r := <-ch:
		if r.Error != nil {
			return fmt.Errorf("%s: %s", method, r.Error.Message)
		}
		if out != nil {
			return json.Unmarshal(r.Result, out)
		}
		return nil
	case <-c.done:
		return errors.New("the browser went away")
	case <-time.After(60 * time.Second):
		return fmt.Errorf("%s: no answer", method)
	}
}

// Navigate loads url and waits for the document to be complete.
func (b *Browser) Navigate(t *testing.T, u string) {
	t.Helper()
	if err := b.page.call("Page.navigate", map[string]any{"url": u}, nil); err != nil {
		t.Fatal(err)
	}
	b.WaitJS(t, `document.readyState === "complete" && location.href !== "about:blank"`, 30*time.Second)
}

// Eval runs an expression (promises awaited) and decodes its JSON value.
func (b *Browser) Eval(t *testing.T, expr string, out any) {
	t.Helper()
	var r struct {
		Result struct {
			Value json.RawMessage `json:"value"`
		} `json:"result"`
		ExceptionDetails *struct {
			Text      string `json:"text"`
			Exception struct {
				Description string `json:"description"`
			} `json:"exception"`
		} `json:"exceptionDetails"`
	}
	if err := b.page.call("Runtime.evaluate", map[string]any{"expression": expr, "awaitPromise": true, "returnByValue": true}, &r); err != nil {
		t.Fatal(err)
	}
	if r.ExceptionDetails != nil {
		t.Fatalf("javascript failed: %s %s", r.ExceptionDetails.Text, r.ExceptionDetails.Exception.Description)
	}
	if out != nil {
		if err := json.Unmarshal(r.Result.Value, out); err != nil {
			t.Fatalf("javascript value %s: %v", r.Result.Value, err)
		}
	}
}

// WaitJS waits until a boolean expression holds in the page.
func (b *Browser) WaitJS(t *testing.T, cond string, timeout time.Duration) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		var r struct {
			Result struct {
				Value bool `json:"value"`
			} `json:"result"`
			ExceptionDetails *struct {
				Text string `json:"text"`
			} `json:"exceptionDetails"`
		}
		err := b.page.call("Runtime.evaluate", map[string]any{"expression": "Boolean(" + cond + ")", "returnByValue": true}, &r)
		switch {
		case err != nil && navigating(err):
			// The page navigated under the evaluation (a reload, a
			// redirect): not yet; the next one asks the new page.
		case err != nil:
			t.Fatal(err)
		case r.ExceptionDetails != nil:
			t.Fatalf("javascript failed: %s", r.ExceptionDetails.Text)
		}
		ok := err == nil && r.Result.Value
		if ok {
			return
		}
		if time.Now().After(deadline) {
			var html string
			b.Eval(t, "document.body ? document.body.innerText : ''", &html)
			t.Fatalf("waiting for %s; page text:\n%s", cond, html)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// navigating reports an evaluation that its page's navigation ended.
func navigating(err error) bool {
	m := err.Error()
	return strings.Contains(m, "navigated or closed") || strings.Contains(m, "Execution context was destroyed") ||
		strings.Contains(m, "Cannot find context")
}

// Screenshot saves a PNG of the page.
func (b *Browser) Screenshot(t *testing.T, path string) {
	t.Helper()
	var r struct {
		Data string `json:"data"`
	}
	if err := b.page.call("Page.captureScreenshot", map[string]any{"format": "png", "captureBeyondViewport": true}, &r); err != nil {
		t.Fatal(err)
	}
	png, err := base64.StdEncoding.DecodeString(r.Data)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, png, 0o644); err != nil {
		t.Fatal(err)
	}
}

// ScreenshotTop saves a PNG of the top of the page, height CSS pixels
// high: legible where a whole long page would be shrunk.
func (b *Browser) ScreenshotTop(t *testing.T, path string, height int) {
	t.Helper()
	var width int
	b.Eval(t, `document.documentElement.clientWidth`, &width)
	var r struct {
		Data string `json:"data"`
	}
	clip := map[string]any{"x": 0, "y": 0, "width": width, "height": height, "scale": 1}
	if err := b.page.call("Page.captureScreenshot", map[string]any{"format": "png", "clip": clip, "captureBeyondViewport": true}, &r); err != nil {
		t.Fatal(err)
	}
	png, err := base64.StdEncoding.DecodeString(r.Data)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, png, 0o644); err != nil {
		t.Fatal(err)
	}
}

// OpenTab opens address in a new tab of the same browser, as a program
// asking the default browser to open an address does (the agent's
// Microsoft sign-in), and returns that tab. It may be called from any
// goroutine; the tab's connection closes with the browser.
func (b *Browser) OpenTab(address string) (*Browser, error) {
	req, err := http.NewRequest(http.MethodPut, "http://"+b.devtools+"/json/new?"+url.QueryEscape(address), nil)
	if err != nil {
		return nil, err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, fmt.Errorf("open a tab: %w", err)
	}
	defer resp.Body.Close()
	var tg struct {
		WebSocketDebuggerURL string `json:"webSocketDebuggerUrl"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&tg); err != nil || tg.WebSocketDebuggerURL == "" {
		return nil, fmt.Errorf("open a tab: %s: %v", resp.Status, err)
	}
	c, err := dialCDP(tg.WebSocketDebuggerURL)
	if err != nil {
		return nil, err
	}
	return &Browser{page: c, devtools: b.devtools}, nil
}
