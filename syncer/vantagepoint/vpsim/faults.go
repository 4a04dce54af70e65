package vpsim

import (
	"net/http"
	"strconv"
	"strings"
	"time"
)

// Fault makes matching requests fail or slow down. A request matches when
// its method equals Method ("" = any) and its path and query contain
// PathContains ("" = any). Faults apply before authentication, as a
// proxy's or a server's own failure would.
type Fault struct {
	Method       string
	PathContains string
	// Status, when set, answers with this status and a {"message","detail"}
	// body instead of serving the request.
	Status int
	// RetryAfter, with Status, is sent as a Retry-After header (seconds).
	RetryAfter time.Duration
	// Malformed answers with a body that is not valid JSON (status 200, or
	// Status when set).
	Malformed bool
	// ResetConnection drops the connection without an answer.
	ResetConnection bool
	// Latency delays the request; alone it slows without failing.
	Latency time.Duration
	// Times is how many requests the fault hits; 0 = until ClearFaults.
	Times int
	// Probability, when in (0,1), hits only that share of matching requests.
	Probability float64
	// AfterServing, with Status, serves the request first (a create is
	// stored) and then answers with Status: a gateway timeout after the
	// server did the work, which a client must not take for "nothing
	// happened".
	AfterServing bool
}

// discardWriter swallows an answer a fault replaces.
type discardWriter struct{ h http.Header }

func (d discardWriter) Header() http.Header         { return d.h }
func (d discardWriter) Write(b []byte) (int, error) { return len(b), nil }
func (d discardWriter) WriteHeader(int)             {}

// InjectFault adds a fault. Faults are tried in the order they were added;
// the first that hits a request decides its fate.
func (s *Server) InjectFault(f Fault) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.faults = append(s.faults, &f)
}

// ClearFaults removes every fault.
func (s *Server) ClearFaults() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.faults = nil
}

// applyFault applies the first fault that hits r, and reports whether the
// request has been answered (or dropped).
func (s *Server) applyFault(w http.ResponseWriter, r *http.Request) bool {
	s.mu.Lock()
	var hit *Fault
	uri := r.URL.RequestURI()
	for i, f := range s.faults {
		if f.Method != "" && !strings.EqualFold(f.Method, r.Method) {
			continue
		}
		if f.PathContains != "" && !strings.Contains(uri, f.PathContains) {
			continue
		}
		if f.Probability > 0 && f.Probability < 1 && s.rng.Float64() >= f.Probability {
			continue
		}
		c := *f
		hit = &c
		if f.Times > 0 {
			f.Times--
			if f.Times == 0 {
				s.faults = append(s.faults[:i:i], s.faults[i+1:]...)
			}
		}
		break
	}
	s.mu.Unlock()
	if hit == nil {
		return false
	}
	if hit.Latency > 0 && !sleepCtx(r.Context(), hit.Latency) {
		return true
	}
	if hit.AfterServing && hit.Status != 0 {
		s.serve(discardWriter{h: http.Header{}}, r)
	}
	switch {
	case hit.ResetConnection:
		// ErrAbortHandler makes net/http drop the connection without
		// answering or logging: the client sees a reset or EOF.
		panic(http.ErrAbortHandler)
	case hit.Malformed:
		status := hit.Status
		if status == 0 {
			status = http.StatusOK
		}
		writeRaw(w, status, []byte(`[{"ContactID":"8A1F`))
		return true
	case hit.Status != 0:
		if hit.RetryAfter > 0 {
			w.Header().Set("Retry-After", strconv.Itoa(int((hit.RetryAfter+time.Second-1)/time.Second)))
		}
		writeError(w, hit.Status, http.StatusText(hit.Status), "injected fault")
		return true
	}
	return false
}
