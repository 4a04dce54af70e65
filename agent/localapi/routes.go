package localapi

import (
	"crypto/sha256"
	"crypto/subtle"
	"net/http"
	"strings"
)

// access is what a route asks of its caller. The guard checks it before the
// route's handler runs, so a handler never decides who may call it.
type access int

const (
	// accessPublic: any connection of this user (the peer check in
	// ServeHTTP has already refused other users): hello, starting and
	// polling a pairing, the page's shell and its one-time address.
	accessPublic access = iota
	// accessPaired: a paired add-in's token, sent from the origin it was
	// paired for, or the owner's secret.
	accessPaired
	// accessOwner: the owner's secret (the tray and the command line read
	// it from a 0600 file), never from another origin.
	accessOwner
	// accessPage: a Sync Options session, that is its cookie and its page
	// secret together (the cookie alone reaches every loopback port).
	accessPage
)

func (a access) String() string {
	return [...]string{"public", "paired", "owner", "page"}[a]
}

// route is one endpoint: a net/http.ServeMux pattern with its method, the
// access it requires, and what it does.
type route struct {
	pattern string
	access  access
	handle  func(s *Server, w http.ResponseWriter, r *http.Request, c caller)
}

// routeTable is every endpoint of the server, in one place (docs/behaviour.md §5.3).
func routeTable() []route {
	return []route{
		// The add-in finds its agent and asks to pair without a token.
		{"GET /v1/hello", accessPublic, (*Server).hello},
		{"POST /v1/pair", accessPublic, (*Server).pair},
		{"GET /v1/pair/{id}", accessPublic, (*Server).pairStatus},

		// A paired add-in (or the owner).
		{"GET /v1/status", accessPaired, (*Server).status},
		{"GET /v1/events", accessPaired, (*Server).events},
		{"POST /v1/sync", accessPaired, (*Server).syncNow},
		{"POST /v1/pause", accessPaired, (*Server).pause},
		{"POST /v1/resume", accessPaired, (*Server).resume},
		{"POST /v1/track", accessPaired, (*Server).track},
		{"GET /v1/track/{messageId...}", accessPaired, (*Server).trackStatus},
		{"POST /v1/untrack", accessPaired, (*Server).untrack},
		{"GET /v1/lookup", accessPaired, (*Server).lookup},
		{"GET /v1/search", accessPaired, (*Server).search},

		// The owner: the tray and the command line.
		{"POST /v1/open", accessOwner, (*Server).openAddress},
		{"POST /v1/deactivate", accessOwner, (*Server).deactivate},
		{"POST /v1/reauthorize", accessOwner, (*Server).reauthorize},
		{"POST /v1/restart", accessOwner, (*Server).restart},
		{"POST /v1/deletions", accessOwner, (*Server).answerDeletions},
		{"GET /v1/pairings", accessOwner, (*Server).pendingList},
		{"POST /v1/pairings/approve", accessOwner, (*Server).approveByCode},
		{"POST /v1/pair/{id}/deny", accessOwner, (*Server).deny},
		{"GET /v1/addins", accessOwner, (*Server).addinList},
		{"POST /v1/addins/{id}/revoke", accessOwner, (*Server).revoke},

		// The Sync Options page: its shell, its one-time address and
		// its files need no session; everything it shows or does does.
		{"GET /{$}", accessPublic, (*Server).index},
		{"GET /open", accessPublic, (*Server).open},
		{"GET /assets/{file}", accessPublic, (*Server).asset},
		{"GET /ui/state", accessPage, (*Server).uiState},
		{"GET /ui/events", accessPage, (*Server).pageEvents},
		{"POST /ui/action", accessPage, (*Server).action},
		// Activation and re-authorization on the page.
		{"POST /ui/activate", accessPage, (*Server).activate},
		{"POST /ui/activate/vantagepoint", accessPage, (*Server).activateVantagepoint},
		{"POST /ui/activate/cancel", accessPage, (*Server).activateCancel},
		// Sync options; a key policy sets is refused here.
		{"POST /ui/options", accessPage, (*Server).setOptions},
	}
}

// buildMux registers every route behind its guard, a JSON 405 for the other
// methods of each route's path, and a JSON 404 for everything else.
func (s *Server) buildMux(table []route) *http.ServeMux {
	mux := http.NewServeMux()
	methods := map[string][]string{}
	var paths []string
	for _, rt := range table {
		mux.Handle(rt.pattern, s.guard(rt))
		method, path, _ := strings.Cut(rt.pattern, " ")
		if _, seen := methods[path]; !seen {
			paths = append(paths, path)
		}
		methods[path] = append(methods[path], method)
	}
	for _, path := range paths {
		allow := strings.Join(methods[path], ", ")
		mux.HandleFunc(path, func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Allow", allow)
			writeError(w, http.StatusMethodNotAllowed, "method_not_allowed", "use "+allow)
		})
	}
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		writeError(w, http.StatusNotFound, "not_found", "no such endpoint")
	})
	return mux
}

// guard runs a route's handler for a caller that has the route's access,
// and refuses everyone else.
func (s *Server) guard(rt route) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, ok := s.admit(w, r, rt.access)
		if !ok {
			return
		}
		rt.handle(s, w, r, c)
	})
}

// caller is who a request is from, as far as its route needed to know.
type caller struct {
	owner bool // the per-user secret: tray, CLI
	// tokenID and origin name the paired add-in whose token was sent.
	tokenID, origin string
	// requestOrigin is the request's Origin header ("" for none).
	requestOrigin string
	// session is the Sync Options session (accessPage).
	session *session
}

// admit checks a request against an access level and answers the refusal
// itself: 401 when a credential is missing or wrong, 403 when a valid one
// is not enough for the route.
func (s *Server) admit(w http.ResponseWriter, r *http.Request, a access) (caller, bool) {
	origin := r.Header.Get("Origin")
	cross := origin != "" && !s.ownOrigin(origin)
	c := caller{requestOrigin: origin}
	switch a {
	case accessPublic:
		return c, true
	case accessPage:
		sess, code := s.pageSession(r)
		switch code {
		case "":
			c.session = sess
			return c, true
		case "no_session":
			writeError(w, http.StatusUnauthorized, code, "the page's session ended: open Sync Options again from the tray or with 'vpconnect options'")
		default:
			writeError(w, http.StatusForbidden, code, "the request did not come from the Sync Options page")
		}
		return c, false
	}
	if !s.authenticate(r, origin, &c) {
		w.Header().Set("WWW-Authenticate", `Bearer realm="vpconnect"`)
		writeError(w, http.StatusUnauthorized, "unauthorized", "a valid bearer token is needed: pair the add-in, or use the tray or the vpconnect command")
		return c, false
	}
	if a == accessOwner && (!c.owner || cross) {
		writeError(w, http.StatusForbidden, "owner_only", "only the tray and the vpconnect command may do this")
		return c, false
	}
	return c, true
}

// authenticate checks the bearer token in constant time against the owner
// secret and every paired token (all compared, no early exit, so timing
// says nothing about which matched). An add-in's token is only good from
// the origin it was paired for.
func (s *Server) authenticate(r *http.Request, origin string, c *caller) bool {
	tok, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	if !ok || tok == "" {
		return false
	}
	sum := sha256.Sum256([]byte(tok))
	found := subtle.ConstantTimeCompare(sum[:], s.ownerHash[:]) == 1
	c.owner = found
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, t := range s.tokens {
		if subtle.ConstantTimeCompare(sum[:], t.hash[:]) == 1 && !found && t.Origin == origin {
			c.tokenID, c.origin, found = t.ID, t.Origin, true
		}
	}
	return found
}
