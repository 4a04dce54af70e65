// Package tray shows the agent's status in the desktop tray and calls its
// actions. It is a view of the agent, nothing else: it knows the agent only
// through the small Client interface of this package (which cli
// satisfies with the loopback API's client), so it pulls in neither the sync
// engine nor the sign-ins, and it could as well run in a process of its own.
//
// The menu is built once, in a fixed order, and items are shown, hidden,
// enabled and relabelled as the agent's status changes (model.go decides,
// tray.go applies). On Linux the menu is a StatusNotifierItem with a
// com.canonical.dbusmenu menu (fyne.io/systray, pure Go over D-Bus), on
// Windows a notification-area icon, on macOS a status item (cgo: a macOS
// build without cgo has no tray and runs headless).
package tray
