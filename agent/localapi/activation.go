package localapi

import (
	"context"
	"errors"
	"net/http"

	"vpconnect/agent"
)

// Activation on the Sync Options page (docs/behaviour.md §5.1 without a
// terminal): the page starts the same Microsoft sign-in as `vpconnect
// activate`, follows it, takes the Vantagepoint user name and password in a
// form, and shows who is signed in where. The work is the activator's
// (agent/system); the server only carries it to the page's session.

// Activation modes: a first activation, or the re-authorization of one
// account, on the same screen.
const (
	ModeActivate     = "activate"
	ModeMicrosoft    = "microsoft"
	ModeVantagepoint = "vantagepoint"
)

// Activation steps, as the page shows them.
const (
	// StepIdle: nothing started.
	StepIdle = ""
	// StepMicrosoft: the browser shows Microsoft's sign-in page; the agent
	// waits for its redirect.
	StepMicrosoft = "microsoft"
	// StepVantagepoint: the page's Vantagepoint form is awaited.
	StepVantagepoint = "vantagepoint"
	// StepWorking: signing in to Vantagepoint, finding the employee,
	// initializing the mailbox.
	StepWorking = "working"
	// StepDone: activated (or re-authorized); the first batch follows.
	StepDone = "done"
	// StepFailed: stopped; Problem says why and what to do.
	StepFailed = "failed"
)

// Problem is a failure of an activation step in words for the employee:
// what happened, and the next step.
type Problem struct {
	// Code tells the failures apart (tests, the page's choice of button):
	// wrong_password, no_employee, ambiguous_employee, foreign_mailbox,
	// vantagepoint_unreachable, microsoft_unreachable, app_registration,
	// cancelled, keychain, other.
	Code     string `json:"code"`
	Sentence string `json:"sentence"`
	Next     string `json:"next"`
	// Retry names what the page offers: "vantagepoint" (the form again),
	// "start" (start over), "reinitialize" (link the mailbox to this user).
	Retry string `json:"retry,omitempty"`
}

// ActivationState is where an activation or re-authorization on the page
// stands. It holds no secret: no token, never the password.
type ActivationState struct {
	// Seq grows with every change, so that the page never lets an older
	// answer replace a newer one (a form's answer and the event stream
	// race).
	Seq  int64  `json:"seq"`
	Mode string `json:"mode,omitempty"`
	Step string `json:"step"`
	// Microsoft is the account signed in (after the Microsoft step).
	Microsoft string `json:"microsoft,omitempty"`
	// VantagepointURL, Database and Username say where the form signs in.
	VantagepointURL string `json:"vantagepointUrl,omitempty"`
	Database        string `json:"database,omitempty"`
	Username        string `json:"username,omitempty"`
	// Employee and EmployeeName are the employee record found.
	Employee     string   `json:"employee,omitempty"`
	EmployeeName string   `json:"employeeName,omitempty"`
	Problem      *Problem `json:"problem,omitempty"`
	// Missing lists configuration keys IT has not set: activation cannot
	// start without them.
	Missing []string `json:"missing,omitempty"`
}

// Activator runs activations and re-authorizations for the page
// (agent/system's page flow). Its methods return at once; progress shows in
// State, and Changed is called on every change.
type Activator interface {
	State() ActivationState
	// Start begins mode (ModeActivate, ModeMicrosoft, ModeVantagepoint);
	// reinitialize links a mailbox marked for someone else to this user.
	Start(ctx context.Context, mode string, reinitialize bool) error
	// SubmitVantagepoint hands the form's user name and password to the
	// step that waits for them; the password is used for the token
	// request only.
	SubmitVantagepoint(ctx context.Context, username, password string) error
	// Cancel ends what runs and forgets its state.
	Cancel()
}

// ErrActivationBusy is Start while another activation runs, or a form
// submitted when none waits for it.
var ErrActivationBusy = errors.New("an activation is already under way on this computer")

// ErrNoActivator is an activation route on an agent that cannot activate
// from the page.
var ErrNoActivator = errors.New("this agent cannot be activated from the page: run 'vpconnect activate'")

// holder is what may change under a running server: the agent it serves
// (rebuilt after an activation) and its directory.
type holder struct {
	backend   Backend
	directory Directory
}

func (s *Server) backend() Backend     { return s.cur.Load().backend }
func (s *Server) directory() Directory { return s.cur.Load().directory }

// SetBackend makes the server serve a new agent (the one built after an
// activation or a new configuration): the page's sessions and the paired
// add-ins stay, and the streams follow the new agent.
func (s *Server) SetBackend(b Backend, d Directory) {
	s.cur.Store(&holder{backend: b, directory: d})
	s.generation.Add(1)
	s.notify()
}

// SetActivator sets the page's activator (nil: none).
func (s *Server) SetActivator(a Activator) {
	if a == nil {
		s.activator.Store(nil)
	} else {
		s.activator.Store(&a)
	}
	s.notify()
}

// ActivationChanged tells the page's streams that the activation moved.
func (s *Server) ActivationChanged() { s.notify() }

func (s *Server) act() Activator {
	if p := s.activator.Load(); p != nil {
		return *p
	}
	return nil
}

func (s *Server) activationState() *ActivationState {
	a := s.act()
	if a == nil {
		return nil
	}
	st := a.State()
	return &st
}

// ActivateRequest is POST /ui/activate.
type ActivateRequest struct {
	Mode         string `json:"mode"`
	Reinitialize bool   `json:"reinitialize,omitempty"`
}

// VantagepointForm is POST /ui/activate/vantagepoint.
type VantagepointForm struct {
	Username string `json:"username"`
	Password string `json:"password"`
}

func (s *Server) activate(w http.ResponseWriter, r *http.Request, _ caller) {
	var req ActivateRequest
	if !readJSON(w, r, &req) {
		return
	}
	a := s.act()
	if a == nil {
		writeError(w, http.StatusNotImplemented, "unsupported", ErrNoActivator.Error())
		return
	}
	switch req.Mode {
	case ModeActivate, ModeMicrosoft, ModeVantagepoint:
	default:
		writeError(w, http.StatusBadRequest, "invalid_request", "mode is activate, microsoft or vantagepoint")
		return
	}
	// The work outlives this request: the browser step takes minutes.
	if err := a.Start(context.WithoutCancel(r.Context()), req.Mode, req.Reinitialize); err != nil {
		s.activationError(w, err)
		return
	}
	writeJSON(w, http.StatusAccepted, s.pageState(s.backend().Status()))
}

func (s *Server) activateVantagepoint(w http.ResponseWriter, r *http.Request, _ caller) {
	var req VantagepointForm
	if !readJSON(w, r, &req) {
		return
	}
	a := s.act()
	if a == nil {
		writeError(w, http.StatusNotImplemented, "unsupported", ErrNoActivator.Error())
		return
	}
	if req.Username == "" || req.Password == "" {
		writeError(w, http.StatusBadRequest, "invalid_request", "enter your Vantagepoint user name and password")
		return
	}
	err := a.SubmitVantagepoint(context.WithoutCancel(r.Context()), req.Username, req.Password)
	req.Password = ""
	if err != nil {
		s.activationError(w, err)
		return
	}
	writeJSON(w, http.StatusAccepted, s.pageState(s.backend().Status()))
}

func (s *Server) activateCancel(w http.ResponseWriter, r *http.Request, _ caller) {
	if !emptyBody(w, r) {
		return
	}
	if a := s.act(); a != nil {
		a.Cancel()
	}
	writeJSON(w, http.StatusOK, s.pageState(s.backend().Status()))
}

func (s *Server) activationError(w http.ResponseWriter, err error) {
	switch {
	case errors.Is(err, ErrActivationBusy):
		writeError(w, http.StatusConflict, "busy", err.Error())
	case errors.Is(err, agent.ErrInvalid):
		writeError(w, http.StatusBadRequest, "invalid_request", err.Error())
	default:
		writeBackendError(w, err)
	}
}
