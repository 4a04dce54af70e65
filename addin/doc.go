// Package addin is vpconnect's Outlook add-in: its XML manifest, the task
// pane's static files (plain HTML, JavaScript and CSS, no build step), and
// the packaging that writes them for IT to host on any HTTPS server and
// deploy centrally (docs/deployment.md, "The Outlook add-in").
//
// The pane tracks an e-mail in two ways (docs/behaviour.md §4.1, §5.3). Through the
// mailbox, always: it sets the category and saves the chosen records as the
// add-in's custom properties, which the agent reads through Graph on any
// computer where it runs (syncer.AddinManifestID names them). Through the
// paired agent's loopback API, when the browser lets the page reach it: the
// e-mail's status, suggestions from the correspondents, search, and filing
// at once.
package addin
