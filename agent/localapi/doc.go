// Package localapi serves the loopback HTTP API used by the Outlook add-in,
// the tray and the command line, and the Sync Options page.
package localapi
