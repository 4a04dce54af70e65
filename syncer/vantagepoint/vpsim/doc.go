// Package vpsim is a simulated Deltek Vantagepoint REST API for tests,
// benchmarks and the demo. It can inject faults and latency.
package vpsim
