package agent

// Version is the agent's version, set at build time by the Makefile
// (-ldflags "-X vpconnect/agent.Version=...").
var Version = "dev"
