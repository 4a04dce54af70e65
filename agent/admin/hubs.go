package admin

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sort"
	"strings"
	"sync"
	"time"

	"vpconnect/agent"
	"vpconnect/syncer"
	"vpconnect/syncer/vantagepoint"
)

// Options configure Hubs.
type Options struct {
	// Client is signed in as the employee. Use a client of its own (the
	// same token source is fine): the engine counts the requests of its
	// client per batch, and these are not the batch's.
	Client *vantagepoint.Client
	// AgentsHub and GroupsHub are admin.agentsHub and admin.groupsHub
	// (the defaults when empty): the agents hub holds what the agents
	// report, the groups hub the administrator's switches (the groups',
	// and an employee's own). Group is admin.group ("" = no group).
	AgentsHub, GroupsHub, Group string
	// Employee, Machine and Version are written in the record.
	Employee, Machine, Version string
	// User is the employee's Vantagepoint user name, as the server writes
	// it in ModUser; when empty it is learnt from the ModUser of the
	// agent's own writes.
	User string
	// StateFile keeps the switches as last obeyed, with who last changed
	// them, across restarts ("": kept in memory only). Written 0600.
	StateFile string
	// Recheck is how long a hub found missing is not asked for again; an
	// hour when zero.
	Recheck time.Duration
	// Now is time.Now when nil.
	Now func() time.Time
	// Log is where a switch that is not obeyed is told; none when nil.
	Log *slog.Logger
}

// Hubs is the agent's side of the two hubs: it implements agent.Admin.
// Its own record is found by employee once and then addressed by its
// UDIC_UID; so are its switch and the group's.
type Hubs struct {
	o Options

	mu        sync.Mutex
	uid       string               // the agent's record
	switchUID string               // the employee's switch
	groupUID  string               // the group's record
	noGroup   time.Time            // when the group was found to be in no record
	missing   map[string]time.Time // hub → when it answered 404
	self      string               // the user name the server writes for this employee
	// mark is the server's time from which the next read lists the
	// changed switches (zero: read them one by one); fullAt is when they
	// were last read one by one.
	mark, fullAt time.Time
	obeyed       obeyedSwitches
}

// NewHubs returns the agent's Hubs.
func NewHubs(o Options) *Hubs {
	if o.AgentsHub == "" {
		o.AgentsHub = DefaultAgentsHub
	}
	if o.GroupsHub == "" {
		o.GroupsHub = DefaultGroupsHub
	}
	if o.Recheck == 0 {
		o.Recheck = time.Hour
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Log == nil {
		o.Log = slog.New(slog.DiscardHandler)
	}
	h := &Hubs{o: o, missing: map[string]time.Time{}, self: o.User}
	h.obeyed = loadObeyed(o.StateFile, o.Log)
	if h.self == "" {
		h.self = h.obeyed.userOf(o.Employee)
	}
	return h
}

var _ agent.Admin = (*Hubs)(nil)

// Exchange writes rec (when not nil) and reads the switches (when asked).
// Requests: writing is one PUT (a POST the first time, after one listing
// by employee in each run of the agent); reading is one GET of the
// employee's switch and, with a group, one of the group's (a listing the
// first time, and while the employee has no switch of their own). A
// missing hub costs one request an hour.
func (h *Hubs) Exchange(ctx context.Context, rec *agent.AdminRecord, readSwitch bool) (agent.AdminAnswer, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	before := h.o.Client.Requests()
	ans, err := h.exchange(ctx, rec, readSwitch)
	ans.Requests = int(h.o.Client.Requests() - before)
	return ans, err
}

func (h *Hubs) exchange(ctx context.Context, rec *agent.AdminRecord, readSwitch bool) (agent.AdminAnswer, error) {
	defer h.obeyed.save(h.o.StateFile, h.o.Log)
	var ans agent.AdminAnswer
	if !h.available(h.o.AgentsHub) {
		ans.AgentsHubMissing = true
	} else if rec != nil {
		stored, err := h.upsert(ctx, *rec)
		switch {
		case h.gone(h.o.AgentsHub, err):
			ans.AgentsHubMissing = true
		case err != nil:
			return h.answer(ans), err
		default:
			ans.Reported = true
			// The server stamps ModUser with the signed-in user: this
			// write tells how it names the employee.
			if u := stored.String("ModUser"); u != "" {
				h.self = u
				h.obeyed.setUser(h.o.Employee, u)
			}
		}
	}
	if !readSwitch {
		return h.answer(ans), nil
	}
	own, group := "", ""
	if h.available(h.o.GroupsHub) {
		var err error
		if h.mark.IsZero() || h.o.Now().Sub(h.fullAt) >= FullReadEvery {
			own, group, err = h.readSwitches(ctx)
		} else {
			own, group, err = h.readChangedSwitches(ctx)
		}
		if !h.gone(h.o.GroupsHub, err) && err != nil {
			return h.answer(ans), err
		}
	}
	ans.Switch = Strictest(own, group)
	return h.answer(ans), nil
}

// FullReadEvery is how often the switches are read one by one after the
// first read of a run; between, a read is one listing of the switches
// changed since the last (readChangedSwitches). The full read is the
// safety net for a change a ModDate filter did not show.
const FullReadEvery = 24 * time.Hour

// switchFields are what a read of the changed switches fetches.
var switchFields = []string{FieldEmployee, FieldGroupName, FieldGroupExternalID, FieldSyncStatus, "ModUser", "ModDate"}

// readSwitches reads the employee's switch and the group's, each on its
// own (a listing the first time in a run, then a GET by UDIC_UID), and
// starts the changed-switch listings from the server's time of the first
// listing.
func (h *Hubs) readSwitches(ctx context.Context) (own, group string, err error) {
	var at time.Time
	earliest := func(d time.Time) {
		if !d.IsZero() && (at.IsZero() || d.Before(at)) {
			at = d
		}
	}
	r, d, err := h.readOwnSwitch(ctx)
	if err != nil {
		return "", "", err
	}
	earliest(d)
	own = h.obey("employee:"+h.o.Employee, r)
	if h.o.Group != "" {
		g, d, err := h.readGroup(ctx)
		if err != nil {
			return "", "", err
		}
		earliest(d)
		group = h.obey("group:"+h.o.Group, g)
	}
	h.fullAt = h.o.Now()
	if h.mark.IsZero() && !at.IsZero() {
		h.mark = at.Add(-changedOverlap)
	}
	return own, group, nil
}

// changedOverlap is how far before the server's time of the last read the
// next listing of changed switches starts: a record stamped by another
// server's clock, or committed late, is listed again rather than missed.
const changedOverlap = 5 * time.Minute

// readChangedSwitches reads the switches with one listing of the groups
// hub's records changed since the last read, with or without a group:
// usually empty. A switch that did not change stays as it was obeyed, and
// one whose record was deleted too (obey).
func (h *Hubs) readChangedSwitches(ctx context.Context) (own, group string, err error) {
	var mine, grp vantagepoint.Record
	next, err := h.o.Client.UDICChangedSince(ctx, h.o.GroupsHub, h.mark, switchFields, func(rs []vantagepoint.Record) error {
		for _, r := range rs {
			switch emp := strings.TrimSpace(r.String(FieldEmployee)); {
			case emp != "" && strings.EqualFold(emp, h.o.Employee):
				mine, h.switchUID = r, r.String("UDIC_UID")
			case emp == "" && h.o.Group != "" && h.isGroup(r):
				grp, h.groupUID, h.noGroup = r, r.String("UDIC_UID"), time.Time{}
			}
		}
		return nil
	})
	if errors.Is(err, syncer.ErrNotFound) {
		err = fmt.Errorf("%w: %s: %w", errHubMissing, h.o.GroupsHub, err)
	}
	if err != nil {
		return "", "", err
	}
	h.mark = next
	own = h.obey("employee:"+h.o.Employee, mine)
	if h.o.Group != "" {
		group = h.obey("group:"+h.o.Group, grp)
	}
	return own, group, nil
}

// isGroup says whether a group record is admin.group's: the one read
// before, or one named by it (Name, else External ID).
func (h *Hubs) isGroup(r vantagepoint.Record) bool {
	if uid := r.String("UDIC_UID"); uid != "" && uid == h.groupUID {
		return true
	}
	g := strings.TrimSpace(h.o.Group)
	return strings.EqualFold(strings.TrimSpace(r.String(FieldGroupName)), g) ||
		strings.EqualFold(strings.TrimSpace(r.String(FieldGroupExternalID)), g)
}

// obey applies docs/behaviour.md §5.5's rule to a switch record (nil: none) and returns
// the switch to obey. Whatever the roles allow, a switch the employee
// loosened themself (the record's ModUser) is not obeyed: the one obeyed
// before stays. One tightened by anyone, and one loosened by anyone else,
// is. A record that disappeared does not lift a switch either: the
// administrator lifts one by setting it to Enabled.
func (h *Hubs) obey(key string, r vantagepoint.Record) string {
	prev, known := h.obeyed.get(key)
	if r == nil {
		if known {
			return prev.Switch
		}
		return ""
	}
	s := seenSwitch{Switch: Strictest(r.String(FieldSyncStatus)), ModUser: r.String("ModUser"), ModDate: r.String("ModDate")}
	if known && rank(s.Switch) < rank(prev.Switch) && h.isSelf(s.ModUser) {
		if s.ModUser != prev.ModUser || s.ModDate != prev.ModDate {
			h.o.Log.Warn("a switch loosened by the employee themself is not obeyed", "switch", key, "set", s.Switch,
				"by", s.ModUser, "at", s.ModDate, "obeyed", prev.Switch)
		}
		s.Switch = prev.Switch
	}
	h.obeyed.set(key, s)
	return s.Switch
}

// isSelf reports whether a ModUser is the employee (user names compare
// without regard to case, as Vantagepoint's sign-in does). Unknown (the
// agent has not written yet and was given no user name): no.
func (h *Hubs) isSelf(modUser string) bool {
	return h.self != "" && strings.EqualFold(strings.TrimSpace(modUser), strings.TrimSpace(h.self))
}

func (h *Hubs) answer(ans agent.AdminAnswer) agent.AdminAnswer {
	for hub := range h.missing {
		ans.Missing = append(ans.Missing, hub)
	}
	sort.Strings(ans.Missing)
	return ans
}

// available reports whether hub may be asked: it was not found missing
// within Recheck.
func (h *Hubs) available(hub string) bool {
	t, ok := h.missing[hub]
	return !ok || h.o.Now().Sub(t) >= h.o.Recheck
}

// gone notes a 404 of a hub (the hub does not exist: its listing or
// metadata said so) and reports it; any success clears it.
func (h *Hubs) gone(hub string, err error) bool {
	if err == nil {
		delete(h.missing, hub)
		return false
	}
	if errors.Is(err, errHubMissing) {
		h.missing[hub] = h.o.Now()
		return true
	}
	return false
}

// errHubMissing marks a listing of a hub answered 404: the hub itself is
// not there (a record that is not there answers a listing with nothing).
var errHubMissing = errors.New("the hub does not exist")

func (h *Hubs) list(ctx context.Context, hub string, f vantagepoint.Filter) (vantagepoint.Record, error) {
	r, _, err := h.listDated(ctx, hub, f)
	return r, err
}

// listDated is list, and answers the server's time of the listing.
func (h *Hubs) listDated(ctx context.Context, hub string, f vantagepoint.Filter) (vantagepoint.Record, time.Time, error) {
	var found vantagepoint.Record
	date, err := h.o.Client.UDICListDated(ctx, hub, vantagepoint.Query{Filters: []vantagepoint.Filter{f}, Limit: 1}, func(rs []vantagepoint.Record) error {
		found = rs[0]
		return nil
	})
	if errors.Is(err, syncer.ErrNotFound) {
		return nil, time.Time{}, fmt.Errorf("%w: %s: %w", errHubMissing, hub, err)
	}
	return found, date, err
}

// findOwn finds the agent's record by employee (nil: none yet).
func (h *Hubs) findOwn(ctx context.Context) (vantagepoint.Record, error) {
	r, err := h.list(ctx, h.o.AgentsHub, vantagepoint.Filter{Name: FieldEmployee, Op: vantagepoint.OpEq, Value: h.o.Employee})
	if r != nil {
		h.uid = r.String("UDIC_UID")
	}
	return r, err
}

// readOwnSwitch reads the employee's switch in the groups hub (nil: they
// have none), and the server's time when it was listed (zero after a GET).
// A groups hub made from an older template, without the Employee field,
// refuses the filter: no switch of their own then (`admin check` names the
// missing field).
func (h *Hubs) readOwnSwitch(ctx context.Context) (vantagepoint.Record, time.Time, error) {
	if h.switchUID != "" {
		r, err := h.o.Client.UDICGet(ctx, h.o.GroupsHub, h.switchUID)
		if !errors.Is(err, syncer.ErrNotFound) {
			return r, time.Time{}, err
		}
		h.switchUID = "" // deleted: look again
	}
	r, date, err := h.listDated(ctx, h.o.GroupsHub, vantagepoint.Filter{Name: FieldEmployee, Op: vantagepoint.OpEq, Value: h.o.Employee})
	if errors.Is(err, syncer.ErrInvalid) {
		return nil, time.Time{}, nil
	}
	if r != nil {
		h.switchUID = r.String("UDIC_UID")
	}
	return r, date, err
}

// upsert writes the record and returns it as stored.
func (h *Hubs) upsert(ctx context.Context, rec agent.AdminRecord) (vantagepoint.Record, error) {
	fields := h.fields(rec)
	if h.uid == "" {
		if _, err := h.findOwn(ctx); err != nil {
			return nil, err
		}
	}
	if h.uid != "" {
		r, err := h.o.Client.UDICUpdate(ctx, h.o.AgentsHub, h.uid, fields)
		if !errors.Is(err, syncer.ErrNotFound) {
			return r, err
		}
		// Deleted by the administrator since: create it again.
		h.uid = ""
		if _, err := h.findOwn(ctx); err != nil {
			return nil, err
		}
		if h.uid != "" {
			return h.o.Client.UDICUpdate(ctx, h.o.AgentsHub, h.uid, fields)
		}
	}
	r, err := h.o.Client.UDICCreate(ctx, h.o.AgentsHub, fields)
	if errors.Is(err, syncer.ErrNotFound) {
		err = fmt.Errorf("%w: %s: %w", errHubMissing, h.o.AgentsHub, err)
	}
	if err != nil {
		return nil, err
	}
	h.uid = r.String("UDIC_UID")
	return r, nil
}

// fields is the record as written: states, counts, times and the last
// error as a category and a short reason (Summarize), never an item's
// subject, address or content: every employee can read the hub.
func (h *Hubs) fields(rec agent.AdminRecord) vantagepoint.Record {
	r := vantagepoint.Record{
		FieldEmployee:      h.o.Employee,
		FieldGroup:         h.o.Group,
		FieldAgentState:    rec.State,
		FieldMailboxStatus: rec.MailboxStatus,
		FieldLastOutcome:   rec.LastOutcome,
		FieldOpenIssues:    rec.OpenIssues,
		FieldLastError:     Summarize(rec.LastError),
		FieldAgentVersion:  h.o.Version,
		FieldMachine:       h.o.Machine,
		FieldUpdated:       vantagepoint.FormatDate(h.o.Now()),
	}
	if !rec.LastBatch.IsZero() {
		r[FieldLastBatch] = vantagepoint.FormatDate(rec.LastBatch)
	}
	return r
}

// readGroup reads the group's record in the groups hub: the group record
// (no Employee) whose name, or else external id, is admin.group, and the
// server's time of the first listing (zero after a GET). No such record:
// nil (no restriction), not asked again within Recheck.
func (h *Hubs) readGroup(ctx context.Context) (vantagepoint.Record, time.Time, error) {
	if h.groupUID != "" {
		r, err := h.o.Client.UDICGet(ctx, h.o.GroupsHub, h.groupUID)
		if !errors.Is(err, syncer.ErrNotFound) {
			return r, time.Time{}, err
		}
		h.groupUID = ""
	}
	if !h.noGroup.IsZero() && h.o.Now().Sub(h.noGroup) < h.o.Recheck {
		return nil, time.Time{}, nil
	}
	var first time.Time
	for _, f := range []string{FieldGroupName, FieldGroupExternalID} {
		r, date, err := h.listDated(ctx, h.o.GroupsHub, vantagepoint.Filter{Name: f, Op: vantagepoint.OpEq, Value: h.o.Group})
		if err != nil {
			return nil, first, err
		}
		if first.IsZero() {
			first = date
		}
		if r != nil && r.String(FieldEmployee) == "" {
			h.groupUID, h.noGroup = r.String("UDIC_UID"), time.Time{}
			return r, first, nil
		}
	}
	h.noGroup = h.o.Now()
	return nil, first, nil
}

// Strictest is the effective switch of docs/behaviour.md §5.5: the most restrictive of
// the employee's and the group's. Words are matched without regard to case
// or spaces; an empty or unknown word restricts nothing.
func Strictest(switches ...string) string {
	best, rank := agent.SwitchEnabled, 0
	for _, s := range switches {
		w, r := normalize(s)
		if r > rank {
			best, rank = w, r
		}
	}
	return best
}

// rank orders the switches from the loosest (Enabled, 0) to the
// strictest.
func rank(s string) int {
	_, r := normalize(s)
	return r
}

func normalize(s string) (string, int) {
	switch strings.ToLower(strings.Join(strings.Fields(s), "")) {
	case "disabled":
		return agent.SwitchDisabled, 1
	case "delete":
		return agent.SwitchDelete, 2
	case "forcedelete":
		return agent.SwitchForceDelete, 3
	}
	return agent.SwitchEnabled, 0
}

var _ agent.AgentCounter = (*Hubs)(nil)

// CountAgents counts the agents whose record was written since
// activeSince (Updated; an active agent writes it at least hourly), for
// the fleet's pacing: one listing of the hub's keys, filtered by the
// server, in the client's largest pages. Each record is checked again
// here, so that a server that reads the filter loosely counts no more.
func (h *Hubs) CountAgents(ctx context.Context, activeSince time.Time) (int, error) {
	q := vantagepoint.Query{Fields: []string{FieldUpdated},
		Filters: []vantagepoint.Filter{vantagepoint.DateFilter(FieldUpdated, vantagepoint.OpGe, activeSince)}}
	n := 0
	err := h.o.Client.UDICList(ctx, h.o.AgentsHub, q, func(rs []vantagepoint.Record) error {
		for _, r := range rs {
			if t := r.Time(FieldUpdated); !t.IsZero() && !t.Before(activeSince) {
				n++
			}
		}
		return nil
	})
	if err != nil {
		return 0, fmt.Errorf("count the agents in %s: %w", h.o.AgentsHub, err)
	}
	return n, nil
}
