package cli

import (
	"bytes"
	"context"
	"log/slog"
	"slices"
	"testing"

	"vpconnect/agent/agentbench"
	"vpconnect/agent/demo"
)

// `vpconnect run`, `vpconnect demo` and the agent bench are one wiring
// (agent/system): built from their own environments, the three agents have
// the same parts, so that what the demo shows and what the bench measures is
// the product.
func TestRunDemoAndBenchAreBuiltAlike(t *testing.T) {
	w := newAgentWorld(t)
	w.activate(t)
	ctx := context.Background()
	c := w.command()
	c.configPath = w.cfgPath
	run, err := c.standalone(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer run.Close()

	var out bytes.Buffer
	d, err := demo.Start(ctx, demo.Options{Out: &out, Err: &out})
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()

	// The bench's agent, from a start line; building it talks to nothing.
	bench, err := agentbench.Build(ctx, agentbench.Start{AuthorityURL: w.cfg.Microsoft.AuthorityURL,
		GraphURL: w.cfg.Microsoft.GraphURL, ClientID: w.cfg.Microsoft.ClientID, User: "dana@contoso.example",
		MSRefresh: "refresh-ms", VPURL: w.cfg.Vantagepoint.APIURL, Database: w.cfg.Vantagepoint.Database,
		VPUser: "DWHITFIELD", Employee: "00042", VPRefresh: "refresh-vp", DataDir: t.TempDir(), Port: freePort(t)},
		slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	defer bench.Close()

	want := run.Parts()
	for _, p := range []string{"engine", "graph", "vantagepoint", "store", "admin", "directory", "translateIDs", "reauthorize", "localapi", "idle", "network", "keychain"} {
		if !slices.Contains(want, p) {
			t.Errorf("the activated agent of 'vpconnect run' lacks %s: %v", p, want)
		}
	}
	if got := d.System().Parts(); !slices.Equal(got, want) {
		t.Errorf("the demo's agent has %v, 'vpconnect run' has %v", got, want)
	}
	if got := bench.Parts(); !slices.Equal(got, want) {
		t.Errorf("the bench's agent has %v, 'vpconnect run' has %v", got, want)
	}
}
