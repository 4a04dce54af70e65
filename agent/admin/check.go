package admin

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	"vpconnect/auth"
	"vpconnect/syncer"
	"vpconnect/syncer/vantagepoint"
)

// CheckEnv is what Check needs: the configuration's endpoints and, when
// this computer is activated, a client signed in as the employee.
type CheckEnv struct {
	APIURL, Database, ClientID, ClientSecret string
	AuthorityURL, Tenant, MicrosoftClientID  string
	AgentsHub, GroupsHub                     string
	// Group is admin.group: its switch is tried when the user has none.
	Group string
	// HTTPClient sends the unauthenticated requests (LoginConfig, the
	// token endpoint probe, the OpenID document); a 30 s client when nil.
	HTTPClient *http.Client
	// Client is signed in as the employee; nil when not activated (the
	// checks that need it then fail with "activate first").
	Client *vantagepoint.Client
	// MicrosoftUser is the activated Microsoft 365 address.
	MicrosoftUser string
	// FleetSize and Budget are vantagepoint.fleetSize and
	// vantagepoint.maxRequestsPerSecond: the estimate the agents pace on
	// when the agents hub cannot count them, and the budget.
	FleetSize, Budget int
}

// CheckResult is one line of the checklist.
type CheckResult struct {
	Name   string `json:"name"`
	OK     bool   `json:"ok"`
	Detail string `json:"detail,omitempty"`
	Fix    string `json:"fix,omitempty"`
}

const activateFirst = "activate this computer first ('vpconnect activate'), then run the check again"

// Check runs the prerequisites of the seeds' Connect, in order: each
// result says what was found and, when it fails, what to do.
func Check(ctx context.Context, env CheckEnv) []CheckResult {
	if env.HTTPClient == nil {
		env.HTTPClient = &http.Client{Timeout: 30 * time.Second}
	}
	if env.AgentsHub == "" {
		env.AgentsHub = DefaultAgentsHub
	}
	if env.GroupsHub == "" {
		env.GroupsHub = DefaultGroupsHub
	}
	var out []CheckResult
	add := func(r CheckResult) { out = append(out, r) }

	// 1. Vantagepoint reachable, 2. the database offered.
	reach := CheckResult{Name: "Vantagepoint reachable"}
	db := CheckResult{Name: fmt.Sprintf("database %q offered by Vantagepoint", env.Database)}
	anon, err := vantagepoint.New(vantagepoint.Options{APIURL: env.APIURL, HTTPClient: env.HTTPClient, MaxRetries: -1})
	var lc vantagepoint.LoginConfig
	if err == nil {
		lc, err = anon.LoginConfig(ctx)
	}
	switch {
	case err != nil:
		reach.Detail = err.Error()
		reach.Fix = fmt.Sprintf("check vantagepoint.apiUrl (%s: the address of the API, ending in /api) and that this computer reaches the server (VPN, proxy, firewall)", env.APIURL)
		db.Detail = "not checked: Vantagepoint cannot be reached"
		db.Fix = "fix the line above first"
	default:
		reach.OK, reach.Detail = true, env.APIURL
		if lc.Version != "" {
			reach.Detail += " (Vantagepoint " + lc.Version + ")"
		}
		var names []string
		for _, d := range lc.Databases {
			names = append(names, d.Name)
		}
		if lc.HasDatabase(env.Database) {
			db.OK = true
		} else {
			db.Detail = "GET /LoginConfig offers " + strings.Join(names, ", ")
			db.Fix = "set vantagepoint.database to one of: " + strings.Join(names, ", ")
		}
	}
	add(reach)
	add(db)

	// 3. The API authorization: a password grant without a user name is
	// refused either for the client (invalid_client: the id or secret is
	// wrong) or for the user (invalid_grant: the client was accepted). No
	// account is involved, so nothing can be locked out.
	api := CheckResult{Name: "API authorization (client id and secret) accepted"}
	if reach.OK {
		_, err := vantagepoint.PasswordGrant(ctx, env.HTTPClient, env.APIURL, vantagepoint.Credentials{Database: env.Database,
			ClientID: env.ClientID, ClientSecret: env.ClientSecret})
		var te *vantagepoint.TokenError
		switch {
		case err == nil:
			api.OK = true
		case errors.As(err, &te) && (te.Code == "invalid_client" || te.Code == "unauthorized_client"):
			api.Detail = "the token endpoint answered " + te.Code
			api.Fix = "copy the client id and secret of Vantagepoint's Settings > Integrations > API Authorization into vantagepoint.clientId and vantagepoint.clientSecret"
		case errors.As(err, &te) && te.Code == "unsupported_grant_type":
			api.Detail = "the token endpoint refused the password grant (" + te.Code + ")"
			api.Fix = "in Vantagepoint's Settings > Integrations > API Authorization, turn on 'Allow Password Grant Type' for this client (Vantagepoint 5.0 and later)"
		case errors.As(err, &te):
			api.OK = true
		default:
			api.Detail = err.Error()
			api.Fix = "the token endpoint (" + strings.TrimRight(env.APIURL, "/") + "/token) must answer: check the server"
		}
	} else {
		api.Detail, api.Fix = "not checked: Vantagepoint cannot be reached", "fix the first line first"
	}
	add(api)

	// 4. The user's employee record with an e-mail.
	emp := CheckResult{Name: "employee record with the user's e-mail"}
	employee := ""
	switch {
	case env.Client == nil || env.MicrosoftUser == "":
		emp.Detail, emp.Fix = "not signed in", activateFirst
	default:
		es, err := env.Client.EmployeesByEmail(ctx, env.MicrosoftUser)
		switch {
		case err != nil:
			emp.Detail, emp.Fix = err.Error(), "sign in again ('vpconnect reauthorize vantagepoint') or check the server"
		case len(es) == 1:
			emp.OK, emp.Detail = true, fmt.Sprintf("employee %s (%s)", es[0].ID, env.MicrosoftUser)
			employee = es[0].ID
		case len(es) == 0:
			emp.Detail = "no active employee has the e-mail " + env.MicrosoftUser
			emp.Fix = "in Vantagepoint, set EMail of the user's employee record to " + env.MicrosoftUser
		default:
			var ids []string
			for _, e := range es {
				ids = append(ids, e.ID)
			}
			emp.Detail = fmt.Sprintf("%d active employees have the e-mail %s: %s", len(es), env.MicrosoftUser, strings.Join(ids, ", "))
			emp.Fix = "keep the e-mail on one employee record only"
		}
	}
	add(emp)

	// The zone the server writes ModDate in, as the agent measured it
	// (docs/vantagepoint-api.md, "Dates"): for information, never a
	// failure.
	if env.Client != nil {
		zone := CheckResult{Name: "Vantagepoint server clock", OK: true}
		if off, known := env.Client.ServerZone(); known {
			zone.Detail = "ModDate is written in UTC" + formatOffset(off) + " (measured from the agent's own writes)"
		} else {
			zone.Detail = "not measured yet: the agent measures it from its first write; until then its change polls start 14 hours early"
		}
		add(zone)
	}

	// The activity field that keeps a filed e-mail's key where a user's
	// edit of the Notes cannot lose it (docs/admin.md). The agents run
	// without it, finding e-mails by their Notes line.
	add(checkKeyField(ctx, env))

	// 5, 6. The hubs and their fields.
	agents := checkHub(ctx, env, "agents hub", env.AgentsHub, "admin.agentsHub", AgentFields)
	add(agents)
	add(checkFleet(ctx, env, agents.OK))
	add(checkHub(ctx, env, "groups hub", env.GroupsHub, "admin.groupsHub", GroupFields))
	// Who may write what: the agents their record, nobody but IT the
	// switches.
	add(checkAgentsWritable(ctx, env, employee))
	add(checkSwitchesLocked(ctx, env, employee))

	// 7. The Microsoft authority: its OpenID configuration document.
	add(checkAuthority(ctx, env))
	return out
}

// checkFleet says what fleet size the agents pace on (agent/pacing.go):
// counted in the agents hub, or the vantagepoint.fleetSize estimate where
// the hub cannot count them. For information: an estimate is not a
// failure, but a large company should know it is one.
func checkFleet(ctx context.Context, env CheckEnv, hubOK bool) CheckResult {
	r := CheckResult{Name: "fleet size the agents pace on", OK: true}
	budget := fmt.Sprintf("budget %d req/s (vantagepoint.maxRequestsPerSecond)", env.Budget)
	estimate := func(why string) {
		r.Detail = fmt.Sprintf("%s: the agents assume vantagepoint.fleetSize = %d; %s", why, env.FleetSize, budget)
		r.Fix = "create the agents hub (docs/admin.md) so that the agents count themselves, or set vantagepoint.fleetSize to the number of computers that run the agent"
	}
	switch {
	case env.Client == nil:
		estimate("not signed in, the agents hub not read")
	case !hubOK:
		estimate("the agents hub cannot count the agents")
	default:
		h := NewHubs(Options{Client: env.Client, AgentsHub: env.AgentsHub})
		n, err := h.CountAgents(ctx, time.Now().Add(-24*time.Hour))
		if err != nil {
			estimate(firstLine(err))
			break
		}
		r.Detail = fmt.Sprintf("%d agents active in the agents hub in the last day (each agent counts them about once a day); %s", n, budget)
	}
	return r
}

func checkHub(ctx context.Context, env CheckEnv, what, area, key string, want []Field) CheckResult {
	r := CheckResult{Name: fmt.Sprintf("%s %s with its fields", what, area)}
	if env.Client == nil {
		r.Detail, r.Fix = "not signed in", activateFirst
		return r
	}
	md, err := env.Client.UDICMetadata(ctx, area)
	switch {
	case errors.Is(err, syncer.ErrNotFound):
		r.Detail = "GET /metadata/UDIC/" + area + " answered 404: the hub does not exist (the agents run without it)"
		r.Fix = fmt.Sprintf("create the hub %s from the template in docs/admin.md (or name yours in the policy %s)", area, key)
		return r
	case err != nil:
		r.Detail, r.Fix = err.Error(), "check the server, then run the check again"
		return r
	}
	var missing []string
	for _, f := range want {
		if _, ok := md.Field(f.Name); !ok {
			missing = append(missing, fmt.Sprintf("%s (%s, %s)", f.Name, f.Label, f.Type))
		}
	}
	if len(missing) > 0 {
		r.Detail = "missing " + strings.Join(missing, ", ")
		r.Fix = "add these fields to " + area + " as docs/admin.md lists them"
		return r
	}
	r.OK = true
	return r
}

// roleFix is where the roles of docs/admin.md are set.
const roleFix = "in Vantagepoint's Settings > Security > Roles, on the Record Access tab of the employees' role, set %s to %s (docs/admin.md, \"Roles\")"

// forbidden reports an answer 403: the role does not allow the request.
func forbidden(err error) bool {
	var api *vantagepoint.APIError
	return errors.As(err, &api) && api.Status == http.StatusForbidden
}

// checkAgentsWritable tries a same-value write of the user's own agent
// record: the agents must be able to write theirs.
func checkAgentsWritable(ctx context.Context, env CheckEnv, employee string) CheckResult {
	r := CheckResult{Name: "agents hub " + env.AgentsHub + ": writable by the employee's agent"}
	if env.Client == nil || employee == "" {
		r.Detail, r.Fix = "not signed in, or no employee record", activateFirst
		return r
	}
	rec, err := listOne(ctx, env.Client, env.AgentsHub, FieldEmployee, employee)
	switch {
	case errors.Is(err, syncer.ErrNotFound):
		r.Detail, r.Fix = "not tried: the hub does not exist", "create the hub first (the line above)"
		return r
	case forbidden(err):
		r.Detail, r.Fix = "reading the hub was refused (403)", fmt.Sprintf(roleFix, env.AgentsHub, "Add/Modify")
		return r
	case err != nil:
		r.Detail, r.Fix = err.Error(), "check the server, then run the check again"
		return r
	case rec == nil:
		r.OK, r.Detail = true, "not tried: this employee's agent has written no record yet (it does after its first batch)"
		return r
	}
	_, err = env.Client.UDICUpdate(ctx, env.AgentsHub, rec.String("UDIC_UID"), vantagepoint.Record{FieldEmployee: employee})
	switch {
	case forbidden(err):
		r.Detail, r.Fix = "a write of the agent's own record was refused (403): the agents cannot report", fmt.Sprintf(roleFix, env.AgentsHub, "Add/Modify")
	case err != nil:
		r.Detail, r.Fix = err.Error(), "check the server, then run the check again"
	default:
		r.OK = true
	}
	return r
}

// checkSwitchesLocked tries a same-value write of a switch (the user's
// own, else their group's, else any): one that succeeds is the finding,
// since an employee who can write the switches can undo the
// administrator's. The write changes no value; the record's ModUser
// becomes the user, which the agents read as "not changed by IT" only
// for a loosening (a same-value write loosens nothing).
func checkSwitchesLocked(ctx context.Context, env CheckEnv, employee string) CheckResult {
	r := CheckResult{Name: "groups hub " + env.GroupsHub + ": switches read-only for employees"}
	if env.Client == nil || employee == "" {
		r.Detail, r.Fix = "not signed in, or no employee record", activateFirst
		return r
	}
	var rec vantagepoint.Record
	var err error
	whose := "your own switch"
	for _, try := range []struct{ field, value, whose string }{
		{FieldEmployee, employee, "your own switch"}, {FieldGroupName, env.Group, "the switch of your group " + env.Group}, {"", "", "a switch"},
	} {
		if try.field != "" && try.value == "" {
			continue
		}
		rec, err = listOne(ctx, env.Client, env.GroupsHub, try.field, try.value)
		if err != nil || rec != nil {
			whose = try.whose
			break
		}
	}
	switch {
	case errors.Is(err, syncer.ErrNotFound):
		r.Detail, r.Fix = "not tried: the hub does not exist", "create the hub first (see above)"
		return r
	case forbidden(err):
		r.Detail = "reading the hub was refused (403): the agents cannot read the administrator's switches"
		r.Fix = fmt.Sprintf(roleFix, env.GroupsHub, "Read Only")
		return r
	case err != nil:
		r.Detail, r.Fix = err.Error(), "check the server, then run the check again"
		return r
	case rec == nil:
		r.OK, r.Detail = true, "not tried: the hub holds no switch yet; run the check again once it holds one"
		return r
	}
	_, err = env.Client.UDICUpdate(ctx, env.GroupsHub, rec.String("UDIC_UID"), vantagepoint.Record{FieldSyncStatus: rec.String(FieldSyncStatus)})
	switch {
	case forbidden(err):
		r.OK, r.Detail = true, "a same-value write of "+whose+" was refused (403)"
	case err != nil:
		r.Detail, r.Fix = "a same-value write of "+whose+" failed: "+err.Error(), "check the server, then run the check again"
	default:
		r.Detail = "a same-value write of " + whose + " (" + dash(rec.String(FieldGroupName)) + ") succeeded: an employee of this role can undo the administrator's switches (the agents ignore a switch loosened by the employee themself, not one loosened by a colleague)"
		r.Fix = fmt.Sprintf(roleFix, env.GroupsHub, "Read Only") + "; keep Add/Modify or Full for IT's role only (run this check as an employee: an administrator may write the switches)"
	}
	return r
}

// listOne lists the first record of hub whose field equals value (any
// record when field is ""); nil when none.
func listOne(ctx context.Context, c *vantagepoint.Client, hub, field, value string) (vantagepoint.Record, error) {
	q := vantagepoint.Query{Limit: 1}
	if field != "" {
		q.Filters = []vantagepoint.Filter{{Name: field, Op: vantagepoint.OpEq, Value: value}}
	}
	var found vantagepoint.Record
	err := c.UDICList(ctx, hub, q, func(rs []vantagepoint.Record) error {
		found = rs[0]
		return nil
	})
	return found, err
}

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

func checkKeyField(ctx context.Context, env CheckEnv) CheckResult {
	r := CheckResult{Name: "activity field " + vantagepoint.MessageIDField + " for the key of filed e-mails"}
	if env.Client == nil {
		r.Detail, r.Fix = "not signed in", activateFirst
		return r
	}
	md, err := env.Client.HubMetadata(ctx, vantagepoint.HubActivity)
	if err != nil {
		r.Detail, r.Fix = err.Error(), "check the server, then run the check again"
		return r
	}
	if _, ok := md.Field(vantagepoint.MessageIDField); !ok {
		r.Detail = "GET /metadata/activity lists no " + vantagepoint.MessageIDField + ": filed e-mails are found by the Message-ID line of their Notes, which a user's edit can remove (the agents run without it)"
		r.Fix = "add the user-defined activity field " + vantagepoint.MessageIDField + " (text, 255 characters) as docs/admin.md lists it"
		return r
	}
	r.OK = true
	return r
}

func checkAuthority(ctx context.Context, env CheckEnv) CheckResult {
	doc := strings.TrimRight(env.AuthorityURL, "/") + "/" + env.Tenant + "/v2.0/.well-known/openid-configuration"
	r := CheckResult{Name: "Microsoft authority and app registration"}
	if env.MicrosoftClientID == "" {
		r.Detail, r.Fix = "microsoft.clientId is not set", "register the app in Entra ID (docs/configuration.md) and set microsoft.clientId"
		return r
	}
	fix := fmt.Sprintf("check microsoft.authorityUrl (%s) and microsoft.tenant (%s), and that this computer reaches the authority", env.AuthorityURL, env.Tenant)
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, doc, nil)
	if err != nil {
		r.Detail, r.Fix = err.Error(), fix
		return r
	}
	resp, err := env.HTTPClient.Do(req)
	if err != nil {
		r.Detail, r.Fix = err.Error(), fix
		return r
	}
	defer resp.Body.Close()
	var oc struct {
		Issuer        string `json:"issuer"`
		Authorization string `json:"authorization_endpoint"`
		Token         string `json:"token_endpoint"`
	}
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if resp.StatusCode != http.StatusOK || json.Unmarshal(b, &oc) != nil || oc.Authorization == "" || oc.Token == "" {
		r.Detail = fmt.Sprintf("%s answered %s without an OpenID configuration", doc, resp.Status)
		r.Fix = fix
		return r
	}
	// The registration itself: tenant, client id, permissions and public
	// client flows, asked of the platform without a user.
	app := auth.MicrosoftApp{ClientID: env.MicrosoftClientID, Tenant: env.Tenant, AuthorityURL: env.AuthorityURL, HTTPClient: env.HTTPClient}
	err = app.CheckRegistration(ctx)
	var sr *auth.SignInRequiredError
	switch {
	case errors.As(err, &sr) && sr.Fix != "":
		r.Detail, r.Fix = "the identity platform refused the app registration: "+firstLine(err), sr.Fix
		return r
	case err != nil:
		r.Detail, r.Fix = err.Error(), fix
		return r
	}
	r.OK, r.Detail = true, "issuer "+oc.Issuer+"; the app registration accepts the agent's sign-ins (sign-in page with redirect URI http://localhost, device code)"
	return r
}

// formatOffset writes a zone offset as +05:30, -05:00 or "" for UTC.
func formatOffset(d time.Duration) string {
	if d == 0 {
		return ""
	}
	sign := "+"
	if d < 0 {
		sign, d = "-", -d
	}
	return fmt.Sprintf("%s%02d:%02d", sign, int(d.Hours()), int(d.Minutes())%60)
}

// firstLine is an error's first line (Entra's descriptions carry trace
// ids on the next ones).
func firstLine(err error) string {
	s, _, _ := strings.Cut(err.Error(), "\r")
	s, _, _ = strings.Cut(s, "\n")
	return s
}
