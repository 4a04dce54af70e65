package sysmon

import (
	"errors"
	"testing"
	"time"
)

// scriptedIdle answers what the test sets and counts the questions.
type scriptedIdle struct {
	answer bool
	err    error
	asked  int
	closed int
}

func (s *scriptedIdle) idle() (bool, error) { s.asked++; return s.answer, s.err }
func (s *scriptedIdle) close() error        { s.closed++; return nil }

func TestIdleCachesACostlyAnswerAndCannotTellIsNotIdle(t *testing.T) {
	src := &scriptedIdle{answer: true}
	d := newIdleDetector(src, 30*time.Second)
	now := time.Date(2026, 11, 2, 9, 0, 0, 0, time.UTC)
	d.now = func() time.Time { return now }
	if !d.Idle() || src.asked != 1 {
		t.Fatalf("idle source says idle: Idle %v after %d questions", d.Idle(), src.asked)
	}
	src.answer = false
	now = now.Add(29 * time.Second)
	if !d.Idle() || src.asked != 1 {
		t.Fatalf("within 30 s the answer is reused: Idle %v after %d questions", d.Idle(), src.asked)
	}
	now = now.Add(time.Second)
	if d.Idle() || src.asked != 2 {
		t.Fatalf("after 30 s the source is asked again: Idle %v after %d questions", d.Idle(), src.asked)
	}
	src.answer, src.err = true, errors.New("no bus")
	now = now.Add(time.Minute)
	if d.Idle() {
		t.Fatal("an error reads as idle; cannot tell must be not idle")
	}
	if err := d.Close(); err != nil || src.closed != 1 {
		t.Fatalf("close: %v, %d", err, src.closed)
	}
	// Closing forgets the cached answer.
	src.err = nil
	if !d.Idle() || src.asked != 4 {
		t.Fatalf("after Close: Idle %v after %d questions", d.Idle(), src.asked)
	}
}

func TestIdleWithoutCacheAsksEachTime(t *testing.T) {
	src := &scriptedIdle{}
	d := newIdleDetector(src, 0)
	for i := 1; i <= 3; i++ {
		src.answer = i%2 == 0
		if got := d.Idle(); got != src.answer || src.asked != i {
			t.Fatalf("question %d: Idle %v after %d questions", i, got, src.asked)
		}
	}
}
