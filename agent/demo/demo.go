package demo

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"sort"
	"strings"
	"sync"
	"time"

	"vpconnect/agent"
	"vpconnect/agent/config"
	"vpconnect/agent/system"
	"vpconnect/auth"
	"vpconnect/syncer"
	"vpconnect/syncer/graph/graphsim"
	"vpconnect/syncer/store"
	"vpconnect/syncer/vantagepoint/vpsim"
)

// demoClientID is the application id the simulated identity platform
// expects from the demo, as a real tenant expects its app registration's.
const demoClientID = "6731de76-14a6-49ae-97bc-6eba6914391e"

// The demo's Vantagepoint API authorization (client id and secret), as IT
// distributes a real server's by policy; the simulated server checks them.
const (
	demoVPClientID     = "vpconnect-demo"
	demoVPClientSecret = "vpconnect-demo-secret"
)

// Options configure a demo run.
type Options struct {
	// Once runs one batch and returns.
	Once bool
	// JSON prints each batch as the JSON object of docs/behaviour.md §5.1, one per line,
	// instead of the readable summary.
	JSON bool
	// Interval is the time between batches when not Once; 15 s when zero.
	Interval time.Duration
	// Out receives the summaries; Err the progress notes. os.Stdout and
	// os.Stderr when nil.
	Out, Err io.Writer
	// Host runs serve (the demo's agent and its loopback API, on port with
	// its secret in dataDir) and may show a tray next to it; nil runs serve
	// alone. Not used with Once.
	Host func(ctx context.Context, serve func(context.Context) error, dataDir string, port int) error
}

// Demo is a running demo world: both simulated services on loopback, a
// fresh data dir, and the agent between them, built as `vpconnect run`
// builds it (agent/system).
type Demo struct {
	Graph        *graphsim.Server
	Vantagepoint *vpsim.Server
	DataDir      string
	Config       config.Config
	Employee     syncer.Employee
	User         syncer.MailboxUser
	// Keychain holds the demo's sign-ins (in memory only).
	Keychain *auth.MemoryKeychain
	// Accounts is the outcome of the demo's activation.
	Accounts system.Activated

	sys   *system.System
	store *store.Store
	opts  Options
	shown map[string]bool // activities already printed
	// contactFolder is the id of the synced Outlook contact folder.
	contactFolder string
	// mu keeps the demo's "user" out of a running batch, so that what a
	// batch printed as its writes (a diff of both services around it) is
	// what the agent wrote.
	mu sync.Mutex
}

// Start starts the simulators on loopback, seeds them, activates against
// them and builds the agent with the real Graph and Vantagepoint clients.
// The caller must Close the demo.
func Start(ctx context.Context, opts Options) (*Demo, error) {
	if opts.Out == nil {
		opts.Out = os.Stdout
	}
	if opts.Err == nil {
		opts.Err = os.Stderr
	}
	if opts.Interval == 0 {
		opts.Interval = 15 * time.Second
	}
	d := &Demo{opts: opts, shown: map[string]bool{}}
	ok := false
	defer func() {
		if !ok {
			d.Close()
		}
	}()
	var err error
	// A fresh data dir (0700) every time: the demo never reads or writes a
	// real configuration or state.
	if d.DataDir, err = os.MkdirTemp("", "vpconnect-demo-"); err != nil {
		return nil, fmt.Errorf("create the demo data dir: %w", err)
	}

	d.Graph = graphsim.New(graphsim.Options{
		User:     graphsim.User{DisplayName: "Dana Whitfield", Mail: demoUserMail, UserPrincipalName: demoUserMail, GivenName: "Dana", Surname: "Whitfield", JobTitle: "Project Manager"},
		ClientID: demoClientID,
	})
	if _, err := d.Graph.Start("127.0.0.1:0"); err != nil {
		return nil, fmt.Errorf("start the simulated Microsoft 365: %w", err)
	}
	d.Vantagepoint = vpsim.New(vpsim.Options{Database: "VPDemo", ClientID: demoVPClientID, ClientSecret: demoVPClientSecret})
	if _, err := d.Vantagepoint.Start("127.0.0.1:0"); err != nil {
		return nil, fmt.Errorf("start the simulated Vantagepoint: %w", err)
	}
	seedWorld(d.Graph, d.Vantagepoint, time.Now().UTC())

	cfg := config.Default()
	cfg.Microsoft.ClientID = demoClientID
	cfg.Microsoft.AuthorityURL = d.Graph.AuthorityURL()
	cfg.Microsoft.GraphURL = d.Graph.GraphURL()
	cfg.Vantagepoint.APIURL = d.Vantagepoint.APIURL()
	cfg.Vantagepoint.Database = d.Vantagepoint.Database()
	cfg.Vantagepoint.ClientID = demoVPClientID
	cfg.Vantagepoint.ClientSecret = demoVPClientSecret
	cfg.Vantagepoint.FleetSize = 1 // one agent on its own server: nothing to pace
	cfg.DataDir = d.DataDir
	cfg.KeychainService = "vpconnect-demo"
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("the demo configuration: %w", err)
	}
	d.Config = cfg

	// The demo's agent is the product's, in an environment of its own: an
	// in-memory keychain (the demo never touches the user's), a "browser"
	// that consents at once, its own interval (below the product's
	// one-minute minimum) and no first-poll wait, and each batch printed.
	d.Keychain = auth.NewMemoryKeychain()
	env := system.Env{
		Keychain: func(string) auth.Keychain { return d.Keychain },
		Browser:  followRedirects,
		Schedule: agent.Schedule{Interval: opts.Interval, FirstPollMax: time.Nanosecond},
		Batches:  func(next agent.Syncer) agent.Syncer { return printing{d, next} },
		// The simulated Graph applies a write before it answers: the
		// claim of the mailbox's lease need not wait long for the
		// service, but its read and write must fit in the wait even on
		// a loaded computer, or the claim is abandoned.
		LeaseSettle: 500 * time.Millisecond,
	}
	// It activates the way `vpconnect activate` does, through
	// system.Activation: Microsoft sign-in by authorization code + PKCE (the
	// simulated authorize endpoint consents at once; the "browser" is an
	// HTTP client that follows its redirect to the loopback listener),
	// Vantagepoint by password grant.
	act := system.Activation{Env: env, Config: cfg, DataDir: d.DataDir,
		SignIn: auth.SignInOptions{Browser: followRedirects, NoDeviceCode: true, Out: io.Discard},
		Credentials: func(context.Context) (string, string, error) {
			return demoVPUser, demoVPPassword, nil
		},
	}
	res, err := act.Run(ctx)
	if err != nil {
		return nil, fmt.Errorf("activate against the simulators: %w", err)
	}
	d.User, d.Employee, d.Accounts = res.User, res.Employee, res
	if d.sys, err = system.Build(ctx, env, cfg, d.DataDir, nil); err != nil {
		return nil, fmt.Errorf("build the demo's agent: %w", err)
	}
	d.store = d.sys.Store

	// Dana's contact folder exists now: activation initialized the mailbox
	// (docs/behaviour.md §4.5), which creates it. Her people are added to it after that,
	// as she would add them once the agent made the folder, so the demo
	// shows the product's path: the folder is the agent's, with its mark.
	// (Seeding a folder of that name before activation would work too, as
	// InitializeMailbox adopts an unmarked folder of its name, but that is
	// the corner case of a pre-existing folder, not the newcomer's case.)
	folders := d.outlookContactFolders()
	if len(folders) != 1 {
		return nil, fmt.Errorf("after activation the mailbox has %d contact folders named %q, want 1", len(folders), cfg.Sync.ContactFolder)
	}
	d.contactFolder = folders[0]
	seedContactFolder(d.Graph, d.contactFolder)
	ok = true
	return d, nil
}

// outlookContactFolders lists the ids of the contact folders named like the
// synced one.
func (d *Demo) outlookContactFolders() []string {
	var ids []string
	for _, f := range d.Graph.ContactFolders() {
		if strings.EqualFold(f.DisplayName, d.Config.Sync.ContactFolder) {
			ids = append(ids, f.ID)
		}
	}
	return ids
}

// Close stops the simulators and removes the data dir.
func (d *Demo) Close() {
	if d.sys != nil {
		d.sys.Close()
	}
	if d.Graph != nil {
		d.Graph.Close()
	}
	if d.Vantagepoint != nil {
		d.Vantagepoint.Close()
	}
	if d.DataDir != "" {
		os.RemoveAll(d.DataDir)
	}
}

// Batch runs one batch and prints it, with the contacts and meetings it
// wrote on each side.
func (d *Demo) Batch(ctx context.Context, trigger syncer.Trigger) (store.Batch, error) {
	return printing{d, d.sys.Runner}.Run(ctx, trigger)
}

// printing is the agent's batch runner with each batch printed.
type printing struct {
	d    *Demo
	next agent.Syncer
}

// MailboxChanged lets the agent probe the mailbox between batches, as it
// does in the product.
func (p printing) MailboxChanged(ctx context.Context) (bool, error) {
	return p.d.sys.Runner.MailboxChanged(ctx)
}

func (p printing) Run(ctx context.Context, trigger syncer.Trigger) (store.Batch, error) {
	return p.printed(ctx, trigger, p.next.Run)
}

// RunScoped runs the batches a mailbox change or a track request starts
// as the product does: without listing Vantagepoint.
func (p printing) RunScoped(ctx context.Context, trigger syncer.Trigger, scope syncer.Scope) (store.Batch, error) {
	s, ok := p.next.(agent.ScopedSyncer)
	if !ok {
		return p.Run(ctx, trigger)
	}
	return p.printed(ctx, trigger, func(ctx context.Context, t syncer.Trigger) (store.Batch, error) {
		return s.RunScoped(ctx, t, scope)
	})
}

func (p printing) printed(ctx context.Context, trigger syncer.Trigger, run func(context.Context, syncer.Trigger) (store.Batch, error)) (store.Batch, error) {
	d := p.d
	d.mu.Lock()
	defer d.mu.Unlock()
	var before world
	var err error
	if !d.opts.JSON {
		if before, err = d.snapshot(ctx); err != nil {
			return store.Batch{}, fmt.Errorf("look at the simulated services before the batch: %w", err)
		}
	}
	b, err := run(ctx, trigger)
	if b.ID == 0 {
		return b, err
	}
	var lines []written
	if !d.opts.JSON {
		after, serr := d.snapshot(ctx)
		if serr != nil {
			return b, errors.Join(err, fmt.Errorf("look at the simulated services after the batch: %w", serr))
		}
		lines = d.changes(before, after)
	}
	d.print(b, lines)
	return b, err
}

// Run is `vpconnect demo`: start, one batch, and unless Once a batch every
// interval until ctx ends. While it runs it plays the user now and then,
// tagging a message in the simulated Outlook, so that a change can be seen
// arriving in Vantagepoint.
func Run(ctx context.Context, opts Options) error {
	if opts.Err == nil {
		opts.Err = os.Stderr
	}
	d, err := Start(ctx, opts)
	if err != nil {
		return fmt.Errorf("start the demo: %w", err)
	}
	defer d.Close()
	if opts.Once {
		_, err := d.Batch(ctx, syncer.TriggerStartup)
		return err
	}
	d.announce()
	// The real agent runs the batches (startup, then every interval) and
	// serves the Sync Options page; the demo only plays the user.
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	user := make(chan struct{})
	go func() {
		defer close(user)
		actions := d.userActions()
		tick := time.NewTicker(2 * d.opts.Interval)
		defer tick.Stop()
		for len(actions) > 0 {
			select {
			case <-ctx.Done():
				return
			case <-tick.C:
			}
			actions[0]()
			actions = actions[1:]
		}
	}()
	serve := func(ctx context.Context) error {
		return d.Serve(ctx, func(u string) {
			fmt.Fprintf(d.opts.Err, "  Sync Options           %s  (one-time address, valid 2 minutes)\n\n", u)
		})
	}
	if d.opts.Host != nil {
		err = d.opts.Host(ctx, serve, d.DataDir, d.Config.LocalAPI.Port)
	} else {
		err = serve(ctx)
	}
	cancel()
	<-user
	fmt.Fprintln(d.opts.Err, "demo stopped; the simulated services and the data dir are gone")
	return err
}

// userActions are what the demo's user does while it runs, one every two
// intervals: she tags an e-mail in Outlook, and in between she alternately
// edits a contact in Outlook and moves a meeting in Vantagepoint, so that
// changes can be seen flowing both ways.
func (d *Demo) userActions() []func() {
	edits := []func(){
		func() { d.editContactInOutlook(seedOutlookContacts[0].email, "Chief Facilities Officer") },
		func() { d.moveMeetingInVantagepoint(seedMeetings[0].subject, 24*time.Hour) },
		func() { d.editContactInOutlook(seedOutlookContacts[1].email, "Senior Site Superintendent") },
		func() { d.moveMeetingInVantagepoint(seedMeetings[1].subject, 2*time.Hour) },
	}
	var out []func()
	for i, subject := range untaggedToTag() {
		out = append(out, func() { d.tagInOutlook(subject) })
		if i < len(edits) {
			out = append(out, edits[i])
		}
	}
	return out
}

// editContactInOutlook gives the contact with this address in the synced
// contact folder a new job title, as the user would in Outlook.
func (d *Demo) editContactInOutlook(email, title string) {
	d.mu.Lock()
	defer d.mu.Unlock()
	for _, c := range d.Graph.Contacts(d.contactFolder) {
		if len(c.EmailAddresses) > 0 && strings.EqualFold(c.EmailAddresses[0].Address, email) {
			d.Graph.UpdateContact(c.ID, func(c *graphsim.Contact) { c.JobTitle = title })
			fmt.Fprintf(d.opts.Err, "\n(demo) Dana changes the job title of %s %s to %q in Outlook\n", c.GivenName, c.Surname, title)
			return
		}
	}
}

// moveMeetingInVantagepoint moves the user's Vantagepoint meeting with
// this subject by the given time, as the user would in Vantagepoint.
func (d *Demo) moveMeetingInVantagepoint(subject string, by time.Duration) {
	d.mu.Lock()
	defer d.mu.Unlock()
	for _, a := range d.Vantagepoint.Activities() {
		if a.Subject != subject || !d.calendarType(a.Type) || a.Employee != d.Employee.ID {
			continue
		}
		start, err1 := vpsim.ParseDate(a.StartDate)
		end, err2 := vpsim.ParseDate(a.EndDate)
		if err1 != nil || err2 != nil {
			return
		}
		d.Vantagepoint.UpdateActivity(a.ActivityID, func(a *vpsim.Activity) {
			a.StartDate, a.EndDate = vpsim.FormatDate(start.Add(by)), vpsim.FormatDate(end.Add(by))
		})
		fmt.Fprintf(d.opts.Err, "\n(demo) Dana moves %q to %s in Vantagepoint\n", subject, when(start.Add(by)))
		return
	}
}

// tagInOutlook adds the Vantagepoint category to a message, as the user
// would in Outlook.
func (d *Demo) tagInOutlook(subject string) {
	d.mu.Lock()
	defer d.mu.Unlock()
	for _, f := range []string{"inbox", "sentitems"} {
		for _, m := range d.Graph.Messages(d.Graph.FolderID(f)) {
			if m.Subject == subject {
				d.Graph.UpdateMessage(m.ID, func(m *graphsim.Message) {
					m.Categories = append(m.Categories, d.Config.Sync.Category)
				})
				fmt.Fprintf(d.opts.Err, "\n(demo) Dana tags %q with %q in Outlook\n", subject, d.Config.Sync.Category)
				return
			}
		}
	}
}

func (d *Demo) announce() {
	w := d.opts.Err
	fmt.Fprintln(w, "vpconnect demo: the agent against simulated services on loopback (Ctrl-C to stop)")
	fmt.Fprintf(w, "  Microsoft 365 (Graph)  %s   mailbox of %s <%s>\n", d.Graph.GraphURL(), d.User.DisplayName, d.User.Mail)
	fmt.Fprintf(w, "  Microsoft sign-in      %s/%s/oauth2/v2.0/authorize\n", d.Graph.AuthorityURL(), d.Config.Microsoft.Tenant)
	fmt.Fprintf(w, "  Vantagepoint API       %s   database %s, employee %s\n", d.Vantagepoint.APIURL(), d.Config.Vantagepoint.Database, d.Employee.ID)
	fmt.Fprintf(w, "  data dir               %s (removed on exit)\n", d.DataDir)
	fmt.Fprintf(w, "  a batch every %s; now and then the demo tags an e-mail or edits a contact in Outlook, or moves a meeting\n", d.opts.Interval)
	fmt.Fprintf(w, "  in Vantagepoint, as Dana would\n\n")
}

func (d *Demo) print(sb store.Batch, lines []written) {
	b := agent.BatchReport(sb)
	if d.opts.JSON {
		line, _ := json.Marshal(b)
		fmt.Fprintln(d.opts.Out, string(line))
		return
	}
	w := d.opts.Out
	agent.WriteBatch(w, b)
	acts := d.emailActivities()
	fmt.Fprintf(w, "  in Vantagepoint: %d %s activities of %s\n", len(acts), d.Config.Sync.EmailType, d.Employee.Name)
	for _, a := range acts {
		if !d.shown[a.id] {
			d.shown[a.id] = true
			fmt.Fprintf(w, "    new  %s  %-45s %s\n", a.when, a.subject, a.contact)
		}
	}
	if len(lines) > 0 {
		fmt.Fprintln(w, "  contacts and meetings:")
		for _, l := range lines {
			fmt.Fprintf(w, "    %s\n", l)
		}
	}
	fmt.Fprintln(w)
}

type shownActivity struct{ id, when, subject, contact string }

// emailActivities lists the e-mail activities in the simulated Vantagepoint,
// newest first, with the contact and firm they are linked to.
func (d *Demo) emailActivities() []shownActivity {
	contacts := map[string]vpsim.Contact{}
	for _, c := range d.Vantagepoint.Contacts() {
		contacts[c.ContactID] = c
	}
	firms := map[string]string{}
	for _, f := range d.Vantagepoint.Firms() {
		firms[f.ClientID] = f.Name
	}
	var out []shownActivity
	for _, a := range d.Vantagepoint.Activities() {
		if a.Type != d.Config.Sync.EmailType || a.Employee != d.Employee.ID {
			continue
		}
		link := "(no contact)"
		if c, ok := contacts[a.ContactID]; ok {
			link = "→ " + strings.TrimSpace(c.FirstName+" "+c.LastName)
			if f := firms[a.ClientID]; f != "" {
				link += ", " + f
			}
		}
		when := a.StartDate
		if t, err := vpsim.ParseDate(a.StartDate); err == nil {
			when = t.Format("2006-01-02 15:04")
		}
		out = append(out, shownActivity{id: a.ActivityID, when: when, subject: a.Subject, contact: link})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].when > out[j].when })
	return out
}

// followRedirects is the demo's browser: it opens the sign-in address and
// follows the redirects to the loopback listener, as a browser does after
// the user consents.
func followRedirects(ctx context.Context, address string) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, address, nil)
	if err != nil {
		return err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return fmt.Errorf("follow the sign-in redirects: %w", err)
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("the sign-in page ended with %s", resp.Status)
	}
	return nil
}
