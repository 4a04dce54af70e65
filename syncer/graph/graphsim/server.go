package graphsim

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	mrand "math/rand/v2"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// Options configures a simulated Graph.
type Options struct {
	// User is the mailbox owner. Empty fields get a fixed demo identity.
	User User
	// ClientID is the application (client) id the identity endpoints accept;
	// "" accepts any client id.
	ClientID string
	// MaxPageSize caps odata.maxpagesize for message delta. Graph does not
	// document the cap for messages; 1000 (the documented $top limit of
	// message lists) is used when zero.
	MaxPageSize int
	// Now is the clock (token lifetimes, timestamps, throttling windows);
	// time.Now when nil.
	Now func() time.Time
	// Latency is added to every Graph API request, as a network and
	// service time stand-in.
	Latency time.Duration
	// EnforceLimits makes the server throttle like Graph's Outlook limits:
	// more than 4 concurrent requests, or more than 10,000 requests in
	// 10 minutes, get 429 ApplicationThrottled with Retry-After.
	EnforceLimits bool
	// DeviceCodeInterval is the poll interval the device-code endpoint
	// announces (whole seconds, at least 1); 5 s, Entra's usual value, when
	// zero.
	DeviceCodeInterval time.Duration
	// RedirectURIs are the app registration's redirect URIs; default
	// http://localhost, the one the portal's "Mobile and desktop
	// applications" platform offers. See identity.go.
	RedirectURIs []string
	// SingleTenant makes the app registration single-tenant: the
	// organizations and common authorities refuse it (AADSTS50194), a
	// tenant id or domain is accepted.
	SingleTenant bool
	// NoPublicClientFlows turns "Allow public client flows" off: the
	// device-code grant is refused (AADSTS7000218).
	NoPublicClientFlows bool
	// WebRedirect is a redirect URI registered under the "Web" platform
	// instead of "Mobile and desktop applications" (a common mistake): the
	// browser step works, redeeming its code without a client secret is
	// refused (AADSTS7000218). See identity.go.
	WebRedirect string
	// TenantDomains are domains of the tenant besides the user's sign-in
	// and mail domains; with the tenant id, organizations and common they
	// are the tenant values the identity endpoints accept (any other:
	// AADSTS90002).
	TenantDomains []string
	// Mailbox is the state of the user's mailbox as Exchange Online sees
	// it (MailboxEnabled when zero); see SetMailboxState.
	Mailbox MailboxState
}

// MailboxState is whether Exchange Online serves the user's mailbox to the
// app. The user's profile (GET /me) answers in every state: it comes from
// Entra ID, not from the mailbox.
type MailboxState int

const (
	// MailboxEnabled serves the mailbox.
	MailboxEnabled MailboxState = iota
	// MailboxNotEnabled is a mailbox hosted on-premises, inactive,
	// soft-deleted or without an Exchange Online license: every mailbox
	// request answers 404 MailboxNotEnabledForRESTAPI, "The mailbox is
	// either inactive, soft-deleted, or is hosted on-premise." (Graph's
	// answer as reported in microsoft-graph-docs-contrib issue 405 and
	// msgraph-sdk-javascript issue 1756; "Use the Outlook mail REST API":
	// hybrid mailboxes on-premises are not served).
	MailboxNotEnabled
	// MailboxAccessDenied is a mailbox Exchange refuses to the app by an
	// organization or mailbox policy (EWS/REST application access policy,
	// EwsBlockList): every mailbox request answers 403 ErrorAccessDenied,
	// "Access to OData is disabled." (office-js-docs-pr issue 2808,
	// microsoft-graph-docs issue 10103). The token is valid: signing in
	// again does not change it.
	MailboxAccessDenied
)

// DefaultMaxPageSize is the largest message-delta page the simulator honours
// unless Options.MaxPageSize says otherwise.
const DefaultMaxPageSize = 1000

// defaultPageSize is what Graph uses for message pages without a page-size
// preference (NOTES 24: the default page size is 10).
const defaultPageSize = 10

// Outlook's documented limits per app and mailbox (NOTES 20).
const (
	limitConcurrent = 4
	limitRequests   = 10000
	limitWindow     = 10 * time.Minute
)

// Fault is an injected failure. A request matches when its method equals
// Method (any when "") and its path contains PathContains (any when "").
// The first matching fault answers the request.
type Fault struct {
	Method, PathContains string
	// Status and Code make an error response in Graph's envelope. Code
	// defaults from the status (429 TooManyRequests, 503 ServiceUnavailable,
	// 410 syncStateNotFound, ...).
	Status int
	Code   string
	// RetryAfter sets the Retry-After header (seconds, fractional when not
	// whole, as Graph's older samples show).
	RetryAfter time.Duration
	// Malformed answers 200 with a JSON body cut in the middle.
	Malformed bool
	// ResetConnection hijacks the connection and closes it unanswered.
	ResetConnection bool
	// Latency delays the request before it is answered (alone it is a slow
	// response, not a failure).
	Latency time.Duration
	// Times is how many requests the fault answers; 0 means until cleared.
	Times int
	// Probability is the chance that a matching request is affected;
	// 0 means always.
	Probability float64
	// AfterServing, with Status, serves the request first (a create is
	// stored) and then answers with Status: a gateway timeout or a 503
	// after Exchange did the work, which a client must not take for
	// "nothing happened" (a blindly retried POST makes two items).
	AfterServing bool
}

// discardWriter swallows an answer a fault replaces.
type discardWriter struct{ h http.Header }

func (d discardWriter) Header() http.Header         { return d.h }
func (d discardWriter) Write(b []byte) (int, error) { return len(b), nil }
func (d discardWriter) WriteHeader(int)             {}

// RequestInfo is what an observer learns of a Graph API request: nothing
// secret (no token, no body).
type RequestInfo struct {
	Method string
	Path   string
	Query  string
	// Prefer holds every Prefer preference, one entry per preference.
	Prefer []string
	// Authorized says a Bearer token was present (valid or not).
	Authorized bool
	// InFlight is the number of Graph requests being served, this one
	// included, when it arrived.
	InFlight int64
	// IfMatch is the If-Match header as sent ("" when absent).
	IfMatch string
}

// Server is a simulated Microsoft Graph (v1.0, mail) and Microsoft identity
// platform (v2.0 endpoints). It is safe for concurrent use.
type Server struct {
	opts Options
	// singleTenant is Options.SingleTenant, changeable while serving
	// (SetSingleTenant).
	singleTenant atomic.Bool
	// consentRevoked: the organization's consent to the app was removed
	// (RevokeConsent).
	consentRevoked atomic.Bool
	now            func() time.Time

	mu      sync.Mutex
	user    User
	root    string // id of the (hidden) root folder, parent of the top level
	folders map[string]*folder
	order   []*folder // creation order, for listings
	msgs    map[string]*msgRec
	cats    []Category
	// contacts (contacts.go)
	contactsRoot string // the default Contacts folder
	cfolders     map[string]*contactFolderRec
	cforder      []*contactFolderRec
	contacts     map[string]*contactRec
	cindex       propIndex // contacts by extended property
	fxindex      propIndex // contact folders by extended property
	// the default calendar (calendar.go)
	events   map[string]*eventRec
	cal      changeLog
	eindex   propIndex // events by extended property
	seq      uint64
	epoch    uint64
	gens     map[string]uint64 // collection → highest sync-state generation (delta.go)
	mailbox  MailboxState
	held     map[string]int // item id → PATCHes still refused with 412 (HoldItem)
	nextID   uint64
	faults   []*Fault
	window   []time.Time // request times in the throttling window
	observer func(RequestInfo)

	auth authState

	requests atomic.Int64
	// initialRounds and goneRounds count delta requests without a token
	// (a full listing) and those answered 410 (DeltaStats).
	initialRounds, goneRounds atomic.Int64
	// attendeeUpdates counts what Exchange would send attendees
	// (AttendeeUpdates).
	attendeeUpdates atomic.Int64
	inflight        atomic.Int64
	maxInflight     atomic.Int64

	hs  *http.Server
	ln  net.Listener
	url string
}

// New creates a server with an empty mailbox holding the well-known folders
// Inbox, Sent Items, Drafts and Deleted Items.
func New(o Options) *Server {
	if o.MaxPageSize <= 0 {
		o.MaxPageSize = DefaultMaxPageSize
	}
	if o.DeviceCodeInterval < time.Second {
		o.DeviceCodeInterval = 5 * time.Second
	}
	if o.RedirectURIs == nil {
		o.RedirectURIs = []string{"http://localhost"}
	}
	s := &Server{opts: o, now: o.Now, folders: map[string]*folder{}, msgs: map[string]*msgRec{},
		cfolders: map[string]*contactFolderRec{}, contacts: map[string]*contactRec{}, cindex: propIndex{},
		fxindex: propIndex{}, events: map[string]*eventRec{}, eindex: propIndex{}}
	if s.now == nil {
		s.now = time.Now
	}
	s.singleTenant.Store(o.SingleTenant)
	s.gens = map[string]uint64{}
	s.mailbox = o.Mailbox
	s.held = map[string]int{}
	u := o.User
	if u.ID == "" {
		u.ID = "87d349ed-44d7-43e1-9a83-5f2406dee5bd"
	}
	if u.DisplayName == "" {
		u.DisplayName = "Adele Vance"
	}
	if u.UserPrincipalName == "" {
		u.UserPrincipalName = "AdeleV@contoso.onmicrosoft.com"
	}
	if u.Mail == "" {
		u.Mail = u.UserPrincipalName
	}
	s.user = u
	s.auth.init()
	s.root = s.newFolderID()
	for _, wk := range []struct{ name, display string }{
		{"inbox", "Inbox"}, {"sentitems", "Sent Items"}, {"drafts", "Drafts"}, {"deleteditems", "Deleted Items"},
	} {
		s.addFolder(wk.display, wk.name)
	}
	// The default Contacts folder is the parent of the listed contact
	// folders, not one of them.
	root := &contactFolderRec{f: ContactFolder{ID: s.newFolderID(), DisplayName: "Contacts", ParentFolderID: s.root}}
	s.contactsRoot = root.f.ID
	s.cfolders[root.f.ID] = root
	return s
}

// Start serves on addr ("127.0.0.1:0" picks a free port) and returns the
// base URL.
func (s *Server) Start(addr string) (string, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return "", fmt.Errorf("graphsim: listening on %s: %w", addr, err)
	}
	s.ln = ln
	s.url = "http://" + ln.Addr().String()
	s.hs = &http.Server{Handler: s, ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = s.hs.Serve(ln) }()
	return s.url, nil
}

// SetSingleTenant changes the app registration's supported account types,
// as an administrator editing it in Entra ID would.
func (s *Server) SetSingleTenant(on bool) { s.singleTenant.Store(on) }

// SetURL tells a server mounted by the caller (httptest.NewServer(s)) its
// base URL, which it needs for nextLink, deltaLink and @odata.context.
func (s *Server) SetURL(u string) {
	s.mu.Lock()
	s.url = strings.TrimSuffix(u, "/")
	s.mu.Unlock()
}

// Close stops a server started with Start.
func (s *Server) Close() {
	if s.hs != nil {
		_ = s.hs.Close()
	}
}

// URL is the base URL (scheme and host).
func (s *Server) URL() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.url
}

// GraphURL is the Graph v1.0 base URL, for adapter.SetBaseUrl.
func (s *Server) GraphURL() string { return s.URL() + "/v1.0" }

// AuthorityURL is the identity-platform authority without the tenant:
// <AuthorityURL>/<tenant>/oauth2/v2.0/{authorize,token,devicecode} works for
// any tenant segment (common, organizations, a tenant id).
func (s *Server) AuthorityURL() string { return s.URL() }

// SetMailboxState changes the state of the user's mailbox, as when IT
// moves it on-premises, removes its license or blocks the app by policy.
func (s *Server) SetMailboxState(st MailboxState) {
	s.mu.Lock()
	s.mailbox = st
	s.mu.Unlock()
}

// mailboxRefused answers a mailbox request that the mailbox's state
// refuses, and says whether it did.
func (s *Server) mailboxRefused(w http.ResponseWriter, r *http.Request) bool {
	s.mu.Lock()
	st := s.mailbox
	s.mu.Unlock()
	switch st {
	case MailboxNotEnabled:
		s.graphError(w, r, http.StatusNotFound, "MailboxNotEnabledForRESTAPI", "The mailbox is either inactive, soft-deleted, or is hosted on-premise.")
	case MailboxAccessDenied:
		s.graphError(w, r, http.StatusForbidden, "ErrorAccessDenied", "Access to OData is disabled.")
	default:
		return false
	}
	return true
}

// DeltaStats is how many delta requests came without a token (each a full
// listing of its collection) and how many were answered 410 because their
// sync state was gone.
func (s *Server) DeltaStats() (initial, gone int64) {
	return s.initialRounds.Load(), s.goneRounds.Load()
}

// Requests is the number of Graph API requests received (identity-platform
// requests not included), faulted and throttled ones included.
func (s *Server) Requests() int64 { return s.requests.Load() }

// MaxInFlight is the largest number of Graph API requests served at once
// since the start or the last ResetStats.
func (s *Server) MaxInFlight() int64 { return s.maxInflight.Load() }

// ResetStats zeroes Requests and MaxInFlight.
func (s *Server) ResetStats() {
	s.requests.Store(0)
	s.maxInflight.Store(0)
}

// Observe installs fn, called for every Graph API request before it is
// answered; nil removes it. fn must be quick and safe for concurrent use.
func (s *Server) Observe(fn func(RequestInfo)) {
	s.mu.Lock()
	s.observer = fn
	s.mu.Unlock()
}

// InjectFault adds a fault; faults are tried in the order added.
func (s *Server) InjectFault(f Fault) {
	s.mu.Lock()
	s.faults = append(s.faults, &f)
	s.mu.Unlock()
}

// ClearFaults removes every fault.
func (s *Server) ClearFaults() {
	s.mu.Lock()
	s.faults = nil
	s.mu.Unlock()
}

// ExpireDeltaTokens forgets the sync state of every outstanding delta round:
// each skip or delta token issued so far then answers 410 Gone, code
// syncStateNotFound, with a Location header holding the initial request
// (NOTES 13 and 14).
func (s *Server) ExpireDeltaTokens() {
	s.mu.Lock()
	s.epoch++
	s.mu.Unlock()
}

// ServeHTTP answers Graph (/v1.0/...) and identity-platform requests.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if s.url == "" && r.Host != "" {
		// Mounted without Start or SetURL (httptest.NewServer(s)): learn the
		// base URL from the first request.
		s.SetURL("http://" + r.Host)
	}
	p := r.URL.Path
	if strings.HasPrefix(p, "/v1.0/") || p == "/v1.0" || strings.HasPrefix(p, "/beta/") {
		s.serveGraphRequest(w, r)
		return
	}
	if s.applyFault(w, r) {
		return
	}
	s.serveIdentity(w, r)
}

func (s *Server) serveGraphRequest(w http.ResponseWriter, r *http.Request) {
	s.requests.Add(1)
	n := s.inflight.Add(1)
	defer s.inflight.Add(-1)
	for {
		m := s.maxInflight.Load()
		if n <= m || s.maxInflight.CompareAndSwap(m, n) {
			break
		}
	}
	rid := newUUID()
	w.Header().Set("request-id", rid)
	if c := r.Header.Get("client-request-id"); c != "" {
		w.Header().Set("client-request-id", c)
	}
	s.mu.Lock()
	obs := s.observer
	s.mu.Unlock()
	if obs != nil {
		obs(RequestInfo{Method: r.Method, Path: r.URL.Path, Query: r.URL.RawQuery,
			Prefer: preferences(r), Authorized: bearer(r) != "", InFlight: n, IfMatch: r.Header.Get("If-Match")})
	}
	if !sleepCtx(r.Context(), s.opts.Latency) {
		return
	}
	if s.applyFault(w, r) {
		return
	}
	s.serveAPI(w, r, rid, n)
}

// serveAPI answers a Graph request that no fault took.
func (s *Server) serveAPI(w http.ResponseWriter, r *http.Request, rid string, n int64) {
	if s.opts.EnforceLimits {
		if ra, why := s.throttle(n); ra > 0 {
			w.Header().Set("Retry-After", strconv.Itoa(int(ra/time.Second)))
			s.graphError(w, r, http.StatusTooManyRequests, "ApplicationThrottled", why)
			return
		}
	}
	if !strings.HasPrefix(r.URL.Path, "/v1.0/") {
		s.graphError(w, r, http.StatusBadRequest, "BadRequest", "The simulator serves only the v1.0 endpoint.")
		return
	}
	tok := bearer(r)
	switch {
	case tok == "":
		w.Header().Set("WWW-Authenticate", `Bearer realm="", authorization_uri="https://login.microsoftonline.com/common/oauth2/authorize", client_id="00000003-0000-0000-c000-000000000000"`)
		s.graphError(w, r, http.StatusUnauthorized, "InvalidAuthenticationToken", "Access token is empty.")
		return
	case !s.AccessTokenValid(tok):
		w.Header().Set("WWW-Authenticate", `Bearer realm="", authorization_uri="https://login.microsoftonline.com/common/oauth2/authorize", client_id="00000003-0000-0000-c000-000000000000"`)
		s.graphError(w, r, http.StatusUnauthorized, "InvalidAuthenticationToken", "Lifetime validation failed, the token is expired.")
		return
	}
	s.route(w, r, rid)
}

// throttle applies Outlook's per-mailbox limits; it returns how long the
// client must wait, or 0.
func (s *Server) throttle(inflight int64) (time.Duration, string) {
	if inflight > limitConcurrent {
		return time.Second, "Application is over its MailboxConcurrency limit."
	}
	now := s.now()
	s.mu.Lock()
	defer s.mu.Unlock()
	cut := 0
	for cut < len(s.window) && now.Sub(s.window[cut]) >= limitWindow {
		cut++
	}
	s.window = s.window[cut:]
	if len(s.window) >= limitRequests {
		wait := limitWindow - now.Sub(s.window[0])
		return max(wait.Round(time.Second), time.Second), "Application is over its MailboxRequests limit."
	}
	s.window = append(s.window, now)
	return 0, ""
}

func (s *Server) applyFault(w http.ResponseWriter, r *http.Request) bool {
	s.mu.Lock()
	var f Fault
	found := false
	for i, c := range s.faults {
		if (c.Method != "" && !strings.EqualFold(c.Method, r.Method)) ||
			(c.PathContains != "" && !strings.Contains(r.URL.Path, c.PathContains) && !strings.Contains(r.URL.RequestURI(), c.PathContains)) {
			continue
		}
		if c.Probability > 0 && mrand.Float64() >= c.Probability {
			continue
		}
		f = *c
		found = true
		if c.Times > 0 {
			c.Times--
			if c.Times == 0 {
				s.faults = append(s.faults[:i:i], s.faults[i+1:]...)
			}
		}
		break
	}
	s.mu.Unlock()
	if !found {
		return false
	}
	if !sleepCtx(r.Context(), f.Latency) {
		return true
	}
	if f.AfterServing && f.Status != 0 && strings.HasPrefix(r.URL.Path, "/v1.0/") {
		s.serveAPI(discardWriter{h: http.Header{}}, r, newUUID(), 1)
	}
	switch {
	case f.ResetConnection:
		if hj, ok := w.(http.Hijacker); ok {
			if c, _, err := hj.Hijack(); err == nil {
				if tc, ok := c.(*net.TCPConn); ok {
					_ = tc.SetLinger(0) // a reset, not an orderly close
				}
				_ = c.Close()
				return true
			}
		}
		panic(http.ErrAbortHandler) // no hijacking (HTTP/2): abort the stream
	case f.Malformed:
		w.Header().Set("Content-Type", "application/json; odata.metadata=minimal; odata.streaming=true; IEEE754Compatible=false; charset=utf-8")
		w.WriteHeader(http.StatusOK)
		_, _ = w.Write([]byte(`{"@odata.context":"` + s.URL() + `/v1.0/$metadata#Collection(message)","value":[{"@odata.type":"#microsoft.graph.message","id":"AAMkAGI2TG93AAA=","subject":"Trunc`))
		return true
	case f.Status != 0:
		if f.RetryAfter > 0 {
			w.Header().Set("Retry-After", formatRetryAfter(f.RetryAfter))
		}
		code := f.Code
		if code == "" {
			code = defaultCode(f.Status)
		}
		if f.Status == http.StatusGone {
			w.Header().Set("Location", s.initialDeltaURL(r))
		}
		if strings.HasPrefix(r.URL.Path, "/v1.0") {
			s.graphError(w, r, f.Status, code, defaultMessage(f.Status, code))
		} else {
			s.identityError(w, f.Status, code, 90000, defaultMessage(f.Status, code))
		}
		return true
	}
	return false // latency only
}

func formatRetryAfter(d time.Duration) string {
	if d%time.Second == 0 {
		return strconv.Itoa(int(d / time.Second))
	}
	return strconv.FormatFloat(d.Seconds(), 'f', 3, 64)
}

func defaultCode(status int) string {
	switch status {
	case 400:
		return "BadRequest"
	case 401:
		return "InvalidAuthenticationToken"
	case 403:
		return "ErrorAccessDenied"
	case 404:
		return "ErrorItemNotFound"
	case 409:
		return "ErrorConflict"
	case 410:
		return "syncStateNotFound"
	case 429:
		return "TooManyRequests"
	case 501:
		return "NotImplemented"
	case 503:
		return "ServiceUnavailable"
	case 504:
		return "GatewayTimeout"
	}
	if status >= 500 {
		return "generalException"
	}
	return "BadRequest"
}

func defaultMessage(status int, code string) string {
	switch code {
	case "syncStateNotFound":
		return "The sync state generation is not found. The delta token is expired and data must be synchronized again."
	case "resyncRequired":
		return "The delta token is no longer valid, and the app must reset the sync state."
	case "TooManyRequests":
		return "Please retry again later."
	}
	if t := http.StatusText(status); t != "" {
		return t + "."
	}
	return "The service failed."
}

// graphError writes Graph's error envelope (NOTES 15; error-429-throttled.json).
func (s *Server) graphError(w http.ResponseWriter, r *http.Request, status int, code, message string) {
	inner := map[string]string{
		"date":       s.now().UTC().Format("2006-01-02T15:04:05"),
		"request-id": w.Header().Get("request-id"),
	}
	if c := r.Header.Get("client-request-id"); c != "" {
		inner["client-request-id"] = c
	}
	if status == http.StatusTooManyRequests {
		// The documented throttling body repeats the status inside
		// innerError (error-429-throttled.json).
		inner["code"], inner["message"], inner["status"] = "429", "Please retry after", "429"
	}
	body := map[string]any{"error": map[string]any{"code": code, "message": message, "innerError": inner}}
	writeJSON(w, status, mustJSON(body))
}

func writeJSON(w http.ResponseWriter, status int, body []byte) {
	w.Header().Set("Content-Type", "application/json; odata.metadata=minimal; odata.streaming=true; IEEE754Compatible=false; charset=utf-8")
	w.Header().Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(status)
	_, _ = w.Write(body)
}

func writeBuffer(w http.ResponseWriter, status int, b *bytes.Buffer) { writeJSON(w, status, b.Bytes()) }

func bearer(r *http.Request) string {
	h := r.Header.Get("Authorization")
	if len(h) > 7 && strings.EqualFold(h[:7], "bearer ") {
		return strings.TrimSpace(h[7:])
	}
	return ""
}

// preferences splits every Prefer header into its preferences. Values are
// quoted strings without commas, so splitting on commas is safe.
func preferences(r *http.Request) []string {
	var out []string
	for _, h := range r.Header.Values("Prefer") {
		for _, p := range strings.Split(h, ",") {
			if p = strings.TrimSpace(p); p != "" {
				out = append(out, p)
			}
		}
	}
	return out
}

// preference returns the value of a preference (unquoted), if present.
func preference(prefs []string, name string) (string, bool) {
	for _, p := range prefs {
		k, v, _ := strings.Cut(p, "=")
		if strings.EqualFold(strings.TrimSpace(k), name) {
			return strings.Trim(strings.TrimSpace(v), `"`), true
		}
	}
	return "", false
}

func sleepCtx(ctx context.Context, d time.Duration) bool {
	if d <= 0 {
		return true
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

func newUUID() string {
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	h := hex.EncodeToString(b)
	return h[:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:]
}

var errBadToken = errors.New("bad token")
