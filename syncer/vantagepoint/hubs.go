package vantagepoint

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"vpconnect/syncer"
)

// The typed layer: conversions between wire Records and the engine's
// types, and the syncer.Vantagepoint methods.

// ContactFromRecord reads a contact record.
func ContactFromRecord(r Record) syncer.Contact {
	return syncer.Contact{
		ID:            r.String("ContactID"),
		ClientID:      r.String("ClientID"),
		FirstName:     r.String("FirstName"),
		LastName:      r.String("LastName"),
		PreferredName: r.String("PreferredName"),
		Email:         r.String("Email"),
		Phone:         r.String("Phone"),
		CellPhone:     r.String("CellPhone"),
		Title:         r.String("Title"),
		Status:        r.String("ContactStatus"),
		Owner:         r.String("Owner"),
		ModDate:       r.Time("ModDate"),
	}
}

// ContactRecord writes the fields of a contact the engine maps. With
// forCreate, empty fields are left out (the server's defaults apply);
// otherwise they are sent empty, which clears them (PUT is a PATCH).
// ContactID and ModDate are never sent: the server owns them.
func ContactRecord(c syncer.Contact, forCreate bool) Record {
	r := Record{}
	put := func(k, v string) {
		if v != "" || !forCreate {
			r[k] = v
		}
	}
	put("ClientID", c.ClientID)
	put("FirstName", c.FirstName)
	put("LastName", c.LastName)
	put("PreferredName", c.PreferredName)
	put("Email", c.Email)
	put("Phone", c.Phone)
	put("CellPhone", c.CellPhone)
	put("Title", c.Title)
	if c.Status != "" {
		r["ContactStatus"] = c.Status
	}
	if c.Owner != "" {
		r["Owner"] = c.Owner
	}
	return r
}

// ActivityFromRecord reads an activity record.
func ActivityFromRecord(r Record) syncer.Activity {
	a := activityFromRecord(r)
	if a.AllDay {
		a.StartDate, a.EndDate = allDayFromWire(a.StartDate, a.EndDate)
	}
	return a
}

func activityFromRecord(r Record) syncer.Activity {
	return syncer.Activity{
		ID:            r.String("ActivityID"),
		Type:          r.String("Type"),
		Subject:       r.String("Subject"),
		StartDate:     r.Time("StartDate"),
		EndDate:       r.Time("EndDate"),
		Notes:         NotesText(r.String("Notes")),
		Location:      r.String("Location"),
		Private:       r.Bool("PrivateInd"),
		AllDay:        r.Bool("AllDayEventInd"),
		Owner:         r.String("Owner"),
		Employee:      r.String("Employee"),
		ContactID:     r.String("ContactID"),
		ClientID:      r.String("ClientID"),
		WBS1:          r.String("WBS1"),
		OpportunityID: r.String("OpportunityID"),
		ModDate:       r.Time("ModDate"),
		MessageID:     r.String(MessageIDField),
	}
}

// ActivityRecord writes an activity's fields. With forCreate, empty
// optional fields are left out; otherwise they are sent empty to clear
// them. ActivityID and ModDate are never sent.
func ActivityRecord(a syncer.Activity, forCreate bool) Record {
	r := Record{
		"Type":           a.Type,
		"Subject":        a.Subject,
		"PrivateInd":     yn(a.Private),
		"AllDayEventInd": yn(a.AllDay),
	}
	put := func(k, v string) {
		if v != "" || !forCreate {
			r[k] = v
		}
	}
	putDate := func(k string, t time.Time) {
		if !t.IsZero() {
			r[k] = FormatDate(t)
		} else if !forCreate {
			r[k] = ""
		}
	}
	start, end := a.StartDate, a.EndDate
	if a.AllDay {
		start, end = allDayToWire(start, end)
	}
	putDate("StartDate", start)
	putDate("EndDate", end)
	put("Notes", a.Notes)
	put("Location", a.Location)
	put("Owner", a.Owner)
	put("Employee", a.Employee)
	put("ContactID", a.ContactID)
	put("ClientID", a.ClientID)
	put("WBS1", a.WBS1)
	put("OpportunityID", a.OpportunityID)
	return r
}

// EmployeeFromRecord reads an employee record.
func EmployeeFromRecord(r Record) syncer.Employee {
	name := strings.TrimSpace(r.String("FirstName") + " " + r.String("LastName"))
	return syncer.Employee{ID: r.String("Employee"), Name: name, Email: r.String("EMail"), Status: r.String("Status")}
}

// FirmFromRecord reads a firm record.
func FirmFromRecord(r Record) syncer.Firm {
	return syncer.Firm{ID: r.String("ClientID"), Name: r.String("Name")}
}

// Project is a Vantagepoint project (the engine links activities to one by
// WBS1 only, so it has no type of its own in package syncer).
type Project struct {
	WBS1     string
	Name     string
	ClientID string
	Status   string
}

// ProjectFromRecord reads a project record.
func ProjectFromRecord(r Record) Project {
	return Project{WBS1: r.String("WBS1"), Name: r.String("Name"), ClientID: r.String("ClientID"), Status: r.String("Status")}
}

// EmployeesByEmail lists the active employees whose EMail equals the
// address. The server compares case-insensitively (SQL Server's default
// collation); the client checks again, so that a case-sensitive server
// does not make it match more than it should.
func (c *Client) EmployeesByEmail(ctx context.Context, email string) ([]syncer.Employee, error) {
	email = strings.TrimSpace(email)
	if email == "" {
		return nil, fmt.Errorf("find employees by e-mail: %w: empty address", syncer.ErrInvalid)
	}
	q := Query{Filters: []Filter{{Name: "EMail", Op: OpEq, Value: email}, {Name: "Status", Op: OpEq, Value: "A"}}}
	var out []syncer.Employee
	err := c.List(ctx, HubEmployee, q, func(rs []Record) error {
		for _, r := range rs {
			e := EmployeeFromRecord(r)
			if strings.EqualFold(strings.TrimSpace(e.Email), email) && e.Status == "A" {
				out = append(out, e)
			}
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("find employees with e-mail %s: %w", email, err)
	}
	return out, nil
}

// ActiveEmployees streams the active employees (Status A) that have an
// e-mail address, in the order of their ids: the people the
// administration dashboard counts. The server is asked for the active
// ones; the address is checked here (an empty-value filter is not
// documented).
func (c *Client) ActiveEmployees(ctx context.Context, page func([]syncer.Employee) error) error {
	q := Query{Filters: []Filter{{Name: "Status", Op: OpEq, Value: "A"}}, Fields: []string{"Employee", "FirstName", "LastName", "EMail", "Status"}}
	err := c.List(ctx, HubEmployee, q, func(rs []Record) error {
		var out []syncer.Employee
		for _, r := range rs {
			e := EmployeeFromRecord(r)
			if e.Status == "A" && strings.TrimSpace(e.Email) != "" {
				out = append(out, e)
			}
		}
		if len(out) == 0 {
			return nil
		}
		return page(out)
	})
	if err != nil {
		return fmt.Errorf("list the active employees: %w", err)
	}
	return nil
}

// contactFieldNames maps the engine's names of contact fields to the
// wire's; wire names pass through.
var contactFieldNames = map[string]string{"ID": "ContactID", "Status": "ContactStatus"}

// Contacts streams the contacts that match q, a page at a time.
func (c *Client) Contacts(ctx context.Context, q syncer.ContactQuery, page func([]syncer.Contact) error) error {
	var vq Query
	if q.WithEmail {
		vq.Filters = append(vq.Filters, Filter{Name: "Email", Op: OpNe, Value: ""})
	}
	if q.Owner != "" {
		vq.Filters = append(vq.Filters, Filter{Name: "Owner", Op: OpEq, Value: q.Owner})
	}
	if q.ActiveOnly {
		vq.Filters = append(vq.Filters, Filter{Name: "ContactStatus", Op: OpEq, Value: "A"})
	}
	if !q.ModifiedSince.IsZero() {
		vq.Filters = append(vq.Filters, DateFilter("ModDate", OpGt, c.clock.sinceFilter(q.ModifiedSince)))
	}
	for _, f := range q.Fields {
		if w, ok := contactFieldNames[f]; ok {
			f = w
		}
		vq.Fields = append(vq.Fields, f)
	}
	err := c.List(ctx, HubContact, vq, func(rs []Record) error {
		cs := make([]syncer.Contact, 0, len(rs))
		for _, r := range rs {
			cs = append(cs, ContactFromRecord(r))
		}
		return page(cs)
	})
	if err != nil {
		return fmt.Errorf("list contacts: %w", err)
	}
	return nil
}

// Contact reads one contact.
func (c *Client) Contact(ctx context.Context, id string) (syncer.Contact, error) {
	r, err := c.Get(ctx, HubContact, id)
	if err != nil {
		return syncer.Contact{}, err
	}
	return ContactFromRecord(r), nil
}

// CreateContact creates a contact (never retried: see Create).
func (c *Client) CreateContact(ctx context.Context, ct syncer.Contact) (syncer.Contact, error) {
	r, err := c.Create(ctx, HubContact, ContactRecord(ct, true))
	if err != nil {
		return syncer.Contact{}, fmt.Errorf("create contact %s %s: %w", ct.FirstName, ct.LastName, err)
	}
	return ContactFromRecord(r), nil
}

// UpdateContact writes the mapped fields of a contact identified by its ID.
func (c *Client) UpdateContact(ctx context.Context, ct syncer.Contact) (syncer.Contact, error) {
	r, err := c.Update(ctx, HubContact, ct.ID, ContactRecord(ct, false))
	if err != nil {
		return syncer.Contact{}, err
	}
	return ContactFromRecord(r), nil
}

// DeleteContact deletes a contact. After a retried DELETE the record may
// already be gone: callers treat syncer.ErrNotFound as done.
func (c *Client) DeleteContact(ctx context.Context, id string) error {
	return c.Delete(ctx, HubContact, id)
}

// Firm reads one firm by its ClientID.
func (c *Client) Firm(ctx context.Context, clientID string) (syncer.Firm, error) {
	r, err := c.Get(ctx, HubFirm, clientID)
	if err != nil {
		return syncer.Firm{}, err
	}
	return FirmFromRecord(r), nil
}

// CreateFirm creates a firm (never retried: see Create); Vantagepoint
// numbers it.
func (c *Client) CreateFirm(ctx context.Context, f syncer.Firm) (syncer.Firm, error) {
	r, err := c.Create(ctx, HubFirm, Record{"Name": f.Name})
	if err != nil {
		return syncer.Firm{}, fmt.Errorf("create firm %s: %w", f.Name, err)
	}
	return FirmFromRecord(r), nil
}

// Firms streams firms matching q.
func (c *Client) Firms(ctx context.Context, q Query, page func([]syncer.Firm) error) error {
	return c.List(ctx, HubFirm, q, func(rs []Record) error {
		fs := make([]syncer.Firm, 0, len(rs))
		for _, r := range rs {
			fs = append(fs, FirmFromRecord(r))
		}
		return page(fs)
	})
}

// Projects streams projects matching q.
func (c *Client) Projects(ctx context.Context, q Query, page func([]Project) error) error {
	return c.List(ctx, HubProject, q, func(rs []Record) error {
		ps := make([]Project, 0, len(rs))
		for _, r := range rs {
			ps = append(ps, ProjectFromRecord(r))
		}
		return page(ps)
	})
}

// CreateActivity creates an activity and returns it with its ActivityID.
// It is sent once and never retried (see Create).
func (c *Client) CreateActivity(ctx context.Context, a syncer.Activity) (syncer.Activity, error) {
	rec := ActivityRecord(a, true)
	if a.MessageID != "" {
		// The key goes into its own field where the server has it; without
		// it (or when the metadata cannot be read now) the Notes line that
		// the engine wrote remains the key.
		has, err := c.HasMessageIDField(ctx)
		if err != nil {
			c.opts.Logger.Warn("vantagepoint: the e-mail's key is kept in Notes only", "error", err)
		}
		if has {
			rec[MessageIDField] = a.MessageID
		}
	}
	r, err := c.Create(ctx, HubActivity, rec)
	if err != nil {
		if _, sent := rec[MessageIDField]; sent && errors.Is(err, syncer.ErrInvalid) {
			// Perhaps IT removed the field: ask the metadata again next
			// time rather than have every e-mail refused.
			c.forgetMessageIDField()
		}
		return syncer.Activity{}, fmt.Errorf("create %s activity %q: %w", a.Type, a.Subject, err)
	}
	return ActivityFromRecord(r), nil
}

// Activity reads one activity.
func (c *Client) Activity(ctx context.Context, id string) (syncer.Activity, error) {
	r, err := c.Get(ctx, HubActivity, id)
	if err != nil {
		return syncer.Activity{}, err
	}
	return ActivityFromRecord(r), nil
}

// UpdateActivity writes the fields of an activity identified by its ID.
func (c *Client) UpdateActivity(ctx context.Context, a syncer.Activity) (syncer.Activity, error) {
	r, err := c.Update(ctx, HubActivity, a.ID, ActivityRecord(a, false))
	if err != nil {
		return syncer.Activity{}, err
	}
	return ActivityFromRecord(r), nil
}

// DeleteActivity deletes an activity; see DeleteContact about ErrNotFound.
func (c *Client) DeleteActivity(ctx context.Context, id string) error {
	return c.Delete(ctx, HubActivity, id)
}

// Activities streams activities matching q.
func (c *Client) Activities(ctx context.Context, q Query, page func([]syncer.Activity) error) error {
	return c.List(ctx, HubActivity, q, func(rs []Record) error {
		as := make([]syncer.Activity, 0, len(rs))
		for _, r := range rs {
			as = append(as, ActivityFromRecord(r))
		}
		return page(as)
	})
}

// FindActivities lists the activities that match every non-zero field of
// q: the natural-key lookup the engine makes before re-sending a journaled
// create. Every condition is checked again on the client, so a server that
// reads a filter more loosely cannot produce a false match.
func (c *Client) FindActivities(ctx context.Context, q syncer.ActivityQuery) ([]syncer.Activity, error) {
	if q.MessageID != "" {
		return c.findByMessageID(ctx, q)
	}
	return c.findActivities(ctx, q, nil, nil)
}

// findActivities lists the activities matching q, extra filters and keep
// (nil keeps all), each condition checked again on the client.
func (c *Client) findActivities(ctx context.Context, q syncer.ActivityQuery, extra []Filter, keep func(syncer.Activity) bool) ([]syncer.Activity, error) {
	var vq Query
	if q.Type != "" {
		vq.Filters = append(vq.Filters, Filter{Name: "Type", Op: OpEq, Value: q.Type})
	}
	if q.Subject != "" {
		vq.Filters = append(vq.Filters, Filter{Name: "Subject", Op: OpEq, Value: q.Subject})
	}
	start := q.StartDate.Truncate(time.Millisecond) // the wire's precision
	if !q.StartDate.IsZero() {
		vq.Filters = append(vq.Filters, DateFilter("StartDate", OpEq, start))
	}
	if q.Employee != "" {
		vq.Filters = append(vq.Filters, Filter{Name: "Employee", Op: OpEq, Value: q.Employee})
	}
	if q.NotesContain != "" {
		vq.Filters = append(vq.Filters, Filter{Name: "Notes", Op: OpLike, Value: notesPattern(q.NotesContain)})
	}
	vq.Filters = append(vq.Filters, extra...)
	var out []syncer.Activity
	err := c.Activities(ctx, vq, func(as []syncer.Activity) error {
		for _, a := range as {
			if (q.Type == "" || strings.EqualFold(a.Type, q.Type)) &&
				(q.Subject == "" || strings.EqualFold(a.Subject, q.Subject)) &&
				(q.StartDate.IsZero() || a.StartDate.Equal(start)) &&
				(q.Employee == "" || strings.EqualFold(a.Employee, q.Employee)) &&
				(q.NotesContain == "" || strings.Contains(strings.ToLower(a.Notes), strings.ToLower(q.NotesContain))) &&
				(keep == nil || keep(a)) {
				out = append(out, a)
			}
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("find activities: %w", err)
	}
	return out, nil
}

// likeLiteral makes text safe inside a LIKE pattern by turning the
// wildcard characters into '_' (any one character): the match gets looser,
// and the client's own check makes it exact again. Bracket escapes would be
// exact but are not known to survive every server.
func likeLiteral(s string) string {
	return strings.NewReplacer("%", "_", "_", "_", "[", "_").Replace(s)
}

var _ syncer.VantagepointRecords = (*Client)(nil)

// ListFirms streams every firm.
func (c *Client) ListFirms(ctx context.Context, page func([]syncer.Firm) error) error {
	if err := c.Firms(ctx, Query{Fields: []string{"ClientID", "Name"}}, page); err != nil {
		return fmt.Errorf("list firms: %w", err)
	}
	return nil
}

// ListActivities streams the activities of a calendar window.
func (c *Client) ListActivities(ctx context.Context, q syncer.ActivityListQuery, page func([]syncer.Activity) error) error {
	var vq Query
	if q.Employee != "" {
		vq.Filters = append(vq.Filters, Filter{Name: "Employee", Op: OpEq, Value: q.Employee})
	}
	// filterHash has no IN: one type is filtered by the server, several by
	// the client (conditions are joined with AND).
	if len(q.Types) == 1 {
		vq.Filters = append(vq.Filters, Filter{Name: "Type", Op: OpEq, Value: q.Types[0]})
	}
	if !q.From.IsZero() {
		vq.Filters = append(vq.Filters, DateFilter("StartDate", OpGe, q.From))
	}
	if !q.To.IsZero() {
		vq.Filters = append(vq.Filters, DateFilter("StartDate", OpLt, q.To))
	}
	if !q.ModifiedSince.IsZero() {
		vq.Filters = append(vq.Filters, DateFilter("ModDate", OpGt, c.clock.sinceFilter(q.ModifiedSince)))
	}
	vq.Fields = q.Fields
	if len(q.Types) > 1 && len(vq.Fields) > 0 && !containsFold(vq.Fields, "Type") {
		vq.Fields = append(vq.Fields, "Type")
	}
	filtered := page
	if len(q.Types) > 1 {
		filtered = func(as []syncer.Activity) error {
			keep := as[:0]
			for _, a := range as {
				if slices.ContainsFunc(q.Types, func(t string) bool { return strings.EqualFold(t, a.Type) }) {
					keep = append(keep, a)
				}
			}
			if len(keep) == 0 {
				return nil
			}
			return page(keep)
		}
	}
	if err := c.Activities(ctx, vq, filtered); err != nil {
		return fmt.Errorf("list activities: %w", err)
	}
	return nil
}
