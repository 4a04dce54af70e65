package system

import (
	"context"
	"strings"

	"vpconnect/agent/localapi"
	"vpconnect/syncer/vantagepoint"
)

// Directory answers the loopback API's look-ups and searches from
// Vantagepoint (wrap it in localapi.CachedDirectory): the client's queries,
// in the API's own types.
func Directory(c *vantagepoint.Client) localapi.Directory { return directory{c} }

type directory struct{ c *vantagepoint.Client }

func (d directory) Lookup(ctx context.Context, email string) (localapi.ContactCard, error) {
	card, err := d.c.ContactCard(ctx, email)
	if err != nil {
		return localapi.ContactCard{}, err
	}
	c := card.Contact
	out := localapi.ContactCard{ContactID: c.ID, Name: strings.TrimSpace(c.FirstName + " " + c.LastName), Email: c.Email,
		Title: c.Title, Phone: c.Phone, CellPhone: c.CellPhone, Activities: []localapi.ActivityLine{}, Projects: []localapi.Match{}}
	if f := card.Firm; f != nil {
		out.Firm = &localapi.Match{Type: "firm", ID: f.ID, Name: f.Name}
	}
	for _, p := range card.Projects {
		out.Projects = append(out.Projects, localapi.Match{Type: "project", ID: p.WBS1, Name: p.Name, Detail: p.Status})
	}
	for _, a := range card.Activities {
		out.Activities = append(out.Activities, localapi.ActivityLine{ID: a.ID, Type: a.Type, Subject: a.Subject, Date: a.StartDate})
	}
	return out, nil
}

func (d directory) Search(ctx context.Context, typ, q string, limit int) ([]localapi.Match, error) {
	found, err := d.c.Search(ctx, typ, q, limit)
	if err != nil {
		return nil, err
	}
	out := make([]localapi.Match, 0, len(found))
	for _, f := range found {
		out = append(out, localapi.Match{Type: f.Type, ID: f.ID, Name: f.Name, Detail: f.Detail})
	}
	return out, nil
}
