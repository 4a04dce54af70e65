// Package sysmon asks the operating system what the agent cannot see for
// itself: whether the user's session is idle or locked, and when the network
// comes back. The agent plans its polls with the answers (docs/behaviour.md §4.6); nothing
// here sends a request over the network.
package sysmon
