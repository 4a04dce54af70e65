package syncer

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"vpconnect/syncer/store"
)

// Crash safety (docs/behaviour.md §4.4, §8): the engine is killed at every step of a
// scenario with all item types — after each journal entry, each write sent,
// each commit — restarted over the same state file, and must end where the
// uninterrupted run ends: nothing duplicated, nothing lost (mbsync's -Tj).

// restart simulates a new process: the state file is reopened and a new
// engine made; the services keep what they had.
func (e *env) restart() {
	e.t.Helper()
	path := e.st.Path()
	hook := e.eng.stepHook
	opts := e.eng.opts
	e.st.Close()
	st, err := store.Open(path)
	if err != nil {
		e.t.Fatalf("reopen the state after a crash: %v", err)
	}
	e.st = st
	e.t.Cleanup(func() { st.Close() })
	e.eng = New(e.mb, e.vp, st, opts)
	e.eng.stepHook = hook
}

// runSurvivingKills runs a batch; when the hook kills the engine it
// restarts it and runs the batch again, as the agent would at start-up.
func (e *env) runSurvivingKills() {
	e.t.Helper()
	for range 5 {
		_, err := e.eng.Run(context.Background(), TriggerSchedule)
		if errors.Is(err, errKilled) {
			e.restart()
			continue
		}
		if err != nil && !errors.Is(err, ErrUnavailable) {
			e.t.Fatalf("batch: %v", err)
		}
		return
	}
	e.t.Fatal("killed five times in a row")
}

// snapshot describes both services' contents without ids, sorted, so two
// runs can be compared.
func (e *env) snapshot() string {
	var lines []string
	for _, a := range e.vp.all() {
		notes := a.Notes
		if i := strings.Index(notes, "\n"); i >= 0 && a.Type != "EMail" {
			notes = notes[:i]
		}
		lines = append(lines, fmt.Sprintf("vp activity|%s|%s|%s|%s|%s|%s", a.Type, a.Subject, a.StartDate.Format(time.RFC3339), a.EndDate.Format(time.RFC3339), a.ContactID, a.Location))
	}
	for _, c := range e.vp.ownContacts("E001") {
		lines = append(lines, fmt.Sprintf("vp contact|%s|%s|%s|%s|%s|%s|%s", c.FirstName, c.LastName, strings.ToLower(c.Email), c.Title, c.Phone, c.CellPhone, c.ClientID))
	}
	for _, c := range e.mb.folderContacts() {
		lines = append(lines, fmt.Sprintf("outlook contact|%s|%s|%s|%s|%s|%s|%s", c.GivenName, c.Surname, strings.ToLower(c.Email), c.JobTitle, c.BusinessPhone, c.MobilePhone, c.CompanyName))
	}
	for _, ev := range e.mb.allEvents() {
		lines = append(lines, fmt.Sprintf("outlook event|%s|%s|%s|%s|%s", ev.Subject, ev.Start.Format(time.RFC3339), ev.End.Format(time.RFC3339), ev.Location, strings.Join(ev.Categories, ",")))
	}
	e.mb.mu.Lock()
	for _, m := range e.mb.msgs {
		cats := append([]string(nil), m.Categories...)
		sort.Strings(cats)
		lines = append(lines, fmt.Sprintf("outlook message|%s|%s", m.Subject, strings.Join(cats, ",")))
	}
	e.mb.mu.Unlock()
	sort.Strings(lines)
	return strings.Join(lines, "\n")
}

// crashScenario: new items on both sides of every type, then edits and
// deletes, then quiet batches.
func crashScenario(e *env) {
	start := now.Add(30 * time.Hour).Truncate(time.Hour)
	e.mb.add("inbox", tagged("Quote for the tower", "alice@fabrikam.com"))
	e.mb.add("sentitems", tagged("Re: invoice", "dana@contoso.com", "bob@northwind.example"))
	oc := e.outlookContact(MailboxContact{GivenName: "Olive", Surname: "Outlook", Email: "olive@x.example", CompanyName: "Fabrikam"})
	e.outlookContact(MailboxContact{GivenName: "Oscar", Surname: "Outlook", Email: "oscar@x.example"})
	vc := e.vp.addContact(vpContact("Vera", "Vantage", "vera@x.example", "F-NORTHWIND"))
	e.vp.addContact(vpContact("Victor", "Vantage", "victor@x.example", ""))
	e.vp.addContact(vpContact("Matched", "Both", "both@x.example", ""))
	e.outlookContact(MailboxContact{GivenName: "Matched", Surname: "Both", Email: "BOTH@x.example", JobTitle: "Old title"})
	om := e.outlookMeeting("Outlook meeting", start)
	e.vp.addActivity(meeting("Vantagepoint meeting", start.Add(2*time.Hour)))
	e.runSurvivingKills()

	e.editOutlookContact(oc.ID, func(c *MailboxContact) { c.JobTitle = "Partner" })
	e.vp.editContact(vc.ID, func(c *Contact) { c.CellPhone = "+1 555 0123" })
	e.editOutlookEvent(om.ID, func(ev *MailboxEvent) { ev.Location = "Room 9" })
	for _, c := range e.mb.folderContacts() {
		if c.GivenName == "Victor" {
			e.deleteOutlookContact(c.ID) // a copy: unlinks
		}
	}
	e.mb.add("inbox", tagged("Late addition", "alice@fabrikam.com"))
	e.runSurvivingKills()
	e.runSurvivingKills()
}

func newCrashEnv(t *testing.T) *env { return newEnv(t) }

func TestKillAtEveryStepEndsLikeTheUninterruptedRun(t *testing.T) {
	ref := newCrashEnv(t)
	steps := 0
	ref.eng.stepHook = func(string) error { steps++; return nil }
	crashScenario(ref)
	want := ref.snapshot()
	ref.quiet()
	if steps < 20 {
		t.Fatalf("the scenario has only %d steps", steps)
	}
	for k := 1; k <= steps; k++ {
		e := newCrashEnv(t)
		n := 0
		var killedAt string
		e.eng.stepHook = func(name string) error {
			n++
			if n == k {
				killedAt = name
				return errKilled
			}
			return nil
		}
		crashScenario(e)
		e.runSurvivingKills()
		if got := e.snapshot(); got != want {
			t.Fatalf("killed at step %d (%s): the end state differs from the uninterrupted run\n--- got\n%s\n--- want\n%s", k, killedAt, got, want)
		}
		e.quiet()
	}
	t.Logf("killed the engine at each of %d steps", steps)
}

// The property test: random edits on both sides, random faults, random
// kills, many batches. After each quiet batch: paired items agree, nothing
// is duplicated, nothing the user did not delete is missing, and a second
// quiet batch writes nothing.
func TestRandomEditsFaultsAndKillsConverge(t *testing.T) {
	runs, steps := 25, 40
	if testing.Short() {
		runs = 5
	}
	for seed := range runs {
		t.Run(fmt.Sprintf("seed %d", seed), func(t *testing.T) { propertyRun(t, uint64(seed), steps) })
	}
	t.Logf("%d runs of %d steps", runs, steps)
}

type userItem struct {
	side, kind string // where the user made it: mailbox/vantagepoint, contact/event
	key        string // unique text in its name
	deleted    bool
	// copyDeleted: the user deleted the agent's copy; the original stays
	// and the copy must not come back.
	copyDeleted bool
}

func propertyRun(t *testing.T, seed uint64, steps int) {
	rng := rand.New(rand.NewPCG(seed, 42))
	e := newEnv(t)
	var items []*userItem
	n := 0
	alive := func(side, kind string) []*userItem {
		var out []*userItem
		for _, it := range items {
			if it.side == side && it.kind == kind && !it.deleted {
				out = append(out, it)
			}
		}
		return out
	}
	outlookContactByKey := func(key string) (MailboxContact, bool) {
		for _, c := range e.mb.folderContacts() {
			if c.Surname == key {
				return c, true
			}
		}
		return MailboxContact{}, false
	}
	vpContactByKey := func(key string) (Contact, bool) {
		for _, c := range e.vp.ownContacts("E001") {
			if c.LastName == key {
				return c, true
			}
		}
		return Contact{}, false
	}
	eventByKey := func(key string) (MailboxEvent, bool) {
		for _, ev := range e.mb.allEvents() {
			if strings.HasPrefix(ev.Subject, key) {
				return ev, true
			}
		}
		return MailboxEvent{}, false
	}
	activityByKey := func(key string) (Activity, bool) {
		for _, a := range e.vp.all() {
			if strings.HasPrefix(a.Subject, key) {
				return a, true
			}
		}
		return Activity{}, false
	}
	pick := func(list []*userItem) *userItem { return list[rng.IntN(len(list))] }

	kills := 0
	for step := range steps {
		switch op := rng.IntN(13); {
		case op == 0:
			n++
			key := fmt.Sprintf("K%03d", n)
			e.outlookContact(MailboxContact{GivenName: "Out", Surname: key, Email: strings.ToLower(key) + "@o.example"})
			items = append(items, &userItem{side: SideMailbox, kind: "contact", key: key})
		case op == 1:
			n++
			key := fmt.Sprintf("K%03d", n)
			e.vp.addContact(vpContact("Vp", key, strings.ToLower(key)+"@v.example", ""))
			items = append(items, &userItem{side: SideVantagepoint, kind: "contact", key: key})
		case op == 2:
			n++
			key := fmt.Sprintf("M%03d", n)
			e.outlookMeeting(key+" outlook", now.Add(time.Duration(24+rng.IntN(200))*time.Hour).Truncate(time.Hour))
			items = append(items, &userItem{side: SideMailbox, kind: "event", key: key})
		case op == 3:
			n++
			key := fmt.Sprintf("M%03d", n)
			e.vp.addActivity(meeting(key+" vp", now.Add(time.Duration(24+rng.IntN(200))*time.Hour).Truncate(time.Hour)))
			items = append(items, &userItem{side: SideVantagepoint, kind: "event", key: key})
		case op == 4: // edit a contact in Outlook (an original or a copy)
			if c, ok := outlookContactByKey(fmt.Sprintf("K%03d", 1+rng.IntN(max(n, 1)))); ok {
				e.editOutlookContact(c.ID, func(m *MailboxContact) { m.JobTitle = fmt.Sprintf("Title %d", step) })
			}
		case op == 5:
			if c, ok := vpContactByKey(fmt.Sprintf("K%03d", 1+rng.IntN(max(n, 1)))); ok {
				e.vp.editContact(c.ID, func(m *Contact) { m.Phone = fmt.Sprintf("+1 555 %04d", step) })
			}
		case op == 6:
			if ev, ok := eventByKey(fmt.Sprintf("M%03d", 1+rng.IntN(max(n, 1)))); ok {
				e.editOutlookEvent(ev.ID, func(m *MailboxEvent) { m.Location = fmt.Sprintf("Room %d", step) })
			}
		case op == 7:
			if a, ok := activityByKey(fmt.Sprintf("M%03d", 1+rng.IntN(max(n, 1)))); ok {
				e.vp.editActivity(a.ID, func(m *Activity) { m.Location = fmt.Sprintf("Hall %d", step) })
			}
		case op == 8: // the user deletes an original
			if list := alive(SideMailbox, "contact"); len(list) > 0 && rng.IntN(3) == 0 {
				it := pick(list)
				if c, ok := outlookContactByKey(it.key); ok {
					e.deleteOutlookContact(c.ID)
					it.deleted = true
				}
			}
			if list := alive(SideVantagepoint, "event"); len(list) > 0 && rng.IntN(3) == 0 {
				it := pick(list)
				if a, ok := activityByKey(it.key); ok {
					e.vp.removeActivity(a.ID)
					it.deleted = true
				}
			}
		case op == 11: // the user deletes a copy the agent made
			if list := alive(SideVantagepoint, "contact"); len(list) > 0 {
				it := pick(list)
				if c, ok := outlookContactByKey(it.key); ok && !it.copyDeleted {
					e.deleteOutlookContact(c.ID)
					it.copyDeleted = true
				}
			}
			if list := alive(SideMailbox, "event"); len(list) > 0 {
				it := pick(list)
				if a, ok := activityByKey(it.key); ok && !it.copyDeleted {
					e.vp.removeActivity(a.ID)
					it.copyDeleted = true
				}
			}
		case op == 9: // a fault on the next call of some write
			method := []string{"CreateContact", "CreateContact:lost", "UpdateContact", "CreateEvent:lost", "UpdateEvent"}[rng.IntN(5)]
			err := fmt.Errorf("injected: %w", ErrUnavailable)
			if rng.IntN(2) == 0 {
				e.mb.fail[method] = append(e.mb.fail[method], err)
			} else {
				vpMethod := strings.Replace(method, "Event", "Activity", 1)
				e.vp.fail[vpMethod] = append(e.vp.fail[vpMethod], err)
			}
		case op == 10: // a kill somewhere in the next batch
			k := 1 + rng.IntN(12)
			count := 0
			e.eng.stepHook = func(string) error {
				count++
				if count == k {
					kills++
					return errKilled
				}
				return nil
			}
			e.runSurvivingKills()
			e.eng.stepHook = nil
		default:
			if rng.IntN(4) == 0 {
				e.mb.forgetAll = true // a 410 on the next delta round
			}
			e.runSurvivingKills()
		}
		if step%10 == 9 || step == steps-1 {
			checkQuiet(t, e, items, seed, step)
		}
	}
}

// checkQuiet clears faults, lets the engine settle, and checks the
// invariants.
func checkQuiet(t *testing.T, e *env, items []*userItem, seed uint64, step int) {
	t.Helper()
	clear(e.mb.fail)
	clear(e.vp.fail)
	e.eng.stepHook = nil
	e.st.Update(context.Background(), func(tx *store.Tx) error {
		tx.SetMeta("vp_full:contacts", "")
		return tx.SetMeta("vp_full:events", "")
	})
	for range 3 {
		e.runSurvivingKills()
	}
	ctx := context.Background()
	// Paired items agree on all mapped fields.
	for _, typ := range []string{TypeContacts, TypeEvents} {
		var pairs []store.Pairing
		e.st.View(ctx, func(tx *store.Tx) error {
			return tx.Pairings(typ, func(p store.Pairing) error { pairs = append(pairs, p); return nil })
		})
		var k kind = e.eng.newContactKind()
		if typ == TypeEvents {
			k = newEventKind(e.eng)
		}
		k.ready(ctx)
		for _, p := range pairs {
			if p.Origin == originUnlinked {
				continue
			}
			m, okM, _ := k.sides()[onMailbox].get(ctx, p.MailboxID)
			v, okV, _ := k.sides()[onVP].get(ctx, p.VPID)
			if !okM || !okV {
				t.Errorf("seed %d step %d: %s pairing %s↔%s lost a side (outlook %v, vp %v)", seed, step, typ, p.MailboxID, p.VPID, okM, okV)
				continue
			}
			if !sameContent(m, v) {
				t.Errorf("seed %d step %d: paired %s differ:\n outlook %v\n vp      %v", seed, step, typ, m.fields, v.fields)
			}
		}
	}
	// Nothing duplicated on either side.
	seen := map[string]int{}
	for _, c := range e.mb.folderContacts() {
		seen["outlook contact "+c.Surname]++
	}
	for _, c := range e.vp.ownContacts("E001") {
		seen["vp contact "+c.LastName]++
	}
	for _, ev := range e.mb.allEvents() {
		seen["outlook event "+ev.Subject]++
	}
	for _, a := range e.vp.all() {
		seen["vp activity "+a.Subject]++
	}
	for k, n := range seen {
		if n > 1 {
			t.Errorf("seed %d step %d: %s exists %d times", seed, step, k, n)
		}
	}
	// Nothing the user made and did not delete is missing.
	for _, it := range items {
		if it.deleted {
			continue
		}
		var key string
		switch {
		case it.kind == "contact" && it.side == SideMailbox:
			key = "outlook contact " + it.key
		case it.kind == "contact":
			key = "vp contact " + it.key
		case it.side == SideMailbox:
			key = "outlook event " + it.key + " outlook"
		default:
			key = "vp activity " + it.key + " vp"
		}
		if seen[key] != 1 {
			t.Errorf("seed %d step %d: the user's %s is missing", seed, step, key)
		}
		if it.copyDeleted {
			copyKey := map[string]string{"contact": "outlook contact " + it.key, "event": "vp activity " + it.key + " outlook"}[it.kind]
			if seen[copyKey] != 0 {
				t.Errorf("seed %d step %d: the copy %s the user deleted came back", seed, step, copyKey)
			}
		}
	}
	if t.Failed() {
		t.FailNow()
	}
	e.quiet()
}

// loseState simulates a state file that was deleted (or found corrupt and
// recreated): a new, empty store under a new engine; the services keep all
// they have. The mailbox is still marked as this user's, so initialization
// only takes its folder and categories up again.
func (e *env) loseState() {
	e.t.Helper()
	opts := e.eng.opts
	e.st.Close()
	st, err := store.Open(filepath.Join(e.t.TempDir(), "sync.db"))
	if err != nil {
		e.t.Fatal(err)
	}
	e.st = st
	e.t.Cleanup(func() { st.Close() })
	e.eng = New(e.mb, e.vp, st, opts)
	if err := e.eng.Prepare(context.Background()); err != nil {
		e.t.Fatalf("Prepare over a new state file: %v", err)
	}
	if err := e.eng.InitializeMailbox(context.Background(), false); err != nil {
		e.t.Fatalf("initialize over a new state file: %v", err)
	}
}

// docs/behaviour.md §8: a state file deleted or recreated after corruption is never a
// mass create or delete: every item is paired again by its natural key, and
// the e-mails already filed are not filed again (the Synced category sends
// them to a look-up first). The one thing the lost file alone knew is that
// the user deleted the Outlook copy of Victor, a Vantagepoint contact: that
// copy comes back, once.
func TestALostStateFileRepairsByNaturalKeys(t *testing.T) {
	e := newCrashEnv(t)
	crashScenario(e)
	want := e.snapshot()
	vpWrites, activities := e.vp.writes, len(e.vp.all())
	e.loseState()
	b := e.run()
	victor := "outlook contact|Victor|Vantage|victor@x.example|Engineer|+1 555 0100||"
	got := e.snapshot()
	if !strings.Contains(got, victor) {
		t.Errorf("Victor's copy is not back: the test no longer describes the engine\n%s", got)
	}
	if got = strings.Replace(got, victor+"\n", "", 1); got != want {
		t.Fatalf("the services changed after the state file was lost\n--- got\n%s\n--- want\n%s", got, want)
	}
	for typ, c := range b.Counts {
		wantCreated := 0
		if typ == TypeContacts {
			wantCreated = 1 // Victor, in Outlook
		}
		if c.Created != wantCreated || c.Deleted != 0 || c.Unlinked != 0 || c.Failed != 0 {
			t.Errorf("%s after the state file was lost: %+v; want everything paired again, nothing deleted", typ, c)
		}
	}
	if n := len(e.vp.all()); n != activities {
		t.Errorf("%d activities after the state file was lost, %d before", n, activities)
	}
	e.vp.mu.Lock()
	extra := e.vp.writes - vpWrites
	e.vp.mu.Unlock()
	if extra != 0 {
		t.Errorf("%d writes to Vantagepoint after the state file was lost; want none", extra)
	}
	e.quiet()
}
