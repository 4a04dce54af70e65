package system

import (
	"context"
	"time"

	"vpconnect/agent"
	"vpconnect/agent/config"
)

// PolicyCheckEvery is how often a running agent reads the policy again
// (docs/behaviour.md §5.4): the registry key on Windows, the configuration profile on
// macOS, the policy file on Linux. A change is applied within this time by
// building the agent again, as a fresh start would (agent.ErrRestart): the
// user's pause and the administrator's switch are kept in the data dir, and
// a running batch finishes first. A timer rather than a change notification
// (RegNotifyChangeKeyValue, inotify): one read a minute costs nothing, works
// the same on the three systems, and a GPO refresh or a profile push that
// rewrites the same values does not restart anything.
const PolicyCheckEvery = time.Minute

func (e Env) policyFingerprint() string {
	if e.PolicyFingerprint != nil {
		return e.PolicyFingerprint()
	}
	return config.PolicyFingerprint()
}

// policyWatch reads the policy every PolicyCheckEvery on the environment's
// policy clock and calls changed once when it differs from since. Its first timer
// is set before it returns, so that a test's clock that moves a minute
// after the start fires it.
func (e Env) policyWatch(ctx context.Context, since string, changed func()) (stop func()) {
	clock := e.PolicyClock
	if clock == nil {
		clock = agent.SystemClock()
	}
	ctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	t := clock.NewTimer(PolicyCheckEvery)
	go func() {
		defer close(done)
		for {
			select {
			case <-ctx.Done():
				t.Stop()
				return
			case <-t.C():
			}
			if now := e.policyFingerprint(); now != since {
				e.logger().Info("the policy changed: building the agent again to apply it")
				changed()
				return
			}
			t = clock.NewTimer(PolicyCheckEvery)
		}
	}()
	return func() { cancel(); <-done }
}
