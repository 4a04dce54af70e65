package localapi

import (
	"context"
	"errors"
	"fmt"
	"net/http"
)

// Sync options on the Sync Options page: the options that
// policy leaves open are changed on the page, validated as the config file
// is, saved, and applied by the agent without a restart by hand. The work
// is the optioner's (agent/system); the server only checks the session.

// SyncOptions are the options the page shows and edits, with the config
// file's key names.
type SyncOptions struct {
	Category      string   `json:"category"`
	MailFolders   []string `json:"mailFolders"`
	LookbackDays  int      `json:"lookbackDays"`
	DaysAhead     int      `json:"daysAhead"`
	Conflict      string   `json:"conflict"`
	EmailType     string   `json:"emailType"`
	CalendarTypes []string `json:"calendarTypes"`
}

// OptionsView is what the page shows: the values in effect, and the ones
// policy sets, by config key ("sync.category"), with the reason.
type OptionsView struct {
	Values SyncOptions       `json:"values"`
	Locked map[string]string `json:"locked"`
}

// OptionsChange is POST /ui/options: the options to change (absent: left
// as they are).
type OptionsChange struct {
	Category      *string   `json:"category,omitempty"`
	MailFolders   *[]string `json:"mailFolders,omitempty"`
	LookbackDays  *int      `json:"lookbackDays,omitempty"`
	DaysAhead     *int      `json:"daysAhead,omitempty"`
	Conflict      *string   `json:"conflict,omitempty"`
	EmailType     *string   `json:"emailType,omitempty"`
	CalendarTypes *[]string `json:"calendarTypes,omitempty"`
}

// Keys names the config keys the change sets.
func (c OptionsChange) Keys() []string {
	var k []string
	add := func(set bool, key string) {
		if set {
			k = append(k, key)
		}
	}
	add(c.Category != nil, "sync.category")
	add(c.MailFolders != nil, "sync.mailFolders")
	add(c.LookbackDays != nil, "sync.lookbackDays")
	add(c.DaysAhead != nil, "sync.daysAhead")
	add(c.Conflict != nil, "sync.conflict")
	add(c.EmailType != nil, "sync.emailType")
	add(c.CalendarTypes != nil, "sync.calendarTypes")
	return k
}

// Optioner reads and changes the sync options (agent/system).
type Optioner interface {
	Options() OptionsView
	// SetOptions validates, saves and applies a change. A key set by
	// policy is a *LockedError; an invalid value wraps agent.ErrInvalid.
	SetOptions(ctx context.Context, c OptionsChange) (OptionsView, error)
}

// LockedError is a change of an option that policy sets.
type LockedError struct {
	Key, Reason string
}

func (e *LockedError) Error() string {
	return fmt.Sprintf("%s cannot be changed here: %s", e.Key, e.Reason)
}

// SetOptioner sets the page's optioner (nil: the page shows no options).
func (s *Server) SetOptioner(o Optioner) {
	if o == nil {
		s.optioner.Store(nil)
	} else {
		s.optioner.Store(&o)
	}
	s.notify()
}

func (s *Server) opt() Optioner {
	if p := s.optioner.Load(); p != nil {
		return *p
	}
	return nil
}

func (s *Server) optionsView() *OptionsView {
	o := s.opt()
	if o == nil {
		return nil
	}
	v := o.Options()
	return &v
}

func (s *Server) setOptions(w http.ResponseWriter, r *http.Request, _ caller) {
	var req OptionsChange
	if !readJSON(w, r, &req) {
		return
	}
	o := s.opt()
	if o == nil {
		writeError(w, http.StatusNotImplemented, "unsupported", "this agent's options cannot be changed from the page")
		return
	}
	_, err := o.SetOptions(r.Context(), req)
	var le *LockedError
	switch {
	case errors.As(err, &le):
		writeError(w, http.StatusForbidden, "locked_by_policy", le.Error())
		return
	case err != nil:
		writeBackendError(w, err)
		return
	}
	s.notify()
	writeJSON(w, http.StatusOK, s.pageState(s.backend().Status()))
}
