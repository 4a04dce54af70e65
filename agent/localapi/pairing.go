package localapi

import (
	"crypto/rand"
	"crypto/subtle"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode"
)

// Pairing: an add-in, served from an allowed origin, asks for a token
// (POST /v1/pair) and shows the short code of its request. The owner types
// that code in Sync Options (or, through the tray, the same page): a request
// another program made looks exactly like the add-in's in a list, but only
// the add-in's request has the code the add-in shows. Policy may approve an
// origin's requests without asking (localApi.autoApproveOrigins), and only
// on a connection known to be the owner's.
//
// Nobody can jam pairing for everyone: pending requests are capped per
// origin (a new one replaces the origin's oldest), and requests are limited
// per connecting user and origin. Paired add-ins are capped per origin too
// (a new pairing replaces the origin's oldest token), so the token file
// stays small however often an auto-approved add-in pairs again.

// PairRequest is POST /v1/pair.
type PairRequest struct {
	// Name is how the add-in calls itself in the approval prompt.
	Name string `json:"name"`
}

// PairAnswer is the answer to POST /v1/pair and GET /v1/pair/{id}.
type PairAnswer struct {
	ID     string `json:"id"`
	Status string `json:"status"` // pending, approved, denied, expired
	// Code is shown by the add-in; the owner types it to approve the
	// request. Only the add-in that asked is told it.
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
// list it: never with its code, which the owner must read from the add-in.
type PairingInfo struct {
	ID      string    `json:"id"`
	Origin  string    `json:"origin"`
	Name    string    `json:"name"`
	Created time.Time `json:"created"`
}

// ApproveRequest is POST /v1/pairings/approve (owner only).
type ApproveRequest struct {
	// Code is the code the add-in shows, as the owner typed it ("123-456"
	// or "123456").
	Code string `json:"code"`
}

// AddinInfo is a paired add-in as GET /v1/addins lists it.
type AddinInfo struct {
	ID      string    `json:"id"`
	Origin  string    `json:"origin"`
	Name    string    `json:"name"`
	Created time.Time `json:"created"`
}

// ErrWrongCode means no add-in waiting for approval shows the code typed.
var ErrWrongCode = errors.New("no add-in waiting for approval shows this code")

// ErrNoAddin means there is no paired add-in (or pending pairing) of that id.
var ErrNoAddin = errors.New("no such add-in")

const (
	pairTTL     = 10 * time.Minute
	maxPairName = 80
	// maxPendingPerOrigin bounds the pending requests of one origin; a new
	// one beyond it replaces the oldest, so a flood cannot refuse the
	// add-in's own request.
	maxPendingPerOrigin = 4
	// pairsPerWindow requests per pairWindow are accepted per connecting
	// user and origin.
	pairsPerWindow = 8
	pairWindow     = 10 * time.Minute
	// maxTokensPerOrigin is how many add-ins of one origin stay paired: an
	// add-in runs in Outlook on the web, the desktop Outlook and the new
	// Outlook, each with storage of its own. A new pairing beyond it
	// replaces the oldest.
	maxTokensPerOrigin = 3
)

// pairing is one add-in's request to pair.
type pairing struct {
	PairingInfo
	code   string
	status string
	token  string // set on approval, cleared once handed out
}

// rateKey is whom the pairing rate limit counts: the connecting user (the
// owner, or unknown where the operating system cannot tell; other users
// are refused before) and the origin, so that one origin's flood does not
// hold back another's add-in.
type rateKey struct {
	peer   peerOwner
	origin string
}

func randomToken(n int) string {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		panic("localapi: no randomness: " + err.Error())
	}
	return hex.EncodeToString(b)
}

// pairCode is the short code the add-in shows and the owner types.
func pairCode() string {
	b := make([]byte, 4)
	_, _ = rand.Read(b)
	n := (uint32(b[0])<<24 | uint32(b[1])<<16 | uint32(b[2])<<8 | uint32(b[3])) % 1000000
	return fmt.Sprintf("%03d-%03d", n/1000, n%1000)
}

// normalizeCode reads a typed code: its six digits, whatever separates
// them ("" when it has not six).
func normalizeCode(typed string) string {
	var d []byte
	for _, r := range typed {
		switch {
		case r >= '0' && r <= '9':
			d = append(d, byte(r))
		case r == '-' || r == ' ':
		default:
			return ""
		}
	}
	if len(d) != 6 {
		return ""
	}
	return string(d[:3]) + "-" + string(d[3:])
}

// pair is POST /v1/pair: an add-in, from an allowed origin, asks for a
// token.
func (s *Server) pair(w http.ResponseWriter, r *http.Request, c caller) {
	var req PairRequest
	if !readJSON(w, r, &req) {
		return
	}
	origin := c.requestOrigin
	if origin == "" || !s.allowedOrigin(origin) {
		writeError(w, http.StatusForbidden, "forbidden_origin", "pairing is only for an add-in served from an allowed origin")
		return
	}
	name := pairName(req.Name)
	now := s.opts.Now()
	peer := peerOf(r.Context())
	// A browser cannot lie about Origin, a local process can: auto-approval
	// needs the connection to be known as this user's.
	auto := slices.Contains(s.opts.AutoApproveOrigins, origin) && peer == peerSelf
	s.mu.Lock()
	s.expireLocked(now)
	if wait, ok := s.rateLocked(rateKey{peer, origin}, now); !ok {
		s.mu.Unlock()
		w.Header().Set("Retry-After", strconv.Itoa(int(wait/time.Second)+1))
		writeError(w, http.StatusTooManyRequests, "too_many_pairings", "too many pairing requests from this add-in; try again later")
		return
	}
	s.makeRoomLocked(origin)
	p := &pairing{PairingInfo: PairingInfo{ID: randomToken(16), Origin: origin, Name: name, Created: now},
		code: s.uniqueCodeLocked(), status: PairPending}
	s.pairings[p.ID] = p
	if auto {
		s.approveLocked(p)
	}
	ans := PairAnswer{ID: p.ID, Status: p.status, Code: p.code}
	s.mu.Unlock()
	if auto {
		s.saveTokens()
	}
	s.notify()
	s.log.Info("add-in pairing requested", "origin", origin, "auto", auto)
	writeJSON(w, http.StatusAccepted, ans)
}

// pairName is the name an add-in gave itself, as the page, the tray and the
// command line show it: printable characters only (no terminal escapes, no
// line breaks), at most maxPairName of them.
func pairName(asked string) string {
	name := strings.TrimSpace(strings.Map(func(r rune) rune {
		if !unicode.IsPrint(r) {
			return -1
		}
		return r
	}, asked))
	if r := []rune(name); len(r) > maxPairName {
		name = string(r[:maxPairName])
	}
	if name == "" {
		name = "Outlook add-in"
	}
	return name
}

// rateLocked counts a pairing request of key at now; false (with how long
// to wait) when the key used up its requests of the window.
func (s *Server) rateLocked(key rateKey, now time.Time) (time.Duration, bool) {
	times := s.pairTimes[key]
	i := 0
	for i < len(times) && now.Sub(times[i]) >= pairWindow {
		i++
	}
	times = times[i:]
	if len(times) >= pairsPerWindow {
		s.pairTimes[key] = times
		return pairWindow - now.Sub(times[0]), false
	}
	// A fresh slice now and then, so the old requests' times are freed.
	s.pairTimes[key] = append(slices.Clip(times), now)
	return 0, true
}

// makeRoomLocked drops the oldest pending requests of origin until a new
// one fits under maxPendingPerOrigin.
func (s *Server) makeRoomLocked(origin string) {
	for {
		var oldest *pairing
		n := 0
		for _, p := range s.pairings {
			if p.Origin == origin && p.status == PairPending {
				n++
				if oldest == nil || p.Created.Before(oldest.Created) {
					oldest = p
				}
			}
		}
		if n < maxPendingPerOrigin {
			return
		}
		delete(s.pairings, oldest.ID)
	}
}

// uniqueCodeLocked draws a code no pending request has, so that a typed
// code names one request.
func (s *Server) uniqueCodeLocked() string {
	for {
		code := pairCode()
		taken := false
		for _, p := range s.pairings {
			taken = taken || (p.status == PairPending && p.code == code)
		}
		if !taken {
			return code
		}
	}
}

// approveLocked pairs p: its token, remembered as a hash, replaces the
// oldest of its origin's beyond maxTokensPerOrigin.
func (s *Server) approveLocked(p *pairing) {
	p.status, p.token = PairApproved, randomToken(32)
	s.addTokenLocked(newTokenEntry(p.token, p.Origin, p.Name, s.opts.Now()))
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
func (s *Server) pairStatus(w http.ResponseWriter, r *http.Request, c caller) {
	id := r.PathValue("id")
	s.mu.Lock()
	s.expireLocked(s.opts.Now())
	p, ok := s.pairings[id]
	if !ok || p.Origin != c.requestOrigin {
		s.mu.Unlock()
		writeError(w, http.StatusNotFound, "not_found", "no such pairing request (it may have expired, or a newer request replaced it)")
		return
	}
	ans := PairAnswer{ID: p.ID, Status: p.status, Code: p.code, Token: p.token}
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

// Approve pairs the waiting add-in that shows code (ErrWrongCode when none
// does). Its token is remembered, as a hash, across restarts.
func (s *Server) Approve(code string) error {
	code = normalizeCode(code)
	s.mu.Lock()
	s.expireLocked(s.opts.Now())
	var p *pairing
	for _, q := range s.pairings {
		if q.status == PairPending && subtle.ConstantTimeCompare([]byte(q.code), []byte(code)) == 1 {
			p = q
		}
	}
	if code == "" || p == nil {
		s.mu.Unlock()
		return ErrWrongCode
	}
	s.approveLocked(p)
	origin := p.Origin
	s.mu.Unlock()
	// A failed write is logged: the add-in is paired until the agent
	// stops, and pairs again after.
	_ = s.saveTokens()
	s.log.Info("add-in paired", "origin", origin)
	s.notify()
	return nil
}

// Deny refuses a pending pairing.
func (s *Server) Deny(id string) error {
	s.mu.Lock()
	p, ok := s.pairings[id]
	if !ok || p.status != PairPending {
		s.mu.Unlock()
		return ErrNoAddin
	}
	p.status = PairDenied
	s.mu.Unlock()
	s.notify()
	return nil
}

// Addins lists the paired add-ins, oldest first.
func (s *Server) Addins() []AddinInfo {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := []AddinInfo{}
	for _, t := range s.tokens {
		out = append(out, AddinInfo{ID: t.ID, Origin: t.Origin, Name: t.Name, Created: t.Created})
	}
	slices.SortStableFunc(out, func(a, b AddinInfo) int { return a.Created.Compare(b.Created) })
	return out
}

// Revoke forgets a paired add-in's token: its next call is refused, its
// event stream ends.
func (s *Server) Revoke(id string) error {
	s.mu.Lock()
	i := slices.IndexFunc(s.tokens, func(t tokenEntry) bool { return t.ID == id })
	if id == "" || i < 0 {
		s.mu.Unlock()
		return ErrNoAddin
	}
	origin := s.tokens[i].Origin
	s.tokens = slices.Delete(s.tokens, i, i+1)
	s.mu.Unlock()
	err := s.saveTokens()
	s.log.Info("add-in revoked", "origin", origin)
	s.notify()
	if err != nil {
		// The token is refused from now on, but would be back after a
		// restart: the owner must hear of it.
		return fmt.Errorf("revoke the add-in: %w", err)
	}
	return nil
}

// tokenLive says whether the paired add-in id still has its token.
func (s *Server) tokenLive(id string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.ContainsFunc(s.tokens, func(t tokenEntry) bool { return t.ID == id })
}

// saveTokens writes the paired tokens. saveMu orders the writers, and each
// writes the tokens as they are when it holds it, so the file never ends
// older than memory.
func (s *Server) saveTokens() error {
	s.saveMu.Lock()
	defer s.saveMu.Unlock()
	s.mu.Lock()
	ts := slices.Clone(s.tokens)
	s.mu.Unlock()
	if err := saveTokens(s.opts.DataDir, ts); err != nil {
		s.log.Error("save the paired tokens", "err", err)
		return err
	}
	return nil
}

// notify wakes the streams watching pairings and paired add-ins.
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

// The owner's pairing routes.

func (s *Server) pendingList(w http.ResponseWriter, r *http.Request, _ caller) {
	writeJSON(w, http.StatusOK, s.Pending())
}

func (s *Server) approveByCode(w http.ResponseWriter, r *http.Request, _ caller) {
	var req ApproveRequest
	if !readJSON(w, r, &req) {
		return
	}
	if err := s.Approve(req.Code); err != nil {
		writePairError(w, err)
		return
	}
	writeJSON(w, http.StatusOK, struct{}{})
}

func (s *Server) deny(w http.ResponseWriter, r *http.Request, _ caller) {
	if !emptyBody(w, r) {
		return
	}
	if err := s.Deny(r.PathValue("id")); err != nil {
		writePairError(w, err)
		return
	}
	writeJSON(w, http.StatusOK, struct{}{})
}

func (s *Server) addinList(w http.ResponseWriter, r *http.Request, _ caller) {
	writeJSON(w, http.StatusOK, s.Addins())
}

func (s *Server) revoke(w http.ResponseWriter, r *http.Request, _ caller) {
	if !emptyBody(w, r) {
		return
	}
	if err := s.Revoke(r.PathValue("id")); err != nil {
		writePairError(w, err)
		return
	}
	writeJSON(w, http.StatusOK, struct{}{})
}

func writePairError(w http.ResponseWriter, err error) {
	switch {
	case errors.Is(err, ErrWrongCode):
		writeError(w, http.StatusForbidden, "wrong_code", err.Error())
	case errors.Is(err, ErrNoAddin):
		writeError(w, http.StatusNotFound, "not_found", err.Error())
	default:
		writeError(w, http.StatusInternalServerError, "internal", err.Error())
	}
}
