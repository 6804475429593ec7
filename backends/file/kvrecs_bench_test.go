package file

import (
	"context"
	"fmt"
	"runtime"
	"testing"
	"time"

	"rose-ash.com/persist/backends/mock"
	"rose-ash.com/persist/effect"
	"rose-ash.com/persist/ops"
)

// BenchmarkKvCommitsHeap makes PERSIST_KV_COMMITS one-key kv commits
// (default 1,000,000; over 10,000 keys) on the mock platform, closes the
// store (a checkpoint) and opens it again, and reports the Go heap the
// open store holds (after a collection, less what the process held
// before the open), the open's time, the size of the checkpoint file
// and the history records the store holds in memory: what grows with
// the count of kv commits rather than of keys.
func BenchmarkKvCommitsHeap(b *testing.B) {
	n := envInt("PERSIST_KV_COMMITS", 1_000_000)
	var heap, openMs, ckpt, recs float64
	for b.Loop() {
		b.StopTimer()
		fs := mock.New(1, mock.Options{})
		p := effect.Handle(context.Background(), fs)
		s, err := Open(p, "/data", Options{CheckpointBytes: 1 << 40})
		if err != nil {
			b.Fatal(err)
		}
		sp := effect.Handle(context.Background(), s, fs)
		for i := range n {
			if _, err := effect.Perform(sp, ops.KvPut{Key: fmt.Sprintf("key/%06d", i%10_000), Value: []byte("v")}); err != nil {
				b.Fatal(err)
			}
		}
		if err := s.Close(p); err != nil {
			b.Fatal(err)
		}
		fs.CloseAll()
		ckpt = 0
		for _, f := range fs.Files() {
			if _, ok := parseCkptName(baseName(f.Path)); ok {
				ckpt = max(ckpt, float64(f.Size))
			}
		}
		var before, after runtime.MemStats
		runtime.GC()
		runtime.ReadMemStats(&before)
		b.StartTimer()
		t0 := time.Now()
		s, err = Open(p, "/data", Options{CheckpointBytes: 1 << 40})
		if err != nil {
			b.Fatal(err)
		}
		openMs = float64(time.Since(t0).Microseconds()) / 1000
		b.StopTimer()
		runtime.GC()
		runtime.ReadMemStats(&after)
		heap = float64(after.HeapAlloc) - float64(before.HeapAlloc)
		recs = float64(len(s.st.ret.hist.recs))
		if err := s.Close(p); err != nil {
			b.Fatal(err)
		}
		runtime.KeepAlive(fs)
		b.StartTimer()
	}
	b.ReportMetric(heap/(1<<20), "heap-MiB")
	b.ReportMetric(openMs, "open-ms")
	b.ReportMetric(ckpt/(1<<20), "ckpt-MiB")
	b.ReportMetric(recs, "recs-in-memory")
}

func baseName(p string) string {
	for i := len(p) - 1; i >= 0; i-- {
		if p[i] == '/' {
			return p[i+1:]
		}
	}
	return p
}
