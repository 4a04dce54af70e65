// Package cli is vpconnect's command line: each command's flags, prompts
// and output, on top of the agent's packages (agent/system builds the
// running agent; the commands that talk to a running agent do so through
// its loopback API's client). It holds no product rule: what a command
// does is decided in the packages it calls.
package cli
