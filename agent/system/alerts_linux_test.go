package system

import (
	"context"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/godbus/dbus/v5"

	"vpconnect/agent"
	"vpconnect/agent/alerts"
	"vpconnect/auth"
	"vpconnect/internal/dbustest"
	"vpconnect/syncer/graph/graphsim"
)

// A refused Microsoft sign-in is told once as a desktop notification, over
// a stand-in notification daemon on a bus of the test's own, however many
// batches meet it; the notification's action opens the page at the
// re-authorization of that account.
func TestRefusedSignInRaisesOneNotification(t *testing.T) {
	ctx := context.Background()
	w := newFirstRunWorld(t, graphsim.Options{})
	addr := dbustest.Bus(t, "desktop notifications")
	srv := dbustest.Notifications(t, addr, "actions", "body", "body-markup")
	opened := make(chan string, 4)
	env := w.env(followRedirects, func(_ context.Context, u string) error { opened <- u; return nil })
	env.Notifier = func(open func(alerts.Alert)) alerts.Notifier {
		return alerts.NewDBus(func() (*dbus.Conn, error) { return dbus.Connect(addr) }, open)
	}
	if _, err := (Activation{Env: env, Config: w.cfg, DataDir: w.cfg.DataDir,
		SignIn:      auth.SignInOptions{Browser: followRedirects, NoDeviceCode: true, Out: io.Discard},
		Credentials: func(context.Context) (string, string, error) { return frVPUser, frPassword, nil }}).Run(ctx); err != nil {
		t.Fatalf("activate: %v", err)
	}
	// The lease of a lone agent is its own: read back soon.
	env.LeaseSettle = 100 * time.Millisecond
	sys := <-w.serve(t, env)
	if r := syncNow(t, sys); r.Err != nil {
		t.Fatalf("first batch: %v", r.Err)
	}
	// An administrator revokes the user's sessions (a password reset):
	// the refresh token is refused from now on.
	w.graph.RevokeRefreshTokens()
	w.graph.ExpireAccessTokens()
	for range 4 {
		syncNow(t, sys)
	}
	st := sys.Agent.Status()
	if st.State != agent.StateSuspended || !st.Accounts.Microsoft.SignInNeeded {
		t.Fatalf("after the revocation: %s, Microsoft %+v", st.State, st.Accounts.Microsoft)
	}
	// The alert follows the status on a goroutine of its own: give it the
	// time to tell a second one, if it wrongly would.
	time.Sleep(300 * time.Millisecond)
	shown := srv.WaitShown(1, 10*time.Second)
	if len(shown) != 1 {
		t.Fatalf("%d notifications over 4 batches, want 1: %+v", len(shown), shown)
	}
	n := shown[0]
	if !strings.Contains(n.Summary, "Microsoft 365") || !strings.Contains(n.Body, "refused the stored sign-in") {
		t.Errorf("notification %q / %q", n.Summary, n.Body)
	}
	srv.Invoke(n.ID, "open")
	var u string
	select {
	case u = <-opened:
	case <-time.After(10 * time.Second):
		t.Fatal("the notification's action opened no page")
	}
	// The address opens Sync Options in a browser's session, at the
	// Microsoft re-authorization.
	jar, _ := cookiejar.New(nil)
	resp, err := (&http.Client{Jar: jar}).Get(u)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	// The page reads its session and view from the address's fragment.
	view, _ := url.ParseQuery(resp.Request.URL.Fragment)
	if resp.StatusCode != http.StatusOK || view.Get("v") != "microsoft" || !strings.Contains(string(body), "Sync Options") {
		t.Fatalf("opened %s → %d %s", u, resp.StatusCode, resp.Request.URL)
	}
}
