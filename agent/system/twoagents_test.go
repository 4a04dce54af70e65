package system

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"vpconnect/agent"
	"vpconnect/agent/admin"
	"vpconnect/agent/agenttest"
	"vpconnect/agent/config"
	"vpconnect/auth"
	"vpconnect/syncer"
	"vpconnect/syncer/graph"
	"vpconnect/syncer/graph/graphsim"
	"vpconnect/syncer/vantagepoint/vpsim"
)

// One agent per mailbox (docs/behaviour.md §5.5): two real agents, built as 'vpconnect
// run' builds them, with their own data dirs and keychains, on one
// simulated mailbox and one Vantagepoint, on one fake clock.

const (
	twoClientID  = "8d1f6c2a-3b4e-4f5a-9c6d-7e8f9a0b1c2d"
	twoVPClient  = "vpconnect-two"
	twoVPSecret  = "vpconnect-two-secret"
	twoUser      = "sam.two@contoso.example"
	twoEmployee  = "00088"
	twoVPUser    = "STWO"
	twoDatabase  = "TWOAGENTS"
	twoCategory  = "Vantagepoint"
	twoInterval  = 2 * time.Minute
	twoSettle    = 200 * time.Millisecond
	laptop       = "LAPTOP-7"
	desktop      = "DESKTOP-2"
	twoMaxChecks = 40
)

type twoWorld struct {
	g     *graphsim.Server
	v     *vpsim.Server
	clock *agenttest.FakeClock
	start time.Time
}

func newTwoWorld(t *testing.T) *twoWorld {
	t.Helper()
	w := &twoWorld{
		g: graphsim.New(graphsim.Options{ClientID: twoClientID,
			User: graphsim.User{DisplayName: "Sam Two", Mail: twoUser, UserPrincipalName: twoUser, GivenName: "Sam", Surname: "Two"}}),
		v: vpsim.New(vpsim.Options{Database: twoDatabase, ClientID: twoVPClient, ClientSecret: twoVPSecret}),
	}
	if _, err := w.g.Start("127.0.0.1:0"); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(w.g.Close)
	if _, err := w.v.Start("127.0.0.1:0"); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(w.v.Close)
	w.v.AddEmployee(vpsim.Employee{Employee: twoEmployee, FirstName: "Sam", LastName: "Two", EMail: twoUser, Status: "A"})
	w.v.AddUser(twoVPUser, "pw", twoEmployee)
	w.v.AddConnectHubs()
	w.v.AddFirm(vpsim.Firm{ClientID: "F1", Name: "Fabrikam Developments", Status: "A"})
	w.start = time.Now().UTC().Truncate(time.Second)
	w.clock = agenttest.NewFakeClock(w.start)
	// The contact folder activation made (the agent adopts it).
	w.g.AddContactFolder("Vantagepoint")
	// Every item type, on both sides.
	w.v.AddContact(vpsim.Contact{ClientID: "F1", FirstName: "Vera", LastName: "Client", Email: "vera@client.example",
		Title: "Engineer", ContactStatus: "A", Owner: twoEmployee})
	w.email("<first@client.example>", "Tagged before the agents")
	day := w.start.Truncate(24 * time.Hour)
	w.vpMeeting("Vantagepoint meeting", day.AddDate(0, 0, 2).Add(14*time.Hour))
	w.outlookMeeting("Outlook meeting", day.AddDate(0, 0, 3).Add(10*time.Hour))
	return w
}

func (w *twoWorld) email(id, subject string) {
	sent := w.clock.Now().Add(-time.Hour).UTC().Truncate(time.Second)
	w.g.AddMessage("inbox", graphsim.Message{InternetMessageID: id, Subject: subject, BodyType: "text", Body: "Hello Sam",
		From: graphsim.Recipient{Name: "Vera Client", Address: "vera@client.example"},
		To:   []graphsim.Recipient{{Name: "Sam Two", Address: twoUser}}, SentDateTime: sent, ReceivedDateTime: sent,
		IsRead: true, Categories: []string{twoCategory}})
}

func (w *twoWorld) vpMeeting(subject string, start time.Time) {
	w.v.AddActivity(vpsim.Activity{Type: "Meeting", Subject: subject, StartDate: vpsim.FormatDate(start),
		EndDate: vpsim.FormatDate(start.Add(time.Hour)), Notes: "Agenda", PrivateInd: "N", AllDayEventInd: "N",
		Owner: twoEmployee, Employee: twoEmployee})
}

func (w *twoWorld) outlookMeeting(subject string, start time.Time) {
	w.g.AddEvent(graphsim.Event{Subject: subject, BodyType: "text", Body: "Agenda", Start: start, End: start.Add(time.Hour),
		Location: "Teams", Categories: []string{twoCategory}, Type: "singleInstance",
		Attendees: []graphsim.Attendee{{Type: "required", Name: "Vera Client", Address: "vera@client.example", Response: "accepted"}}})
}

// writes counts what an agent sends that is not a read (writes to either
// service, other than the sign-ins' token requests), and its requests to
// Graph.
type writes struct {
	next  http.RoundTripper
	name  string
	n     atomic.Int64
	graph atomic.Int64
}

func (c *writes) RoundTrip(r *http.Request) (*http.Response, error) {
	if strings.HasPrefix(r.URL.Path, "/v1.0/") {
		c.graph.Add(1)
	}
	if r.Method != http.MethodGet && !strings.HasSuffix(r.URL.Path, "/token") {
		c.n.Add(1)
	}
	return c.next.RoundTrip(r)
}

type twoAgent struct {
	name   string
	sys    *System
	cancel context.CancelFunc
	done   chan error
	writes *writes
}

// agentOn builds and runs an agent of the employee on a computer.
func (w *twoWorld) agentOn(t *testing.T, computer string) *twoAgent {
	t.Helper()
	dir := t.TempDir()
	cfg := config.Default()
	cfg.Microsoft.ClientID = twoClientID
	cfg.Microsoft.AuthorityURL = w.g.AuthorityURL()
	cfg.Microsoft.GraphURL = w.g.GraphURL()
	cfg.Vantagepoint.APIURL = w.v.APIURL()
	cfg.Vantagepoint.Database = twoDatabase
	cfg.Vantagepoint.ClientID = twoVPClient
	cfg.Vantagepoint.ClientSecret = twoVPSecret
	cfg.Vantagepoint.FleetSize = 1
	cfg.DataDir = dir
	cfg.KeychainService = "vpconnect-two"
	ctx := context.Background()
	kc := auth.NewMemoryKeychain()
	st := auth.NewStore(kc, dir)
	if err := st.Save(ctx, auth.Record{Account: auth.Microsoft, RefreshToken: w.g.IssueRefreshToken(), User: twoUser}); err != nil {
		t.Fatal(err)
	}
	if err := st.Save(ctx, auth.Record{Account: auth.Vantagepoint, RefreshToken: w.v.IssueRefreshToken(twoVPUser), URL: w.v.APIURL(),
		Database: twoDatabase, Username: twoVPUser, Employee: twoEmployee}); err != nil {
		t.Fatal(err)
	}
	a := &twoAgent{name: computer, done: make(chan error, 1), writes: &writes{next: http.DefaultTransport, name: computer}}
	sys, err := Build(ctx, Env{Keychain: func(string) auth.Keychain { return kc }, Transport: a.writes,
		Clock: w.clock, Rand: func() float64 { return 0.5 }, Idle: func() bool { return false },
		NetworkChanged: func(ctx context.Context) <-chan struct{} { c := make(chan struct{}); close(c); return c },
		Hostname:       computer, LeaseSettle: twoSettle}, cfg, dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	a.sys = sys
	rctx, cancel := context.WithCancel(ctx)
	a.cancel = cancel
	go func() { a.done <- sys.Agent.Run(rctx) }()
	t.Cleanup(func() { a.stop(t) })
	// Running once it plans its first poll (on the clock as it reads now).
	for deadline := time.Now().Add(30 * time.Second); sys.Agent.Status().NextBatchAt == nil; time.Sleep(time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("%s did not start", computer)
		}
	}
	return a
}

func (a *twoAgent) stop(t *testing.T) {
	t.Helper()
	if a.cancel == nil {
		return
	}
	a.cancel()
	if err := <-a.done; err != nil {
		t.Errorf("%s: %v", a.name, err)
	}
	a.sys.Close()
	a.cancel = nil
}

// settled waits until an agent has nothing running and plans its next
// batch or lease check after now.
func (w *twoWorld) settled(t *testing.T, a *twoAgent) agent.Status {
	t.Helper()
	now := w.clock.Now()
	deadline := time.Now().Add(60 * time.Second)
	for {
		s := a.sys.Agent.Status()
		if !s.Running && s.NextBatchAt != nil && s.NextBatchAt.After(now) {
			return s
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s did not settle: %+v", a.name, s)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// lease is the lease on the agent's folder as the mailbox holds it.
func (w *twoWorld) lease(t *testing.T) syncer.MailboxLease {
	t.Helper()
	for _, f := range w.g.ContactFolders() {
		if f.DisplayName != "Vantagepoint" {
			continue
		}
		var l syncer.MailboxLease
		for id, v := range f.ExtendedProperties {
			if strings.EqualFold(id, graph.MailboxLeaseProperty) {
				if err := json.Unmarshal([]byte(v), &l); err != nil {
					t.Fatalf("lease %q: %v", v, err)
				}
			}
		}
		return l
	}
	t.Fatal("no Vantagepoint contact folder")
	return syncer.MailboxLease{}
}

// noDuplicates checks that each thing exists once on each side.
func (w *twoWorld) noDuplicates(t *testing.T, emails, vpContacts []string, meetings []string) {
	t.Helper()
	count := func(list []string, s string) int {
		n := 0
		for _, x := range list {
			if x == s {
				n++
			}
		}
		return n
	}
	var activities, events, outlookContacts, vpNames []string
	for _, a := range w.v.Activities() {
		activities = append(activities, a.Subject)
	}
	for _, e := range w.g.Events() {
		events = append(events, e.Subject)
	}
	for _, f := range w.g.ContactFolders() {
		for _, c := range w.g.Contacts(f.ID) {
			outlookContacts = append(outlookContacts, c.GivenName+" "+c.Surname)
		}
	}
	for _, c := range w.v.Contacts() {
		vpNames = append(vpNames, c.FirstName+" "+c.LastName)
	}
	for _, s := range emails {
		if n := count(activities, s); n != 1 {
			t.Errorf("e-mail %q is %d activities in Vantagepoint; want 1", s, n)
		}
	}
	for _, s := range meetings {
		if n := count(activities, s); n != 1 {
			t.Errorf("meeting %q is %d activities in Vantagepoint; want 1", s, n)
		}
		if n := count(events, s); n != 1 {
			t.Errorf("meeting %q is %d events in Outlook; want 1", s, n)
		}
	}
	for _, s := range vpContacts {
		if n := count(outlookContacts, s); n != 1 {
			t.Errorf("contact %q is %d contacts in Outlook; want 1", s, n)
		}
		if n := count(vpNames, s); n != 1 {
			t.Errorf("contact %q is %d contacts in Vantagepoint; want 1", s, n)
		}
	}
}

// TestTwoAgentsOneMailbox: a laptop and a desktop of one employee start
// together on one mailbox. Exactly one syncs, the other stays on standby
// (no batches, no writes, one read per interval) and shows which computer
// syncs; nothing is duplicated; the holder keeps the lease while it runs
// (no ping-pong); when it stops, the other takes over once, within one
// lease period of the last renewal, and syncs what changed meanwhile
// without duplicating what the first one synced.
func TestTwoAgentsOneMailbox(t *testing.T) {
	w := newTwoWorld(t)
	agents := map[string]*twoAgent{laptop: w.agentOn(t, laptop), desktop: w.agentOn(t, desktop)}

	// The first poll of both (30 s after the start: Rand is 0.5): both
	// find the lease free and claim it; one claim wins.
	w.clock.Advance(30 * time.Second)
	holders := 0
	var holder, standby *twoAgent
	for _, a := range agents {
		s := w.settled(t, a)
		switch s.State {
		case agent.StateActive:
			holders++
			holder = a
		case agent.StateStandby:
			standby = a
		default:
			t.Fatalf("%s: state %q after the first poll (%s)", a.name, s.State, s.Reason)
		}
	}
	if holders != 1 || standby == nil {
		t.Fatalf("%d agents sync after the first poll; want exactly 1", holders)
	}
	if l := w.lease(t); l.Computer != holder.name {
		t.Fatalf("the mailbox's lease names %q; %s syncs", l.Computer, holder.name)
	}
	s := standby.sys.Agent.Status()
	if s.SyncingOn != holder.name || !strings.Contains(s.Reason, "Syncing on "+holder.name) || s.LastBatch != nil {
		t.Errorf("standby status: syncingOn %q, reason %q, last batch %v", s.SyncingOn, s.Reason, s.LastBatch)
	}
	standbyWrites := standby.writes.n.Load() // its claim, which lost

	// Changes on both sides over several intervals: only the holder
	// syncs them, the lease never moves, and the standby writes nothing.
	emails := []string{"Tagged before the agents"}
	vpContacts := []string{"Vera Client"}
	meetings := []string{"Vantagepoint meeting", "Outlook meeting"}
	day := w.start.Truncate(24 * time.Hour)
	for i := range 5 {
		subject := fmt.Sprintf("Tagged while both run %d", i)
		w.email(fmt.Sprintf("<both-%d@client.example>", i), subject)
		emails = append(emails, subject)
		name := fmt.Sprintf("Client%d", i)
		w.v.AddContact(vpsim.Contact{ClientID: "F1", FirstName: "Victor", LastName: name, Email: fmt.Sprintf("victor%d@client.example", i),
			ContactStatus: "A", Owner: twoEmployee})
		vpContacts = append(vpContacts, "Victor "+name)
		m := fmt.Sprintf("Planned in Vantagepoint %d", i)
		w.vpMeeting(m, day.AddDate(0, 0, 4+i).Add(9*time.Hour))
		meetings = append(meetings, m)
		before := standby.writes.graph.Load()
		w.clock.Advance(twoInterval)
		for _, a := range agents {
			w.settled(t, a)
		}
		if st := standby.sys.Agent.Status(); st.State != agent.StateStandby {
			t.Fatalf("interval %d: %s is %q; want Standby (ping-pong)", i, standby.name, st.State)
		}
		if st := holder.sys.Agent.Status(); st.State != agent.StateActive {
			t.Fatalf("interval %d: %s is %q (%s)", i, holder.name, st.State, st.Reason)
		}
		if l := w.lease(t); l.Computer != holder.name {
			t.Fatalf("interval %d: the lease moved to %s", i, l.Computer)
		}
		if n := standby.writes.graph.Load() - before; n != 1 {
			t.Errorf("interval %d: the standby agent sent %d requests to Graph; want 1 (the lease check)", i, n)
		}
	}
	if n := standby.writes.n.Load() - standbyWrites; n != 0 {
		t.Errorf("the standby agent wrote %d times", n)
	}
	w.noDuplicates(t, emails, vpContacts, meetings)
	if recs := w.v.UDICRecords("UDIC_ConnectAgent"); len(recs) != 1 || fmt.Sprint(recs[0][admin.FieldMachine]) != holder.name {
		var got []any
		for _, r := range recs {
			got = append(got, r[admin.FieldMachine])
		}
		t.Errorf("agents hub: %d records, machines %v; want the holder's only", len(recs), got)
	}

	// The holder stops (the laptop closed); changes keep coming.
	last := w.lease(t)
	holder.stop(t)
	w.email("<after@client.example>", "Tagged after the first one stopped")
	emails = append(emails, "Tagged after the first one stopped")
	w.outlookMeeting("Planned in Outlook later", day.AddDate(0, 0, 12).Add(11*time.Hour))
	meetings = append(meetings, "Planned in Outlook later")
	var tookOver time.Time
	for range twoMaxChecks {
		w.clock.Advance(twoInterval)
		st := w.settled(t, standby)
		if st.State == agent.StateStandby {
			continue
		}
		if st.State != agent.StateActive || st.LastBatch == nil {
			t.Fatalf("%s after the holder stopped: %q (%s)", standby.name, st.State, st.Reason)
		}
		tookOver = w.clock.Now()
		break
	}
	if tookOver.IsZero() {
		t.Fatal("the standby agent never took over")
	}
	period := last.Expires.Sub(last.Renewed)
	if tookOver.Before(last.Expires) || tookOver.Sub(last.Renewed) > period+twoInterval*6/5 {
		t.Errorf("took over at %v after the last renewal; the lease ran %v (until %v)", tookOver.Sub(last.Renewed), period, last.Expires.Sub(last.Renewed))
	}
	t.Logf("lease period %v; handed over %v after the holder's last renewal", period, tookOver.Sub(last.Renewed))
	if l := w.lease(t); l.Computer != standby.name {
		t.Errorf("the lease names %s after the takeover", l.Computer)
	}
	// It stays the holder (one takeover), and syncs everything once.
	for range 3 {
		w.clock.Advance(twoInterval)
		if st := w.settled(t, standby); st.State != agent.StateActive {
			t.Fatalf("after the takeover: %q (%s)", st.State, st.Reason)
		}
	}
	w.noDuplicates(t, emails, vpContacts, meetings)
}
