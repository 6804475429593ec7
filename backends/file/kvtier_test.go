package file

import (
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/stretchr/testify/require"

	"rose-ash.com/persist/ops"
)

// The tiering folds a run once its newer runs add up to its size, and
// never leaves more than kvMaxRuns.
func TestKvFoldCount(t *testing.T) {
	for _, c := range []struct {
		sizes []int64
		est   int64
		want  int
	}{
		{nil, 10, 0},
		{[]int64{1000}, 10, 0},
		{[]int64{1000, 10}, 10, 1},
		{[]int64{1000, 20, 10}, 10, 2},
		{[]int64{1000, 40, 10}, 10, 1},
		{[]int64{1000, 40, 10}, 50, 2},
		{[]int64{1000, 40, 30, 20}, 5, 1}, // the cap: four runs after
		{[]int64{1000, 40, 30, 20}, 100, 3},
		{[]int64{1000, 40, 30, 20}, 910, 4}, // folds into the oldest
		{[]int64{40, 30, 20, 10, 5}, 1, 2},  // a set over the cap shrinks
		{[]int64{16, 8, 4, 122}, 1, 4},      // the cap's fold weighs the runs after
		{[]int64{1000, 8, 4, 12}, 1, 3},
	} {
		require.Equal(t, c.want, kvFoldCount(c.sizes, c.est), "%v %d", c.sizes, c.est)
	}
	rng := rand.New(rand.NewPCG(1, 2))
	for range 1000 {
		sizes := make([]int64, rng.IntN(kvMaxRuns+1))
		for i := range sizes {
			sizes[i] = rng.Int64N(1 << 20)
		}
		k := kvFoldCount(sizes, rng.Int64N(1<<20))
		require.LessOrEqual(t, len(sizes)-k+1, kvMaxRuns)
		require.GreaterOrEqual(t, k, 0)
		require.LessOrEqual(t, k, len(sizes))
	}
}

// Checkpoints of changes of one size each write, over the runs they
// fold, a few times the bytes of the final set: not a number that grows
// with the checkpoints (the newest run of a full set, folded alone each
// time, wrote 273 times the final set over 600 checkpoints).
func TestKvFoldCountWritesLittle(t *testing.T) {
	for _, n := range []int{15, 150, 600, 2000} {
		var sizes []int64
		var written int64
		for range n {
			k := kvFoldCount(sizes, 1)
			run := int64(1)
			for _, x := range sizes[len(sizes)-k:] {
				run += x
			}
			sizes = append(sizes[:len(sizes)-k], run)
			written += run
			require.LessOrEqual(t, len(sizes), kvMaxRuns)
		}
		amp := float64(written) / float64(n)
		t.Logf("%d checkpoints: %.1f times the final set written, runs %v", n, amp, sizes)
		require.Less(t, amp, 40.0, "%d checkpoints", n)
		if n <= 600 {
			require.Less(t, amp, 12.0, "%d checkpoints", n)
		}
	}
}

// A set of runs reads as its newest entries: a get and a scan from any
// key give, for each key, the entry of the newest run that holds it,
// tombstones included, and a fold of the newest runs (not the oldest)
// keeps tombstones while a fold into the oldest drops them.
func TestKvRunSetReads(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 8))
	dir := t.TempDir()
	want := map[string]kvRunEntry{}
	set := &kvRunSet{}
	rev := uint64(1)
	for gen := uint64(1); gen <= 4; gen++ {
		var ch []kvRunChange
		for _, i := range rng.Perm(400)[:100+rng.IntN(200)] {
			k := fmt.Sprintf("k%04d", i)
			rev++
			if rng.IntN(4) == 0 && gen > 1 {
				ch = append(ch, kvRunChange{kvRunEntry: kvRunEntry{key: k, rev: rev}, drop: true})
				want[k] = kvRunEntry{key: k, rev: rev}
				continue
			}
			e := kvRunEntry{key: k, live: true, rev: rev, value: fmt.Appendf(nil, "%d-%d", gen, rev), revs: []uint64{rev}}
			ch = append(ch, kvRunChange{kvRunEntry: e})
			want[k] = e
		}
		slices.SortFunc(ch, func(a, b kvRunChange) int { return cmpStr(a.key, b.key) })
		r, err := mergeKvRun(osP(), filepath.Join(dir, kvRunName(gen)), kvRunTestID, gen, rev, nil, nil, ch, kvRunTestKeep, gen == 1, nil)
		require.NoError(t, err)
		set.runs = append(set.runs, openRun(t, r.path, gen, r.hdrCRC))
		require.NoError(t, set.newest().verify(osP(), kvRunTestID))
	}
	var cache recCache
	cache.setupSize(32<<10, 0)
	check := func(set *kvRunSet, tombs bool) {
		t.Helper()
		for i := range 420 {
			k := fmt.Sprintf("k%04d", i)
			got, ok, err := set.get(osP(), &cache, k)
			require.NoError(t, err)
			w, has := want[k]
			if !tombs && has && !w.live {
				has = false
			}
			require.Equal(t, has, ok, k)
			if ok {
				sameEntry(t, w, got)
			}
		}
		for _, from := range []string{"", "k0100", "k0250x", "k9"} {
			var keys []string
			require.NoError(t, set.scan(osP(), &cache, from, func(e *kvRunEntry) bool {
				keys = append(keys, e.key)
				sameEntry(t, want[e.key], *e)
				return true
			}))
			var wk []string
			for k, e := range want {
				if k >= from && (tombs || e.live) {
					wk = append(wk, k)
				}
			}
			slices.Sort(wk)
			require.Equal(t, wk, keys, "scan from %q", from)
		}
	}
	check(set, true)

	// A fold of the three newest keeps the tombstones that hide the
	// oldest's keys.
	upper := &kvRunSet{runs: set.runs[1:]}
	m, err := mergeKvRun(osP(), filepath.Join(dir, kvRunName(5)), kvRunTestID, 5, rev, upper, nil, nil, kvRunTestKeep, false, nil)
	require.NoError(t, err)
	two := &kvRunSet{runs: []*kvRun{set.runs[0], openRun(t, m.path, 5, m.hdrCRC)}}
	check(two, true)

	// A fold of all into a base drops them.
	b, err := mergeKvRun(osP(), filepath.Join(dir, kvRunName(6)), kvRunTestID, 6, rev, two, nil, nil, kvRunTestKeep, true, nil)
	require.NoError(t, err)
	base := &kvRunSet{runs: []*kvRun{openRun(t, b.path, 6, b.hdrCRC)}}
	check(base, false)
	require.NoError(t, base.runs[0].scan(osP(), nil, "", func(e *kvRunEntry) bool {
		require.True(t, e.live || len(e.revs) > 0, "tombstone %q in the oldest run", e.key)
		return true
	}))
	for _, s := range []*kvRunSet{set, two, base} {
		require.NoError(t, s.close(osP()))
	}
}

func cmpStr(a, b string) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// A store whose checkpoints come often builds up tiers of runs: after
// each, the set names at most kvMaxRuns, a checkpoint writes only the
// keys changed since the last (its run is smaller than the oldest), and
// every read, list, count and history agrees with the model across
// checkpoints, reopens and Verify, with deletes of keys in older runs
// hidden by tombstones until a fold into the oldest drops them.
func TestKvTierStore(t *testing.T) {
	opts := Options{CheckpointBytes: 2 << 10, IndexCacheBytes: 16 << 10, KvHistory: 3}
	e := newEnv(t, opts)
	rng := rand.New(rand.NewPCG(31, 32))
	m := kvModel{}
	// A base of many keys, then rounds that change a few.
	var ch []ops.KvChange
	for i := range 2000 {
		k := fmt.Sprintf("key/%02d/%d", i%30, i/30)
		ch = append(ch, ops.KvChange{Key: k, Value: fmt.Appendf(nil, "base-%d", i)})
		if len(ch) == 100 {
			res := must(t, e, ops.Commit{Kv: ch})
			for _, c := range ch {
				m[c.Key] = ops.KvEntry{Key: c.Key, Value: c.Value, Revision: res.Revision}
			}
			ch = nil
		}
	}
	e.reopen(opts)
	baseGen := e.s.st.kvRuns.runs[0].gen
	maxRuns, tiers, sameBase := 0, 0, 0
	for round := range 30 {
		kvWork(t, e, rng, m, 20)
		if round%5 == 4 {
			e.reopen(opts)
		}
		e.s.mu.RLock()
		rs := e.s.st.kvRuns
		n := len(rs.runs)
		if n > 1 {
			tiers++
		}
		if rs.runs[0].gen == baseGen {
			sameBase++ // the checkpoints since wrote none of its keys again
		}
		e.s.mu.RUnlock()
		require.LessOrEqual(t, n, kvMaxRuns, "round %d", round)
		maxRuns = max(maxRuns, n)
		kvCheck(t, e, m)
	}
	require.Greater(t, tiers, 10, "rounds with more than one run")
	require.Greater(t, sameBase, 5, "rounds whose checkpoints left the oldest run as it was")
	require.GreaterOrEqual(t, maxRuns, 3)
	h := must(t, e, ops.KvHistory{Key: "key/01/1", Limit: 10})
	if want, ok := m["key/01/1"]; ok {
		require.NotEmpty(t, h.Versions)
		require.Equal(t, want.Revision, h.Versions[0].Revision)
	}
	e.close()
	rep, err := Verify(e.p(), e.dir)
	require.NoError(t, err)
	require.Equal(t, len(m), rep.KvKeys)
	requireKvRunsNamed(t, e)
	e.open(opts)
	kvCheck(t, e, m)
	t.Logf("most runs %d, rounds with tiers %d, rounds on the first base %d", maxRuns, tiers, sameBase)
}

// A checkpoint of format 10 names its set of runs, oldest first, each
// with its own count of keys with a value, and the count of all; one of
// format 9 names one run, read as a set of it whose count is all keys'.
// A set out of order or a count above the entries is refused.
func TestKvTierCheckpointRefs(t *testing.T) {
	id := [16]byte{3}
	st, r := indexedState(id)
	st.kv = map[string]*kvEntry{}
	refs := []kvRunRef{{gen: 5, hdrCRC: 0xabcd, entries: 100, live: 90}, {gen: 9, hdrCRC: 7, entries: 10, live: 4}, {gen: 12, hdrCRC: 1, entries: 3, live: 0}}
	st.kvRefs, st.kvLive = refs, 93
	_, got, err := decodeCheckpoint(encodeCheckpoint(id, r, st), id)
	require.NoError(t, err)
	require.Equal(t, refs, got.kvRefs)
	require.Equal(t, 93, got.kvLive)

	v := viewOf(r, st)
	v.version, v.kvRefs, v.kvLive = ckptVersionIDFiles, refs[:1], 90
	_, got, err = decodeCheckpoint(v.encode(id), id)
	require.NoError(t, err)
	require.Equal(t, refs[:1], got.kvRefs)
	require.Equal(t, 90, got.kvLive)

	for _, bad := range [][]kvRunRef{
		{refs[1], refs[0]},              // not oldest first
		{refs[0], refs[0]},              // twice
		{{gen: 5, entries: 3, live: 4}}, // more with a value than entries
		{{gen: 0, entries: 1, live: 1}}, // generation 0
	} {
		st.kvRefs = bad
		_, _, err := decodeCheckpoint(encodeCheckpoint(id, r, st), id)
		require.Error(t, err, "%v", bad)
	}
}

// A run that is not the oldest carries a Bloom filter: every key it
// holds passes it, nearly every other key does not (so a kv-get of a key
// the newer runs lack reads a filter block of each, not a block of
// entries), and a damaged filter block is a CorruptError naming the run
// for the get that reads it and for verify.
func TestKvRunBloom(t *testing.T) {
	dir := t.TempDir()
	var ch []kvRunChange
	for i := range 3000 {
		k := fmt.Sprintf("key/%06d", 3*i)
		ch = append(ch, kvRunChange{kvRunEntry: kvRunEntry{key: k, live: true, rev: uint64(i + 1), value: []byte("v"), revs: []uint64{uint64(i + 1)}}})
	}
	w, err := mergeKvRun(osP(), filepath.Join(dir, kvRunName(2)), kvRunTestID, 2, 5000, nil, nil, ch, kvRunTestKeep, false, nil)
	require.NoError(t, err)
	r := openRun(t, w.path, 2, w.hdrCRC)
	require.Equal(t, kvBloomBlocks(3000), len(r.bloomSums))
	require.NoError(t, r.verify(osP(), kvRunTestID))
	pass := 0
	for i := range 9000 {
		ok, err := r.mayHold(osP(), nil, fmt.Sprintf("key/%06d", i))
		require.NoError(t, err)
		if i%3 == 0 {
			require.True(t, ok, i)
		} else if ok {
			pass++
		}
	}
	require.Less(t, pass, 6000/20, "absent keys passing the filter")
	base, err := mergeKvRun(osP(), filepath.Join(dir, kvRunName(1)), kvRunTestID, 1, 5000, nil, nil, ch, kvRunTestKeep, true, nil)
	require.NoError(t, err)
	require.Empty(t, base.bloomSums, "the oldest run has no filter")
	require.NoError(t, r.close(osP()))

	b, err := os.ReadFile(w.path)
	require.NoError(t, err)
	b[r.bloomOff+100] ^= 0x40
	require.NoError(t, os.WriteFile(w.path, b, 0o644))
	r = openRun(t, w.path, 2, w.hdrCRC)
	defer r.close(osP())
	var ce *CorruptError
	require.ErrorAs(t, r.verify(osP(), kvRunTestID), &ce)
	require.Equal(t, r.bloomOff, ce.Offset)
	_, _, err = r.get(osP(), nil, "key/000003")
	require.ErrorAs(t, err, &ce)
	require.Contains(t, ce.File, kvRunSuffix)
}
