// Package installer holds what IT deploys vpconnect with (docs/behaviour.md §9): the
// Windows MSI source for wixl and its build script (windows/), the Group
// Policy templates (windows/admx/), the macOS pkg layout, LaunchAgent and
// example configuration profile (macos/), and the Linux systemd user unit,
// XDG autostart entry and example policy file (linux/).
//
// The Go side is small: it embeds the service files so that
// `vpconnect service install` (package installer/autostart) writes exactly
// the ones shipped, and its tests build the MSI with wixl and inspect its
// tables with msiinfo, and check the ADMX/ADML templates, the configuration
// profile and the example policy against the keys agent/config knows.
package installer
