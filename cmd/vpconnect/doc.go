// Command vpconnect is the vpconnect desktop agent and its command line
// (package cli). On Windows it also attaches to the console of the terminal
// that started it, before anything prints.
package main
