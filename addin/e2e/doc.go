// Package e2e holds the Outlook add-in's end-to-end test: its pane in
// headless Chromium, with a stand-in Office.js whose item lives in the
// simulated mailbox, next to a real agent (engine, agent core, loopback API)
// on the simulated Microsoft 365 and Vantagepoint. It has no code of its
// own outside the tests.
package e2e
