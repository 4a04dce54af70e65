package bench

import (
	"context"
	"fmt"
	"log/slog"
	"path/filepath"
	"strings"
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

// SPEC §8: faults from the simulators at random during a large sync —
// 5xx, 429 with Retry-After, connection resets, slow and malformed answers,
// 410 — and still: it converges, nothing is lost, nothing is duplicated.
func TestFaultsDuringALargeSyncConverge(t *testing.T) {
	const messages = 2000
	ctx := context.Background()
	now := time.Now().UTC()

	g := graphsim.New(graphsim.Options{User: graphsim.User{DisplayName: "Pat", Mail: benchUser, UserPrincipalName: benchUser}})
	if _, err := g.Start("127.0.0.1:0"); err != nil {
		t.Fatal(err)
	}
	defer g.Close()
	v := vpsim.New(vpsim.Options{Database: "FAULTS"})
	if _, err := v.Start("127.0.0.1:0"); err != nil {
		t.Fatal(err)
	}
	defer v.Close()
	v.AddEmployee(vpsim.Employee{Employee: benchEmployee, FirstName: "Pat", LastName: "Bench", EMail: benchUser, Status: "A"})
	v.AddUser("PBENCH", "bench", benchEmployee)
	v.AddFirm(vpsim.Firm{ClientID: "F1", Name: "Firm One"})
	for i := range 50 {
		v.AddContact(vpsim.Contact{ClientID: "F1", FirstName: "C", LastName: fmt.Sprintf("Contact%02d", i),
			Email: fmt.Sprintf("c%02d@client.example", i), ContactStatus: "A", Owner: "99999"})
	}
	tagged := map[string]bool{}
	for i := range messages {
		m := g.AddMessage("inbox", graphsim.Message{
			Subject: fmt.Sprintf("Message %04d", i), BodyType: "text", Body: "Hello",
			From:         graphsim.Recipient{Address: fmt.Sprintf("c%02d@client.example", i%50)},
			To:           []graphsim.Recipient{{Address: benchUser}},
			SentDateTime: now.Add(-time.Duration(i) * time.Minute),
			Categories:   []string{"Vantagepoint"},
		})
		tagged[m.InternetMessageID] = true
	}

	st, err := store.Open(filepath.Join(t.TempDir(), "sync.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	log := slog.New(slog.DiscardHandler)
	mb, err := graph.New(graph.Options{GraphURL: g.GraphURL(), TokenSource: g.TokenSource(), Logger: log})
	if err != nil {
		t.Fatal(err)
	}
	vp, err := vantagepoint.New(vantagepoint.Options{APIURL: v.APIURL(), TokenSource: oauth2.StaticTokenSource(&oauth2.Token{AccessToken: v.IssueAccessToken("PBENCH")}), Logger: log,
		RetryBase: time.Millisecond, MaxBackoff: 50 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	eng := syncer.New(mb, vp, st, syncer.Options{Employee: benchEmployee, Logger: log})
	if err := eng.Prepare(ctx); err != nil {
		t.Fatal(err)
	}
	// Faults everywhere, at random.
	for _, f := range []graphsim.Fault{
		{Status: 503, RetryAfter: 10 * time.Millisecond, Probability: 0.01},
		{Status: 429, RetryAfter: 20 * time.Millisecond, Probability: 0.01},
		{ResetConnection: true, Probability: 0.005},
		{Malformed: true, Method: "GET", Probability: 0.005},
		{Latency: 30 * time.Millisecond, Probability: 0.01},
	} {
		g.InjectFault(f)
	}
	for _, f := range []vpsim.Fault{
		{Status: 500, Probability: 0.02},
		{Status: 503, Probability: 0.02},
		{ResetConnection: true, Probability: 0.02}, // on a POST: the create may or may not have happened
		{Malformed: true, Method: "GET", Probability: 0.01},
	} {
		v.InjectFault(f)
	}

	for i := 0; ; i++ {
		if i == 3 {
			g.ExpireDeltaTokens() // a 410 in the middle of it all
		}
		b, _ := eng.Run(ctx, syncer.TriggerSchedule)
		if i >= 6 {
			g.ClearFaults()
			v.ClearFaults()
		}
		if i > 12 && b.Outcome == syncer.OutcomeOK && b.Counts[syncer.TypeEmails].Created == 0 {
			break
		}
		if i > 40 {
			t.Fatalf("no convergence after %d batches; last %+v", i, b)
		}
	}

	// Nothing lost, nothing duplicated.
	perMessage := map[string]int{}
	for _, a := range v.Activities() {
		i := strings.Index(a.Notes, "Message-ID: ")
		if i < 0 {
			t.Fatalf("activity %s without a message reference", a.ActivityID)
		}
		perMessage[strings.TrimSpace(a.Notes[i+len("Message-ID: "):])]++
	}
	for id := range tagged {
		if perMessage[id] != 1 {
			t.Errorf("message %s has %d activities, want 1", id, perMessage[id])
		}
	}
	if len(perMessage) != len(tagged) {
		t.Errorf("%d messages have activities, want %d", len(perMessage), len(tagged))
	}
	unmarked := 0
	for _, m := range g.Messages(g.FolderID("inbox")) {
		if !contains(m.Categories, "Vantagepoint: Synced") || contains(m.Categories, "Vantagepoint: Sync Error") {
			unmarked++
		}
	}
	if unmarked > 0 {
		t.Errorf("%d messages are not marked Synced", unmarked)
	}
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}
