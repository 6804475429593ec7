package file

import (
	"context"
	"errors"
	"runtime"
	"testing"

	"rose-ash.com/persist/backends/mock"
	"rose-ash.com/persist/effect"
	"rose-ash.com/persist/ops"
)

// BenchmarkIDIndexHeap appends PERSIST_HEAP_EVENTS (default 1,000,000)
// one-event commits, on the mock platform (the log lives in memory, the
// same bytes in both runs), to a store with the ID index and to one
// without it (an unenforced rule: a baseline for the measurement only),
// and reports the heap per event of everything (log bytes included), the
// store's in-memory index alone (the state, measured by reopening the
// store), and the ID index's slots.
func BenchmarkIDIndexHeap(b *testing.B) {
	n := envInt("PERSIST_HEAP_EVENTS", 1_000_000)
	data := make([]byte, 100)
	for _, mode := range []string{"with-index", "without-index"} {
		b.Run(mode, func(b *testing.B) {
			var total, state, slots float64
			for b.Loop() {
				var before, filled, reopened runtime.MemStats
				runtime.GC()
				runtime.ReadMemStats(&before)
				fs := mock.New(1, mock.Options{})
				p := effect.Handle(context.Background(), fs)
				opts := Options{CheckpointBytes: 1 << 40}
				s, err := Open(p, "/data", opts)
				if err != nil {
					b.Fatal(err)
				}
				if mode == "without-index" {
					s.st.ids = nil
				}
				sp := effect.Handle(context.Background(), s, fs)
				a := ops.Append{Stream: "s", Events: []ops.EventData{{Type: "t", Data: data}}}
				for range n {
					if _, err := effect.Perform(sp, a); err != nil {
						b.Fatal(err)
					}
				}
				runtime.GC()
				runtime.ReadMemStats(&filled)
				total = (float64(filled.HeapAlloc) - float64(before.HeapAlloc)) / float64(n)
				if s.st.ids != nil {
					slots = float64(s.st.ids.Bytes()) / float64(n)
				}
				// The state alone: the store's heap less the log's, by
				// dropping the state and measuring again.
				s.st = newState()
				runtime.GC()
				runtime.ReadMemStats(&reopened)
				state = (float64(filled.HeapAlloc) - float64(reopened.HeapAlloc)) / float64(n)
				s.failed = errors.New("measured") // no checkpoint at Close
				_ = s.Close(p)
				runtime.KeepAlive(fs)
			}
			b.ReportMetric(total, "heap-B/event")
			b.ReportMetric(state, "state-B/event")
			b.ReportMetric(slots, "index-B/event")
		})
	}
}
