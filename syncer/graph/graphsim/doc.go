// Package graphsim is a simulated Microsoft Graph and Microsoft identity
// platform, faithful to the documented wire formats, for tests, benchmarks and
// the demo. It can inject faults and latency.
package graphsim
