//go:build windows || (darwin && cgo)

package tray

// checkHost says whether there is a tray to show. On Windows and macOS the
// agent is started in the user's desktop session (the MSI's Run value, the
// LaunchAgent), which always has a notification area or menu bar.
func checkHost() (note string, err error) { return "", nil }
