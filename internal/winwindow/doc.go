// Package winwindow gives a Windows program a hidden window on a thread of
// its own, running the window's message loop: what the agent needs to hear
// Windows (the close request of taskkill and of the end of a session) and
// to show a balloon in the notification area, whose clicks come back as
// messages. Elsewhere it is empty.
package winwindow
