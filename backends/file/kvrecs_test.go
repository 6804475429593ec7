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

// A run's history records read back by revision and from any revision
// on, across blocks and runs; a fold keeps the folded runs' records
// before the new ones; records out of order are refused.
func TestKvRunRecs(t *testing.T) {
	dir := t.TempDir()
	mk := func(gen uint64, from, n int, old *kvRunSet) *kvRun {
		var recs []kvLoc
		for i := from; i < from+n; i++ {
			recs = append(recs, kvLoc{rev: uint64(2 * i), loc: loc{seg: uint32(1 + i/300), off: uint32(64 + 8*i)}})
		}
		ch := []kvRunChange{{kvRunEntry: kvRunEntry{key: fmt.Sprint("k", gen), live: true, rev: uint64(2 * (from + n)), revs: []uint64{uint64(2 * (from + n))}}}}
		r, err := mergeKvRun(osP(), filepath.Join(dir, kvRunName(gen)), kvRunTestID, gen, uint64(2*(from+n)), old, nil, ch, kvRunTestKeep, old == nil, recs)
		require.NoError(t, err)
		o := openRun(t, r.path, gen, r.hdrCRC)
		require.NoError(t, o.verify(osP(), kvRunTestID))
		return o
	}
	a := mk(1, 1, 2000, nil)
	require.GreaterOrEqual(t, len(a.recBlocks), 2)
	b := mk(2, 2001, 700, nil)
	set := &kvRunSet{runs: []*kvRun{a, b}}
	require.Equal(t, uint64(2*2700), set.recHi())
	check := func(set *kvRunSet, lo, hi int) {
		t.Helper()
		for _, i := range []int{lo, lo + 1, 299, 300, 1000, 1999, 2000, 2001, 2002, hi - 1} {
			l, ok, err := set.recLoc(osP(), nil, uint64(2*i))
			require.NoError(t, err)
			require.True(t, ok, "revision %d", 2*i)
			require.Equal(t, loc{seg: uint32(1 + i/300), off: uint32(64 + 8*i)}, l)
			_, ok, err = set.recLoc(osP(), nil, uint64(2*i+1))
			require.NoError(t, err)
			require.False(t, ok, "revision %d", 2*i+1)
		}
		var got []uint64
		_, err := set.recScan(osP(), nil, 3999, func(x kvLoc) bool { got = append(got, x.rev); return len(got) < 5 })
		require.NoError(t, err)
		require.Equal(t, []uint64{4000, 4002, 4004, 4006, 4008}, got)
	}
	check(set, 1, 2701)
	c := mk(3, 2701, 50, set)
	require.Equal(t, uint64(2750), c.recN)
	check(&kvRunSet{runs: []*kvRun{c}}, 1, 2751)

	_, err := mergeKvRun(osP(), filepath.Join(dir, kvRunName(9)), kvRunTestID, 9, 9, nil, nil, nil, kvRunTestKeep, true, []kvLoc{{rev: 5}, {rev: 5}})
	require.ErrorContains(t, err, "out of order")
	for _, r := range []*kvRun{a, b, c} {
		require.NoError(t, r.close(osP()))
	}
}
