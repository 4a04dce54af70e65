package syncer

import (
	"context"
	"time"

	"vpconnect/internal/fault"
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
	// Addin is what the Outlook add-in saved on the message as its custom
	// properties (addin.go); nil when it saved nothing.
	Addin *AddinTrack
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
	// MessageID is the Internet Message-ID of the e-mail an activity files.
	// It is kept in a user-defined activity field where the server has one
	// (docs/admin.md), besides the Notes line MessageRef; "" when read from
	// a server without the field.
	MessageID string
}

// ActivityQuery selects activities; zero fields do not constrain.
type ActivityQuery struct {
	Type      string
	Subject   string
	StartDate time.Time
	Employee  string
	// NotesContain matches activities whose Notes contain this text.
	NotesContain string
	// MessageID matches the activity filed from this e-mail: by the
	// user-defined key field where the server has one, and by its Notes
	// line MessageRef(MessageID) otherwise or when the field holds nothing
	// (activities filed before IT added it).
	MessageID string
}

// Errors the adapters return, wrapped, so that the engine can tell a lost
// listing from an empty one and a rejected credential from a network fault.
// They are internal/fault's values (see there), under the engine's names.
var (
	ErrResyncRequired = fault.ErrResyncRequired
	ErrAuthRejected   = fault.ErrAuthRejected
	ErrNotFound       = fault.ErrNotFound
	ErrConflict       = fault.ErrConflict
	ErrUnavailable    = fault.ErrUnavailable
	ErrInvalid        = fault.ErrInvalid
	ErrMalformed      = fault.ErrMalformed
)

// MailboxRefusedError says that the mailbox itself cannot be used by the
// agent, for a reason no sign-in changes and only an administrator can
// fix (a mailbox not enabled for Graph, an access policy that blocks the
// app). It matches ErrAuthRejected, so that the agent stops asking, and
// carries its own sentence instead of "sign in again".
type MailboxRefusedError struct {
	// Problem says what is wrong, Fix what to change, each in words for
	// the user and IT.
	Problem, Fix string
	// Err is the service's answer.
	Err error
}

func (e *MailboxRefusedError) Error() string {
	return e.Problem + "; to fix: " + e.Fix + " (" + e.Err.Error() + ")"
}

// Unwrap returns the service's answer.
func (e *MailboxRefusedError) Unwrap() error { return e.Err }

// Is makes a MailboxRefusedError match ErrAuthRejected.
func (e *MailboxRefusedError) Is(target error) bool { return target == ErrAuthRejected }

// MailboxContacts is the contacts side of the mailbox (docs/behaviour.md §4.2, §4.5).
// Contacts live in one contact folder the agent creates at initialization.
type MailboxContacts interface {
	// ContactFolder finds a top-level contact folder by display name.
	ContactFolder(ctx context.Context, name string) (folder ContactFolder, found bool, err error)
	// CreateContactFolder creates a top-level contact folder.
	CreateContactFolder(ctx context.Context, name string) (ContactFolder, error)
	// DeleteContactFolder deletes a contact folder with its contacts.
	DeleteContactFolder(ctx context.Context, id string) error
	// MailboxMark reads the agent's mark on a contact folder (the named
	// single-value extended property of docs/behaviour.md §4.5); "" when unmarked.
	MailboxMark(ctx context.Context, folderID string) (string, error)
	// SetMailboxMark writes the agent's mark on a contact folder.
	SetMailboxMark(ctx context.Context, folderID, value string) error
	// ContactChanges runs one delta round over a contact folder, like
	// MessageChanges.
	ContactChanges(ctx context.Context, folderID, cursor string, page func([]MailboxContact) error) (next string, err error)
	// CreateContact creates a contact in a folder. A non-empty VPID is
	// stamped on it (a named extended property) so that after a crash the
	// contact can be found by FindContactByVPID instead of being created
	// twice.
	CreateContact(ctx context.Context, folderID string, c MailboxContact) (MailboxContact, error)
	// UpdateContact writes the mapped fields of a contact and returns it
	// with its new changeKey. A non-empty c.ChangeKey is the version the
	// update is based on: the contact is written only if it still has that
	// changeKey, else ErrConflict and nothing is written. An empty one
	// writes unconditionally.
	UpdateContact(ctx context.Context, c MailboxContact) (MailboxContact, error)
	// DeleteContact deletes a contact; ErrNotFound when it is gone already.
	DeleteContact(ctx context.Context, id string) error
	// FindContactByVPID finds a contact of the folder the agent stamped
	// with a Vantagepoint ContactID.
	FindContactByVPID(ctx context.Context, folderID, vpID string) (MailboxContact, bool, error)
}

// MailboxCalendar is the calendar side of the mailbox (docs/behaviour.md §4.3): events of
// the default calendar.
type MailboxCalendar interface {
	// EventChanges runs one calendarView delta round over [start, end).
	// Occurrences of recurring series come as separate events with
	// SeriesMasterID set. A cursor is only valid for the same window.
	EventChanges(ctx context.Context, start, end time.Time, cursor string, page func([]MailboxEvent) error) (next string, err error)
	// CreateEvent creates an event in the default calendar (never with
	// attendees: that would send invitations), stamping VPID like
	// CreateContact.
	CreateEvent(ctx context.Context, e MailboxEvent) (MailboxEvent, error)
	// UpdateEvent writes the mapped fields of an event and returns it with
	// its new changeKey; e.ChangeKey is the version the update is based on,
	// as for UpdateContact (ErrConflict when the event has changed since).
	UpdateEvent(ctx context.Context, e MailboxEvent) (MailboxEvent, error)
	// DeleteEvent deletes an event; ErrNotFound when it is gone already.
	DeleteEvent(ctx context.Context, id string) error
	// FindEventByVPID finds an event the agent stamped with a Vantagepoint
	// ActivityID.
	FindEventByVPID(ctx context.Context, vpID string) (MailboxEvent, bool, error)
	// DeleteCategories removes master categories (deactivation).
	DeleteCategories(ctx context.Context, names []string) error
}

// ContactFolder is a contact folder of the mailbox.
type ContactFolder struct {
	ID          string
	DisplayName string
}

// MailboxContact is a contact of the mailbox, reduced to the fields docs/behaviour.md
// §4.2 maps. When Removed is set only ID is meaningful.
type MailboxContact struct {
	ID string
	// ChangeKey is the item's version (Graph's @odata.etag is W/"changeKey");
	// in an update, the version the update is based on.
	ChangeKey     string
	Removed       bool
	GivenName     string
	Surname       string
	NickName      string
	Email         string // the first e-mail address
	BusinessPhone string // the first business phone
	MobilePhone   string
	JobTitle      string
	CompanyName   string
	// VPID is the Vantagepoint ContactID the agent stamped on a contact it
	// created; delta rounds do not return it (Graph cannot expand extended
	// properties in delta), only creates and FindContactByVPID do.
	VPID         string
	LastModified time.Time
}

// MailboxEvent is an event of the default calendar, reduced to the fields
// docs/behaviour.md §4.3 maps and the ones its scope rules need. When Removed is set only
// ID is meaningful.
type MailboxEvent struct {
	ID string
	// ChangeKey is the event's version, as for MailboxContact.
	ChangeKey   string
	Removed     bool
	Subject     string
	Start, End  time.Time // UTC
	AllDay      bool
	Location    string
	Body        string // plain text
	BodyType    BodyType
	Categories  []string
	Organizer   Address
	IsOrganizer bool
	Attendees   []Address
	Private     bool // sensitivity private
	IsCancelled bool
	// SeriesMasterID is set on occurrences and exceptions of a recurring
	// series; Type is Graph's event type (singleInstance, occurrence,
	// exception, seriesMaster).
	SeriesMasterID string
	Type           string
	VPID           string
	LastModified   time.Time
}

// VantagepointRecords is the Vantagepoint side of the two-way types:
// contacts and calendar activities.
type VantagepointRecords interface {
	// Contact reads one contact; ErrNotFound when it does not exist.
	Contact(ctx context.Context, id string) (Contact, error)
	// CreateContact creates a contact and returns it with its ContactID.
	CreateContact(ctx context.Context, c Contact) (Contact, error)
	// UpdateContact writes the mapped fields of a contact. Vantagepoint's
	// REST API has no concurrency token (no ETag, no If-Match): the engine
	// compares the record it reads just before the write with the version
	// its decision was based on (see checkBase).
	UpdateContact(ctx context.Context, c Contact) (Contact, error)
	// DeleteContact deletes a contact.
	DeleteContact(ctx context.Context, id string) error
	// ListFirms streams every firm (for matching a company name typed in
	// Outlook to a firm, and firm names for Outlook's companyName).
	ListFirms(ctx context.Context, page func([]Firm) error) error
	// CreateFirm creates a firm and returns it with its ClientID (only with
	// sync.createFirms).
	CreateFirm(ctx context.Context, f Firm) (Firm, error)
	// ListActivities streams the activities that match q.
	ListActivities(ctx context.Context, q ActivityListQuery, page func([]Activity) error) error
	// Activity reads one activity; ErrNotFound when it does not exist.
	Activity(ctx context.Context, id string) (Activity, error)
	// UpdateActivity writes the mapped fields of an activity; unconditional,
	// like UpdateContact.
	UpdateActivity(ctx context.Context, a Activity) (Activity, error)
	// DeleteActivity deletes an activity.
	DeleteActivity(ctx context.Context, id string) error
}

// ActivityListQuery selects activities for calendar sync; zero fields do
// not constrain.
type ActivityListQuery struct {
	// Employee lists the activities of this employee.
	Employee string
	// Types lists only activities of these types.
	Types []string
	// From and To bound StartDate: From <= StartDate < To.
	From, To time.Time
	// ModifiedSince lists only activities changed after it.
	ModifiedSince time.Time
	// Fields names the fields to fetch; nil fetches all.
	Fields []string
}

// MailboxItemReader reads single contacts and events, so that the engine can
// tell a deletion from an item that only left a listing's scope (calendarView
// delta also reports events that moved out of its window as removed).
type MailboxItemReader interface {
	// Contact reads a contact; ErrNotFound when it does not exist.
	Contact(ctx context.Context, id string) (MailboxContact, error)
	// Event reads an event; ErrNotFound when it does not exist.
	Event(ctx context.Context, id string) (MailboxEvent, error)
}
