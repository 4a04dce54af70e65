package fault

import (
	"errors"
	"fmt"
	"testing"
)

func TestSideOf(t *testing.T) {
	if _, ok := SideOf(errors.New("plain")); ok {
		t.Error("an unmarked error has a side")
	}
	if OnSide(Mailbox, nil) != nil {
		t.Error("nil marked is not nil")
	}
	vp := OnSide(Vantagepoint, fmt.Errorf("list contacts: %w", ErrUnavailable))
	if s, ok := SideOf(fmt.Errorf("batch: %w", vp)); !ok || s != Vantagepoint {
		t.Errorf("side %q %v, want vantagepoint", s, ok)
	}
	if !errors.Is(vp, ErrUnavailable) || vp.Error() != "list contacts: the service is unavailable" {
		t.Errorf("the mark changed the error: %v", vp)
	}
	// A Vantagepoint failure inside a mailbox step keeps its own side.
	both := OnSide(Mailbox, fmt.Errorf("file e-mail: %w", vp))
	if s, _ := SideOf(both); s != Vantagepoint {
		t.Errorf("side %q, want the innermost (vantagepoint)", s)
	}
	if s, _ := SideOf(errors.Join(errors.New("x"), OnSide(Mailbox, ErrAuthRejected))); s != Mailbox {
		t.Errorf("side in a join %q", s)
	}
}
