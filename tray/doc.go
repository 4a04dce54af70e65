// Package tray shows the agent's status in the desktop tray and calls its
// actions. It is a view of the agent, nothing else.
package tray
