package file

import (
	"context"
	"fmt"
	"math/rand/v2"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"rose-ash.com/persist/effect"
	"rose-ash.com/persist/ops"
	"rose-ash.com/persist/platform"
)

// BenchmarkKvCheckpoint measures what a checkpoint costs once 1% of the
// kv keys changed, in a copy of the store of BenchmarkKvReopen
// (PERSIST_KV_KEYS keys, built once under PERSIST_BENCH_DIR): rounds of
// PERSIST_KV_ROUNDS (default 8), each changing 1% of the keys drawn at
// random (1,000 a commit) and then making a checkpoint, timed, with the
// bytes the process wrote meanwhile (wchar). It reports the median
// checkpoint time and bytes, and the last round's, then Opens the store
// again and reports the kv-get p50 of random keys just after the Open
// (cold) and read again (warm), over the runs the rounds left.
func BenchmarkKvCheckpoint(b *testing.B) {
	keys := envInt("PERSIST_KV_KEYS", 100_000)
	rounds := envInt("PERSIST_KV_ROUNDS", 8)
	src, _ := kvReopenStore(b, keys)
	h := &platform.OS{}
	io := effect.Handle(context.Background(), h)
	var ms, mib []float64
	var cold, warm float64
	for b.Loop() {
		b.StopTimer()
		dir := filepath.Join(b.TempDir(), "data")
		copyDir(b, src, dir)
		s, err := Open(io, dir, Options{CheckpointBytes: 1 << 40, KvBufferBytes: -1})
		if err != nil {
			b.Fatal(err)
		}
		sp := effect.Handle(context.Background(), s, h)
		rng := rand.New(rand.NewPCG(7, uint64(keys)))
		value := []byte(strings.Repeat("w", 40))
		ms, mib = ms[:0], mib[:0]
		for range rounds {
			made := s.Stats().Checkpoints
			n := keys / 100
			for c := 0; c < n; c += 1000 {
				ch := make([]ops.KvChange, 0, 1000)
				seen := map[int]bool{}
				for len(ch) < min(1000, n-c) {
					i := rng.IntN(keys)
					if seen[i] {
						continue
					}
					seen[i] = true
					ch = append(ch, ops.KvChange{Key: fmt.Sprintf("key/%09d", i), Value: value})
				}
				if _, err := effect.Perform(sp, ops.Commit{Kv: ch}); err != nil {
					b.Fatal(err)
				}
			}
			if got := s.Stats().Checkpoints; got != made {
				// The checkpoint timed would hold only the changes since.
				b.Fatalf("the round's commits made %d checkpoints due themselves", got-made)
			}
			b.StartTimer()
			t0, w0 := time.Now(), bytesWritten()
			if err := s.checkpoint(io); err != nil {
				b.Fatal(err)
			}
			ms = append(ms, float64(time.Since(t0).Microseconds())/1000)
			mib = append(mib, (bytesWritten()-w0)/(1<<20))
			b.StopTimer()
		}
		if err := s.Close(io); err != nil {
			b.Fatal(err)
		}
		s, err = Open(io, dir, Options{})
		if err != nil {
			b.Fatal(err)
		}
		sp = effect.Handle(context.Background(), s, h)
		pick := pickKeys(rng, keys, 2000)
		cold, warm = kvGetP50(b, sp, pick), kvGetP50(b, sp, pick)
		if err := s.Close(io); err != nil {
			b.Fatal(err)
		}
		b.Logf("checkpoint ms per round %v, MiB written %v", ms, mib)
		b.StartTimer()
	}
	med := func(xs []float64) float64 {
		ys := slices.Clone(xs)
		slices.Sort(ys)
		return ys[len(ys)/2]
	}
	b.ReportMetric(med(ms), "ckpt-p50-ms")
	b.ReportMetric(med(mib), "ckpt-p50-MiB")
	b.ReportMetric(ms[len(ms)-1], "ckpt-last-ms")
	b.ReportMetric(mib[len(mib)-1], "ckpt-last-MiB")
	b.ReportMetric(cold, "get-cold-p50-µs")
	b.ReportMetric(warm, "get-warm-p50-µs")
}
