//go:build linux

package admin

import (
	"encoding/json"
	"os"
	"path/filepath"
	"testing"
	"time"

	"vpconnect/internal/chromiumtest"
)

// The page of `vpconnect admin status --html` in headless Chromium: it
// loads nothing from outside, its table shows the dashboard's counts, and
// every count links to a list of exactly that many people. The screenshot
// is kept in testdata/artifacts.
func TestDashboardPageInChromium(t *testing.T) {
	chromiumtest.Path(t)
	e := newEnv(t, false)
	fleet(t, e.sim, e.now)
	d, err := ReadDashboard(ctx, e.c, DashboardOptions{Now: func() time.Time { return e.now }})
	if err != nil {
		t.Fatal(err)
	}
	page := filepath.Join(t.TempDir(), "dashboard.html")
	f, err := os.Create(page)
	if err != nil {
		t.Fatal(err)
	}
	if err := WriteHTML(f, d); err != nil {
		t.Fatal(err)
	}
	f.Close()

	b := chromiumtest.Start(t)
	b.Navigate(t, "file://"+page)
	var outside int
	b.Eval(t, `document.querySelectorAll("script, link, img, iframe, object, [src]").length + performance.getEntriesByType("resource").length`, &outside)
	if outside != 0 {
		t.Errorf("the page loads %d resources; it must be self-contained", outside)
	}
	// The table as the browser shows it: status → total and per group.
	var table struct {
		Head []string
		Rows map[string][]string
	}
	b.Eval(t, `(() => {
		const head = [...document.querySelectorAll("#counts thead th")].map(th => th.textContent);
		const rows = {};
		for (const tr of document.querySelectorAll("#counts tbody tr")) {
			const tds = [...tr.querySelectorAll("td")].map(td => td.textContent);
			rows[tds[0]] = tds.slice(1);
		}
		return {head, rows};
	})()`, &table)
	if want := []string{"Status", "Total", "Field engineers", "Sales", NoGroup}; len(table.Head) != len(want) || table.Head[2] != want[2] || table.Head[4] != want[4] {
		t.Fatalf("head %q; want %q", table.Head, want)
	}
	for s, want := range wantCounts {
		row := table.Rows[s]
		// Page columns: total, Field engineers, Sales, no group.
		got := [4]string{}
		copy(got[:], row)
		w := [4]int{want[0], want[2], want[1], want[3]}
		for i := range w {
			if got[i] != itoa(w[i]) {
				t.Errorf("%s: page shows %q; want %v", s, row, w)
				break
			}
		}
	}
	// Every linked count leads to a list of that many people.
	var links []struct {
		Text, Href string
		Rows       int
	}
	b.Eval(t, `[...document.querySelectorAll("#counts a")].map(a => {
		const target = document.getElementById(a.getAttribute("href").slice(1));
		return {text: a.textContent, href: a.getAttribute("href"), rows: target ? target.querySelectorAll("tbody tr").length +
			(target.tagName === "H3" ? target.nextElementSibling.querySelectorAll("tbody tr").length : 0) : -1};
	})`, &links)
	// Links: a total for each of the 6 statuses, and one per non-zero cell.
	if len(links) != 6+13 {
		t.Errorf("%d links in the counts table: %+v", len(links), links)
	}
	for _, l := range links {
		if l.Text != itoa(l.Rows) {
			t.Errorf("link %s shows %s and leads to %d people", l.Href, l.Text, l.Rows)
		}
	}
	// Following one: the browser goes to the list.
	var hash string
	b.Eval(t, `(() => { document.querySelector('#counts a[href="#s-not-seen-g-sales"]').click(); return location.hash; })()`, &hash)
	if hash != "#s-not-seen-g-sales" {
		t.Errorf("after the click: %q", hash)
	}
	var waiting string
	b.Eval(t, `document.querySelector("#deletes-waiting td").textContent`, &waiting)
	if waiting != "E031" {
		t.Errorf("deletes waiting: %q", waiting)
	}
	b.Eval(t, `window.scrollTo(0, 0), true`, nil)
	dir := filepath.Join("..", "..", "testdata", "artifacts")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	shot := filepath.Join(dir, "admin-dashboard.png")
	b.Screenshot(t, shot)
	top := filepath.Join(dir, "admin-dashboard-top.png")
	b.ScreenshotTop(t, top, 900)
	t.Logf("screenshots: %s, %s", shot, top)
}

func itoa(n int) string {
	b, _ := json.Marshal(n)
	return string(b)
}
