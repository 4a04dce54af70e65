package system

import (
	"context"
	"fmt"
	"slices"
	"sync"

	"vpconnect/agent"
	"vpconnect/agent/config"
	"vpconnect/agent/localapi"
)

// optionsKeeper is the Sync Options page's optioner (localapi.Optioner):
// it changes the sync options in the configuration file, as the file is
// validated, refuses what policy sets (docs/behaviour.md §5.4: policy wins, and the
// page says so), and has the running agent built again on the new file
// (Serve), so that the next batch uses them.
type optionsKeeper struct {
	env Env

	mu    sync.Mutex
	l     loaded
	agent *agent.Agent
}

func (o *optionsKeeper) serve(l loaded, a *agent.Agent) {
	o.mu.Lock()
	o.l, o.agent = l, a
	o.mu.Unlock()
}

// editable are the options the page edits, by config key.
var editable = []string{"sync.category", "sync.mailFolders", "sync.lookbackDays", "sync.daysAhead",
	"sync.conflict", "sync.emailType", "sync.calendarTypes"}

func (o *optionsKeeper) Options() localapi.OptionsView {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.viewLocked()
}

func (o *optionsKeeper) viewLocked() localapi.OptionsView {
	s := o.l.cfg.Sync
	v := localapi.OptionsView{Values: localapi.SyncOptions{Category: s.Category, MailFolders: slices.Clone(s.MailFolders),
		LookbackDays: s.LookbackDays, DaysAhead: s.DaysAhead, Conflict: s.Conflict, EmailType: s.EmailType,
		CalendarTypes: slices.Clone(s.CalendarTypes)}, Locked: map[string]string{}}
	if v.Values.MailFolders == nil {
		v.Values.MailFolders = []string{}
	}
	for _, k := range editable {
		if o.l.policy.Has(k) {
			v.Locked[k] = "set by your administrator (" + o.l.policy.Source(k) + ")"
		}
	}
	return v
}

func (o *optionsKeeper) SetOptions(ctx context.Context, c localapi.OptionsChange) (localapi.OptionsView, error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	keys := c.Keys()
	if len(keys) == 0 {
		return o.viewLocked(), fmt.Errorf("%w: no option to change", agent.ErrInvalid)
	}
	// Refused whole, before anything is written: the API, not only the
	// page, keeps policy's values.
	for _, k := range keys {
		if o.l.policy.Has(k) {
			return o.viewLocked(), &localapi.LockedError{Key: k, Reason: "it is set by your administrator (" + o.l.policy.Source(k) + ")"}
		}
	}
	// The file as it is now (another program may have changed it), with
	// the change, validated as the file is when loaded.
	file, _, err := config.Load(o.l.path)
	if err != nil {
		return o.viewLocked(), fmt.Errorf("read the configuration: %w", err)
	}
	s := &file.Sync
	if c.Category != nil {
		s.Category = *c.Category
	}
	if c.MailFolders != nil {
		s.MailFolders = slices.Clone(*c.MailFolders)
	}
	if c.LookbackDays != nil {
		s.LookbackDays = *c.LookbackDays
	}
	if c.DaysAhead != nil {
		s.DaysAhead = *c.DaysAhead
	}
	if c.Conflict != nil {
		s.Conflict = *c.Conflict
	}
	if c.EmailType != nil {
		s.EmailType = *c.EmailType
	}
	if c.CalendarTypes != nil {
		s.CalendarTypes = slices.Clone(*c.CalendarTypes)
	}
	if err := file.Validate(); err != nil {
		return o.viewLocked(), fmt.Errorf("%w: %w", agent.ErrInvalid, err)
	}
	if err := config.Save(o.l.path, file); err != nil {
		return o.viewLocked(), err
	}
	o.env.logger().Info("sync options changed on the page", "keys", keys)
	// Shown at once; the agent built again on the file applies them.
	eff, _ := file.Effective(o.l.policy)
	o.l.file, o.l.cfg.Sync = file, eff.Sync
	if o.agent != nil {
		if err := o.agent.Restart(ctx); err != nil {
			return o.viewLocked(), fmt.Errorf("apply the options: %w", err)
		}
	}
	return o.viewLocked(), nil
}
