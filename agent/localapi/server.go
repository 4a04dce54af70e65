package localapi

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"mime"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"vpconnect/agent"
	"vpconnect/agent/config"
	"vpconnect/syncer"
	"vpconnect/syncer/store"
)

// Backend is what the API serves: the agent's status and actions.
// *agent.Agent implements it; tests use fakes.
type Backend interface {
	Status() agent.Status
	Subscribe() (<-chan agent.Status, func())
	SyncNow(ctx context.Context, trigger syncer.Trigger) (agent.Ticket, error)
	Pause(ctx context.Context) error
	Resume(ctx context.Context) error
	Track(ctx context.Context, req agent.TrackRequest) error
	TrackStatus(ctx context.Context, messageID string) (store.Track, bool, error)
	Untrack(ctx context.Context, messageID string) (store.Track, bool, error)
	Deactivate(ctx context.Context, force bool) error
	Reauthorize(ctx context.Context, account string, cred agent.Credentials) error
	ConfirmDeletes(ctx context.Context, typ string) (agent.Ticket, error)
	RefuseDeletes(ctx context.Context, typ string) (agent.Ticket, error)
	Restart(ctx context.Context) error
}

// Files the server keeps in the data dir, all 0600.
const (
	// SecretFile holds the per-user secret the tray and the CLI present as
	// their bearer token. Only the user can read it, which is what makes
	// them the owner.
	SecretFile = "localapi.secret"
	// RuntimeFile says on which port the running agent listens, so that
	// clients find it without scanning.
	RuntimeFile = "localapi.json"
	// TokensFile keeps the SHA-256 of each paired add-in's token, never the
	// token itself.
	TokensFile = "localapi-tokens.json"
)

// MaxBody is the largest request body accepted (docs/behaviour.md §5.3).
const MaxBody = 64 << 10

// Options configure a Server.
type Options struct {
	Backend Backend
	// Directory answers look-up and search; nil answers 503.
	Directory Directory
	// Port is the first port tried; the next free one of Port…Port+19 is
	// used when it is taken (another user's agent on a shared host). 0 picks
	// any free port (tests).
	Port int
	// AllowedOrigins are the exact origins CORS answers (localApi.allowedOrigins).
	AllowedOrigins []string
	// AutoApproveOrigins pair without asking the user (policy
	// localApi.autoApproveOrigins); each must also be allowed.
	AutoApproveOrigins []string
	// DataDir holds the secret, runtime and token files.
	DataDir string
	// Activator runs activations and re-authorizations from the Sync
	// Options page; nil: the page says to run 'vpconnect activate'.
	Activator Activator
	// Now is time.Now when nil.
	Now    func() time.Time
	Logger *slog.Logger
}

// Server is the loopback API and the Sync Options page.
type Server struct {
	opts      Options
	log       *slog.Logger
	secret    string
	instance  string
	ownerHash [32]byte

	listeners []net.Listener
	port      int
	srv       *http.Server

	mux *http.ServeMux

	// cur is the agent served and its directory (SetBackend); activator
	// runs the page's activations (SetActivator).
	cur       atomic.Pointer[holder]
	activator atomic.Pointer[Activator]
	optioner  atomic.Pointer[Optioner]
	// generation counts SetBackend's agents.
	generation atomic.Int64

	mu        sync.Mutex
	tokens    []tokenEntry
	pairings  map[string]*pairing
	pairTimes map[rateKey][]time.Time
	sessions  map[string]*session
	openTicks map[string]time.Time
	changed   chan struct{} // closed and replaced when pairings or paired add-ins change
	// saveMu orders the writers of the token file.
	saveMu sync.Mutex
}

// New prepares a server: it loads or creates the per-user secret and the
// paired tokens. Listen binds it.
func New(opts Options) (*Server, error) {
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.DataDir == "" {
		return nil, errors.New("local API: no data dir")
	}
	secret, err := loadOrCreateSecret(opts.DataDir)
	if err != nil {
		return nil, err
	}
	s := &Server{opts: opts, log: opts.Logger, secret: secret, instance: InstanceID(secret),
		ownerHash: sha256.Sum256([]byte(secret)),
		pairings:  map[string]*pairing{}, pairTimes: map[rateKey][]time.Time{}, sessions: map[string]*session{},
		openTicks: map[string]time.Time{}, changed: make(chan struct{})}
	s.cur.Store(&holder{backend: opts.Backend, directory: opts.Directory})
	if opts.Activator != nil {
		s.activator.Store(&opts.Activator)
	}
	s.mux = s.buildMux(routeTable())
	tokens, changed, err := loadTokens(opts.DataDir)
	if err != nil {
		s.log.Warn("ignoring the paired add-in tokens", "err", err)
	}
	s.tokens = tokens
	if changed {
		// An older file: more tokens per origin than are kept now.
		_ = s.saveTokens()
	}
	return s, nil
}

// InstanceID is what /v1/hello answers as "instance": derived from the
// per-user secret, so that a client holding the secret recognises its own
// agent among the agents of other users on a shared host without sending the
// secret to theirs.
func InstanceID(secret string) string {
	h := sha256.Sum256([]byte("vpconnect instance\x00" + secret))
	return hex.EncodeToString(h[:8])
}

func loadOrCreateSecret(dir string) (string, error) {
	b, err := os.ReadFile(filepath.Join(dir, SecretFile))
	if err == nil && len(strings.TrimSpace(string(b))) >= 32 {
		return strings.TrimSpace(string(b)), nil
	}
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return "", fmt.Errorf("read the local API secret: %w", err)
	}
	secret := randomToken(32)
	if err := config.WriteFile(dir, SecretFile, []byte(secret+"\n")); err != nil {
		return "", fmt.Errorf("write the local API secret: %w", err)
	}
	return secret, nil
}

// ReadSecret reads the per-user secret of the agent whose data dir is dir.
func ReadSecret(dir string) (string, error) {
	b, err := os.ReadFile(filepath.Join(dir, SecretFile))
	if err != nil {
		return "", fmt.Errorf("read the local API secret: %w", err)
	}
	return strings.TrimSpace(string(b)), nil
}

// Listen binds 127.0.0.1 and ::1 (never another interface) on the first free
// port of Port…Port+19. IPv6 is skipped when the machine has no ::1.
func (s *Server) Listen() error {
	first, n := s.opts.Port, config.PortRange
	if first == 0 {
		n = 5 // port 0: retry when ::1 happens to have the kernel's pick taken
	}
	var errs []error
	for i := range n {
		port := first
		if first != 0 {
			port = first + i
		}
		ln4, err := net.Listen("tcp4", net.JoinHostPort("127.0.0.1", strconv.Itoa(port)))
		if err != nil {
			errs = append(errs, err)
			continue
		}
		port = ln4.Addr().(*net.TCPAddr).Port
		ln6, err := net.Listen("tcp6", net.JoinHostPort("::1", strconv.Itoa(port)))
		if err != nil && errors.Is(err, syscall.EADDRINUSE) {
			ln4.Close()
			errs = append(errs, err)
			continue
		}
		s.listeners = []net.Listener{ln4}
		if err == nil {
			s.listeners = append(s.listeners, ln6)
		}
		s.port = port
		return s.writeRuntime()
	}
	return fmt.Errorf("no free port for the local API in %d…%d: %w", first, first+n-1, errors.Join(errs...))
}

// Runtime is the content of RuntimeFile.
type Runtime struct {
	Port int `json:"port"`
	PID  int `json:"pid"`
}

func (s *Server) writeRuntime() error {
	b, _ := json.Marshal(Runtime{Port: s.port, PID: os.Getpid()})
	if err := config.WriteFile(s.opts.DataDir, RuntimeFile, b); err != nil {
		return fmt.Errorf("write the local API runtime file: %w", err)
	}
	return nil
}

// Port is the port the server listens on (after Listen).
func (s *Server) Port() int { return s.port }

// Addrs are the listening addresses.
func (s *Server) Addrs() []net.Addr {
	var out []net.Addr
	for _, l := range s.listeners {
		out = append(out, l.Addr())
	}
	return out
}

// BaseURL is http://127.0.0.1:<port>.
func (s *Server) BaseURL() string { return "http://127.0.0.1:" + strconv.Itoa(s.port) }

// Serve serves until ctx ends, then shuts down (letting requests finish for
// up to 5 s) and removes the runtime file.
func (s *Server) Serve(ctx context.Context) error {
	if len(s.listeners) == 0 {
		if err := s.Listen(); err != nil {
			return err
		}
	}
	s.srv = &http.Server{Handler: s, ReadHeaderTimeout: 10 * time.Second, ReadTimeout: 30 * time.Second,
		IdleTimeout: 2 * time.Minute, MaxHeaderBytes: 32 << 10,
		BaseContext: func(net.Listener) context.Context { return ctx },
		ConnContext: peerContext,
		ErrorLog:    slog.NewLogLogger(s.log.Handler(), slog.LevelDebug)}
	errc := make(chan error, len(s.listeners))
	for _, l := range s.listeners {
		go func() { errc <- s.srv.Serve(l) }()
	}
	select {
	case <-ctx.Done():
	case err := <-errc:
		if !errors.Is(err, http.ErrServerClosed) {
			s.srv.Close()
			return fmt.Errorf("serve the local API: %w", err)
		}
	}
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	err := s.srv.Shutdown(sctx)
	os.Remove(filepath.Join(s.opts.DataDir, RuntimeFile))
	return err
}

// ownOrigins are the origins of the page itself.
func (s *Server) ownOrigin(o string) bool {
	p := strconv.Itoa(s.port)
	return o == "http://127.0.0.1:"+p || o == "http://localhost:"+p || o == "http://[::1]:"+p
}

func (s *Server) allowedOrigin(o string) bool { return slices.Contains(s.opts.AllowedOrigins, o) }

// hostOK is the DNS-rebinding check: only the loopback names with our port.
func (s *Server) hostOK(host string) bool {
	p := strconv.Itoa(s.port)
	switch strings.ToLower(host) {
	case "127.0.0.1:" + p, "localhost:" + p, "[::1]:" + p:
		return true
	}
	return false
}

// ServeHTTP applies the security rules of docs/behaviour.md §5.3 to every request, then
// routes it. The order matters: headers first (every answer carries them),
// then the connection's user (another user learns nothing), then Host (a
// rebinding page must learn nothing), then Origin (a foreign page gets no
// CORS headers at all), then the route's access (routes.go).
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	h := w.Header()
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("X-Frame-Options", "DENY")
	h.Set("Content-Security-Policy", pageCSP)
	h.Set("Referrer-Policy", "no-referrer")
	h.Set("Cache-Control", "no-store")
	h.Add("Vary", "Origin")
	if peerOf(r.Context()) == peerOther {
		// Before anything else: another user of this computer learns
		// nothing here, whatever Host, Origin or token it sends.
		writeError(w, http.StatusForbidden, "forbidden_user", "this agent serves only the user it runs as")
		return
	}
	if !s.hostOK(r.Host) {
		writeError(w, http.StatusForbidden, "forbidden_host", "this address only answers as 127.0.0.1, localhost or [::1] with its port")
		return
	}
	origin := r.Header.Get("Origin")
	cross := false
	if origin != "" && !s.ownOrigin(origin) {
		if !s.allowedOrigin(origin) {
			writeError(w, http.StatusForbidden, "forbidden_origin", "this origin is not allowed to call vpconnect")
			return
		}
		cross = true
		h.Set("Access-Control-Allow-Origin", origin)
	}
	if r.Method == http.MethodOptions {
		if !cross {
			writeError(w, http.StatusForbidden, "forbidden_origin", "preflight without an allowed origin")
			return
		}
		h.Set("Access-Control-Allow-Methods", "GET, POST")
		h.Set("Access-Control-Allow-Headers", "Authorization, Content-Type")
		h.Set("Access-Control-Max-Age", "600")
		if strings.EqualFold(r.Header.Get("Access-Control-Request-Private-Network"), "true") {
			h.Set("Access-Control-Allow-Private-Network", "true")
		}
		w.WriteHeader(http.StatusNoContent)
		return
	}
	if cross && !strings.HasPrefix(r.URL.Path, "/v1/") {
		// The page is for the user's own browser tab, never for another site.
		writeError(w, http.StatusForbidden, "forbidden_origin", "only /v1 answers other origins")
		return
	}
	// The route table decides the rest: each route's access, then its
	// handler.
	s.mux.ServeHTTP(w, r)
}

// readJSON enforces docs/behaviour.md §5.3's rules for writes: JSON only (415), at most
// 64 KiB (413), no unknown fields (400). An empty body is an empty object.
func readJSON(w http.ResponseWriter, r *http.Request, v any) bool {
	mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if err != nil || mt != "application/json" {
		writeError(w, http.StatusUnsupportedMediaType, "unsupported_media_type", "send Content-Type: application/json")
		return false
	}
	if r.ContentLength > MaxBody {
		writeError(w, http.StatusRequestEntityTooLarge, "too_large", "the body is over 64 KiB")
		return false
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, MaxBody))
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			writeError(w, http.StatusRequestEntityTooLarge, "too_large", "the body is over 64 KiB")
		} else {
			writeError(w, http.StatusBadRequest, "bad_request", "the body could not be read")
		}
		return false
	}
	if len(strings.TrimSpace(string(body))) == 0 {
		body = []byte("{}")
	}
	dec := json.NewDecoder(strings.NewReader(string(body)))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		writeError(w, http.StatusBadRequest, "invalid_json", "the body is not the expected JSON: "+err.Error())
		return false
	}
	if dec.More() {
		writeError(w, http.StatusBadRequest, "invalid_json", "the body has more than one JSON value")
		return false
	}
	return true
}

// ErrorBody is the JSON of every error answer.
type ErrorBody struct {
	Error struct {
		Code    string `json:"code"`
		Message string `json:"message"`
	} `json:"error"`
}

func writeError(w http.ResponseWriter, status int, code, msg string) {
	var e ErrorBody
	e.Error.Code, e.Error.Message = code, msg
	writeJSON(w, status, e)
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

// writeBackendError maps the agent's errors to codes the add-in can act on.
func writeBackendError(w http.ResponseWriter, err error) {
	switch {
	case errors.Is(err, agent.ErrDisabledByPolicy), errors.Is(err, agent.ErrDisabledByAdmin):
		writeError(w, http.StatusForbidden, "disabled_by_policy", err.Error())
	case errors.Is(err, agent.ErrPauseNotAllowed):
		writeError(w, http.StatusForbidden, "disabled_by_policy", err.Error())
	case errors.Is(err, agent.ErrNotConfigured):
		writeError(w, http.StatusConflict, "not_configured", err.Error())
	case errors.Is(err, agent.ErrInvalid), errors.Is(err, syncer.ErrInvalid):
		writeError(w, http.StatusBadRequest, "invalid_request", err.Error())
	case errors.Is(err, agent.ErrUnsupported):
		writeError(w, http.StatusNotImplemented, "unsupported", err.Error())
	case errors.Is(err, agent.ErrStopped):
		writeError(w, http.StatusServiceUnavailable, "stopping", err.Error())
	case errors.Is(err, syncer.ErrAuthRejected):
		writeError(w, http.StatusBadGateway, "sign_in_needed", agent.Redact(err.Error()))
	case errors.Is(err, syncer.ErrUnavailable):
		writeError(w, http.StatusBadGateway, "unavailable", agent.Redact(err.Error()))
	case errors.Is(err, syncer.ErrNotFound):
		writeError(w, http.StatusNotFound, "not_found", agent.Redact(err.Error()))
	default:
		writeError(w, http.StatusInternalServerError, "internal", agent.Redact(err.Error()))
	}
}
