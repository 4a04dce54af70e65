package vantagepoint

import (
	"context"
	"errors"
	"fmt"

	"vpconnect/syncer"
)

var _ syncer.LinkChecker = (*Client)(nil)

// linkHubs are the hubs of the records an e-mail can be linked to. The
// opportunity hub is named by analogy with the documented ones (its key is
// the activity's OpportunityID); a server without it answers 404, so an
// opportunity cannot be confirmed there and is refused.
var linkHubs = map[syncer.LinkKind]string{
	syncer.LinkProject:     HubProject,
	syncer.LinkContact:     HubContact,
	syncer.LinkFirm:        HubFirm,
	syncer.LinkOpportunity: "opportunity",
}

// RecordExists reads the record by its key: found, not found (404), or an
// error worth retrying later.
func (c *Client) RecordExists(ctx context.Context, kind syncer.LinkKind, id string) (bool, error) {
	hub, ok := linkHubs[kind]
	if !ok {
		return false, fmt.Errorf("check a linked record: unknown kind %q: %w", kind, syncer.ErrInvalid)
	}
	_, err := c.Get(ctx, hub, id)
	if errors.Is(err, syncer.ErrNotFound) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("check the %s %s: %w", kind, id, err)
	}
	return true, nil
}
