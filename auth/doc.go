// Package auth signs the user in to Microsoft 365 and Vantagepoint and keeps
// the resulting refresh tokens in the operating system's keychain.
package auth
