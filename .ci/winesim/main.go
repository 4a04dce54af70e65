// Command winesim serves the simulated Microsoft 365 (graphsim) and
// Vantagepoint (vpsim) on loopback, natively, for the Windows build under
// Wine (.ci/wine-suite): it seeds a small world, writes a configuration
// pointing at both, prints one JSON line of what the suite checks against,
// and serves until it is stopped (SIGTERM, SIGINT or its standard input
// closing).
//
// Every token the two token endpoints hand out goes through a recording
// proxy and is appended to the -secrets file, one a line, with the
// Vantagepoint password: the suite greps the agent's data dir for each, so
// that "nothing secret on disk" is checked against the real secrets.
package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"vpconnect/agent/config"
	"vpconnect/syncer/graph/graphsim"
	"vpconnect/syncer/vantagepoint/vpsim"
)

// The world the suite runs in: one user, known to both services.
const (
	clientID       = "0b5e6a42-7c1d-4f3e-9a8b-2d6c4e1f0a93"
	vpClientID     = "vpconnect-wine"
	vpClientSecret = "vpconnect-wine-secret"
	database       = "WINE"
	userMail       = "casey.wine@contoso.example"
	employee       = "00099"
	vpUser         = "CWINE"
	vpPassword     = "wine-password-7f3a"
	category       = "Vantagepoint"
	// TaggedSubject is the subject of the one tagged e-mail: the batch
	// files it as an activity in Vantagepoint.
	taggedSubject = "Wine suite: pump station survey"
	contactMail   = "chloe.martin@riverside-water.example"
)

// ready is the line printed once both services answer.
type ready struct {
	VPURL          string `json:"vpUrl"`
	Database       string `json:"database"`
	VPClientID     string `json:"vpClientId"`
	VPClientSecret string `json:"vpClientSecret"`
	VPUser         string `json:"vpUser"`
	VPPassword     string `json:"vpPassword"`
	Employee       string `json:"employee"`
	TaggedSubject  string `json:"taggedSubject"`
	ContactMail    string `json:"contactMail"`
}

func main() {
	cfgPath := flag.String("config", "", "write the agent's configuration file here")
	dataDir := flag.String("data-dir", "", "the agent's data dir, as the agent names it (a Windows path)")
	secrets := flag.String("secrets", "", "append every secret handed out here, one a line")
	flag.Parse()
	if *cfgPath == "" || *dataDir == "" || *secrets == "" {
		fmt.Fprintln(os.Stderr, "usage: winesim -config PATH -data-dir DIR -secrets PATH")
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	// The suite ends the simulators by closing their standard input too,
	// so that they never outlive it.
	go func() {
		_, _ = io.Copy(io.Discard, os.Stdin)
		stop()
	}()
	if err := serve(ctx, *cfgPath, *dataDir, *secrets); err != nil {
		fmt.Fprintln(os.Stderr, "winesim:", err)
		os.Exit(1)
	}
}

func serve(ctx context.Context, cfgPath, dataDir, secretsPath string) error {
	rec, err := newRecorder(secretsPath)
	if err != nil {
		return err
	}
	defer rec.close()
	if err := rec.add(vpPassword); err != nil {
		return err
	}

	g := graphsim.New(graphsim.Options{ClientID: clientID,
		User: graphsim.User{DisplayName: "Casey Wine", Mail: userMail, UserPrincipalName: userMail, GivenName: "Casey", Surname: "Wine"}})
	if _, err := g.Start("127.0.0.1:0"); err != nil {
		return err
	}
	defer g.Close()
	v := vpsim.New(vpsim.Options{Database: database, ClientID: vpClientID, ClientSecret: vpClientSecret})
	if _, err := v.Start("127.0.0.1:0"); err != nil {
		return err
	}
	defer v.Close()
	seed(g, v, time.Now().UTC())

	// The identity platform and Vantagepoint are reached through proxies
	// that note the tokens they answer; Graph itself directly. The
	// identity platform's refresh tokens are lengthened past what one
	// Credential Manager entry holds, so that the agent must split the
	// record it keeps.
	msFront, err := front(g.AuthorityURL(), rec, refreshPad)
	if err != nil {
		return err
	}
	defer msFront.Close()
	vpFront, err := front(v.URL(), rec, 0)
	if err != nil {
		return err
	}
	defer vpFront.Close()

	cfg := config.Default()
	cfg.Microsoft.ClientID = clientID
	cfg.Microsoft.AuthorityURL = msFront.URL
	cfg.Microsoft.GraphURL = g.GraphURL()
	cfg.Vantagepoint.APIURL = vpFront.URL + vpsim.APIPath
	cfg.Vantagepoint.Database = database
	cfg.Vantagepoint.ClientID = vpClientID
	cfg.Vantagepoint.ClientSecret = vpClientSecret
	cfg.Vantagepoint.FleetSize = 1 // one agent on its own server: nothing to pace
	cfg.DataDir = dataDir
	b, err := json.MarshalIndent(cfg, "", "  ")
	if err != nil {
		return fmt.Errorf("encode the configuration: %w", err)
	}
	if err := os.WriteFile(cfgPath, b, 0o600); err != nil {
		return fmt.Errorf("write the configuration: %w", err)
	}
	line, _ := json.Marshal(ready{VPURL: v.APIURL(), Database: database, VPClientID: vpClientID, VPClientSecret: vpClientSecret,
		VPUser: vpUser, VPPassword: vpPassword, Employee: employee, TaggedSubject: taggedSubject, ContactMail: contactMail})
	fmt.Println(string(line))
	<-ctx.Done()
	return nil
}

// seed is a small world: the user in both services, the Connect hubs of
// the administration, a firm and two of the user's contacts in
// Vantagepoint, and a few e-mails of which one is tagged.
func seed(g *graphsim.Server, v *vpsim.Server, now time.Time) {
	v.AddEmployee(vpsim.Employee{Employee: employee, FirstName: "Casey", LastName: "Wine", EMail: userMail, Status: "A"})
	v.AddUser(vpUser, vpPassword, employee)
	v.AddConnectHubs()
	v.AddFirm(vpsim.Firm{ClientID: "RIVERSIDE", Name: "Riverside Water Authority", Status: "A"})
	v.AddContact(vpsim.Contact{ClientID: "RIVERSIDE", FirstName: "Chloe", LastName: "Martin", Title: "Chief Engineer",
		Email: contactMail, Phone: "+1 555 0100", ContactStatus: "A", Owner: employee})
	v.AddContact(vpsim.Contact{ClientID: "RIVERSIDE", FirstName: "David", LastName: "Kim", Title: "Procurement Lead",
		Email: "david.kim@riverside-water.example", Phone: "+1 555 0101", ContactStatus: "A", Owner: employee})
	me := graphsim.Recipient{Name: "Casey Wine", Address: userMail}
	for i, subject := range []string{taggedSubject, "Lunch on Thursday?", "Riverside: permit approved"} {
		sent := now.Add(-time.Duration(i+1) * time.Hour).Truncate(time.Second)
		m := graphsim.Message{
			InternetMessageID: fmt.Sprintf("<wine-%02d@mail.riverside-water.example>", i),
			Subject:           subject, BodyType: "text", Body: "Hello Casey,\n\n" + subject + ".\n\nChloe",
			From: graphsim.Recipient{Name: "Chloe Martin", Address: contactMail}, To: []graphsim.Recipient{me},
			SentDateTime: sent, ReceivedDateTime: sent.Add(20 * time.Second), IsRead: true, Categories: []string{},
		}
		if subject == taggedSubject {
			m.Categories = []string{category}
		}
		g.AddMessage("inbox", m)
	}
}

// refreshPad is what the Microsoft front adds to each refresh token:
// alone more than Windows' 2,560-byte limit on a credential's blob
// (CRED_MAX_CREDENTIAL_BLOB_SIZE, 5*512; learn.microsoft.com/en-us/windows/
// win32/api/wincred/ns-wincred-credentiala).
const refreshPad = 3000

// recorder appends secrets to a file, each once.
type recorder struct {
	mu   sync.Mutex
	f    *os.File
	seen map[string]bool
}

func newRecorder(path string) (*recorder, error) {
	f, err := os.OpenFile(path, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o600)
	if err != nil {
		return nil, fmt.Errorf("open the secrets file: %w", err)
	}
	return &recorder{f: f, seen: map[string]bool{}}, nil
}

func (r *recorder) add(s string) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if s == "" || r.seen[s] {
		return nil
	}
	r.seen[s] = true
	if _, err := fmt.Fprintln(r.f, s); err != nil {
		return fmt.Errorf("note a secret: %w", err)
	}
	return r.f.Sync()
}

func (r *recorder) close() { r.f.Close() }

// proxy is a recording reverse proxy on a loopback port of its own.
type proxy struct {
	URL string
	srv *http.Server
}

func (p *proxy) Close() { p.srv.Close() }

// isTokenRequest tells a token request: a POST to a path ending in /token.
func isTokenRequest(r *http.Request) bool {
	return r.Method == http.MethodPost && strings.HasSuffix(strings.ToLower(r.URL.Path), "/token")
}

// front serves a reverse proxy to target that notes the access, refresh
// and id tokens of every token answer. With pad > 0 it hands out each
// refresh token lengthened by pad characters, and gives the service back
// the token it issued when the client redeems a lengthened one.
func front(target string, rec *recorder, pad int) (*proxy, error) {
	u, err := url.Parse(target)
	if err != nil {
		return nil, fmt.Errorf("parse %s: %w", target, err)
	}
	var issued sync.Map // lengthened refresh token → the service's own
	rp := httputil.NewSingleHostReverseProxy(u)
	direct := rp.Director
	rp.Director = func(r *http.Request) {
		direct(r)
		if pad > 0 && isTokenRequest(r) {
			restoreRefreshToken(r, &issued)
		}
	}
	rp.ModifyResponse = func(res *http.Response) error {
		if !isTokenRequest(res.Request) {
			return nil
		}
		body, err := io.ReadAll(res.Body)
		res.Body.Close()
		if err != nil {
			return fmt.Errorf("read a token answer: %w", err)
		}
		res.Body = io.NopCloser(bytes.NewReader(body))
		var tok struct {
			Access  string `json:"access_token"`
			Refresh string `json:"refresh_token"`
			ID      string `json:"id_token"`
		}
		if json.Unmarshal(body, &tok) != nil {
			return nil
		}
		for _, s := range []string{tok.Access, tok.Refresh, tok.ID} {
			if err := rec.add(s); err != nil {
				return err
			}
		}
		if pad == 0 || tok.Refresh == "" {
			return nil
		}
		long, err := lengthen(tok.Refresh, pad)
		if err != nil {
			return err
		}
		var all map[string]any
		if err := json.Unmarshal(body, &all); err != nil {
			return fmt.Errorf("decode a token answer: %w", err)
		}
		all["refresh_token"] = long
		if body, err = json.Marshal(all); err != nil {
			return fmt.Errorf("encode a token answer: %w", err)
		}
		issued.Store(long, tok.Refresh)
		if err := rec.add(long); err != nil {
			return err
		}
		res.Body = io.NopCloser(bytes.NewReader(body))
		res.ContentLength = int64(len(body))
		res.Header.Set("Content-Length", strconv.Itoa(len(body)))
		return nil
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("listen for the proxy to %s: %w", target, err)
	}
	p := &proxy{URL: "http://" + ln.Addr().String(), srv: &http.Server{Handler: rp, ReadHeaderTimeout: 10 * time.Second}}
	go func() {
		if err := p.srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			fmt.Fprintln(os.Stderr, "winesim: proxy:", err)
		}
	}()
	return p, nil
}

// lengthen appends n random base64url characters to a token, after a dot.
func lengthen(token string, n int) (string, error) {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		return "", fmt.Errorf("lengthen a refresh token: %w", err)
	}
	return token + "." + base64.RawURLEncoding.EncodeToString(b)[:n], nil
}

// restoreRefreshToken puts back, in a token request's form, the refresh
// token the service issued for a lengthened one. A token the front never
// handed out is passed on as it is, for the service to refuse.
func restoreRefreshToken(r *http.Request, issued *sync.Map) {
	if r.Body == nil {
		return
	}
	body, err := io.ReadAll(r.Body)
	r.Body.Close()
	if err == nil {
		if form, perr := url.ParseQuery(string(body)); perr == nil {
			if orig, ok := issued.Load(form.Get("refresh_token")); ok {
				form.Set("refresh_token", orig.(string))
				body = []byte(form.Encode())
			}
		}
	}
	r.Body = io.NopCloser(bytes.NewReader(body))
	r.ContentLength = int64(len(body))
	r.Header.Set("Content-Length", strconv.Itoa(len(body)))
}
