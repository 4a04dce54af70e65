package graph

import (
	"context"
	"fmt"
	"strconv"

	"vpconnect/syncer"
)

// deltaPage is one page of a delta round as the SDK decodes it: the
// entries, and either the link to the next page or, on the round's last
// page, the delta link that starts the next round.
type deltaPage[M any] interface {
	GetValue() []M
	GetOdataNextLink() *string
	GetOdataDeltaLink() *string
}

// deltaRound runs one delta round from link (a saved delta link, or the
// first request of a new round) to its delta link, which it returns: the
// cursor of the next round. get reads one page; decode maps one entry (an
// error there is a malformed answer); page receives each page's changes in
// order, and its error ends the round. what names the listing in errors
// ("message changes of folder …").
//
// Graph answers a delta link it no longer knows with 410 Gone or a
// syncStateNotFound code; wrap makes that syncer.ErrResyncRequired, upon
// which the engine starts a new round from scratch.
func deltaRound[M, C any, P deltaPage[M]](ctx context.Context, what, link string, get func(ctx context.Context, link string) (P, error),
	decode func(M) (C, error), page func([]C) error) (string, error) {
	for pages := 1; ; pages++ {
		resp, err := get(ctx, link)
		if err != nil {
			return "", wrap(fmt.Sprintf("listing %s (page %d)", what, pages), err)
		}
		if any(resp) == nil {
			return "", wrap("listing "+what, errNoBody)
		}
		values := resp.GetValue()
		changes := make([]C, 0, len(values))
		for _, v := range values {
			if any(v) == nil {
				continue
			}
			ch, err := decode(v)
			if err != nil {
				return "", fmt.Errorf("graph: listing %s: %w", what, err)
			}
			changes = append(changes, ch)
		}
		if err := page(changes); err != nil {
			return "", err
		}
		if n := deref(resp.GetOdataNextLink()); n != "" {
			link = n
			continue
		}
		if d := deref(resp.GetOdataDeltaLink()); d != "" {
			return d, nil
		}
		return "", fmt.Errorf("graph: listing %s: a page with neither nextLink nor deltaLink: %w", what, syncer.ErrMalformed)
	}
}

// pageSizePrefer asks for delta pages of the client's size.
func (c *Client) pageSizePrefer() string { return "odata.maxpagesize=" + strconv.Itoa(c.pageSize) }

// needID rejects an entry without id: the engine could not pair it.
func needID(id string) error {
	if id == "" {
		return fmt.Errorf("an entry without id: %w", syncer.ErrMalformed)
	}
	return nil
}
