package mem

import (
	"os"
	"runtime"
	"strconv"
	"testing"

	"rose-ash.com/persist/ops"
)

// BenchmarkIDIndexHeap appends PERSIST_HEAP_EVENTS (default 1,000,000)
// one-event commits to a store with the ID index and to one without it
// (an unenforced rule: a baseline for the measurement only), and reports
// the heap each holds per event, and the index's own slots per event.
func BenchmarkIDIndexHeap(b *testing.B) {
	n := 1_000_000
	if v, err := strconv.Atoi(os.Getenv("PERSIST_HEAP_EVENTS")); err == nil && v > 0 {
		n = v
	}
	data := make([]byte, 100)
	for _, mode := range []string{"with-index", "without-index"} {
		b.Run(mode, func(b *testing.B) {
			var perEvent, slots float64
			for b.Loop() {
				var before, after runtime.MemStats
				runtime.GC()
				runtime.ReadMemStats(&before)
				s := New()
				if mode == "without-index" {
					s.idIndex = nil
				}
				c := ops.Commit{Appends: []ops.Append{{Stream: "s", Events: []ops.EventData{{Type: "t", Data: data}}}}}
				for range n {
					if _, err := s.Commit(c); err != nil {
						b.Fatal(err)
					}
				}
				runtime.GC()
				runtime.ReadMemStats(&after)
				perEvent = (float64(after.HeapAlloc) - float64(before.HeapAlloc)) / float64(n)
				if s.idIndex != nil {
					slots = float64(s.idIndex.Bytes()) / float64(n)
				}
				runtime.KeepAlive(s)
			}
			b.ReportMetric(perEvent, "heap-B/event")
			b.ReportMetric(slots, "index-B/event")
		})
	}
}
