package agentbench

import (
	"fmt"
	"strings"
	"time"

	"vpconnect/syncer/graph/graphsim"
	"vpconnect/syncer/vantagepoint/vpsim"
)

const (
	benchClientID = "5f0c4a8e-2b7d-4c1e-9a63-0d8e4b1f7a20"
	// The Vantagepoint API authorization the simulated server checks.
	benchVPClientID     = "vpconnect-bench"
	benchVPClientSecret = "vpconnect-bench-secret"
	benchUser           = "robin.agent@contoso.example"
	benchEmployee       = "00077"
	benchVPUser         = "RAGENT"
	benchPassword       = "bench-password"
	benchDatabase       = "AGENTBENCH"
	benchCategory       = "Vantagepoint"
)

// world is the two simulators, in the measuring process, seeded with a
// small mailbox (the demo's size: a few dozen messages, contacts and
// meetings) plus the messages and contacts the measurements change.
type world struct {
	g *graphsim.Server
	v *vpsim.Server
	// tracks are the untagged messages filed through POST /v1/track, tags
	// the untagged messages tagged in Outlook, edits the Outlook contacts
	// whose job title is edited (each new to Vantagepoint, so the initial
	// sync creates and pairs it).
	tracks, tags []graphsim.Message
	edits        []graphsim.Contact
}

func newWorld(tracks, changes int) (*world, error) {
	now := time.Now().UTC()
	w := &world{
		g: graphsim.New(graphsim.Options{ClientID: benchClientID,
			User: graphsim.User{DisplayName: "Robin Agent", Mail: benchUser, UserPrincipalName: benchUser, GivenName: "Robin", Surname: "Agent"}}),
		v: vpsim.New(vpsim.Options{Database: benchDatabase, ClientID: benchVPClientID, ClientSecret: benchVPClientSecret}),
	}
	if _, err := w.g.Start("127.0.0.1:0"); err != nil {
		return nil, err
	}
	if _, err := w.v.Start("127.0.0.1:0"); err != nil {
		w.g.Close()
		return nil, err
	}
	v, g := w.v, w.g
	v.AddEmployee(vpsim.Employee{Employee: benchEmployee, FirstName: "Robin", LastName: "Agent", EMail: benchUser, Status: "A"})
	v.AddUser(benchVPUser, benchPassword, benchEmployee)
	v.AddConnectHubs()
	for i, name := range []string{"Fabrikam Developments", "Riverside Water Authority", "Northwind Hospital Group", "Alpine Ski House"} {
		v.AddFirm(vpsim.Firm{ClientID: fmt.Sprintf("F%d", i), Name: name, Status: "A"})
	}
	const vpContacts = 8
	for i := range vpContacts {
		v.AddContact(vpsim.Contact{ClientID: fmt.Sprintf("F%d", i%4), FirstName: "Client", LastName: fmt.Sprintf("Person%02d", i),
			Email: clientAddress(i), Title: "Engineer", Phone: "+1 555 0100", ContactStatus: "A", Owner: benchEmployee})
	}
	day := now.Truncate(24 * time.Hour)
	for i := range 3 {
		start := day.AddDate(0, 0, 1+2*i).Add(14 * time.Hour)
		v.AddActivity(vpsim.Activity{Type: "Meeting", Subject: fmt.Sprintf("Vantagepoint meeting %d", i), StartDate: vpsim.FormatDate(start),
			EndDate: vpsim.FormatDate(start.Add(time.Hour)), Notes: "Agenda", PrivateInd: "N", AllDayEventInd: "N",
			Owner: benchEmployee, Employee: benchEmployee})
		start = day.AddDate(0, 0, 2+2*i).Add(10 * time.Hour)
		g.AddEvent(graphsim.Event{Subject: fmt.Sprintf("Outlook meeting %d", i), BodyType: "text", Body: "Agenda",
			Start: start, End: start.Add(time.Hour), Location: "Teams", Categories: []string{benchCategory}, Type: "singleInstance",
			Attendees: []graphsim.Attendee{{Type: "required", Name: "Client", Address: clientAddress(i), Response: "accepted"}}})
	}
	// The contact folder the agent adopts when it initializes the mailbox,
	// with the user's people, new to Vantagepoint.
	folder := g.AddContactFolder("Vantagepoint")
	for i := range changes {
		w.edits = append(w.edits, g.AddContact(folder.ID, graphsim.Contact{GivenName: "Partner", Surname: fmt.Sprintf("Outlook%02d", i),
			CompanyName: "Fabrikam Developments", JobTitle: "Planner",
			EmailAddresses: []graphsim.Recipient{{Address: fmt.Sprintf("partner%02d@partner.example", i)}}}))
	}
	me := graphsim.Recipient{Name: "Robin Agent", Address: benchUser}
	msg := func(i int, subject string, tagged bool) graphsim.Message {
		sent := now.Add(-time.Duration(i+1) * 97 * time.Minute).Truncate(time.Second)
		m := graphsim.Message{
			InternetMessageID: fmt.Sprintf("<agentbench-%03d@mail.contoso.example>", i),
			Subject:           subject, BodyType: "text",
			Body:         "Hello Robin,\n\nFollowing up on \"" + subject + "\".\n\nBest regards",
			From:         graphsim.Recipient{Name: fmt.Sprintf("Client Person%02d", i%vpContacts), Address: clientAddress(i % vpContacts)},
			To:           []graphsim.Recipient{me},
			SentDateTime: sent, ReceivedDateTime: sent.Add(20 * time.Second), IsRead: true, Categories: []string{},
		}
		if tagged {
			m.Categories = []string{benchCategory}
		}
		return g.AddMessage("inbox", m)
	}
	n := 0
	for i := range 30 {
		msg(n, fmt.Sprintf("Project correspondence %02d", i), i%3 == 0)
		n++
	}
	for i := range tracks {
		w.tracks = append(w.tracks, msg(n, fmt.Sprintf("Tracked by the add-in %02d", i), false))
		n++
	}
	for i := range changes {
		w.tags = append(w.tags, msg(n, fmt.Sprintf("Tagged in Outlook %02d", i), false))
		n++
	}
	return w, nil
}

// size is how many messages, contacts and meetings the world holds.
func (w *world) size() (messages, contacts, meetings int) {
	for _, f := range w.g.MailFolders() {
		messages += len(w.g.Messages(f.ID))
	}
	return messages, len(w.v.Contacts()) + len(w.edits), len(w.g.Events()) + len(w.v.Activities())
}

func clientAddress(i int) string { return fmt.Sprintf("client.person%02d@client.example", i) }

func (w *world) close() {
	w.g.Close()
	w.v.Close()
}

// start is the start line of an agent process: fresh refresh tokens (they
// rotate, and each process keeps its own in memory).
func (w *world) start(dataDir string, port int) Start {
	return Start{
		AuthorityURL: w.g.AuthorityURL(), GraphURL: w.g.GraphURL(), ClientID: benchClientID, User: benchUser,
		MSRefresh: w.g.IssueRefreshToken(),
		VPURL:     w.v.APIURL(), Database: benchDatabase, VPUser: benchVPUser, Employee: benchEmployee,
		VPRefresh: w.v.IssueRefreshToken(benchVPUser),
		DataDir:   dataDir, Port: port,
	}
}

// activity reports whether Vantagepoint has the user's activity with this
// subject.
func (w *world) activity(subject string) bool {
	for _, a := range w.v.Activities() {
		if a.Subject == subject && a.Employee == benchEmployee {
			return true
		}
	}
	return false
}

// contactTitle is the title of the Vantagepoint contact with this address
// ("" when there is none).
func (w *world) contactTitle(email string) string {
	for _, c := range w.v.Contacts() {
		if strings.EqualFold(c.Email, email) {
			return c.Title
		}
	}
	return ""
}

// tag adds the category to a message, as the user does in Outlook (the
// simulator bumps its changeKey and delta state).
func (w *world) tag(id string) {
	w.g.UpdateMessage(id, func(m *graphsim.Message) { m.Categories = append(m.Categories, benchCategory) })
}

// editTitle gives an Outlook contact a new job title, as the user does in
// Outlook.
func (w *world) editTitle(id, title string) {
	w.g.UpdateContact(id, func(c *graphsim.Contact) { c.JobTitle = title })
}
