package sysmon

import "testing"

// The last input time and the lock screen answer on Windows (under Wine in
// make test: .ci/wine-suite) without an error.
func TestIdleAnswersOnWindows(t *testing.T) {
	src, _ := platformIdle()
	if _, err := src.idle(); err != nil {
		t.Fatalf("the idle source of Windows: %v", err)
	}
	_ = NewIdleDetector().Idle() // never panics, whatever the answer
}
