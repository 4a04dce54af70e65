// Package fault holds the kinds of failure every layer tells apart when it
// talks to a service (a rejected credential, a service that is unavailable,
// a malformed answer, ...) and which side failed: the mailbox or
// Vantagepoint. The service clients mark their errors with their side, so
// that the agent can name the account behind a failure without knowing
// either client's types. It imports nothing of the module, so the engine,
// the sign-ins and the clients can all share its values.
package fault

import "errors"

// The kinds of failure. The service clients return them wrapped; the
// engine tells a lost listing from an empty one and a rejected credential
// from a network fault by them (syncer re-exports them under the same
// names).
var (
	// ErrResyncRequired: the service forgot the delta state (410 Gone,
	// syncStateNotFound, resyncRequired); list again from scratch.
	ErrResyncRequired = errors.New("the service asks for a full resync")
	// ErrAuthRejected: a credential was definitively rejected.
	ErrAuthRejected = errors.New("the service rejected the credentials")
	// ErrNotFound: the item does not exist (any more).
	ErrNotFound = errors.New("not found")
	// ErrConflict: the item changed since the version an update was based
	// on, so nothing was written (Graph answers 412 Precondition Failed when
	// an If-Match no longer matches). The caller reads the item again and
	// decides anew; it never retries blindly, or it would overwrite a change
	// it has not seen.
	ErrConflict = errors.New("the item changed since the version the update was based on")
	// ErrUnavailable: throttled, 5xx, network failure; worth retrying later.
	ErrUnavailable = errors.New("the service is unavailable")
	// ErrInvalid: the service refused the request as invalid.
	ErrInvalid = errors.New("the service refused the request as invalid")
	// ErrMalformed: the service answered with a body that cannot be read.
	ErrMalformed = errors.New("the service answered with a malformed response")
)

// Side is the service a failure came from.
type Side string

// The two sides.
const (
	Mailbox      Side = "mailbox"
	Vantagepoint Side = "vantagepoint"
)

// sided is an error marked with its side; it says nothing more than the
// error it wraps.
type sided struct {
	side Side
	err  error
}

func (e *sided) Error() string { return e.err.Error() }
func (e *sided) Unwrap() error { return e.err }

// OnSide marks err as coming from side (nil stays nil). A client marks what
// it returns once, where its requests go out.
func OnSide(side Side, err error) error {
	if err == nil {
		return nil
	}
	return &sided{side: side, err: err}
}

// SideOf reports the side err was marked with, the innermost mark first
// (an error of one client wrapped by a caller of the other keeps its own
// side).
func SideOf(err error) (Side, bool) {
	var found Side
	for err != nil {
		var s *sided
		if !errors.As(err, &s) {
			break
		}
		found, err = s.side, s.err
	}
	return found, found != ""
}
