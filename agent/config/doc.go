// Package config loads and validates the vpconnect configuration file
// (JSON, unknown keys rejected) and fills in defaults; it also reads the
// administrator's policy (docs/behaviour.md §5.4) and merges it over the file.
//
// Precedence, highest first: policy (Windows registry, macOS managed
// preferences, or /etc/vpconnect/policy.json on Linux), then the user's
// config file, then the defaults of [Default]. Every key, its limits and the
// policy sources are documented in docs/configuration.md; a test keeps that
// page and [Keys] in step.
//
// Errors name the file, the line and column, and the full dotted key
// ("sync.lookbackDays"), because the people who read them are employees and
// IT admins editing a file by hand, not programmers.
package config
