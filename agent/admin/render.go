package admin

import (
	"fmt"
	"html/template"
	"io"
	"strings"
	"text/tabwriter"
	"time"
)

// The dashboard as text (the terminal) and as one self-contained HTML page
// (for IT to open or mail): the same counts, and the lists behind them.

// WriteText prints the counts per status and group, then the lists of d
// (narrow them with Only first).
func WriteText(w io.Writer, d Dashboard) error {
	fmt.Fprintf(w, "%d active employees with an e-mail (agents hub %s, switches in %s; Not Seen: no report for %d days)\n\n",
		d.Total, d.AgentsHub, d.GroupsHub, d.NotSeenDays)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	// Right-aligned numbers; the statuses padded to the left.
	head := []string{fmt.Sprintf("%-20s", ""), "Total"}
	for _, g := range d.Groups {
		head = append(head, GroupLabel(g.Group))
	}
	fmt.Fprintln(tw, strings.Join(head, "\t")+"\t")
	for _, s := range d.States() {
		row := []string{fmt.Sprintf("%-20s", s), fmt.Sprint(d.Counts[s])}
		for _, g := range d.Groups {
			row = append(row, fmt.Sprint(g.Counts[s]))
		}
		fmt.Fprintln(tw, strings.Join(row, "\t")+"\t")
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	if d.GroupsHubMissing {
		fmt.Fprintf(w, "\nThe groups hub %s does not exist: every switch is Enabled.\n", d.GroupsHub)
	}
	if len(d.DeletesWaiting) > 0 {
		fmt.Fprintf(w, "\nDeletes waiting (%d): see docs/admin.md, \"A Delete that waits\", for what IT can do by hand\n", len(d.DeletesWaiting))
		for _, p := range d.DeletesWaiting {
			fmt.Fprintf(w, "  %-8s %-24s %s\n", p.Employee, p.Name, p.Pending)
		}
	}
	for _, s := range d.States() {
		ps := d.People[s]
		if len(ps) == 0 {
			continue
		}
		fmt.Fprintf(w, "\n%s (%d)\n", s, len(ps))
		for _, p := range ps {
			fmt.Fprintln(w, "  "+textLine(p))
		}
	}
	if len(d.Others) > 0 {
		fmt.Fprintf(w, "\nAgent records of no active employee with an e-mail (%d): delete them in the agents hub\n", len(d.Others))
		for _, p := range d.Others {
			fmt.Fprintln(w, "  "+textLine(p))
		}
	}
	return nil
}

func textLine(p Person) string {
	head := fmt.Sprintf("%-8s %-24s %-16s", p.Employee, p.Name, GroupLabel(p.Group))
	var parts []string
	if p.Machine != "" {
		parts = append(parts, "on "+p.Machine)
	}
	if p.Status == StatusNotSeen {
		parts = append(parts, "last seen "+dash(p.LastSeen))
		if p.AgentState != "" {
			parts = append(parts, "last state "+p.AgentState)
		}
	} else if p.LastBatch != "" {
		parts = append(parts, "last batch "+p.LastBatch+" "+p.LastOutcome)
	}
	if p.OpenIssues > 0 {
		parts = append(parts, fmt.Sprintf("%d open issues", p.OpenIssues))
	}
	if p.Switch != "Enabled" {
		parts = append(parts, "switch "+p.Switch+" (set by "+dash(p.SwitchSetBy)+")")
	}
	if p.LastError != "" {
		parts = append(parts, "last error "+p.LastError)
	}
	if p.Pending != "" && p.Status != StatusNotSeen {
		parts = append(parts, p.Pending)
	}
	return strings.TrimRight(head+" "+strings.Join(parts, ", "), " ")
}

// anchor is an id for the page: the status, and the group when given.
func anchor(status string, group ...string) string {
	slug := func(s string) string {
		var b strings.Builder
		for _, r := range strings.ToLower(s) {
			switch {
			case r >= 'a' && r <= 'z', r >= '0' && r <= '9':
				b.WriteRune(r)
			default:
				b.WriteByte('-')
			}
		}
		return b.String()
	}
	a := "s-" + slug(status)
	if len(group) > 0 {
		a += "-g-" + slug(GroupLabel(group[0]))
	}
	return a
}

// WriteHTML writes d as one page with no outside resource: a table of the
// counts (status by group) whose numbers link to the lists below it.
func WriteHTML(w io.Writer, d Dashboard) error {
	type cell struct {
		N    int
		Link string
	}
	type row struct {
		Status string
		Total  cell
		Cells  []cell
	}
	type list struct {
		Group, ID string
		People    []Person
	}
	type section struct {
		Status, ID string
		N          int
		Lists      []list
	}
	var rows []row
	var sections []section
	for _, s := range d.States() {
		r := row{Status: s, Total: cell{d.Counts[s], "#" + anchor(s)}}
		sec := section{Status: s, ID: anchor(s), N: len(d.People[s])}
		for _, g := range d.Groups {
			c := cell{N: g.Counts[s]}
			var ps []Person
			for _, p := range d.People[s] {
				if p.Group == g.Group {
					ps = append(ps, p)
				}
			}
			if len(ps) > 0 {
				c.Link = "#" + anchor(s, g.Group)
				sec.Lists = append(sec.Lists, list{Group: GroupLabel(g.Group), ID: anchor(s, g.Group), People: ps})
			}
			r.Cells = append(r.Cells, c)
		}
		if r.Total.N == 0 || sec.N == 0 {
			r.Total.Link = ""
		}
		rows = append(rows, r)
		if sec.N > 0 {
			sections = append(sections, sec)
		}
	}
	var groups []string
	for _, g := range d.Groups {
		groups = append(groups, GroupLabel(g.Group))
	}
	return dashboardPage.Execute(w, map[string]any{"D": d, "Rows": rows, "Groups": groups, "Sections": sections})
}

// shortTime writes an RFC 3339 time of the dashboard as "2006-01-02
// 15:04 UTC" for the page.
func shortTime(s string) string {
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		return s
	}
	return t.UTC().Format("2006-01-02 15:04") + " UTC"
}

var dashboardPage = template.Must(template.New("dashboard").Funcs(template.FuncMap{"t": shortTime}).Parse(`<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<title>Connect dashboard</title>
<style>
body{font:14px/1.4 system-ui,-apple-system,"Segoe UI",sans-serif;margin:24px;color:#1f2328}
h1{font-size:22px;margin:0 0 4px}
p.sub{color:#59636e;margin:0 0 16px}
table{border-collapse:collapse;margin:8px 0 20px}
th,td{border:1px solid #d1d9e0;padding:4px 10px;text-align:left}
th{background:#f6f8fa}
table.counts td{text-align:right;min-width:56px}
table.counts td.st{text-align:left;font-weight:600}
a{color:#0969da;text-decoration:none}
a:hover{text-decoration:underline}
td.zero{color:#8c959f}
td.t{white-space:nowrap}
small{color:#59636e}
section{margin-top:20px}
h2{font-size:18px;border-bottom:1px solid #d1d9e0;padding-bottom:4px}
h3{font-size:15px;margin:12px 0 4px}
.warn{background:#fff8c5;border:1px solid #d4a72c;padding:8px 12px}
</style></head><body>
<h1>Connect dashboard</h1>
<p class="sub">{{.D.Total}} active employees with an e-mail · agents hub {{.D.AgentsHub}} · switches in {{.D.GroupsHub}} · Not Seen: no report for {{.D.NotSeenDays}} days · read {{t .D.Generated}}</p>
<table class="counts" id="counts"><thead><tr><th>Status</th><th>Total</th>{{range .Groups}}<th>{{.}}</th>{{end}}</tr></thead><tbody>
{{range .Rows}}<tr><td class="st">{{.Status}}</td>{{with .Total}}<td{{if not .N}} class="zero"{{end}}>{{if .Link}}<a href="{{.Link}}">{{.N}}</a>{{else}}{{.N}}{{end}}</td>{{end}}{{range .Cells}}<td{{if not .N}} class="zero"{{end}}>{{if .Link}}<a href="{{.Link}}">{{.N}}</a>{{else}}{{.N}}{{end}}</td>{{end}}</tr>
{{end}}</tbody></table>
{{if .D.GroupsHubMissing}}<p class="warn">The groups hub {{.D.GroupsHub}} does not exist: every switch is Enabled.</p>{{end}}
{{if .D.DeletesWaiting}}<section id="deletes-waiting"><h2>Deletes waiting ({{len .D.DeletesWaiting}})</h2>
<p class="warn">No agent of these employees has reported for {{.D.NotSeenDays}} days: the Delete waits. docs/admin.md, "A Delete that waits", says what IT can remove from the mailbox by hand.</p>
<table><thead><tr><th>Employee</th><th>Name</th><th>Group</th><th>Machine</th><th>Last seen</th><th>Switch</th><th>Set by</th></tr></thead><tbody>
{{range .D.DeletesWaiting}}<tr><td>{{.Employee}}</td><td>{{.Name}}</td><td>{{.Group}}</td><td>{{.Machine}}</td><td class="t">{{t .LastSeen}}</td><td>{{.Switch}}</td><td>{{.SwitchSetBy}}</td></tr>
{{end}}</tbody></table></section>{{end}}
{{range .Sections}}<section id="{{.ID}}"><h2>{{.Status}} ({{.N}})</h2>
{{range .Lists}}<h3 id="{{.ID}}">{{.Group}} ({{len .People}})</h3>
<table><thead><tr><th>Employee</th><th>Name</th><th>Machine</th><th>Agent state</th><th>Mailbox</th><th>Last batch</th><th>Open issues</th><th>Last error</th><th>Last seen</th><th>Switch</th></tr></thead><tbody>
{{range .People}}<tr><td>{{.Employee}}</td><td>{{.Name}}</td><td>{{.Machine}}</td><td>{{.AgentState}}</td><td>{{.MailboxStatus}}</td><td class="t">{{t .LastBatch}} {{.LastOutcome}}</td><td>{{.OpenIssues}}</td><td>{{.LastError}}</td><td class="t">{{t .LastSeen}}</td><td>{{.Switch}}{{if .Pending}}<br><small>{{.Pending}}</small>{{end}}</td></tr>
{{end}}</tbody></table>
{{end}}</section>
{{end}}
{{if .D.Others}}<section id="others"><h2>Agent records of no active employee with an e-mail ({{len .D.Others}})</h2>
<table><thead><tr><th>Employee</th><th>Machine</th><th>Agent state</th><th>Last seen</th></tr></thead><tbody>
{{range .D.Others}}<tr><td>{{.Employee}}</td><td>{{.Machine}}</td><td>{{.AgentState}}</td><td class="t">{{t .LastSeen}}</td></tr>
{{end}}</tbody></table></section>{{end}}
</body></html>
`))
