package vantagepoint

import (
	"errors"
	"testing"
	"time"

	"vpconnect/syncer"
	"vpconnect/syncer/vantagepoint/vpsim"
)

// A create that Vantagepoint stored before answering 503 or 504 is not
// sent again: the error goes to the engine, whose journal looks the record
// up by its natural key before anything is created twice.
func TestACreateStoredThenAnswered5xxIsNotSentAgain(t *testing.T) {
	for _, status := range []int{503, 504} {
		e := newEnv(t, 0)
		e.sim.InjectFault(vpsim.Fault{Method: "POST", Status: status, AfterServing: true, Times: 1})
		at := time.Date(2026, 5, 4, 10, 0, 0, 0, time.UTC)
		_, err := e.c.CreateActivity(ctx, syncer.Activity{Type: "Meeting", Subject: "Review", StartDate: at, EndDate: at.Add(time.Hour), Employee: "E001", ClientID: "F1"})
		if !errors.Is(err, syncer.ErrUnavailable) || e.c.Requests() != 1 {
			t.Fatalf("%d: err %v after %d requests", status, err, e.c.Requests())
		}
		if n := len(e.sim.Activities()); n != 1 {
			t.Fatalf("%d: %d activities stored, want 1", status, n)
		}
		found, err := e.c.FindActivities(ctx, syncer.ActivityQuery{Type: "Meeting", Subject: "Review", StartDate: at, Employee: "E001"})
		if err != nil || len(found) != 1 {
			t.Fatalf("%d: the natural-key look-up found %d (%v)", status, len(found), err)
		}
	}
}
