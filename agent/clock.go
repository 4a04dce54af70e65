package agent

import "vpconnect/agent/clock"

// Clock and Timer are the agent's view of time (agent/clock); tests give
// the agent agenttest.FakeClock.
type (
	Clock = clock.Clock
	Timer = clock.Timer
)

// SystemClock is the real clock.
func SystemClock() Clock { return clock.System() }
