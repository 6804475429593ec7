package file

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"rose-ash.com/persist/effect"
	"rose-ash.com/persist/ops"
	"rose-ash.com/persist/platform"
)

// BenchmarkOpenCommits measures Open, from its checkpoint, of a store of
// PERSIST_BENCH_EVENTS (default 200,000) one-event commits of 200 bytes
// to 10,000 streams, written by 64 writers. With PERSIST_BENCH_DIR set,
// the store is kept there and reused by later runs.
func BenchmarkOpenCommits(b *testing.B) {
	events := envInt("PERSIST_BENCH_EVENTS", 200_000)
	dir := commitsStore(b, events)
	h := &platform.OS{}
	p := effect.Handle(context.Background(), h)
	var cpu time.Duration
	for b.Loop() {
		before := cpuTime()
		s, err := Open(p, dir, Options{})
		if err != nil {
			b.Fatal(err)
		}
		cpu += cpuTime() - before
		b.StopTimer()
		if s.Recovery().Checkpoint == 0 {
			b.Fatal("opened without a checkpoint")
		}
		if err := s.Close(p); err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
	}
	b.ReportMetric(float64(b.Elapsed().Milliseconds())/float64(b.N), "open-ms")
	b.ReportMetric(float64(cpu.Milliseconds())/float64(b.N), "open-cpu-ms")
}

// cpuTime is the user and system time the process has used.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// commitsStore builds (or finds, under PERSIST_BENCH_DIR) a store of
// events one-event commits to 10,000 streams.
func commitsStore(b *testing.B, events int) string {
	dir := filepath.Join(b.TempDir(), "data")
	if keep := os.Getenv("PERSIST_BENCH_DIR"); keep != "" {
		dir = filepath.Join(keep, fmt.Sprintf("commits-%d", events))
		if _, err := os.Stat(filepath.Join(dir, identityFile)); err == nil {
			return dir
		}
	}
	h := &platform.OS{}
	s, err := Open(effect.Handle(context.Background(), h), dir, Options{})
	if err != nil {
		b.Fatal(err)
	}
	writeCommits(b, s, h, events, 64)
	if err := s.Close(effect.Handle(context.Background(), h)); err != nil {
		b.Fatal(err)
	}
	return dir
}

// writeCommits appends events one-event commits to 10,000 streams from
// writers goroutines, and returns each commit's latency.
func writeCommits(b *testing.B, s *Store, h *platform.OS, events, writers int) []time.Duration {
	var next atomic.Int64
	lat := make([][]time.Duration, writers)
	var wg sync.WaitGroup
	var failed atomic.Value
	for w := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			p := effect.Handle(context.Background(), s, h)
			ev := []ops.EventData{{Type: "t", Data: body}}
			for {
				i := next.Add(1)
				if i > int64(events) {
					return
				}
				start := time.Now()
				if _, err := effect.Perform(p, ops.Append{Stream: fmt.Sprintf("stream-%d", i%10_000), Events: ev}); err != nil {
					failed.Store(err)
					return
				}
				lat[w] = append(lat[w], time.Since(start))
			}
		}()
	}
	wg.Wait()
	if err, ok := failed.Load().(error); ok {
		b.Fatal(err)
	}
	return slices.Concat(lat...)
}

func quantile(d []time.Duration, q float64) time.Duration {
	d = slices.Clone(d)
	slices.Sort(d)
	return d[min(len(d)-1, int(q*float64(len(d))))]
}

// BenchmarkCommitP99Checkpoint measures the latency of one-event commits
// by 64 writers on a store of PERSIST_BENCH_EVENTS events (built as
// BenchmarkOpenCommits builds it, and copied), in alternating rounds of
// PERSIST_BENCH_ROUND commits (default 20,000): without checkpoints, and
// with a checkpoint due every 2 MiB of log, so that one is being made
// most of the time. It reports the median over the rounds of each
// round's p50, p99, p99.9 and maximum.
func BenchmarkCommitP99Checkpoint(b *testing.B) {
	events := envInt("PERSIST_BENCH_EVENTS", 200_000)
	round := envInt("PERSIST_BENCH_ROUND", 20_000)
	src := commitsStore(b, events)
	dir := filepath.Join(b.TempDir(), "data")
	if err := os.CopyFS(dir, os.DirFS(src)); err != nil {
		b.Fatal(err)
	}
	h := &platform.OS{}
	p := effect.Handle(context.Background(), h)
	s, err := Open(p, dir, Options{CheckpointBytes: -1})
	if err != nil {
		b.Fatal(err)
	}
	defer func() { _ = s.Close(p) }()
	var p50, p99, p999, worst [2][]time.Duration
	ckpts := 0
	for b.Loop() {
		for mode := range 2 {
			s.opts.CheckpointBytes = -1
			if mode == 1 {
				s.opts.CheckpointBytes = 2 << 20
			}
			before := ckptLSNOf(s)
			lat := writeCommits(b, s, h, round, 64)
			p50[mode] = append(p50[mode], quantile(lat, 0.50))
			p99[mode] = append(p99[mode], quantile(lat, 0.99))
			p999[mode] = append(p999[mode], quantile(lat, 0.999))
			worst[mode] = append(worst[mode], quantile(lat, 1))
			if mode == 1 && ckptLSNOf(s) != before {
				ckpts++
			}
		}
	}
	med := func(d []time.Duration) float64 { return float64(quantile(d, 0.5).Microseconds()) / 1000 }
	b.ReportMetric(med(p50[0]), "p50-plain-ms")
	b.ReportMetric(med(p99[0]), "p99-plain-ms")
	b.ReportMetric(med(p50[1]), "p50-ckpt-ms")
	b.ReportMetric(med(p99[1]), "p99-ckpt-ms")
	b.ReportMetric(med(p999[0]), "p99.9-plain-ms")
	b.ReportMetric(med(p999[1]), "p99.9-ckpt-ms")
	b.ReportMetric(med(worst[0]), "max-plain-ms")
	b.ReportMetric(med(worst[1]), "max-ckpt-ms")
	b.ReportMetric(med(p99[1])/med(p99[0]), "p99-ratio")
	b.ReportMetric(float64(ckpts), "rounds-with-ckpt")
}

func ckptLSNOf(s *Store) uint64 {
	s.ckMu.Lock()
	defer s.ckMu.Unlock()
	return s.ckptLSN
}

// BenchmarkCheckpointParts times, on the store BenchmarkOpenCommits
// builds, the capture of a checkpoint's view (what writers wait for),
// into a fresh array of stream heads and into a kept one, and
// the copy of the ID index and the encoding (what they do not).
func BenchmarkCheckpointParts(b *testing.B) {
	events := envInt("PERSIST_BENCH_EVENTS", 200_000)
	dir := commitsStore(b, events)
	h := &platform.OS{}
	p := effect.Handle(context.Background(), h)
	s, err := Open(p, dir, Options{})
	if err != nil {
		b.Fatal(err)
	}
	defer func() { _ = s.Close(p) }()
	r := resume{seg: s.active.id, off: s.off, crc: s.lastCRC, lsn: s.st.lsn, last: s.lastOff, sum: s.segSum, version: ckptVersion}
	b.Run("capture", func(b *testing.B) {
		for b.Loop() {
			_ = markOf(r, s.st, nil, false)
		}
	})
	b.Run("capture-kept", func(b *testing.B) {
		// Into the array the checkpoint before gave back (keepHeads),
		// as a checkpoint beside commits captures.
		v := &ckptView{}
		for b.Loop() {
			v = markOf(r, s.st, v.streams, false)
			s.keepHeads(v)
			v.streams = s.ckStreams
		}
	})
	b.Run("copy-ids", func(b *testing.B) {
		v := markOf(r, s.st, nil, false)
		for b.Loop() {
			_ = v.idsLive.CopyAsOf(v.idsMark, func() func() { s.mu.RLock(); return s.mu.RUnlock })
		}
	})
	b.Run("encode", func(b *testing.B) {
		v := viewOf(r, s.st)
		for b.Loop() {
			_ = v.encode(s.id)
		}
	})
}
