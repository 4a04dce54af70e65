// Command vpconnect is the vpconnect desktop agent and its command line: it
// parses flags and wires the packages together, nothing more.
package main
