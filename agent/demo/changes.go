package demo

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"time"

	"vpconnect/syncer"
	"vpconnect/syncer/graph/graphsim"
	"vpconnect/syncer/store"
	"vpconnect/syncer/vantagepoint/vpsim"
)

// The summary of a batch shows the contacts and meetings it wrote on each
// side. They are read from the simulators, not from the engine: a snapshot
// of both services before the batch and one after it, compared. The demo's
// user never edits during a batch (Demo.mu), so every difference is the
// agent's write. Only a match (two items already on both sides, now
// linked) leaves no trace in the services; it is read from the engine's
// pairings.

// world is a snapshot of the two-way items of both services.
type world struct {
	vpContacts map[string]vpsim.Contact    // by ContactID
	vpMeetings map[string]vpsim.Activity   // by ActivityID, calendar types only
	olContacts map[string]graphsim.Contact // by id, the synced folder only
	olEvents   map[string]graphsim.Event   // by id, single events only
	pairs      map[string]bool             // "type vpID mailboxID" of the engine's pairings
}

func (d *Demo) snapshot(ctx context.Context) (world, error) {
	w := world{vpContacts: map[string]vpsim.Contact{}, vpMeetings: map[string]vpsim.Activity{},
		olContacts: map[string]graphsim.Contact{}, olEvents: map[string]graphsim.Event{}, pairs: map[string]bool{}}
	for _, c := range d.Vantagepoint.Contacts() {
		w.vpContacts[c.ContactID] = c
	}
	for _, a := range d.Vantagepoint.Activities() {
		if d.calendarType(a.Type) {
			w.vpMeetings[a.ActivityID] = a
		}
	}
	for _, c := range d.Graph.Contacts(d.contactFolder) {
		w.olContacts[c.ID] = c
	}
	for _, e := range d.Graph.Events() {
		if e.Type == "singleInstance" {
			w.olEvents[e.ID] = e
		}
	}
	err := d.store.View(ctx, func(tx *store.Tx) error {
		for _, typ := range []string{syncer.TypeContacts, syncer.TypeEvents} {
			if err := tx.Pairings(typ, func(p store.Pairing) error {
				w.pairs[typ+" "+p.VPID+" "+p.MailboxID] = true
				return nil
			}); err != nil {
				return err
			}
		}
		return nil
	})
	return w, err
}

func (d *Demo) calendarType(t string) bool {
	for _, c := range d.Config.Sync.CalendarTypes {
		if strings.EqualFold(c, t) {
			return true
		}
	}
	return false
}

// written is one line of a batch summary: a contact or meeting the batch
// wrote (or linked).
type written struct {
	noun  string // contact, meeting
	to    string // Vantagepoint, Outlook, or "" for a link of two existing items
	verb  string // new, updated, moved, deleted, paired
	label string
}

func (w written) String() string {
	dir := "→ " + w.to
	if w.to == "" {
		dir = "↔ both"
	}
	return fmt.Sprintf("%-7s %-15s %-8s %s", w.noun, dir, w.verb, w.label)
}

var (
	nounOrder = map[string]int{"contact": 0, "meeting": 1}
	toOrder   = map[string]int{"Vantagepoint": 0, "Outlook": 1, "": 2}
	verbOrder = map[string]int{"new": 0, "updated": 1, "moved": 1, "deleted": 2, "paired": 3}
)

// changes lists what the agent wrote between two snapshots.
func (d *Demo) changes(before, after world) []written {
	firms := map[string]string{}
	for _, f := range d.Vantagepoint.Firms() {
		firms[f.ClientID] = f.Name
	}
	vpContact := func(c vpsim.Contact) string { return personLabel(c.FirstName, c.LastName, firms[c.ClientID]) }
	olContact := func(c graphsim.Contact) string { return personLabel(c.GivenName, c.Surname, c.CompanyName) }
	vpMeeting := func(a vpsim.Activity) string {
		label := a.Subject + "  " + vpWhen(a.StartDate)
		if c, ok := after.vpContacts[a.ContactID]; ok {
			label += "  → " + vpContact(c)
		}
		return label
	}
	olEvent := func(e graphsim.Event) string { return e.Subject + "  " + when(e.Start) }

	var out []written
	add := func(noun, to, verb, label string) { out = append(out, written{noun, to, verb, label}) }

	for id, c := range after.vpContacts {
		if was, ok := before.vpContacts[id]; !ok {
			add("contact", "Vantagepoint", "new", vpContact(c))
		} else if was != c {
			add("contact", "Vantagepoint", "updated", vpContact(c)+contactEdits(
				[]string{was.FirstName, was.LastName, was.PreferredName, was.Email, was.Phone, was.CellPhone, was.Title, firms[was.ClientID]},
				[]string{c.FirstName, c.LastName, c.PreferredName, c.Email, c.Phone, c.CellPhone, c.Title, firms[c.ClientID]}))
		}
	}
	for id, c := range before.vpContacts {
		if _, ok := after.vpContacts[id]; !ok {
			add("contact", "Vantagepoint", "deleted", vpContact(c))
		}
	}
	for id, c := range after.olContacts {
		if was, ok := before.olContacts[id]; !ok {
			add("contact", "Outlook", "new", olContact(c))
		} else if was.ChangeKey != c.ChangeKey {
			add("contact", "Outlook", "updated", olContact(c)+contactEdits(outlookFields(was), outlookFields(c)))
		}
	}
	for id, c := range before.olContacts {
		if _, ok := after.olContacts[id]; !ok {
			add("contact", "Outlook", "deleted", olContact(c))
		}
	}
	for id, a := range after.vpMeetings {
		was, ok := before.vpMeetings[id]
		switch {
		case !ok:
			add("meeting", "Vantagepoint", "new", vpMeeting(a))
		case was.StartDate != a.StartDate:
			add("meeting", "Vantagepoint", "moved", a.Subject+"  "+vpWhen(was.StartDate)+" → "+vpWhen(a.StartDate))
		case was != a:
			add("meeting", "Vantagepoint", "updated", vpMeeting(a))
		}
	}
	for id, a := range before.vpMeetings {
		if _, ok := after.vpMeetings[id]; !ok {
			add("meeting", "Vantagepoint", "deleted", vpMeeting(a))
		}
	}
	for id, e := range after.olEvents {
		was, ok := before.olEvents[id]
		switch {
		case !ok:
			add("meeting", "Outlook", "new", olEvent(e))
		case !was.Start.Equal(e.Start):
			add("meeting", "Outlook", "moved", e.Subject+"  "+when(was.Start)+" → "+when(e.Start))
		case was.ChangeKey != e.ChangeKey:
			add("meeting", "Outlook", "updated", olEvent(e))
		}
	}
	for id, e := range before.olEvents {
		if _, ok := after.olEvents[id]; !ok {
			add("meeting", "Outlook", "deleted", olEvent(e))
		}
	}
	// Matches: a new pairing of two items that were both there before.
	for key := range after.pairs {
		if before.pairs[key] {
			continue
		}
		typ, ids, _ := strings.Cut(key, " ")
		vpID, mbID, _ := strings.Cut(ids, " ")
		switch typ {
		case syncer.TypeContacts:
			c, vpWas := before.vpContacts[vpID]
			if _, mbWas := before.olContacts[mbID]; vpWas && mbWas {
				add("contact", "", "paired", vpContact(c)+": on both sides already, linked, not copied")
			}
		case syncer.TypeEvents:
			a, vpWas := before.vpMeetings[vpID]
			if _, mbWas := before.olEvents[mbID]; vpWas && mbWas {
				add("meeting", "", "paired", a.Subject+"  "+vpWhen(a.StartDate)+": on both sides already, linked, not copied")
			}
		}
	}
	sort.Slice(out, func(i, j int) bool {
		a, b := out[i], out[j]
		if a.noun != b.noun {
			return nounOrder[a.noun] < nounOrder[b.noun]
		}
		if a.to != b.to {
			return toOrder[a.to] < toOrder[b.to]
		}
		if a.verb != b.verb {
			return verbOrder[a.verb] < verbOrder[b.verb]
		}
		return a.label < b.label
	})
	return out
}

func personLabel(first, last, company string) string {
	name := strings.TrimSpace(first + " " + last)
	if company != "" {
		name += " (" + company + ")"
	}
	return name
}

// contactFields name the synced contact fields of docs/behaviour.md §4.2, in the order
// outlookFields and the Vantagepoint side list them.
var contactFields = []string{"first name", "last name", "preferred name", "e-mail", "phone", "mobile", "job title", "company"}

func outlookFields(c graphsim.Contact) []string {
	email, phone := "", ""
	if len(c.EmailAddresses) > 0 {
		email = c.EmailAddresses[0].Address
	}
	if len(c.BusinessPhones) > 0 {
		phone = c.BusinessPhones[0]
	}
	return []string{c.GivenName, c.Surname, c.NickName, email, phone, c.MobilePhone, c.JobTitle, c.CompanyName}
}

// contactEdits says which synced fields changed, with their new values.
func contactEdits(was, now []string) string {
	var edits []string
	for i := range contactFields {
		if was[i] != now[i] {
			edits = append(edits, fmt.Sprintf("%s %q", contactFields[i], now[i]))
		}
	}
	if len(edits) == 0 {
		return ""
	}
	return ": " + strings.Join(edits, ", ")
}

func when(t time.Time) string { return t.UTC().Format("Mon 2006-01-02 15:04") }

func vpWhen(s string) string {
	t, err := vpsim.ParseDate(s)
	if err != nil {
		return s
	}
	return when(t)
}
