package file

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"testing"

	"rose-ash.com/persist/effect"
	"rose-ash.com/persist/ops"
	"rose-ash.com/persist/platform"
)

// BenchmarkReopen measures Open of a store of PERSIST_BENCH_EVENTS events
// (default 200,000) written in commits of PERSIST_BENCH_BATCH events
// (default 1,000) to 1,000 streams by 16 writers: from its checkpoint, and
// by a full replay. It reports the heap the open store holds against the
// bytes of its log, and the process's resident set. With PERSIST_BENCH_DIR
// set, the store is kept there and reused by later runs.
func BenchmarkReopen(b *testing.B) {
	events := envInt("PERSIST_BENCH_EVENTS", 200_000)
	batch := envInt("PERSIST_BENCH_BATCH", 1000)
	dir := reopenStore(b, events, batch)
	h := &platform.OS{}
	p := effect.Handle(context.Background(), h)
	for _, mode := range []string{"checkpoint", "full-replay"} {
		b.Run(mode, func(b *testing.B) {
			if mode == "full-replay" {
				ck, _ := filepath.Glob(filepath.Join(dir, logDir, "*.ckpt"))
				for _, f := range ck {
					if err := os.Remove(f); err != nil {
						b.Fatal(err)
					}
				}
			}
			var heap, logBytes, rss float64
			for b.Loop() {
				var before, after runtime.MemStats
				runtime.GC()
				runtime.ReadMemStats(&before)
				s, err := Open(p, dir, Options{})
				if err != nil {
					b.Fatal(err)
				}
				b.StopTimer()
				runtime.GC()
				runtime.ReadMemStats(&after)
				heap = float64(after.HeapAlloc) - float64(before.HeapAlloc)
				rss = residentBytes()
				logBytes = float64(s.Stats().LogBytes)
				if mode == "full-replay" {
					s.failed = fmt.Errorf("leave no checkpoint")
				}
				if err := s.Close(p); err != nil {
					b.Fatal(err)
				}
				b.StartTimer()
			}
			b.ReportMetric(heap/(1<<20), "heap-MiB")
			b.ReportMetric(logBytes/(1<<20), "log-MiB")
			b.ReportMetric(heap/logBytes, "heap/log")
			if rss > 0 {
				b.ReportMetric(rss/(1<<20), "rss-MiB")
			}
		})
	}
}

// residentBytes is the process's resident set (VmRSS), 0 where unknown.
func residentBytes() float64 {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(b), "\n") {
		if rest, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			kb, err := strconv.Atoi(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(rest), "kB")))
			if err == nil {
				return float64(kb) * 1024
			}
		}
	}
	return 0
}

func envInt(name string, def int) int {
	if v, err := strconv.Atoi(os.Getenv(name)); err == nil && v > 0 {
		return v
	}
	return def
}

var reopenDirs sync.Map

func reopenStore(b *testing.B, events, batch int) string {
	key := fmt.Sprint(events, "/", batch)
	if d, ok := reopenDirs.Load(key); ok {
		return d.(string)
	}
	dir := filepath.Join(b.TempDir(), "data")
	if keep := os.Getenv("PERSIST_BENCH_DIR"); keep != "" {
		// A kept store: built by an earlier run, measured in a fresh
		// process (so the resident set is the open store's alone).
		dir = filepath.Join(keep, fmt.Sprintf("reopen-%d-%d", events, batch))
		if _, err := os.Stat(filepath.Join(dir, identityFile)); err == nil {
			reopenDirs.Store(key, dir)
			return dir
		}
	}
	h := &platform.OS{}
	s, err := Open(effect.Handle(context.Background(), h), dir, Options{})
	if err != nil {
		b.Fatal(err)
	}
	const writers = 16
	commits := events / batch
	var wg sync.WaitGroup
	errs := make(chan error, writers)
	for w := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			p := effect.Handle(context.Background(), s, h)
			evs := make([]ops.EventData, batch)
			for i := range evs {
				evs[i] = ops.EventData{Type: "t", Data: body}
			}
			for c := w; c < commits; c += writers {
				if _, err := effect.Perform(p, ops.Append{Stream: fmt.Sprintf("stream-%d", c%1000), Events: evs}); err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		b.Fatal(err)
	}
	if err := s.Close(effect.Handle(context.Background(), h)); err != nil {
		b.Fatal(err)
	}
	reopenDirs.Store(key, dir)
	return dir
}
