package alerts

import (
	"context"
	"testing"
	"time"
)

// An alert is a balloon of an icon of its own in the notification area;
// Windows tells a click on the balloon to the icon's window
// (NIN_BALLOONUSERCLICK in its callback message), which opens the alert's
// page and takes the icon away. Run under Wine by the Windows suite.
func TestBalloonClickOpensThePage(t *testing.T) {
	opened := make(chan Alert, 1)
	n := New(func(a Alert) { opened <- a }).(*balloonNotifier)
	t.Cleanup(func() { n.Close() })
	a := Alert{Key: "signin:vantagepoint", Title: "vpconnect: sign in to Vantagepoint again",
		Body: "Vantagepoint refused the stored sign-in.", Action: "Re-authorize Vantagepoint", Page: PageVantagepoint}
	if err := n.Notify(context.Background(), a); err != nil {
		t.Fatal(err)
	}
	if !n.icon.Load() {
		t.Fatal("the alert's icon is not in the notification area")
	}
	if err := n.w.Post(wmIcon, 0, ninBalloonUserClick); err != nil {
		t.Fatal(err)
	}
	select {
	case got := <-opened:
		if got.Page != PageVantagepoint {
			t.Fatalf("opened %+v", got)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("a click on the balloon opened nothing")
	}
	deadline := time.Now().Add(10 * time.Second)
	for n.icon.Load() {
		if time.Now().After(deadline) {
			t.Fatal("the icon stayed after the click")
		}
		time.Sleep(10 * time.Millisecond)
	}
}
