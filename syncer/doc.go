// Package syncer is the sync engine: it reconciles the mailbox and
// Vantagepoint over a state store, one batch at a time, and records what each
// batch did. It speaks to both services only through the Mailbox and
// Vantagepoint interfaces.
package syncer
