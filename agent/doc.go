// Package agent is the long-running vpconnect process: lifecycle, the state
// the user sees, the scheduler of batches, the user's actions (activate, pause,
// resume, sync now, re-authorize, deactivate), and status notifications.
package agent
