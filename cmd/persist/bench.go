package main

import (
	"cmp"
	"context"
	"encoding/binary"
	"errors"
	"flag"
	"fmt"
	"hash/crc32"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"rose-ash.com/persist/backends/file"
	"rose-ash.com/persist/effect"
	"rose-ash.com/persist/ops"
	"rose-ash.com/persist/platform"
	"rose-ash.com/persist/remote"
	"rose-ash.com/persist/server"
)

var benchCmd = &command{
	name:     "bench",
	fileOnly: "bench measures the file backend against the raw disk, on a fresh directory beside --dir; give --dir",
	args:     "[--duration D] [--events N] [--writers N] [--in DIR] [--keep] [--via-server]",
	summary:  "measure persist against the raw limit of the same disk",
	detail: `
Runs four workloads on a fresh data directory, with 200-byte event bodies:
  W1  one writer, one event per durable append, for --duration
  W2  --writers writers, each on its own stream, one event per append, for --duration
  W3  --events events to one stream, in appends of 1,000
  W4  replay of the W3 stream in order
and, on a plain preallocated file on the same disk, the raw limit of each:
append with fdatasync per event (W1), the same with the writers sharing
fdatasyncs in groups (W2), 1,000 events per fdatasync (W3), and the replay of
that file (W4). The W3 file is a raw framed log: each event one record,
framed as persist frames its records (a 32-byte frame with a CRC-32C of frame
and payload, the previous record's CRC and an LSN, padded to 8 bytes), and
the raw W4 reads it in 1 MiB reads and decodes every frame and checks every
checksum and LSN, as a log reader must. persist's W4 reads pages of 1,000
events into a page it lends (ops.Read.Page), as a replay that only looks at events does; W4's
copy-events-per-sec is the copying read of the same events. W4 runs each of
its three replays 5 times, alternating them, and reports the medians. Prints
one line per workload: events/s for persist and the raw file and their
ratio, and for W1 the median latency of an append (p50-us).

With --via-server, W1, W2 and W3 also run through a persist server: a
second fresh store served on a loopback port by this process, reached by
the remote client (package remote, its pipe) as another process would,
each server run right after the embedded one. Those lines add
server-events-per-sec, server-ratio (server against embedded), and for W1
server-p50-us. The directory is made in --in (default: beside --dir) and removed
afterwards unless --keep, which names it on stderr.`,
	example: `  persist bench --duration 2s --events 100000
  persist bench --duration 2s --events 100000 --via-server`,
	flags: func(fs *flag.FlagSet) func(context.Context, *Main, *globals, []string) error {
		var o benchOptions
		fs.DurationVar(&o.duration, "duration", 5*time.Second, "how long W1 and W2 run")
		fs.IntVar(&o.events, "events", 1_000_000, "events W3 writes and W4 replays")
		fs.IntVar(&o.writers, "writers", 64, "concurrent writers of W2")
		fs.StringVar(&o.in, "in", "", "`DIR` to make the fresh data directory in (default: beside --dir)")
		fs.BoolVar(&o.keep, "keep", false, "keep the bench directory, and name it on stderr")
		fs.BoolVar(&o.viaServer, "via-server", false, "also run W1-W3 through a server on loopback, beside the embedded runs")
		return func(ctx context.Context, m *Main, g *globals, args []string) error {
			if len(args) != 0 {
				return usagef("bench", "unexpected argument %q", args[0])
			}
			switch {
			case o.duration <= 0:
				return usagef("bench", "--duration must be positive")
			case o.events < benchBatch || o.events%benchBatch != 0:
				return usagef("bench", "--events must be a positive multiple of %d", benchBatch)
			case o.writers < 1:
				return usagef("bench", "--writers must be at least 1")
			}
			if o.in == "" {
				o.in = filepath.Dir(filepath.Clean(g.dir))
			}
			return m.bench(ctx, g, o)
		}
	},
}

type benchOptions struct {
	duration  time.Duration
	events    int
	writers   int
	in        string
	keep      bool
	viaServer bool
}

const (
	benchBody  = 200  // bytes of event data
	benchBatch = 1000 // events per append in W3
)

// benchData is a 200-byte SX string literal, so the events read back as
// text.
var benchData = []byte(`"` + strings.Repeat("x", benchBody-2) + `"`)

// result is one measured figure.
type result struct {
	events  int
	elapsed time.Duration
	p50     time.Duration // the median latency of one append, where measured
}

func (r result) rate() float64 {
	if r.elapsed <= 0 {
		return 0
	}
	return float64(r.events) / r.elapsed.Seconds()
}

func (m *Main) progressf(format string, args ...any) {
	if m.Progress != nil {
		fmt.Fprintf(m.Progress, format+"\n", args...)
	}
}

func (m *Main) bench(ctx context.Context, g *globals, o benchOptions) (err error) {
	root, err := os.MkdirTemp(o.in, "persist-bench-")
	if err != nil {
		return fmt.Errorf("bench directory: %w", err)
	}
	if o.keep {
		// Said first, so that an interrupted or failed run names it too.
		fmt.Fprintf(m.Stderr, "persist: bench keeps its directory %s\n", root)
	} else {
		defer func() {
			if rerr := os.RemoveAll(root); err == nil && rerr != nil {
				err = fmt.Errorf("remove bench directory: %w", rerr)
			}
		}()
	}
	dataDir := filepath.Join(root, "data")
	var b ops.Backend
	if m.Open != nil {
		b, err = m.Open(ctx, dataDir, true)
	} else {
		b, err = openFile(ctx, dataDir, file.Options{SegmentSize: g.segmentSize}, m.getenv)
	}
	if err != nil {
		return fmt.Errorf("open %s: %w", dataDir, err)
	}
	defer func() {
		if cerr := b.Close(); err == nil {
			err = cerr
		}
	}()
	raw := &rawDisk{dir: root}

	// via is the store behind a loopback server, when --via-server.
	var via ops.Backend
	if o.viaServer {
		var stop func() error
		via, stop, err = m.benchServer(ctx, g, filepath.Join(root, "served"))
		if err != nil {
			return err
		}
		defer func() {
			if serr := stop(); err == nil {
				err = serr
			}
		}()
	}
	type workload struct {
		name, what  string
		run, rawRun func() (result, error)
		copyRun     func() (result, error) // W4: the copying read beside the lent one
		rounds      int                    // runs of each, alternated; medians are reported
		srvRun      func() (result, error) // through the server, with --via-server
	}
	ws := []workload{
		{"W1", "one writer, one event per append",
			func() (result, error) { return benchWriters(ctx, b, 1, o.duration, "w1-") },
			func() (result, error) { return raw.appendSync(ctx, 1, o.duration) }, nil, 1, nil},
		{"W2", fmt.Sprintf("%d writers, own streams, one event per append", o.writers),
			func() (result, error) { return benchWriters(ctx, b, o.writers, o.duration, "w2-") },
			func() (result, error) { return raw.appendSync(ctx, o.writers, o.duration) }, nil, 1, nil},
		{"W3", fmt.Sprintf("%d events to one stream in appends of %d", o.events, benchBatch),
			func() (result, error) { return benchBatches(ctx, b, "w3", o.events) },
			func() (result, error) { return raw.batches(ctx, o.events) }, nil, 1, nil},
		{"W4", "replay of the W3 stream in order",
			func() (result, error) { return benchReplay(ctx, b, o.events, new(ops.Page)) },
			func() (result, error) { return raw.replay(ctx, o.events) },
			func() (result, error) { return benchReplay(ctx, b, o.events, nil) }, replayRounds, nil},
	}
	if via != nil {
		// Streams of their own, so that a store given by Main.Open for both
		// keeps the runs apart.
		ws[0].srvRun = func() (result, error) { return benchWriters(ctx, via, 1, o.duration, "v1-") }
		ws[1].srvRun = func() (result, error) { return benchWriters(ctx, via, o.writers, o.duration, "v2-") }
		ws[2].srvRun = func() (result, error) { return benchBatches(ctx, via, "v3", o.events) }
	}
	w := newWriter(m.Stdout, g)
	for _, wl := range ws {
		var gots, lims, copies, srvs []result
		for round := range wl.rounds {
			m.progressf("bench: %s %s: persist (%d of %d)...", wl.name, wl.what, round+1, wl.rounds)
			got, err := wl.run()
			if err != nil {
				return fmt.Errorf("%s: %w", wl.name, err)
			}
			m.progressf("bench: %s %s: raw file (%d of %d)...", wl.name, wl.what, round+1, wl.rounds)
			lim, err := wl.rawRun()
			if err != nil {
				return fmt.Errorf("%s raw: %w", wl.name, err)
			}
			gots, lims = append(gots, got), append(lims, lim)
			if wl.srvRun != nil {
				m.progressf("bench: %s %s: through the server (%d of %d)...", wl.name, wl.what, round+1, wl.rounds)
				sr, err := wl.srvRun()
				if err != nil {
					return fmt.Errorf("%s through the server: %w", wl.name, err)
				}
				srvs = append(srvs, sr)
			}
			if wl.copyRun != nil {
				m.progressf("bench: %s %s: persist, copying read (%d of %d)...", wl.name, wl.what, round+1, wl.rounds)
				cp, err := wl.copyRun()
				if err != nil {
					return fmt.Errorf("%s copying: %w", wl.name, err)
				}
				copies = append(copies, cp)
			}
		}
		got, lim := median(gots), median(lims)
		ratio := 0.0
		if lim.rate() > 0 {
			ratio = got.rate() / lim.rate()
		}
		rec := record{
			{"workload", wl.name},
			{"what", wl.what},
			{"events", got.events},
			{"seconds", round(got.elapsed.Seconds(), 3)},
			{"events-per-sec", int64(got.rate())},
			{"raw-events-per-sec", int64(lim.rate())},
			{"ratio", round(ratio, 3)},
		}
		if copies != nil {
			rec = append(rec, field{"copy-events-per-sec", int64(median(copies).rate())})
		}
		if got.p50 > 0 {
			rec = append(rec, field{"p50-us", micros(got.p50)})
		}
		if srvs != nil {
			sr := median(srvs)
			sratio := 0.0
			if got.rate() > 0 {
				sratio = sr.rate() / got.rate()
			}
			rec = append(rec, field{"server-events-per-sec", int64(sr.rate())}, field{"server-ratio", round(sratio, 3)})
			if sr.p50 > 0 {
				rec = append(rec, field{"server-p50-us", micros(sr.p50)})
			}
		}
		if wl.rounds > 1 {
			rec = append(rec, field{"rounds", wl.rounds})
		}
		if err := w.write(rec); err != nil {
			return err
		}
		if err := w.flush(); err != nil {
			return err
		}
	}
	return nil
}

// replayRounds is how many times W4 runs each replay, alternating them:
// a replay takes a fraction of a second, so one run says little on a
// loaded machine.
const replayRounds = 5

// median is the result of median rate.
func median(rs []result) result {
	s := slices.Clone(rs)
	slices.SortFunc(s, func(a, b result) int { return cmp.Compare(a.rate(), b.rate()) })
	return s[len(s)/2]
}

// micros is d in microseconds to a tenth, so an append faster than a
// microsecond (the mem backend's) still reports a latency, not zero.
func micros(d time.Duration) float64 { return round(float64(d)/float64(time.Microsecond), 1) }

func round(f float64, places int) float64 {
	p := 1.0
	for range places {
		p *= 10
	}
	return float64(int64(f*p+0.5)) / p
}

// benchWriters runs n writers, each appending one event at a time to its
// own stream, until d has passed. Each writer appends at least once, so a
// machine whose first sync outlasts d still gives a rate, not zero.
func benchWriters(ctx context.Context, b ops.Backend, n int, d time.Duration, prefix string) (result, error) {
	var total atomic.Int64
	errs := make(chan error, n)
	deadline := time.Now().Add(d)
	start := time.Now()
	var wg sync.WaitGroup
	var lat []time.Duration // with one writer, each append's latency
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			p := effect.Handle(ctx, b)
			stream := fmt.Sprintf("%s%03d", prefix, i)
			ev := []ops.EventData{{Type: "bench", Data: benchData}}
			for first := true; ; first = false {
				t0 := time.Now()
				if !first && !t0.Before(deadline) {
					return
				}
				if _, err := effect.Perform(p, ops.Append{Stream: stream, Events: ev}); err != nil {
					errs <- err
					return
				}
				if n == 1 {
					lat = append(lat, time.Since(t0))
				}
				total.Add(1)
			}
		}()
	}
	wg.Wait()
	elapsed := time.Since(start)
	close(errs)
	if err := <-errs; err != nil {
		return result{}, err
	}
	r := result{events: int(total.Load()), elapsed: elapsed}
	if len(lat) > 0 {
		slices.Sort(lat)
		r.p50 = lat[len(lat)/2]
	}
	return r, nil
}

// benchBatches appends events to stream in appends of benchBatch.
func benchBatches(ctx context.Context, b ops.Backend, stream string, events int) (result, error) {
	p := effect.Handle(ctx, b)
	batch := make([]ops.EventData, benchBatch)
	for i := range batch {
		batch[i] = ops.EventData{Type: "bench", Data: benchData}
	}
	start := time.Now()
	for done := 0; done < events; done += benchBatch {
		if _, err := effect.Perform(p, ops.Append{Stream: stream, Expect: ops.Exact(uint64(done)), Events: batch}); err != nil {
			return result{}, err
		}
	}
	return result{events: events, elapsed: time.Since(start)}, nil
}

// benchReplay reads the W3 stream from the start, checking order and
// size, into pg when it is not nil (the events lent until the next read),
// else by the copying read.
func benchReplay(ctx context.Context, b ops.Backend, events int, pg *ops.Page) (result, error) {
	p := effect.Handle(ctx, b)
	start := time.Now()
	next := uint64(1)
	for next <= uint64(events) {
		res, err := effect.Perform(p, ops.Read{Stream: "w3", From: next, Limit: ops.DefaultPage, Page: pg})
		if err != nil {
			return result{}, err
		}
		if len(res.Events) == 0 {
			return result{}, fmt.Errorf("replay stopped at seq %d of %d", next, events)
		}
		for _, ev := range res.Events {
			if ev.Seq != next || len(ev.Data) != benchBody {
				return result{}, fmt.Errorf("replay: seq %d with %d bytes where seq %d was due", ev.Seq, len(ev.Data), next)
			}
			next++
		}
	}
	return result{events: events, elapsed: time.Since(start)}, nil
}

// rawDisk measures what a plain file on the same disk allows: the limit
// persist is compared against.
type rawDisk struct {
	dir string
	n   int
}

// file makes a fresh file preallocated to size bytes.
func (r *rawDisk) file(p *effect.P, size int64) (platform.FD, string, error) {
	r.n++
	path := filepath.Join(r.dir, fmt.Sprintf("raw-%d", r.n))
	fd, err := effect.Perform(p, platform.Open{Path: path, Flag: os.O_RDWR | os.O_CREATE | os.O_EXCL, Perm: 0o644})
	if err != nil {
		return 0, "", err
	}
	if _, err := effect.Perform(p, platform.Fallocate{FD: fd, Len: size}); err != nil {
		_, _ = effect.Perform(p, platform.Close{FD: fd})
		return 0, "", err
	}
	if _, err := effect.Perform(p, platform.Fsync{FD: fd}); err != nil {
		_, _ = effect.Perform(p, platform.Close{FD: fd})
		return 0, "", err
	}
	if _, err := effect.Perform(p, platform.SyncDir{Path: r.dir}); err != nil {
		_, _ = effect.Perform(p, platform.Close{FD: fd})
		return 0, "", err
	}
	return fd, path, nil
}

const rawPrealloc = 256 << 20

// appendSync appends benchBody-byte records with fdatasync for d. With one
// writer each record has its own fdatasync; with more, the writers hand
// their records to one committer that writes every waiting record at once
// and acknowledges them all after one fdatasync (group commit).
func (r *rawDisk) appendSync(ctx context.Context, writers int, d time.Duration) (res result, err error) {
	osh := &platform.OS{}
	p := effect.Handle(ctx, osh)
	fd, path, err := r.file(p, rawPrealloc)
	if err != nil {
		return result{}, err
	}
	defer func() {
		_, _ = effect.Perform(p, platform.Close{FD: fd})
		if rerr := os.Remove(path); err == nil && rerr != nil {
			err = rerr
		}
	}()
	var off int64
	write := func(buf []byte) error {
		if off+int64(len(buf)) > rawPrealloc {
			off = 0 // wrap: the file stays within its preallocation
		}
		if _, err := effect.Perform(p, platform.WriteAt{FD: fd, Off: off, Data: buf}); err != nil {
			return err
		}
		off += int64(len(buf))
		_, err := effect.Perform(p, platform.Fdatasync{FD: fd})
		return err
	}
	deadline := time.Now().Add(d)
	start := time.Now()
	if writers == 1 {
		n := 0
		for n == 0 || time.Now().Before(deadline) {
			if err := write(benchData); err != nil {
				return result{}, err
			}
			n++
		}
		return result{events: n, elapsed: time.Since(start)}, nil
	}
	// Group commit: writers add their records to a shared buffer and wait
	// until a sync covers them; one syncer writes and syncs whatever has
	// gathered while the previous sync ran.
	var (
		mu        sync.Mutex
		cond      = sync.NewCond(&mu)
		pending   []byte
		spare     []byte
		issued    uint64
		synced    uint64
		failed    error
		stopped   bool
		total     atomic.Int64
		wg        sync.WaitGroup
		syncerEnd = make(chan struct{})
	)
	go func() {
		defer close(syncerEnd)
		mu.Lock()
		defer mu.Unlock()
		for {
			for len(pending) == 0 && !stopped {
				cond.Wait()
			}
			if len(pending) == 0 {
				return
			}
			buf, upto := pending, issued
			pending = spare[:0]
			mu.Unlock()
			err := write(buf)
			mu.Lock()
			spare = buf
			synced = upto
			if err != nil && failed == nil {
				failed = err
			}
			cond.Broadcast()
		}
	}()
	for range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for first := true; first || time.Now().Before(deadline); first = false {
				mu.Lock()
				pending = append(pending, benchData...)
				issued++
				mine := issued
				cond.Broadcast()
				for synced < mine && failed == nil {
					cond.Wait()
				}
				err := failed
				mu.Unlock()
				if err != nil {
					return
				}
				total.Add(1)
			}
		}()
	}
	wg.Wait()
	elapsed := time.Since(start)
	mu.Lock()
	stopped = true
	cond.Broadcast()
	err = failed
	mu.Unlock()
	<-syncerEnd
	if err != nil {
		return result{}, err
	}
	return result{events: int(total.Load()), elapsed: elapsed}, nil
}

// The raw framed log of W3 and W4: each event one record, framed as
// persist frames its records (see backends/file): CRC-32C of bytes 4 to
// the end of the payload, payload length, record type, three zero bytes,
// the previous record's CRC, a segment id and the LSN; then the payload,
// padded with zeros to a multiple of 8 bytes.
const (
	rawFrame  = 32
	rawType   = 2
	rawRecord = (rawFrame + benchBody + 7) &^ 7
)

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// appendRawRecord appends the record of payload with the given LSN after
// a record whose CRC was prev, and returns its CRC.
func appendRawRecord(dst []byte, prev uint32, lsn uint64, payload []byte) ([]byte, uint32) {
	start := len(dst)
	dst = append(dst, make([]byte, rawFrame)...)
	dst = append(dst, payload...)
	h := dst[start : start+rawFrame]
	binary.LittleEndian.PutUint32(h[4:], uint32(len(payload)))
	h[8] = rawType
	binary.LittleEndian.PutUint32(h[12:], prev)
	binary.LittleEndian.PutUint64(h[16:], 1)
	binary.LittleEndian.PutUint64(h[24:], lsn)
	crc := crc32.Checksum(dst[start+4:], castagnoli)
	binary.LittleEndian.PutUint32(h[0:], crc)
	for (len(dst)-start)%8 != 0 {
		dst = append(dst, 0)
	}
	return dst, crc
}

// readRawRecord decodes and checks the record at the start of b, which
// must follow a record with CRC prev and have LSN lsn. It returns the
// record's size and CRC, or size 0 when b ends before the record does.
func readRawRecord(b []byte, prev uint32, lsn uint64) (int, uint32, error) {
	if len(b) < rawFrame {
		return 0, 0, nil
	}
	n := int(binary.LittleEndian.Uint32(b[4:]))
	if b[8] != rawType || b[9]|b[10]|b[11] != 0 || n > benchBody {
		return 0, 0, fmt.Errorf("raw record %d: bad frame", lsn)
	}
	size := (rawFrame + n + 7) &^ 7
	if len(b) < size {
		return 0, 0, nil
	}
	crc := binary.LittleEndian.Uint32(b)
	if crc32.Checksum(b[4:rawFrame+n], castagnoli) != crc {
		return 0, 0, fmt.Errorf("raw record %d: checksum mismatch", lsn)
	}
	if binary.LittleEndian.Uint32(b[12:]) != prev || binary.LittleEndian.Uint64(b[24:]) != lsn || binary.LittleEndian.Uint64(b[16:]) != 1 {
		return 0, 0, fmt.Errorf("raw record %d: out of order", lsn)
	}
	for _, c := range b[rawFrame+n : size] {
		if c != 0 {
			return 0, 0, fmt.Errorf("raw record %d: non-zero padding", lsn)
		}
	}
	return size, crc, nil
}

// batches writes events records benchBatch at a time, one fdatasync each,
// into a file preallocated to hold them all, and keeps it for replay.
func (r *rawDisk) batches(ctx context.Context, events int) (result, error) {
	p := effect.Handle(ctx, &platform.OS{})
	size := int64(events) * rawRecord
	fd, _, err := r.file(p, size)
	if err != nil {
		return result{}, err
	}
	defer effect.Perform(p, platform.Close{FD: fd})
	buf := make([]byte, 0, benchBatch*rawRecord)
	var prev uint32
	lsn := uint64(0)
	start := time.Now()
	for off := int64(0); off < size; off += int64(len(buf)) {
		buf = buf[:0]
		for range benchBatch {
			lsn++
			buf, prev = appendRawRecord(buf, prev, lsn, benchData)
		}
		if _, err := effect.Perform(p, platform.WriteAt{FD: fd, Off: off, Data: buf}); err != nil {
			return result{}, err
		}
		if _, err := effect.Perform(p, platform.Fdatasync{FD: fd}); err != nil {
			return result{}, err
		}
	}
	return result{events: events, elapsed: time.Since(start)}, nil
}

// replay reads back the log batches wrote, in order, in 1 MiB reads,
// decoding every record's frame and checking its checksum, chain and LSN.
func (r *rawDisk) replay(ctx context.Context, events int) (result, error) {
	p := effect.Handle(ctx, &platform.OS{})
	path := filepath.Join(r.dir, fmt.Sprintf("raw-%d", r.n))
	fd, err := effect.Perform(p, platform.Open{Path: path, Flag: os.O_RDONLY})
	if err != nil {
		return result{}, err
	}
	defer effect.Perform(p, platform.Close{FD: fd})
	size := int64(events) * rawRecord
	buf := make([]byte, 1<<20)
	start := time.Now()
	var (
		off  int64 // file offset of buf[0]
		have int   // bytes read into buf
		at   int   // next record in buf
		prev uint32
		lsn  uint64
	)
	for lsn < uint64(events) {
		n, crc, err := readRawRecord(buf[at:have], prev, lsn+1)
		if err != nil {
			return result{}, err
		}
		if n == 0 {
			// Move the partial record to the front and read on.
			copy(buf, buf[at:have])
			off += int64(at)
			have -= at
			at = 0
			if off+int64(have) >= size {
				return result{}, errors.New("raw replay: file ended early")
			}
			m, err := effect.Perform(p, platform.ReadAt{FD: fd, Off: off + int64(have), Buf: buf[have:min(int64(len(buf)), size-off)]})
			if err != nil {
				return result{}, err
			}
			if m == 0 {
				return result{}, errors.New("raw replay: file ended early")
			}
			have += m
			continue
		}
		at += n
		prev = crc
		lsn++
	}
	return result{events: events, elapsed: time.Since(start)}, nil
}

// benchServer opens a fresh store in dir, serves it on a loopback port
// from this process, and dials it as another process would: the client
// is the store the server runs are measured through. stop closes the
// client and shuts the server down, which closes the store.
func (m *Main) benchServer(ctx context.Context, g *globals, dir string) (ops.Backend, func() error, error) {
	var (
		b   ops.Backend
		err error
	)
	if m.Open != nil {
		b, err = m.Open(ctx, dir, true)
	} else {
		b, err = openFile(ctx, dir, file.Options{SegmentSize: g.segmentSize}, m.getenv)
	}
	if err != nil {
		return nil, nil, fmt.Errorf("open %s: %w", dir, err)
	}
	srv, err := server.New(b, server.Options{Unavailable: []error{file.ErrFailed}})
	if err != nil {
		_ = b.Close()
		return nil, nil, err
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		_ = srv.Shutdown(ctx)
		return nil, nil, fmt.Errorf("listen on loopback: %w", err)
	}
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln, "", "") }()
	c, err := remote.Dial("http://"+ln.Addr().String(), remote.Options{})
	if err != nil {
		_ = srv.Shutdown(ctx)
		return nil, nil, err
	}
	stop := func() error {
		_ = c.Close()
		sctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		err := srv.Shutdown(sctx)
		if serr := <-served; err == nil {
			err = serr
		}
		return err
	}
	return c, stop, nil
}
