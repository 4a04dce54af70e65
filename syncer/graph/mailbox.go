package graph

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	abs "github.com/microsoft/kiota-abstractions-go"
	"github.com/microsoftgraph/msgraph-sdk-go/models"
	"github.com/microsoftgraph/msgraph-sdk-go/users"

	"vpconnect/syncer"
)

// Requests are built from raw URLs (base + path + query): the SDK's typed
// builders hang off GraphServiceClient, whose package pulls in every Graph
// area; the raw-URL constructors of the users package and its models are
// all this client needs. Delta cursors are full URLs anyway.

// deltaSelect is what MessageChange needs; delta rounds carry no bodies.
const deltaSelect = "id,internetMessageId,changeKey,subject,from,toRecipients,ccRecipients,sentDateTime,receivedDateTime,categories,isDraft"

// messageSelect adds the body for Message, and whether it has
// attachments (read apart: see Message).
const messageSelect = deltaSelect + ",body,hasAttachments"

// sensitivityFilter expands PidTagSensitivity (docs/behaviour.md §4.1).
const sensitivityFilter = "singleValueExtendedProperties($filter=id eq 'Integer 0x0036')"

func (c *Client) rawURL(path string, q url.Values) string {
	u := c.base + path
	if len(q) > 0 {
		// url.Values.Encode escapes "$" and parentheses; Graph decodes them.
		u += "?" + q.Encode()
	}
	return u
}

func headers(kv ...string) *abs.RequestHeaders {
	h := abs.NewRequestHeaders()
	for i := 0; i+1 < len(kv); i += 2 {
		h.Add(kv[i], kv[i+1])
	}
	return h
}

// Me returns the signed-in user.
func (c *Client) Me(ctx context.Context) (syncer.MailboxUser, error) {
	q := url.Values{"$select": {"id,displayName,mail,userPrincipalName"}}
	u, err := users.NewUserItemRequestBuilder(c.rawURL("/me", q), c.adapter).Get(ctx, nil)
	if err != nil {
		return syncer.MailboxUser{}, wrap("reading the signed-in user", err)
	}
	if u == nil {
		return syncer.MailboxUser{}, wrap("reading the signed-in user", errNoBody)
	}
	return syncer.MailboxUser{ID: deref(u.GetId()), DisplayName: deref(u.GetDisplayName()),
		Mail: deref(u.GetMail()), UserPrincipalName: deref(u.GetUserPrincipalName())}, nil
}

// wellKnownFolders are the names Graph accepts in place of a folder id
// (NOTES 25).
var wellKnownFolders = map[string]bool{
	"archive": true, "clutter": true, "conflicts": true, "conversationhistory": true, "deleteditems": true,
	"drafts": true, "inbox": true, "junkemail": true, "localfailures": true, "msgfolderroot": true,
	"outbox": true, "recoverableitemsdeletions": true, "scheduled": true, "searchfolders": true,
	"sentitems": true, "serverfailures": true, "syncissues": true,
}

// MailFolder resolves a well-known name or the display name of a top-level
// folder (exact match preferred, then case-insensitive).
func (c *Client) MailFolder(ctx context.Context, name string) (syncer.MailFolder, error) {
	if wellKnownFolders[strings.ToLower(name)] {
		f, err := users.NewItemMailFoldersMailFolderItemRequestBuilder(c.rawURL("/me/mailFolders/"+url.PathEscape(strings.ToLower(name)), nil), c.adapter).Get(ctx, nil)
		if err != nil {
			return syncer.MailFolder{}, wrap(fmt.Sprintf("reading the well-known mail folder %q", name), err)
		}
		if f == nil {
			return syncer.MailFolder{}, wrap("reading a mail folder", errNoBody)
		}
		return syncer.MailFolder{ID: deref(f.GetId()), DisplayName: deref(f.GetDisplayName())}, nil
	}
	next := c.rawURL("/me/mailFolders", url.Values{"$top": {"250"}, "$select": {"id,displayName"}})
	var fold *syncer.MailFolder
	for next != "" {
		resp, err := users.NewItemMailFoldersRequestBuilder(next, c.adapter).Get(ctx, nil)
		if err != nil {
			return syncer.MailFolder{}, wrap("listing mail folders", err)
		}
		if resp == nil {
			return syncer.MailFolder{}, wrap("listing mail folders", errNoBody)
		}
		for _, f := range resp.GetValue() {
			dn := deref(f.GetDisplayName())
			if dn == name {
				return syncer.MailFolder{ID: deref(f.GetId()), DisplayName: dn}, nil
			}
			if fold == nil && strings.EqualFold(dn, name) {
				fold = &syncer.MailFolder{ID: deref(f.GetId()), DisplayName: dn}
			}
		}
		next = deref(resp.GetOdataNextLink())
	}
	if fold != nil {
		return *fold, nil
	}
	return syncer.MailFolder{}, fmt.Errorf("graph: there is no top-level mail folder named %q (sync.mailFolders names top-level folders by display name): %w", name, syncer.ErrNotFound)
}

// messageChange maps a delta entry; an entry with @removed carries only
// its id (NOTES 10). kiota keeps unknown members such as "@removed" in the
// model's additional data.
func messageChange(m models.Messageable) syncer.MessageChange {
	ch := syncer.MessageChange{ID: deref(m.GetId())}
	if _, removed := m.GetAdditionalData()["@removed"]; removed {
		ch.Removed = true
		return ch
	}
	ch.InternetMessageID = deref(m.GetInternetMessageId())
	ch.ChangeKey = deref(m.GetChangeKey())
	ch.Subject = deref(m.GetSubject())
	ch.From = recipient(m.GetFrom())
	for _, r := range m.GetToRecipients() {
		ch.To = append(ch.To, recipient(r))
	}
	for _, r := range m.GetCcRecipients() {
		ch.Cc = append(ch.Cc, recipient(r))
	}
	ch.SentAt = utc(m.GetSentDateTime())
	ch.ReceivedAt = utc(m.GetReceivedDateTime())
	ch.Categories = m.GetCategories()
	if d := m.GetIsDraft(); d != nil {
		ch.IsDraft = *d
	}
	return ch
}

func recipient(r models.Recipientable) syncer.Address {
	if r == nil || r.GetEmailAddress() == nil {
		return syncer.Address{}
	}
	e := r.GetEmailAddress()
	return syncer.Address{Name: deref(e.GetName()), Address: deref(e.GetAddress())}
}

func utc(t *time.Time) time.Time {
	if t == nil {
		return time.Time{}
	}
	return t.UTC()
}

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}

// Message reads one message in full: the body converted to text by Graph,
// attachments' names and sizes, and PidTagSensitivity.
func (c *Client) Message(ctx context.Context, id string) (syncer.Message, error) {
	// The extended property and the attachments are read apart: Graph
	// documents each $expand on a message, not the two in one request.
	q := url.Values{
		"$select": {messageSelect},
		"$expand": {sensitivityFilter},
	}
	cfg := &users.ItemMessagesMessageItemRequestBuilderGetRequestConfiguration{
		Headers: headers("Prefer", `outlook.body-content-type="text"`),
	}
	m, err := users.NewItemMessagesMessageItemRequestBuilder(c.rawURL("/me/messages/"+url.PathEscape(id), q), c.adapter).Get(ctx, cfg)
	if err != nil {
		return syncer.Message{}, wrap("reading message "+shortID(id), err)
	}
	if m == nil {
		return syncer.Message{}, wrap("reading message "+shortID(id), errNoBody)
	}
	out := syncer.Message{MessageChange: messageChange(m)}
	if b := m.GetBody(); b != nil {
		out.Body = deref(b.GetContent())
		out.BodyType = syncer.BodyHTML
		if ct := b.GetContentType(); ct != nil && *ct == models.TEXT_BODYTYPE {
			out.BodyType = syncer.BodyText
		}
	}
	if has := m.GetHasAttachments(); has != nil && *has {
		atts, err := c.attachments(ctx, id)
		if err != nil {
			return syncer.Message{}, err
		}
		out.Attachments = atts
	}
	for _, p := range m.GetSingleValueExtendedProperties() {
		if p != nil && isSensitivityTag(deref(p.GetId())) && strings.TrimSpace(deref(p.GetValue())) == "2" {
			out.Private = true
		}
	}
	if len(out.Categories) > 0 {
		// The add-in always sets a category with its choice: a message
		// without any has no choice worth a request.
		if out.Addin, err = c.addin(ctx, id); err != nil {
			return syncer.Message{}, err
		}
	}
	return out, nil
}

// attachments lists a message's attachments, names and sizes only ("List
// attachments"; no content).
func (c *Client) attachments(ctx context.Context, id string) ([]syncer.Attachment, error) {
	q := url.Values{"$select": {"name,size"}}
	resp, err := users.NewItemMessagesItemAttachmentsRequestBuilder(c.rawURL("/me/messages/"+url.PathEscape(id)+"/attachments", q), c.adapter).Get(ctx, nil)
	if err != nil {
		return nil, wrap("listing the attachments of message "+shortID(id), err)
	}
	if resp == nil {
		return nil, wrap("listing the attachments of message "+shortID(id), errNoBody)
	}
	var out []syncer.Attachment
	for _, a := range resp.GetValue() {
		if a == nil {
			continue
		}
		var size int64
		if s := a.GetSize(); s != nil {
			size = int64(*s)
		}
		out = append(out, syncer.Attachment{Name: deref(a.GetName()), Size: size})
	}
	return out, nil
}

// isSensitivityTag recognises "Integer 0x0036" however Graph spells the tag
// back (0x36, 0x0036, any case).
func isSensitivityTag(id string) bool {
	f := strings.Fields(strings.ToLower(id))
	if len(f) != 2 || f[0] != "integer" || !strings.HasPrefix(f[1], "0x") {
		return false
	}
	n, err := strconv.ParseUint(f[1][2:], 16, 32)
	return err == nil && n == 0x36
}

// shortID keeps logs and errors readable: immutable ids are ~150 characters.
func shortID(id string) string {
	if len(id) > 24 {
		return "…" + id[len(id)-20:]
	}
	return id
}

// SetMessageCategories replaces a message's categories and returns the new
// changeKey from the PATCH response.
func (c *Client) SetMessageCategories(ctx context.Context, id string, categories []string) (string, error) {
	body := models.NewMessage()
	if categories == nil {
		categories = []string{}
	}
	body.SetCategories(categories)
	m, err := users.NewItemMessagesMessageItemRequestBuilder(c.rawURL("/me/messages/"+url.PathEscape(id), nil), c.adapter).Patch(ctx, body, nil)
	if err != nil {
		return "", wrap("setting the categories of message "+shortID(id), err)
	}
	if m == nil || deref(m.GetChangeKey()) == "" {
		return "", wrap("setting the categories of message "+shortID(id), errNoBody)
	}
	return deref(m.GetChangeKey()), nil
}

// EnsureCategories creates the master categories that are missing. A 409
// (another client created it meanwhile) counts as success: names are unique.
func (c *Client) EnsureCategories(ctx context.Context, names []string) error {
	resp, err := users.NewItemOutlookMasterCategoriesRequestBuilder(c.rawURL("/me/outlook/masterCategories", nil), c.adapter).Get(ctx, nil)
	if err != nil {
		return wrap("listing master categories", err)
	}
	if resp == nil {
		return wrap("listing master categories", errNoBody)
	}
	have := map[string]bool{}
	for _, cat := range resp.GetValue() {
		have[strings.ToLower(deref(cat.GetDisplayName()))] = true
	}
	for _, n := range names {
		if n == "" || have[strings.ToLower(n)] {
			continue
		}
		cat := models.NewOutlookCategory()
		cat.SetDisplayName(&n)
		color := categoryColor(n)
		cat.SetColor(&color)
		_, err := users.NewItemOutlookMasterCategoriesRequestBuilder(c.rawURL("/me/outlook/masterCategories", nil), c.adapter).Post(ctx, cat, nil)
		if err != nil && !isStatus(err, http.StatusConflict) {
			return wrap(fmt.Sprintf("creating the master category %q", n), err)
		}
		have[strings.ToLower(n)] = true
	}
	return nil
}

// categoryColor picks a preset so that the agent's categories read at a
// glance: red for errors, green for synced, blue otherwise.
func categoryColor(name string) models.CategoryColor {
	l := strings.ToLower(name)
	switch {
	case strings.Contains(l, "error"):
		return models.PRESET0_CATEGORYCOLOR
	case strings.Contains(l, "synced"):
		return models.PRESET4_CATEGORYCOLOR
	}
	return models.PRESET7_CATEGORYCOLOR
}

func isStatus(err error, status int) bool {
	var ae abs.ApiErrorable
	return errors.As(err, &ae) && ae.GetStatusCode() == status
}
