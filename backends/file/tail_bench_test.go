package file

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"runtime/pprof"
	"slices"
	"strconv"
	"testing"
	"time"

	"rose-ash.com/persist/effect"
	"rose-ash.com/persist/ops"
	"rose-ash.com/persist/platform"
)

// Reads of one stream's last 10 events in a store of many events in
// 10,000 streams (issue 12, part 6), written one event per commit or in
// batches of 100, the streams taking turns. The store holds 1,000,000
// events unless PERSIST_TAIL_EVENTS sets another multiple of 1,000,000
// (5000000 for the figure). It is built with the syncs answered without syncing
// (nosync), since only its reads are measured, and reopened before them.
// Before the measured reads, every stream is read once in turn: the p50
// and p99 of those first reads are reported as first-us, and of a first
// read of every stream's first 10 events as head-first-us. Then each op is
// one read of a random stream's last 10 events; the p50 and p99 of their
// latencies are reported as us, beside ns/op.
//
// The store is built on disk under PERSIST_TAIL_DIR when set (and kept
// there, to be read again by a later run, as a store of 5 M events takes
// a while to write), else in a temporary directory.
// PERSIST_READ_CACHE, when set, is the reopened store's
// Options.ReadCacheBytes. PERSIST_TAIL_CPUPROFILE, when set, names CPU
// profiles of the measured reads alone, one a case (the name, a dot and
// the case's name).
func BenchmarkTailRead(b *testing.B) {
	events := 1_000_000
	if v := os.Getenv("PERSIST_TAIL_EVENTS"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n <= 0 || n%1_000_000 != 0 {
			b.Fatalf("PERSIST_TAIL_EVENTS=%q: want a positive multiple of 1000000", v)
		}
		events = n
	}
	for _, batch := range []int{1, 100} {
		name := "one-per-commit"
		if batch > 1 {
			name = fmt.Sprintf("batches-of-%d", batch)
		}
		b.Run(name, func(b *testing.B) {
			p := tailStore(b, events, batch)
			var pg ops.Page
			from := uint64(events/tailStreams - tailRead + 1)
			read := func(stream string) time.Duration {
				start := time.Now()
				r, err := effect.Perform(p, ops.Read{Stream: stream, From: from, Limit: tailRead, Page: pageFor(&pg)})
				d := time.Since(start)
				if err != nil || len(r.Events) != tailRead || r.Events[0].Seq != from {
					b.Fatal(err, len(r.Events))
				}
				return d
			}
			// First reads: every stream once, in order, before any was read.
			cold := make([]time.Duration, 0, tailStreams)
			for i := range tailStreams {
				cold = append(cold, read(tailName(i)))
			}
			// Then every stream's first 10 events once, in order: in a
			// store of indexed segments the oldest, which a read finds
			// through the stream's index entries alone.
			head := make([]time.Duration, 0, tailStreams)
			for i := range tailStreams {
				start := time.Now()
				r, err := effect.Perform(p, ops.Read{Stream: tailName(i), From: 1, Limit: tailRead, Page: pageFor(&pg)})
				head = append(head, time.Since(start))
				if err != nil || len(r.Events) != tailRead || r.Events[0].Seq != 1 {
					b.Fatal(err, len(r.Events))
				}
			}
			rng := rand.New(rand.NewPCG(1, 2))
			lat := make([]time.Duration, 0, 1<<16)
			if f := os.Getenv("PERSIST_TAIL_CPUPROFILE"); f != "" {
				stop := tailProfile(b, f+"."+name)
				defer stop()
			}
			b.ResetTimer()
			for b.Loop() {
				d := read(tailName(rng.IntN(tailStreams)))
				if len(lat) < cap(lat) {
					lat = append(lat, d)
				}
			}
			b.StopTimer()
			report := func(ds []time.Duration, unit string) {
				slices.Sort(ds)
				b.ReportMetric(float64(ds[len(ds)/2].Nanoseconds())/1e3, "p50-"+unit)
				b.ReportMetric(float64(ds[len(ds)*99/100].Nanoseconds())/1e3, "p99-"+unit)
			}
			report(lat, "us")
			report(cold, "first-us")
			report(head, "head-first-us")
		})
	}
}

// tailProfile starts a CPU profile into file and gives what stops it.
func tailProfile(b *testing.B, file string) func() {
	f, err := os.Create(file)
	if err != nil {
		b.Fatal(err)
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		b.Fatal(err)
	}
	return func() {
		pprof.StopCPUProfile()
		if err := f.Close(); err != nil {
			b.Error(err)
		}
	}
}

// pageFor lends pg when PERSIST_TAIL_PAGE is set, for the read that
// borrows; else the read copies, as ops.Read without a page does.
func pageFor(pg *ops.Page) *ops.Page {
	if os.Getenv("PERSIST_TAIL_PAGE") != "" {
		return pg
	}
	return nil
}

const (
	tailStreams = 10_000
	tailRead    = 10
)

func tailName(i int) string { return fmt.Sprintf("stream-%05d", i) }

// nosync answers the syncs of a store being built without syncing.
type nosync struct{}

func (nosync) Handle(p *effect.P, e effect.Effect) (any, error) {
	switch e.(type) {
	case platform.Fsync, platform.Fdatasync, platform.SyncDir:
		return struct{}{}, nil
	}
	return nil, effect.ErrUnhandled
}

// tailStore opens (building it first when it is not there) a store of
// events in tailStreams streams, batch events per commit, the streams
// taking turns.
func tailStore(b *testing.B, events, batch int) *effect.P {
	b.Helper()
	dir := filepath.Join(b.TempDir(), "data")
	if root := os.Getenv("PERSIST_TAIL_DIR"); root != "" {
		dir = filepath.Join(root, fmt.Sprintf("tail-%d-%d", events, batch))
	}
	h := &platform.OS{}
	_, statErr := os.Stat(dir)
	if os.IsNotExist(statErr) {
		bp := effect.Handle(context.Background(), nosync{}, h)
		s, err := Open(bp, dir, Options{})
		if err != nil {
			b.Fatal(err)
		}
		wp := effect.Handle(context.Background(), s, nosync{}, h)
		evs := make([]ops.EventData, batch)
		for i := range evs {
			evs[i] = ops.EventData{Type: "tail", Data: body}
		}
		start := time.Now()
		for done := 0; done < events; done += batch * tailStreams {
			for i := range tailStreams {
				if _, err := effect.Perform(wp, ops.Append{Stream: tailName(i), Events: evs}); err != nil {
					b.Fatal(err)
				}
			}
		}
		if err := s.Close(bp); err != nil {
			b.Fatal(err)
		}
		b.Logf("built %d events in %d streams, %d per commit, in %v", events, tailStreams, batch, time.Since(start).Round(time.Millisecond))
	}
	p := effect.Handle(context.Background(), h)
	s, err := Open(p, dir, benchReadCache(b))
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = s.Close(p) })
	return effect.Handle(context.Background(), s, h)
}

// BenchmarkReadAllOnePerCommit reads the global log of 100,000 events
// written one per commit to 1,000 streams in turn, in pages of 1,000 (b.N
// pages, round and round), copying and into a lent page: the replay of a
// store of small commits, where a record holds one event.
func BenchmarkReadAllOnePerCommit(b *testing.B) {
	const events, streams = 100_000, 1000
	h := &platform.OS{}
	dir := filepath.Join(b.TempDir(), "data")
	bp := effect.Handle(context.Background(), nosync{}, h)
	s, err := Open(bp, dir, Options{})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = s.Close(bp) })
	p := effect.Handle(context.Background(), s, nosync{}, h)
	ev := []ops.EventData{{Type: "tail", Data: body}}
	for i := range events {
		if _, err := effect.Perform(p, ops.Append{Stream: tailName(i % streams), Events: ev}); err != nil {
			b.Fatal(err)
		}
	}
	for _, c := range []struct {
		name string
		pg   *ops.Page
	}{{"copy", nil}, {"page", new(ops.Page)}} {
		b.Run(c.name, func(b *testing.B) {
			from := uint64(1)
			b.ReportAllocs()
			for b.Loop() {
				r, err := effect.Perform(p, ops.ReadAll{From: from, Limit: 1000, Page: c.pg})
				if err != nil || len(r.Events) != 1000 || r.Events[0].Pos != from {
					b.Fatal(err, len(r.Events))
				}
				from += 1000
				if from > events {
					from = 1
				}
			}
			b.ReportMetric(float64(b.N)*1000/b.Elapsed().Seconds(), "events/s")
		})
	}
}
