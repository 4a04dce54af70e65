package localapi

import (
	"crypto/subtle"
	"embed"
	"encoding/json"
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
	openTTL    = 2 * time.Minute
	sessionTTL = 12 * time.Hour
)

// session is a browser tab of the Sync Options page.
type session struct {
	csrf    string
	expires time.Time
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

// sessionOf returns the request's valid session.
func (s *Server) sessionOf(r *http.Request) (*session, bool) {
	c, err := r.Cookie(s.cookieName())
	if err != nil {
		return nil, false
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	sess, ok := s.sessions[c.Value]
	if !ok || s.opts.Now().After(sess.expires) {
		delete(s.sessions, c.Value)
		return nil, false
	}
	return sess, true
}

func (s *Server) serveUI(w http.ResponseWriter, r *http.Request) {
	switch {
	case r.URL.Path == "/open" && r.Method == http.MethodGet:
		s.open(w, r)
	case strings.HasPrefix(r.URL.Path, "/assets/") && r.Method == http.MethodGet:
		s.asset(w, r)
	case r.URL.Path == "/" && r.Method == http.MethodGet:
		sess, ok := s.sessionOf(r)
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		if !ok {
			w.WriteHeader(http.StatusUnauthorized)
			_ = indexTmpl.Execute(w, map[string]any{"NoSession": true})
			return
		}
		_ = indexTmpl.Execute(w, map[string]any{"CSRF": sess.csrf})
	case r.URL.Path == "/ui/state" && r.Method == http.MethodGet:
		if _, ok := s.sessionOf(r); !ok {
			writeError(w, http.StatusUnauthorized, "no_session", "open Sync Options from the tray or with 'vpconnect options'")
			return
		}
		writeJSON(w, http.StatusOK, s.pageState(s.opts.Backend.Status()))
	case r.URL.Path == "/ui/events" && r.Method == http.MethodGet:
		if _, ok := s.sessionOf(r); !ok {
			writeError(w, http.StatusUnauthorized, "no_session", "open Sync Options from the tray or with 'vpconnect options'")
			return
		}
		s.pageEvents(w, r)
	case r.URL.Path == "/ui/action" && r.Method == http.MethodPost:
		s.action(w, r)
	default:
		writeError(w, http.StatusNotFound, "not_found", "no such page")
	}
}

// open consumes a one-time address and starts a session.
func (s *Server) open(w http.ResponseWriter, r *http.Request) {
	t := r.URL.Query().Get("t")
	s.mu.Lock()
	exp, ok := s.openTicks[t]
	delete(s.openTicks, t)
	now := s.opts.Now()
	var id string
	if ok && !now.After(exp) {
		id = randomToken(32)
		s.sessions[id] = &session{csrf: randomToken(32), expires: now.Add(sessionTTL)}
	}
	s.mu.Unlock()
	if id == "" {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		w.WriteHeader(http.StatusUnauthorized)
		_ = indexTmpl.Execute(w, map[string]any{"NoSession": true, "Expired": true})
		return
	}
	http.SetCookie(w, &http.Cookie{Name: s.cookieName(), Value: id, Path: "/", HttpOnly: true,
		SameSite: http.SameSiteStrictMode, MaxAge: int(sessionTTL / time.Second)})
	// Redirect so the one-time token leaves the address bar and history.
	http.Redirect(w, r, "/", http.StatusSeeOther)
}

func (s *Server) asset(w http.ResponseWriter, r *http.Request) {
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
	// AllowedOrigins are the add-in origins, for the Local Network Access
	// explanation.
	AllowedOrigins []string `json:"allowedOrigins"`
}

func (s *Server) pageState(st agent.Status) PageState {
	o := s.opts.AllowedOrigins
	if o == nil {
		o = []string{}
	}
	return PageState{Status: st, Pairings: s.Pending(), AllowedOrigins: o}
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
// the pairings (server-sent events: one-way, reconnects by itself).
func (s *Server) pageEvents(w http.ResponseWriter, r *http.Request) {
	fl, ok := w.(http.Flusher)
	if !ok {
		writeError(w, http.StatusInternalServerError, "internal", "streaming unsupported")
		return
	}
	sub, stop := s.opts.Backend.Subscribe()
	defer stop()
	w.Header().Set("Content-Type", "text/event-stream")
	w.WriteHeader(http.StatusOK)
	st := s.opts.Backend.Status()
	keepalive := time.NewTicker(25 * time.Second)
	defer keepalive.Stop()
	for {
		if err := writeEvent(w, "state", s.pageState(st)); err != nil {
			return
		}
		fl.Flush()
		select {
		case <-r.Context().Done():
			return
		case st = <-sub:
		case <-s.changes():
			st = s.opts.Backend.Status()
		case <-keepalive.C:
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
}

// action runs a page button. It needs the session cookie (SameSite=Strict,
// so another site's page cannot send it), the session's CSRF token in
// X-CSRF-Token, and a JSON body: three independent locks on one door.
func (s *Server) action(w http.ResponseWriter, r *http.Request) {
	sess, ok := s.sessionOf(r)
	if !ok {
		writeError(w, http.StatusUnauthorized, "no_session", "the page's session ended: open Sync Options again")
		return
	}
	if subtle.ConstantTimeCompare([]byte(r.Header.Get("X-CSRF-Token")), []byte(sess.csrf)) != 1 {
		writeError(w, http.StatusForbidden, "csrf", "the request did not come from the Sync Options page")
		return
	}
	var req ActionRequest
	if !readJSON(w, r, &req) {
		return
	}
	b, ctx := s.opts.Backend, r.Context()
	var err error
	switch req.Action {
	case "sync", "retry":
		_, err = b.SyncNow(ctx, syncer.TriggerManual)
	case "pause":
		err = b.Pause(ctx)
	case "resume":
		err = b.Resume(ctx)
	case "approve", "deny":
		if e := s.Decide(req.ID, req.Action == "approve"); e != nil {
			writeError(w, http.StatusNotFound, "not_found", e.Error())
			return
		}
	case "reauthorize":
		err = b.Reauthorize(ctx, req.Account, agent.Credentials{Username: req.Username, Password: req.Password})
	case "deactivate":
		err = b.Deactivate(ctx, req.Force)
	case "confirm-deletes":
		_, err = b.ConfirmDeletes(ctx, req.Type)
	default:
		writeError(w, http.StatusBadRequest, "invalid_request", "unknown action")
		return
	}
	if err != nil {
		writeBackendError(w, err)
		return
	}
	writeJSON(w, http.StatusOK, s.pageState(b.Status()))
}
