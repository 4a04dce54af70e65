// Package alerts tells the employee, through the operating system's
// notifications, about what only they can fix: a sign-in that was refused,
// sync suspended after repeated failures, deletions held back by the
// empty-side guard (docs/behaviour.md §5.1). Each condition is told once,
// not at every batch; the notification's action opens the Sync Options
// page where it is fixed.
//
// Deciding is apart from telling: Conditions and Memory are plain
// functions of the agent's status, and a Notifier only shows what it is
// given (D-Bus org.freedesktop.Notifications on Linux, a balloon of the
// notification area on Windows, Notification Center on macOS).
package alerts

import (
	"context"
	"log/slog"
	"strings"

	"vpconnect/agent"
)

// Pages of Sync Options an alert's action opens (the page's "v" parameter:
// agent/localapi's activation modes, repeated here as alerts imports only
// the agent; agent/system's tests check they are the same; "" for the
// status and issues).
const (
	PageStatus       = ""
	PageMicrosoft    = "microsoft"
	PageVantagepoint = "vantagepoint"
)

// Alert is one condition as the employee is told it.
type Alert struct {
	// Key names the condition: an alert is raised once per key while the
	// condition holds ("signin:microsoft", "suspended", "held:contacts").
	Key   string
	Title string
	Body  string
	// Action labels the notification's button; Page is what it opens.
	Action string
	Page   string
}

// Conditions are the alerts the status calls for now. A refused sign-in
// suspends sync too, but it is told as the sign-in, which is the fix.
func Conditions(s agent.Status) []Alert {
	var out []Alert
	signIn := func(title, reason, page string) {
		body := title + " refused the stored sign-in"
		if reason != "" {
			body += " (" + reason + ")"
		}
		out = append(out, Alert{Key: "signin:" + page, Title: "vpconnect: sign in to " + title + " again",
			Body:   body + ". Sync is stopped until you sign in again.",
			Action: "Re-authorize " + title, Page: page})
	}
	if s.Accounts.Microsoft.SignInNeeded {
		signIn("Microsoft 365", s.Accounts.Microsoft.Reason, PageMicrosoft)
	}
	if s.Accounts.Vantagepoint.SignInNeeded {
		signIn("Vantagepoint", s.Accounts.Vantagepoint.Reason, PageVantagepoint)
	}
	if s.State == agent.StateSuspended && len(out) == 0 {
		out = append(out, Alert{Key: "suspended", Title: "vpconnect stopped syncing", Body: s.Reason,
			Action: "Open Sync Options", Page: PageStatus})
	}
	for _, i := range s.OpenIssues {
		if i.Item != agent.HeldBackItem {
			continue
		}
		out = append(out, Alert{Key: "held:" + i.Type, Title: "vpconnect held back deletions of " + i.Type,
			Body:   i.Reason,
			Action: "Review the deletions", Page: PageStatus})
	}
	return out
}

// Memory is what was told: each condition once, until a batch finished
// without it. It survives the agent being built again (a restart starts
// with a status that does not know the sign-in was refused yet, and that
// must not make the alert come again).
type Memory struct {
	told map[string]int64 // key → the last batch known while it held
}

// Next returns the alerts of s not told yet, and remembers them. A
// condition told earlier is forgotten once a batch that finished after it
// was told ran without it, so that it is told again if it comes back.
func (m *Memory) Next(s agent.Status) []Alert {
	if m.told == nil {
		m.told = map[string]int64{}
	}
	var batch int64
	if s.LastBatch != nil {
		batch = s.LastBatch.ID
	}
	now := Conditions(s)
	holds := map[string]bool{}
	var news []Alert
	for _, a := range now {
		holds[a.Key] = true
		if _, told := m.told[a.Key]; !told {
			news = append(news, a)
		}
		m.told[a.Key] = batch
	}
	for k, at := range m.told {
		if !holds[k] && !s.Running && batch > at {
			delete(m.told, k)
		}
	}
	return news
}

// Notifier shows alerts as the operating system's notifications.
type Notifier interface {
	// Notify shows a. The notifier calls the open function it was made
	// with when the employee chooses the notification's action.
	Notify(ctx context.Context, a Alert) error
	// Close removes what Notify set up (a bus connection, a window) and
	// waits for the goroutines behind it.
	Close() error
}

// Follow tells the alerts of each status of statuses through n, once per
// condition (m), until statuses closes or ctx ends. A notification that
// cannot be shown is logged (once per condition) and not retried: the tray
// and the page say the same.
func Follow(ctx context.Context, statuses <-chan agent.Status, m *Memory, n Notifier, log *slog.Logger) {
	for {
		select {
		case <-ctx.Done():
			return
		case s, ok := <-statuses:
			if !ok {
				return
			}
			for _, a := range m.Next(s) {
				if err := n.Notify(ctx, a); err != nil {
					log.Warn("show a notification", "alert", a.Key, "err", err)
				} else {
					log.Info("notification shown", "alert", a.Key)
				}
			}
		}
	}
}

// lowerFirst is s with its first letter small ("Re-authorize" → "re-authorize").
func lowerFirst(s string) string {
	if s == "" {
		return s
	}
	return strings.ToLower(s[:1]) + s[1:]
}
