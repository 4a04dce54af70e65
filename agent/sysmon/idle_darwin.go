package sysmon

import (
	"context"
	"fmt"
	"os/exec"
	"time"
)

func platformIdle() (idleSource, time.Duration) {
	// Running ioreg costs a process: an answer is reused for 30 s, which
	// delays a snap back on activity by as much at most.
	return ioregIdle{}, 30 * time.Second
}

// ioregIdle reads IOHIDSystem's HIDIdleTime, the time since the last
// keyboard or mouse input, through ioreg (reading it directly needs IOKit,
// that is cgo).
type ioregIdle struct{}

func (ioregIdle) idle() (bool, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, "/usr/sbin/ioreg", "-c", "IOHIDSystem", "-d", "4").Output()
	if err != nil {
		return false, fmt.Errorf("run ioreg: %w", err)
	}
	since, err := parseHIDIdleTime(out)
	if err != nil {
		return false, err
	}
	return since >= IdleAfter, nil
}

func (ioregIdle) close() error { return nil }
