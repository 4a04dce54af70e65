package admin

import (
	"encoding/json"
	"errors"
	"log/slog"
	"os"
	"path/filepath"
)

// The switches as last obeyed, kept across restarts, so that an employee
// who loosens their own switch while the agent is stopped gains nothing
// (docs/behaviour.md §5.5). One small JSON file of the data directory; it is not part
// of what a deactivation forgets: a Delete the employee set back to
// Enabled themself stays a Delete when they activate again.

// seenSwitch is a switch as obeyed, with who changed its record last.
type seenSwitch struct {
	Switch  string `json:"switch"`
	ModUser string `json:"modUser,omitempty"`
	ModDate string `json:"modDate,omitempty"`
}

// obeyedSwitches maps "employee:<id>" and "group:<name>" to the switch
// obeyed, and keeps the user name the server writes in ModUser for the
// employee (learnt from the agent's own writes, so that a restart knows it
// before its first write).
type obeyedSwitches struct {
	m              map[string]seenSwitch
	employee, user string
	dirty          bool
}

// obeyedFile is the file's form.
type obeyedFile struct {
	Employee string                `json:"employee,omitempty"`
	User     string                `json:"user,omitempty"`
	Switches map[string]seenSwitch `json:"switches"`
}

func loadObeyed(path string, log *slog.Logger) obeyedSwitches {
	o := obeyedSwitches{m: map[string]seenSwitch{}}
	if path == "" {
		return o
	}
	b, err := os.ReadFile(path)
	if err != nil {
		if !errors.Is(err, os.ErrNotExist) {
			log.Warn("read the switches as last obeyed", "err", err)
		}
		return o
	}
	var f obeyedFile
	if err := json.Unmarshal(b, &f); err != nil || f.Switches == nil {
		log.Warn("the file of the switches as last obeyed is damaged: starting afresh", "path", path, "err", err)
		return o
	}
	o.m, o.employee, o.user = f.Switches, f.Employee, f.User
	return o
}

// userOf is the user name kept for employee ("" when another employee's).
func (o *obeyedSwitches) userOf(employee string) string {
	if o.employee != employee {
		return ""
	}
	return o.user
}

func (o *obeyedSwitches) setUser(employee, user string) {
	if o.employee != employee || o.user != user {
		o.employee, o.user, o.dirty = employee, user, true
	}
}

func (o *obeyedSwitches) get(key string) (seenSwitch, bool) {
	s, ok := o.m[key]
	return s, ok
}

func (o *obeyedSwitches) set(key string, s seenSwitch) {
	if o.m[key] != s {
		o.m[key] = s
		o.dirty = true
	}
}

// save writes the file when something changed (atomically, 0600).
func (o *obeyedSwitches) save(path string, log *slog.Logger) {
	if !o.dirty || path == "" {
		return
	}
	b, _ := json.MarshalIndent(obeyedFile{Employee: o.employee, User: o.user, Switches: o.m}, "", "  ") // strings always marshal
	if err := writeFile(path, b); err != nil {
		log.Warn("save the switches as last obeyed", "err", err)
		return
	}
	o.dirty = false
}

func writeFile(path string, b []byte) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return err
	}
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, b, 0o600); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}
