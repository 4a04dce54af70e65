package bench

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/oauth2"

	"vpconnect/syncer"
	"vpconnect/syncer/graph"
	"vpconnect/syncer/graph/graphsim"
	"vpconnect/syncer/store"
	"vpconnect/syncer/vantagepoint"
	"vpconnect/syncer/vantagepoint/vpsim"
)

// contactListings counts the requests that list company contacts (the
// contact index: no Owner filter), full or from a ModDate.
type contactListings struct {
	h http.Handler

	mu                sync.Mutex
	full, incremental int
}

func (c *contactListings) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method == http.MethodGet && strings.HasSuffix(strings.ToLower(r.URL.Path), "/contact") {
		var owner, mod bool
		for k, v := range r.URL.Query() {
			if strings.HasSuffix(k, "[name]") {
				owner = owner || strings.EqualFold(v[0], "Owner")
				mod = mod || strings.EqualFold(v[0], "ModDate")
			}
		}
		c.mu.Lock()
		switch {
		case owner:
		case mod:
			c.incremental++
		default:
			c.full++
		}
		c.mu.Unlock()
	}
	c.h.ServeHTTP(w, r)
}

func (c *contactListings) take() (full, incremental int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	full, incremental = c.full, c.incremental
	c.full, c.incremental = 0, 0
	return
}

// docs/behaviour.md §7: linking e-mails to contacts takes one listing per batch, and a
// company's agents are gentle on the Vantagepoint they share. With 20,000
// company contacts (40 pages of 500), a batch that files one e-mail costs
// the index ONE request once the index is in the state file, also after a
// restart; only the first batch (no index yet) lists every page.
func TestTheContactIndexCostsOneListingPerBatch(t *testing.T) {
	const company = 20000
	ctx := context.Background()
	now := time.Now().UTC()

	v := vpsim.New(vpsim.Options{Database: "INDEX"})
	counted := &contactListings{h: v}
	vs := httptest.NewServer(counted)
	defer vs.Close()
	v.AddEmployee(vpsim.Employee{Employee: benchEmployee, FirstName: "Pat", LastName: "Bench", EMail: benchUser, Status: "A"})
	v.AddUser("PBENCH", "bench", benchEmployee)
	v.AddFirm(vpsim.Firm{ClientID: "F1", Name: "Firm One"})
	// A company's contacts, made over the past year, owned by colleagues.
	for i := range company {
		v.AddContact(vpsim.Contact{ClientID: "F1", FirstName: "C", LastName: fmt.Sprintf("Contact%05d", i),
			Email: fmt.Sprintf("c%05d@client.example", i), ContactStatus: "A", Owner: "99999",
			ModDate: vpsim.FormatDate(now.Add(-365*24*time.Hour + time.Duration(i)*time.Minute))})
	}
	g := graphsim.New(graphsim.Options{User: graphsim.User{DisplayName: "Pat", Mail: benchUser, UserPrincipalName: benchUser}})
	if _, err := g.Start("127.0.0.1:0"); err != nil {
		t.Fatal(err)
	}
	defer g.Close()

	st, err := store.Open(filepath.Join(t.TempDir(), "sync.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	log := slog.New(slog.DiscardHandler)
	var vp *vantagepoint.Client
	start := func() *syncer.Engine { // a new process: new clients, same state file
		mb, err := graph.New(graph.Options{GraphURL: g.GraphURL(), TokenSource: g.TokenSource(), Logger: log})
		if err != nil {
			t.Fatal(err)
		}
		vp, err = vantagepoint.New(vantagepoint.Options{APIURL: vs.URL + vpsim.APIPath,
			TokenSource: oauth2.StaticTokenSource(&oauth2.Token{AccessToken: v.IssueAccessToken("PBENCH")}), Logger: log})
		if err != nil {
			t.Fatal(err)
		}
		return syncer.New(mb, vp, st, syncer.Options{Employee: benchEmployee, Logger: log})
	}
	eng := start()
	if err := eng.Prepare(ctx); err != nil {
		t.Fatal(err)
	}
	n := 0
	file := func(from string) store.Batch {
		t.Helper()
		n++
		subject := fmt.Sprintf("E-mail %d", n)
		g.AddMessage("inbox", graphsim.Message{Subject: subject, BodyType: "text", Body: "Hello",
			From: graphsim.Recipient{Address: from}, To: []graphsim.Recipient{{Address: benchUser}},
			SentDateTime: time.Now().UTC().Add(-time.Minute), Categories: []string{"Vantagepoint"}})
		b, err := eng.Run(ctx, syncer.TriggerManual)
		if err != nil || b.Counts[syncer.TypeEmails].Created != 1 {
			t.Fatalf("batch filing %q: %v, %+v", subject, err, b)
		}
		for _, a := range v.Activities() {
			if a.Subject == subject && a.ContactID == "" {
				t.Fatalf("%q (from %s) is not linked to a contact", subject, from)
			}
		}
		return b
	}
	report := func(what string, b store.Batch) (full, incremental int) {
		full, incremental = counted.take()
		t.Logf("%-48s Vantagepoint requests %3d (contact index: %2d full, %d incremental)", what, b.Requests["vantagepoint"], full, incremental)
		return
	}

	b := file("c00007@client.example")
	full, _ := report("first batch, no index: files one e-mail", b)
	if pages := company / vantagepoint.DefaultPageSize; full < pages {
		t.Fatalf("the first index took %d requests, want every page (%d)", full, pages)
	}

	created := v.AddContact(vpsim.Contact{ClientID: "F1", FirstName: "New", LastName: "Contact", Email: "new@client.example", ContactStatus: "A", Owner: "99999"})
	b = file("new@client.example")
	full, incr := report("next batch: files one e-mail from a new contact", b)
	if full != 0 || incr != 1 {
		t.Errorf("a batch with an index listed it with %d full and %d incremental requests, want 0 and 1", full, incr)
	}
	for _, a := range v.Activities() {
		if a.Subject == fmt.Sprintf("E-mail %d", n) && a.ContactID != created.ContactID {
			t.Errorf("linked to %s, want the new contact %s", a.ContactID, created.ContactID)
		}
	}

	b, err = eng.Run(ctx, syncer.TriggerSchedule)
	if err != nil {
		t.Fatal(err)
	}
	full, incr = report("no-change batch", b)
	if full+incr != 0 || b.Requests["vantagepoint"] > 2 {
		t.Errorf("a no-change batch sent %d requests, %d of them for the index", b.Requests["vantagepoint"], full+incr)
	}

	eng = start() // a restart: the index is in the state file
	b = file("c12345@client.example")
	full, incr = report("after a restart: files one e-mail", b)
	if full != 0 || incr > 2 {
		t.Errorf("after a restart the index took %d full and %d incremental requests", full, incr)
	}
	b = file("c00042@client.example")
	full, incr = report("after a restart, next batch: files one e-mail", b)
	if full != 0 || incr > 2 {
		t.Errorf("the index took %d full and %d incremental requests", full, incr)
	}
}
