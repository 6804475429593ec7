package file

import (
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"rose-ash.com/persist/ops"
)

// kvWatchAll pages a kv-watch from revision 1 to the end.
func kvWatchAll(t *testing.T, e *env) []ops.KvVersion {
	t.Helper()
	var out []ops.KvVersion
	from := uint64(1)
	for {
		w := must(t, e, ops.KvWatch{From: from, Limit: 37})
		out = append(out, w.Changes...)
		if w.Next > w.Revision || len(w.Changes) == 0 && w.Next == from {
			return out
		}
		from = w.Next
	}
}

// The kv history's records a checkpoint covers lie in its kv runs, not
// in memory: after checkpoints and reopens memory holds the records
// since the newest run only, and every kv-watch page and kv-history
// reads as it did before any checkpoint, the records found in the runs'
// history blocks, through folds of runs into one.
func TestKvRecsInRuns(t *testing.T) {
	opts := Options{CheckpointBytes: 4 << 10, IndexCacheBytes: 16 << 10, KvHistory: 20}
	e := newEnv(t, Options{CheckpointBytes: 1 << 40, KvHistory: 20})
	const commits = 600
	put := func(i int) {
		must(t, e, ops.Commit{Kv: []ops.KvChange{{Key: fmt.Sprintf("k%02d", i%40), Value: fmt.Appendf(nil, "v%d", i)}}})
	}
	for i := range commits / 2 {
		put(i)
	}
	want := kvWatchAll(t, e) // all in memory: no checkpoint yet
	require.Len(t, want, commits/2)
	hist := must(t, e, ops.KvHistory{Key: "k07"})
	e.reopen(opts)
	for i := commits / 2; i < commits; i++ {
		put(i)
	}
	e.reopen(opts)
	require.NotNil(t, e.s.st.kvRuns)
	require.Less(t, len(e.s.st.ret.hist.recs), 50, "memory holds the records since the newest run")
	var onDisk uint64
	for _, r := range e.s.st.kvRuns.runs {
		onDisk += r.recN
	}
	require.Equal(t, uint64(commits), onDisk+uint64(len(e.s.st.ret.hist.recs)))
	got := kvWatchAll(t, e)
	require.Len(t, got, commits)
	require.Equal(t, want, got[:commits/2])
	for i, v := range got {
		require.Equal(t, uint64(i+1), v.Revision)
		require.Equal(t, fmt.Sprintf("v%d", i), string(v.Value))
	}
	h2 := must(t, e, ops.KvHistory{Key: "k07"})
	require.Len(t, h2.Versions, commits/40)
	require.Equal(t, uint64(commits-40+7+1), h2.Versions[0].Revision)
	require.Equal(t, hist.Versions, h2.Versions[len(h2.Versions)-len(hist.Versions):])
	require.Equal(t, hist.Versions[0].Key, h2.Versions[0].Key)
	e.close()
	rep, err := Verify(e.p(), e.dir)
	require.NoError(t, err)
	require.Equal(t, 40, rep.KvKeys)
}

// A history block damaged at rest is a CorruptError naming the run for
// the kv-watch that needs it, and for Verify; never a wrong record.
func TestKvRecsDamagedBlock(t *testing.T) {
	opts := Options{CheckpointBytes: 1 << 40, KvHistory: 20}
	e := newEnv(t, opts)
	for i := range 300 {
		must(t, e, ops.KvPut{Key: fmt.Sprintf("k%02d", i%20), Value: []byte("v")})
	}
	e.reopen(opts)
	r := e.s.st.kvRuns.newest()
	require.NotEmpty(t, r.recBlocks)
	off := r.recBlocks[0].off + 3
	path := r.path
	e.close()
	b, err := os.ReadFile(path)
	require.NoError(t, err)
	b[off] ^= 0x10
	require.NoError(t, os.WriteFile(path, b, 0o644))
	e.open(opts)
	_, err = perform(e, ops.KvWatch{From: 1, Limit: 10})
	var ce *CorruptError
	require.ErrorAs(t, err, &ce)
	require.Equal(t, filepath.Base(path), filepath.Base(ce.File))
	require.Equal(t, off-3, ce.Offset)
	e.close()
	_, err = Verify(e.p(), e.dir)
	require.ErrorAs(t, err, &ce)
}
