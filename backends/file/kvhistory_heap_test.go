package file

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"testing"

	"rose-ash.com/persist/backends/mock"
	"rose-ash.com/persist/effect"
	"rose-ash.com/persist/ops"
)

// BenchmarkKvHistoryHeap puts PERSIST_HEAP_KEYS keys (default 100,000),
// each written `versions` times in one-change commits, on the mock
// platform, and reports the heap the kv history takes per key (measured
// by dropping it): the per-key revisions and the location of every kv
// record, which is per write, not per key.
func BenchmarkKvHistoryHeap(b *testing.B) {
	n := envInt("PERSIST_HEAP_KEYS", 100_000)
	for _, versions := range []int{1, 10, 20} {
		b.Run(fmt.Sprintf("versions=%d", versions), func(b *testing.B) {
			var perKey, keysOnly float64
			for b.Loop() {
				fs := mock.New(1, mock.Options{})
				p := effect.Handle(context.Background(), fs)
				s, err := Open(p, "/data", Options{CheckpointBytes: 1 << 40, KvBufferBytes: -1})
				if err != nil {
					b.Fatal(err)
				}
				sp := effect.Handle(context.Background(), s, fs)
				for v := range versions {
					for i := range n {
						if _, err := effect.Perform(sp, ops.KvPut{Key: fmt.Sprintf("key/%08d", i), Value: []byte{byte(v)}}); err != nil {
							b.Fatal(err)
						}
					}
				}
				var filled, noKeys, noHist runtime.MemStats
				runtime.GC()
				runtime.ReadMemStats(&filled)
				recs := s.st.ret.hist.recs
				s.st.ret.hist.keys = nil
				runtime.GC()
				runtime.ReadMemStats(&noKeys)
				runtime.KeepAlive(recs)
				recs = nil
				s.st.ret.hist = kvHist{}
				runtime.GC()
				runtime.ReadMemStats(&noHist)
				keysOnly = (float64(filled.HeapAlloc) - float64(noKeys.HeapAlloc)) / float64(n)
				perKey = (float64(filled.HeapAlloc) - float64(noHist.HeapAlloc)) / float64(n)
				s.failed = errors.New("measured") // no checkpoint at Close
				_ = s.Close(p)
				runtime.KeepAlive(fs)
			}
			b.ReportMetric(keysOnly, "revisions-B/key")
			b.ReportMetric(perKey, "history-B/key")
		})
	}
}
