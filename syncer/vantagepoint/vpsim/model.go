package vpsim

// Records are kept as the JSON objects Vantagepoint's REST API exchanges:
// field names as the hubs spell them, booleans as "Y"/"N", dates in
// DateLayout. Tests and the demo seed and inspect them through the typed
// helpers below; an empty string field is stored as absent (SQL NULL) and
// answered as JSON null.

// Record is one hub record, keyed by field name.
type Record map[string]any

// Employee is a seedable employee record.
type Employee struct {
	Employee  string `json:"Employee"`
	FirstName string `json:"FirstName"`
	LastName  string `json:"LastName"`
	EMail     string `json:"EMail"`
	Status    string `json:"Status"` // A = active, T = terminated; AddEmployee defaults it to A
	ModDate   string `json:"ModDate,omitempty"`
}

// Firm is a seedable firm (client) record.
type Firm struct {
	ClientID string `json:"ClientID"`
	Client   string `json:"Client,omitempty"` // the firm's number, as the fixtures show
	Name     string `json:"Name"`
	Status   string `json:"Status,omitempty"`
	ModDate  string `json:"ModDate,omitempty"`
}

// Contact is a seedable contact record.
type Contact struct {
	ContactID     string `json:"ContactID"`
	ClientID      string `json:"ClientID"`
	FirstName     string `json:"FirstName"`
	LastName      string `json:"LastName"`
	PreferredName string `json:"PreferredName"`
	Email         string `json:"Email"`
	Phone         string `json:"Phone"`
	CellPhone     string `json:"CellPhone"`
	Title         string `json:"Title"`
	ContactStatus string `json:"ContactStatus"` // A or I; AddContact defaults it to A
	Owner         string `json:"Owner"`
	ModDate       string `json:"ModDate,omitempty"`
}

// Project is a seedable project record.
type Project struct {
	WBS1 string `json:"WBS1"`
	// WBS2 and WBS3 name a phase and a task of project WBS1; empty for
	// the project itself.
	WBS2     string `json:"WBS2,omitempty"`
	WBS3     string `json:"WBS3,omitempty"`
	Name     string `json:"Name"`
	ClientID string `json:"ClientID"`
	Status   string `json:"Status"`
	ModDate  string `json:"ModDate,omitempty"`
}

// Activity is an activity record as seeded and read back for inspection.
type Activity struct {
	ActivityID     string `json:"ActivityID"`
	Type           string `json:"Type"`
	Subject        string `json:"Subject"`
	StartDate      string `json:"StartDate"`
	EndDate        string `json:"EndDate"`
	Notes          string `json:"Notes"`
	Location       string `json:"Location"`
	PrivateInd     string `json:"PrivateInd"`
	AllDayEventInd string `json:"AllDayEventInd"`
	CompletionInd  string `json:"CompletionInd"`
	Owner          string `json:"Owner"`
	Employee       string `json:"Employee"`
	ContactID      string `json:"ContactID"`
	ClientID       string `json:"ClientID"`
	WBS1           string `json:"WBS1"`
	OpportunityID  string `json:"OpportunityID"`
	ModDate        string `json:"ModDate"`
	// CustMessageID is the template's user-defined field (MessageIDField),
	// present only once AddActivityField (or AddConnectHubs) created it.
	CustMessageID string `json:"CustMessageID,omitempty"`
}

// HubField describes one field of a user-defined hub (UDIC), as
// GET /metadata/UDIC/{area} lists it.
type HubField struct {
	Name     string `json:"Name"`
	Label    string `json:"Label,omitempty"`
	Type     string `json:"Type"` // one of FieldString, FieldDate, FieldBool, FieldNumber
	Required bool   `json:"Required"`
}

// Field types of HubField.Type.
const (
	FieldString = "string"
	FieldDate   = "date"
	FieldBool   = "bool" // "Y"/"N"
	FieldNumber = "number"
)
