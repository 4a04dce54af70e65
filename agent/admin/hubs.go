package admin

import (
	"context"
	"errors"
	"fmt"
	"regexp"
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
	// (the defaults when empty); Group is admin.group ("" = no group).
	AgentsHub, GroupsHub, Group string
	// Employee, Machine and Version are written in the record.
	Employee, Machine, Version string
	// Recheck is how long a hub found missing is not asked for again; an
	// hour when zero.
	Recheck time.Duration
	// Now is time.Now when nil.
	Now func() time.Time
}

// Hubs is the agent's side of the two hubs: it implements agent.Admin.
// Its own record is found by employee once and then addressed by its
// UDIC_UID; so is the group's.
type Hubs struct {
	o Options

	mu       sync.Mutex
	uid      string               // the agent's record
	groupUID string               // the group's record
	noGroup  time.Time            // when the group was found to be in no record
	missing  map[string]time.Time // hub → when it answered 404
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
	return &Hubs{o: o, missing: map[string]time.Time{}}
}

var _ agent.Admin = (*Hubs)(nil)

// Exchange writes rec (when not nil) and reads the switches (when asked).
// Requests: writing is one PUT (a POST the first time, after one listing
// by employee in each run of the agent), and its answer carries the
// record's SyncStatus, so that a write and a read together cost the PUT
// and, with a group, one GET of the group's record; a read alone is one
// GET of the record and one of the group's. A missing hub costs one
// request an hour.
func (h *Hubs) Exchange(ctx context.Context, rec *agent.AdminRecord, readSwitch bool) (agent.AdminAnswer, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	var ans agent.AdminAnswer
	own, haveOwn := "", false
	if !h.available(h.o.AgentsHub) {
		ans.AgentsHubMissing = true
	} else {
		if rec != nil {
			stored, err := h.upsert(ctx, *rec)
			switch {
			case h.gone(h.o.AgentsHub, err):
				ans.AgentsHubMissing = true
			case err != nil:
				return h.answer(ans), err
			default:
				ans.Reported = true
				if _, ok := stored[FieldSyncStatus]; ok {
					own, haveOwn = stored.String(FieldSyncStatus), true
				}
			}
		}
		if readSwitch && !haveOwn && !ans.AgentsHubMissing {
			r, err := h.readOwn(ctx)
			switch {
			case h.gone(h.o.AgentsHub, err):
				ans.AgentsHubMissing = true
			case err != nil:
				return h.answer(ans), err
			default:
				own = r.String(FieldSyncStatus)
			}
		}
	}
	if !readSwitch {
		return h.answer(ans), nil
	}
	group := ""
	if h.o.Group != "" && h.available(h.o.GroupsHub) {
		g, err := h.readGroup(ctx)
		if !h.gone(h.o.GroupsHub, err) && err != nil {
			return h.answer(ans), err
		}
		group = g
	}
	ans.Switch = Strictest(own, group)
	return h.answer(ans), nil
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
	var found vantagepoint.Record
	err := h.o.Client.UDICList(ctx, hub, vantagepoint.Query{Filters: []vantagepoint.Filter{f}, Limit: 1}, func(rs []vantagepoint.Record) error {
		found = rs[0]
		return nil
	})
	if errors.Is(err, syncer.ErrNotFound) {
		return nil, fmt.Errorf("%w: %s: %w", errHubMissing, hub, err)
	}
	return found, err
}

// findOwn finds the agent's record by employee (nil: none yet).
func (h *Hubs) findOwn(ctx context.Context) (vantagepoint.Record, error) {
	r, err := h.list(ctx, h.o.AgentsHub, vantagepoint.Filter{Name: FieldEmployee, Op: vantagepoint.OpEq, Value: h.o.Employee})
	if r != nil {
		h.uid = r.String("UDIC_UID")
	}
	return r, err
}

func (h *Hubs) readOwn(ctx context.Context) (vantagepoint.Record, error) {
	if h.uid != "" {
		r, err := h.o.Client.UDICGet(ctx, h.o.AgentsHub, h.uid)
		if !errors.Is(err, syncer.ErrNotFound) {
			return r, err
		}
		h.uid = "" // the administrator deleted it: look again
	}
	r, err := h.findOwn(ctx)
	if r == nil {
		r = vantagepoint.Record{}
	}
	return r, err
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

// fields is the record as written: never FieldSyncStatus, the
// administrator's.
func (h *Hubs) fields(rec agent.AdminRecord) vantagepoint.Record {
	r := vantagepoint.Record{
		FieldEmployee:      h.o.Employee,
		FieldGroup:         h.o.Group,
		FieldAgentState:    rec.State,
		FieldMailboxStatus: rec.MailboxStatus,
		FieldLastOutcome:   rec.LastOutcome,
		FieldOpenIssues:    rec.OpenIssues,
		FieldLastError:     Scrub(rec.LastError),
		FieldAgentVersion:  h.o.Version,
		FieldMachine:       h.o.Machine,
		FieldUpdated:       vantagepoint.FormatDate(h.o.Now()),
	}
	if !rec.LastBatch.IsZero() {
		r[FieldLastBatch] = vantagepoint.FormatDate(rec.LastBatch)
	}
	return r
}

// readGroup reads the group's SyncStatus: the group is the record whose
// name, or else external id, is admin.group. No such record: "" (no
// restriction), not asked again within Recheck.
func (h *Hubs) readGroup(ctx context.Context) (string, error) {
	if h.groupUID != "" {
		r, err := h.o.Client.UDICGet(ctx, h.o.GroupsHub, h.groupUID)
		if !errors.Is(err, syncer.ErrNotFound) {
			return r.String(FieldSyncStatus), err
		}
		h.groupUID = ""
	}
	if !h.noGroup.IsZero() && h.o.Now().Sub(h.noGroup) < h.o.Recheck {
		return "", nil
	}
	for _, f := range []string{FieldGroupName, FieldGroupExternalID} {
		r, err := h.list(ctx, h.o.GroupsHub, vantagepoint.Filter{Name: f, Op: vantagepoint.OpEq, Value: h.o.Group})
		if err != nil {
			return "", err
		}
		if r != nil {
			h.groupUID, h.noGroup = r.String("UDIC_UID"), time.Time{}
			return r.String(FieldSyncStatus), nil
		}
	}
	h.noGroup = h.o.Now()
	return "", nil
}

// Strictest is the effective switch of SPEC §5.5: the most restrictive of
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

var emailPattern = regexp.MustCompile(`[A-Za-z0-9._%+\-]+@[A-Za-z0-9.\-]+\.[A-Za-z]{2,}`)

// Scrub makes an error fit the record: no e-mail addresses, no tokens, at
// most 250 characters (SPEC §5.5: no personal data beyond the last error).
func Scrub(s string) string {
	s = agent.Redact(emailPattern.ReplaceAllString(s, "<address>"))
	if r := []rune(s); len(r) > 250 {
		s = string(r[:249]) + "…"
	}
	return s
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
