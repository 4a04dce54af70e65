// Package vpsim is a simulated Deltek Vantagepoint REST API for tests,
// benchmarks and the demo. It can inject faults and latency.
//
// It serves, under APIPath: GET /LoginConfig (no sign-in), POST /token
// (password and rotating refresh_token grants, OAuth error bodies as in
// the fixtures), the hubs /employee, /firm, /contact, /project and
// /activity (list with limit+offset or pageSize+page, fieldFilter, order
// and filterHash; GET of one record as an array of one; POST 201, PUT as
// PATCH 200, DELETE 200), GET /metadata/{hub} for the built-in hubs
// (user-defined activity fields added with AddActivityField included), and
// user-defined hubs created with AddHub at /UDIC/{area} with
// /metadata/UDIC/{area}. Security roles give a user Read Only, Modify
// Only, Add/Modify or Full access per hub (SetUserRole, SetRoleAccess):
// what a role does not allow is answered 403; every write stamps a
// user-defined hub's record with ModUser, the signed-in user. A project
// listing answers its phases and tasks too (rows with WBS2, WBS3). Errors
// are {"message","detail"}.
//
// Behaviour chosen where Deltek documents none: string comparisons ignore
// case (SQL Server's default collation); an empty filter value means
// "is null" (eq) or "is not null" (ne); dates are written as DateLayout in
// UTC; required fields are Type, Subject and StartDate for an activity, a
// LastName for a contact or employee, a Name for a firm, WBS1 and Name for
// a project; unknown fields in a body are a 400. A listing costs
// O(offset+page) filter evaluations; ordered listings reuse a sorted index
// until the next write.
package vpsim
