package localapi

import (
	"crypto/subtle"
	"embed"
	"encoding/json"
	"errors"
	"fmt"
	"html/template"
	"io"
	"io/fs"
	"net/http"
	"strconv"
	"strings"
	"time"

	"vpconnect/agent"
	"vpconnect/syncer"
)

//go:embed assets
var assets embed.FS

// pageCSP allows only the page's own scripts, styles and connections: no
// inline script, no CDN, no framing.
const pageCSP = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"

const (
	openTTL = 2 * time.Minute
	// A session ends sessionIdle after the page last used it (its open
	// event stream uses it) and sessionMax after it began, whichever is
	// first; its cookie ends with the browser.
	sessionIdle = 30 * time.Minute
	sessionMax  = 12 * time.Hour
	// PageSecretHeader carries the page's secret on every /ui request.
	PageSecretHeader = "X-Page-Secret"
)

// session is a browser tab of the Sync Options page. Cookies ignore ports,
// so the session cookie also reaches any other program listening on
// loopback that the browser is led to; that program can replay the cookie,
// but it cannot read the page secret, which the page got once, in the
// fragment of the /open redirect (never sent to any server), and keeps in
// its tab's sessionStorage. Every /ui request needs both.
type session struct {
	secret   string
	begun    time.Time
	lastUsed time.Time
}

var indexTmpl = template.Must(template.ParseFS(assets, "assets/index.html"))

// OpenURL returns a one-time address of the Sync Options page: opened once
// within two minutes, it starts a session in that browser. The tray and
// `vpconnect options` open it; nobody else can, since minting it takes the
// owner's secret.
func (s *Server) OpenURL() string {
	t := randomToken(24)
	s.mu.Lock()
	now := s.opts.Now()
	for k, exp := range s.openTicks {
		if now.After(exp) {
			delete(s.openTicks, k)
		}
	}
	s.openTicks[t] = now.Add(openTTL)
	s.mu.Unlock()
	return s.BaseURL() + "/open?t=" + t
}

func (s *Server) cookieName() string { return "vpconnect_session_" + strconv.Itoa(s.port) }

// live says whether the session is still valid at now.
func (sess *session) live(now time.Time) bool {
	return now.Sub(sess.lastUsed) <= sessionIdle && now.Sub(sess.begun) <= sessionMax
}

// cookieSession returns the session the request's cookie names, if valid.
// The cookie alone is not enough for any /ui request (pageSession).
func (s *Server) cookieSession(r *http.Request) (*session, bool) {
	c, err := r.Cookie(s.cookieName())
	if err != nil {
		return nil, false
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	sess, ok := s.sessions[c.Value]
	if !ok || !sess.live(s.opts.Now()) {
		delete(s.sessions, c.Value)
		return nil, false
	}
	return sess, true
}

// pageSession returns the request's session when it has both the cookie and
// the page secret, and uses it (the idle time starts again); otherwise the
// error code: no_session (no valid cookie) or page_secret.
func (s *Server) pageSession(r *http.Request) (*session, string) {
	sess, ok := s.cookieSession(r)
	if !ok {
		return nil, "no_session"
	}
	if subtle.ConstantTimeCompare([]byte(r.Header.Get(PageSecretHeader)), []byte(sess.secret)) != 1 {
		return nil, "page_secret"
	}
	return sess, s.touch(sess)
}

// touch marks a session used now; it answers "" when it still lives, or
// no_session.
func (s *Server) touch(sess *session) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.opts.Now()
	if !sess.live(now) {
		return "no_session"
	}
	sess.lastUsed = now
	return ""
}

// index is the page's shell. It holds no secret: the page's script reads
// its secret from the address's fragment or its tab's sessionStorage. Without
// a session cookie the shell says how to open the page.
func (s *Server) index(w http.ResponseWriter, r *http.Request, _ caller) {
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	if _, ok := s.cookieSession(r); !ok {
		w.WriteHeader(http.StatusUnauthorized)
		_ = indexTmpl.Execute(w, map[string]any{"NoSession": true})
		return
	}
	_ = indexTmpl.Execute(w, map[string]any{})
}

func (s *Server) uiState(w http.ResponseWriter, r *http.Request, _ caller) {
	writeJSON(w, http.StatusOK, s.pageState(s.backend().Status()))
}

// open consumes a one-time address and starts a session: the cookie for
// this browser, and the page secret in the fragment of the address it is
// sent on to (a fragment never leaves the browser).
func (s *Server) open(w http.ResponseWriter, r *http.Request, _ caller) {
	t := r.URL.Query().Get("t")
	s.mu.Lock()
	exp, ok := s.openTicks[t]
	delete(s.openTicks, t)
	now := s.opts.Now()
	var id, secret string
	if ok && !now.After(exp) {
		for k, sess := range s.sessions {
			if !sess.live(now) {
				delete(s.sessions, k)
			}
		}
		id, secret = randomToken(32), randomToken(32)
		s.sessions[id] = &session{secret: secret, begun: now, lastUsed: now}
	}
	s.mu.Unlock()
	if id == "" {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		w.WriteHeader(http.StatusUnauthorized)
		_ = indexTmpl.Execute(w, map[string]any{"NoSession": true, "Expired": true})
		return
	}
	// No Max-Age or Expires: the cookie ends with the browser.
	http.SetCookie(w, &http.Cookie{Name: s.cookieName(), Value: id, Path: "/", HttpOnly: true,
		SameSite: http.SameSiteStrictMode})
	// Redirect so the one-time token leaves the address bar and history;
	// the page script takes the secret out of the fragment at once.
	// The screen to show first (v: the tray's "Activate…" and its
	// re-authorizations) rides in the fragment too, from a fixed list.
	frag := "/#s=" + secret
	switch v := r.URL.Query().Get("v"); v {
	case ModeActivate, ModeMicrosoft, ModeVantagepoint:
		frag += "&v=" + v
	}
	http.Redirect(w, r, frag, http.StatusSeeOther)
}

func (s *Server) asset(w http.ResponseWriter, r *http.Request, _ caller) {
	name := strings.TrimPrefix(r.URL.Path, "/")
	if strings.Contains(name, "..") || strings.HasSuffix(name, ".html") {
		writeError(w, http.StatusNotFound, "not_found", "no such file")
		return
	}
	f, err := assets.Open(name)
	if err != nil {
		writeError(w, http.StatusNotFound, "not_found", "no such file")
		return
	}
	defer f.Close()
	switch {
	case strings.HasSuffix(name, ".js"):
		w.Header().Set("Content-Type", "text/javascript; charset=utf-8")
	case strings.HasSuffix(name, ".css"):
		w.Header().Set("Content-Type", "text/css; charset=utf-8")
	case strings.HasSuffix(name, ".svg"):
		w.Header().Set("Content-Type", "image/svg+xml")
	}
	_, _ = io.Copy(w, f.(fs.File))
}

// PageState is what the Sync Options page renders.
type PageState struct {
	Status   agent.Status  `json:"status"`
	Pairings []PairingInfo `json:"pairings"`
	// Addins are the paired add-ins, which the page can revoke.
	Addins []AddinInfo `json:"addins"`
	// AllowedOrigins are the add-in origins, for the Local Network Access
	// explanation.
	AllowedOrigins []string `json:"allowedOrigins"`
	// Activation is the page's activation or re-authorization, when this
	// agent can run one.
	Activation *ActivationState `json:"activation,omitempty"`
	// Options are the sync options and which of them policy sets.
	Options *OptionsView `json:"options,omitempty"`
	// Generation counts the agents served (SetBackend): a status's seq
	// is its agent's, and starts again with a new one.
	Generation int64 `json:"generation"`
}

func (s *Server) pageState(st agent.Status) PageState {
	o := s.opts.AllowedOrigins
	if o == nil {
		o = []string{}
	}
	return PageState{Status: st, Pairings: s.Pending(), Addins: s.Addins(), AllowedOrigins: o,
		Activation: s.activationState(), Options: s.optionsView(), Generation: s.generation.Load()}
}

func writeEvent(w io.Writer, name string, v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	_, err = fmt.Fprintf(w, "event: %s\ndata: %s\n\n", name, b)
	return err
}

// pageEvents streams the page's state on every change of the agent or of
// the pairings (server-sent events, read by the page with fetch so that it
// can send its secret). While the stream is open the page is in use: each
// keepalive uses the session, and the stream ends with it.
func (s *Server) pageEvents(w http.ResponseWriter, r *http.Request, c caller) {
	fl, ok := w.(http.Flusher)
	if !ok {
		writeError(w, http.StatusInternalServerError, "internal", "streaming unsupported")
		return
	}
	// The agent may be rebuilt under the stream (an activation): the
	// stream then follows the new one.
	b := s.backend()
	sub, stop := b.Subscribe()
	defer func() { stop() }()
	w.Header().Set("Content-Type", "text/event-stream")
	w.WriteHeader(http.StatusOK)
	st := b.Status()
	keepalive := time.NewTicker(25 * time.Second)
	defer keepalive.Stop()
	changed := s.changes()
	for {
		if err := writeEvent(w, "state", s.pageState(st)); err != nil {
			return
		}
		fl.Flush()
		select {
		case <-r.Context().Done():
			return
		case st = <-sub:
		case <-changed:
			changed = s.changes()
			if nb := s.backend(); nb != b {
				stop()
				b = nb
				sub, stop = b.Subscribe()
			}
			st = b.Status()
		case <-keepalive.C:
			if s.touch(c.session) != "" {
				return
			}
			// A comment keeps proxies and the browser from timing out.
			if _, err := io.WriteString(w, ": keepalive\n\n"); err != nil {
				return
			}
		}
	}
}

// ActionRequest is a button of the Sync Options page.
type ActionRequest struct {
	Action   string `json:"action"`
	ID       string `json:"id,omitempty"`
	Account  string `json:"account,omitempty"`
	Username string `json:"username,omitempty"`
	Password string `json:"password,omitempty"`
	Force    bool   `json:"force,omitempty"`
	// Type names the item type of "confirm-deletes".
	Type string `json:"type,omitempty"`
	// Code is what the owner typed to approve a pairing.
	Code string `json:"code,omitempty"`
}

// action runs a page button. It needs the session (routes.go: the cookie,
// SameSite=Strict, and the page secret in X-Page-Secret, which no other
// program or page knows) and a JSON body.
func (s *Server) action(w http.ResponseWriter, r *http.Request, _ caller) {
	var req ActionRequest
	if !readJSON(w, r, &req) {
		return
	}
	b, ctx := s.backend(), r.Context()
	var err error
	switch req.Action {
	case "sync", "retry":
		_, err = b.SyncNow(ctx, syncer.TriggerManual)
	case "pause":
		err = b.Pause(ctx)
	case "resume":
		err = b.Resume(ctx)
	case "approve":
		err = s.Approve(req.Code)
	case "deny":
		err = s.Deny(req.ID)
	case "revoke":
		err = s.Revoke(req.ID)
	case "reauthorize":
		err = b.Reauthorize(ctx, req.Account, agent.Credentials{Username: req.Username, Password: req.Password})
	case "deactivate":
		err = b.Deactivate(ctx, req.Force)
	case "confirm-deletes":
		_, err = b.ConfirmDeletes(ctx, req.Type)
	case "refuse-deletes":
		_, err = b.RefuseDeletes(ctx, req.Type)
	default:
		writeError(w, http.StatusBadRequest, "invalid_request", "unknown action")
		return
	}
	switch {
	case errors.Is(err, ErrWrongCode), errors.Is(err, ErrNoAddin):
		writePairError(w, err)
		return
	case err != nil:
		writeBackendError(w, err)
		return
	}
	writeJSON(w, http.StatusOK, s.pageState(b.Status()))
}
