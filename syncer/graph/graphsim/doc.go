// Package graphsim is a simulated Microsoft Graph and Microsoft identity
// platform, faithful to the documented wire formats, for tests, benchmarks and
// the demo. It can inject faults and latency.
//
// Each behaviour cites its source in a comment: a Microsoft docs page, a
// GitHub issue, or "NOTES n", item n of the documented behaviours collected
// in syncer/graph/testdata/fixtures/graph/NOTES.md. The tests check the
// answers against Microsoft's documented examples in testdata/fixtures,
// whose READMEs name the page each comes from.
package graphsim
