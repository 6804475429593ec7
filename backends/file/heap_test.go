package file

import (
	"context"
	"errors"
	"runtime"
	"testing"

	"github.com/google/uuid"

	"rose-ash.com/persist/backends/mock"
	"rose-ash.com/persist/effect"
	"rose-ash.com/persist/ops"
)

// BenchmarkIDIndexHeap appends PERSIST_HEAP_EVENTS (default 1,000,000)
// one-event commits, on the mock platform (the log lives in memory, the
// same bytes in every run), and reports the heap per event of everything
// (log bytes included), the store's in-memory index alone (the state,
// measured by dropping it), and the ID index's slots. The events come
// without IDs (the store draws them, and indexes none), or with IDs of
// the caller's (each takes a slot), to a store with the ID index or to
// one without it (an unenforced rule: a baseline for the measurement
// only).
func BenchmarkIDIndexHeap(b *testing.B) {
	n := envInt("PERSIST_HEAP_EVENTS", 1_000_000)
	data := make([]byte, 100)
	for _, mode := range []string{"drawn-ids", "caller-ids", "caller-ids-without-index"} {
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
				if mode == "caller-ids-without-index" {
					s.st.ids = nil
				}
				sp := effect.Handle(context.Background(), s, fs)
				ev := []ops.EventData{{Type: "t", Data: data}}
				for i := range n {
					if mode != "drawn-ids" {
						ev[0].ID = uuid.UUID{0x40, byte(i), byte(i >> 8), byte(i >> 16), byte(i >> 24), 1}
					}
					if _, err := effect.Perform(sp, ops.Append{Stream: "s", Events: ev}); err != nil {
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
