package localapi

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"vpconnect/agent"
	"vpconnect/syncer"
	"vpconnect/syncer/store"
)

// Hello is GET /v1/hello.
type Hello struct {
	Product  string `json:"product"`
	Version  string `json:"version"`
	Instance string `json:"instance"`
}

// SyncAnswer is POST /v1/sync's answer: the batch's id, and with ?wait=1 the
// batch itself once it finished.
type SyncAnswer struct {
	Batch  int64        `json:"batch"`
	Result *store.Batch `json:"result,omitempty"`
	Error  string       `json:"error,omitempty"`
	// SignInNeeded is set when the batch failed because a credential was
	// refused (the CLI exits 3).
	SignInNeeded bool `json:"signInNeeded,omitempty"`
}

// TrackAnswer is GET /v1/track/{messageId}.
type TrackAnswer struct {
	MessageID  string `json:"messageId"`
	State      string `json:"state"`
	ActivityID string `json:"activityId,omitempty"`
	Reason     string `json:"reason,omitempty"`
}

// PairRequest is POST /v1/pair.
type PairRequest struct {
	// Name is how the add-in calls itself in the approval prompt.
	Name string `json:"name"`
}

// PairAnswer is the answer to POST /v1/pair and GET /v1/pair/{id}.
type PairAnswer struct {
	ID     string `json:"id"`
	Status string `json:"status"` // pending, approved, denied, expired
	// Code is shown by the add-in and by the approval prompt, so that the
	// user approves the request they made.
	Code string `json:"code"`
	// Token is handed out once, by the first GET after approval.
	Token string `json:"token,omitempty"`
}

// Pairing statuses.
const (
	PairPending  = "pending"
	PairApproved = "approved"
	PairDenied   = "denied"
	PairExpired  = "expired"
)

// PairingInfo is a pending pairing as the Sync Options page and the tray
// list it.
type PairingInfo struct {
	ID      string    `json:"id"`
	Origin  string    `json:"origin"`
	Name    string    `json:"name"`
	Code    string    `json:"code"`
	Created time.Time `json:"created"`
}

// DeactivateRequest is POST /v1/deactivate (owner only).
type DeactivateRequest struct {
	Force bool `json:"force"`
}

// OpenAnswer is POST /v1/open (owner only): a one-time address of the Sync
// Options page.
type OpenAnswer struct {
	URL string `json:"url"`
}

// ReauthorizeRequest is POST /v1/reauthorize (owner only).
type ReauthorizeRequest struct {
	Account  string `json:"account"`
	Username string `json:"username,omitempty"`
	Password string `json:"password,omitempty"`
}

const (
	pairTTL     = 10 * time.Minute
	maxPending  = 16
	maxPairName = 80
)

func (s *Server) serveAPI(w http.ResponseWriter, r *http.Request, origin string, cross bool) {
	path := strings.TrimPrefix(r.URL.Path, "/v1")
	get, post := r.Method == http.MethodGet, r.Method == http.MethodPost
	if !get && !post {
		w.Header().Set("Allow", "GET, POST")
		writeError(w, http.StatusMethodNotAllowed, "method_not_allowed", "use GET or POST")
		return
	}
	// Routes without a token: hello, and the pairing that hands one out.
	switch {
	case path == "/hello" && get:
		writeJSON(w, http.StatusOK, Hello{Product: "vpconnect", Version: agent.Version, Instance: s.instance})
		return
	case path == "/pair" && post:
		s.pair(w, r, origin)
		return
	case strings.HasPrefix(path, "/pair/") && get && !strings.Contains(path[len("/pair/"):], "/"):
		s.pairStatus(w, r, origin, path[len("/pair/"):])
		return
	}
	c, ok := s.authenticate(r, origin)
	if !ok {
		w.Header().Set("WWW-Authenticate", `Bearer realm="vpconnect"`)
		writeError(w, http.StatusUnauthorized, "unauthorized", "a valid bearer token is needed: pair the add-in, or use the tray or the vpconnect command")
		return
	}
	b := s.opts.Backend
	ctx := r.Context()
	switch {
	case path == "/status" && get:
		writeJSON(w, http.StatusOK, b.Status())
	case path == "/events" && get:
		s.events(w, r, c.owner)
	case path == "/sync" && post:
		var req struct{}
		if !readJSON(w, r, &req) {
			return
		}
		s.syncNow(w, r)
	case path == "/pause" && post, path == "/resume" && post:
		var req struct{}
		if !readJSON(w, r, &req) {
			return
		}
		var err error
		if path == "/pause" {
			err = b.Pause(ctx)
		} else {
			err = b.Resume(ctx)
		}
		if err != nil {
			writeBackendError(w, err)
			return
		}
		writeJSON(w, http.StatusOK, b.Status())
	case path == "/track" && post:
		var req agent.TrackRequest
		if !readJSON(w, r, &req) {
			return
		}
		if strings.TrimSpace(req.MessageID) == "" || len(req.MessageID) > 1024 {
			writeError(w, http.StatusBadRequest, "invalid_request", "messageId is required")
			return
		}
		if err := b.Track(ctx, req); err != nil {
			writeBackendError(w, err)
			return
		}
		writeJSON(w, http.StatusAccepted, TrackAnswer{MessageID: req.MessageID, State: string(store.TrackQueued)})
	case strings.HasPrefix(path, "/track/") && get:
		id := path[len("/track/"):]
		if id == "" || len(id) > 1024 {
			writeError(w, http.StatusBadRequest, "invalid_request", "name the message")
			return
		}
		t, found, err := b.TrackStatus(ctx, id)
		if err != nil {
			writeBackendError(w, err)
			return
		}
		if !found {
			writeError(w, http.StatusNotFound, "not_found", "this message was not tracked")
			return
		}
		writeJSON(w, http.StatusOK, TrackAnswer{MessageID: id, State: string(t.State), ActivityID: t.ActivityID, Reason: t.Reason})
	case path == "/lookup" && get:
		s.lookup(w, r)
	case path == "/search" && get:
		s.search(w, r)
	// The owner's routes: what only the user (tray, CLI) may do.
	case c.owner && path == "/open" && post:
		var req struct{}
		if !readJSON(w, r, &req) {
			return
		}
		writeJSON(w, http.StatusOK, OpenAnswer{URL: s.OpenURL()})
	case c.owner && path == "/deactivate" && post:
		var req DeactivateRequest
		if !readJSON(w, r, &req) {
			return
		}
		if err := b.Deactivate(ctx, req.Force); err != nil {
			writeBackendError(w, err)
			return
		}
		writeJSON(w, http.StatusOK, b.Status())
	case c.owner && path == "/reauthorize" && post:
		var req ReauthorizeRequest
		if !readJSON(w, r, &req) {
			return
		}
		if err := b.Reauthorize(ctx, req.Account, agent.Credentials{Username: req.Username, Password: req.Password}); err != nil {
			writeBackendError(w, err)
			return
		}
		writeJSON(w, http.StatusOK, b.Status())
	case c.owner && path == "/restart" && post:
		// After 'vpconnect activate' in another process: the agent is
		// built again from what that process stored.
		var req struct{}
		if !readJSON(w, r, &req) {
			return
		}
		if err := b.Restart(ctx); err != nil {
			writeBackendError(w, err)
			return
		}
		writeJSON(w, http.StatusAccepted, struct{}{})
	case c.owner && path == "/pairings" && get:
		writeJSON(w, http.StatusOK, s.Pending())
	case c.owner && post && strings.HasPrefix(path, "/pair/") && (strings.HasSuffix(path, "/approve") || strings.HasSuffix(path, "/deny")):
		var req struct{}
		if !readJSON(w, r, &req) {
			return
		}
		rest := strings.TrimPrefix(path, "/pair/")
		id, verb, _ := strings.Cut(rest, "/")
		if err := s.Decide(id, verb == "approve"); err != nil {
			writeError(w, http.StatusNotFound, "not_found", err.Error())
			return
		}
		writeJSON(w, http.StatusOK, struct{}{})
	default:
		writeError(w, http.StatusNotFound, "not_found", "no such endpoint")
	}
}

func (s *Server) syncNow(w http.ResponseWriter, r *http.Request) {
	wait, _ := strconv.ParseBool(r.URL.Query().Get("wait"))
	t, err := s.opts.Backend.SyncNow(r.Context(), syncer.TriggerManual)
	if err != nil {
		writeBackendError(w, err)
		return
	}
	if !wait {
		writeJSON(w, http.StatusAccepted, SyncAnswer{Batch: t.Batch})
		return
	}
	select {
	case res := <-t.Done:
		a := SyncAnswer{Batch: t.Batch}
		if res.Batch.ID != 0 {
			b := res.Batch
			a.Batch, a.Result = b.ID, &b
		}
		if res.Err != nil {
			a.Error = agent.Redact(res.Err.Error())
			a.SignInNeeded = errors.Is(res.Err, syncer.ErrAuthRejected)
		}
		writeJSON(w, http.StatusOK, a)
	case <-r.Context().Done():
	}
}

// pairing is one add-in's request to pair.
type pairing struct {
	PairingInfo
	status string
	token  string // set on approval, cleared once handed out
}

func randomToken(n int) string {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		panic("localapi: no randomness: " + err.Error())
	}
	return hex.EncodeToString(b)
}

// pairCode is a short code the user compares between the add-in and the
// approval prompt.
func pairCode() string {
	b := make([]byte, 4)
	_, _ = rand.Read(b)
	n := (uint32(b[0])<<24 | uint32(b[1])<<16 | uint32(b[2])<<8 | uint32(b[3])) % 1000000
	return fmt.Sprintf("%03d-%03d", n/1000, n%1000)
}

// pair is POST /v1/pair: an add-in, from an allowed origin, asks for a
// token. The user approves it in Sync Options (or the tray), unless policy
// auto-approves the origin.
func (s *Server) pair(w http.ResponseWriter, r *http.Request, origin string) {
	var req PairRequest
	if !readJSON(w, r, &req) {
		return
	}
	if origin == "" || !s.allowedOrigin(origin) {
		writeError(w, http.StatusForbidden, "forbidden_origin", "pairing is only for an add-in served from an allowed origin")
		return
	}
	name := strings.TrimSpace(req.Name)
	if name == "" {
		name = "Outlook add-in"
	}
	if len(name) > maxPairName {
		name = name[:maxPairName]
	}
	now := s.opts.Now()
	s.mu.Lock()
	s.expireLocked(now)
	pending := 0
	for _, p := range s.pairings {
		if p.status == PairPending {
			pending++
		}
	}
	if pending >= maxPending {
		s.mu.Unlock()
		writeError(w, http.StatusTooManyRequests, "too_many_pairings", "too many pairing requests are waiting; approve or deny them in Sync Options")
		return
	}
	p := &pairing{PairingInfo: PairingInfo{ID: randomToken(16), Origin: origin, Name: name, Code: pairCode(), Created: now}, status: PairPending}
	s.pairings[p.ID] = p
	// A browser cannot lie about Origin, a local process can: auto-approval
	// needs the connection to be known as this user's.
	auto := slices.Contains(s.opts.AutoApproveOrigins, origin) && peerOf(r.Context()) == peerSelf
	s.mu.Unlock()
	if auto {
		_ = s.Decide(p.ID, true)
	} else {
		s.notify()
	}
	s.log.Info("add-in pairing requested", "origin", origin, "auto", auto)
	s.mu.Lock()
	ans := PairAnswer{ID: p.ID, Status: p.status, Code: p.Code}
	s.mu.Unlock()
	writeJSON(w, http.StatusAccepted, ans)
}

func (s *Server) expireLocked(now time.Time) {
	for id, p := range s.pairings {
		if now.Sub(p.Created) > pairTTL {
			delete(s.pairings, id)
		}
	}
}

// pairStatus is GET /v1/pair/{id}, asked by the same origin: the token is
// in the first answer after approval, and never again.
func (s *Server) pairStatus(w http.ResponseWriter, r *http.Request, origin, id string) {
	s.mu.Lock()
	s.expireLocked(s.opts.Now())
	p, ok := s.pairings[id]
	if !ok || p.Origin != origin {
		s.mu.Unlock()
		writeError(w, http.StatusNotFound, "not_found", "no such pairing request (it may have expired)")
		return
	}
	ans := PairAnswer{ID: p.ID, Status: p.status, Code: p.Code, Token: p.token}
	if p.status != PairPending {
		delete(s.pairings, id) // handed out (or denied) once
	}
	s.mu.Unlock()
	writeJSON(w, http.StatusOK, ans)
}

// Pending lists the pairing requests waiting for the user.
func (s *Server) Pending() []PairingInfo {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.expireLocked(s.opts.Now())
	out := []PairingInfo{}
	for _, p := range s.pairings {
		if p.status == PairPending {
			out = append(out, p.PairingInfo)
		}
	}
	slices.SortFunc(out, func(a, b PairingInfo) int { return a.Created.Compare(b.Created) })
	return out
}

// Decide approves or denies a pending pairing. An approved add-in's token
// is remembered (as a hash) across restarts.
func (s *Server) Decide(id string, approve bool) error {
	s.mu.Lock()
	p, ok := s.pairings[id]
	if !ok || p.status != PairPending {
		s.mu.Unlock()
		return errors.New("no such pending pairing")
	}
	if !approve {
		p.status = PairDenied
		s.mu.Unlock()
		s.notify()
		return nil
	}
	p.status, p.token = PairApproved, randomToken(32)
	s.tokens = append(s.tokens, newTokenEntry(p.token, p.Origin, p.Name, s.opts.Now()))
	tokens := slices.Clone(s.tokens)
	s.mu.Unlock()
	if err := saveTokens(s.opts.DataDir, tokens); err != nil {
		s.log.Error("save the paired tokens", "err", err)
	}
	s.log.Info("add-in paired", "origin", p.Origin)
	s.notify()
	return nil
}

// notify wakes the Sync Options pages watching pairings.
func (s *Server) notify() {
	s.mu.Lock()
	close(s.changed)
	s.changed = make(chan struct{})
	s.mu.Unlock()
}

func (s *Server) changes() <-chan struct{} {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.changed
}

// lookup is GET /v1/lookup?email=.
func (s *Server) lookup(w http.ResponseWriter, r *http.Request) {
	email := strings.TrimSpace(r.URL.Query().Get("email"))
	if email == "" || len(email) > 320 || !strings.Contains(email, "@") {
		writeError(w, http.StatusBadRequest, "invalid_request", "email= must be an e-mail address")
		return
	}
	if s.opts.Directory == nil {
		writeError(w, http.StatusServiceUnavailable, "not_configured", "Vantagepoint is not connected")
		return
	}
	card, err := s.opts.Directory.Lookup(r.Context(), email)
	if errors.Is(err, syncer.ErrNotFound) {
		writeError(w, http.StatusNotFound, "not_found", "no Vantagepoint contact has this address")
		return
	} else if err != nil {
		writeBackendError(w, err)
		return
	}
	writeJSON(w, http.StatusOK, card)
}

// search is GET /v1/search?type=&q=.
func (s *Server) search(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	typ, text := q.Get("type"), strings.TrimSpace(q.Get("q"))
	if !slices.Contains(SearchTypes, typ) {
		writeError(w, http.StatusBadRequest, "invalid_request", "type= must be one of "+strings.Join(SearchTypes, ", "))
		return
	}
	if text == "" || len(text) > 100 {
		writeError(w, http.StatusBadRequest, "invalid_request", "q= must be 1 to 100 characters")
		return
	}
	if s.opts.Directory == nil {
		writeError(w, http.StatusServiceUnavailable, "not_configured", "Vantagepoint is not connected")
		return
	}
	res, err := s.opts.Directory.Search(r.Context(), typ, text, MaxResults)
	if err != nil {
		writeBackendError(w, err)
		return
	}
	if len(res) > MaxResults {
		res = res[:MaxResults]
	}
	if res == nil {
		res = []Match{}
	}
	writeJSON(w, http.StatusOK, struct {
		Results []Match `json:"results"`
	}{res})
}

// events streams status snapshots as server-sent events, for the tray and
// the page.
func (s *Server) events(w http.ResponseWriter, r *http.Request, owner bool) {
	fl, ok := w.(http.Flusher)
	if !ok {
		writeError(w, http.StatusInternalServerError, "internal", "streaming unsupported")
		return
	}
	sub, stop := s.opts.Backend.Subscribe()
	defer stop()
	w.Header().Set("Content-Type", "text/event-stream")
	w.WriteHeader(http.StatusOK)
	fl.Flush()
	ctx := r.Context()
	// The owner (the tray) also hears of the pending add-in pairings, at
	// once and on every change, so that it need not poll for them; an
	// add-in never sees another's request.
	var changed <-chan struct{}
	if owner {
		changed = s.changes()
		if err := writeEvent(w, "pairings", s.Pending()); err != nil {
			return
		}
		fl.Flush()
	}
	for {
		select {
		case <-ctx.Done():
			return
		case st := <-sub:
			if err := writeEvent(w, "status", st); err != nil {
				return
			}
		case <-changed:
			changed = s.changes()
			if err := writeEvent(w, "pairings", s.Pending()); err != nil {
				return
			}
		}
		fl.Flush()
	}
}
