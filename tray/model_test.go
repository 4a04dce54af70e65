package tray

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"image/png"
	"os/exec"
	"strings"
	"testing"
	"time"
)

// visibleLabels lists what a user sees in a view, in menu order.
func visibleLabels(v view) []string {
	var out []string
	for _, e := range v.items {
		if e.visible {
			out = append(out, e.label)
		}
	}
	return out
}

// The menu of every state, decided without a desktop (the D-Bus test walks
// the same states as a panel sees them).
func TestViewOfEveryState(t *testing.T) {
	loc := time.FixedZone("here", 3600)
	now := time.Date(2026, 3, 4, 15, 0, 0, 0, loc)
	today, earlier := now.Add(-time.Hour), now.AddDate(0, 0, -2)
	for _, c := range []struct {
		name string
		s    *Status
		want []string
	}{
		{"agent not reachable", nil, []string{labelStarting, labelQuit}},
		{"Active", &Status{State: StateActive, PauseAllowed: true, LastBatch: today},
			[]string{"Active", "Last sync 14:00", labelSyncNow, labelPause, labelOptions, labelQuit}},
		{"Active, pause forbidden", &Status{State: StateActive, LastBatch: earlier, OpenIssues: 1},
			[]string{"Active", "Last sync Mon 2 Mar 15:00 · 1 open issue", labelSyncNow, labelOptions, labelQuit}},
		{"running", &Status{State: StateActive, PauseAllowed: true, Running: true},
			[]string{"Active", "No sync yet", "Syncing…", labelPause, labelOptions, labelQuit}},
		{"With Issues", &Status{State: StateWithIssues, PauseAllowed: true, LastBatch: today, OpenIssues: 3},
			[]string{"With Issues", "Last sync 14:00 · 3 open issues", labelSyncNow, labelPause, labelOptions, labelQuit}},
		{"Paused", &Status{State: StatePaused, PauseAllowed: true, LastBatch: today},
			[]string{"Paused", "Last sync 14:00", labelSyncNow, labelResume, labelOptions, labelQuit}},
		{"Disabled by administrator", &Status{State: StateDisabled, LastBatch: today},
			[]string{"Disabled by administrator", "Last sync 14:00", labelOptions, labelQuit}},
		{"Suspended, both sign-ins", &Status{State: StateSuspended, PauseAllowed: true, MicrosoftSignInNeeded: true, VantagepointSignInNeeded: true, LastBatch: today},
			[]string{"Suspended by Error", "Last sync 14:00", labelReauthMicrosoft, labelReauthVantagepoint, labelOptions, labelQuit}},
		{"Suspended, the app registration refused", &Status{State: StateSuspended, PauseAllowed: true, MicrosoftSignInNeeded: true, LastBatch: today,
			Reason: "Microsoft 365 refused the app registration. To fix: in Entra ID, App registrations > the app > Authentication, set 'Allow public client flows' to Yes. Then re-authorize the account."},
			[]string{"Suspended by Error", "Last sync 14:00", labelReauthMicrosoft, labelOptions, labelQuit}},
		{"Suspended, ten failed batches", &Status{State: StateSuspended, PauseAllowed: true, LastBatch: today},
			[]string{"Suspended by Error", "Last sync 14:00", labelSyncNow, labelResume, labelOptions, labelQuit}},
		{"Not Configured", &Status{State: StateNotConfigured, PauseAllowed: true},
			[]string{"Not Configured", labelActivate, labelOptions, labelQuit}},
		{"five pairings", &Status{State: StateNotConfigured, Pairings: []Pairing{{Origin: "https://a.example"}, {Origin: "https://b.example"}, {Origin: "https://c.example"}, {Origin: "https://d.example"}, {Origin: "https://e.example"}}},
			[]string{"Not Configured", pairLabel("https://a.example"), pairLabel("https://b.example"), fmt.Sprintf(labelPairMore, 3), labelActivate, labelOptions, labelQuit}},
	} {
		v := viewOf(c.s, now, loc)
		if got := visibleLabels(v); strings.Join(got, "|") != strings.Join(c.want, "|") {
			t.Errorf("%s: the menu shows %q, want %q", c.name, got, c.want)
		}
		if c.s != nil && c.s.Reason != "" && !strings.HasSuffix(v.tooltip, "\n"+c.s.Reason) {
			t.Errorf("%s: the tooltip %q does not say why", c.name, v.tooltip)
		}
		if v.items[itemState].enabled || v.items[itemDetail].enabled {
			t.Errorf("%s: the state lines are clickable", c.name)
		}
		if c.s != nil && (v.title != "vpconnect: "+c.s.State || !strings.HasPrefix(v.tooltip, v.title)) {
			t.Errorf("%s: title %q, tooltip %q", c.name, v.title, v.tooltip)
		}
	}
}

// Every state has its own icon, in the form each platform's tray reads.
func TestIcons(t *testing.T) {
	seen := map[string]iconKind{}
	for k := range numIcons {
		img, err := png.Decode(bytes.NewReader(encodePNG(drawIcon(k, 32))))
		if err != nil || img.Bounds().Dx() != 32 {
			t.Fatalf("icon %d: %v", k, err)
		}
		key := string(drawIcon(k, 32).Pix)
		if o, dup := seen[key]; dup {
			t.Errorf("icons %d and %d are the same", o, k)
		}
		seen[key] = k
		ico := encodeICO(drawIcon(k, 16), drawIcon(k, 32))
		le := binary.LittleEndian
		if le.Uint16(ico[2:]) != 1 || le.Uint16(ico[4:]) != 2 {
			t.Fatalf("icon %d: not an ICONDIR of two images", k)
		}
		for i := range 2 {
			e := ico[6+16*i:]
			size, off := int(e[0]), int(le.Uint32(e[12:]))
			if n := int(le.Uint32(e[8:])); off+n > len(ico) || le.Uint32(ico[off:]) != 40 || int(le.Uint32(ico[off+8:])) != 2*size {
				t.Errorf("icon %d image %d: a bad bitmap entry", k, i)
			}
		}
	}
	for _, s := range []string{StateActive, StateWithIssues, StateSuspended, StatePaused, StateDisabled, StateNotConfigured} {
		if iconFor(s) == iconStarting {
			t.Errorf("%s has no icon of its own", s)
		}
	}
}

// deps_test.go at the root checks direct imports; the tray's intent is
// stronger: nothing of the engine, the sign-ins or the agent in its build
// at all, so a view stays a view.
func TestTrayBuildsWithoutTheAgent(t *testing.T) {
	out, err := exec.Command("go", "list", "-deps", ".").Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	for _, p := range strings.Fields(string(out)) {
		if p == "vpconnect/agent" || strings.HasPrefix(p, "vpconnect/agent/") || strings.HasPrefix(p, "vpconnect/syncer") || strings.HasPrefix(p, "vpconnect/auth") {
			t.Errorf("the tray's build includes %s", p)
		}
	}
}

// The menu's first line and its tooltip are the agent's own words (its
// Headline and Reason), the same the Sync Options page shows: the tray
// keeps no wording of a state of its own.
func TestMenuShowsTheAgentsWords(t *testing.T) {
	now := time.Date(2026, 12, 3, 10, 0, 0, 0, time.UTC)
	for _, s := range []Status{
		{State: StateStandby, SyncingOn: "DESKTOP-2", Headline: "Syncing on DESKTOP-2", Reason: "Syncing on DESKTOP-2. This computer takes over if DESKTOP-2 stops syncing."},
		{State: StateStandby, Headline: "Standby", Reason: "Not syncing: this computer's claim on the mailbox was written too late."},
		{State: StateNotConfigured, Headline: StateNotConfigured, Reason: "Not activated: choose Activate… in the tray or on Sync Options to sign in."},
		{State: StateSuspended, Headline: StateSuspended, Reason: "Sign-in needed (Microsoft 365: refused). Re-authorize the account."},
	} {
		v := viewOf(&s, now, time.UTC)
		if e := v.items[itemState]; e.label != s.Headline || e.tooltip != s.Reason {
			t.Errorf("%s: the menu's first line %q (tooltip %q); want the agent's %q (%q)", s.State, e.label, e.tooltip, s.Headline, s.Reason)
		}
		if want := "vpconnect: " + s.Headline; v.title != want {
			t.Errorf("%s: title %q, want %q", s.State, v.title, want)
		}
	}
}
