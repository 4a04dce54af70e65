// Package config loads and validates the vpconnect configuration file
// (JSON, unknown keys rejected) and fills in defaults.
package config
