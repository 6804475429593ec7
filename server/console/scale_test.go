package console_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"rose-ash.com/persist/backends/file"
	"rose-ash.com/persist/effect"
	"rose-ash.com/persist/ops"
	"rose-ash.com/persist/server"
	"rose-ash.com/persist/server/console"
)

// seedCommit is how many streams the seeding commits write at once. A
// file store reads an event by decoding the commit record that holds it,
// so the stores compared are written in commits of the same size.
const seedCommit = 100

// seed writes streams streams "s/NNNNNN" of one event each, in commits of
// seedCommit, and a stream "big" of events events, seedCommit an append.
func seed(b *testing.B, p *effect.P, streams, events int) {
	for i := 0; i < streams; i += seedCommit {
		var appends []ops.Append
		for j := i; j < min(i+seedCommit, streams); j++ {
			appends = append(appends, ops.Append{Stream: fmt.Sprintf("s/%06d", j),
				Events: []ops.EventData{{Type: "created", Data: []byte(fmt.Sprintf("{:n %d}", j))}}})
		}
		_, err := effect.Perform(p, ops.Commit{Appends: appends})
		require.NoError(b, err)
	}
	// The big stream is written as a stream usually is: appends of a few
	// events, here seedCommit of them.
	for i := 0; i < events; i += seedCommit {
		var evs []ops.EventData
		for j := i; j < min(i+seedCommit, events); j++ {
			evs = append(evs, ops.EventData{Type: "tick", Data: []byte(fmt.Sprintf("{:n %d :items [{:sku \"a-%d\" :qty 2}]}", j, j))})
		}
		_, err := effect.Perform(p, ops.Append{Stream: "big", Events: evs})
		require.NoError(b, err)
	}
}

// scaleSite is a file store seeded with streams and events, with the
// console, served in process.
func scaleSite(b *testing.B, streams, events int) http.Handler {
	ctx := context.Background()
	db, err := file.OpenDir(ctx, b.TempDir(), file.Options{})
	require.NoError(b, err)
	seed(b, effect.Handle(ctx, db), streams, events)
	srv, err := server.New(db, server.Options{})
	require.NoError(b, err)
	_, err = console.Mount(srv, db, console.Options{})
	require.NoError(b, err)
	b.Cleanup(func() { _ = srv.Shutdown(context.Background()) })
	return srv
}

// BenchmarkPageCostScale serves the stream list and a stream's first page
// from a small store (100 streams, a stream of 100 events) and a large one
// (100,000 streams, a stream of 10,000 events), alternating the two in
// rounds, and reports the median time of a page on each and their ratio:
// near 1 when a page costs the same however large the store.
//
//	go test -run '^$' -bench PageCostScale -benchtime 1x ./server/console/
func BenchmarkPageCostScale(b *testing.B) {
	small := scaleSite(b, 100, 100)
	large := scaleSite(b, 100_000, 10_000)
	const rounds, perRound = 9, 40
	page := func(h http.Handler, path string) time.Duration {
		start := time.Now()
		for range perRound {
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, path, nil))
			if rec.Code != http.StatusOK {
				b.Fatalf("%s: %d", path, rec.Code)
			}
		}
		return time.Since(start) / perRound
	}
	for b.Loop() {
		for _, path := range []string{"/console/", "/console/stream?name=big", "/console/?prefix=s/00&after=s/000020"} {
			var s, l []float64
			for range rounds {
				s = append(s, ms(page(small, path)))
				l = append(l, ms(page(large, path)))
			}
			ps, pl := percentile(s, 50), percentile(l, 50)
			b.Logf("%-40s small %.3f ms  large %.3f ms  large/small %.2f", path, ps, pl, pl/ps)
		}
	}
}
