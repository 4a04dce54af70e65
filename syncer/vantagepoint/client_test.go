package vantagepoint

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
	_ "time/tzdata" // America/New_York for the daylight saving test, wherever it runs

	"golang.org/x/oauth2"

	"vpconnect/syncer"
	"vpconnect/syncer/vantagepoint/vpsim"
)

// headerRecorder counts the requests to a hub whose dvp-applicationId does
// not name the hub's area (vpsim refuses another area; this also catches
// a missing header).
type headerRecorder struct {
	next    http.RoundTripper
	missing atomic.Int64
}

func (h *headerRecorder) RoundTrip(r *http.Request) (*http.Response, error) {
	p := strings.TrimPrefix(r.URL.Path, vpsim.APIPath+"/")
	hub, _, _ := strings.Cut(p, "/")
	want := map[string]string{"activity": "Activity", "contact": "Contact", "firm": "Firm", "employee": "Employee", "project": "Project"}[hub]
	if hub == "UDIC" {
		want, _, _ = strings.Cut(strings.TrimPrefix(p, "UDIC/"), "/")
	}
	if want != "" && r.Header.Get("dvp-applicationId") != want {
		h.missing.Add(1)
	}
	return h.next.RoundTrip(r)
}

type env struct {
	sim *vpsim.Server
	c   *Client
	hdr *headerRecorder
}

func newEnv(t *testing.T, pageSize int) *env {
	t.Helper()
	sim := vpsim.New(vpsim.Options{})
	if _, err := sim.Start(""); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(sim.Close)
	sim.AddUser("jdoe", "pw", "E001")
	// A transport of its own per test: net/http replays idempotent requests
	// that fail on a reused connection, and tests must see what the client
	// does itself.
	hdr := &headerRecorder{next: &http.Transport{}}
	c, err := New(Options{
		APIURL:      sim.APIURL(),
		TokenSource: oauth2.StaticTokenSource(&oauth2.Token{AccessToken: sim.IssueAccessToken("jdoe"), TokenType: "bearer"}),
		HTTPClient:  &http.Client{Transport: hdr, Timeout: 10 * time.Second},
		PageSize:    pageSize,
		RetryBase:   time.Millisecond,
	})
	if err != nil {
		t.Fatal(err)
	}
	return &env{sim: sim, c: c, hdr: hdr}
}

var ctx = context.Background()

func TestEmployeesByEmail(t *testing.T) {
	e := newEnv(t, 0)
	e.sim.AddEmployee(vpsim.Employee{Employee: "E001", FirstName: "Jane", LastName: "Doe", EMail: "Jane.Doe@Example.com"})
	e.sim.AddEmployee(vpsim.Employee{Employee: "E002", LastName: "Gone", EMail: "jane.doe@example.com", Status: "T"})
	e.sim.AddEmployee(vpsim.Employee{Employee: "E003", LastName: "Other", EMail: "other@example.com"})
	got, err := e.c.EmployeesByEmail(ctx, "JANE.DOE@example.COM")
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 1 || got[0].ID != "E001" || got[0].Name != "Jane Doe" || got[0].Status != "A" {
		t.Fatalf("got %+v", got)
	}
	if got, err := e.c.EmployeesByEmail(ctx, "nobody@example.com"); err != nil || len(got) != 0 {
		t.Fatalf("nobody: %v %v", got, err)
	}
	if e.hdr.missing.Load() != 0 {
		t.Fatalf("%d requests without dvp-applicationId", e.hdr.missing.Load())
	}
}

func TestContactsPagingAndFilters(t *testing.T) {
	e := newEnv(t, 7)
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	for i := range 50 {
		c := vpsim.Contact{FirstName: fmt.Sprintf("F%02d", i), LastName: "L", Owner: "E001",
			ModDate: vpsim.FormatDate(t0.Add(time.Duration(i) * time.Hour))}
		if i%5 != 0 {
			c.Email = fmt.Sprintf("c%02d@example.com", i)
		}
		if i%10 == 1 {
			c.ContactStatus = "I"
		}
		if i%2 == 1 {
			c.Owner = "E002"
		}
		e.sim.AddContact(c)
	}
	count := func(q syncer.ContactQuery) (n, pages int, seen map[string]bool) {
		t.Helper()
		seen = map[string]bool{}
		err := e.c.Contacts(ctx, q, func(cs []syncer.Contact) error {
			pages++
			for _, c := range cs {
				if seen[c.ID] {
					t.Fatalf("contact %s listed twice", c.ID)
				}
				seen[c.ID] = true
				n++
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		return
	}
	before := e.c.Requests()
	if n, pages, _ := count(syncer.ContactQuery{}); n != 50 || pages != 8 {
		t.Fatalf("all: %d contacts in %d pages", n, pages)
	}
	if got := e.c.Requests() - before; got != 8 { // 7 full pages, 1 short one ends the listing
		t.Fatalf("listing 50 by 7 took %d requests", got)
	}
	if n, _, _ := count(syncer.ContactQuery{WithEmail: true}); n != 40 {
		t.Fatalf("with email: %d", n)
	}
	if n, _, _ := count(syncer.ContactQuery{Owner: "E001", ActiveOnly: true}); n != 25 {
		t.Fatalf("owner E001, active: %d", n) // odd i are E002; i%10==1 is odd
	}
	// A ModifiedSince mark is a ModDate as the client handed it out (the
	// server's local time, read as if UTC). Until the client has seen a
	// write's answer it does not know the server's zone, and widens the
	// filter by the largest zone offset so that nothing is missed.
	var mark44, id49 string
	var mark time.Time
	e.c.Contacts(ctx, syncer.ContactQuery{}, func(cs []syncer.Contact) error {
		for _, c := range cs {
			switch c.FirstName {
			case "F44":
				mark, mark44 = c.ModDate, c.ID
			case "F49":
				id49 = c.ID
			}
		}
		return nil
	})
	if _, known := e.c.ServerZone(); known {
		t.Fatal("server zone known before any write")
	}
	if n, _, seen := count(syncer.ContactQuery{ModifiedSince: mark}); n != 24 || !seen[mark44] {
		t.Fatalf("modified since, zone unknown: %d", n) // raw mark (UTC-5) less 14 hours: 26..49
	}
	if _, err := e.c.UpdateContact(ctx, syncer.Contact{ID: id49, FirstName: "F49", LastName: "L", Owner: "E001"}); err != nil {
		t.Fatal(err)
	}
	if off, known := e.c.ServerZone(); !known || off != -5*time.Hour {
		t.Fatalf("server zone after a write: %v %v, want the simulator's UTC-5", off, known)
	}
	if n, _, _ := count(syncer.ContactQuery{ModifiedSince: mark}); n != 5 {
		t.Fatalf("modified since: %d", n) // 45..49
	}
	var first syncer.Contact
	err := e.c.Contacts(ctx, syncer.ContactQuery{Fields: []string{"Email"}}, func(cs []syncer.Contact) error {
		if first.ID == "" {
			first = cs[0]
		}
		return nil
	})
	if err != nil || first.ID == "" || first.FirstName != "" {
		t.Fatalf("fields: %+v %v", first, err)
	}
	// A page callback's error stops the listing and comes back as is.
	stop := errors.New("stop")
	if err := e.c.Contacts(ctx, syncer.ContactQuery{}, func([]syncer.Contact) error { return stop }); !errors.Is(err, stop) {
		t.Fatalf("callback error: %v", err)
	}
}

func TestGenericListOrderLikeIn(t *testing.T) {
	e := newEnv(t, 3)
	for _, n := range []string{"Acme", "Beta Corp", "acme west", "Gamma"} {
		e.sim.AddFirm(vpsim.Firm{Name: n})
	}
	var names []string
	collect := func(rs []Record) error {
		for _, r := range rs {
			names = append(names, r.String("Name"))
		}
		return nil
	}
	if err := e.c.List(ctx, HubFirm, Query{Order: "Name_D"}, collect); err != nil {
		t.Fatal(err)
	}
	if strings.Join(names, "|") != "Gamma|Beta Corp|acme west|Acme" {
		t.Fatalf("order: %v", names)
	}
	names = nil
	if err := e.c.List(ctx, HubFirm, Query{Filters: []Filter{{Name: "Name", Op: OpLike, Value: "ACME%"}}, Order: "Name_A"}, collect); err != nil {
		t.Fatal(err)
	}
	if strings.Join(names, "|") != "Acme|acme west" {
		t.Fatalf("like: %v", names)
	}
	names = nil
	if err := e.c.List(ctx, HubFirm, Query{Filters: []Filter{{Name: "Name", Op: OpNe, Value: "gamma"}}, Limit: 1}, collect); err != nil {
		t.Fatal(err)
	}
	if len(names) != 1 || names[0] == "Gamma" {
		t.Fatalf("!= + limit: %v", names)
	}
	err := e.c.List(ctx, HubFirm, Query{Filters: []Filter{{Name: "NoSuchField", Value: "x"}}}, collect)
	if !errors.Is(err, syncer.ErrInvalid) {
		t.Fatalf("unknown field: %v", err)
	}
}

func TestActivityLifecycle(t *testing.T) {
	e := newEnv(t, 0)
	start := time.Date(2026, 3, 2, 14, 30, 0, 0, time.FixedZone("CET", 3600))
	a, err := e.c.CreateActivity(ctx, syncer.Activity{Type: "EMail", Subject: "Proposal", StartDate: start, EndDate: start,
		Notes: "body\n\n[vpconnect:<abc_1%@x>]", Owner: "E001", Employee: "E001", ContactID: "C1", Private: true})
	if err != nil {
		t.Fatal(err)
	}
	if len(a.ID) != 32 || !a.StartDate.Equal(start) || a.StartDate.Location() != time.UTC || !a.Private || a.AllDay || a.ModDate.IsZero() {
		t.Fatalf("created %+v", a)
	}
	stored, _ := e.sim.Activity(a.ID)
	if stored.StartDate != "2026-03-02T13:30:00.000" || stored.PrivateInd != "Y" || stored.AllDayEventInd != "N" {
		t.Fatalf("stored %+v", stored)
	}
	e.sim.AddActivity(vpsim.Activity{Type: "EMail", Subject: "Proposal", StartDate: "2026-03-02T13:30:00.000", Employee: "E001", Notes: "other"})
	found, err := e.c.FindActivities(ctx, syncer.ActivityQuery{Type: "email", Subject: "proposal", StartDate: start, Employee: "E001", NotesContain: "<abc_1%@x>"})
	if err != nil || len(found) != 1 || found[0].ID != a.ID {
		t.Fatalf("find: %+v %v", found, err)
	}
	found, err = e.c.FindActivities(ctx, syncer.ActivityQuery{Subject: "Proposal", StartDate: start})
	if err != nil || len(found) != 2 {
		t.Fatalf("find both: %+v %v", found, err)
	}
	got, err := e.c.Activity(ctx, a.ID)
	if err != nil || got.Notes != a.Notes {
		t.Fatalf("get one: %+v %v", got, err)
	}
	got.Location = "Room 1"
	got.Private = false
	up, err := e.c.UpdateActivity(ctx, got)
	if err != nil || up.Location != "Room 1" || up.Private || up.Subject != "Proposal" {
		t.Fatalf("update: %+v %v", up, err)
	}
	if err := e.c.DeleteActivity(ctx, a.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := e.c.Activity(ctx, a.ID); !errors.Is(err, syncer.ErrNotFound) {
		t.Fatalf("after delete: %v", err)
	}
	if _, err := e.c.CreateActivity(ctx, syncer.Activity{Type: "EMail"}); !errors.Is(err, syncer.ErrInvalid) {
		t.Fatalf("invalid create: %v", err)
	}
}

func TestContactWritesAndFirm(t *testing.T) {
	e := newEnv(t, 0)
	f := e.sim.AddFirm(vpsim.Firm{Name: "Acme"})
	c, err := e.c.CreateContact(ctx, syncer.Contact{FirstName: "Ann", LastName: "Lee", Email: "ann@acme.test", ClientID: f.ClientID, Owner: "E001"})
	if err != nil || c.ID == "" || c.Status != "A" {
		t.Fatalf("create contact: %+v %v", c, err)
	}
	c.Title = "CTO"
	c.Phone = ""
	if c, err = e.c.UpdateContact(ctx, c); err != nil || c.Title != "CTO" {
		t.Fatalf("update contact: %+v %v", c, err)
	}
	firm, err := e.c.Firm(ctx, f.ClientID)
	if err != nil || firm.Name != "Acme" {
		t.Fatalf("firm: %+v %v", firm, err)
	}
	if _, err := e.c.Firm(ctx, "NOPE"); !errors.Is(err, syncer.ErrNotFound) {
		t.Fatalf("missing firm: %v", err)
	}
	made, err := e.c.CreateFirm(ctx, syncer.Firm{Name: "A Startup Inc"})
	if err != nil || made.ID == "" || made.Name != "A Startup Inc" {
		t.Fatalf("create firm: %+v %v", made, err)
	}
	if got, err := e.c.Firm(ctx, made.ID); err != nil || got.Name != "A Startup Inc" {
		t.Fatalf("created firm read back: %+v %v", got, err)
	}
	if _, err := e.c.CreateFirm(ctx, syncer.Firm{}); !errors.Is(err, syncer.ErrInvalid) {
		t.Fatalf("a firm without a name: %v", err)
	}
	if err := e.c.DeleteContact(ctx, c.ID); err != nil {
		t.Fatal(err)
	}
	if len(e.sim.Contacts()) != 0 {
		t.Fatal("contact not deleted")
	}
	e.sim.AddProject(vpsim.Project{WBS1: "P1", Name: "Tower", ClientID: f.ClientID})
	var ps []Project
	if err := e.c.Projects(ctx, Query{}, func(p []Project) error { ps = append(ps, p...); return nil }); err != nil || len(ps) != 1 || ps[0].Name != "Tower" {
		t.Fatalf("projects: %+v %v", ps, err)
	}
	// GET project answers phases and tasks too; TopLevelProjects keeps the
	// projects.
	e.sim.AddProject(vpsim.Project{WBS1: "P1", WBS2: "01", Name: "Design", ClientID: f.ClientID})
	e.sim.AddProject(vpsim.Project{WBS1: "P1", WBS2: "01", WBS3: "A", Name: "Sketches", ClientID: f.ClientID})
	list := func(q Query) []string {
		t.Helper()
		var names []string
		if err := e.c.Projects(ctx, q, func(p []Project) error {
			for _, x := range p {
				names = append(names, x.Name)
			}
			return nil
		}); err != nil {
			t.Fatal(err)
		}
		return names
	}
	if got := list(Query{}); len(got) != 3 {
		t.Errorf("all rows of the project hub: %q, want the project, its phase and its task", got)
	}
	if got := list(Query{Filters: []Filter{TopLevelProjects}}); len(got) != 1 || got[0] != "Tower" {
		t.Errorf("top-level projects: %q", got)
	}
	if p, err := e.c.Get(ctx, HubProject, "P1"); err != nil || p.String("Name") != "Tower" {
		t.Errorf("GET project/P1: %v %v", p, err)
	}
}

func TestErrorMapping(t *testing.T) {
	cases := []struct {
		name  string
		fault vpsim.Fault
		want  error
		calls int64 // requests the client sends
	}{
		{"401", vpsim.Fault{Status: 401}, syncer.ErrAuthRejected, 1},
		{"403", vpsim.Fault{Status: 403}, syncer.ErrAuthRejected, 1},
		{"404", vpsim.Fault{Status: 404}, syncer.ErrNotFound, 1},
		{"400", vpsim.Fault{Status: 400}, syncer.ErrInvalid, 1},
		{"500 every time", vpsim.Fault{Status: 500}, syncer.ErrUnavailable, 4},
		{"malformed every time", vpsim.Fault{Malformed: true}, syncer.ErrMalformed, 4},
		{"reset every time", vpsim.Fault{ResetConnection: true}, syncer.ErrUnavailable, 4},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t, 0)
			f := e.sim.AddFirm(vpsim.Firm{Name: "Acme"})
			e.sim.InjectFault(tc.fault)
			_, err := e.c.Firm(ctx, f.ClientID)
			if !errors.Is(err, tc.want) {
				t.Fatalf("got %v, want %v", err, tc.want)
			}
			if got := e.c.Requests(); got != tc.calls {
				t.Fatalf("%d requests, want %d", got, tc.calls)
			}
			var ae *APIError
			if tc.fault.Status != 0 && (!errors.As(err, &ae) || ae.Status != tc.fault.Status || ae.Message == "" || ae.Method != "GET") {
				t.Fatalf("no APIError with the status: %#v", ae)
			}
		})
	}
}

func TestRetriesHonourRetryAfterThenSucceed(t *testing.T) {
	e := newEnv(t, 0)
	f := e.sim.AddFirm(vpsim.Firm{Name: "Acme"})
	e.sim.InjectFault(vpsim.Fault{Status: 503, RetryAfter: time.Second, Times: 1})
	e.sim.InjectFault(vpsim.Fault{Malformed: true, Times: 1})
	t0 := time.Now()
	firm, err := e.c.Firm(ctx, f.ClientID)
	if err != nil || firm.Name != "Acme" {
		t.Fatalf("%+v %v", firm, err)
	}
	if d := time.Since(t0); d < time.Second {
		t.Fatalf("retried after %v, before Retry-After", d)
	}
	if e.c.Requests() != 3 {
		t.Fatalf("%d requests, want 3", e.c.Requests())
	}
	// A Retry-After beyond MaxBackoff is handed to the caller at once.
	e.sim.InjectFault(vpsim.Fault{Status: 429, RetryAfter: time.Hour, Times: 1})
	_, err = e.c.Firm(ctx, f.ClientID)
	var ae *APIError
	if !errors.Is(err, syncer.ErrUnavailable) || !errors.As(err, &ae) || ae.RetryAfter != time.Hour {
		t.Fatalf("long Retry-After: %v", err)
	}
}

func TestPostIsNeverRetried(t *testing.T) {
	for _, f := range []vpsim.Fault{{Method: "POST", Status: 503}, {Method: "POST", ResetConnection: true}, {Method: "POST", Malformed: true, Status: 201}} {
		e := newEnv(t, 0)
		e.sim.InjectFault(f)
		_, err := e.c.CreateActivity(ctx, syncer.Activity{Type: "EMail", Subject: "x", StartDate: time.Now()})
		if err == nil || e.c.Requests() != 1 {
			t.Fatalf("%+v: err %v after %d requests", f, err, e.c.Requests())
		}
	}
	// PUT and DELETE are retried.
	e := newEnv(t, 0)
	a := e.sim.AddActivity(vpsim.Activity{Type: "EMail", Subject: "x", StartDate: "2026-01-01"})
	e.sim.InjectFault(vpsim.Fault{Method: "PUT", Status: 502, Times: 2})
	if _, err := e.c.Update(ctx, HubActivity, a.ActivityID, Record{"Location": "here"}); err != nil || e.c.Requests() != 3 {
		t.Fatalf("PUT: %v after %d requests", err, e.c.Requests())
	}
}

func TestListFailureIsAnError(t *testing.T) {
	e := newEnv(t, 5)
	for i := range 12 {
		e.sim.AddContact(vpsim.Contact{LastName: fmt.Sprint(i)})
	}
	e.sim.InjectFault(vpsim.Fault{PathContains: "offset=5", Status: 500})
	n := 0
	err := e.c.Contacts(ctx, syncer.ContactQuery{}, func(cs []syncer.Contact) error { n += len(cs); return nil })
	if !errors.Is(err, syncer.ErrUnavailable) || n != 5 {
		t.Fatalf("partial listing: %d contacts, err %v", n, err)
	}
}

func TestLoginConfigNeedsNoToken(t *testing.T) {
	e := newEnv(t, 0)
	c, err := New(Options{APIURL: e.sim.APIURL()})
	if err != nil {
		t.Fatal(err)
	}
	lc, err := c.LoginConfig(ctx)
	if err != nil || !lc.HasDatabase("vpdemo") || lc.Version == "" || len(lc.Languages) == 0 {
		t.Fatalf("%+v %v", lc, err)
	}
	if _, err := c.Firm(ctx, "x"); !errors.Is(err, syncer.ErrAuthRejected) {
		t.Fatalf("no token source: %v", err)
	}
}

func TestTokenGrants(t *testing.T) {
	sim := vpsim.New(vpsim.Options{Database: "ACME", ClientID: "cid", ClientSecret: "sec"})
	if _, err := sim.Start(""); err != nil {
		t.Fatal(err)
	}
	defer sim.Close()
	sim.AddUser("jdoe", "pw", "E001")
	cr := Credentials{Username: "jdoe", Password: "pw", Database: "ACME", ClientID: "cid", ClientSecret: "sec"}
	tok, err := PasswordGrant(ctx, nil, sim.APIURL(), cr)
	if err != nil || tok.AccessToken == "" || tok.RefreshToken == "" || time.Until(tok.Expiry) < 29*time.Minute {
		t.Fatalf("password grant: %+v %v", tok, err)
	}
	tok2, err := RefreshGrant(ctx, nil, sim.APIURL(), tok.RefreshToken, cr)
	if err != nil || tok2.RefreshToken == tok.RefreshToken {
		t.Fatalf("refresh grant: %+v %v", tok2, err)
	}
	c, _ := New(Options{APIURL: sim.APIURL(), TokenSource: oauth2.StaticTokenSource(tok2)})
	if err := c.List(ctx, HubEmployee, Query{}, func([]Record) error { return nil }); err != nil {
		t.Fatalf("token does not work: %v", err)
	}
	// Spent refresh token.
	_, err = RefreshGrant(ctx, nil, sim.APIURL(), tok.RefreshToken, cr)
	var te *TokenError
	if !errors.Is(err, syncer.ErrAuthRejected) || !errors.As(err, &te) || te.Code != "invalid_grant" {
		t.Fatalf("spent refresh token: %v", err)
	}
	sim.DisableUser("jdoe", true)
	_, err = PasswordGrant(ctx, nil, sim.APIURL(), cr)
	if !errors.As(err, &te) || !strings.Contains(te.Description, "disabled") || !errors.Is(err, syncer.ErrAuthRejected) {
		t.Fatalf("disabled: %v", err)
	}
	sim.DisableUser("jdoe", false)
	bad := cr
	bad.Password = "nope"
	if _, err := PasswordGrant(ctx, nil, sim.APIURL(), bad); !errors.Is(err, syncer.ErrAuthRejected) {
		t.Fatalf("wrong password: %v", err)
	}
	sim.InjectFault(vpsim.Fault{PathContains: "/token", Status: 503, Times: 1})
	if _, err := PasswordGrant(ctx, nil, sim.APIURL(), cr); !errors.Is(err, syncer.ErrUnavailable) {
		t.Fatalf("503 at token: %v", err)
	}
	// A TokenSource that fails with invalid_grant makes API calls
	// ErrAuthRejected, without a request to the API.
	c, _ = New(Options{APIURL: sim.APIURL(), TokenSource: failingSource{&TokenError{Code: "invalid_grant"}}})
	if err := c.List(ctx, HubEmployee, Query{}, func([]Record) error { return nil }); !errors.Is(err, syncer.ErrAuthRejected) || c.Requests() != 0 {
		t.Fatalf("failing token source: %v", err)
	}
}

type failingSource struct{ err error }

func (f failingSource) Token() (*oauth2.Token, error) { return nil, f.err }

// The token error fixtures decode into TokenErrors that map as the engine
// needs.
func TestTokenErrorFixtures(t *testing.T) {
	dir := "testdata/fixtures"
	for name, want := range map[string]error{
		"token-error-invalid-grant-login-disabled.json": syncer.ErrAuthRejected,
		"token-error-unsupported-grant-type.json":       syncer.ErrInvalid,
	} {
		b, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil {
			t.Fatalf("fixture: %v", err)
		}
		srv := &http.Server{}
		_ = srv
		hs := newStatic(t, 400, b)
		_, err = PasswordGrant(ctx, nil, hs, Credentials{})
		if !errors.Is(err, want) {
			t.Errorf("%s: %v, want %v", name, err, want)
		}
	}
	b, err := os.ReadFile(filepath.Join(dir, "token-response.json"))
	if err != nil {
		t.Fatal(err)
	}
	tok, err := PasswordGrant(ctx, nil, newStatic(t, 200, b), Credentials{})
	if err != nil || tok.RefreshToken != "N3h/5UvLUL/LAP5/QcC8+B+vfOS3IE=" || tok.ExpiresIn != 1799 {
		t.Fatalf("token fixture: %+v %v", tok, err)
	}
	// The third-party firm record decodes (no milliseconds in its dates).
	b, err = os.ReadFile(filepath.Join(dir, "firm-record-thirdparty-mock.json"))
	if err != nil {
		t.Fatal(err)
	}
	rs, err := DecodeRecords(b)
	if err != nil || FirmFromRecord(rs[0]).Name != "Globex Corporation" || rs[0].Time("ModDate").IsZero() || rs[0].String("HasHierarchy") != "1" {
		t.Fatalf("firm fixture: %v %v", rs, err)
	}
}

// A server that caps pages below the client's page size must not cut a
// listing short: an incomplete listing read as complete looks like
// deletions to the engine.
func TestServerPageCapDoesNotCutListings(t *testing.T) {
	sim := vpsim.New(vpsim.Options{PageSizeMax: 40})
	if _, err := sim.Start(""); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(sim.Close)
	sim.AddUser("jdoe", "pw", "E001")
	for i := range 130 {
		sim.AddContact(vpsim.Contact{LastName: fmt.Sprintf("Capped%03d", i), Owner: "E001"})
	}
	c, err := New(Options{APIURL: sim.APIURL(), PageSize: 100,
		TokenSource: oauth2.StaticTokenSource(&oauth2.Token{AccessToken: sim.IssueAccessToken("jdoe"), TokenType: "bearer"})})
	if err != nil {
		t.Fatal(err)
	}
	count := func() int {
		n := 0
		if err := c.Contacts(ctx, syncer.ContactQuery{Owner: "E001"}, func(cs []syncer.Contact) error { n += len(cs); return nil }); err != nil {
			t.Fatal(err)
		}
		return n
	}
	if n := count(); n != 130 {
		t.Fatalf("listed %d of 130 contacts under a page cap of 40", n)
	}
	// Once the cap is known, a listing costs no probe: 130/40 → 4 pages.
	before := c.Requests()
	if n := count(); n != 130 {
		t.Fatalf("second listing: %d of 130", n)
	}
	if got := c.Requests() - before; got != 4 {
		t.Errorf("second listing took %d requests, want 4", got)
	}
	// On an uncapped server, a short listing costs one probe until a full
	// page has shown that the server honours the page size.
	e := newEnv(t, 100)
	for i := range 30 {
		e.sim.AddContact(vpsim.Contact{LastName: fmt.Sprintf("Few%02d", i), Owner: "E001"})
	}
	list := func() int64 {
		before := e.c.Requests()
		e.c.Contacts(ctx, syncer.ContactQuery{Owner: "E001"}, func([]syncer.Contact) error { return nil })
		return e.c.Requests() - before
	}
	if first := list(); first != 2 {
		t.Errorf("first short listing: %d requests, want 2 (one probe)", first)
	}
	for i := range 100 {
		e.sim.AddContact(vpsim.Contact{LastName: fmt.Sprintf("More%03d", i), Owner: "E001"})
	}
	if full := list(); full != 2 {
		t.Errorf("listing of 130: %d requests, want 2", full)
	}
	e.sim.AddContact(vpsim.Contact{LastName: "Other", Owner: "E777"})
	before = e.c.Requests()
	e.c.Contacts(ctx, syncer.ContactQuery{Owner: "E777"}, func([]syncer.Contact) error { return nil })
	if n := e.c.Requests() - before; n != 1 {
		t.Errorf("a short listing after a full page took %d requests, want 1", n)
	}
}

// What a client learned of the page cap is kept for the next run
// (Options.PageCapFile): a new client on the same data spares the probe
// after a short page, and so does every agent start of a fleet.
func TestPageCapIsKeptBetweenRuns(t *testing.T) {
	e := newEnv(t, 100)
	for i := range 130 {
		e.sim.AddContact(vpsim.Contact{LastName: fmt.Sprintf("Kept%03d", i), Owner: "E001"})
	}
	e.sim.AddContact(vpsim.Contact{LastName: "Other", Owner: "E777"})
	file := filepath.Join(t.TempDir(), "vantagepoint-pages")
	newClient := func() *Client {
		c, err := New(Options{APIURL: e.sim.APIURL(), PageSize: 100, PageCapFile: file,
			TokenSource: oauth2.StaticTokenSource(&oauth2.Token{AccessToken: e.sim.IssueAccessToken("jdoe"), TokenType: "bearer"})})
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	list := func(c *Client, owner string) int64 {
		before := c.Requests()
		if err := c.Contacts(ctx, syncer.ContactQuery{Owner: owner}, func([]syncer.Contact) error { return nil }); err != nil {
			t.Fatal(err)
		}
		return c.Requests() - before
	}
	first := newClient()
	if n := list(first, "E777"); n != 2 {
		t.Fatalf("a short listing of a client that knows nothing: %d requests, want 2 (one probe)", n)
	}
	list(first, "E001") // a full page: the server honours 100
	if info, err := os.Stat(file); err != nil || info.Mode().Perm() != 0o600 {
		t.Fatalf("the page cap file: %v, %v; want it, readable by the user only", info, err)
	}
	if n := list(newClient(), "E777"); n != 1 {
		t.Errorf("a short listing of the next run: %d requests, want 1 (the cap is known)", n)
	}
	// A damaged file is no cap: the probe comes back, nothing breaks.
	if err := os.WriteFile(file, []byte("lots\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if n := list(newClient(), "E777"); n != 2 {
		t.Errorf("a short listing with a damaged file: %d requests, want 2", n)
	}
}

// TestDeltekExampleShapes reads the answers as Deltek's examples show them
// (testdata/fixtures/deltek-examples.json).
func TestDeltekExampleShapes(t *testing.T) {
	b, err := os.ReadFile("testdata/fixtures/deltek-examples.json")
	if err != nil {
		t.Fatal(err)
	}
	var ex map[string]json.RawMessage
	if err := json.Unmarshal(b, &ex); err != nil {
		t.Fatal(err)
	}
	c, err := New(Options{APIURL: newStatic(t, 200, ex["loginConfig"])})
	if err != nil {
		t.Fatal(err)
	}
	lc, err := c.LoginConfig(ctx)
	if err != nil || len(lc.Databases) != 2 || lc.Databases[0] != (LoginDatabase{Name: "DVP30Dev", Server: "."}) {
		t.Fatalf("LoginConfig: %+v %v", lc, err)
	}
	if !lc.HasDatabase("webapitest") || !lc.HasDatabase("WebApiTest (localhost)") || lc.HasDatabase("WebApi") {
		t.Errorf("database matching with the server suffix: %+v", lc)
	}
	c, _ = New(Options{APIURL: newStatic(t, 200, ex["loginConfigInclude"])})
	if lc, err := c.LoginConfig(ctx); err != nil || lc.Version != "3.0.7" {
		t.Fatalf("LoginConfig with include: %+v %v", lc, err)
	}
	c, _ = New(Options{APIURL: newStatic(t, 200, ex["udicMetadata"]), TokenSource: staticToken("t")})
	md, err := c.UDICMetadata(ctx, "udic_TestHub")
	if err != nil || md.Area != "UDIC_testhub" || md.Key != "UDIC_UID" || len(md.Fields) != 2 {
		t.Fatalf("metadata: %+v %v", md, err)
	}
	if f, ok := md.Field("CustName"); !ok || f.Label != "Name" || f.Type != "String" || f.Required {
		t.Errorf("CustName: %+v", f)
	}
	if _, err := c.UDICMetadata(ctx, "UDIC_Other"); !errors.Is(err, syncer.ErrMalformed) {
		t.Errorf("metadata of another hub: %v", err)
	}
}

// Notes are rich text on the server: what the client wrote comes back as
// HTML, reads back as the same text, and the Message-ID line that crash
// recovery looks for is still found.
func TestRichTextNotesReadBackAndFound(t *testing.T) {
	e := newEnv(t, 0)
	notes := "Hi Dana,\n\nthe budget <v2> & the  schedule.\n\nMessage-ID: <a1&b2@mail.example>"
	a, err := e.c.CreateActivity(ctx, syncer.Activity{Type: "EMail", Subject: "Budget", StartDate: time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC), Notes: notes, Employee: "E001"})
	if err != nil {
		t.Fatal(err)
	}
	stored, _ := e.sim.Activity(a.ID)
	if !strings.Contains(stored.Notes, "&lt;") || !strings.Contains(stored.Notes, "<br />") {
		t.Fatalf("the simulator kept plain text: %q", stored.Notes)
	}
	if a.Notes != notes {
		t.Errorf("Notes read back as %q, want %q", a.Notes, notes)
	}
	found, err := e.c.FindActivities(ctx, syncer.ActivityQuery{Type: "EMail", Employee: "E001", NotesContain: "Message-ID: <a1&b2@mail.example>"})
	if err != nil || len(found) != 1 || found[0].ID != a.ID {
		t.Fatalf("recovery lookup: %+v %v", found, err)
	}
	if NotesText("Message-ID: <raw@x>") != "Message-ID: <raw@x>" {
		t.Error("plain text with a literal <...> was taken for markup")
	}
}

// An e-mail's key survives a user's edit of the Notes where the server has
// the template's activity field; without it, the Notes line is the key,
// and an activity filed before IT added the field is still found.
func TestMessageIDKeyField(t *testing.T) {
	e := newEnv(t, 0)
	when := time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC)
	file := func(id string) syncer.Activity {
		t.Helper()
		a, err := e.c.CreateActivity(ctx, syncer.Activity{Type: "EMail", Subject: "Budget " + id, StartDate: when, Employee: "E001",
			Notes: "Hello.\n\n" + syncer.MessageRef(id), MessageID: id})
		if err != nil {
			t.Fatalf("create without the field: %v", err)
		}
		return a
	}
	find := func(id string) []syncer.Activity {
		t.Helper()
		found, err := e.c.FindActivities(ctx, syncer.ActivityQuery{Type: "EMail", Employee: "E001", MessageID: id})
		if err != nil {
			t.Fatalf("find %s: %v", id, err)
		}
		return found
	}

	// Without the field the create sends none (the simulator refuses
	// unknown fields) and the Notes line finds the activity.
	before := file("<old@mail.example>")
	if before.MessageID != "" {
		t.Errorf("a server without the field returned the key %q", before.MessageID)
	}
	if got := find("<old@mail.example>"); len(got) != 1 || got[0].ID != before.ID {
		t.Fatalf("found by the Notes line: %+v", got)
	}

	// IT adds the field: a new client learns it from the metadata.
	e.sim.AddActivityField(MessageIDField, "Message-ID")
	c2, err := New(Options{APIURL: e.sim.APIURL(), TokenSource: e.c.opts.TokenSource})
	if err != nil {
		t.Fatal(err)
	}
	e.c = c2
	if has, err := e.c.HasMessageIDField(ctx); err != nil || !has {
		t.Fatalf("HasMessageIDField = %v, %v", has, err)
	}
	a := file("<new@mail.example>")
	if a.MessageID != "<new@mail.example>" {
		t.Fatalf("the key field came back as %q", a.MessageID)
	}
	// The user rewrites the Notes: the key field still finds it.
	e.sim.UpdateActivity(a.ID, func(x *vpsim.Activity) { x.Notes = "<p>Summary of the call.</p>" })
	if got := find("<new@mail.example>"); len(got) != 1 || got[0].ID != a.ID {
		t.Fatalf("found by the key field after a Notes edit: %+v", got)
	}
	// The activity filed before the field existed is found by its Notes.
	if got := find("<old@mail.example>"); len(got) != 1 || got[0].ID != before.ID {
		t.Fatalf("an activity filed before the field: %+v", got)
	}
	if got := find("<none@mail.example>"); len(got) != 0 {
		t.Errorf("an e-mail never filed: %+v", got)
	}
	// IT removes the field: the create the server refuses makes the client ask
	// the metadata again, and the next e-mail is filed without it.
	e.sim.RemoveActivityField(MessageIDField)
	if _, err := e.c.CreateActivity(ctx, syncer.Activity{Type: "EMail", Subject: "Refused", StartDate: when, Employee: "E001", MessageID: "<r@mail.example>"}); !errors.Is(err, syncer.ErrInvalid) {
		t.Fatalf("a create with a field the server lacks: %v", err)
	}
	if a := file("<after@mail.example>"); a.MessageID != "" {
		t.Errorf("filed with the removed field: %+v", a)
	}
}

// An all-day activity is written with its last day inclusive (an
// exclusive midnight would show one day more in Vantagepoint) and read
// back as the engine holds it, midnight to midnight; one made in
// Vantagepoint at 8:00 to 17:00 reads as its day.
func TestAllDayActivities(t *testing.T) {
	e := newEnv(t, 0)
	d := time.Date(2026, 3, 2, 0, 0, 0, 0, time.UTC)
	a, err := e.c.CreateActivity(ctx, syncer.Activity{Type: "Meeting", Subject: "Offsite", StartDate: d, EndDate: d.AddDate(0, 0, 2), AllDay: true, Employee: "E001"})
	if err != nil {
		t.Fatal(err)
	}
	stored, _ := e.sim.Activity(a.ID)
	if stored.StartDate != "2026-03-02T00:00:00.000" || stored.EndDate != "2026-03-03T23:59:59.000" || stored.AllDayEventInd != "Y" {
		t.Errorf("stored %s – %s (%s), want the 2nd and the 3rd", stored.StartDate, stored.EndDate, stored.AllDayEventInd)
	}
	if !a.StartDate.Equal(d) || !a.EndDate.Equal(d.AddDate(0, 0, 2)) {
		t.Errorf("read back %s – %s", a.StartDate, a.EndDate)
	}
	for _, c := range []struct{ start, end, want string }{
		{"2026-03-02T08:00:00.000", "2026-03-02T17:00:00.000", "2026-03-03"},
		{"2026-03-02T08:00:00.000", "2026-03-04T17:00:00.000", "2026-03-05"},
		{"2026-03-02T00:00:00.000", "2026-03-03T00:00:00.000", "2026-03-03"}, // an exclusive end
		{"2026-03-02T00:00:00.000", "2026-03-02T00:00:00.000", "2026-03-03"},
	} {
		x := e.sim.AddActivity(vpsim.Activity{Type: "Meeting", Subject: "Day", StartDate: c.start, EndDate: c.end, AllDayEventInd: "Y", Employee: "E001"})
		got, err := e.c.Activity(ctx, x.ActivityID)
		if err != nil || !got.StartDate.Equal(d) || got.EndDate.Format("2006-01-02") != c.want || !got.EndDate.Equal(got.EndDate.Truncate(24*time.Hour)) {
			t.Errorf("%s – %s read as %s – %s (%v), want the 2nd to %s", c.start, c.end, got.StartDate, got.EndDate, err, c.want)
		}
	}
}

type tokenFunc func() (*oauth2.Token, error)

func (f tokenFunc) Token() (*oauth2.Token, error) { return f() }

// A server that keeps ModDate in local time moves it an hour forward in
// spring. Measured before, the zone is an hour short until the next write,
// and a ModDate poll starts an hour late. The first listing that shows a
// record "from the future" sets the zone back to unknown, and the next
// poll returns the change it had skipped.
func TestModDatePollAcrossADaylightSavingChange(t *testing.T) {
	ny, err := time.LoadLocation("America/New_York")
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	now := time.Date(2026, 3, 8, 6, 40, 0, 0, time.UTC) // 01:40 EST; at 07:00 UTC clocks go to 03:00 EDT
	at := func(t time.Time) {
		mu.Lock()
		defer mu.Unlock()
		now = t
	}
	sim := vpsim.New(vpsim.Options{Zone: ny, Now: func() time.Time { mu.Lock(); defer mu.Unlock(); return now }})
	if _, err := sim.Start(""); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(sim.Close)
	sim.AddUser("jdoe", "pw", "E001")
	c, err := New(Options{APIURL: sim.APIURL(), RetryBase: time.Millisecond, HTTPClient: &http.Client{Transport: &http.Transport{}},
		TokenSource: tokenFunc(func() (*oauth2.Token, error) {
			return &oauth2.Token{AccessToken: sim.IssueAccessToken("jdoe"), TokenType: "bearer"}, nil
		})})
	if err != nil {
		t.Fatal(err)
	}
	a, err := c.CreateContact(ctx, syncer.Contact{LastName: "Before", Owner: "E001"})
	if err != nil {
		t.Fatal(err)
	}
	if off, known := c.ServerZone(); !known || off != -5*time.Hour {
		t.Fatalf("zone before the change: %v %v", off, known)
	}
	poll := func(since time.Time) map[string]time.Time {
		t.Helper()
		got := map[string]time.Time{}
		if err := c.Contacts(ctx, syncer.ContactQuery{ModifiedSince: since}, func(cs []syncer.Contact) error {
			for _, x := range cs {
				got[x.LastName] = x.ModDate
			}
			return nil
		}); err != nil {
			t.Fatal(err)
		}
		return got
	}
	at(time.Date(2026, 3, 8, 7, 10, 0, 0, time.UTC)) // 03:10 EDT
	sim.UpdateContact(a.ID, func(x *vpsim.Contact) { x.Title = "edited" })
	// The mark as the engine keeps it: the ModDate as written (a listing
	// made now would already see the record as from the future).
	stored, _ := sim.Contact(a.ID)
	mark, err := ParseDate(stored.ModDate)
	if err != nil {
		t.Fatal(err)
	}
	at(time.Date(2026, 3, 8, 7, 20, 0, 0, time.UTC))
	sim.AddContact(vpsim.Contact{LastName: "Skipped", Owner: "E001"})
	at(time.Date(2026, 3, 8, 7, 25, 0, 0, time.UTC))
	if got := poll(mark); len(got) != 0 {
		t.Fatalf("the poll with the stale zone: %v (the simulator no longer shows the late start)", got)
	}
	// A change more than an hour after the mark is listed, and seems to
	// have been made an hour after the answer.
	at(time.Date(2026, 3, 8, 8, 20, 0, 0, time.UTC))
	sim.AddContact(vpsim.Contact{LastName: "Later", Owner: "E001"})
	at(time.Date(2026, 3, 8, 8, 21, 0, 0, time.UTC))
	got := poll(mark)
	if _, ok := got["Later"]; !ok || len(got) != 1 {
		t.Fatalf("the poll after a later change: %v", got)
	}
	if _, known := c.ServerZone(); known {
		t.Fatal("a record from the future left the stale zone in use")
	}
	if got := poll(got["Later"]); got["Skipped"].IsZero() {
		t.Errorf("the skipped change never came: %v", got)
	}
	if _, err := c.UpdateContact(ctx, syncer.Contact{ID: a.ID, LastName: "Before", Owner: "E001"}); err != nil {
		t.Fatal(err)
	}
	if off, known := c.ServerZone(); !known || off != -4*time.Hour {
		t.Errorf("zone after the next write: %v %v, want -4h", off, known)
	}
}
