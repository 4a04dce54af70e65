package system

import (
	"testing"

	"vpconnect/agent/alerts"
	"vpconnect/agent/localapi"
)

// An alert names the page it opens in the words of the page's views
// (alerts repeats them: it imports only the agent).
func TestAlertPagesAreThePagesViews(t *testing.T) {
	for _, p := range [][2]string{{alerts.PageMicrosoft, localapi.ModeMicrosoft}, {alerts.PageVantagepoint, localapi.ModeVantagepoint}} {
		if p[0] != p[1] {
			t.Errorf("alerts page %q, the page's view %q", p[0], p[1])
		}
	}
}
