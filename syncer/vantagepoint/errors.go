package vantagepoint

import (
	"fmt"
	"net/http"
	"time"

	"vpconnect/syncer"
)

// APIError is an error answer from the Vantagepoint API. It unwraps to the
// syncer sentinel that says what the engine should do about it.
type APIError struct {
	Status          int
	Message, Detail string
	Method, Path    string
	// RetryAfter is the server's Retry-After, when it sent one.
	RetryAfter time.Duration
}

func (e *APIError) Error() string {
	s := fmt.Sprintf("Vantagepoint %s %s: %d %s", e.Method, e.Path, e.Status, http.StatusText(e.Status))
	if e.Message != "" {
		s += ": " + e.Message
	}
	if e.Detail != "" {
		s += " (" + e.Detail + ")"
	}
	return s
}

// Unwrap maps the status to a syncer sentinel: 401/403 → ErrAuthRejected,
// 404 → ErrNotFound, 429 and 5xx → ErrUnavailable, other 4xx → ErrInvalid.
func (e *APIError) Unwrap() error {
	switch {
	case e.Status == http.StatusUnauthorized || e.Status == http.StatusForbidden:
		return syncer.ErrAuthRejected
	case e.Status == http.StatusNotFound:
		return syncer.ErrNotFound
	case e.Status == http.StatusTooManyRequests || e.Status >= 500:
		return syncer.ErrUnavailable
	case e.Status >= 400:
		return syncer.ErrInvalid
	}
	return syncer.ErrMalformed // a status the client did not expect
}

// TokenError is an OAuth error answer from the token endpoint.
// invalid_grant, invalid_client and unauthorized_client unwrap to
// syncer.ErrAuthRejected (the credentials were refused: ask the user),
// anything else to syncer.ErrInvalid.
type TokenError struct {
	Status      int
	Code        string // error
	Description string // error_description
}

func (e *TokenError) Error() string {
	s := "Vantagepoint token endpoint: " + e.Code
	if e.Description != "" {
		s += ": " + e.Description
	}
	return s
}

// Unwrap maps the OAuth error code to a syncer sentinel.
func (e *TokenError) Unwrap() error {
	switch e.Code {
	case "invalid_grant", "invalid_client", "unauthorized_client":
		return syncer.ErrAuthRejected
	}
	if e.Status == http.StatusTooManyRequests || e.Status >= 500 {
		return syncer.ErrUnavailable
	}
	return syncer.ErrInvalid
}
