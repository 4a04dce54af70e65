package graph

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"

	"github.com/microsoftgraph/msgraph-sdk-go/models"
	"github.com/microsoftgraph/msgraph-sdk-go/users"

	"vpconnect/syncer"
)

// The agent's named single-value extended properties (docs/behaviour.md §4.5, §11).
// Named properties are a finite mailbox resource, so there are exactly three,
// in one property set of ours; their ids must never change, or marks and
// stamps written by earlier versions become invisible.
const (
	// PropertySetGUID is vpconnect's MAPI property set.
	PropertySetGUID = "{4d8f6c1e-2b7a-4e3f-9c5d-8a1b0e7f3c26}"
	// VPIDProperty stamps a contact or event the agent created with the
	// Vantagepoint ContactID or ActivityID it mirrors.
	VPIDProperty = "String " + PropertySetGUID + " Name VantagepointId"
	// MailboxMarkProperty marks the agent's contact folder with the
	// Vantagepoint URL, database and employee the mailbox is linked to.
	MailboxMarkProperty = "String " + PropertySetGUID + " Name VantagepointMailbox"
	// MailboxLeaseProperty holds the lease of the agent that syncs the
	// mailbox (docs/behaviour.md §5.5: one agent per mailbox), on the same folder.
	MailboxLeaseProperty = "String " + PropertySetGUID + " Name VantagepointLease"
)

var (
	_ syncer.MailboxContacts   = (*Client)(nil)
	_ syncer.MailboxCalendar   = (*Client)(nil)
	_ syncer.MailboxItemReader = (*Client)(nil)
	_ syncer.MailboxLeases     = (*Client)(nil)
)

// contactSelect is what MailboxContact needs (docs/behaviour.md §4.2).
const contactSelect = "id,changeKey,lastModifiedDateTime,givenName,surname,nickName,emailAddresses,businessPhones,mobilePhone,jobTitle,companyName"

// odataString quotes a string literal for $filter: quotes are doubled.
func odataString(s string) string { return "'" + strings.ReplaceAll(s, "'", "''") + "'" }

// expandProp expands one extended property: Graph returns it only when
// asked, and only the ones named.
func expandProp(id string) string {
	return "singleValueExtendedProperties($filter=id eq " + odataString(id) + ")"
}

// propFilter finds items whose extended property has a value.
func propFilter(id, value string) string {
	return "singleValueExtendedProperties/Any(ep: ep/id eq " + odataString(id) + " and ep/value eq " + odataString(value) + ")"
}

// propValue reads an expanded property, comparing ids case-insensitively:
// Graph may spell the type or GUID differently from the request.
func propValue(props []models.SingleValueLegacyExtendedPropertyable, id string) string {
	want := strings.ToLower(strings.Join(strings.Fields(id), " "))
	for _, p := range props {
		if p != nil && strings.ToLower(strings.Join(strings.Fields(deref(p.GetId())), " ")) == want {
			return deref(p.GetValue())
		}
	}
	return ""
}

func newProp(id, value string) models.SingleValueLegacyExtendedPropertyable {
	p := models.NewSingleValueLegacyExtendedProperty()
	p.SetId(&id)
	p.SetValue(&value)
	return p
}

// ContactFolder finds a top-level contact folder by display name: an exact
// match first, then a case-insensitive one (Graph's $filter on displayName
// ignores case).
func (c *Client) ContactFolder(ctx context.Context, name string) (syncer.ContactFolder, bool, error) {
	next := c.rawURL("/me/contactFolders", url.Values{
		"$filter": {"displayName eq " + odataString(name)},
		"$select": {"id,displayName"},
		"$top":    {"100"},
	})
	var fold *syncer.ContactFolder
	for next != "" {
		resp, err := users.NewItemContactFoldersRequestBuilder(next, c.adapter).Get(ctx, nil)
		if err != nil {
			return syncer.ContactFolder{}, false, wrap(fmt.Sprintf("looking up the contact folder %q", name), err)
		}
		if resp == nil {
			return syncer.ContactFolder{}, false, wrap("looking up a contact folder", errNoBody)
		}
		for _, f := range resp.GetValue() {
			cf := syncer.ContactFolder{ID: deref(f.GetId()), DisplayName: deref(f.GetDisplayName())}
			if cf.DisplayName == name {
				return cf, true, nil
			}
			if fold == nil && strings.EqualFold(cf.DisplayName, name) {
				fold = &cf
			}
		}
		next = deref(resp.GetOdataNextLink())
	}
	if fold != nil {
		return *fold, true, nil
	}
	return syncer.ContactFolder{}, false, nil
}

// CreateContactFolder creates a top-level contact folder. When one of that
// name exists already (409: a create whose answer was lost, or another
// client), that folder is returned: names are unique among siblings.
func (c *Client) CreateContactFolder(ctx context.Context, name string) (syncer.ContactFolder, error) {
	body := models.NewContactFolder()
	body.SetDisplayName(&name)
	f, err := users.NewItemContactFoldersRequestBuilder(c.rawURL("/me/contactFolders", nil), c.adapter).Post(ctx, body, nil)
	if isStatus(err, http.StatusConflict) {
		if got, found, ferr := c.ContactFolder(ctx, name); ferr == nil && found {
			return got, nil
		}
	}
	if err != nil {
		return syncer.ContactFolder{}, wrap(fmt.Sprintf("creating the contact folder %q", name), err)
	}
	if f == nil || deref(f.GetId()) == "" {
		return syncer.ContactFolder{}, wrap("creating a contact folder", errNoBody)
	}
	return syncer.ContactFolder{ID: deref(f.GetId()), DisplayName: deref(f.GetDisplayName())}, nil
}

// DeleteContactFolder deletes a contact folder with its contacts.
func (c *Client) DeleteContactFolder(ctx context.Context, id string) error {
	err := users.NewItemContactFoldersContactFolderItemRequestBuilder(c.rawURL("/me/contactFolders/"+url.PathEscape(id), nil), c.adapter).Delete(ctx, nil)
	return wrap("deleting contact folder "+shortID(id), err)
}

// MailboxMark reads the agent's mark on a contact folder; "" when unmarked.
func (c *Client) MailboxMark(ctx context.Context, folderID string) (string, error) {
	q := url.Values{"$select": {"id,displayName"}, "$expand": {expandProp(MailboxMarkProperty)}}
	f, err := users.NewItemContactFoldersContactFolderItemRequestBuilder(c.rawURL("/me/contactFolders/"+url.PathEscape(folderID), q), c.adapter).Get(ctx, nil)
	if err != nil {
		return "", wrap("reading the mailbox mark", err)
	}
	if f == nil {
		return "", wrap("reading the mailbox mark", errNoBody)
	}
	return propValue(f.GetSingleValueExtendedProperties(), MailboxMarkProperty), nil
}

// SetMailboxMark writes the agent's mark on a contact folder. A folder
// cannot carry open extensions, so it is a named extended property
// (docs/behaviour.md §4.5).
func (c *Client) SetMailboxMark(ctx context.Context, folderID, value string) error {
	body := models.NewContactFolder()
	body.SetSingleValueExtendedProperties([]models.SingleValueLegacyExtendedPropertyable{newProp(MailboxMarkProperty, value)})
	_, err := users.NewItemContactFoldersContactFolderItemRequestBuilder(c.rawURL("/me/contactFolders/"+url.PathEscape(folderID), nil), c.adapter).Patch(ctx, body, nil)
	return wrap("writing the mailbox mark", err)
}

// MailboxLease reads the lease on a contact folder; "" when it has none.
func (c *Client) MailboxLease(ctx context.Context, folderID string) (string, error) {
	q := url.Values{"$select": {"id"}, "$expand": {expandProp(MailboxLeaseProperty)}}
	f, err := users.NewItemContactFoldersContactFolderItemRequestBuilder(c.rawURL("/me/contactFolders/"+url.PathEscape(folderID), q), c.adapter).Get(ctx, nil)
	if err != nil {
		return "", wrap("reading the mailbox lease", err)
	}
	if f == nil {
		return "", wrap("reading the mailbox lease", errNoBody)
	}
	return propValue(f.GetSingleValueExtendedProperties(), MailboxLeaseProperty), nil
}

// SetMailboxLease writes the lease on a contact folder. The write is not
// conditional: a contactFolder has no changeKey or etag to send in
// If-Match (its properties are id, displayName and parentFolderId:
// https://learn.microsoft.com/graph/api/resources/contactfolder), unlike a
// contact or an event. Other properties of the folder (the mark) are kept:
// a PATCH of singleValueExtendedProperties creates or updates only the
// ones it names
// (https://learn.microsoft.com/graph/api/singlevaluelegacyextendedproperty-post-singlevalueextendedproperties).
func (c *Client) SetMailboxLease(ctx context.Context, folderID, value string) error {
	body := models.NewContactFolder()
	body.SetSingleValueExtendedProperties([]models.SingleValueLegacyExtendedPropertyable{newProp(MailboxLeaseProperty, value)})
	_, err := users.NewItemContactFoldersContactFolderItemRequestBuilder(c.rawURL("/me/contactFolders/"+url.PathEscape(folderID), nil), c.adapter).Patch(ctx, body, nil)
	return wrap("writing the mailbox lease", err)
}

// mailboxContact maps a contact (docs/behaviour.md §4.2: the first e-mail address, the
// first business phone); an @removed entry carries only its id.
func mailboxContact(m models.Contactable) syncer.MailboxContact {
	out := syncer.MailboxContact{ID: deref(m.GetId())}
	if _, removed := m.GetAdditionalData()["@removed"]; removed {
		out.Removed = true
		return out
	}
	out.ChangeKey = deref(m.GetChangeKey())
	out.GivenName = deref(m.GetGivenName())
	out.Surname = deref(m.GetSurname())
	out.NickName = deref(m.GetNickName())
	for _, e := range m.GetEmailAddresses() {
		if e != nil && deref(e.GetAddress()) != "" {
			out.Email = deref(e.GetAddress())
			break
		}
	}
	if p := m.GetBusinessPhones(); len(p) > 0 {
		out.BusinessPhone = p[0]
	}
	out.MobilePhone = deref(m.GetMobilePhone())
	out.JobTitle = deref(m.GetJobTitle())
	out.CompanyName = deref(m.GetCompanyName())
	out.LastModified = utc(m.GetLastModifiedDateTime())
	out.VPID = propValue(m.GetSingleValueExtendedProperties(), VPIDProperty)
	return out
}

// contactBody builds the mapped fields of a contact for POST or PATCH.
// emails and phones are the contact's current lists, whose first entries
// the mapped fields replace; the others are kept (docs/behaviour.md §4.2 maps the first
// only, and a user's second address must survive a sync).
func contactBody(mc syncer.MailboxContact, emails []models.EmailAddressable, phones []string) *models.Contact {
	b := models.NewContact()
	b.SetGivenName(&mc.GivenName)
	b.SetSurname(&mc.Surname)
	b.SetNickName(&mc.NickName)
	b.SetMobilePhone(&mc.MobilePhone)
	b.SetJobTitle(&mc.JobTitle)
	b.SetCompanyName(&mc.CompanyName)
	display := strings.TrimSpace(mc.GivenName + " " + mc.Surname)
	b.SetDisplayName(&display)

	var keptEmails []models.EmailAddressable
	if len(emails) > 1 {
		keptEmails = emails[1:]
	}
	outEmails := []models.EmailAddressable{}
	if mc.Email != "" {
		e := models.NewEmailAddress()
		addr, name := mc.Email, display
		e.SetAddress(&addr)
		e.SetName(&name)
		outEmails = append(outEmails, e)
	}
	b.SetEmailAddresses(append(outEmails, keptEmails...))

	var keptPhones []string
	if len(phones) > 1 {
		keptPhones = phones[1:]
	}
	outPhones := []string{}
	if mc.BusinessPhone != "" {
		outPhones = append(outPhones, mc.BusinessPhone)
	}
	b.SetBusinessPhones(append(outPhones, keptPhones...))
	return b
}

// CreateContact creates a contact in a folder, stamped with VPID when set.
func (c *Client) CreateContact(ctx context.Context, folderID string, mc syncer.MailboxContact) (syncer.MailboxContact, error) {
	body := contactBody(mc, nil, nil)
	if mc.VPID != "" {
		body.SetSingleValueExtendedProperties([]models.SingleValueLegacyExtendedPropertyable{newProp(VPIDProperty, mc.VPID)})
	}
	got, err := users.NewItemContactFoldersItemContactsRequestBuilder(c.rawURL("/me/contactFolders/"+url.PathEscape(folderID)+"/contacts", nil), c.adapter).Post(ctx, body, nil)
	if err != nil {
		return syncer.MailboxContact{}, wrap("creating a contact", err)
	}
	if got == nil || deref(got.GetId()) == "" {
		return syncer.MailboxContact{}, wrap("creating a contact", errNoBody)
	}
	out := mailboxContact(got)
	out.VPID = mc.VPID // the POST answer does not expand it
	return out, nil
}

// UpdateContact writes the mapped fields of a contact. It reads the
// contact's e-mail addresses and business phones first, so that the ones
// beyond the first, which are not mapped, are kept. With mc.ChangeKey the
// PATCH carries If-Match: a contact changed since that version (by the user,
// or between the read and the PATCH) is not written: syncer.ErrConflict.
func (c *Client) UpdateContact(ctx context.Context, mc syncer.MailboxContact) (syncer.MailboxContact, error) {
	item := c.rawURL("/me/contacts/"+url.PathEscape(mc.ID), nil)
	cur, err := users.NewItemContactsContactItemRequestBuilder(c.rawURL("/me/contacts/"+url.PathEscape(mc.ID), url.Values{"$select": {"emailAddresses,businessPhones"}}), c.adapter).Get(ctx, nil)
	if err != nil {
		return syncer.MailboxContact{}, wrap("reading contact "+shortID(mc.ID)+" before updating it", err)
	}
	if cur == nil {
		return syncer.MailboxContact{}, wrap("reading contact "+shortID(mc.ID), errNoBody)
	}
	var cfg *users.ItemContactsContactItemRequestBuilderPatchRequestConfiguration
	if v := ifMatch(mc.ChangeKey); v != "" {
		cfg = &users.ItemContactsContactItemRequestBuilderPatchRequestConfiguration{Headers: headers("If-Match", v)}
	}
	got, err := users.NewItemContactsContactItemRequestBuilder(item, c.adapter).Patch(ctx, contactBody(mc, cur.GetEmailAddresses(), cur.GetBusinessPhones()), cfg)
	if err != nil {
		return syncer.MailboxContact{}, wrap("updating contact "+shortID(mc.ID), err)
	}
	if got == nil || deref(got.GetChangeKey()) == "" {
		return syncer.MailboxContact{}, wrap("updating contact "+shortID(mc.ID), errNoBody)
	}
	out := mailboxContact(got)
	out.VPID = mc.VPID
	return out, nil
}

// DeleteContact deletes a contact; syncer.ErrNotFound when it is gone.
func (c *Client) DeleteContact(ctx context.Context, id string) error {
	err := users.NewItemContactsContactItemRequestBuilder(c.rawURL("/me/contacts/"+url.PathEscape(id), nil), c.adapter).Delete(ctx, nil)
	return wrap("deleting contact "+shortID(id), err)
}

// FindContactByVPID finds a contact of the folder stamped with vpID; with
// several (which only a bug could make), the first listed. Graph documents
// a $filter on a string extended property for messages and events only,
// so the folder is listed (ids and stamps only, in pages of 1,000): this
// runs only to settle an interrupted create.
func (c *Client) FindContactByVPID(ctx context.Context, folderID, vpID string) (syncer.MailboxContact, bool, error) {
	q := url.Values{
		"$expand": {expandProp(VPIDProperty)},
		"$select": {"id"},
		"$top":    {"1000"},
	}
	next := c.rawURL("/me/contactFolders/"+url.PathEscape(folderID)+"/contacts", q)
	for next != "" {
		resp, err := users.NewItemContactFoldersItemContactsRequestBuilder(next, c.adapter).Get(ctx, nil)
		if err != nil {
			return syncer.MailboxContact{}, false, wrap("looking up a contact by its Vantagepoint id", err)
		}
		if resp == nil {
			return syncer.MailboxContact{}, false, wrap("looking up a contact by its Vantagepoint id", errNoBody)
		}
		for _, v := range resp.GetValue() {
			if v != nil && propValue(v.GetSingleValueExtendedProperties(), VPIDProperty) == vpID {
				got, err := c.Contact(ctx, deref(v.GetId()))
				if errors.Is(err, syncer.ErrNotFound) {
					continue // deleted since the listing
				}
				if err != nil {
					return syncer.MailboxContact{}, false, err
				}
				return got, true, nil
			}
		}
		next = deref(resp.GetOdataNextLink())
	}
	return syncer.MailboxContact{}, false, nil
}

// Contact reads one contact, with its stamp; syncer.ErrNotFound when it
// does not exist.
func (c *Client) Contact(ctx context.Context, id string) (syncer.MailboxContact, error) {
	q := url.Values{"$select": {contactSelect}, "$expand": {expandProp(VPIDProperty)}}
	got, err := users.NewItemContactsContactItemRequestBuilder(c.rawURL("/me/contacts/"+url.PathEscape(id), q), c.adapter).Get(ctx, nil)
	if err != nil {
		return syncer.MailboxContact{}, wrap("reading contact "+shortID(id), err)
	}
	if got == nil {
		return syncer.MailboxContact{}, wrap("reading contact "+shortID(id), errNoBody)
	}
	return mailboxContact(got), nil
}
