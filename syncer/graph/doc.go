// Package graph is the mailbox side of the engine, on Microsoft Graph through
// msgraph-sdk-go. It is the only package that imports the Graph SDK.
package graph
