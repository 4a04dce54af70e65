package graphsim

import "time"

// These are the seed and inspection types of the simulated mailbox. Tests
// and the demo build a mailbox with them; the server renders them in the
// documented Graph JSON shapes.

// User is the mailbox owner, answered by GET /me.
type User struct {
	ID                string `json:"id"`
	DisplayName       string `json:"displayName"`
	Mail              string `json:"mail"`
	UserPrincipalName string `json:"userPrincipalName"`
	// GivenName, Surname and JobTitle are optional; GET /me answers null
	// for them when empty, as Graph does for unset directory properties.
	GivenName string `json:"givenName,omitempty"`
	Surname   string `json:"surname,omitempty"`
	JobTitle  string `json:"jobTitle,omitempty"`
}

// Recipient is a message correspondent.
type Recipient struct {
	Name    string `json:"name"`
	Address string `json:"address"`
}

// Attachment is a file attachment of a message.
type Attachment struct {
	Name        string `json:"name"`
	ContentType string `json:"contentType"`
	Size        int64  `json:"size"`
}

// Message is a message in a mail folder. ID, ChangeKey and the timestamps
// are filled in by the server when left empty.
type Message struct {
	ID                string       `json:"id"`
	InternetMessageID string       `json:"internetMessageId"`
	ChangeKey         string       `json:"changeKey"`
	FolderID          string       `json:"parentFolderId"`
	Subject           string       `json:"subject"`
	BodyType          string       `json:"bodyType"` // "html" (default) or "text"
	Body              string       `json:"body"`
	From              Recipient    `json:"from"`
	To                []Recipient  `json:"toRecipients"`
	Cc                []Recipient  `json:"ccRecipients"`
	SentDateTime      time.Time    `json:"sentDateTime"`
	ReceivedDateTime  time.Time    `json:"receivedDateTime"`
	Categories        []string     `json:"categories"`
	IsDraft           bool         `json:"isDraft"`
	IsRead            bool         `json:"isRead"`
	Attachments       []Attachment `json:"attachments"`
	// Sensitivity is PidTagSensitivity (Integer 0x0036): 0 normal,
	// 1 personal, 2 private, 3 confidential.
	Sensitivity int `json:"sensitivity"`
	// ExtendedProperties holds the message's named single-value extended
	// properties by id ("String {GUID} Name name"), such as an Outlook
	// add-in's custom properties (SetAddinProperties). Graph shows them
	// only on an explicit $expand, never in delta.
	ExtendedProperties map[string]string `json:"extendedProperties,omitempty"`
}

// MailFolder is a mail folder of the simulated mailbox.
type MailFolder struct {
	ID          string `json:"id"`
	DisplayName string `json:"displayName"`
	// WellKnownName is the well-known name (inbox, sentitems, drafts,
	// deleteditems) or "" for a user-created folder. Graph v1.0 does not
	// render it; it is here for seeding and inspection only.
	WellKnownName  string `json:"wellKnownName,omitempty"`
	ParentFolderID string `json:"parentFolderId"`
}

// Category is a master category of the mailbox.
type Category struct {
	ID          string `json:"id"`
	DisplayName string `json:"displayName"`
	Color       string `json:"color"`
}
