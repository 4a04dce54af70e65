package tray

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"
)

// The agent states of docs/behaviour.md §3, in the product's words. They are repeated
// here, not imported from package agent, so that the tray does not drag the
// engine and the sign-ins into its build; cli's tests check that
// they equal agent's.
const (
	StateNotConfigured = "Not Configured"
	StateActive        = "Active"
	StateWithIssues    = "With Issues"
	StateSuspended     = "Suspended by Error"
	StatePaused        = "Paused"
	StateDisabled      = "Disabled by administrator"
	// StateStandby: another computer of the user syncs the mailbox; the
	// menu says "Syncing on COMPUTER".
	StateStandby = "Standby"
)

// Status is what the tray shows of the agent: the part of agent.Status a
// menu needs, plus the add-in pairings waiting for the user.
type Status struct {
	// State is one of the State* words.
	State string
	// Headline is the state as the agent names it for people (the menu's
	// first line); empty from an older agent, when State is shown.
	Headline string
	// Reason explains the state in a sentence when it needs explaining.
	Reason string
	// SyncingOn names the computer that syncs the mailbox while this one
	// is on standby.
	SyncingOn string
	// PauseAllowed is false when policy forbids pause and resume.
	PauseAllowed bool
	// Running is true while a batch runs.
	Running bool
	// MicrosoftSignInNeeded and VantagepointSignInNeeded are set when that
	// account's credentials were refused: the user must re-authorize it.
	MicrosoftSignInNeeded    bool
	VantagepointSignInNeeded bool
	// LastBatch is when the last batch finished (zero: none yet).
	LastBatch time.Time
	// OpenIssues counts the items that failed and are retried every batch.
	OpenIssues int
	// Pairings are the add-ins waiting for the user's approval.
	Pairings []Pairing
	// Held are the item types whose deletions the empty-side guard held
	// back, waiting for the user's answer.
	Held []Held
}

// Held is one item type's deletions held back by the empty-side guard.
type Held struct {
	// Type is "contacts" or "events".
	Type string
	// Summary says in a few words what a confirmation does ("deleting 6
	// contacts in Vantagepoint"); Reason is the agent's whole sentence,
	// with the first names.
	Summary, Reason string
}

// Pairing is an add-in asking to be paired with the agent.
type Pairing struct {
	ID     string
	Origin string
	Name   string
}

// Client is the tray's way to the agent. The tray calls nothing else, so
// every action it offers is one the agent's API offers to any owner client.
type Client interface {
	// Watch finds the agent and streams its status, the current one
	// first. The channel closes when the agent goes away (it stopped, or
	// restarts after an activation), and when ctx ends (the tray waits for
	// that, so whatever feeds the channel has stopped when Run returns).
	// After the agent went away the tray calls Watch again.
	Watch(ctx context.Context) (<-chan Status, error)
	// SyncNow asks for a batch now.
	SyncNow(ctx context.Context) error
	// Pause and Resume are the user's switch.
	Pause(ctx context.Context) error
	Resume(ctx context.Context) error
	// OpenURL returns a one-time address of the Sync Options page (the
	// agent's POST /v1/open), where re-authorization, activation help and
	// add-in approval happen.
	OpenURL(ctx context.Context) (string, error)
	// AnswerDeletions confirms (true) or refuses the deletions of typ
	// that the empty-side guard held back.
	AnswerDeletions(ctx context.Context, typ string, confirm bool) error
}

// Options are what Run needs besides the client.
type Options struct {
	// OpenBrowser opens an address in the user's browser.
	OpenBrowser func(ctx context.Context, url string) error
	// Log receives what goes wrong (an action the agent refused, a browser
	// that does not open); nil discards it.
	Log *slog.Logger
	// Quit is called when the user chooses Quit. Its owner then stops
	// what the tray is a view of and ends Run's ctx, so the icon stays
	// until the agent has stopped (and the D-Bus session connection,
	// which fyne.io/systray closes on its way out and the keychain shares,
	// outlives the agent's last write). nil: Quit ends Run at once.
	Quit func()
	// Notice receives the few one-line notes a user starting the agent
	// by hand should read on the terminal (no tray host yet); nil drops
	// them.
	Notice func(string)
}

// ErrUnavailable means there is no tray to show: no graphical session, or
// a build without one. The caller goes on headless.
var ErrUnavailable = errors.New("no tray")

// item names a menu item. The menu is built once in this order and never
// rearranged: items are shown and hidden instead, so that a click always
// reaches the item the user saw.
type item int

const (
	itemState  item = iota // the state in docs/behaviour.md §3's words (disabled)
	itemDetail             // last batch time and open issues (disabled)
	itemPair0              // "Pair add-in from <origin>: type its code…", three slots
	itemPair1
	itemPair2
	itemHeld0 // "Held back: …" (disabled), then its two answers; two slots
	itemHeldConfirm0
	itemHeldKeep0
	itemHeld1
	itemHeldConfirm1
	itemHeldKeep1
	itemSyncNow
	itemPause
	itemResume
	itemReauthMicrosoft
	itemReauthVantagepoint
	itemActivate
	itemOptions
	itemQuit
	numItems
)

// pairSlots is how many pending pairings get an item of their own; the last
// slot speaks for the rest.
const pairSlots = 3

// heldSlots: the guard holds deletions back for contacts and events only.
const heldSlots = 2

// heldItems are the three items of held slot i.
func heldItems(i int) (header, confirm, keep item) {
	base := itemHeld0 + item(3*i)
	return base, base + 1, base + 2
}

// separatorAfter are the items followed by a separator line.
var separatorAfter = map[item]bool{itemDetail: true, itemOptions: true}

// entry is how one item looks.
type entry struct {
	label, tooltip   string
	visible, enabled bool
}

// view is the whole tray for one status: what apply writes to the desktop.
type view struct {
	title, tooltip string
	icon           iconKind
	items          [numItems]entry
	// held is the item type of each held slot shown ("" when hidden):
	// what its answers answer.
	held [heldSlots]string
}

// Labels of the actions, in one place (the tests read them from here too).
const (
	labelSyncNow            = "Sync now"
	labelPause              = "Pause"
	labelResume             = "Resume"
	labelReauthMicrosoft    = "Re-authorize Microsoft 365…"
	labelReauthVantagepoint = "Re-authorize Vantagepoint…"
	labelActivate           = "Activate…"
	labelOptions            = "Open Sync Options…"
	labelQuit               = "Quit vpconnect"
	labelStarting           = "vpconnect is starting…"
	// labelHeld, labelHeldConfirm and labelHeldKeep are a held slot's
	// items, with the item type.
	labelHeld        = "Held back: %s"
	labelHeldConfirm = "Apply the held-back deletions of %s"
	labelHeldKeep    = "Keep the %s: delete nothing, copy back"
	// labelPairMore is the last pairing slot's label when more requests
	// wait than there are slots.
	labelPairMore = "Pair %d more add-ins: type their codes…"
)

// pairLabel is the item of an add-in's pairing request: it opens Sync
// Options, where the owner types the code the add-in shows.
func pairLabel(origin string) string { return "Pair add-in from " + origin + ": type its code…" }

// viewOf decides the menu for a status; nil means the agent is not
// reachable (starting, restarting after an activation, or gone). It is a
// pure function of its inputs so that every state can be checked without
// a desktop. now and loc only format the last batch time.
func viewOf(s *Status, now time.Time, loc *time.Location) view {
	var v view
	v.items[itemQuit] = entry{label: labelQuit, tooltip: "Stop vpconnect until the next login", visible: true, enabled: true}
	v.items[itemOptions] = entry{label: labelOptions, tooltip: "Status, issues, accounts and actions in the browser"}
	v.items[itemSyncNow] = entry{label: labelSyncNow, tooltip: "Run a sync batch now"}
	v.items[itemPause] = entry{label: labelPause, tooltip: "Stop synchronizing until you resume"}
	v.items[itemResume] = entry{label: labelResume, tooltip: "Synchronize again"}
	v.items[itemReauthMicrosoft] = entry{label: labelReauthMicrosoft, tooltip: "Sign in to Microsoft 365 again in Sync Options"}
	v.items[itemReauthVantagepoint] = entry{label: labelReauthVantagepoint, tooltip: "Sign in to Vantagepoint again in Sync Options"}
	v.items[itemActivate] = entry{label: labelActivate,
		tooltip: "Sign in to Microsoft 365 and Vantagepoint in Sync Options"}
	for i := itemPair0; i <= itemPair2; i++ {
		// No approval by a click: another program can ask to pair just
		// as the add-in does, and only the add-in shows the code of its
		// own request.
		v.items[i] = entry{tooltip: "In Sync Options, type the code the add-in shows to approve it, or deny it"}
	}
	if s == nil {
		v.title, v.tooltip, v.icon = "vpconnect", labelStarting, iconStarting
		v.items[itemState] = entry{label: labelStarting, visible: true}
		return v
	}
	show := func(it item) { v.items[it].visible, v.items[it].enabled = true, true }

	// The agent's own words (agent.Headline), which the Sync Options page
	// shows too.
	headline := s.Headline
	if headline == "" {
		headline = s.State
	}
	v.title = "vpconnect: " + headline
	v.items[itemState] = entry{label: headline, tooltip: s.Reason, visible: true}
	detail := detailLine(s, now, loc)
	v.items[itemDetail] = entry{label: detail, visible: detail != ""}
	v.tooltip = v.title
	if detail != "" {
		v.tooltip += " · " + detail
	}
	if s.Reason != "" && (s.State == StateSuspended || s.State == StateDisabled) {
		// Why sync stopped, and for a refusal only IT can fix, the fix:
		// the first thing a user hovering the icon must read.
		v.tooltip += "\n" + s.Reason
	}
	v.icon = iconFor(s.State)
	show(itemOptions)

	for i, p := range s.Pairings {
		if i == pairSlots {
			break
		}
		label := pairLabel(p.Origin)
		if i == pairSlots-1 && len(s.Pairings) > pairSlots {
			label = fmt.Sprintf(labelPairMore, len(s.Pairings)-i)
		}
		v.items[itemPair0+item(i)].label = label
		show(itemPair0 + item(i))
	}

	for i, h := range s.Held {
		if i == heldSlots {
			break
		}
		header, confirm, keep := heldItems(i)
		summary := h.Summary
		if summary == "" {
			summary = "the deletions of " + h.Type
		}
		v.items[header] = entry{label: fmt.Sprintf(labelHeld, summary), tooltip: h.Reason, visible: true}
		v.items[confirm] = entry{label: fmt.Sprintf(labelHeldConfirm, h.Type), tooltip: "Delete what the line above names", visible: true, enabled: true}
		v.items[keep] = entry{label: fmt.Sprintf(labelHeldKeep, h.Type), tooltip: "Delete nothing; what is left on one side is copied back to the other", visible: true, enabled: true}
		v.held[i] = h.Type
	}

	signIn := s.MicrosoftSignInNeeded || s.VantagepointSignInNeeded
	switch s.State {
	case StateNotConfigured:
		show(itemActivate)
	case StateDisabled:
		// Nothing the user does changes it: no sync, no pause or resume.
	case StateSuspended:
		if !signIn {
			// Ten failed batches: Resume (or a manual batch) tries again.
			show(itemSyncNow)
			if s.PauseAllowed {
				show(itemResume)
			}
		}
	case StatePaused:
		show(itemSyncNow)
		if s.PauseAllowed {
			show(itemResume)
		}
	default: // Active, With Issues
		show(itemSyncNow)
		if s.PauseAllowed {
			show(itemPause)
		}
	}
	if s.State != StateNotConfigured && s.State != StateDisabled {
		if s.MicrosoftSignInNeeded {
			show(itemReauthMicrosoft)
		}
		if s.VantagepointSignInNeeded {
			show(itemReauthVantagepoint)
		}
	}
	if s.Running {
		// One is running; another click would only queue a second.
		v.items[itemSyncNow].enabled = false
		v.items[itemSyncNow].label = "Syncing…"
	}
	return v
}

// detailLine is the second line: when the last batch ended and how many
// items wait to be retried ("" when there is nothing to say).
func detailLine(s *Status, now time.Time, loc *time.Location) string {
	var last string
	switch {
	case s.LastBatch.IsZero() && s.State == StateNotConfigured:
		return ""
	case s.LastBatch.IsZero():
		last = "No sync yet"
	default:
		t, n := s.LastBatch.In(loc), now.In(loc)
		if t.YearDay() == n.YearDay() && t.Year() == n.Year() {
			last = "Last sync " + t.Format("15:04")
		} else {
			last = "Last sync " + t.Format("Mon 2 Jan 15:04")
		}
	}
	switch s.OpenIssues {
	case 0:
		return last
	case 1:
		return last + " · 1 open issue"
	default:
		return fmt.Sprintf("%s · %d open issues", last, s.OpenIssues)
	}
}
