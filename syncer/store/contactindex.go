package store

import (
	"errors"
	"fmt"
	"strings"
	"time"
)

// IndexedContact is one Vantagepoint contact with an e-mail address as the
// contact index keeps it: what linking an e-mail or a meeting attendee to a
// contact needs, and the ModDate it was listed with.
type IndexedContact struct {
	ContactID string
	ClientID  string
	FirstName string
	LastName  string
	// Email is the address as Vantagepoint has it; the index looks it up
	// trimmed and lower-cased (EmailKey).
	Email   string
	Status  string // ContactStatus: A or I
	ModDate time.Time
}

// EmailKey is how the index compares addresses: trimmed and lower-cased,
// as the engine compares a correspondent's address with a contact's.
func EmailKey(address string) string { return strings.ToLower(strings.TrimSpace(address)) }

// ContactIndexMarks say how current the contact index is. The index is a
// cache: zero marks mean there is none, and the engine lists every contact.
type ContactIndexMarks struct {
	// HighWater is the latest ModDate seen in a listing of the contacts
	// (the server's clock, never the agent's): the next incremental
	// listing starts from it.
	HighWater time.Time
	// FullListed is when the index was last replaced by a listing of every
	// contact (the agent's clock); zero when it never was.
	FullListed time.Time
	// Source names what the index was listed from and how (the engine's
	// choice); the engine takes an index of another source for none.
	Source string
}

// The marks are meta values.
const (
	metaContactIndexHighWater = "contact_index:high_water"
	metaContactIndexFull      = "contact_index:full_listed"
	metaContactIndexSource    = "contact_index:source"
)

const contactIndexColumns = `contact_id, client_id, first_name, last_name, email, status, mod_date`

// ContactIndexMarks returns the marks of the contact index.
func (t *Tx) ContactIndexMarks() (ContactIndexMarks, error) {
	var m ContactIndexMarks
	hw, err := t.Meta(metaContactIndexHighWater)
	if err != nil {
		return m, err
	}
	full, err := t.Meta(metaContactIndexFull)
	if err != nil {
		return m, err
	}
	if m.Source, err = t.Meta(metaContactIndexSource); err != nil {
		return m, err
	}
	m.HighWater, m.FullListed = parseTime(hw), parseTime(full)
	return m, nil
}

// SetContactIndexMarks saves the marks of the contact index; write them in
// the transaction that writes the rows they describe.
func (t *Tx) SetContactIndexMarks(m ContactIndexMarks) error {
	for _, kv := range [][2]string{
		{metaContactIndexHighWater, fmtTime(m.HighWater)},
		{metaContactIndexFull, fmtTime(m.FullListed)},
		{metaContactIndexSource, m.Source},
	} {
		if err := t.SetMeta(kv[0], kv[1]); err != nil {
			return err
		}
	}
	return nil
}

// PutIndexedContacts adds contacts to the index or replaces them (by
// ContactID, so a changed address moves). A contact without an e-mail
// address leaves the index.
func (t *Tx) PutIndexedContacts(cs ...IndexedContact) error {
	if t.readOnly {
		return errors.New("store: write in a read-only transaction")
	}
	if len(cs) == 0 {
		return nil
	}
	put, err := t.tx.Prepare(`INSERT INTO contact_index(email_key, ` + contactIndexColumns + `) VALUES(?, ?, ?, ?, ?, ?, ?, ?)
		ON CONFLICT(contact_id) DO UPDATE SET email_key = excluded.email_key, client_id = excluded.client_id,
			first_name = excluded.first_name, last_name = excluded.last_name, email = excluded.email,
			status = excluded.status, mod_date = excluded.mod_date`)
	if err != nil {
		return fmt.Errorf("index contacts: %w", err)
	}
	defer put.Close()
	for _, c := range cs {
		key := EmailKey(c.Email)
		if key == "" {
			if err := t.DeleteIndexedContact(c.ContactID); err != nil {
				return err
			}
			continue
		}
		if _, err := put.Exec(key, c.ContactID, c.ClientID, c.FirstName, c.LastName, c.Email, c.Status, fmtTime(c.ModDate)); err != nil {
			return fmt.Errorf("index contact %s: %w", c.ContactID, err)
		}
	}
	return nil
}

// DeleteIndexedContact removes a contact from the index.
func (t *Tx) DeleteIndexedContact(contactID string) error {
	if _, err := t.exec(`DELETE FROM contact_index WHERE contact_id = ?`, contactID); err != nil {
		return fmt.Errorf("remove contact %s from the index: %w", contactID, err)
	}
	return nil
}

// ClearContactIndex removes every contact and the marks: there is no index
// any more.
func (t *Tx) ClearContactIndex() error {
	if _, err := t.exec(`DELETE FROM contact_index`); err != nil {
		return fmt.Errorf("clear the contact index: %w", err)
	}
	return t.SetContactIndexMarks(ContactIndexMarks{})
}

func scanIndexedContact(r scanner) (IndexedContact, error) {
	var c IndexedContact
	var mod string
	err := r.Scan(&c.ContactID, &c.ClientID, &c.FirstName, &c.LastName, &c.Email, &c.Status, &mod)
	c.ModDate = parseTime(mod)
	return c, err
}

// IndexedContacts calls fn for every contact of the index, streaming them.
func (t *Tx) IndexedContacts(fn func(IndexedContact) error) error {
	rows, err := t.tx.Query(`SELECT ` + contactIndexColumns + ` FROM contact_index`)
	if err != nil {
		return fmt.Errorf("read the contact index: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		c, err := scanIndexedContact(rows)
		if err != nil {
			return fmt.Errorf("read the contact index: %w", err)
		}
		if err := fn(c); err != nil {
			return err
		}
	}
	return rows.Err()
}

// IndexedContactsByEmail lists the contacts of the index with an address
// (compared as EmailKey), by ContactID.
func (t *Tx) IndexedContactsByEmail(address string) ([]IndexedContact, error) {
	rows, err := t.tx.Query(`SELECT `+contactIndexColumns+` FROM contact_index WHERE email_key = ? ORDER BY contact_id`, EmailKey(address))
	if err != nil {
		return nil, fmt.Errorf("look %s up in the contact index: %w", address, err)
	}
	defer rows.Close()
	var out []IndexedContact
	for rows.Next() {
		c, err := scanIndexedContact(rows)
		if err != nil {
			return nil, fmt.Errorf("look %s up in the contact index: %w", address, err)
		}
		out = append(out, c)
	}
	return out, rows.Err()
}

// CountIndexedContacts counts the contacts of the index.
func (t *Tx) CountIndexedContacts() (int, error) {
	var n int
	if err := t.tx.QueryRow(`SELECT count(*) FROM contact_index`).Scan(&n); err != nil {
		return 0, fmt.Errorf("count the contact index: %w", err)
	}
	return n, nil
}
