// Package vantagepoint is a client for the Deltek Vantagepoint REST API and
// the Vantagepoint side of the engine.
package vantagepoint
