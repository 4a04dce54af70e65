package demo

import (
	"fmt"
	"strings"
	"time"

	"vpconnect/syncer/graph/graphsim"
	"vpconnect/syncer/vantagepoint/vpsim"
)

// The demo's world: Dana Whitfield, a project manager at Contoso Engineering,
// her Vantagepoint employee record, four client firms with two contacts
// each, two projects, and a mailbox of a few dozen messages of the last two
// weeks, some of which she tagged with the Vantagepoint category.

const (
	demoDomain     = "contoso.example"
	demoUserMail   = "dana.whitfield@" + demoDomain
	demoEmployee   = "00042"
	demoVPUser     = "DWHITFIELD"
	demoVPPassword = "demo-password"
)

type seedContact struct {
	first, last, title, firm string
}

var (
	seedFirms = []struct{ id, name string }{
		{"FABRIKAM", "Fabrikam Developments"},
		{"RIVERSIDE", "Riverside Water Authority"},
		{"NORTHWIND", "Northwind Hospital Group"},
		{"ALPINE", "Alpine Ski House"},
	}
	seedContacts = []seedContact{
		{"Alice", "Ng", "Development Director", "FABRIKAM"},
		{"Ben", "Ortiz", "Construction Manager", "FABRIKAM"},
		{"Chloe", "Martin", "Chief Engineer", "RIVERSIDE"},
		{"David", "Kim", "Procurement Lead", "RIVERSIDE"},
		{"Elena", "Rossi", "Facilities VP", "NORTHWIND"},
		{"Farid", "Haddad", "Capital Projects", "NORTHWIND"},
		{"Grace", "Lee", "Owner", "ALPINE"},
		{"Henry", "Adams", "Operations Manager", "ALPINE"},
	}
)

func contactAddress(c seedContact) string {
	domain := map[string]string{"FABRIKAM": "fabrikam.example", "RIVERSIDE": "riverside-water.example",
		"NORTHWIND": "northwind-health.example", "ALPINE": "alpineskihouse.example"}[c.firm]
	return strings.ToLower(c.first+"."+c.last) + "@" + domain
}

// seedMessage is one message of the demo mailbox.
type seedMessage struct {
	folder   string // inbox or sentitems
	subject  string
	with     int // index into seedContacts; -1 is someone unknown to Vantagepoint
	cc       int // index, -1 for none
	daysAgo  float64
	tagged   bool
	private  bool
	html     bool
	attach   []graphsim.Attachment
	alsoSent bool // also a copy in Sent Items (sent to self with the client on cc)
}

var seedMessages = []seedMessage{
	{folder: "inbox", subject: "Riverside pump station: survey results", with: 2, cc: 3, daysAgo: 0.2, tagged: true, attach: []graphsim.Attachment{{Name: "survey-2026-11.pdf", ContentType: "application/pdf", Size: 1_842_113}}},
	{folder: "inbox", subject: "Lunch on Thursday?", with: -1, cc: -1, daysAgo: 0.3},
	{folder: "inbox", subject: "Clinic expansion: revised budget", with: 4, cc: 5, daysAgo: 0.9, tagged: true, html: true},
	{folder: "sentitems", subject: "Re: Clinic expansion: revised budget", with: 4, cc: -1, daysAgo: 0.8, tagged: true},
	{folder: "inbox", subject: "Your weekly timesheet reminder", with: -1, cc: -1, daysAgo: 1.1},
	{folder: "inbox", subject: "Alpine lodge: snow load question", with: 6, cc: 7, daysAgo: 1.5, tagged: true},
	{folder: "inbox", subject: "Fabrikam tower: kickoff agenda", with: 0, cc: 1, daysAgo: 2.1, tagged: true, attach: []graphsim.Attachment{{Name: "agenda.docx", ContentType: "application/vnd.openxmlformats-officedocument.wordprocessingml.document", Size: 48_210}}},
	{folder: "inbox", subject: "Re: Fabrikam tower: parking levels", with: 1, cc: -1, daysAgo: 2.4},
	{folder: "inbox", subject: "Conference registration confirmed", with: -1, cc: -1, daysAgo: 2.9},
	{folder: "sentitems", subject: "Riverside: change order #4", with: 3, cc: 2, daysAgo: 3.2, tagged: true},
	{folder: "inbox", subject: "Personal: my medical leave", with: 5, cc: -1, daysAgo: 3.5, tagged: true, private: true},
	{folder: "inbox", subject: "Northwind: fire code review", with: 5, cc: 4, daysAgo: 4.0},
	{folder: "inbox", subject: "New vendor introduction", with: -1, cc: -1, daysAgo: 4.4, tagged: true},
	{folder: "inbox", subject: "Alpine: invoice 2026-118", with: 7, cc: -1, daysAgo: 5.0},
	{folder: "inbox", subject: "Note to self: Fabrikam fee proposal", with: 0, cc: -1, daysAgo: 5.5, tagged: true, alsoSent: true},
	{folder: "inbox", subject: "Office move next month", with: -1, cc: -1, daysAgo: 6.0},
	{folder: "inbox", subject: "Riverside: board presentation draft", with: 2, cc: -1, daysAgo: 6.3},
	{folder: "sentitems", subject: "Northwind: schedule update", with: 4, cc: 5, daysAgo: 6.8},
	{folder: "inbox", subject: "Re: Alpine lodge: structural options", with: 6, cc: -1, daysAgo: 7.2, tagged: true},
	{folder: "inbox", subject: "IT: password expiry notice", with: -1, cc: -1, daysAgo: 7.9},
	{folder: "inbox", subject: "Fabrikam: site access badges", with: 1, cc: 0, daysAgo: 8.4},
	{folder: "inbox", subject: "Riverside: permit approved", with: 3, cc: -1, daysAgo: 9.1, tagged: true},
	{folder: "inbox", subject: "Team offsite photos", with: -1, cc: -1, daysAgo: 9.6},
	{folder: "sentitems", subject: "Alpine: proposal for the spa wing", with: 6, cc: 7, daysAgo: 10.2},
	{folder: "inbox", subject: "Northwind: thank you", with: 4, cc: -1, daysAgo: 11.0},
	{folder: "inbox", subject: "Fabrikam: tender documents", with: 0, cc: -1, daysAgo: 12.5},
	{folder: "inbox", subject: "Northwind: kickoff minutes", with: 5, cc: -1, daysAgo: 20, tagged: true}, // before the look-back window
	{folder: "inbox", subject: "Newsletter: engineering trends", with: -1, cc: -1, daysAgo: 13.0},
}

// seedWorld fills both simulated services.
func seedWorld(g *graphsim.Server, v *vpsim.Server, now time.Time) {
	v.AddEmployee(vpsim.Employee{Employee: demoEmployee, FirstName: "Dana", LastName: "Whitfield", EMail: demoUserMail, Status: "A"})
	v.AddEmployee(vpsim.Employee{Employee: "00007", FirstName: "Sam", LastName: "Patel", EMail: "sam.patel@" + demoDomain, Status: "A"})
	v.AddEmployee(vpsim.Employee{Employee: "00003", FirstName: "Lee", LastName: "Chen", EMail: "lee.chen@" + demoDomain, Status: "T"})
	v.AddUser(demoVPUser, demoVPPassword, demoEmployee)
	for _, f := range seedFirms {
		v.AddFirm(vpsim.Firm{ClientID: f.id, Name: f.name, Status: "A"})
	}
	for _, c := range seedContacts {
		v.AddContact(vpsim.Contact{ClientID: c.firm, FirstName: c.first, LastName: c.last, Title: c.title,
			Email: contactAddress(c), Phone: "+1 555 0100", ContactStatus: "A", Owner: demoEmployee})
	}
	v.AddProject(vpsim.Project{WBS1: "2026001.00", Name: "Riverside Pump Station", ClientID: "RIVERSIDE", Status: "A"})
	v.AddProject(vpsim.Project{WBS1: "2026014.00", Name: "Northwind Clinic Expansion", ClientID: "NORTHWIND", Status: "A"})
	// Meetings planned in Vantagepoint: they appear in Outlook's calendar.
	day := now.Truncate(24 * time.Hour)
	contactIDs := map[string]string{}
	for _, c := range v.Contacts() {
		contactIDs[c.LastName] = c.ContactID
	}
	for _, m := range []struct {
		subject, location, contact, client, wbs1 string
		start                                    time.Time
	}{
		{"Riverside: pump station design review", "Riverside Water Authority, board room", "Martin", "RIVERSIDE", "2026001.00", day.Add(24*time.Hour + 14*time.Hour)},
		{"Northwind: clinic site walk", "Northwind Hospital, east wing", "Rossi", "NORTHWIND", "2026014.00", day.Add(3*24*time.Hour + 9*time.Hour)},
		{"Fabrikam: fee negotiation", "Fabrikam HQ", "Ng", "FABRIKAM", "", day.Add(5*24*time.Hour + 11*time.Hour)},
	} {
		v.AddActivity(vpsim.Activity{Type: "Meeting", Subject: m.subject, Location: m.location,
			StartDate: vpsim.FormatDate(m.start), EndDate: vpsim.FormatDate(m.start.Add(time.Hour)),
			Notes: "Agenda to follow.", PrivateInd: "N", AllDayEventInd: "N",
			Owner: demoEmployee, Employee: demoEmployee, ContactID: contactIDs[m.contact], ClientID: m.client, WBS1: m.wbs1})
	}

	me := graphsim.Recipient{Name: "Dana Whitfield", Address: demoUserMail}
	for i, m := range seedMessages {
		msg := graphsim.Message{
			InternetMessageID: fmt.Sprintf("<demo-%02d.%s>", i, "mail."+demoDomain),
			Subject:           m.subject,
			BodyType:          "text",
			Body:              demoBody(m),
			SentDateTime:      now.Add(-time.Duration(m.daysAgo * float64(24*time.Hour))).Truncate(time.Second),
			Attachments:       m.attach,
			Categories:        []string{},
		}
		if m.html {
			msg.BodyType = "html"
			msg.Body = "<html><body><p>Hi Dana,</p><p>Attached is the <b>revised budget</b>; the main changes are:</p>" +
				"<ul><li>mechanical: +4%</li><li>contingency down to 6%</li></ul><p>Best regards,<br>Elena</p></body></html>"
		}
		msg.ReceivedDateTime = msg.SentDateTime.Add(20 * time.Second)
		if m.tagged {
			msg.Categories = []string{"Vantagepoint"}
		}
		if m.private {
			msg.Sensitivity = 2
		}
		other := graphsim.Recipient{Name: "Jordan Blake", Address: "jordan.blake@unknown-vendor.example"}
		if m.with >= 0 {
			c := seedContacts[m.with]
			other = graphsim.Recipient{Name: c.first + " " + c.last, Address: contactAddress(c)}
		}
		var cc []graphsim.Recipient
		if m.cc >= 0 {
			c := seedContacts[m.cc]
			cc = []graphsim.Recipient{{Name: c.first + " " + c.last, Address: contactAddress(c)}}
		}
		switch {
		case m.alsoSent:
			msg.From, msg.To, msg.Cc = me, []graphsim.Recipient{me}, []graphsim.Recipient{other}
			g.AddMessage("sentitems", msg)
		case m.folder == "sentitems":
			msg.From, msg.To, msg.Cc = me, []graphsim.Recipient{other}, cc
		default:
			msg.From, msg.To, msg.Cc = other, []graphsim.Recipient{me}, cc
			msg.IsRead = m.daysAgo > 1
		}
		g.AddMessage(m.folder, msg)
	}
}

func demoBody(m seedMessage) string {
	greeting := "Hi Dana,"
	if m.folder == "sentitems" || m.alsoSent {
		greeting = "Hello,"
	}
	return greeting + "\n\n" + "Following up on \"" + m.subject + "\". Let me know if you need anything else.\n\nBest regards"
}

// untaggedToTag lists the seed's messages the demo tags later, to show an
// Outlook change arriving in Vantagepoint while the demo runs.
func untaggedToTag() []string {
	var out []string
	for _, m := range seedMessages {
		if !m.tagged && m.with >= 0 && m.daysAgo < 14 {
			out = append(out, m.subject)
		}
	}
	return out
}
