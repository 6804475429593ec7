package file

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"rose-ash.com/persist/effect"
	"rose-ash.com/persist/ops"
	"rose-ash.com/persist/platform"
)

// BenchmarkKvReopen measures Open of a store of PERSIST_KV_KEYS kv keys
// (default 100,000; 40-byte values, 1,000 keys a commit), the heap the
// open store holds, the process's peak resident set (VmHWM) and the
// kv-get latency of random keys just after Open (cold) and read again
// (warm). With PERSIST_BENCH_DIR set, the store is built there by a first
// run and measured by later ones, each in a fresh process, so the peak
// is the open's alone.
func BenchmarkKvReopen(b *testing.B) {
	keys := envInt("PERSIST_KV_KEYS", 100_000)
	dir, build := kvReopenStore(b, keys)
	h := &platform.OS{}
	p := effect.Handle(context.Background(), h)
	var heap, openMs, cold, warm float64
	for b.Loop() {
		var before, after runtime.MemStats
		runtime.GC()
		runtime.ReadMemStats(&before)
		t0 := time.Now()
		s, err := Open(p, dir, Options{})
		if err != nil {
			b.Fatal(err)
		}
		openMs = float64(time.Since(t0).Microseconds()) / 1000
		b.StopTimer()
		runtime.GC()
		runtime.ReadMemStats(&after)
		heap = float64(after.HeapAlloc) - float64(before.HeapAlloc)
		sp := effect.Handle(context.Background(), s, h)
		rng := rand.New(rand.NewPCG(1, uint64(keys)))
		pick := pickKeys(rng, keys, 2000)
		cold, warm = kvGetP50(b, sp, pick), kvGetP50(b, sp, pick)
		if err := s.Close(p); err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
	}
	b.ReportMetric(openMs, "open-ms")
	b.ReportMetric(heap/(1<<20), "heap-MiB")
	b.ReportMetric(peakResident()/(1<<20), "hwm-MiB")
	b.ReportMetric(cold, "get-cold-p50-µs")
	b.ReportMetric(warm, "get-warm-p50-µs")
	if build.secs > 0 {
		b.ReportMetric(build.secs, "build-s")
		b.ReportMetric(build.written/(1<<20), "build-written-MiB")
		b.ReportMetric(build.log/(1<<20), "build-log-MiB")
	}
}

// kvBuild is what building the store of BenchmarkKvReopen cost: its time,
// the bytes the process wrote (wchar of /proc/self/io) and the
// bytes of log it holds, so that written less log is what checkpoints
// and kv runs cost; zero when the store was built by an earlier run.
type kvBuild struct {
	secs, written, log float64
}

// bytesWritten is the process's wchar, 0 where unknown.
func bytesWritten() float64 {
	b, err := os.ReadFile("/proc/self/io")
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(b), "\n") {
		if rest, ok := strings.CutPrefix(line, "wchar:"); ok {
			n, err := strconv.ParseFloat(strings.TrimSpace(rest), 64)
			if err == nil {
				return n
			}
		}
	}
	return 0
}

// peakResident is the process's peak resident set (VmHWM), 0 where
// unknown.
func peakResident() float64 {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(b), "\n") {
		if rest, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			kb, err := strconv.Atoi(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(rest), "kB")))
			if err == nil {
				return float64(kb) * 1024
			}
		}
	}
	return 0
}

func kvReopenStore(b *testing.B, keys int) (string, kvBuild) {
	dir := filepath.Join(b.TempDir(), "data")
	if keep := os.Getenv("PERSIST_BENCH_DIR"); keep != "" {
		dir = filepath.Join(keep, fmt.Sprintf("kvreopen-%d", keys))
		if _, err := os.Stat(filepath.Join(dir, identityFile)); err == nil {
			return dir, kvBuild{}
		}
	}
	t0, w0 := time.Now(), bytesWritten()
	h := &platform.OS{}
	s, err := Open(effect.Handle(context.Background(), h), dir, Options{})
	if err != nil {
		b.Fatal(err)
	}
	p := effect.Handle(context.Background(), s, h)
	const batch = 1000
	value := []byte(strings.Repeat("v", 40))
	for c := 0; c < keys; c += batch {
		ch := make([]ops.KvChange, 0, batch)
		for i := c; i < min(c+batch, keys); i++ {
			ch = append(ch, ops.KvChange{Key: fmt.Sprintf("key/%09d", i), Value: value})
		}
		if _, err := effect.Perform(p, ops.Commit{Kv: ch}); err != nil {
			b.Fatal(err)
		}
	}
	logBytes := float64(s.Stats().LogBytes)
	if err := s.Close(effect.Handle(context.Background(), h)); err != nil {
		b.Fatal(err)
	}
	return dir, kvBuild{secs: time.Since(t0).Seconds(), written: bytesWritten() - w0, log: logBytes}
}

// pickKeys draws n of the keys key/000000000 ... that the kv benchmarks'
// stores hold, at random from rng.
func pickKeys(rng *rand.Rand, keys, n int) []string {
	pick := make([]string, n)
	for i := range pick {
		pick[i] = fmt.Sprintf("key/%09d", rng.IntN(keys))
	}
	return pick
}

// kvGetP50 gets every key of pick through sp, one kv-get at a time, and
// returns the median latency in microseconds; a key not found fails b.
func kvGetP50(b *testing.B, sp *effect.P, pick []string) float64 {
	b.Helper()
	ds := make([]time.Duration, len(pick))
	for i, k := range pick {
		t := time.Now()
		e, err := effect.Perform(sp, ops.KvGet{Key: k})
		ds[i] = time.Since(t)
		if err != nil || e == nil {
			b.Fatalf("kv-get %s: %v %v", k, e, err)
		}
	}
	slices.Sort(ds)
	return float64(ds[len(ds)/2].Nanoseconds()) / 1000
}
