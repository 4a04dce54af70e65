// Package demo runs the agent against the built-in simulated services with
// seeded data, for newcomers and for end-to-end tests.
package demo
