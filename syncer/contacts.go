package syncer

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"vpconnect/syncer/store"
)

// contactKind syncs the contact folder with the user's Vantagepoint
// contacts (docs/behaviour.md §4.2). One is made per batch, so its caches (firm names)
// live for one batch.
type contactKind struct {
	e      *Engine
	mb     MailboxContacts
	reader MailboxItemReader
	vp     VantagepointRecords
	folder string
	// firms, loaded once per batch when a contact needs one: ClientID →
	// name, and lower-cased name → ClientID (exact match, docs/behaviour.md §4.2).
	firmName   map[string]string
	firmByName map[string]string
}

const metaContactFolder = "contact_folder_id"

func (e *Engine) newContactKind() *contactKind {
	k := &contactKind{e: e}
	k.mb, _ = e.mailbox.(MailboxContacts)
	k.reader, _ = e.mailbox.(MailboxItemReader)
	k.vp, _ = e.vp.(VantagepointRecords)
	return k
}

func (k *contactKind) name() string { return TypeContacts }
func (k *contactKind) noun() string { return "contact" }

func (k *contactKind) ready(ctx context.Context) (bool, string, error) {
	if k.mb == nil || k.vp == nil || k.reader == nil {
		return false, "the services do not support contacts", nil
	}
	err := k.e.store.View(ctx, func(tx *store.Tx) error {
		var err error
		k.folder, err = tx.Meta(metaContactFolder)
		return err
	})
	if err != nil {
		return false, "", err
	}
	if k.folder == "" {
		return false, "the mailbox is not initialized", nil
	}
	return true, "", nil
}

func (k *contactKind) mailboxCursorKey() string { return "contacts:" + k.folder }

func norm(s string) string { return strings.TrimSpace(strings.ReplaceAll(s, "\r\n", "\n")) }

func contactLabel(first, last, email string) string {
	name := strings.TrimSpace(first + " " + last)
	switch {
	case name == "":
		return email
	case email == "":
		return name
	}
	return name + " <" + email + ">"
}

func (k *contactKind) fromMailbox(c MailboxContact) item {
	if c.Removed {
		return item{id: c.ID, removed: true}
	}
	f := map[string]string{
		"first": norm(c.GivenName), "last": norm(c.Surname), "preferred": norm(c.NickName),
		"email": normalizeAddress(c.Email), "phone": norm(c.BusinessPhone), "cell": norm(c.MobilePhone),
		"title": norm(c.JobTitle), "company": norm(c.CompanyName),
	}
	return item{id: c.ID, modified: c.LastModified, fields: f, label: contactLabel(c.GivenName, c.Surname, c.Email), raw: c, version: c.ChangeKey}
}

func (k *contactKind) loadFirms(ctx context.Context) error {
	if k.firmName != nil {
		return nil
	}
	names, byName := map[string]string{}, map[string]string{}
	err := k.vp.ListFirms(ctx, func(fs []Firm) error {
		for _, f := range fs {
			names[f.ID] = f.Name
			key := strings.ToLower(strings.TrimSpace(f.Name))
			if _, dup := byName[key]; dup {
				byName[key] = "" // two firms of that name: no exact match
			} else {
				byName[key] = f.ID
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("list Vantagepoint firms: %w", err)
	}
	k.firmName, k.firmByName = names, byName
	return nil
}

func (k *contactKind) fromVP(ctx context.Context, c Contact) (item, error) {
	company := ""
	if c.ClientID != "" {
		if err := k.loadFirms(ctx); err != nil {
			return item{}, err
		}
		company = k.firmName[c.ClientID]
	}
	f := map[string]string{
		"first": norm(c.FirstName), "last": norm(c.LastName), "preferred": norm(c.PreferredName),
		"email": normalizeAddress(c.Email), "phone": norm(c.Phone), "cell": norm(c.CellPhone),
		"title": norm(c.Title), "company": norm(company),
	}
	it := item{id: c.ID, modified: c.ModDate, fields: f, label: contactLabel(c.FirstName, c.LastName, c.Email), raw: c}
	switch {
	case c.Status != "" && c.Status != "A":
		it.outOfScope = "inactive"
	case !strings.EqualFold(c.Owner, k.e.opts.Employee):
		it.outOfScope = "owned by another employee"
	}
	return it, nil
}

func (k *contactKind) mailboxRound(ctx context.Context, cursor string, fn func(item) error) (string, error) {
	return k.mb.ContactChanges(ctx, k.folder, cursor, func(cs []MailboxContact) error {
		for _, c := range cs {
			if err := fn(k.fromMailbox(c)); err != nil {
				return err
			}
		}
		return nil
	})
}

func (k *contactKind) sides() [2]side { return [2]side{contactMailbox{k}, contactVP{k}} }

// contactMailbox is the mailbox side of contacts: the agent's contact
// folder.
type contactMailbox struct{ *contactKind }

func (s contactMailbox) list(ctx context.Context) (listing, error) {
	return s.e.deltaListing(ctx, s.name(), s.mailboxCursorKey(), s.mailboxRound)
}

func (s contactMailbox) get(ctx context.Context, id string) (item, bool, error) {
	c, found, err := lookup(s.reader.Contact(ctx, id))
	if !found {
		return item{}, false, err
	}
	return s.fromMailbox(c), true, nil
}

// contactVP is the Vantagepoint side of contacts: the user's contacts.
type contactVP struct{ *contactKind }

func (s contactVP) list(ctx context.Context) (listing, error) {
	return s.e.watermarkListing(ctx, s.name(), s.listSince)
}

func (s contactVP) listAll(ctx context.Context, fn func(item) error) error {
	return s.listSince(ctx, time.Time{}, fn)
}

func (k *contactKind) listSince(ctx context.Context, since time.Time, fn func(item) error) error {
	// Inactive contacts are listed too, so that one leaving the scope is
	// seen as such and not as a deletion.
	return k.e.vp.Contacts(ctx, ContactQuery{Owner: k.e.opts.Employee, ModifiedSince: since}, func(cs []Contact) error {
		for _, c := range cs {
			it, err := k.fromVP(ctx, c)
			if err != nil {
				return err
			}
			if err := fn(it); err != nil {
				return err
			}
		}
		return nil
	})
}

func (s contactVP) get(ctx context.Context, id string) (item, bool, error) {
	c, found, err := lookup(s.vp.Contact(ctx, id))
	if !found {
		return item{}, false, err
	}
	it, err := s.fromVP(ctx, c)
	return it, err == nil, err
}

// firmFor maps a company name typed in Outlook to a firm: exact name,
// case-insensitive. ok is false when none (or two) match.
func (k *contactKind) firmFor(ctx context.Context, company string) (string, bool, error) {
	if company == "" {
		return "", true, nil
	}
	if err := k.loadFirms(ctx); err != nil {
		return "", false, err
	}
	id := k.firmByName[strings.ToLower(strings.TrimSpace(company))]
	return id, id != "", nil
}

func (k *contactKind) applyToVP(ctx context.Context, c *Contact, src item) error {
	f := src.fields
	c.FirstName, c.LastName, c.PreferredName = f["first"], f["last"], f["preferred"]
	c.Email, c.Phone, c.CellPhone, c.Title = f["email"], f["phone"], f["cell"], f["title"]
	if raw, ok := src.raw.(MailboxContact); ok && raw.Email != "" {
		c.Email = strings.TrimSpace(raw.Email) // keep the case the user typed
	}
	id, ok, err := k.firmFor(ctx, f["company"])
	if err != nil {
		return err
	}
	switch {
	case ok:
		c.ClientID = id
	case k.e.opts.CreateFirms && k.firmByName[strings.ToLower(strings.TrimSpace(f["company"]))] == "" &&
		!k.ambiguousFirm(f["company"]):
		firm, err := k.createFirm(ctx, f["company"])
		if err != nil {
			return err
		}
		c.ClientID = firm.ID
	default:
		// A new firm is never created unless sync.createFirms is on (docs/behaviour.md
		// §4.2): the contact keeps its firm, and the log says why.
		k.e.log.Info("no Vantagepoint firm has the company name typed in Outlook", "contact", src.label)
	}
	return nil
}

// ambiguousFirm reports two firms of the company's name: creating a third
// would not help.
func (k *contactKind) ambiguousFirm(company string) bool {
	id, found := k.firmByName[strings.ToLower(strings.TrimSpace(company))]
	return found && id == ""
}

// createFirm creates the firm a company name typed in Outlook names. No
// journal entry is needed: the firm listing of every batch is its natural
// key, so after a crash the firm is found by name instead of created again.
func (k *contactKind) createFirm(ctx context.Context, company string) (Firm, error) {
	firm, err := k.vp.CreateFirm(ctx, Firm{Name: strings.TrimSpace(company)})
	if err != nil {
		return Firm{}, fmt.Errorf("create firm %q: %w", company, err)
	}
	if firm.Name == "" {
		firm.Name = strings.TrimSpace(company)
	}
	k.firmName[firm.ID] = firm.Name
	k.firmByName[strings.ToLower(firm.Name)] = firm.ID
	return firm, nil
}

func (s contactMailbox) asCreated(_ context.Context, src item) (item, error) {
	return s.fromMailbox(toMailboxContact(src)), nil
}

// asCreated: the company is the firm found by its name (a firm
// sync.createFirms made is found too), or none.
func (s contactVP) asCreated(ctx context.Context, src item) (item, error) {
	k := s.contactKind
	f := src.fields
	c := Contact{Owner: k.e.opts.Employee, Status: "A", FirstName: f["first"], LastName: f["last"], PreferredName: f["preferred"],
		Email: f["email"], Phone: f["phone"], CellPhone: f["cell"], Title: f["title"]}
	if raw, ok := src.raw.(MailboxContact); ok && raw.Email != "" {
		c.Email = strings.TrimSpace(raw.Email)
	}
	if c.LastName == "" {
		c.LastName, c.FirstName = c.FirstName, ""
	}
	id, ok, err := k.firmFor(ctx, f["company"])
	if err != nil {
		return item{}, err
	}
	if ok {
		c.ClientID = id
	}
	return k.fromVP(ctx, c)
}

func (s contactVP) create(ctx context.Context, src item) (item, error) {
	k := s.contactKind
	if src.fields["last"] == "" && src.fields["first"] == "" {
		return item{}, fmt.Errorf("%w: a Vantagepoint contact needs a name", ErrInvalid)
	}
	c := Contact{Owner: k.e.opts.Employee, Status: "A"}
	if err := k.applyToVP(ctx, &c, src); err != nil {
		return item{}, err
	}
	if c.LastName == "" {
		c.LastName, c.FirstName = c.FirstName, ""
	}
	got, err := k.vp.CreateContact(ctx, c)
	if err != nil {
		return item{}, err
	}
	k.e.indexContact(ctx, got)
	return k.fromVP(ctx, got)
}

func (s contactVP) update(ctx context.Context, vpID string, base version, src item) (item, error) {
	k := s.contactKind
	cur, err := k.vp.Contact(ctx, vpID)
	if err != nil {
		return item{}, err
	}
	was, err := k.fromVP(ctx, cur)
	if err != nil {
		return item{}, err
	}
	if done, err := checkBase(was, base, src, "Vantagepoint contact "+vpID); done || err != nil {
		return was, err
	}
	if err := k.applyToVP(ctx, &cur, src); err != nil {
		return item{}, err
	}
	got, err := k.vp.UpdateContact(ctx, cur)
	if err != nil {
		return item{}, err
	}
	if got.ID == "" {
		got = cur
	}
	k.e.indexContact(ctx, got)
	return k.fromVP(ctx, got)
}

func (s contactVP) remove(ctx context.Context, id string) error {
	err := s.vp.DeleteContact(ctx, id)
	if err == nil || errors.Is(err, ErrNotFound) {
		s.e.unindexContact(ctx, id)
	}
	return err
}

func toMailboxContact(src item) MailboxContact {
	f := src.fields
	c := MailboxContact{GivenName: f["first"], Surname: f["last"], NickName: f["preferred"], Email: f["email"],
		BusinessPhone: f["phone"], MobilePhone: f["cell"], JobTitle: f["title"], CompanyName: f["company"]}
	if raw, ok := src.raw.(Contact); ok && raw.Email != "" {
		c.Email = strings.TrimSpace(raw.Email)
	}
	return c
}

func (s contactMailbox) create(ctx context.Context, src item) (item, error) {
	c := toMailboxContact(src)
	c.VPID = src.id
	got, err := s.mb.CreateContact(ctx, s.folder, c)
	if err != nil {
		return item{}, err
	}
	return s.fromMailbox(got), nil
}

func (s contactMailbox) update(ctx context.Context, id string, base version, src item) (item, error) {
	return updateBasedOn(ctx, s.noun(), s.get, s.put, id, base, src)
}

// put writes src onto the Outlook contact mbID if its changeKey is still
// version ("" writes unconditionally).
func (s contactMailbox) put(ctx context.Context, mbID, version string, src item) (item, error) {
	c := toMailboxContact(src)
	c.ID, c.ChangeKey = mbID, version
	got, err := s.mb.UpdateContact(ctx, c)
	if err != nil {
		return item{}, err
	}
	return s.fromMailbox(got), nil
}

func (s contactMailbox) remove(ctx context.Context, id string) error {
	return s.mb.DeleteContact(ctx, id)
}

func (s contactVP) findCopy(ctx context.Context, src item, taken func(string) bool) (item, bool, error) {
	return findRecovered(ctx, s.matchKeys, src, s.listAll, taken)
}

// findCopy finds the contact a create made by the record id stamped on it.
func (s contactMailbox) findCopy(ctx context.Context, src item, _ func(string) bool) (item, bool, error) {
	c, ok, err := s.mb.FindContactByVPID(ctx, s.folder, src.id)
	if err != nil || !ok {
		return item{}, false, err
	}
	return s.fromMailbox(c), true, nil
}

// matchKeys: by e-mail, then by first or preferred name + last name + firm
// name, all case-insensitive (docs/behaviour.md §4.2).
func (k *contactKind) matchKeys(it item) []string {
	f := it.fields
	var keys []string
	if f["email"] != "" {
		keys = append(keys, "email:"+f["email"])
	}
	last, company := strings.ToLower(f["last"]), strings.ToLower(f["company"])
	for _, first := range []string{f["first"], f["preferred"]} {
		if first != "" && last != "" {
			key := "name:" + strings.ToLower(first) + " " + last + " (" + company + ")"
			if !contains(keys, key) {
				keys = append(keys, key)
			}
		}
	}
	return keys
}
