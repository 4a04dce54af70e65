package graph

import (
	"context"
	"strconv"
	"testing"

	"vpconnect/syncer"
	"vpconnect/syncer/graph/graphsim"
)

// BenchmarkInitialListing100k lists a 100,000-message folder through the
// client and the simulator over loopback HTTP: the initial scan of SPEC §7.
// It reports Graph requests per listing (target: items/page size + 2).
// Run with: go test -run '^$' -bench InitialListing -benchtime 3x ./syncer/graph/
func BenchmarkInitialListing100k(b *testing.B) {
	const n = 100_000
	e := newEnv(b, Options{})
	inbox := e.inbox(b)
	for i := range n {
		e.sim.AddMessage(inbox, graphsim.Message{
			Subject: "Message " + strconv.Itoa(i),
			From:    graphsim.Recipient{Name: "Dana Swope", Address: "danas@contoso.com"},
			To:      []graphsim.Recipient{{Name: "Adele Vance", Address: "AdeleV@contoso.onmicrosoft.com"}},
			Body:    "<p>Hello</p>",
		})
	}
	e.sim.Observe(nil)
	ctx := context.Background()
	var requests int64
	b.ReportAllocs()
	for b.Loop() {
		before := e.sim.Requests()
		got := 0
		_, err := e.client.MessageChanges(ctx, inbox, "", func(p []syncer.MessageChange) error {
			got += len(p)
			return nil
		})
		if err != nil {
			b.Fatal(err)
		}
		if got != n {
			b.Fatalf("listed %d, want %d", got, n)
		}
		requests = e.sim.Requests() - before
	}
	b.ReportMetric(float64(requests), "requests/op")
	b.ReportMetric(float64(n), "messages/op")
}
