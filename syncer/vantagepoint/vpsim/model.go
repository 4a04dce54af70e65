package vpsim

// Records are kept as the JSON objects Vantagepoint's REST API exchanges:
// field names as the hubs spell them, booleans as "Y"/"N", dates as
// "2006-01-02T15:04:05" strings. Tests and the demo seed and inspect them
// through the typed helpers below.

// Record is one hub record, keyed by field name.
type Record map[string]any

// Employee is a seedable employee record.
type Employee struct {
	Employee  string `json:"Employee"`
	FirstName string `json:"FirstName"`
	LastName  string `json:"LastName"`
	EMail     string `json:"EMail"`
	Status    string `json:"Status"` // A = active, T = terminated
}

// Firm is a seedable firm (client) record.
type Firm struct {
	ClientID string `json:"ClientID"`
	Name     string `json:"Name"`
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
	ContactStatus string `json:"ContactStatus"`
	Owner         string `json:"Owner"`
}

// Project is a seedable project record.
type Project struct {
	WBS1     string `json:"WBS1"`
	Name     string `json:"Name"`
	ClientID string `json:"ClientID"`
	Status   string `json:"Status"`
}

// Activity is an activity record as read back for inspection.
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
	Owner          string `json:"Owner"`
	Employee       string `json:"Employee"`
	ContactID      string `json:"ContactID"`
	ClientID       string `json:"ClientID"`
	WBS1           string `json:"WBS1"`
	OpportunityID  string `json:"OpportunityID"`
	ModDate        string `json:"ModDate"`
}
