package vpsim

import (
	"fmt"
	"net/http"
	"strings"
)

// Security roles, as far as the administration of vpconnect needs them.
// Vantagepoint gives each user one security role, and a role one access
// level per application area (hub) on the Record Access tab of Settings >
// Security > Roles: Read Only (view), Modify Only (view and change), Add/
// Modify (also add) and Full (also delete); a role without the hub's menu
// item has no access at all (Deltek, "Record Level Security",
// https://help.deltek.com/Product/Vantagepoint/7.0/con_sec_Record_Level_Security.html,
// and "Security Settings for Hubs",
// https://help.deltek.com/Product/Vantagepoint/4.0/st_Hubs_Basics_Security_Settings.html).
// Deltek documents no REST answer for a request the role does not allow;
// the simulator answers 403 with the API's {"message","detail"} error
// shape (docs/behaviour.md §11 lists 403 among the API's errors). A user without a
// role, and a hub a role does not name, keep full access, as every test
// before roles assumed.

// Access is a role's access level to a hub's records.
type Access int

// The access levels of the Record Access tab, from none to full.
const (
	AccessFull Access = iota
	AccessNone
	AccessReadOnly
	AccessModify
	AccessAddModify
)

func (a Access) String() string {
	switch a {
	case AccessNone:
		return "None"
	case AccessReadOnly:
		return "Read Only"
	case AccessModify:
		return "Modify Only"
	case AccessAddModify:
		return "Add/Modify"
	}
	return "Full"
}

// allows reports whether the level allows a request of method.
func (a Access) allows(method string) bool {
	switch a {
	case AccessNone:
		return false
	case AccessReadOnly:
		return method == http.MethodGet
	case AccessModify:
		return method == http.MethodGet || method == http.MethodPut
	case AccessAddModify:
		return method != http.MethodDelete
	}
	return true
}

// SetUserRole gives a user a security role ("" takes it away: full access).
func (s *Server) SetUserRole(username, role string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.userRoles == nil {
		s.userRoles = map[string]string{}
	}
	s.userRoles[strings.ToLower(username)] = strings.ToLower(role)
}

// SetRoleAccess sets a role's access to a hub: a built-in hub by its name
// ("activity") or a user-defined one by its area ("UDIC_ConnectGroup").
func (s *Server) SetRoleAccess(role, hub string, a Access) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.roleAccess == nil {
		s.roleAccess = map[string]map[string]Access{}
	}
	role = strings.ToLower(role)
	if s.roleAccess[role] == nil {
		s.roleAccess[role] = map[string]Access{}
	}
	s.roleAccess[role][tableKey(hub)] = a
}

// tableKey is the key of s.tables for a hub's name or a UDIC area (every
// user-defined hub's area starts with UDIC_).
func tableKey(hub string) string {
	k := strings.ToLower(hub)
	if strings.HasPrefix(k, "udic_") {
		return "udic/" + k
	}
	return k
}

// allowed answers 403 and reports false when the signed-in user's role
// does not allow method on the table keyed key.
func (s *Server) allowed(w http.ResponseWriter, r *http.Request, key, method string) bool {
	user := strings.ToLower(requestUser(r))
	s.mu.Lock()
	a, named := AccessFull, false
	if role, ok := s.userRoles[user]; ok && role != "" {
		a, named = s.roleAccess[role][key]
	}
	s.mu.Unlock()
	if !named || a.allows(method) {
		return true
	}
	writeError(w, http.StatusForbidden, "Forbidden", fmt.Sprintf("the security role of %s has %s access to %s", requestUser(r), a,
		strings.TrimPrefix(key, "udic/")))
	return false
}
