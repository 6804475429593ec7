package file

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"rose-ash.com/persist/effect"
	"rose-ash.com/persist/ops"
	"rose-ash.com/persist/platform"
)

// The workloads of the issue, each beside a raw baseline: a plain
// preallocated file written with pwrite and fdatasync, no framing, no index.
// Bodies are 200 bytes.

var body = make([]byte, 200)

func benchStore(b *testing.B, opts Options) (*Store, *effect.P, func() *effect.P) {
	b.Helper()
	return benchStoreOn(b, opts, &platform.OS{})
}

// benchStoreOn is benchStore on the OS handler h.
func benchStoreOn(b *testing.B, opts Options, h *platform.OS) (*Store, *effect.P, func() *effect.P) {
	b.Helper()
	dir := filepath.Join(b.TempDir(), "data")
	s, err := Open(effect.Handle(context.Background(), h), dir, opts)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = s.Close(effect.Handle(context.Background(), h)) })
	mk := func() *effect.P { return effect.Handle(context.Background(), s, h) }
	return s, mk(), mk
}

// rawFile is the baseline: a preallocated file and an append offset.
type rawFile struct {
	f     *os.File
	off   int64
	mu    sync.Mutex
	timer *syncTimer // when set, adds up the time in fdatasync
}

func newRaw(b *testing.B) *rawFile {
	b.Helper()
	f, err := os.OpenFile(filepath.Join(b.TempDir(), "raw"), os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		b.Fatal(err)
	}
	if err := syscall.Fallocate(int(f.Fd()), 0, 0, 64<<20); err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = f.Close() })
	return &rawFile{f: f}
}

func (r *rawFile) append(b *testing.B, buf []byte) {
	if r.timer != nil {
		r.timer.writing()
	}
	if _, err := r.f.WriteAt(buf, r.off); err != nil {
		b.Fatal(err)
	}
	r.off += int64(len(buf))
	start := time.Now()
	if err := syscall.Fdatasync(int(r.f.Fd())); err != nil {
		b.Fatal(err)
	}
	if r.timer != nil {
		r.timer.synced(start)
	}
}

// W1: one writer, one event per durable append.
func BenchmarkW1(b *testing.B) {
	_, p, _ := benchStore(b, Options{})
	ev := []ops.EventData{{Type: "t", Data: body}}
	b.ResetTimer()
	for b.Loop() {
		if _, err := effect.Perform(p, ops.Append{Stream: "s", Events: ev}); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "appends/s")
}

func BenchmarkW1Raw(b *testing.B) {
	r := newRaw(b)
	for b.Loop() {
		r.append(b, body)
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "appends/s")
}

// syncTimer answers io/fdatasync through the OS handler and adds up the
// time spent in it: the share of the run the disk was syncing, which the
// time between groups (hand-off, encoding) takes from.
type syncTimer struct {
	os      *platform.OS
	busy    atomic.Int64 // nanoseconds in fdatasync
	n       atomic.Int64 // fdatasyncs
	gap     atomic.Int64 // nanoseconds from the end of a sync to the next write
	gaps    atomic.Int64
	lastEnd atomic.Int64 // unix nanoseconds, 0 before the first sync
}

func (t *syncTimer) Handle(p *effect.P, e effect.Effect) (any, error) {
	switch e.(type) {
	case platform.Fdatasync:
		start := time.Now()
		r, err := t.os.Handle(p, e)
		t.synced(start)
		return r, err
	case platform.WriteAt:
		t.writing()
	}
	return nil, effect.ErrUnhandled
}

func (t *syncTimer) writing() {
	if end := t.lastEnd.Swap(0); end != 0 {
		t.gap.Add(time.Now().UnixNano() - end)
		t.gaps.Add(1)
	}
}

func (t *syncTimer) synced(start time.Time) {
	end := time.Now()
	t.busy.Add(int64(end.Sub(start)))
	t.n.Add(1)
	t.lastEnd.Store(end.UnixNano())
}

func (t *syncTimer) report(b *testing.B, events int) {
	b.ReportMetric(100*float64(t.busy.Load())/float64(b.Elapsed()), "sync-busy-%")
	if n := t.n.Load(); n > 0 {
		b.ReportMetric(float64(events)/float64(n), "events/sync")
	}
	if n := t.gaps.Load(); n > 0 {
		b.ReportMetric(float64(t.gap.Load())/float64(n)/1e3, "us-sync-to-write")
	}
}

// W2: 64 writers, each appending one event at a time to its own stream.
func BenchmarkW2(b *testing.B) {
	timer := &syncTimer{os: &platform.OS{}}
	s, _, _ := benchStoreOn(b, Options{}, timer.os)
	mk := func() *effect.P { return effect.Handle(context.Background(), s, timer, timer.os) }
	var next atomic.Int32
	ev := []ops.EventData{{Type: "t", Data: body}}
	b.SetParallelism(max(1, 64/runtimeProcs()))
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		p := mk()
		stream := fmt.Sprintf("w%d", next.Add(1))
		for pb.Next() {
			if _, err := effect.Perform(p, ops.Append{Stream: stream, Events: ev}); err != nil {
				b.Error(err)
				return
			}
		}
	})
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "appends/s")
	timer.report(b, b.N)
}

// rawGroup is the W2 baseline: a leader/follower group commit over a raw
// file, one write and one fdatasync per group.
type rawGroup struct {
	r       *rawFile
	mu      sync.Mutex
	leading bool
	pending [][]byte
	waiters []chan struct{}
}

func (g *rawGroup) append(b *testing.B, buf []byte) {
	done := make(chan struct{}, 1)
	g.mu.Lock()
	g.pending = append(g.pending, buf)
	g.waiters = append(g.waiters, done)
	if g.leading {
		g.mu.Unlock()
		<-done
		return
	}
	g.leading = true
	for len(g.pending) > 0 {
		bufs, ws := g.pending, g.waiters
		g.pending, g.waiters = nil, nil
		g.mu.Unlock()
		var all []byte
		for _, x := range bufs {
			all = append(all, x...)
		}
		g.r.append(b, all)
		for _, w := range ws {
			w <- struct{}{}
		}
		g.mu.Lock()
	}
	g.leading = false
	g.mu.Unlock()
	<-done
}

func BenchmarkW2Raw(b *testing.B) {
	g := &rawGroup{r: newRaw(b)}
	g.r.timer = &syncTimer{}
	b.SetParallelism(max(1, 64/runtimeProcs()))
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			g.append(b, body)
		}
	})
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "appends/s")
	g.r.timer.report(b, b.N)
}

// W3: appends of 1,000 events to one stream (b.N appends).
func BenchmarkW3(b *testing.B) {
	_, p, _ := benchStore(b, Options{})
	batch := make([]ops.EventData, 1000)
	for i := range batch {
		batch[i] = ops.EventData{Type: "t", Data: body}
	}
	b.ResetTimer()
	for b.Loop() {
		if _, err := effect.Perform(p, ops.Append{Stream: "s", Events: batch}); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N)*1000/b.Elapsed().Seconds(), "events/s")
}

func BenchmarkW3Raw(b *testing.B) {
	r := newRaw(b)
	chunk := make([]byte, 1000*len(body))
	for b.Loop() {
		if r.off+int64(len(chunk)) > 64<<20 {
			r.off = 0
		}
		r.append(b, chunk)
	}
	b.ReportMetric(float64(b.N)*1000/b.Elapsed().Seconds(), "events/s")
}

// W4: replay of a stream written as in W3, in pages of 1,000 (b.N pages;
// the stream holds 200,000 events and is read round and round), through
// the copying read and through a read into a page the caller owns.
const w4Events = 200_000

func w4Store(b *testing.B) *effect.P {
	_, p, _ := benchStore(b, Options{})
	batch := make([]ops.EventData, 1000)
	for i := range batch {
		batch[i] = ops.EventData{Type: "t", Data: body}
	}
	for range w4Events / 1000 {
		if _, err := effect.Perform(p, ops.Append{Stream: "s", Events: batch}); err != nil {
			b.Fatal(err)
		}
	}
	return p
}

func benchW4(b *testing.B, pg *ops.Page) {
	p := w4Store(b)
	from := uint64(1)
	b.ReportAllocs()
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	b.ResetTimer()
	for b.Loop() {
		r, err := effect.Perform(p, ops.Read{Stream: "s", From: from, Limit: 1000, Page: pg})
		if err != nil || len(r.Events) != 1000 {
			b.Fatal(err, len(r.Events))
		}
		for i := range r.Events {
			if ev := &r.Events[i]; ev.Seq != from+uint64(i) || len(ev.Data) != len(body) {
				b.Fatalf("seq %d with %d bytes at %d", ev.Seq, len(ev.Data), from+uint64(i))
			}
		}
		from += 1000
		if from > w4Events {
			from = 1
		}
	}
	b.StopTimer()
	runtime.ReadMemStats(&after)
	b.ReportMetric(float64(b.N)*1000/b.Elapsed().Seconds(), "events/s")
	b.ReportMetric(float64(after.NumGC-before.NumGC)/(float64(b.N)*1000)*1e6, "GCs/Mevents")
}

func BenchmarkW4(b *testing.B)     { benchW4(b, nil) }
func BenchmarkW4Page(b *testing.B) { benchW4(b, new(ops.Page)) }

// BenchmarkW4Raw is the baseline of W4: a raw log of the same events, one
// record per event framed as the store frames its records (a 32-byte frame
// with CRC-32C, padding to 8 bytes), read back in reads of 1 MiB, each
// record's frame decoded and its checksum checked.
func BenchmarkW4Raw(b *testing.B) {
	r := newRaw(b)
	var log []byte
	var prev uint32
	for i := range w4Events {
		log, prev = appendRecord(log, recCommit, prev, 1, uint64(i+1), func(dst []byte) []byte { return append(dst, body...) })
	}
	r.append(b, log)
	buf := make([]byte, 1<<20)
	var off int64 // file offset of buf[0]
	i, have := 0, 0
	b.ResetTimer()
	for b.Loop() {
		// One op is 1,000 records, as a W4 op is a page of 1,000.
		for range 1000 {
			if off+int64(i) >= r.off {
				off, i, have = 0, 0, 0 // round again
			}
			f, err := decodeFrame(buf[i:have])
			if err == errShort {
				off += int64(i)
				m, rerr := r.f.ReadAt(buf[:min(int64(len(buf)), r.off-off)], off)
				if rerr != nil {
					b.Fatal(rerr)
				}
				i, have = 0, m
				f, err = decodeFrame(buf[:have])
			}
			if err != nil || len(f.payload) != len(body) {
				b.Fatal(err)
			}
			i += f.size
		}
	}
	b.ReportMetric(float64(b.N)*1000/b.Elapsed().Seconds(), "events/s")
}

// kvBenchStore fills a store of benchStore with keys kv keys key-000000
// ... of 64-byte values, 1,000 a commit, under the default kv budget:
// most of them leave memory for kv runs. It gives the store, a handle on
// it and how many runs its set holds.
func kvBenchStore(b *testing.B, keys int) (*Store, *effect.P, int) {
	b.Helper()
	s, p, _ := benchStore(b, Options{})
	kv := make([]ops.KvChange, 0, 1000)
	for i := range keys {
		kv = append(kv, ops.KvChange{Key: fmt.Sprintf("key-%06d", i), Value: body[:64]})
		if len(kv) == cap(kv) || i == keys-1 {
			if _, err := effect.Perform(p, ops.Commit{Kv: kv}); err != nil {
				b.Fatal(err)
			}
			kv = kv[:0]
		}
	}
	s.mu.RLock()
	runs := 0
	if s.st.kvRuns != nil {
		runs = len(s.st.kvRuns.runs)
	}
	s.mu.RUnlock()
	return s, p, runs
}

// KvGet from a warm store of 100,000 keys.
func BenchmarkKvGet(b *testing.B) {
	const keys = 100_000
	_, p, runs := kvBenchStore(b, keys)
	names := make([]string, 1024)
	for i := range names {
		names[i] = fmt.Sprintf("key-%06d", i*97%keys)
	}
	b.ResetTimer()
	i := 0
	for b.Loop() {
		r, err := effect.Perform(p, ops.KvGet{Key: names[i&1023]})
		if err != nil || r == nil {
			b.Fatal(err)
		}
		i++
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "gets/s")
	b.ReportMetric(float64(runs), "runs")
}

// KvList pages of 100 keys from a warm store of 100,000 keys (as
// BenchmarkKvGet's), each page from after a key of 1,024 spread over the
// store: a merge of the changes in memory with a scan of the runs.
func BenchmarkKvList(b *testing.B) {
	const keys = 100_000
	_, p, runs := kvBenchStore(b, keys)
	afters := make([]string, 1024)
	for i := range afters {
		afters[i] = fmt.Sprintf("key-%06d", i*97%(keys-200))
	}
	b.ResetTimer()
	i := 0
	for b.Loop() {
		r, err := effect.Perform(p, ops.KvList{After: afters[i&1023], Limit: 100})
		if err != nil || len(r.Entries) != 100 {
			b.Fatal(err)
		}
		i++
	}
	b.ReportMetric(float64(b.N)*100/b.Elapsed().Seconds(), "keys/s")
	b.ReportMetric(float64(runs), "runs")
}
