//go:build !linux && !windows && !darwin

package sysmon

import (
	"errors"
	"time"
)

func platformIdle() (idleSource, time.Duration) { return unknownIdle{}, 0 }

// unknownIdle is an operating system the agent does not know how to ask.
type unknownIdle struct{}

func (unknownIdle) idle() (bool, error) {
	return false, errors.New("this operating system is not asked whether the session is idle")
}

func (unknownIdle) close() error { return nil }
