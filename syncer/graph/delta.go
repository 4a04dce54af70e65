package graph

import (
	"context"
	"fmt"
	"net/url"
	"strconv"
	"time"

	"github.com/microsoftgraph/msgraph-sdk-go/users"

	"vpconnect/syncer"
)

// MessageChanges runs one delta round over a folder; see syncer.Mailbox.
func (c *Client) MessageChanges(ctx context.Context, folderID, cursor string, page func([]syncer.MessageChange) error) (string, error) {
	cfg := &users.ItemMailFoldersItemMessagesDeltaRequestBuilderGetRequestConfiguration{Headers: headers("Prefer", c.pageSizePrefer())}
	get := func(ctx context.Context, link string) (users.ItemMailFoldersItemMessagesDeltaGetResponseable, error) {
		return users.NewItemMailFoldersItemMessagesDeltaRequestBuilder(link, c.adapter).GetAsDeltaGetResponse(ctx, cfg)
	}
	return folderRound(ctx, c, messageDelta, folderID, cursor, get, messageChange, func(ch syncer.MessageChange) string { return ch.ID }, page)
}

// messageDelta is the delta round of a mail folder's messages.
var messageDelta = folderDelta{what: "message changes", path: "/me/mailFolders/%s/messages/delta()", sel: deltaSelect}

// EventChanges runs one calendarView delta round over [start, end); see
// syncer.MailboxCalendar. calendarView delta takes no $select (NOTES 7):
// events come whole. VPID is empty in the changes (no $expand in delta).
func (c *Client) EventChanges(ctx context.Context, start, end time.Time, cursor string, page func([]syncer.MailboxEvent) error) (string, error) {
	link := cursor
	if link == "" {
		if !end.After(start) {
			return "", fmt.Errorf("graph: listing event changes: empty window %v..%v: %w", start, end, syncer.ErrInvalid)
		}
		link = c.rawURL("/me/calendarView/delta()", url.Values{
			"startDateTime": {start.UTC().Format(time.RFC3339)},
			"endDateTime":   {end.UTC().Format(time.RFC3339)},
		})
	}
	cfg := &users.ItemCalendarViewDeltaRequestBuilderGetRequestConfiguration{Headers: headers("Prefer", c.pageSizePrefer(), "Prefer", textBody)}
	get := func(ctx context.Context, link string) (users.ItemCalendarViewDeltaGetResponseable, error) {
		return users.NewItemCalendarViewDeltaRequestBuilder(link, c.adapter).GetAsDeltaGetResponse(ctx, cfg)
	}
	return deltaRound(ctx, "event changes", link, get, mailboxEvent, page)
}

// ContactChanges runs one delta round over a contact folder; see
// syncer.MailboxContacts. Delta cannot expand extended properties, so VPID
// is empty in the changes.
func (c *Client) ContactChanges(ctx context.Context, folderID, cursor string, page func([]syncer.MailboxContact) error) (string, error) {
	cfg := &users.ItemContactFoldersItemContactsDeltaRequestBuilderGetRequestConfiguration{Headers: headers("Prefer", c.pageSizePrefer())}
	get := func(ctx context.Context, link string) (users.ItemContactFoldersItemContactsDeltaGetResponseable, error) {
		return users.NewItemContactFoldersItemContactsDeltaRequestBuilder(link, c.adapter).GetAsDeltaGetResponse(ctx, cfg)
	}
	return folderRound(ctx, c, contactDelta, folderID, cursor, get, mailboxContact, func(ch syncer.MailboxContact) string { return ch.ID }, page)
}

// contactDelta is the delta round of a contact folder's contacts.
var contactDelta = folderDelta{what: "contact changes", path: "/me/contactFolders/%s/contacts/delta()", sel: contactSelect}

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

// folderDelta is the delta round of a folder's items: what it lists (for
// errors), the path of its first request (%s is the folder id) and the
// properties it selects.
type folderDelta struct{ what, path, sel string }

// folderRound runs one delta round over the items of a folder (see
// deltaRound) from cursor, or from a new round's first request when cursor
// is empty. mapping maps an entry; an entry whose change has no id (id
// reads it) is malformed: the engine could not pair it.
func folderRound[M, C any, P deltaPage[M]](ctx context.Context, c *Client, f folderDelta, folderID, cursor string,
	get func(context.Context, string) (P, error), mapping func(M) C, id func(C) string, page func([]C) error) (string, error) {
	link := cursor
	if link == "" {
		if folderID == "" {
			return "", fmt.Errorf("graph: listing %s: no folder id: %w", f.what, syncer.ErrInvalid)
		}
		link = c.rawURL(fmt.Sprintf(f.path, url.PathEscape(folderID)), url.Values{"$select": {f.sel}})
	}
	decode := func(m M) (C, error) {
		ch := mapping(m)
		if id(ch) == "" {
			return ch, fmt.Errorf("an entry without id: %w", syncer.ErrMalformed)
		}
		return ch, nil
	}
	return deltaRound(ctx, f.what+" of folder "+shortID(folderID), link, get, decode, page)
}
