package vantagepoint

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

	"vpconnect/syncer"
)

// The look-ups and searches the Outlook add-in and the Sync Options page
// make (the loopback API's /v1/lookup and /v1/search). The hub queries live
// here, with the other queries of the client.

// SearchTypes are the record types Search knows.
var SearchTypes = []string{"project", "contact", "firm", "opportunity"}

// Card is what Vantagepoint knows of a contact: the contact, its firm, the
// firm's top-level projects and the contact's recent activities.
type Card struct {
	Contact    syncer.Contact
	Firm       *syncer.Firm
	Projects   []Project
	Activities []syncer.Activity
}

// Found is one search result.
type Found struct {
	Type, ID, Name, Detail string
}

// like escapes the wildcards of Vantagepoint's like operator.
func like(s string) string {
	return "%" + strings.NewReplacer("%", "_", "_", "_", "[", "_").Replace(s) + "%"
}

// first lists at most limit records of a hub.
func (c *Client) first(ctx context.Context, hub string, q Query, limit int) ([]Record, error) {
	q.Limit = limit
	var out []Record
	err := c.List(ctx, hub, q, func(rs []Record) error {
		out = append(out, rs...)
		return nil
	})
	if len(out) > limit {
		out = out[:limit]
	}
	return out, err
}

// ContactCard looks a contact up by e-mail address (syncer.ErrNotFound when
// none has it). The firm, projects and activities are extras: a failure to
// read them leaves them out.
func (c *Client) ContactCard(ctx context.Context, email string) (Card, error) {
	rs, err := c.first(ctx, HubContact, Query{Filters: []Filter{{Name: "Email", Value: email}}}, 2)
	if err != nil {
		return Card{}, fmt.Errorf("look up %s in Vantagepoint: %w", email, err)
	}
	if len(rs) == 0 {
		return Card{}, fmt.Errorf("look up %s: %w", email, syncer.ErrNotFound)
	}
	card := Card{Contact: ContactFromRecord(rs[0])}
	if id := card.Contact.ClientID; id != "" {
		if f, err := c.Firm(ctx, id); err == nil {
			card.Firm = &f
		}
		ps, err := c.first(ctx, HubProject, Query{Filters: []Filter{{Name: "ClientID", Value: id}, TopLevelProjects},
			Fields: []string{"WBS1", "Name", "Status"}}, 10)
		if err == nil {
			for _, r := range ps {
				card.Projects = append(card.Projects, ProjectFromRecord(r))
			}
		}
	}
	acts, err := c.first(ctx, HubActivity, Query{Filters: []Filter{{Name: "ContactID", Value: card.Contact.ID}},
		Fields: []string{"ActivityID", "Type", "Subject", "StartDate"}, Order: "StartDate_D"}, 5)
	if err == nil {
		for _, r := range acts {
			card.Activities = append(card.Activities, ActivityFromRecord(r))
		}
	}
	return card, nil
}

// Search finds at most limit records of a type (one of SearchTypes) whose
// name contains q, with `like` filters on the name, the documented filter
// pattern.
func (c *Client) Search(ctx context.Context, typ, q string, limit int) ([]Found, error) {
	if !slices.Contains(SearchTypes, typ) {
		return nil, fmt.Errorf("search %s: %w", typ, syncer.ErrInvalid)
	}
	var hub, idField, nameField string
	switch typ {
	case "project":
		hub, idField, nameField = HubProject, "WBS1", "Name"
	case "firm":
		hub, idField, nameField = HubFirm, "ClientID", "Name"
	case "contact":
		hub, idField, nameField = HubContact, "ContactID", "LastName"
	case "opportunity":
		hub, idField, nameField = "opportunity", "OpportunityID", "Name"
	}
	filters := []Filter{{Name: nameField, Op: OpLike, Value: like(q)}}
	if typ == "project" {
		filters = append(filters, TopLevelProjects)
	}
	rs, err := c.first(ctx, hub, Query{Filters: filters}, limit)
	if typ == "opportunity" && errors.Is(err, syncer.ErrNotFound) {
		// Vantagepoint 4.0 and later keep pursuits as projects; a server
		// without the opportunity hub has no opportunities to offer
		// (docs/vantagepoint-api.md, "Smaller points").
		return []Found{}, nil
	}
	if err != nil {
		return nil, fmt.Errorf("search Vantagepoint %ss: %w", typ, err)
	}
	out := make([]Found, 0, len(rs))
	for _, r := range rs {
		f := Found{Type: typ, ID: r.String(idField), Name: r.String(nameField)}
		if typ == "contact" {
			f.Name = strings.TrimSpace(r.String("FirstName") + " " + r.String("LastName"))
			f.Detail = r.String("Email")
		}
		out = append(out, f)
	}
	return out, nil
}
