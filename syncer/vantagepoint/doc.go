// Package vantagepoint is a client for the Deltek Vantagepoint REST API and
// the Vantagepoint side of the engine: *Client implements
// syncer.Vantagepoint.
//
// Layers: a generic one over hub records (List, Get, Create, Update,
// Delete, the UDIC helpers, LoginConfig), a typed one converting records to
// the engine's types (ContactFromRecord, ActivityRecord, …), and the token
// endpoint helpers PasswordGrant and RefreshGrant for package auth.
//
// Errors unwrap to package syncer's sentinels (see APIError and
// TokenError). GET, PUT and DELETE are retried a bounded number of times
// on 429, 5xx, malformed answers and network errors, honouring
// Retry-After; POST never is, since Vantagepoint has no idempotency key.
//
// Every assumption about the wire that Deltek does not document with an
// example (date format, paging style, UDIC read/update paths, the shapes
// of LoginConfig and UDIC metadata) is in wire.go.
package vantagepoint
