// Package graph is the mailbox side of the engine, on Microsoft Graph through
// msgraph-sdk-go. It is the only package that imports the Graph SDK.
//
// "NOTES n" in comments is item n of testdata/fixtures/graph/NOTES.md, the
// documented Graph behaviours the client relies on; the examples beside it
// are Microsoft's, with their sources in the README.
package graph
