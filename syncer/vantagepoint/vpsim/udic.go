package vpsim

import (
	"fmt"
	"net/http"
	"slices"
	"strings"
)

// AddHub creates a user-defined hub (a UDIC, docs/behaviour.md §5.5) with the given
// fields, reachable at /UDIC/{area}. Every UDIC also has UDIC_UID (the
// server-assigned key), CreateDate and ModDate. Adding an existing area
// replaces it, data included.
func (s *Server) AddHub(area string, fields []HubField) {
	fs := []field{{name: "UDIC_UID", kind: FieldString}, readOnlyStr("UDICName"), readOnlyStr("UDICNumber"),
		readOnlyDate("CreateDate"), readOnlyStr("CreateUser"), readOnlyDate("ModDate"), readOnlyStr("ModUser")}
	for _, f := range fields {
		kind := f.Type
		switch kind {
		case FieldString, FieldDate, FieldBool, FieldNumber:
		default:
			kind = FieldString
		}
		fs = append(fs, field{name: f.Name, kind: kind, required: f.Required, label: f.Label})
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	t := newTable(area, "UDIC_UID", true, fs)
	t.udic = true
	s.tables["udic/"+strings.ToLower(area)] = t
}

// udicBuiltinFields is how many fields every user-defined hub has before
// its own (AddHub).
const udicBuiltinFields = 7

// HubMetadata is the simulator's answer to GET /metadata/UDIC/{area}, as
// Deltek's "User Defined Hub Record Metadata" example shows it: an object
// keyed by the hub's name.
type HubMetadata map[string]HubDescription

// HubDescription describes one user-defined hub.
type HubDescription struct {
	Keys        string          `json:"Keys"`
	CustomTable bool            `json:"CustomTable"`
	TableName   string          `json:"TableName"`
	Fields      []MetadataField `json:"Fields"`
}

// MetadataField is one field of a hub as the metadata lists it.
type MetadataField struct {
	FieldName string `json:"FieldName"`
	FieldType string `json:"FieldType"`
	Caption   string `json:"Caption"`
	Required  bool   `json:"Required"`
	ReadOnly  bool   `json:"ReadOnly"`
}

// metadataTypes are the server's names of the simulator's field kinds
// ("String" is in Deltek's example; the others follow its spelling).
var metadataTypes = map[string]string{FieldString: "String", FieldDate: "Date", FieldBool: "Boolean", FieldNumber: "Numeric"}

// serveMetadata answers GET metadata/UDIC/{area} (udic) and GET
// metadata/{hub} for a built-in hub, which Deltek's "Metadata Reference"
// gives as {{base_url}}/metadata/<hub_name> with the same shape. A
// built-in hub is keyed by its area's name ("Activity") and lists its
// user-defined fields (AddActivityField) with the others; that they appear
// there, and that key, are the simulator's assumptions.
func (s *Server) serveMetadata(w http.ResponseWriter, r *http.Request, name string, udic bool) {
	if r.Method != http.MethodGet {
		writeError(w, http.StatusMethodNotAllowed, "Method not allowed", "use GET")
		return
	}
	key := strings.ToLower(name)
	if udic {
		key = "udic/" + key
	}
	if !s.allowed(w, r, key, http.MethodGet) {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	t := s.tables[key]
	if t == nil {
		writeError(w, http.StatusNotFound, "Not found", fmt.Sprintf("there is no hub %q", name))
		return
	}
	d := HubDescription{Keys: t.key, CustomTable: udic, TableName: t.name}
	if !udic {
		d.TableName = t.area()
	}
	for _, f := range t.fields {
		d.Fields = append(d.Fields, MetadataField{FieldName: f.name, FieldType: metadataTypes[f.kind], Caption: f.label,
			Required: f.required || f.name == t.key, ReadOnly: f.readOnly})
	}
	writeJSON(w, http.StatusOK, HubMetadata{d.TableName: d})
}

// RemoveActivityField deletes a user-defined activity field and its
// values, as IT can in the screen designer; a write that still sends it is
// refused (400).
func (s *Server) RemoveActivityField(name string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	t := s.tables["activity"]
	f, ok := t.byName[strings.ToLower(name)]
	if !ok {
		return
	}
	name = f.name
	t.fields = slices.DeleteFunc(t.fields, func(x field) bool { return x.name == name })
	t.byName = map[string]*field{}
	for i := range t.fields {
		t.byName[strings.ToLower(t.fields[i].name)] = &t.fields[i]
	}
	for _, r := range t.rows {
		delete(r, name)
	}
	t.version++
}

// MessageIDField is the user-defined activity field of the administration
// template (docs/admin.md) that keeps an e-mail's Message-ID.
const MessageIDField = "CustMessageID"

// AddActivityField adds a user-defined text field to the activity hub, as
// IT does in Vantagepoint's screen designer: records then take and return
// it, and GET metadata/activity lists it. Adding it twice changes nothing.
func (s *Server) AddActivityField(name, label string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	t := s.tables["activity"]
	if _, ok := t.byName[strings.ToLower(name)]; ok {
		return
	}
	t.fields = append(t.fields, field{name: name, kind: FieldString, label: label})
	// byName points into fields, which append may have moved.
	t.byName = map[string]*field{}
	for i := range t.fields {
		t.byName[strings.ToLower(t.fields[i].name)] = &t.fields[i]
	}
	t.version++
}

// UDICRecords returns a copy of every record of a user-defined hub, nil
// when the hub does not exist.
func (s *Server) UDICRecords(area string) []Record {
	s.mu.Lock()
	defer s.mu.Unlock()
	t := s.tables["udic/"+strings.ToLower(area)]
	if t == nil {
		return nil
	}
	out := []Record{}
	for _, k := range t.order {
		rec := Record{}
		for f, v := range t.rows[k] {
			rec[f] = v
		}
		out = append(out, rec)
	}
	return out
}

// AddUDICRecord adds a record to a user-defined hub, as an administrator
// or another agent would, and returns its UDIC_UID.
func (s *Server) AddUDICRecord(area string, fields map[string]any) (string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.tables["udic/"+strings.ToLower(area)] == nil {
		return "", fmt.Errorf("add a record to %s: no such hub", area)
	}
	rw, err := s.seedLocked("udic/"+strings.ToLower(area), fields)
	if err != nil {
		return "", fmt.Errorf("add a record to %s: %w", area, err)
	}
	return rw["UDIC_UID"], nil
}

// UpdateUDIC changes fields of a user-defined hub's record, as an
// administrator editing it in Vantagepoint would (to set SyncStatus, say):
// ModUser becomes ADMIN.
func (s *Server) UpdateUDIC(area, uid string, fields map[string]any) error {
	return s.UpdateUDICAs("ADMIN", area, uid, fields)
}

// UpdateUDICAs changes fields of a user-defined hub's record as the named
// user would in Vantagepoint's own screens (no role is checked: a test
// that needs the roles writes through the API). ModUser becomes user.
func (s *Server) UpdateUDICAs(user, area, uid string, fields map[string]any) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	t := s.tables["udic/"+strings.ToLower(area)]
	if t == nil {
		return fmt.Errorf("update %s/%s: no such hub", area, uid)
	}
	if _, err := s.updateLocked(t, uid, fields, nil, user); err != nil {
		return fmt.Errorf("update %s/%s: %w", area, uid, err)
	}
	return nil
}

// DeleteUDIC removes a record of a user-defined hub, as an administrator
// deleting it in Vantagepoint would; false when there is none.
func (s *Server) DeleteUDIC(area, uid string) bool {
	return s.remove("udic/"+strings.ToLower(area), uid)
}

// The hubs of vpconnect's administration template (docs/admin.md, docs/behaviour.md
// §5.5), as IT creates them. The simulator keeps its own copy, as a
// Vantagepoint server would: agent/admin's tests check that the agent
// finds every field it needs here. The agents hub holds what the agents
// report; the switches hub (the groups hub) holds the administrator's
// switches: one record per group, and one per employee with a switch of
// their own (CustEmployee set).
const (
	ConnectAgentsHub = "UDIC_ConnectAgent"
	ConnectGroupsHub = "UDIC_ConnectGroup"
)

// ConnectAgentFields are the fields of the agents hub of the template.
var ConnectAgentFields = []HubField{
	{Name: "CustEmployee", Label: "Employee", Type: FieldString, Required: true},
	{Name: "CustGroup", Label: "Group", Type: FieldString},
	{Name: "CustAgentState", Label: "Agent State", Type: FieldString},
	{Name: "CustMailboxStatus", Label: "Mailbox Status", Type: FieldString},
	{Name: "CustLastBatch", Label: "Last Batch", Type: FieldDate},
	{Name: "CustLastOutcome", Label: "Last Outcome", Type: FieldString},
	{Name: "CustOpenIssues", Label: "Open Issues", Type: FieldNumber},
	{Name: "CustLastError", Label: "Last Error", Type: FieldString},
	{Name: "CustAgentVersion", Label: "Agent Version", Type: FieldString},
	{Name: "CustMachine", Label: "Machine", Type: FieldString},
	{Name: "CustUpdated", Label: "Updated", Type: FieldDate},
}

// ConnectGroupFields are the fields of the switches (groups) hub of the
// template.
var ConnectGroupFields = []HubField{
	{Name: "CustName", Label: "Name", Type: FieldString, Required: true},
	{Name: "CustExternalID", Label: "External ID", Type: FieldString},
	{Name: "CustEmployee", Label: "Employee", Type: FieldString},
	{Name: "CustSyncStatus", Label: "Sync Status", Type: FieldString},
}

// AddConnectHubs creates both hubs of the administration template, empty,
// and the template's activity field for e-mail keys (MessageIDField).
func (s *Server) AddConnectHubs() {
	s.AddHub(ConnectAgentsHub, ConnectAgentFields)
	s.AddHub(ConnectGroupsHub, ConnectGroupFields)
	s.AddActivityField(MessageIDField, "Message-ID")
}

// AddConnectGroup adds a group's record to the switches hub of the
// template, as an administrator would, and returns its UDIC_UID.
func (s *Server) AddConnectGroup(name, externalID, syncStatus string) (string, error) {
	return s.addConnectSwitch(map[string]any{"CustName": name, "CustExternalID": externalID, "CustSyncStatus": syncStatus})
}

// AddConnectSwitch adds an employee's switch to the switches hub of the
// template, as an administrator would (ModUser ADMIN), and returns its
// UDIC_UID. name is what the record shows (the employee's name).
func (s *Server) AddConnectSwitch(employee, name, syncStatus string) (string, error) {
	return s.addConnectSwitch(map[string]any{"CustName": name, "CustEmployee": employee, "CustSyncStatus": syncStatus})
}

func (s *Server) addConnectSwitch(fields map[string]any) (string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.tables["udic/"+strings.ToLower(ConnectGroupsHub)] == nil {
		return "", fmt.Errorf("add %v: no hub %s (AddConnectHubs first)", fields["CustName"], ConnectGroupsHub)
	}
	rw, err := s.seedLocked("udic/"+strings.ToLower(ConnectGroupsHub), fields)
	if err != nil {
		return "", fmt.Errorf("add %v: %w", fields["CustName"], err)
	}
	return rw["UDIC_UID"], nil
}
