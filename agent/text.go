package agent

import (
	"fmt"
	"io"
	"slices"
	"sort"
	"strings"
	"time"

	"vpconnect/syncer"
)

// WriteStatus writes a status for people ('vpconnect status'); running says
// whether it came from a running agent.
func WriteStatus(w io.Writer, s Status, running bool) {
	fmt.Fprintf(w, "State:            %s\n", s.State)
	if s.Reason != "" {
		fmt.Fprintf(w, "                  %s\n", s.Reason)
	}
	if !running {
		fmt.Fprintln(w, "Agent:            not running (start it with 'vpconnect run')")
	}
	fmt.Fprintf(w, "Mailbox:          %s\n", s.MailboxStatus)
	fmt.Fprintf(w, "Synchronization:  %s\n", s.SyncStatus)
	conn := func(c bool, need bool) string {
		switch {
		case need:
			return "sign-in needed"
		case c:
			return "connected"
		}
		return "not connected"
	}
	ms, vp := s.Accounts.Microsoft, s.Accounts.Vantagepoint
	fmt.Fprintf(w, "Microsoft 365:    %s (%s)\n", dash(ms.User), conn(ms.Connected, ms.SignInNeeded))
	fmt.Fprintf(w, "Vantagepoint:     %s, database %s, employee %s (%s)\n", dash(vp.URL), dash(vp.Database), dash(vp.Employee), conn(vp.Connected, vp.SignInNeeded))
	if b := s.LastBatch; b != nil {
		fmt.Fprintf(w, "Last batch:       %d (%s) %s at %s\n", b.ID, b.Trigger, b.Outcome, b.Finished.Local().Format(time.DateTime))
	} else {
		fmt.Fprintln(w, "Last batch:       none yet")
	}
	if s.NextBatchAt != nil {
		fmt.Fprintf(w, "Next batch:       %s\n", s.NextBatchAt.Local().Format(time.DateTime))
	}
	if n := len(s.OpenIssues); n > 0 {
		fmt.Fprintf(w, "Open issues:      %d (see 'vpconnect options')\n", n)
	}
	for _, p := range s.PolicyErrors {
		fmt.Fprintf(w, "Policy ignored:   %s\n", p)
	}
	if a := s.Admin; a != nil {
		// The administration in Vantagepoint (docs/behaviour.md §5.5), for whoever
		// wonders why sync stopped, or why IT's dashboard lacks them.
		switch {
		case len(a.MissingHubs) > 0:
			fmt.Fprintf(w, "Administration:   not set up in Vantagepoint (missing %s; see 'vpconnect admin check')\n", strings.Join(a.MissingHubs, ", "))
		case a.Error != "":
			fmt.Fprintf(w, "Administration:   not reachable: %s\n", a.Error)
		case a.Switch != "":
			line := "switch " + a.Switch
			if a.LastReport != nil {
				line += ", reported " + a.LastReport.Local().Format(time.DateTime)
			}
			fmt.Fprintf(w, "Administration:   %s\n", line)
		}
	}
	if p := s.Pacing; p != nil {
		fmt.Fprintf(w, "Polls:            Vantagepoint every %s (%s)\n", time.Duration(p.Interval), p.Reason)
	}
}

func dash(s string) string {
	if s == "" {
		return "—"
	}
	return s
}

// WriteBatch writes a batch for people ('vpconnect sync', the demo): its
// outcome, the counts of the three types (zero when a type did not run) and
// any other, the requests to each service, its issues and error.
func WriteBatch(w io.Writer, b Batch) {
	fmt.Fprintf(w, "batch %d (%s) %s in %s\n", b.ID, b.Trigger, b.Outcome, b.Finished.Sub(b.Started).Round(time.Millisecond))
	types := []string{syncer.TypeEmails, syncer.TypeContacts, syncer.TypeEvents}
	var more []string
	for t := range b.Counts {
		if !slices.Contains(types, t) {
			more = append(more, t)
		}
	}
	sort.Strings(more)
	for _, t := range append(types, more...) {
		c := b.Counts[t]
		fmt.Fprintf(w, "  %-8s scanned %d, created %d, updated %d, deleted %d, unlinked %d, skipped %d, failed %d\n",
			t, c.Scanned, c.Created, c.Updated, c.Deleted, c.Unlinked, c.Skipped, c.Failed)
	}
	fmt.Fprintf(w, "  requests graph %d, vantagepoint %d\n", b.Requests["graph"], b.Requests["vantagepoint"])
	for _, i := range b.Issues {
		fmt.Fprintf(w, "  issue: %s (%s) %s: %s\n", i.Item, i.Side, i.Type, i.Reason)
	}
	if b.Error != "" {
		fmt.Fprintf(w, "  error: %s\n", b.Error)
	}
}
