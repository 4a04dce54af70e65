package graph

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"

	abstractions "github.com/microsoft/kiota-abstractions-go"
	"github.com/microsoftgraph/msgraph-sdk-go/models"
	"github.com/microsoftgraph/msgraph-sdk-go/models/odataerrors"
	"github.com/microsoftgraph/msgraph-sdk-go/users"

	"vpconnect/syncer"
)

// graphDateTime is how Graph writes dateTimeTimeZone.dateTime: no offset,
// seven fractional digits.
const graphDateTime = "2006-01-02T15:04:05.0000000"

// textBody asks Graph to convert event bodies to text (docs/behaviour.md §4.3 maps the
// body text to Notes).
const textBody = `outlook.body-content-type="text"`

// eventTime reads a dateTimeTimeZone. Every request asks for UTC
// (transport.go), but a zone Graph names is honoured all the same.
func eventTime(d models.DateTimeTimeZoneable) (time.Time, error) {
	if d == nil || d.GetDateTime() == nil {
		return time.Time{}, nil
	}
	loc := time.UTC
	if tz := deref(d.GetTimeZone()); tz != "" && !strings.EqualFold(tz, "UTC") {
		if iana, ok := windowsZones[strings.ToLower(tz)]; ok {
			tz = iana
		}
		l, err := time.LoadLocation(tz)
		if err != nil {
			return time.Time{}, fmt.Errorf("%w: unknown time zone %q", syncer.ErrMalformed, tz)
		}
		loc = l
	}
	t, err := time.ParseInLocation("2006-01-02T15:04:05.9999999", *d.GetDateTime(), loc)
	if err != nil {
		return time.Time{}, fmt.Errorf("%w: event time %q", syncer.ErrMalformed, *d.GetDateTime())
	}
	return t.UTC(), nil
}

// windowsZones maps the Windows zone names Graph writes in
// dateTimeTimeZone (when a response is not in the UTC asked for) to IANA
// names; the common ones only.
var windowsZones = map[string]string{
	"pacific standard time": "America/Los_Angeles", "mountain standard time": "America/Denver",
	"central standard time": "America/Chicago", "eastern standard time": "America/New_York",
	"gmt standard time": "Europe/London", "w. europe standard time": "Europe/Berlin",
	"romance standard time": "Europe/Paris", "tokyo standard time": "Asia/Tokyo",
	"aus eastern standard time": "Australia/Sydney", "india standard time": "Asia/Kolkata",
}

// mailboxEvent maps an event (docs/behaviour.md §4.3); an @removed entry carries only
// its id.
func mailboxEvent(m models.Eventable) (syncer.MailboxEvent, error) {
	out := syncer.MailboxEvent{ID: deref(m.GetId())}
	if out.ID == "" {
		return out, fmt.Errorf("an event without id: %w", syncer.ErrMalformed)
	}
	if _, removed := m.GetAdditionalData()["@removed"]; removed {
		out.Removed = true
		return out, nil
	}
	var err error
	if out.Start, err = eventTime(m.GetStart()); err != nil {
		return out, err
	}
	if out.End, err = eventTime(m.GetEnd()); err != nil {
		return out, err
	}
	out.ChangeKey = deref(m.GetChangeKey())
	out.Subject = deref(m.GetSubject())
	if b := m.GetBody(); b != nil {
		out.Body = deref(b.GetContent())
		out.BodyType = syncer.BodyHTML
		if ct := b.GetContentType(); ct != nil && *ct == models.TEXT_BODYTYPE {
			out.BodyType = syncer.BodyText
		}
	}
	if v := m.GetIsAllDay(); v != nil {
		out.AllDay = *v
	}
	if l := m.GetLocation(); l != nil {
		out.Location = deref(l.GetDisplayName())
	}
	out.Categories = m.GetCategories()
	out.Organizer = recipient(m.GetOrganizer())
	if v := m.GetIsOrganizer(); v != nil {
		out.IsOrganizer = *v
	}
	for _, a := range m.GetAttendees() {
		if a != nil && a.GetEmailAddress() != nil {
			e := a.GetEmailAddress()
			out.Attendees = append(out.Attendees, syncer.Address{Name: deref(e.GetName()), Address: deref(e.GetAddress())})
		}
	}
	if s := m.GetSensitivity(); s != nil && *s == models.PRIVATE_SENSITIVITY {
		out.Private = true
	}
	if v := m.GetIsCancelled(); v != nil {
		out.IsCancelled = *v
	}
	out.SeriesMasterID = deref(m.GetSeriesMasterId())
	if t := m.GetTypeEscaped(); t != nil {
		out.Type = t.String()
	}
	out.LastModified = utc(m.GetLastModifiedDateTime())
	out.VPID = propValue(m.GetSingleValueExtendedProperties(), VPIDProperty)
	return out, nil
}

func dateTimeTZ(t time.Time) models.DateTimeTimeZoneable {
	d := models.NewDateTimeTimeZone()
	s, tz := t.UTC().Format(graphDateTime), "UTC"
	d.SetDateTime(&s)
	d.SetTimeZone(&tz)
	return d
}

// eventBody builds the mapped fields of an event for POST or PATCH. It
// never sets attendees: creating or changing them sends invitations
// (docs/behaviour.md §4.3).
func eventBody(e syncer.MailboxEvent) *models.Event {
	b := models.NewEvent()
	b.SetSubject(&e.Subject)
	body := models.NewItemBody()
	ct := models.TEXT_BODYTYPE
	if e.BodyType == syncer.BodyHTML {
		ct = models.HTML_BODYTYPE
	}
	body.SetContentType(&ct)
	body.SetContent(&e.Body)
	b.SetBody(body)
	b.SetStart(dateTimeTZ(e.Start))
	b.SetEnd(dateTimeTZ(e.End))
	b.SetIsAllDay(&e.AllDay)
	loc := models.NewLocation()
	loc.SetDisplayName(&e.Location)
	b.SetLocation(loc)
	return b
}

// CreateEvent creates an event in the default calendar with the
// categories given, no attendees, and the VPID stamp.
func (c *Client) CreateEvent(ctx context.Context, e syncer.MailboxEvent) (syncer.MailboxEvent, error) {
	body := eventBody(e)
	cats := e.Categories
	if cats == nil {
		cats = []string{}
	}
	body.SetCategories(cats)
	if e.Private {
		s := models.PRIVATE_SENSITIVITY
		body.SetSensitivity(&s)
	}
	if e.VPID != "" {
		body.SetSingleValueExtendedProperties([]models.SingleValueLegacyExtendedPropertyable{newProp(VPIDProperty, e.VPID)})
	}
	cfg := &users.ItemEventsRequestBuilderPostRequestConfiguration{Headers: headers("Prefer", textBody)}
	got, err := users.NewItemEventsRequestBuilder(c.rawURL("/me/events", nil), c.adapter).Post(ctx, body, cfg)
	if err != nil {
		return syncer.MailboxEvent{}, wrap("creating an event", err)
	}
	if got == nil {
		return syncer.MailboxEvent{}, wrap("creating an event", errNoBody)
	}
	out, err := mailboxEvent(got)
	if err != nil {
		return syncer.MailboxEvent{}, fmt.Errorf("graph: creating an event: %w", err)
	}
	out.VPID = e.VPID
	return out, nil
}

// UpdateEvent writes the mapped fields of an event (subject, body, start,
// end, all-day, location); categories, attendees and sensitivity are left
// as they are. With e.ChangeKey the PATCH carries If-Match, as in
// UpdateContact: syncer.ErrConflict when the event changed since.
func (c *Client) UpdateEvent(ctx context.Context, e syncer.MailboxEvent) (syncer.MailboxEvent, error) {
	cfg := &users.ItemEventsEventItemRequestBuilderPatchRequestConfiguration{Headers: headers("Prefer", textBody)}
	if v := ifMatch(e.ChangeKey); v != "" {
		cfg.Headers.Add("If-Match", v)
	}
	got, err := users.NewItemEventsEventItemRequestBuilder(c.rawURL("/me/events/"+url.PathEscape(e.ID), nil), c.adapter).Patch(ctx, eventBody(e), cfg)
	if err != nil {
		return syncer.MailboxEvent{}, wrap("updating event "+shortID(e.ID), err)
	}
	if got == nil {
		return syncer.MailboxEvent{}, wrap("updating event "+shortID(e.ID), errNoBody)
	}
	out, err := mailboxEvent(got)
	if err != nil {
		return syncer.MailboxEvent{}, fmt.Errorf("graph: updating event %s: %w", shortID(e.ID), err)
	}
	out.VPID = e.VPID
	return out, nil
}

// DeleteEvent deletes an event; syncer.ErrNotFound when it is gone.
func (c *Client) DeleteEvent(ctx context.Context, id string) error {
	err := users.NewItemEventsEventItemRequestBuilder(c.rawURL("/me/events/"+url.PathEscape(id), nil), c.adapter).Delete(ctx, nil)
	return wrap("deleting event "+shortID(id), err)
}

// FindEventByVPID finds an event stamped with vpID; with several, the
// oldest.
func (c *Client) FindEventByVPID(ctx context.Context, vpID string) (syncer.MailboxEvent, bool, error) {
	q := url.Values{
		"$filter": {propFilter(VPIDProperty, vpID)},
		"$expand": {expandProp(VPIDProperty)},
		"$top":    {"2"},
	}
	cfg := &users.ItemEventsRequestBuilderGetRequestConfiguration{Headers: headers("Prefer", textBody)}
	resp, err := users.NewItemEventsRequestBuilder(c.rawURL("/me/events", q), c.adapter).Get(ctx, cfg)
	if err != nil {
		return syncer.MailboxEvent{}, false, wrap("looking up an event by its Vantagepoint id", err)
	}
	if resp == nil {
		return syncer.MailboxEvent{}, false, wrap("looking up an event by its Vantagepoint id", errNoBody)
	}
	for _, v := range resp.GetValue() {
		if v == nil {
			continue
		}
		ev, err := mailboxEvent(v)
		if err != nil {
			return syncer.MailboxEvent{}, false, fmt.Errorf("graph: looking up an event by its Vantagepoint id: %w", err)
		}
		return ev, true, nil
	}
	return syncer.MailboxEvent{}, false, nil
}

// Event reads one event, with its stamp; syncer.ErrNotFound when it does
// not exist.
func (c *Client) Event(ctx context.Context, id string) (syncer.MailboxEvent, error) {
	q := url.Values{"$expand": {expandProp(VPIDProperty)}}
	cfg := &users.ItemEventsEventItemRequestBuilderGetRequestConfiguration{Headers: headers("Prefer", textBody)}
	got, err := users.NewItemEventsEventItemRequestBuilder(c.rawURL("/me/events/"+url.PathEscape(id), q), c.adapter).Get(ctx, cfg)
	if err != nil {
		return syncer.MailboxEvent{}, wrap("reading event "+shortID(id), err)
	}
	if got == nil {
		return syncer.MailboxEvent{}, wrap("reading event "+shortID(id), errNoBody)
	}
	ev, err := mailboxEvent(got)
	if err != nil {
		return syncer.MailboxEvent{}, fmt.Errorf("graph: reading event %s: %w", shortID(id), err)
	}
	return ev, nil
}

// DeleteCategories removes master categories by name (case-insensitive);
// names that are not there are skipped, and a 404 (deleted meanwhile) is
// success.
func (c *Client) DeleteCategories(ctx context.Context, names []string) error {
	resp, err := users.NewItemOutlookMasterCategoriesRequestBuilder(c.rawURL("/me/outlook/masterCategories", nil), c.adapter).Get(ctx, nil)
	if err != nil {
		return wrap("listing master categories", err)
	}
	if resp == nil {
		return wrap("listing master categories", errNoBody)
	}
	drop := map[string]bool{}
	for _, n := range names {
		drop[strings.ToLower(n)] = true
	}
	for _, cat := range resp.GetValue() {
		name := deref(cat.GetDisplayName())
		if !drop[strings.ToLower(name)] || deref(cat.GetId()) == "" {
			continue
		}
		err := users.NewItemOutlookMasterCategoriesOutlookCategoryItemRequestBuilder(c.rawURL("/me/outlook/masterCategories/"+url.PathEscape(deref(cat.GetId())), nil), c.adapter).Delete(ctx, nil)
		if err != nil && !isStatus(err, http.StatusNotFound) {
			return wrap(fmt.Sprintf("deleting the master category %q", name), err)
		}
	}
	return nil
}

// translate sends one translateExchangeIds call. The body is written here,
// not by the SDK's model: msgraph-sdk-go serializes its parameters as
// "InputIds", "SourceIdType" and "TargetIdType", while Graph's names are
// camelCase (the documented request, fixture
// immutableid-translateexchangeids-request.json), and property names are
// case-sensitive on the wire.
func (c *Client) translate(ctx context.Context, ids []string, source, target string) (users.ItemTranslateExchangeIdsPostResponseable, error) {
	raw, err := json.Marshal(struct {
		InputIDs     []string `json:"inputIds"`
		SourceIDType string   `json:"sourceIdType"`
		TargetIDType string   `json:"targetIdType"`
	}{ids, source, target})
	if err != nil {
		return nil, fmt.Errorf("encode the ids to translate: %w", err)
	}
	ri := abstractions.NewRequestInformationWithMethodAndUrlTemplateAndPathParameters(abstractions.POST, "{+baseurl}/me/translateExchangeIds", map[string]string{})
	u, err := url.Parse(c.rawURL("/me/translateExchangeIds", nil))
	if err != nil {
		return nil, fmt.Errorf("build the translateExchangeIds address: %w", err)
	}
	ri.SetUri(*u)
	ri.Headers.TryAdd("Accept", "application/json")
	ri.SetStreamContentAndContentType(raw, "application/json")
	errorMapping := abstractions.ErrorMappings{"XXX": odataerrors.CreateODataErrorFromDiscriminatorValue}
	res, err := c.adapter.Send(ctx, ri, users.CreateItemTranslateExchangeIdsPostResponseFromDiscriminatorValue, errorMapping)
	if err != nil || res == nil {
		return nil, err
	}
	return res.(users.ItemTranslateExchangeIdsPostResponseable), nil
}

// maxTranslateIDs is translateExchangeIds' limit per call (NOTES 22).
const maxTranslateIDs = 1000

// TranslateIDs converts Outlook item ids from sourceType ("ewsId" or
// "restId", what Office.js gives the add-in) to immutable REST ids, the
// form every other request of this client uses (docs/behaviour.md §4, §5.3). The map
// holds the ids Graph translated; an id Graph could not read is missing
// from it.
func (c *Client) TranslateIDs(ctx context.Context, ids []string, sourceType string) (map[string]string, error) {
	src, err := models.ParseExchangeIdFormat(sourceType)
	if err != nil || src == nil {
		return nil, fmt.Errorf("graph: translating ids: unknown id format %q: %w", sourceType, syncer.ErrInvalid)
	}
	out := make(map[string]string, len(ids))
	target := models.RESTIMMUTABLEENTRYID_EXCHANGEIDFORMAT
	for len(ids) > 0 {
		chunk := ids[:min(len(ids), maxTranslateIDs)]
		ids = ids[len(chunk):]
		resp, err := c.translate(ctx, chunk, src.(*models.ExchangeIdFormat).String(), target.String())
		if err != nil {
			return nil, wrap(fmt.Sprintf("translating %d ids", len(chunk)), err)
		}
		if resp == nil {
			return nil, wrap("translating ids", errNoBody)
		}
		for _, r := range resp.GetValue() {
			if r == nil || r.GetErrorDetails() != nil {
				continue
			}
			if s, t := deref(r.GetSourceId()), deref(r.GetTargetId()); s != "" && t != "" {
				out[s] = t
			}
		}
	}
	return out, nil
}
