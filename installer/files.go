package installer

import _ "embed"

// SystemdUnit is the systemd user unit (linux/vpconnect.service), with
// ExecStart=/usr/bin/vpconnect run as packaged.
//
//go:embed linux/vpconnect.service
var SystemdUnit string

// XDGAutostart is the XDG autostart entry (linux/vpconnect.desktop).
//
//go:embed linux/vpconnect.desktop
var XDGAutostart string

// LaunchAgent is the launchd job the macOS pkg installs in
// /Library/LaunchAgents (macos/com.vpconnect.agent.plist), running
// /usr/local/bin/vpconnect.
//
//go:embed macos/com.vpconnect.agent.plist
var LaunchAgent string

// Where the packages put things; the embedded files name these paths.
const (
	// LaunchdLabel is the label of the launchd job, also its file name.
	LaunchdLabel = "com.vpconnect.agent"
	// MacSystemLaunchAgent is where the pkg installs the job for every user.
	MacSystemLaunchAgent = "/Library/LaunchAgents/" + LaunchdLabel + ".plist"
	// MacBinary is where the pkg installs the binary.
	MacBinary = "/usr/local/bin/vpconnect"
	// LinuxBinary is the binary named by the packaged unit and entry.
	LinuxBinary = "/usr/bin/vpconnect"
	// SystemdUnitName is the user unit's name.
	SystemdUnitName = "vpconnect.service"
)
