package graphsim

import (
	"testing"
	"time"
)

// Every property a PATCH of an organizer's meeting names, but categories
// and single-value extended properties, reaches the attendees as an
// update, whatever its value (Graph, "Update event"); a PATCH refused
// (412, 400) sends nothing; an attendee's own copy sends nothing.
func TestEveryMeetingPropertyButCategoriesSendsAnUpdate(t *testing.T) {
	s, tok := newTest(t)
	at := time.Date(2026, 5, 4, 10, 0, 0, 0, time.UTC)
	e := s.AddEvent(Event{Subject: "Review", Start: at, End: at.Add(time.Hour),
		Attendees: []Attendee{{Type: "required", Name: "A", Address: "a@example.com"}, {Type: "required", Name: "B", Address: "b@example.com"},
			{Type: "resource", Name: "Room 2", Address: "room2@example.com"}}})
	patch := func(id, body string, hdr map[string]string, want int) {
		t.Helper()
		h := map[string]string{"Content-Type": "application/json"}
		for k, v := range hdr {
			h[k] = v
		}
		if resp, m := call(t, s, tok, "PATCH", "/v1.0/me/events/"+id, h, body); resp.StatusCode != want {
			t.Fatalf("PATCH %s: %d %v, want %d", body, resp.StatusCode, m, want)
		}
	}
	patch(e.ID, `{"categories":["Vantagepoint"],"singleValueExtendedProperties":[{"id":"String {66f5a359-4659-4830-9070-00047ec6ac6e} Name VantagepointId","value":"A1"}]}`, nil, 200)
	if n := s.AttendeeUpdates(); n != 0 {
		t.Fatalf("categories and the agent's property sent %d updates", n)
	}
	sent := int64(0)
	for _, body := range []string{`{"subject":"Review"}`, `{"isReminderOn":false}`, `{"importance":"high"}`, `{"showAs":"busy"}`,
		`{"responseRequested":true}`} {
		patch(e.ID, body, nil, 200)
		sent += 3
		if n := s.AttendeeUpdates(); n != sent {
			t.Fatalf("after %s: %d updates, want %d", body, n, sent)
		}
	}
	patch(e.ID, `{"subject":"Moved"}`, map[string]string{"If-Match": `W/"stale"`}, 412)
	if n := s.AttendeeUpdates(); n != sent {
		t.Fatalf("a refused PATCH sent updates: %d, want %d", n, sent)
	}
	// The same meeting in an attendee's calendar: the user is not its
	// organizer, so changing the copy informs nobody.
	copyOf := s.AddEvent(Event{Subject: "Their review", Start: at, End: at.Add(time.Hour), Organizer: Recipient{Name: "Other", Address: "other@example.com"},
		Attendees: []Attendee{{Type: "required", Address: "a@example.com"}}})
	patch(copyOf.ID, `{"subject":"Mine now"}`, nil, 200)
	if n := s.AttendeeUpdates(); n != sent {
		t.Fatalf("an attendee's copy sent updates: %d, want %d", n, sent)
	}
}
