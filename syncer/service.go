package syncer

import (
	"context"
	"errors"
	"time"
)

// The engine sees both services only through the two interfaces below and the
// plain types of this file, so that neither Graph's nor Vantagepoint's wire
// types leak into the sync rules.

// Mailbox is the Microsoft 365 side of a sync.
type Mailbox interface {
	// Me returns the signed-in user's identity and addresses.
	Me(ctx context.Context) (MailboxUser, error)
	// MailFolder resolves a well-known name ("inbox", "sentitems") or the
	// display name of a top-level folder to a folder.
	MailFolder(ctx context.Context, name string) (MailFolder, error)
	// MessageChanges runs one delta round over one folder. cursor is the
	// delta link of the previous round, or "" for a full listing. page is
	// called once per page of changes, in order; the round's new cursor is
	// returned only when the round completed. ErrResyncRequired means the
	// cursor is no longer valid and the caller must list again from "".
	MessageChanges(ctx context.Context, folderID, cursor string, page func([]MessageChange) error) (next string, err error)
	// Message reads one message in full: body as plain text when the
	// service can convert it, attachments' names and sizes, sensitivity.
	Message(ctx context.Context, id string) (Message, error)
	// SetMessageCategories replaces a message's categories and returns the
	// message's new changeKey, so that the engine can recognise its own write
	// when the next delta round reports it.
	SetMessageCategories(ctx context.Context, id string, categories []string) (changeKey string, err error)
	// EnsureCategories creates those master categories that do not exist.
	EnsureCategories(ctx context.Context, names []string) error
	// Requests is the number of HTTP requests sent so far (retries included).
	Requests() int64
}

// Vantagepoint is the Vantagepoint side of a sync.
type Vantagepoint interface {
	// EmployeesByEmail lists the active employees whose EMail equals the
	// address, compared case-insensitively.
	EmployeesByEmail(ctx context.Context, email string) ([]Employee, error)
	// Contacts streams contacts one page at a time. Only the fields a caller
	// asks for in fields are guaranteed to be filled ("" means all).
	Contacts(ctx context.Context, q ContactQuery, page func([]Contact) error) error
	// Firm reads one firm by its ClientID.
	Firm(ctx context.Context, clientID string) (Firm, error)
	// CreateActivity creates an activity and returns it with its ActivityID.
	CreateActivity(ctx context.Context, a Activity) (Activity, error)
	// FindActivities lists activities that match every non-zero field of q.
	FindActivities(ctx context.Context, q ActivityQuery) ([]Activity, error)
	// Requests is the number of HTTP requests sent so far (retries included).
	Requests() int64
}

// MailboxUser is the signed-in Microsoft 365 user.
type MailboxUser struct {
	ID                string
	DisplayName       string
	Mail              string
	UserPrincipalName string
}

// Addresses returns the user's own addresses, lower-cased, without blanks.
func (u MailboxUser) Addresses() []string {
	var out []string
	for _, a := range []string{u.Mail, u.UserPrincipalName} {
		if a = normalizeAddress(a); a != "" && !contains(out, a) {
			out = append(out, a)
		}
	}
	return out
}

// MailFolder is a mail folder of the mailbox.
type MailFolder struct {
	ID          string
	DisplayName string
}

// Address is an e-mail correspondent.
type Address struct {
	Name    string
	Address string
}

// MessageChange is one entry of a message delta round: a message as it is
// now, or, when Removed is set, only its id.
type MessageChange struct {
	ID                string
	Removed           bool
	InternetMessageID string
	ChangeKey         string
	Subject           string
	From              Address
	To, Cc            []Address
	SentAt            time.Time
	ReceivedAt        time.Time
	Categories        []string
	IsDraft           bool
}

// BodyType says how a message body is encoded.
type BodyType string

// Body types, as Graph names them.
const (
	BodyText BodyType = "text"
	BodyHTML BodyType = "html"
)

// Message is a message read in full, for turning it into an activity.
type Message struct {
	MessageChange
	BodyType    BodyType
	Body        string
	Attachments []Attachment
	// Private is true when PidTagSensitivity (Integer 0x0036) is 2.
	Private bool
}

// Attachment is what an activity records of an attachment.
type Attachment struct {
	Name string
	Size int64
}

// Employee is a Vantagepoint employee.
type Employee struct {
	ID     string // Employee
	Name   string
	Email  string // EMail
	Status string // A = active
}

// Contact is a Vantagepoint contact.
type Contact struct {
	ID            string // ContactID
	ClientID      string // the contact's firm
	FirstName     string
	LastName      string
	PreferredName string
	Email         string
	Phone         string
	CellPhone     string
	Title         string
	Status        string // ContactStatus: A or I
	Owner         string
	ModDate       time.Time
}

// ContactQuery narrows a contact listing.
type ContactQuery struct {
	// WithEmail lists only contacts that have an e-mail address.
	WithEmail bool
	// Owner, when set, lists only the contacts this employee owns.
	Owner string
	// ActiveOnly lists only contacts whose ContactStatus is A.
	ActiveOnly bool
	// ModifiedSince, when set, lists only contacts changed after it.
	ModifiedSince time.Time
	// Fields names the fields to fetch; nil fetches all.
	Fields []string
}

// Firm is a Vantagepoint firm (a client).
type Firm struct {
	ID   string // ClientID
	Name string
}

// Activity is a Vantagepoint activity: an e-mail, a meeting, a call.
type Activity struct {
	ID            string // ActivityID
	Type          string
	Subject       string
	StartDate     time.Time
	EndDate       time.Time
	Notes         string
	Location      string
	Private       bool // PrivateInd
	AllDay        bool // AllDayEventInd
	Owner         string
	Employee      string
	ContactID     string
	ClientID      string
	WBS1          string // project
	OpportunityID string
	ModDate       time.Time
}

// ActivityQuery selects activities; zero fields do not constrain.
type ActivityQuery struct {
	Type      string
	Subject   string
	StartDate time.Time
	Employee  string
	// NotesContain matches activities whose Notes contain this text.
	NotesContain string
}

// Errors the adapters return, wrapped, so that the engine can tell a lost
// listing from an empty one and a rejected credential from a network fault.
var (
	// ErrResyncRequired: the service forgot the delta state (410 Gone,
	// syncStateNotFound, resyncRequired); list again from scratch.
	ErrResyncRequired = errors.New("the service asks for a full resync")
	// ErrAuthRejected: a credential was definitively rejected.
	ErrAuthRejected = errors.New("the service rejected the credentials")
	// ErrNotFound: the item does not exist (any more).
	ErrNotFound = errors.New("not found")
	// ErrUnavailable: throttled, 5xx, network failure; worth retrying later.
	ErrUnavailable = errors.New("the service is unavailable")
	// ErrInvalid: the service refused the request as invalid.
	ErrInvalid = errors.New("the service refused the request as invalid")
	// ErrMalformed: the service answered with a body that cannot be read.
	ErrMalformed = errors.New("the service answered with a malformed response")
)
