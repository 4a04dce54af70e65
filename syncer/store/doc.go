// Package store keeps the sync state in SQLite: pairings, delta cursors, the
// journal of pending writes, batches and their issues.
package store
