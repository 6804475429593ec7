package file

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"rose-ash.com/persist/backends/mock"
	"rose-ash.com/persist/effect"
	"rose-ash.com/persist/ops"
)

// streamRunRounds are the appends of the stream run tests, one round a
// checkpoint (at Close): 60 streams; a few of them again and a few new
// (a run over the first); many new (a fold).
func streamRunRounds() [][]string {
	var rounds [][]string
	var r0 []string
	for i := range 60 {
		r0 = append(r0, fmt.Sprintf("s%03d", i))
	}
	rounds = append(rounds, r0)
	rounds = append(rounds, []string{"s003", "s017", "s040", "n000", "n001"})
	r2 := []string{"s005", "n001"}
	for i := range 12 {
		r2 = append(r2, fmt.Sprintf("m%03d", i))
	}
	rounds = append(rounds, r2)
	var r3 []string
	for i := range 90 {
		r3 = append(r3, fmt.Sprintf("p%03d", i))
	}
	rounds = append(rounds, append(r3, "s006"))
	return rounds
}

// streamRunPad is the stream whose records end each round of the
// stream run tests (streamRunRound): more bytes than a segment of
// streamRunOpts, so that the log rolls past the segment the round's
// appends lie in and the round's checkpoint indexes them. A checkpoint
// writes into a run only the streams whose records all lie in index
// files; the pad's last records lie in the active segment, so it is in
// every checkpoint's section and in no run.
const (
	streamRunPad      = "pad"
	streamRunPads     = 5
	streamRunPadBytes = 16 << 10
)

// streamRunModel is the heads of the streams after the first n rounds,
// the pad's among them.
func streamRunHeads(rounds [][]string, n int) map[string]uint64 {
	m := map[string]uint64{}
	for _, r := range rounds[:n] {
		for _, s := range r {
			m[s]++
		}
		m[streamRunPad] += streamRunPads
	}
	return m
}

// streamRunCommit appends one event to each of streams.
func streamRunCommit(t *testing.T, s *Store, fs *mock.FS, streams []string, round int) {
	t.Helper()
	streamRunAppends(t, effect.Handle(context.Background(), s, fs), streams, round)
}

func streamRunAppends(t *testing.T, p *effect.P, streams []string, round int) {
	t.Helper()
	for _, name := range streams {
		_, err := effect.Perform(p, ops.Append{Stream: name, Events: []ops.EventData{{Type: "t", Data: fmt.Appendf(nil, "%s/%d", name, round)}}})
		require.NoError(t, err)
	}
}

// streamRunRound appends one event to each of streams, then the pad's
// records, which roll the log past them.
func streamRunRound(t *testing.T, s *Store, fs *mock.FS, streams []string, round int) {
	t.Helper()
	p := effect.Handle(context.Background(), s, fs)
	streamRunAppends(t, p, streams, round)
	streamRunPadP(t, s, p, round)
}

// streamRunPadP appends the pad's records of a round to s through p,
// and wants them to roll the log.
func streamRunPadP(t *testing.T, s *Store, p *effect.P, round int) {
	t.Helper()
	s.mu.RLock()
	seg := s.active.id
	s.mu.RUnlock()
	pad := strings.Repeat("p", streamRunPadBytes)
	for i := range streamRunPads {
		_, err := effect.Perform(p, ops.Append{Stream: streamRunPad, Events: []ops.EventData{{Type: "t", Data: fmt.Appendf(nil, "%s/%d/%d/%s", streamRunPad, round, i, pad)}}})
		require.NoError(t, err)
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	require.Greater(t, s.active.id, seg, "the pad rolls the log")
}

// streamRunCheck wants s's streams to be m: every head, every event
// read, the listing.
func streamRunCheck(t *testing.T, s *Store, fs *mock.FS, m map[string]uint64, what string) {
	t.Helper()
	streamRunCheckP(t, effect.Handle(context.Background(), s, fs), m, what)
}

func streamRunCheckP(t *testing.T, p *effect.P, m map[string]uint64, what string) {
	t.Helper()
	var names []string
	for name, head := range m {
		names = append(names, name)
		res, err := effect.Perform(p, ops.Read{Stream: name})
		require.NoError(t, err, what)
		require.Len(t, res.Events, int(head), "%s: stream %s", what, name)
		for i, ev := range res.Events {
			require.Equal(t, uint64(i+1), ev.Seq, "%s: stream %s", what, name)
			require.True(t, strings.HasPrefix(string(ev.Data), name+"/"), "%s: stream %s event %d: %q", what, name, i, ev.Data)
		}
	}
	slices.Sort(names)
	l, err := effect.Perform(p, ops.Streams{Limit: 10000})
	require.NoError(t, err, what)
	var got []string
	for _, x := range l.Streams {
		got = append(got, x.Name)
	}
	require.Equal(t, names, got, what)
}

// streamRunsNamed wants every stream run file on fs to be one a kept
// checkpoint names; it gives the count of runs the newest names.
func streamRunsNamed(t *testing.T, fs *mock.FS, id [16]byte, what string) int {
	t.Helper()
	named := map[string]bool{}
	var runs []string
	newest, n := uint64(0), 0
	for _, f := range fs.Files() {
		name := filepath.Base(f.Path)
		if lsn, ok := parseCkptName(name); ok {
			b, err := fs.ReadFile(f.Path)
			require.NoError(t, err, what)
			_, st, err := decodeCheckpoint(b, id)
			require.NoError(t, err, what)
			for _, r := range st.stRefs {
				named[streamRunName(r.gen)] = true
			}
			if lsn > newest {
				newest, n = lsn, len(st.stRefs)
			}
		}
		if _, ok := isStreamRunName(name); ok {
			runs = append(runs, name)
		}
	}
	for _, r := range runs {
		require.True(t, named[r], "%s: stream run %s is named by no kept checkpoint (%v)", what, r, runs)
	}
	return n
}

var streamRunOpts = Options{SegmentSize: 64 << 10, CheckpointBytes: 1 << 30}

func streamRunSetup(t *testing.T, rounds [][]string, n int, rec bool) (*mock.FS, *Store) {
	t.Helper()
	fs := mock.New(1, mock.Options{Record: rec})
	for i := range n {
		s := kvTierOpen(t, fs, streamRunOpts)
		streamRunRound(t, s, fs, rounds[i], i)
		require.NoError(t, s.Close(effect.Handle(context.Background(), fs)))
	}
	return fs, kvTierOpen(t, fs, streamRunOpts)
}

// Checkpoints write the changed streams whose records lie in index
// files as tiered runs, the checkpoint's section holds only the streams
// the runs do not hold whole (the pad, with records in the active
// segment, in no run), and a reopened store reads every stream from the
// runs and the section.
func TestStreamRunCheckpoints(t *testing.T) {
	rounds := streamRunRounds()
	fs, s := streamRunSetup(t, rounds, 1, false)
	id := s.id
	require.NotNil(t, s.st.stRuns)
	require.Len(t, s.st.stRuns.runs, 1)
	require.Equal(t, uint64(60), s.st.stRuns.runs[0].entries)
	for name, x := range s.st.streams {
		require.Equal(t, name != streamRunPad, x.ran, name)
	}
	streamRunCheck(t, s, fs, streamRunHeads(rounds, 1), "round 0")
	for i := 1; i < len(rounds); i++ {
		streamRunRound(t, s, fs, rounds[i], i)
		for _, name := range rounds[i] {
			require.False(t, s.st.streams[name].ran, name)
		}
		require.NoError(t, s.Close(effect.Handle(context.Background(), fs)))
		s = kvTierOpen(t, fs, streamRunOpts)
		what := fmt.Sprintf("round %d", i)
		streamRunCheck(t, s, fs, streamRunHeads(rounds, i+1), what)
		n := streamRunsNamed(t, fs, id, what)
		require.Equal(t, len(s.st.stRuns.runs), n, what)
		require.LessOrEqual(t, n, kvMaxRuns, what)
		newest := s.st.stRuns.newest()
		if i == 1 {
			// The changed streams alone, over the first run.
			require.Equal(t, 2, n)
			require.Equal(t, uint64(len(rounds[1])), newest.entries)
		}
		rep, err := Verify(effect.Handle(context.Background(), fs.Clone(3)), "/data")
		require.NoError(t, err, what)
		require.Empty(t, rep.Skipped, what)
	}
	// The section of the newest checkpoint: no stream the runs hold whole.
	lsns, err := listCheckpoints(effect.Handle(context.Background(), fs), "/data/log")
	require.NoError(t, err)
	b, err := fs.ReadFile(filepath.Join("/data/log", ckptName(lsns[len(lsns)-1])))
	require.NoError(t, err)
	_, st, err := decodeCheckpoint(b, id)
	require.NoError(t, err)
	for name, x := range st.streams {
		require.True(t, x.chunks.len() > 0 || len(x.runs) > 0, "stream %s in the section", name)
	}
	require.Contains(t, st.streams, streamRunPad)
	// No run holds the pad, whose records never all lie in index files.
	_, ok, err := streamRunGet(effect.Handle(context.Background(), fs), s.st.stRuns, nil, streamRunPad)
	require.NoError(t, err)
	require.False(t, ok, "a run holds the pad")
	require.NoError(t, s.Close(effect.Handle(context.Background(), fs)))
}

// A stream run that is missing or damaged where Open reads it (its
// header and sparse index) passes its checkpoint over: Open rebuilds
// from an older checkpoint or the log, never serving wrong heads, and
// Verify names the run. A flipped bit in a block of heads, which Open
// trusts to the checkpoint (rule 8 of recovery), is an error of the
// reads that take the block, never a wrong or absent stream.
func TestStreamRunDamagedFallsBack(t *testing.T) {
	rounds := streamRunRounds()
	for _, how := range []string{"missing", "flipped", "cut", "header"} {
		t.Run(how, func(t *testing.T) {
			e := newEnv(t, streamRunOpts)
			for i := range 3 {
				streamRunAppends(t, e.sp(), rounds[i], i)
				streamRunPadP(t, e.s, e.sp(), i)
				e.reopen(streamRunOpts)
			}
			newest := e.s.st.stRuns.newest().path
			e.close()
			b, err := os.ReadFile(newest)
			require.NoError(t, err)
			switch how {
			case "missing":
				require.NoError(t, os.Remove(newest))
			case "flipped":
				b[kvRunHeader+5] ^= 1
				require.NoError(t, os.WriteFile(newest, b, 0o644))
			case "cut":
				require.NoError(t, os.WriteFile(newest, b[:len(b)-3], 0o644))
			case "header":
				b[44] ^= 1 // the entry count
				require.NoError(t, os.WriteFile(newest, b, 0o644))
			}
			rep, err := Verify(e.p(), e.dir)
			if how == "flipped" {
				// The checkpoint Open takes: Verify finds its damage.
				require.ErrorIs(t, err, ErrCorrupt)
				require.Contains(t, err.Error(), filepath.Base(newest))
			} else {
				require.NoError(t, err)
				require.NotEmpty(t, rep.Skipped, "Verify names the bad run")
				require.Contains(t, rep.Skipped[0].Error(), filepath.Base(newest))
			}
			e.open(streamRunOpts)
			heads := streamRunHeads(rounds, 3)
			if how == "flipped" {
				require.Zero(t, e.s.report.CheckpointsSkipped)
				bad := 0
				for name, head := range heads {
					res, err := effect.Perform(e.sp(), ops.Read{Stream: name})
					if err != nil {
						var ce *CorruptError
						require.ErrorAs(t, err, &ce, name)
						require.Equal(t, newest, ce.File, name)
						bad++
						continue
					}
					require.Len(t, res.Events, int(head), name)
				}
				require.Positive(t, bad, "reads of the streams of the flipped block")
				return
			}
			require.Positive(t, e.s.report.CheckpointsSkipped)
			streamRunCheckP(t, e.sp(), heads, how)
		})
	}
}

// A checkpoint of format 11 (every stream in its section, no stream
// run) opens, and the next checkpoint writes every stream whose records
// lie in index files into a run.
func TestStreamRunFromFormat11(t *testing.T) {
	opts := Options{SegmentSize: streamRunOpts.SegmentSize}
	e := newEnv(t, opts)
	for i := range 30 {
		must(t, e, ops.Append{Stream: fmt.Sprintf("s%02d", i), Events: evs("a", "b")})
	}
	e.s.mu.Lock()
	r := resume{seg: e.s.active.id, off: e.s.off, crc: e.s.lastCRC, lsn: e.s.st.lsn, last: e.s.lastOff, sum: e.s.segSum}
	v := viewOf(r, e.s.st)
	e.s.mu.Unlock()
	v.version = ckptVersionStreamDir
	b := v.encode(e.s.id)
	e.close()
	path := filepath.Join(e.dir, "log", ckptName(r.lsn))
	require.NoError(t, os.WriteFile(path, b, 0o644))
	for _, f := range mustGlob(t, filepath.Join(e.dir, "log", "st-*.run")) {
		require.NoError(t, os.Remove(f))
	}
	for _, f := range mustGlob(t, filepath.Join(e.dir, "log", "checkpoint-*")) {
		if f != path {
			require.NoError(t, os.Remove(f))
		}
	}
	e.open(opts)
	require.Zero(t, e.s.report.CheckpointsSkipped)
	require.Nil(t, e.s.st.stRuns)
	require.Len(t, e.s.st.streams, 30)
	must(t, e, ops.Append{Stream: "s00", Events: evs("c")})
	streamRunPadP(t, e.s, e.sp(), 0) // the pad's last records in the active segment
	e.reopen(opts)
	require.NotNil(t, e.s.st.stRuns)
	require.Equal(t, uint64(30), e.s.st.stRuns.newest().entries)
	require.False(t, e.s.st.streams[streamRunPad].ran)
	for i := range 30 {
		name := fmt.Sprintf("s%02d", i)
		x, err := e.s.st.stream(e.sp(), name)
		require.NoError(t, err)
		require.True(t, x.ran, name)
		res := must(t, e, ops.Read{Stream: name})
		require.Len(t, res.Events, 2+btoi(i == 0))
	}
}

func btoi(b bool) int {
	if b {
		return 1
	}
	return 0
}

func mustGlob(t *testing.T, pat string) []string {
	t.Helper()
	m, err := filepath.Glob(pat)
	require.NoError(t, err)
	return m
}

// A crash at every IO effect of a checkpoint that writes and folds
// stream runs, before and after it, under every crash fault. Every
// append was acknowledged before the checkpoint began, so the reopened
// store must hold every stream as the model says, Verify must find
// nothing wrong, a second crash after the recovery must change nothing,
// and once the next checkpoint is in place no stream run file is left
// that no kept checkpoint names.
func TestCrashStreamRunFold(t *testing.T) {
	rounds := streamRunRounds()
	for _, round := range []int{1, 3} {
		t.Run(fmt.Sprintf("round%d", round), func(t *testing.T) {
			probe, s := streamRunSetup(t, rounds, round, true)
			id := s.id
			streamRunRound(t, s, probe, rounds[round], round)
			from := len(probe.Trace())
			require.NoError(t, s.Close(effect.Handle(context.Background(), probe)))
			trace := probe.Trace()[from:]
			n := len(trace)
			runRename, ckptRename, runWrites := -1, -1, 0
			for i, e := range trace {
				switch {
				case e.Name == "io/write-at" && strings.Contains(e.Path, "/st-") && strings.HasSuffix(e.Path, ".tmp"):
					runWrites++
				case e.Name == "io/rename" && strings.Contains(e.Path, "/st-"):
					runRename = i
				case e.Name == "io/rename" && strings.Contains(e.Path, "/checkpoint-"):
					ckptRename = i
				}
			}
			require.Positive(t, runWrites, "the checkpoint writes a stream run")
			require.True(t, runRename >= 0 && runRename < ckptRename, "the run is renamed before the checkpoint: %d, %d", runRename, ckptRename)
			m := streamRunHeads(rounds, round+1)
			cases := 0
			for k := range n {
				for _, after := range []bool{false, true} {
					for _, f := range mock.FaultKinds() {
						what := fmt.Sprintf("crash at effect %d (%s, after %v) of the checkpoint of round %d under %s", k, trace[k], after, round, f)
						fs, s := streamRunSetup(t, rounds, round, false)
						streamRunRound(t, s, fs, rounds[round], round)
						fs.Inject(mock.Fail(k, mock.Any(), mock.Action{Kind: mock.ActCrash, After: after}))
						_ = s.Close(effect.Handle(context.Background(), fs))
						disk, _ := fs.Crash(mock.Fault{Kind: f, Seed: uint64(k)}, 2)
						cases++
						rep, verr := Verify(effect.Handle(context.Background(), disk.Clone(3)), "/data")
						require.NoError(t, verr, what)
						require.Empty(t, rep.Skipped, what)
						s2 := kvTierOpen(t, disk, streamRunOpts)
						streamRunCheck(t, s2, disk, m, what)
						streamRunCommit(t, s2, disk, []string{"after", "s000"}, 9)
						m2 := streamRunHeads(rounds, round+1)
						m2["after"]++
						m2["s000"]++
						again, _ := disk.Crash(mock.Fault{Kind: mock.Drop}, 3)
						s3 := kvTierOpen(t, again, streamRunOpts)
						streamRunCheck(t, s3, again, m2, what+", then a crash after the recovery")
						require.NoError(t, s3.Close(effect.Handle(context.Background(), again)), what)
						s3 = kvTierOpen(t, again, streamRunOpts)
						streamRunCheck(t, s3, again, m2, what+", then a checkpoint")
						require.NoError(t, s3.Close(effect.Handle(context.Background(), again)), what)
						streamRunsNamed(t, again, id, what)
					}
				}
			}
			t.Logf("%d effects, %d cases", n, cases)
		})
	}
}

// Checkpoints beside commits write stream runs while appends to old and
// new streams and reads go on (run with -race): every acknowledged
// append survives a reopen, whose heads come from the runs and the
// checkpoint's section.
func TestStreamRunCheckpointsBesideAppends(t *testing.T) {
	e := newEnv(t, Options{SegmentSize: streamRunOpts.SegmentSize})
	opts := Options{CheckpointBytes: 4 << 10, SegmentSize: streamRunOpts.SegmentSize, Background: sharedBackground(e)}
	e.reopen(opts)
	// Events of about 600 bytes: the writers' 360 KB roll the log's 64
	// KiB segments, so that checkpoints index sealed segments and write
	// the streams whose records all lie in them into runs.
	const writers, per, streams = 4, 150, 120
	fill := strings.Repeat("f", 600)
	var mu sync.Mutex
	heads := map[string]uint64{}
	var wg sync.WaitGroup
	errs := make(chan error, writers+1)
	for w := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rng := rand.New(rand.NewPCG(uint64(w), 1))
			for i := range per {
				name := fmt.Sprintf("s%03d", rng.IntN(streams))
				if i%10 == 0 {
					name = fmt.Sprintf("w%d-%03d", w, i) // a new stream
				}
				_, err := perform(e, ops.Append{Stream: name, Events: []ops.EventData{{Type: "t", Data: fmt.Appendf(nil, "%s/%d/%s", name, i, fill)}}})
				if err == nil {
					mu.Lock()
					heads[name]++
					mu.Unlock()
				}
				if err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	stop := make(chan struct{})
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			select {
			case <-stop:
				return
			default:
			}
			if _, err := perform(e, ops.Streams{Limit: 50}); err != nil {
				errs <- err
				return
			}
			if _, err := perform(e, ops.Read{Stream: "s001"}); err != nil {
				errs <- err
				return
			}
		}
	}()
	for range 20 {
		time.Sleep(5 * time.Millisecond)
		e.s.ckMu.Lock()
		e.s.waitCheckpointIdle()
		e.s.ckMu.Unlock()
	}
	close(stop)
	wg.Wait()
	close(errs)
	for err := range errs {
		require.NoError(t, err)
	}
	require.Positive(t, e.s.Stats().Checkpoints)
	e.reopen(Options{SegmentSize: streamRunOpts.SegmentSize})
	require.NotNil(t, e.s.st.stRuns)
	ran := 0
	require.NoError(t, e.s.st.eachStream(e.sp(), func(_ string, x *streamIdx) bool {
		ran += btoi(x.ran)
		return true
	}))
	require.Positive(t, ran, "streams the runs hold")
	streamRunCheckP(t, e.sp(), heads, "after the reopen")
}
