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
// each, two projects and three planned meetings; a mailbox of a few dozen
// messages of the last two weeks, some of which she tagged with the
// Vantagepoint category, and a calendar with meetings she tagged; and, once
// the agent has made her Vantagepoint contact folder, four people she keeps
// there (three new to Vantagepoint, one it knows already).

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

// seedMeeting is a meeting planned in Vantagepoint, an hour long.
type seedMeeting struct {
	subject, location string
	contact           int // index into seedContacts
	wbs1              string
	day               int           // days from today (UTC)
	at                time.Duration // time of day (UTC)
}

var seedMeetings = []seedMeeting{
	{"Riverside: pump station design review", "Riverside Water Authority, board room", 2, "2026001.00", 1, 14 * time.Hour},
	{"Northwind: clinic site walk", "Northwind Hospital, east wing", 4, "2026014.00", 3, 9 * time.Hour},
	{"Fabrikam: fee negotiation", "Fabrikam HQ", 0, "", 5, 11 * time.Hour},
}

// seedOutlookContact is a person Dana keeps in her Outlook contact folder.
type seedOutlookContact struct {
	first, last, title, company, email, phone, mobile string
}

// seedOutlookContacts are added to the contact folder right after
// activation. The first three are new to Vantagepoint; the last one is
// Grace Lee, whom Vantagepoint knows already (her address typed in another
// case): she must be paired with her Vantagepoint record, not copied.
var seedOutlookContacts = []seedOutlookContact{
	{first: "Ana", last: "Ruiz", title: "Director of Nursing Facilities", company: "Northwind Hospital Group",
		email: "ana.ruiz@northwind-health.example", phone: "+1 555 0142", mobile: "+1 555 0199"},
	{first: "Marcus", last: "Bell", title: "Site Superintendent", company: "Fabrikam Developments",
		email: "marcus.bell@fabrikam.example", phone: "+1 555 0117"},
	{first: "Priya", last: "Nair", title: "Water Quality Engineer", company: "Riverside Water Authority",
		email: "priya.nair@riverside-water.example", mobile: "+1 555 0163"},
	{first: "Grace", last: "Lee", title: "Owner", company: "Alpine Ski House",
		email: "Grace.Lee@AlpineSkiHouse.example", phone: "+1 555 0100"},
}

// seedOutlookContactsNew is how many of seedOutlookContacts are new to
// Vantagepoint (the first ones).
const seedOutlookContactsNew = 3

// seedEvent is an event of Dana's Outlook calendar.
type seedEvent struct {
	subject, location string
	day               int           // days from today (UTC)
	at                time.Duration // time of day (UTC)
	length            time.Duration
	attendees         []int // indexes into seedContacts
	tagged            bool
	private           bool
	weekly            int // occurrences of a weekly series; 0 for a single event
}

// seedEvents: three tagged meetings with clients (one of them two days
// ago, still inside the window), a tagged weekly series (one issue: not
// synced in this version), a tagged private appointment (skipped) and an
// untagged lunch (ignored).
var seedEvents = []seedEvent{
	{subject: "Riverside: intake screen options", location: "Teams", day: 2, at: 10 * time.Hour, length: time.Hour,
		attendees: []int{3, 2}, tagged: true},
	{subject: "Alpine: spa wing concept review", location: "Alpine Ski House, lodge", day: 4, at: 15 * time.Hour, length: 90 * time.Minute,
		attendees: []int{6, 7}, tagged: true},
	{subject: "Fabrikam tower: structural coordination", location: "Contoso office, room 4", day: -2, at: 13 * time.Hour, length: time.Hour,
		attendees: []int{1}, tagged: true},
	{subject: "Northwind: weekly clinic coordination", location: "Teams", day: 1, at: 8 * time.Hour, length: 30 * time.Minute,
		attendees: []int{5, 4}, tagged: true, weekly: 8},
	{subject: "Dentist", location: "Dr. Patel's practice", day: 2, at: 16 * time.Hour, length: time.Hour, tagged: true, private: true},
	{subject: "Lunch with Sam", location: "Cafeteria", day: 1, at: 12 * time.Hour, length: time.Hour},
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
	for _, m := range seedMeetings {
		start := day.AddDate(0, 0, m.day).Add(m.at)
		c := seedContacts[m.contact]
		v.AddActivity(vpsim.Activity{Type: "Meeting", Subject: m.subject, Location: m.location,
			StartDate: vpsim.FormatDate(start), EndDate: vpsim.FormatDate(start.Add(time.Hour)),
			Notes: "Agenda to follow.", PrivateInd: "N", AllDayEventInd: "N",
			Owner: demoEmployee, Employee: demoEmployee, ContactID: contactIDs[c.last], ClientID: c.firm, WBS1: m.wbs1})
	}

	for _, e := range seedEvents {
		ev := graphsim.Event{Subject: e.subject, Location: e.location, BodyType: "text",
			Body:  "Agenda: " + e.subject + ".",
			Start: day.AddDate(0, 0, e.day).Add(e.at), Categories: []string{}}
		ev.End = ev.Start.Add(e.length)
		for _, i := range e.attendees {
			c := seedContacts[i]
			ev.Attendees = append(ev.Attendees, graphsim.Attendee{Type: "required", Name: c.first + " " + c.last,
				Address: contactAddress(c), Response: "accepted"})
		}
		if e.tagged {
			ev.Categories = []string{"Vantagepoint"}
		}
		if e.private {
			ev.Sensitivity = "private"
		}
		if e.weekly > 0 {
			ev.Recurrence = &graphsim.Recurrence{
				Pattern: graphsim.RecurrencePattern{Type: "weekly", Interval: 1, DaysOfWeek: []string{strings.ToLower(ev.Start.Weekday().String())}},
				Range:   graphsim.RecurrenceRange{Type: "numbered", StartDate: ev.Start.Format("2006-01-02"), NumberOfOccurrences: e.weekly, RecurrenceTimeZone: "UTC"},
			}
		}
		g.AddEvent(ev) // organized by Dana (the mailbox user) when no organizer is given
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

// seedContactFolder adds Dana's people to her Outlook contact folder, the
// one the agent made (or adopted) when it initialized the mailbox.
func seedContactFolder(g *graphsim.Server, folderID string) {
	for _, c := range seedOutlookContacts {
		oc := graphsim.Contact{GivenName: c.first, Surname: c.last, JobTitle: c.title, CompanyName: c.company,
			EmailAddresses: []graphsim.Recipient{{Name: c.first + " " + c.last, Address: c.email}}, MobilePhone: c.mobile}
		if c.phone != "" {
			oc.BusinessPhones = []string{c.phone}
		}
		g.AddContact(folderID, oc)
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
