package file

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"rose-ash.com/persist/effect"
	"rose-ash.com/persist/ops"
	"rose-ash.com/persist/platform"
)

// BenchmarkStreamsCheckpoint measures, on a store of PERSIST_STREAMS
// streams (default 10,000) of one event each, built once under
// PERSIST_SCALE_DIR (else a temporary directory) in segments of 64 KiB
// and checkpointed (so that its records lie in index files), a
// checkpoint after appends to 16 of the streams: its time (ckpt-ms), the
// bytes of its checkpoint file (ckpt-B) and of the stream run it wrote
// (run-B), and the time to open the store (open-ms) with the heap after
// Open (heap-MiB).
func BenchmarkStreamsCheckpoint(b *testing.B) {
	n := envInt("PERSIST_STREAMS", 10_000)
	root := os.Getenv("PERSIST_SCALE_DIR")
	if root == "" {
		root = b.TempDir()
	}
	dir := filepath.Join(root, fmt.Sprintf("streams-%d", n))
	h := &platform.OS{}
	p := effect.Handle(context.Background(), h)
	if _, err := os.Stat(dir); err != nil {
		// Segments of 64 KiB: sealed and indexed by the checkpoint of
		// Close, so that the streams' records lie in index files.
		s, err := Open(p, dir, Options{CheckpointBytes: -1, SegmentSize: 64 << 10})
		if err != nil {
			b.Fatal(err)
		}
		sp := effect.Handle(context.Background(), s, h)
		for i := 0; i < n; i += 100 {
			var parts []ops.Append
			for j := i; j < min(i+100, n); j++ {
				parts = append(parts, ops.Append{Stream: fmt.Sprintf("stream-%07d", j), Events: []ops.EventData{{Type: "t", Data: []byte("x")}}})
			}
			if _, err := effect.Perform(sp, ops.Commit{Appends: parts}); err != nil {
				b.Fatal(err)
			}
		}
		if err := s.Close(p); err != nil {
			b.Fatal(err)
		}
	}
	runtime.GC()
	t0 := time.Now()
	s, err := Open(p, dir, Options{CheckpointBytes: -1, SegmentSize: 64 << 10})
	if err != nil {
		b.Fatal(err)
	}
	open := time.Since(t0)
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	defer func() { _ = s.Close(p) }()
	sp := effect.Handle(context.Background(), s, h)
	var took time.Duration
	var ckB, runB int64
	k := 0
	for b.Loop() {
		for j := range 16 {
			name := fmt.Sprintf("stream-%07d", (k*16+j*977)%n)
			if _, err := effect.Perform(sp, ops.Append{Stream: name, Events: []ops.EventData{{Type: "t", Data: []byte("y")}}}); err != nil {
				b.Fatal(err)
			}
		}
		k++
		t := time.Now()
		if err := s.checkpoint(p); err != nil {
			b.Fatal(err)
		}
		took += time.Since(t)
		c, r := newestCkpt(b, filepath.Join(dir, "log"))
		ckB, runB = ckB+c, runB+r
	}
	b.ReportMetric(float64(took.Microseconds())/1000/float64(b.N), "ckpt-ms")
	b.ReportMetric(float64(ckB)/float64(b.N), "ckpt-B")
	b.ReportMetric(float64(runB)/float64(b.N), "run-B")
	b.ReportMetric(float64(open.Microseconds())/1000, "open-ms")
	b.ReportMetric(float64(ms.HeapAlloc)/(1<<20), "heap-MiB")
}

// newestCkpt gives the bytes of the newest checkpoint file in dir and
// of the stream run it wrote (of its LSN; 0: none).
func newestCkpt(b *testing.B, dir string) (int64, int64) {
	ents, err := os.ReadDir(dir)
	if err != nil {
		b.Fatal(err)
	}
	var newest string
	var ck int64
	for _, e := range ents {
		if name := e.Name(); strings.HasSuffix(name, ".ckpt") && name > newest {
			fi, err := e.Info()
			if err != nil {
				b.Fatal(err)
			}
			newest, ck = name, fi.Size()
		}
	}
	run := int64(0)
	if lsn, ok := parseCkptName(newest); ok {
		if fi, err := os.Stat(filepath.Join(dir, fmt.Sprintf("st-%016x.run", lsn))); err == nil {
			run = fi.Size()
		}
	}
	return ck, run
}
