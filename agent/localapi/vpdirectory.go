package localapi

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

	"vpconnect/syncer"
	"vpconnect/syncer/vantagepoint"
)

// VantagepointDirectory answers look-ups and searches with the Vantagepoint
// REST client (wrap it in CachedDirectory). Searches use `like` filters on
// the record's name, the documented filter pattern.
func VantagepointDirectory(c *vantagepoint.Client) Directory { return vpDirectory{c} }

type vpDirectory struct{ c *vantagepoint.Client }

// like escapes the wildcards of Vantagepoint's like operator.
func like(s string) string {
	return "%" + strings.NewReplacer("%", "_", "_", "_", "[", "_").Replace(s) + "%"
}

func (d vpDirectory) list(ctx context.Context, hub string, q vantagepoint.Query, limit int) ([]vantagepoint.Record, error) {
	q.Limit = limit
	var out []vantagepoint.Record
	err := d.c.List(ctx, hub, q, func(rs []vantagepoint.Record) error {
		out = append(out, rs...)
		return nil
	})
	if len(out) > limit {
		out = out[:limit]
	}
	return out, err
}

func (d vpDirectory) Lookup(ctx context.Context, email string) (ContactCard, error) {
	rs, err := d.list(ctx, vantagepoint.HubContact, vantagepoint.Query{Filters: []vantagepoint.Filter{{Name: "Email", Value: email}}}, 2)
	if err != nil {
		return ContactCard{}, fmt.Errorf("look up %s in Vantagepoint: %w", email, err)
	}
	if len(rs) == 0 {
		return ContactCard{}, fmt.Errorf("look up %s: %w", email, syncer.ErrNotFound)
	}
	c := vantagepoint.ContactFromRecord(rs[0])
	card := ContactCard{ContactID: c.ID, Name: strings.TrimSpace(c.FirstName + " " + c.LastName), Email: c.Email,
		Title: c.Title, Phone: c.Phone, CellPhone: c.CellPhone, Activities: []ActivityLine{}, Projects: []Match{}}
	if c.ClientID != "" {
		if f, err := d.c.Firm(ctx, c.ClientID); err == nil {
			card.Firm = &Match{Type: "firm", ID: f.ID, Name: f.Name}
		}
		ps, err := d.list(ctx, vantagepoint.HubProject, vantagepoint.Query{Filters: []vantagepoint.Filter{{Name: "ClientID", Value: c.ClientID}, vantagepoint.TopLevelProjects},
			Fields: []string{"WBS1", "Name", "Status"}}, 10)
		if err == nil {
			for _, r := range ps {
				p := vantagepoint.ProjectFromRecord(r)
				card.Projects = append(card.Projects, Match{Type: "project", ID: p.WBS1, Name: p.Name, Detail: p.Status})
			}
		}
	}
	acts, err := d.list(ctx, vantagepoint.HubActivity, vantagepoint.Query{Filters: []vantagepoint.Filter{{Name: "ContactID", Value: c.ID}},
		Fields: []string{"ActivityID", "Type", "Subject", "StartDate"}, Order: "StartDate_D"}, 5)
	if err == nil {
		for _, r := range acts {
			a := vantagepoint.ActivityFromRecord(r)
			card.Activities = append(card.Activities, ActivityLine{ID: a.ID, Type: a.Type, Subject: a.Subject, Date: a.StartDate})
		}
	}
	return card, nil
}

func (d vpDirectory) Search(ctx context.Context, typ, q string, limit int) ([]Match, error) {
	if !slices.Contains(SearchTypes, typ) {
		return nil, fmt.Errorf("search %s: %w", typ, syncer.ErrInvalid)
	}
	var hub, idField, nameField string
	switch typ {
	case "project":
		hub, idField, nameField = vantagepoint.HubProject, "WBS1", "Name"
	case "firm":
		hub, idField, nameField = vantagepoint.HubFirm, "ClientID", "Name"
	case "contact":
		hub, idField, nameField = vantagepoint.HubContact, "ContactID", "LastName"
	case "opportunity":
		hub, idField, nameField = "opportunity", "OpportunityID", "Name"
	}
	filters := []vantagepoint.Filter{{Name: nameField, Op: vantagepoint.OpLike, Value: like(q)}}
	if typ == "project" {
		filters = append(filters, vantagepoint.TopLevelProjects)
	}
	rs, err := d.list(ctx, hub, vantagepoint.Query{Filters: filters}, limit)
	if typ == "opportunity" && errors.Is(err, syncer.ErrNotFound) {
		// Vantagepoint 4.0 and later keep pursuits as projects; a server
		// without the opportunity hub has no opportunities to offer
		// (docs/vantagepoint-api.md, "Smaller points").
		return []Match{}, nil
	}
	if err != nil {
		return nil, fmt.Errorf("search Vantagepoint %ss: %w", typ, err)
	}
	out := make([]Match, 0, len(rs))
	for _, r := range rs {
		m := Match{Type: typ, ID: r.String(idField), Name: r.String(nameField)}
		if typ == "contact" {
			m.Name = strings.TrimSpace(r.String("FirstName") + " " + r.String("LastName"))
			m.Detail = r.String("Email")
		}
		out = append(out, m)
	}
	return out, nil
}
