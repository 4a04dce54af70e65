package demo

import (
	"context"

	"vpconnect/agent/system"
)

// Serve runs the demo's agent with its loopback API and Sync Options page on
// localApi.port (or the next free port), until ctx ends. The agent's
// scheduler runs the batches, every interval; ready receives the page's
// one-time address once the API answers.
func (d *Demo) Serve(ctx context.Context, ready func(optionsURL string)) error {
	return d.sys.Run(ctx, func(s *system.System) {
		if ready != nil {
			ready(s.API.OpenURL())
		}
	})
}

// System is the demo's agent, as agent/system built it.
func (d *Demo) System() *system.System { return d.sys }
