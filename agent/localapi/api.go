package localapi

import (
	"errors"
	"net/http"
	"slices"
	"strconv"
	"strings"

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
	Result *agent.Batch `json:"result,omitempty"`
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

// UntrackRequest is POST /v1/untrack: the add-in withdraws its request.
type UntrackRequest struct {
	MessageID string `json:"messageId"`
}

// DeactivateRequest is POST /v1/deactivate (owner only).
type DeactivateRequest struct {
	Force bool `json:"force"`
}

// DeletionsRequest is POST /v1/deletions (owner only): the answer to the
// deletions of Type ("contacts" or "events") that the empty-side guard
// held back.
type DeletionsRequest struct {
	Type   string `json:"type"`
	Answer string `json:"answer"`
}

// Answers of a DeletionsRequest.
const (
	AnswerConfirm = "confirm"
	AnswerRefuse  = "refuse"
)

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

func (s *Server) hello(w http.ResponseWriter, r *http.Request, _ caller) {
	writeJSON(w, http.StatusOK, Hello{Product: "vpconnect", Version: agent.Version, Instance: s.instance})
}

func (s *Server) status(w http.ResponseWriter, r *http.Request, _ caller) {
	writeJSON(w, http.StatusOK, s.backend().Status())
}

// emptyBody reads a write's body, which must be an empty JSON object: the
// JSON content type is one of the locks against a foreign page's simple
// request.
func emptyBody(w http.ResponseWriter, r *http.Request) bool {
	var req struct{}
	return readJSON(w, r, &req)
}

func (s *Server) pause(w http.ResponseWriter, r *http.Request, _ caller) {
	if !emptyBody(w, r) {
		return
	}
	s.answerStatus(w, s.backend().Pause(r.Context()))
}

func (s *Server) resume(w http.ResponseWriter, r *http.Request, _ caller) {
	if !emptyBody(w, r) {
		return
	}
	s.answerStatus(w, s.backend().Resume(r.Context()))
}

// answerStatus answers a backend call's error, or else the new status.
func (s *Server) answerStatus(w http.ResponseWriter, err error) {
	if err != nil {
		writeBackendError(w, err)
		return
	}
	writeJSON(w, http.StatusOK, s.backend().Status())
}

func (s *Server) track(w http.ResponseWriter, r *http.Request, _ caller) {
	var req agent.TrackRequest
	if !readJSON(w, r, &req) {
		return
	}
	if strings.TrimSpace(req.MessageID) == "" || len(req.MessageID) > 1024 {
		writeError(w, http.StatusBadRequest, "invalid_request", "messageId is required")
		return
	}
	if err := s.backend().Track(r.Context(), req); err != nil {
		writeBackendError(w, err)
		return
	}
	writeJSON(w, http.StatusAccepted, TrackAnswer{MessageID: req.MessageID, State: string(store.TrackQueued)})
}

// untrack withdraws a track request not yet filed: 200 with state
// "untracked"; one already filed answers its state and activity; 404 when
// the message was never tracked.
func (s *Server) untrack(w http.ResponseWriter, r *http.Request, _ caller) {
	var req UntrackRequest
	if !readJSON(w, r, &req) {
		return
	}
	if strings.TrimSpace(req.MessageID) == "" || len(req.MessageID) > 1024 {
		writeError(w, http.StatusBadRequest, "invalid_request", "messageId is required")
		return
	}
	t, found, err := s.opts.Backend.Untrack(r.Context(), req.MessageID)
	if err != nil {
		writeBackendError(w, err)
		return
	}
	if !found {
		writeError(w, http.StatusNotFound, "not_found", "this message was not tracked")
		return
	}
	a := TrackAnswer{MessageID: req.MessageID, State: "untracked"}
	if t.State == store.TrackSynced {
		a.State, a.ActivityID = string(t.State), t.ActivityID
	}
	writeJSON(w, http.StatusOK, a)
}

func (s *Server) trackStatus(w http.ResponseWriter, r *http.Request, _ caller) {
	id := r.PathValue("messageId")
	if id == "" || len(id) > 1024 {
		writeError(w, http.StatusBadRequest, "invalid_request", "name the message")
		return
	}
	t, found, err := s.backend().TrackStatus(r.Context(), id)
	if err != nil {
		writeBackendError(w, err)
		return
	}
	if !found {
		writeError(w, http.StatusNotFound, "not_found", "this message was not tracked")
		return
	}
	writeJSON(w, http.StatusOK, TrackAnswer{MessageID: id, State: string(t.State), ActivityID: t.ActivityID, Reason: t.Reason})
}

func (s *Server) openAddress(w http.ResponseWriter, r *http.Request, _ caller) {
	if !emptyBody(w, r) {
		return
	}
	writeJSON(w, http.StatusOK, OpenAnswer{URL: s.OpenURL()})
}

func (s *Server) deactivate(w http.ResponseWriter, r *http.Request, _ caller) {
	var req DeactivateRequest
	if !readJSON(w, r, &req) {
		return
	}
	s.answerStatus(w, s.backend().Deactivate(r.Context(), req.Force))
}

func (s *Server) reauthorize(w http.ResponseWriter, r *http.Request, _ caller) {
	var req ReauthorizeRequest
	if !readJSON(w, r, &req) {
		return
	}
	s.answerStatus(w, s.backend().Reauthorize(r.Context(), req.Account, agent.Credentials{Username: req.Username, Password: req.Password}))
}

// answerDeletions is the owner's answer to the deletions the empty-side
// guard held back (the tray's menu; the page has its own action).
func (s *Server) answerDeletions(w http.ResponseWriter, r *http.Request, _ caller) {
	var req DeletionsRequest
	if !readJSON(w, r, &req) {
		return
	}
	b := s.backend()
	var err error
	switch req.Answer {
	case AnswerConfirm:
		_, err = b.ConfirmDeletes(r.Context(), req.Type)
	case AnswerRefuse:
		_, err = b.RefuseDeletes(r.Context(), req.Type)
	default:
		writeError(w, http.StatusBadRequest, "invalid_request", `answer must be "confirm" or "refuse"`)
		return
	}
	s.answerStatus(w, err)
}

// restart: after 'vpconnect activate' in another process, the agent is
// built again from what that process stored.
func (s *Server) restart(w http.ResponseWriter, r *http.Request, _ caller) {
	if !emptyBody(w, r) {
		return
	}
	if err := s.backend().Restart(r.Context()); err != nil {
		writeBackendError(w, err)
		return
	}
	writeJSON(w, http.StatusAccepted, struct{}{})
}

func (s *Server) syncNow(w http.ResponseWriter, r *http.Request, _ caller) {
	if !emptyBody(w, r) {
		return
	}
	wait, _ := strconv.ParseBool(r.URL.Query().Get("wait"))
	t, err := s.backend().SyncNow(r.Context(), syncer.TriggerManual)
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
			b := agent.BatchReport(res.Batch)
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

// lookup is GET /v1/lookup?email=.
func (s *Server) lookup(w http.ResponseWriter, r *http.Request, _ caller) {
	email := strings.TrimSpace(r.URL.Query().Get("email"))
	if email == "" || len(email) > 320 || !strings.Contains(email, "@") {
		writeError(w, http.StatusBadRequest, "invalid_request", "email= must be an e-mail address")
		return
	}
	if s.directory() == nil {
		writeError(w, http.StatusServiceUnavailable, "not_configured", "Vantagepoint is not connected")
		return
	}
	card, err := s.directory().Lookup(r.Context(), email)
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
func (s *Server) search(w http.ResponseWriter, r *http.Request, _ caller) {
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
	if s.directory() == nil {
		writeError(w, http.StatusServiceUnavailable, "not_configured", "Vantagepoint is not connected")
		return
	}
	res, err := s.directory().Search(r.Context(), typ, text, MaxResults)
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
// the add-in.
func (s *Server) events(w http.ResponseWriter, r *http.Request, c caller) {
	fl, ok := w.(http.Flusher)
	if !ok {
		writeError(w, http.StatusInternalServerError, "internal", "streaming unsupported")
		return
	}
	b := s.backend()
	sub, stop := b.Subscribe()
	defer func() { stop() }()
	w.Header().Set("Content-Type", "text/event-stream")
	w.WriteHeader(http.StatusOK)
	fl.Flush()
	ctx := r.Context()
	// The owner (the tray) also hears of the pending add-in pairings, at
	// once and on every change, so that it need not poll for them; an
	// add-in never sees another's request, and its stream ends when its
	// token is revoked.
	changed := s.changes()
	if c.owner {
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
			if nb := s.backend(); nb != b {
				// The agent was rebuilt (an activation): follow the new
				// one, whose first status comes at once.
				stop()
				b = nb
				sub, stop = b.Subscribe()
			}
			if !c.owner {
				if !s.tokenLive(c.tokenID) {
					return
				}
				continue
			}
			if err := writeEvent(w, "pairings", s.Pending()); err != nil {
				return
			}
		}
		fl.Flush()
	}
}
