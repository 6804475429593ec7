package file

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"runtime/metrics"
	"runtime/pprof"
	"runtime/trace"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"rose-ash.com/persist/effect"
	"rose-ash.com/persist/ops"
	"rose-ash.com/persist/platform"
)

// The scale figures of issue 12: open time and memory of stores of
// millions of one-event commits, and commit latency while a checkpoint
// is made. Every figure is re-run by one command; the stores are built
// once under PERSIST_SCALE_DIR (which must be set: they are large) and
// reused, so delete a store's directory to rebuild it with the code
// under test. Build the test binary once and reuse it:
//
//	go test -c -o file.test ./backends/file
//
// Open time and memory (part 1 and 2), one size a run:
//
//	PERSIST_SCALE_DIR=$DIR PERSIST_SCALE_EVENTS=1000000 ./file.test -test.run '^$' -test.bench '^BenchmarkScaleOpen$' -test.benchtime 1x
//	PERSIST_SCALE_DIR=$DIR PERSIST_SCALE_EVENTS=10000000 ./file.test -test.run '^$' -test.bench '^BenchmarkScaleOpen$' -test.benchtime 1x
//	PERSIST_SCALE_DIR=$DIR PERSIST_SCALE_EVENTS=50000000 PERSIST_SCALE_HEAPPROFILE=heap50m.pprof ./file.test -test.run '^$' -test.bench '^BenchmarkScaleOpen$' -test.benchtime 1x
//
// Commit latency with and without a checkpoint being made (part 5):
//
//	PERSIST_SCALE_DIR=$DIR PERSIST_SCALE_EVENTS=5000000 ./file.test -test.run '^$' -test.bench '^BenchmarkScaleCheckpoint$' -test.benchtime 5x
//	PERSIST_SCALE_DIR=$DIR PERSIST_SCALE_EVENTS=5000000 PERSIST_SCALE_CKPT_BYTES=1048576 ./file.test -test.run '^$' -test.bench '^BenchmarkScaleCheckpoint$' -test.benchtime 5x
//
// The tail reads of part 6 are BenchmarkTailRead:
//
//	PERSIST_TAIL_DIR=$DIR PERSIST_TAIL_EVENTS=5000000 ./file.test -test.run '^$' -test.bench '^BenchmarkTailRead$' -test.benchtime 200000x
//
// and W1-W4 against the raw log are persist bench, run three times:
//
//	go build -o persist ./cmd/persist
//	for i in 1 2 3; do ./persist bench --dir $DIR/bench --in $DIR --duration 2s; done
//
// The heap profile (of the first open with no tail, and with ".tail" of
// the first with the tail) is taken after Open;
// a second, PERSIST_SCALE_HEAPPROFILE with ".read10k" after it, after the
// reads of every stream (pprof -base the first: what the reads allocated).
// With PERSIST_SCALE_MEMDETAIL=1 each child also reports what its
// resident set is made of after Open and after the reads of every stream (scaleMem: the
// collector's figures, each cache ring's resident pages, smaps by kind).
//
// To compare two versions side by side, build a test binary of each
// (base.test, new.test), give each its own PERSIST_SCALE_DIR (a store
// written by one version need not open in the other), build the stores
// with one run of each, then alternate the runs of the same size:
//
//	for i in 1 2 3; do
//		PERSIST_SCALE_DIR=$DIR/base PERSIST_SCALE_EVENTS=10000000 ./base.test -test.run '^$' -test.bench '^BenchmarkScaleOpen$' -test.benchtime 1x
//		PERSIST_SCALE_DIR=$DIR/new PERSIST_SCALE_EVENTS=10000000 ./new.test -test.run '^$' -test.bench '^BenchmarkScaleOpen$' -test.benchtime 1x
//	done
//
// A store of N events is N one-event commits of 200 bytes to 10,000
// streams (stream-0 ... stream-9999, event i to stream i mod 10,000), by
// 64 writers, with the default options (with PERSIST_SCALE_IDS=1 each
// event with an ID the caller chose, in a store scale-N-ids of its own); the syncs are answered without
// syncing (nosync), since only what is on disk at the end is measured and
// a store of 50 M events would otherwise take the disk from everyone for
// longer. The builder stops as a killed writer would, without the
// checkpoint Close writes, so that the store's last checkpoint is one the
// commits wrote (every Options.CheckpointBytes of log) and the log after
// it is a tail that Open must check, as after a crash.
//
// BenchmarkScaleOpen measures each open in a fresh process (this binary,
// run again as this benchmark with PERSIST_SCALE_CHILD set), so that the peak resident set (VmHWM)
// is the open's alone: while the tail is still there, PERSIST_SCALE_OPENS
// opens (default 3) that exit without closing; then one open that closes,
// writing a checkpoint of the whole log; then PERSIST_SCALE_OPENS opens of
// the store with no tail. The difference of the two open times is what
// the tail costs. Each child reports the open's time, the Go heap after
// open (after a collection), VmHWM after open, after reading one stream's
// last 10 events and after reading the last 10 events of every stream. A
// store measured once has no tail left; its later runs measure the opens
// with no tail alone.
func BenchmarkScaleOpen(b *testing.B) {
	if dir := os.Getenv("PERSIST_SCALE_CHILD"); dir != "" {
		scaleOpenChild(b, dir) // this process is one of the opens below
		return
	}
	events := envInt("PERSIST_SCALE_EVENTS", 1_000_000)
	opens := envInt("PERSIST_SCALE_OPENS", 3)
	dir := scaleStore(b, events)
	tailMark := dir + ".tail"
	var tail, clean []scaleChild
	for b.Loop() {
		if _, err := os.Stat(tailMark); err == nil {
			for i := range opens {
				prof := ""
				if p := os.Getenv("PERSIST_SCALE_HEAPPROFILE"); i == 0 && p != "" {
					prof = p + ".tail"
				}
				tail = append(tail, runScaleChild(b, dir, events, "open", prof))
			}
			runScaleChild(b, dir, events, "close", "")
			if err := os.Remove(tailMark); err != nil {
				b.Fatal(err)
			}
		}
		for i := range opens {
			prof := ""
			if i == 0 {
				prof = os.Getenv("PERSIST_SCALE_HEAPPROFILE")
			}
			clean = append(clean, runScaleChild(b, dir, events, "open", prof))
		}
	}
	report := func(cs []scaleChild, suffix string) {
		if len(cs) == 0 {
			return
		}
		med := func(f func(c scaleChild) float64) float64 {
			v := make([]float64, len(cs))
			for i, c := range cs {
				v[i] = f(c)
			}
			slices.Sort(v)
			return v[len(v)/2]
		}
		b.ReportMetric(med(func(c scaleChild) float64 { return c.OpenMs }), "open-ms"+suffix)
		b.ReportMetric(med(func(c scaleChild) float64 { return c.OpenCPUMs }), "open-cpu-ms"+suffix)
		b.ReportMetric(med(func(c scaleChild) float64 { return float64(c.TailEvents) }), "tail-events"+suffix)
		b.ReportMetric(med(func(c scaleChild) float64 { return c.HeapMiB }), "heap-MiB"+suffix)
		b.ReportMetric(med(func(c scaleChild) float64 { return c.HWMOpenMiB }), "hwm-open-MiB"+suffix)
		b.ReportMetric(med(func(c scaleChild) float64 { return c.HWMTailMiB }), "hwm-read1-MiB"+suffix)
		b.ReportMetric(med(func(c scaleChild) float64 { return c.HWMAllMiB }), "hwm-read10k-MiB"+suffix)
		b.ReportMetric(med(func(c scaleChild) float64 { return c.ReadUs }), "read1-us"+suffix)
		if cs[0].RetryP50Us > 0 {
			b.ReportMetric(med(func(c scaleChild) float64 { return c.RetryP50Us }), "retry-p50-us"+suffix)
			b.ReportMetric(med(func(c scaleChild) float64 { return c.RetryP99Us }), "retry-p99-us"+suffix)
			b.ReportMetric(med(func(c scaleChild) float64 { return c.HeapIDsMiB }), "heap-ids-MiB"+suffix)
			b.ReportMetric(med(func(c scaleChild) float64 { return c.HWMIDsMiB }), "hwm-ids-MiB"+suffix)
		}
	}
	report(tail, "-tail")
	report(clean, "")
	if len(clean) > 0 {
		b.ReportMetric(clean[0].LogMiB, "log-MiB")
	}
}

// scaleChild is what one child process reports of its open.
type scaleChild struct {
	OpenMs     float64 // wall time of Open
	OpenCPUMs  float64 // user and system time of Open
	TailEvents uint64  // events Open replayed (RecoveryReport.Events)
	Trusted    int     // segments Open trusted to the checkpoint
	Segments   int     // segments Open scanned
	Checkpoint uint64  // the LSN of the checkpoint Open started from
	HeapMiB    float64 // Go heap in use after Open and a collection
	BaseMiB    float64 // VmHWM before Open
	HWMOpenMiB float64 // VmHWM after Open
	HWMTailMiB float64 // VmHWM after reading one stream's last 10 events
	HWMAllMiB  float64 // VmHWM after reading every stream's last 10 events
	ReadUs     float64 // the one stream's read
	LogMiB     float64 // bytes of the log
	// With PERSIST_SCALE_IDS=1, after the reads: scaleRetries's appends
	// of stored IDs (answered as the originals, nothing written), their
	// p50 and p99, and the heap and VmHWM after them.
	RetryP50Us float64
	RetryP99Us float64
	HeapIDsMiB float64
	HWMIDsMiB  float64
}

func runScaleChild(b *testing.B, dir string, events int, mode, profile string) scaleChild {
	b.Helper()
	cmd := exec.Command(os.Args[0], "-test.run", "^$", "-test.bench", "^BenchmarkScaleOpen$", "-test.benchtime", "1x")
	cmd.Env = append(os.Environ(),
		"PERSIST_SCALE_CHILD="+dir,
		"PERSIST_SCALE_CHILD_MODE="+mode,
		"PERSIST_SCALE_CHILD_EVENTS="+strconv.Itoa(events),
		"PERSIST_SCALE_CHILD_PROFILE="+profile)
	out, err := cmd.CombinedOutput()
	if err != nil {
		b.Fatalf("child %s: %v\n%s", mode, err, out)
	}
	sc := bufio.NewScanner(strings.NewReader(string(out)))
	for sc.Scan() {
		// The line may follow the benchmark's name, printed before it ran.
		if _, rest, ok := strings.Cut(sc.Text(), "SCALEMEM "); ok {
			b.Logf("%s memory: %s", mode, rest)
			continue
		}
		if _, rest, ok := strings.Cut(sc.Text(), "SCALE "); ok {
			var c scaleChild
			if err := json.Unmarshal([]byte(rest), &c); err != nil {
				b.Fatal(err)
			}
			b.Logf("%s: %s", mode, rest)
			return c
		}
	}
	b.Fatalf("child %s reported nothing:\n%s", mode, out)
	return scaleChild{}
}

// scaleOpenChild is one open of BenchmarkScaleOpen, in the process the
// benchmark started for it: it opens the store in dir and prints what it
// measured on a line "SCALE {json}".
func scaleOpenChild(t testing.TB, dir string) {
	events, err := strconv.Atoi(os.Getenv("PERSIST_SCALE_CHILD_EVENTS"))
	if err != nil {
		t.Fatal(err)
	}
	h := &platform.OS{}
	p := effect.Handle(context.Background(), h)
	var c scaleChild
	c.BaseMiB = peakResident() / (1 << 20)
	cpu0, start := cpuTime(), time.Now()
	s, err := Open(p, dir, benchIDOpts(t, benchReadCache(t)))
	if err != nil {
		t.Fatal(err)
	}
	c.OpenMs = float64(time.Since(start).Microseconds()) / 1e3
	c.OpenCPUMs = float64((cpuTime() - cpu0).Microseconds()) / 1e3
	c.HWMOpenMiB = peakResident() / (1 << 20)
	detail := os.Getenv("PERSIST_SCALE_MEMDETAIL") == "1"
	if detail {
		printScaleMem(t, s, "open")
	}
	rep := s.Recovery()
	c.TailEvents, c.Trusted, c.Segments, c.Checkpoint = rep.Events, rep.Trusted, rep.Segments, rep.Checkpoint
	c.LogMiB = float64(s.Stats().LogBytes) / (1 << 20)
	var ms runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&ms)
	c.HeapMiB = float64(ms.HeapAlloc) / (1 << 20)
	prof := os.Getenv("PERSIST_SCALE_CHILD_PROFILE")
	if prof != "" {
		writeHeapProfile(t, prof)
	}
	rp := effect.Handle(context.Background(), s, h)
	per := uint64(events / scaleStreams)
	readTail := func(i int) time.Duration {
		start := time.Now()
		r, err := effect.Perform(rp, ops.Read{Stream: scaleName(i), From: per - 9, Limit: 10})
		d := time.Since(start)
		if err != nil || len(r.Events) != 10 || r.Events[0].Seq != per-9 {
			t.Fatalf("read %s from %d: %v, %d events", scaleName(i), per-9, err, len(r.Events))
		}
		return d
	}
	c.ReadUs = float64(readTail(0).Nanoseconds()) / 1e3
	c.HWMTailMiB = peakResident() / (1 << 20)
	for i := range scaleStreams {
		readTail(i)
	}
	c.HWMAllMiB = peakResident() / (1 << 20)
	if detail {
		printScaleMem(t, s, "read10k")
	}
	if prof != "" {
		// Against the first (pprof -base), what the reads allocated.
		writeHeapProfile(t, prof+".read10k")
	}
	if os.Getenv("PERSIST_SCALE_IDS") == "1" {
		c.RetryP50Us, c.RetryP99Us = scaleRetries(t, rp, events)
		runtime.GC()
		runtime.ReadMemStats(&ms)
		c.HeapIDsMiB = float64(ms.HeapAlloc) / (1 << 20)
		c.HWMIDsMiB = peakResident() / (1 << 20)
	}
	runtime.KeepAlive(s)
	if os.Getenv("PERSIST_SCALE_CHILD_MODE") == "close" {
		if err := s.Close(p); err != nil {
			t.Fatal(err)
		}
	}
	// Otherwise the process exits with the store open, as a killed one
	// would: the tail stays for the next open to check.
	out, err := json.Marshal(c)
	if err != nil {
		t.Fatal(err)
	}
	fmt.Printf("SCALE %s\n", out)
}

// writeHeapProfile writes the heap profile to path.
func writeHeapProfile(t testing.TB, path string) {
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := pprof.Lookup("heap").WriteTo(f, 0); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
}

// printScaleMem prints what the child's resident set is made of at
// point (scaleMem) on a line "SCALEMEM {json}", which the benchmark logs.
func printScaleMem(t testing.TB, s *Store, point string) {
	out, err := json.Marshal(measureScaleMem(s, point))
	if err != nil {
		t.Fatal(err)
	}
	fmt.Printf("SCALEMEM %s\n", out)
}

const scaleStreams = 10_000

// scaleRetries appends, one at a time, 2,000 events with the IDs of
// stored events spread over the log (event k's, in its stream): each is
// a retry, answered as the original with nothing written, after a lookup
// that asks the ID filters of the index files newest first down to the
// file holding it, so that together they read about every file's filter.
// It gives their p50 and p99 in µs.
func scaleRetries(t testing.TB, p *effect.P, events int) (float64, float64) {
	const n = 2000
	ds := make([]time.Duration, n)
	for i := range n {
		k := (i*7919 + 13) % events
		start := time.Now()
		res, err := effect.Perform(p, ops.Append{Stream: scaleName(k % scaleStreams), Events: []ops.EventData{{ID: benchID(k, true), Type: "t", Data: body}}})
		ds[i] = time.Since(start)
		if err != nil {
			t.Fatalf("retry of event %d: %v", k, err)
		}
		if want := uint64(k/scaleStreams + 1); res.FirstSeq != want {
			t.Fatalf("retry of event %d answered seq %d, not %d", k, res.FirstSeq, want)
		}
	}
	slices.Sort(ds)
	return float64(ds[n/2].Nanoseconds()) / 1e3, float64(ds[n*99/100].Nanoseconds()) / 1e3
}

// benchReadCache is the options of a measured open: the default, or with
// PERSIST_READ_CACHE set, that Options.ReadCacheBytes (to weigh the
// default's size).
func benchReadCache(t testing.TB) Options {
	v := os.Getenv("PERSIST_READ_CACHE")
	if v == "" {
		return Options{}
	}
	n, err := strconv.Atoi(v)
	if err != nil {
		t.Fatalf("PERSIST_READ_CACHE: %v", err)
	}
	return Options{ReadCacheBytes: n}
}

func scaleName(i int) string { return "stream-" + strconv.Itoa(i) }

// scaleStore builds (or finds) under PERSIST_SCALE_DIR the store of
// events one-event commits described above, and gives its directory.
func scaleStore(b *testing.B, events int) string {
	b.Helper()
	root := os.Getenv("PERSIST_SCALE_DIR")
	if root == "" {
		b.Skip("PERSIST_SCALE_DIR is not set: the scale stores are built and kept there")
	}
	if events%scaleStreams != 0 || events < 10*scaleStreams {
		b.Fatalf("PERSIST_SCALE_EVENTS=%d: want a multiple of %d, at least %d", events, scaleStreams, 10*scaleStreams)
	}
	// PERSIST_SCALE_IDS=1: every event with an ID the caller chose
	// (benchID), a store of its own.
	withIDs := os.Getenv("PERSIST_SCALE_IDS") == "1"
	dir := filepath.Join(root, fmt.Sprintf("scale-%d", events))
	if withIDs {
		dir += "-ids"
	}
	if _, err := os.Stat(filepath.Join(dir, identityFile)); err == nil {
		return dir
	}
	if err := os.RemoveAll(dir); err != nil {
		b.Fatal(err)
	}
	h := &platform.OS{}
	bp := effect.Handle(context.Background(), nosync{}, h)
	s, err := Open(bp, dir, Options{})
	if err != nil {
		b.Fatal(err)
	}
	start := time.Now()
	var next atomic.Int64
	var wg sync.WaitGroup
	var failed atomic.Value
	for range 64 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			p := effect.Handle(context.Background(), s, nosync{}, h)
			ev := []ops.EventData{{Type: "t", Data: body}}
			for {
				i := next.Add(1) - 1
				if i >= int64(events) {
					return
				}
				ev[0].ID = benchID(int(i), withIDs)
				if _, err := effect.Perform(p, ops.Append{Stream: scaleName(int(i % scaleStreams)), Events: ev}); err != nil {
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
	built := time.Since(start)
	logBytes := s.Stats().LogBytes
	// Stop as a killed writer would: no checkpoint of the whole log.
	s.mu.Lock()
	s.failed = fmt.Errorf("file: the scale store is left with its tail")
	s.mu.Unlock()
	if err := s.Close(bp); err != nil {
		b.Fatal(err)
	}
	if err := os.WriteFile(dir+".tail", nil, 0o644); err != nil {
		b.Fatal(err)
	}
	b.Logf("built %d one-event commits (%d MiB of log) in %v: %.0f commits/s",
		events, logBytes>>20, built.Round(time.Millisecond), float64(events)/built.Seconds())
	return dir
}

// BenchmarkScaleCheckpoint measures the latency of one-event commits by
// 64 writers to the 10,000 streams of the scale store of
// PERSIST_SCALE_EVENTS events (built as BenchmarkScaleOpen builds it; its
// commits are real, synced ones), in alternating rounds of
// PERSIST_SCALE_ROUND commits (default 20,000): without checkpoints, and
// with a checkpoint due every PERSIST_SCALE_CKPT_BYTES bytes of log
// (default 1: after every commit, so that the round runs while
// checkpoints are made back to back; 1048576 spaces them by about 3,800
// commits). A poller marks when each checkpoint
// is in progress (captured and not yet renamed). It reports the p50 and
// p99 of the plain rounds' commits, of the commits of the checkpoint
// rounds that overlapped a checkpoint, their ratio, the median time a
// checkpoint took (ckpt-ms), the p99 of the wait of the process's
// goroutines for a core in either kind of round (sched-p99-plain-us,
// sched-p99-ckpt-us: the runtime's scheduling latencies, to a bucket),
// and of the checkpoint's time the writing and syncing of its
// file (ckpt-io-ms: from its open to its close), the bytes a checkpoint wrote to each kind of file
// (ckpt, run), and the bytes of segment index files (idx) the seals of
// all rounds wrote. Every round adds its commits to the store. With
// PERSIST_SCALE_TRACE=file the first round of each kind is traced
// (runtime/trace: the checkpoint round into file, the plain one into
// file.plain; read with go tool trace), and with
// PERSIST_SCALE_CKPT_NOSYNC=1 the checkpoints' syncs are answered
// without syncing.
func BenchmarkScaleCheckpoint(b *testing.B) {
	events := envInt("PERSIST_SCALE_EVENTS", 5_000_000)
	round := envInt("PERSIST_SCALE_ROUND", 20_000)
	every := int64(envInt("PERSIST_SCALE_CKPT_BYTES", 1))
	dir := scaleStore(b, events)
	h := &platform.OS{}
	tr := &ckptTracer{written: map[string]int64{}, fds: map[platform.FD]string{}, opened: map[platform.FD]time.Time{}}
	p := effect.Handle(context.Background(), tr, h)
	// The checkpoints commits make are written on a handle over
	// Background: through the tracer too. With PERSIST_SCALE_CKPT_NOSYNC=1
	// their syncs are answered without syncing, to tell whether the
	// commits wait for them (not durable: a measure only).
	noSync := os.Getenv("PERSIST_SCALE_CKPT_NOSYNC") == "1"
	bg := effect.HandlerFunc(func(_ *effect.P, e effect.Effect) (any, error) {
		if noSync {
			switch e.(type) {
			case platform.Fsync, platform.Fdatasync, platform.SyncDir:
				return nil, nil
			}
		}
		return effect.Handle(context.Background(), tr, h).Send(e)
	})
	s, err := Open(p, dir, Options{CheckpointBytes: -1, Background: bg})
	if err != nil {
		b.Fatal(err)
	}
	_ = os.Remove(dir + ".tail")
	defer func() { _ = s.Close(p) }()
	var plain, during []time.Duration
	var took []time.Duration
	var sched [2]schedHist // per mode, the goroutines' scheduling latencies
	ckpts := 0
	total := events
	traced := false // a round was traced (PERSIST_SCALE_TRACE)
	for b.Loop() {
		for mode := range 2 {
			s.opts.CheckpointBytes = -1
			if mode == 1 {
				s.opts.CheckpointBytes = every
			}
			windows, stop := pollCheckpoints(s)
			endTrace := startScaleTrace(b, mode, traced)
			before := schedLatencies()
			lat := scaleCommits(b, s, tr, h, total, round)
			sched[mode] = sched[mode].add(schedLatencies().sub(before))
			traced = traced || endTrace()
			total += round
			ws := stop()
			s.opts.CheckpointBytes = -1
			if mode == 0 {
				for _, l := range lat {
					plain = append(plain, l.d)
				}
				continue
			}
			ws = append(ws, windows...)
			for _, w := range ws {
				if !w.end.IsZero() {
					took = append(took, w.end.Sub(w.start))
					ckpts++
				}
			}
			for _, l := range lat {
				for _, w := range ws {
					if l.start.Before(w.end) && l.start.Add(l.d).After(w.start) {
						during = append(during, l.d)
						break
					}
				}
			}
		}
	}
	if len(during) == 0 {
		b.Fatal("no commit overlapped a checkpoint")
	}
	us := func(d time.Duration) float64 { return float64(d.Nanoseconds()) / 1e3 }
	b.ReportMetric(us(quantile(plain, 0.5)), "p50-plain-us")
	b.ReportMetric(us(quantile(plain, 0.99)), "p99-plain-us")
	b.ReportMetric(us(quantile(during, 0.5)), "p50-ckpt-us")
	b.ReportMetric(us(quantile(during, 0.99)), "p99-ckpt-us")
	b.ReportMetric(us(quantile(during, 0.99))/us(quantile(plain, 0.99)), "p99-ratio")
	b.ReportMetric(float64(quantile(took, 0.5).Microseconds())/1e3, "ckpt-ms")
	b.ReportMetric(float64(ckpts), "ckpts")
	b.ReportMetric(sched[0].quantile(0.99)*1e6, "sched-p99-plain-us")
	b.ReportMetric(sched[1].quantile(0.99)*1e6, "sched-p99-ckpt-us")
	tr.mu.Lock()
	if len(tr.io) > 0 {
		b.ReportMetric(float64(quantile(tr.io, 0.5).Microseconds())/1e3, "ckpt-io-ms")
	}
	for kind, n := range tr.written {
		if kind == "idx" {
			b.ReportMetric(float64(n)/(1<<20), "idx-MiB")
			continue
		}
		b.ReportMetric(float64(n)/float64(ckpts)/(1<<20), kind+"-MiB/ckpt")
	}
	tr.mu.Unlock()
}

// startScaleTrace starts, with PERSIST_SCALE_TRACE set, an execution
// trace (runtime/trace) of the first round of each mode that is not yet
// traced: the plain round into the file named with ".plain", the
// checkpoint round into the file named. The function it gives stops the
// trace and reports whether the checkpoint round was traced.
func startScaleTrace(b *testing.B, mode int, traced bool) func() bool {
	path := os.Getenv("PERSIST_SCALE_TRACE")
	if path == "" || traced {
		return func() bool { return false }
	}
	if mode == 0 {
		path += ".plain"
	}
	f, err := os.Create(path)
	if err != nil {
		b.Fatal(err)
	}
	if err := trace.Start(f); err != nil {
		b.Fatal(err)
	}
	return func() bool {
		trace.Stop()
		if err := f.Close(); err != nil {
			b.Fatal(err)
		}
		return mode == 1
	}
}

// schedHist is the histogram of the runtime's goroutine scheduling
// latencies (/sched/latencies:seconds): how long goroutines that could
// run waited for a core.
type schedHist struct {
	counts  []uint64
	buckets []float64
}

func schedLatencies() schedHist {
	m := []metrics.Sample{{Name: "/sched/latencies:seconds"}}
	metrics.Read(m)
	h := m[0].Value.Float64Histogram()
	return schedHist{counts: slices.Clone(h.Counts), buckets: h.Buckets}
}

// sub gives the latencies counted since o.
func (h schedHist) sub(o schedHist) schedHist {
	out := schedHist{counts: slices.Clone(h.counts), buckets: h.buckets}
	for i := range min(len(o.counts), len(out.counts)) {
		out.counts[i] -= o.counts[i]
	}
	return out
}

// add gives the latencies of both.
func (h schedHist) add(o schedHist) schedHist {
	if h.counts == nil {
		return o
	}
	out := schedHist{counts: slices.Clone(h.counts), buckets: h.buckets}
	for i := range min(len(o.counts), len(out.counts)) {
		out.counts[i] += o.counts[i]
	}
	return out
}

// quantile gives the upper bound, in seconds, of the bucket holding
// quantile q (the lower one when the bucket is unbounded above).
func (h schedHist) quantile(q float64) float64 {
	var total uint64
	for _, c := range h.counts {
		total += c
	}
	if total == 0 {
		return 0
	}
	want := uint64(q * float64(total))
	var n uint64
	for i, c := range h.counts {
		n += c
		if n > want {
			if hi := h.buckets[i+1]; hi < 1e300 {
				return hi
			}
			return h.buckets[i]
		}
	}
	return h.buckets[len(h.buckets)-1]
}

type timedCommit struct {
	start time.Time
	d     time.Duration
}

// scaleCommits appends n one-event commits to the scale streams from 64
// writers, continuing the store's round robin from event first, and gives
// each commit's start and latency.
func scaleCommits(b *testing.B, s *Store, tr *ckptTracer, h *platform.OS, first, n int) []timedCommit {
	var next atomic.Int64
	lat := make([][]timedCommit, 64)
	var wg sync.WaitGroup
	var failed atomic.Value
	for w := range 64 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			p := effect.Handle(context.Background(), s, tr, h)
			ev := []ops.EventData{{Type: "t", Data: body}}
			for {
				i := next.Add(1) - 1
				if i >= int64(n) {
					return
				}
				start := time.Now()
				if _, err := effect.Perform(p, ops.Append{Stream: scaleName((first + int(i)) % scaleStreams), Events: ev}); err != nil {
					failed.Store(err)
					return
				}
				lat[w] = append(lat[w], timedCommit{start, time.Since(start)})
			}
		}()
	}
	wg.Wait()
	if err, ok := failed.Load().(error); ok {
		b.Fatal(err)
	}
	return slices.Concat(lat...)
}

type ckptWindow struct{ start, end time.Time }

// pollCheckpoints marks, every 100 µs, whether a checkpoint is in
// progress, until the returned stop is called; stop gives the windows,
// the last one open (end zero) if it was still in progress.
func pollCheckpoints(s *Store) (ws []ckptWindow, stop func() []ckptWindow) {
	done := make(chan struct{})
	var out []ckptWindow
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		var cur *ckptWindow
		t := time.NewTicker(100 * time.Microsecond)
		defer t.Stop()
		for {
			select {
			case <-done:
				if cur != nil {
					out = append(out, ckptWindow{start: cur.start, end: time.Now()})
				}
				return
			case <-t.C:
			}
			s.ckMu.Lock()
			busy := s.ckptBusy
			s.ckMu.Unlock()
			now := time.Now()
			switch {
			case busy && cur == nil:
				cur = &ckptWindow{start: now}
			case !busy && cur != nil:
				out = append(out, ckptWindow{start: cur.start, end: now})
				cur = nil
			}
		}
	}()
	return nil, func() []ckptWindow {
		close(done)
		wg.Wait()
		return out
	}
}

// ckptTracer counts the bytes written to each kind of file the store
// writes beside its segments (checkpoints, kv runs, segment indexes:
// named by the file's suffix, .tmp cut off), passing every effect on.
type ckptTracer struct {
	mu      sync.Mutex
	written map[string]int64
	fds     map[platform.FD]string
	opened  map[platform.FD]time.Time
	io      []time.Duration // each checkpoint file's open to close
}

func (t *ckptTracer) Handle(p *effect.P, e effect.Effect) (any, error) {
	switch e := e.(type) {
	case platform.Open:
		kind := strings.TrimPrefix(filepath.Ext(strings.TrimSuffix(e.Path, ".tmp")), ".")
		if kind == "log" || e.Flag&(os.O_WRONLY|os.O_RDWR) == 0 {
			return nil, effect.ErrUnhandled
		}
		r, err := effect.Perform(p, e)
		if err == nil {
			t.mu.Lock()
			t.fds[r] = kind
			t.opened[r] = time.Now()
			t.mu.Unlock()
		}
		return r, err
	case platform.WriteAt:
		t.mu.Lock()
		if kind, ok := t.fds[e.FD]; ok {
			t.written[kind] += int64(len(e.Data))
		}
		t.mu.Unlock()
	case platform.Close:
		r, err := effect.Perform(p, e)
		t.mu.Lock()
		if t.fds[e.FD] == "ckpt" {
			t.io = append(t.io, time.Since(t.opened[e.FD]))
		}
		delete(t.fds, e.FD)
		delete(t.opened, e.FD)
		t.mu.Unlock()
		return r, err
	}
	return nil, effect.ErrUnhandled
}
