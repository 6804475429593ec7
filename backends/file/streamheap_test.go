package file

import (
	"context"
	"errors"
	"runtime"
	"strconv"
	"testing"

	"rose-ash.com/persist/backends/mock"
	"rose-ash.com/persist/effect"
	"rose-ash.com/persist/ops"
)

// BenchmarkStreamHeap measures what an open store keeps in memory per
// stream once a checkpoint has put the streams' records into index
// files: PERSIST_HEAP_STREAMS streams (default 100,000, named
// "stream-<i>": 8 to 12 bytes) of one event each, on the mock platform,
// in small segments so that all but the active one are indexed, then
// reopened. It reports the state's heap per stream (by dropping the
// state and measuring again) less the location entries still in memory
// (the bytes of their slices' capacities), and the name bytes a
// stream holds.
func BenchmarkStreamHeap(b *testing.B) {
	n := envInt("PERSIST_HEAP_STREAMS", 100_000)
	opts := Options{SegmentSize: 1 << 20, CheckpointBytes: 1 << 20}
	var perStream, names, entries float64
	for b.Loop() {
		fs := mock.New(1, mock.Options{})
		p := effect.Handle(context.Background(), fs)
		s, err := Open(p, "/data", opts)
		if err != nil {
			b.Fatal(err)
		}
		sp := effect.Handle(context.Background(), s, fs)
		ev := []ops.EventData{{Type: "t", Data: []byte("x")}}
		nameBytes := 0
		for i := range n {
			name := "stream-" + strconv.Itoa(i)
			nameBytes += len(name)
			if _, err := effect.Perform(sp, ops.Append{Stream: name, Events: ev}); err != nil {
				b.Fatal(err)
			}
		}
		if err := s.Close(p); err != nil {
			b.Fatal(err)
		}
		if s, err = Open(p, "/data", opts); err != nil {
			b.Fatal(err)
		}
		var open, dropped runtime.MemStats
		runtime.GC()
		runtime.ReadMemStats(&open)
		locs, locBytes := s.st.positions.len(), s.st.positions.bytes()
		for _, x := range s.st.streams {
			locs += x.chunks.len()
			locBytes += x.chunks.bytes()
		}
		s.st = newState()
		runtime.GC()
		runtime.ReadMemStats(&dropped)
		perStream = (float64(open.HeapAlloc) - float64(dropped.HeapAlloc) - float64(locBytes)) / float64(n)
		names = float64(nameBytes) / float64(n)
		entries = float64(locs)
		s.failed = errors.New("measured") // no checkpoint of the dropped state
		_ = s.Close(p)
		runtime.KeepAlive(fs)
	}
	b.ReportMetric(perStream, "B/stream")
	b.ReportMetric(names, "name-B/stream")
	b.ReportMetric(entries, "locs-in-memory")
}
