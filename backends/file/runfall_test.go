package file

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"rose-ash.com/persist/ops"
	"rose-ash.com/persist/platform"
)

// runFallModel is what the store of a runFallCase holds: every
// stream's events, every kv key's value.
type runFallModel struct {
	events map[string][]string
	kv     map[string]string
}

// add appends one event to stream name, of pad bytes beyond its name
// and place.
func (m *runFallModel) add(t *testing.T, e *env, name string, pad int) {
	t.Helper()
	data := fmt.Sprintf("%s/%d/%s", name, len(m.events[name]), strings.Repeat("f", pad))
	must(t, e, ops.Append{Stream: name, Events: evs(data)})
	m.events[name] = append(m.events[name], data)
}

// fill appends to stream zz-fill until the segments of the appends
// before are sealed, as fillSegment does.
func (m *runFallModel) fill(t *testing.T, e *env) {
	t.Helper()
	for range 5 {
		m.add(t, e, "zz-fill", 30<<10)
	}
}

func (m *runFallModel) put(t *testing.T, e *env, key, value string) {
	t.Helper()
	must(t, e, ops.KvPut{Key: key, Value: []byte(value)})
	m.kv[key] = value
}

// check wants e's store to hold m: every head and event, the listing,
// every kv value.
func (m *runFallModel) check(t *testing.T, e *env, what string) {
	t.Helper()
	var names []string
	for name, want := range m.events {
		names = append(names, name)
		require.Equal(t, uint64(len(want)), must(t, e, ops.Head{Stream: name}), "%s: head of %s", what, name)
		var got []string
		for i, ev := range must(t, e, ops.Read{Stream: name}).Events {
			require.Equal(t, uint64(i+1), ev.Seq, "%s: stream %s", what, name)
			got = append(got, string(ev.Data))
		}
		require.Equal(t, want, got, "%s: events of %s", what, name)
	}
	slices.Sort(names)
	var listed []string
	for _, x := range must(t, e, ops.Streams{Limit: 10000}).Streams {
		listed = append(listed, x.Name)
	}
	require.Equal(t, names, listed, "%s: the listing", what)
	for key, want := range m.kv {
		got := must(t, e, ops.KvGet{Key: key})
		require.NotNil(t, got, "%s: kv key %s", what, key)
		require.Equal(t, want, string(got.Value), "%s: kv key %s", what, key)
	}
}

// runFallCase builds a store whose newest checkpoint names a run the
// replay of the log after it reads: a record after the checkpoint
// appends to a stream the stream run alone holds, or puts a kv key the
// kv run holds. It gives the run and the offset of the block the
// replay reads, and whether Open is to start from the oldest
// checkpoint (one that names no such run) rather than replay the log
// whole.
type runFallCase struct {
	name  string
	build func(t *testing.T, e *env, m *runFallModel) (run string, block int64, older bool)
	// ckpts is how many checkpoints the store keeps, skipped how many
	// of them Open passes over.
	ckpts, skipped int
}

// blockOf is the path of run r and the offset of the block that holds
// key.
func blockOf(t *testing.T, r *kvRun, key string) (string, int64) {
	t.Helper()
	i := r.blockFor(key)
	require.GreaterOrEqual(t, i, 0, "a block of %s holds %q", r.path, key)
	return r.path, r.blocks[i].off
}

var runFallCases = []runFallCase{{
	// The newest checkpoint's stream run is damaged where the replay
	// reads s10; the one before it names no stream run, and Open
	// starts from it.
	name: "stream run, older checkpoint",
	build: func(t *testing.T, e *env, m *runFallModel) (string, int64, bool) {
		for i := range 30 {
			m.add(t, e, fmt.Sprintf("s%02d", i), 0)
		}
		e.reopen(streamLookupOpts) // every stream in the section, records in the active segment
		require.Nil(t, e.s.st.stRuns)
		m.fill(t, e)
		e.reopen(streamLookupOpts) // a run holds s00..s29 whole
		require.NotNil(t, e.s.st.stRuns)
		m.add(t, e, "s10", 0)
		run, off := blockOf(t, e.s.st.stRuns.newest(), "s10")
		return run, off, true
	},
	ckpts: 2, skipped: 1,
}, {
	// Both checkpoints name the damaged stream run (the newer one
	// wrote none, its streams' records in the active segment): Open
	// passes both over and replays the log whole.
	name: "stream run, both checkpoints",
	build: func(t *testing.T, e *env, m *runFallModel) (string, int64, bool) {
		for i := range 30 {
			m.add(t, e, fmt.Sprintf("s%02d", i), 0)
		}
		m.fill(t, e)
		e.reopen(streamLookupOpts)
		require.NotNil(t, e.s.st.stRuns)
		gens := e.s.st.stRuns.gens()
		m.add(t, e, "zz-fill", 0)
		e.reopen(streamLookupOpts)
		require.Equal(t, gens, e.s.st.stRuns.gens(), "the newer checkpoint names the same run alone")
		m.add(t, e, "s10", 0)
		run, off := blockOf(t, e.s.st.stRuns.newest(), "s10")
		return run, off, false
	},
	ckpts: 2, skipped: 2,
}, {
	// The kv run is damaged where the replay looks k150 up (whether
	// the key had a value).
	name: "kv run",
	build: func(t *testing.T, e *env, m *runFallModel) (string, int64, bool) {
		for i := range 300 {
			m.put(t, e, fmt.Sprintf("k%03d", i), fmt.Sprintf("%03d/%s", i, strings.Repeat("v", 40)))
		}
		e.reopen(streamLookupOpts)
		require.NotNil(t, e.s.st.kvRuns)
		require.Greater(t, len(e.s.st.kvRuns.newest().blocks), 1)
		m.put(t, e, "k150", "after")
		run, off := blockOf(t, e.s.st.kvRuns.newest(), "k150")
		return run, off, false
	},
	ckpts: 1, skipped: 1,
}}

// A run block that the replay after a checkpoint finds damaged (the
// lookups of the tail's records read the runs, not Open) passes that
// checkpoint over, and every older one naming the same run, as a
// damaged run found at Open does: Open and a follower start from an
// older checkpoint or replay the whole log, since the log holds every
// record; every stream's head and events and every kv value are right;
// nothing the passed over replay opened stays open past Close; Verify
// agrees (the store is fine, the run named among the skipped), and the
// store takes appends and reopens from its next checkpoint.
func TestOpenFallsBackPastRunDamagedInReplay(t *testing.T) {
	for _, c := range runFallCases {
		t.Run(c.name, func(t *testing.T) {
			e := newEnv(t, streamLookupOpts)
			m := &runFallModel{events: map[string][]string{}, kv: map[string]string{}}
			run, off, older := c.build(t, e, m)
			// The store as a crash leaves it, without the checkpoint
			// Close writes: every append is durable.
			to := t.TempDir() + "/data"
			require.NoError(t, os.CopyFS(to, os.DirFS(e.dir)))
			e.close()
			d := &env{t: t, dir: to, os: &platform.OS{}}
			lsns, err := listCheckpoints(d.p(), filepath.Join(to, logDir))
			require.NoError(t, err)
			require.Len(t, lsns, c.ckpts)
			want := uint64(0)
			if older {
				want = lsns[0]
			}
			path := filepath.Join(to, logDir, filepath.Base(run))
			b, err := os.ReadFile(path)
			require.NoError(t, err)
			b[off+2] ^= 0xff
			require.NoError(t, os.WriteFile(path, b, 0o644))

			rep, err := Verify(d.p(), to)
			require.NoError(t, err, "Verify agrees with Open: the store opens")
			require.Equal(t, want, rep.Checkpoint, "Verify starts where Open does")
			named := false
			for _, ce := range rep.Skipped {
				named = named || filepath.Base(ce.File) == filepath.Base(run)
			}
			require.True(t, named, "Verify names the damaged run: %v", rep.Skipped)
			require.Zero(t, d.os.OpenFiles(), "Verify leaves no file open")

			f, err := OpenReadOnly(d.p(), to, Options{})
			require.NoError(t, err, "a follower")
			require.Equal(t, c.skipped, f.Recovery().CheckpointsSkipped, "the follower")
			require.Equal(t, want, f.Recovery().Checkpoint, "the follower")
			m.check(t, &env{t: t, dir: to, s: f, os: d.os}, "the follower")
			require.NoError(t, f.Close(d.p()))
			require.Zero(t, d.os.OpenFiles(), "the follower's Close leaves no file open")

			d.open(streamLookupOpts)
			require.Equal(t, c.skipped, d.s.Recovery().CheckpointsSkipped)
			require.Equal(t, want, d.s.Recovery().Checkpoint)
			m.check(t, d, "opened")
			m.add(t, d, "s10", 0)
			m.put(t, d, "k150", "again")
			d.reopen(streamLookupOpts)
			require.Zero(t, d.s.Recovery().CheckpointsSkipped, "the checkpoint Close wrote names no damaged run")
			m.check(t, d, "reopened")
			d.close()
			require.Zero(t, d.os.OpenFiles(), "Close leaves no file open")
		})
	}
}
