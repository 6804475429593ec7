package file

import (
	"context"
	"encoding/binary"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"

	"rose-ash.com/persist/effect"
	"rose-ash.com/persist/ops"
	"rose-ash.com/persist/platform"
)

// BenchmarkOpenIDs measures Open, from its checkpoint, of a store of
// PERSIST_BENCH_EVENTS (default 200,000) one-event commits of 200 bytes
// to 10,000 streams, written by 64 writers, every event with an ID the
// caller chose when PERSIST_BENCH_IDS is 1 (else drawn IDs): the time,
// the heap the open store holds and the process's peak resident set
// (VmHWM); then the p50 of appends of one event with a new caller ID
// and of re-appends of a stored one (a retry, answered as the original),
// and the heap and peak after them. With PERSIST_BENCH_DIR set, the
// store is built there by a first run and measured by later ones, each
// in a fresh process, so the peak is the open's and the appends' alone.
func BenchmarkOpenIDs(b *testing.B) {
	events := envInt("PERSIST_BENCH_EVENTS", 200_000)
	withIDs := os.Getenv("PERSIST_BENCH_IDS") == "1"
	dir := idsStore(b, events, withIDs)
	h := &platform.OS{}
	p := effect.Handle(context.Background(), h)
	var openMs, heap, hwm, newP50, retryP50, newP99, retryP99, heap2, hwm2 float64
	for b.Loop() {
		var before, after runtime.MemStats
		runtime.GC()
		runtime.ReadMemStats(&before)
		t0 := time.Now()
		s, err := Open(p, dir, benchIDOpts(b, Options{}))
		if err != nil {
			b.Fatal(err)
		}
		openMs = float64(time.Since(t0).Microseconds()) / 1000
		b.StopTimer()
		if s.Recovery().Checkpoint == 0 {
			b.Fatal("opened without a checkpoint")
		}
		runtime.GC()
		runtime.ReadMemStats(&after)
		heap, hwm = float64(after.HeapAlloc)-float64(before.HeapAlloc), peakResident()
		sp := effect.Handle(context.Background(), s, h)
		const n = 2000
		lat := func(retry bool) (float64, float64) {
			ds := make([]time.Duration, n)
			for i := range n {
				k := (i*7919 + 13) % events
				id, stream := benchID(k, withIDs), fmt.Sprintf("stream-%d", (k+1)%10_000)
				if !retry {
					id, stream = uuid.New(), fmt.Sprintf("stream-%d", i%10_000)
				}
				t := time.Now()
				res, err := effect.Perform(sp, ops.Append{Stream: stream, Events: []ops.EventData{{ID: id, Type: "t", Data: body}}})
				ds[i] = time.Since(t)
				if err != nil {
					b.Fatalf("append %d (retry %v): %v", i, retry, err)
				}
				if retry && res.FirstPos > uint64(events) {
					b.Fatalf("a retry of event %d was written anew at position %d", k, res.FirstPos)
				}
			}
			slices.Sort(ds)
			return float64(ds[n/2].Nanoseconds()) / 1000, float64(ds[n*99/100].Nanoseconds()) / 1000
		}
		newP50, newP99 = lat(false)
		if withIDs {
			retryP50, retryP99 = lat(true)
		}
		runtime.GC()
		runtime.ReadMemStats(&after)
		heap2, hwm2 = float64(after.HeapAlloc)-float64(before.HeapAlloc), peakResident()
		// The appends are not kept: the store is measured again as built.
		s.failed = fmt.Errorf("leave the store as it was built")
		_ = s.Close(p)
		b.StartTimer()
	}
	b.ReportMetric(openMs, "open-ms")
	b.ReportMetric(heap/(1<<20), "heap-MiB")
	b.ReportMetric(hwm/(1<<20), "hwm-MiB")
	b.ReportMetric(newP50, "append-new-p50-µs")
	b.ReportMetric(retryP50, "append-retry-p50-µs")
	b.ReportMetric(newP99, "append-new-p99-µs")
	b.ReportMetric(retryP99, "append-retry-p99-µs")
	b.ReportMetric(heap2/(1<<20), "heap-after-MiB")
	b.ReportMetric(hwm2/(1<<20), "hwm-after-MiB")
}

// benchID is the caller ID of the event numbered i (uuid.Nil, drawn by
// the store, without IDs): a version-4 UUID made from i.
func benchID(i int, withIDs bool) uuid.UUID {
	if !withIDs {
		return uuid.Nil
	}
	var id uuid.UUID
	z := uint64(i) + 0x9e3779b97f4a7c15
	for j := range 2 {
		z = (z ^ z>>30) * 0xbf58476d1ce4e5b9
		z = (z ^ z>>27) * 0x94d049bb133111eb
		binary.LittleEndian.PutUint64(id[8*j:], z^z>>31)
	}
	id[6] = id[6]&0x0f | 0x40
	id[8] = id[8]&0x3f | 0x80
	return id
}

// idsStore builds (or finds, under PERSIST_BENCH_DIR) the store of
// BenchmarkOpenIDs: event i (from 0) in stream stream-<(i+1) mod
// 10,000>, with ID benchID(i).
func idsStore(b *testing.B, events int, withIDs bool) string {
	dir := filepath.Join(b.TempDir(), "data")
	if keep := os.Getenv("PERSIST_BENCH_DIR"); keep != "" {
		dir = filepath.Join(keep, fmt.Sprintf("ids-%d-%v", events, withIDs))
		if _, err := os.Stat(filepath.Join(dir, identityFile)); err == nil {
			return dir
		}
	}
	h := &platform.OS{}
	s, err := Open(effect.Handle(context.Background(), h), dir, Options{})
	if err != nil {
		b.Fatal(err)
	}
	var next atomic.Int64
	var failed atomic.Value
	var wg sync.WaitGroup
	for range 64 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			p := effect.Handle(context.Background(), s, h)
			for {
				i := int(next.Add(1) - 1)
				if i >= events {
					return
				}
				_, err := effect.Perform(p, ops.Append{Stream: fmt.Sprintf("stream-%d", (i+1)%10_000), Events: []ops.EventData{{ID: benchID(i, withIDs), Type: "t", Data: body}}})
				if err != nil {
					failed.Store(err)
					return
				}
			}
		}()
	}
	wg.Wait()
	if err, ok := failed.Load().(error); ok {
		b.Fatal(err)
	}
	if err := s.Close(effect.Handle(context.Background(), h)); err != nil {
		b.Fatal(err)
	}
	return dir
}
