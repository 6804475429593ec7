package file

import (
	"fmt"
	"math/rand/v2"
	"runtime"
	"testing"
	"unsafe"

	"github.com/stretchr/testify/require"

	"rose-ash.com/persist/ops"
	"rose-ash.com/persist/platform"
)

// A sealed segment read for its index file (scanSegment) keeps none of
// its kv changes, and its positions, streams and IDs are those of the
// events it holds as before.
func TestScanSegmentKeepsNoKv(t *testing.T) {
	e := newEnv(t, Options{SegmentSize: minSegmentSize, CheckpointBytes: -1})
	for i := range 600 {
		c := ops.Commit{Kv: []ops.KvChange{{Key: fmt.Sprintf("k%05d", i), Value: make([]byte, 100)}}}
		if i%3 == 0 {
			c.Appends = []ops.Append{{Stream: fmt.Sprint("s", i%4), Events: evs(fmt.Sprint(i))}}
		}
		must(t, e, c)
	}
	sg := e.s.segs[1]
	require.NotNil(t, sg)
	require.Greater(t, e.s.active.id, uint64(1), "segment 1 is sealed")
	st, err := scanSegment(e.p(), e.s.id, sg, true, 1<<20, nil, nil)
	require.NoError(t, err)
	require.Empty(t, st.kv, "the segment's kv keys")
	require.Empty(t, st.ret.hist.keys, "the segment's kv history")
	require.Empty(t, st.ret.hist.recs, "the segment's kv records")
	require.Positive(t, st.rev, "the segment's last kv revision")
	require.Positive(t, st.positions.len(), "the segment's events")
	require.Equal(t, st.positions.len(), int(st.events), "one event a commit")
	require.Len(t, st.streams, 4)
}

// kvState is a state of n kv keys (of 13 bytes, 40-byte values) put in
// commits of 1,000, and the heap they hold, after a collection.
func kvState(n int) (*state, uint64) {
	st := newState()
	value := make([]byte, 40)
	for c := 0; c < n; c += 1000 {
		rec := commitRec{rev: st.rev + 1}
		for i := c; i < min(c+1000, n); i++ {
			rec.kv = append(rec.kv, kvRec{op: kvPut, key: fmt.Sprintf("key/%09d", i), value: value})
		}
		st.apply(&rec, loc{seg: 1, off: uint32(c)})
	}
	return st, heapLive()
}

func heapLive() uint64 {
	var ms runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&ms)
	return ms.HeapAlloc
}

// Once a kv run takes the changes since the last (takeKvRun), the heap
// they held goes back: the maps of the changes and their history are
// made anew, since a map never gives back the room of what it held.
func TestTakeKvRunFreesTheMaps(t *testing.T) {
	base := heapLive()
	st, filled := kvState(100_000)
	require.Len(t, st.kv, 100_000)
	require.InDelta(t, float64(100_000*kvEntryBytes("key/000000000", make([]byte, 40))+100*kvRecBytes), float64(st.kvBytes), 1)
	held := float64(filled) - float64(base)
	t.Logf("100,000 keys: %.0f bytes of heap a key, counted %d", held/100_000, kvEntryHeap+53)
	// The keys after the run stay.
	rec := commitRec{rev: st.rev + 1, kv: []kvRec{{op: kvPut, key: "later", value: []byte("v")}}}
	rev := st.rev
	st.apply(&rec, loc{seg: 1, off: 1 << 20})
	st.takeKvRun(&kvRunSet{runs: []*kvRun{{gen: 9}}}, rev)
	after := heapLive()
	require.Len(t, st.kv, 1)
	require.Equal(t, kvEntryBytes("later", []byte("v"))+int64(len(st.ret.hist.recs))*kvRecBytes, st.kvBytes)
	require.Contains(t, st.ret.hist.keys, "later")
	require.Len(t, st.ret.hist.keys, 1)
	left := float64(after) - float64(base)
	require.Less(t, left, held/20, "heap left of %.0f after the run took the keys", held)
	runtime.KeepAlive(st)
}

// Kv changes past Options.KvBufferBytes make a checkpoint due, which
// moves them into a kv run: the heap they hold stays within the budget
// and a group's changes, whether the leader writes the checkpoint or a
// goroutine beside commits does, and every key reads back, before and
// after a reopen. Negative leaves them to CheckpointBytes.
func TestKvBufferBytesBoundsTheChanges(t *testing.T) {
	const budget = 64 << 10
	const keys, batch = 6000, 50
	one := kvEntryBytes("key/000000000", make([]byte, 40))
	background := &platform.OS{} // stands for the env's
	for _, tc := range []struct {
		name string
		opts Options
	}{
		{"leader", Options{CheckpointBytes: -1, KvBufferBytes: budget}},
		{"beside", Options{CheckpointBytes: -1, KvBufferBytes: budget, Background: background}},
		{"off", Options{CheckpointBytes: -1, KvBufferBytes: -1}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t, Options{})
			if tc.opts.Background == background {
				tc.opts.Background = e.os // the store's own
			}
			e.reopen(tc.opts)
			var most int64
			for c := 0; c < keys; c += batch {
				ch := make([]ops.KvChange, 0, batch)
				for i := c; i < c+batch; i++ {
					ch = append(ch, ops.KvChange{Key: fmt.Sprintf("key/%09d", i), Value: []byte(fmt.Sprintf("%040d", i))})
				}
				must(t, e, ops.Commit{Kv: ch})
				e.s.mu.RLock()
				most = max(most, e.s.st.kvBytes)
				e.s.mu.RUnlock()
			}
			e.s.waitCheckpoint()
			if tc.opts.KvBufferBytes < 0 {
				require.Zero(t, e.s.Stats().Checkpoints)
				require.Equal(t, int64(keys)*one+keys/batch*kvRecBytes, most, "every key in memory")
			} else if tc.opts.Background == nil {
				// The leader writes a due checkpoint before the next group.
				require.GreaterOrEqual(t, e.s.Stats().Checkpoints, uint64(keys)*uint64(one)/(budget+batch*uint64(one))-1)
				require.LessOrEqual(t, most, int64(budget)+int64(batch)*one, "heap of the changes")
			} else {
				// Beside commits the changes grow while one is written, by
				// as many groups as commit meanwhile, up to twice the
				// budget, where the leader waits for it (kvStall).
				require.GreaterOrEqual(t, e.s.Stats().Checkpoints, uint64(3))
				require.LessOrEqual(t, most, 2*int64(budget)+int64(batch)*one+kvRecBytes, "heap of the changes")
			}
			check := func() {
				for i := 0; i < keys; i += 7 {
					r := must(t, e, ops.KvGet{Key: fmt.Sprintf("key/%09d", i)})
					require.NotNil(t, r, "key %d", i)
					require.Equal(t, fmt.Sprintf("%040d", i), string(r.Value))
				}
				res := must(t, e, ops.KvList{Prefix: "key/", Limit: 1000})
				require.Len(t, res.Entries, 1000)
			}
			check()
			e.reopen(tc.opts)
			check()
		})
	}
}

// A store opened without a checkpoint reads the kv runs its own
// checkpoints write through the block cache: a kv-get of a key in a run
// leaves its block cached, as in a store opened from a checkpoint.
func TestFreshStoreCachesItsKvRuns(t *testing.T) {
	e := newEnv(t, Options{CheckpointBytes: -1, KvBufferBytes: 32 << 10})
	for c := 0; c < 1000; c += 50 {
		ch := make([]ops.KvChange, 0, 50)
		for i := c; i < c+50; i++ {
			ch = append(ch, ops.KvChange{Key: fmt.Sprintf("key/%09d", i), Value: make([]byte, 40)})
		}
		must(t, e, ops.Commit{Kv: ch})
	}
	require.Positive(t, e.s.Stats().Checkpoints)
	st := e.s.st
	require.NotNil(t, st.kvRuns, "the state took a run")
	require.NotNil(t, st.kvCache)
	const key = "key/000000003"
	r := st.kvRuns.runs[0]
	i := r.blockFor(key)
	require.GreaterOrEqual(t, i, 0)
	require.NotNil(t, must(t, e, ops.KvGet{Key: key}))
	_, cached := st.kvCache.test(loc{seg: r.cacheID, off: uint32(i)}, func([]byte) bool { return true })
	require.True(t, cached, "the run's block of %s is cached", key)
}

// A kv-get whose blocks the cache holds probes the filter and searches
// the block where they lie: it allocates what it gives (the value, the
// revisions, the key), not a copy of a 4 KiB block or two, and finds
// what the uncached read finds.
func TestCachedKvGetTakesNoBlockCopy(t *testing.T) {
	e := newEnv(t, Options{CheckpointBytes: -1, KvBufferBytes: 32 << 10})
	for c := 0; c < 1000; c += 50 {
		ch := make([]ops.KvChange, 0, 50)
		for i := c; i < c+50; i++ {
			ch = append(ch, ops.KvChange{Key: fmt.Sprintf("key/%09d", i), Value: []byte(fmt.Sprint(i))})
		}
		must(t, e, ops.Commit{Kv: ch})
	}
	must(t, e, ops.KvPut{Key: "zz", Value: []byte("v")}) // the last checkpoint's run taken
	st := e.s.st
	require.GreaterOrEqual(t, len(st.kvRuns.runs), 2, "runs with a filter")
	p := e.p()
	for i := range 1000 {
		key := fmt.Sprintf("key/%09d", i)
		if st.kv[key] != nil {
			continue
		}
		got, ok, err := st.kvRuns.get(p, st.kvCache, key)
		require.NoError(t, err)
		want, wok, err := st.kvRuns.get(p, nil, key)
		require.NoError(t, err)
		require.Equal(t, wok, ok, key)
		require.Equal(t, want, got, key)
		require.True(t, ok, key)
		require.Equal(t, fmt.Sprint(i), string(got.value))
	}
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	const n = 500
	for i := range n {
		if _, _, err := st.kvRuns.get(p, st.kvCache, fmt.Sprintf("key/%09d", i)); err != nil {
			t.Fatal(err)
		}
	}
	runtime.ReadMemStats(&after)
	per := float64(after.TotalAlloc-before.TotalAlloc) / n
	require.Less(t, per, 512.0, "bytes allocated a cached kv-get")
}

// A key put and then deleted before the store has a kv run leaves its
// changes (delete drops the entry) but not its history: its kept
// revisions stay in memory until a run takes them, so the budget counts
// them still. A writer of keys deleted soon after (a queue) otherwise
// held their history without end, the count back at nothing.
func TestKvBufferBytesCountsTheHistoryOfDeletedKeys(t *testing.T) {
	const budget = 64 << 10
	e := newEnv(t, Options{CheckpointBytes: -1, KvBufferBytes: budget})
	var most int
	for i := range 2000 {
		key := fmt.Sprintf("key/%09d", i)
		must(t, e, ops.Commit{Kv: []ops.KvChange{{Key: key, Value: make([]byte, 40)}}})
		must(t, e, ops.Commit{Kv: []ops.KvChange{{Key: key, Delete: true}}})
		e.s.mu.RLock()
		most = max(most, len(e.s.st.ret.hist.keys))
		e.s.mu.RUnlock()
	}
	e.s.waitCheckpoint()
	require.Positive(t, e.s.Stats().Checkpoints, "checkpoints before Close")
	require.LessOrEqual(t, most*kvEntryHeap, budget+2*int(kvEntryBytes("key/000000000", make([]byte, 40))),
		"keys of history in memory")
	for _, i := range []int{0, 999, 1999} {
		require.Nil(t, must(t, e, ops.KvGet{Key: fmt.Sprintf("key/%09d", i)}))
	}
	e.reopen(Options{CheckpointBytes: -1, KvBufferBytes: budget})
	require.Nil(t, must(t, e, ops.KvGet{Key: "key/000000999"}))
}

// Each kv commit since the last run leaves where its record lies in the
// history's list of records (kvHist.recs), whatever keys it changed: a
// writer that changes a few keys again and again holds one entry a
// commit, which the budget counts, as it does the keys.
func TestKvBufferBytesCountsTheRecords(t *testing.T) {
	const budget = 32 << 10
	e := newEnv(t, Options{CheckpointBytes: -1, KvBufferBytes: budget})
	most := 0
	for i := range 5000 {
		must(t, e, ops.KvPut{Key: fmt.Sprint("key", i%3), Value: []byte(fmt.Sprint(i))})
		e.s.mu.RLock()
		most = max(most, len(e.s.st.ret.hist.recs))
		e.s.mu.RUnlock()
	}
	e.s.waitCheckpoint()
	require.Positive(t, e.s.Stats().Checkpoints, "checkpoints before Close")
	require.LessOrEqual(t, most*int(unsafe.Sizeof(kvLoc{})), budget, "records in memory")
	require.Equal(t, "4998", string(must(t, e, ops.KvGet{Key: "key0"}).Value))
}

// kvBytesOf is what kvBytes should count of st, from what it holds.
func kvBytesOf(st *state) int64 {
	n := int64(len(st.ret.hist.recs)) * kvRecBytes
	for k, e := range st.kv {
		n += kvEntryBytes(k, e.value)
	}
	if st.kvRuns == nil {
		for k := range st.ret.hist.keys {
			if st.kv[k] == nil {
				n += kvEntryBytes(k, nil)
			}
		}
	}
	return n
}

// The count the kv budget bounds follows what the state holds through
// puts, overwrites, deletes and puts again of deleted keys, before the
// store has a run and after, and across checkpoints and a reopen: it
// neither drifts nor goes below nothing.
func TestKvBytesFollowsTheChanges(t *testing.T) {
	opts := Options{CheckpointBytes: -1, KvBufferBytes: 6 << 10}
	e := newEnv(t, opts)
	rng := rand.New(rand.NewPCG(3, 4))
	check := func(what string) {
		e.s.mu.RLock()
		defer e.s.mu.RUnlock()
		require.Equal(t, kvBytesOf(e.s.st), e.s.st.kvBytes, what)
		require.GreaterOrEqual(t, e.s.st.kvBytes, int64(0), what)
	}
	for i := range 600 {
		var ch []ops.KvChange
		seen := map[string]bool{}
		for range 1 + rng.IntN(6) {
			key := fmt.Sprint("k", rng.IntN(40))
			if seen[key] {
				continue
			}
			seen[key] = true
			if rng.IntN(3) == 0 {
				ch = append(ch, ops.KvChange{Key: key, Delete: true})
			} else {
				ch = append(ch, ops.KvChange{Key: key, Value: make([]byte, rng.IntN(100))})
			}
		}
		must(t, e, ops.Commit{Kv: ch})
		check(fmt.Sprint("commit ", i))
		if i == 300 {
			e.reopen(opts)
			check("reopened")
		}
	}
	e.s.waitCheckpoint()
	require.Positive(t, e.s.Stats().Checkpoints)
}

// A kv commit that changes no key (a delete of a key that is not there)
// leaves its record in the history's list, which the budget counts, and
// nothing a kv run would take: the budget makes no checkpoint due then,
// rather than one at every commit that writes no run and frees nothing.
func TestKvBufferBytesWithNothingToMove(t *testing.T) {
	e := newEnv(t, Options{CheckpointBytes: -1, KvBufferBytes: 4 << 10})
	for i := range 1000 {
		must(t, e, ops.Commit{Kv: []ops.KvChange{{Key: fmt.Sprint("absent", i), Delete: true}}})
	}
	require.Zero(t, e.s.Stats().Checkpoints)
	must(t, e, ops.KvPut{Key: "k", Value: []byte("v")})
	e.s.waitCheckpoint()
	require.Equal(t, uint64(1), e.s.Stats().Checkpoints, "a key changed: a run to write")
	must(t, e, ops.KvPut{Key: "k2", Value: []byte("v")})
	require.Equal(t, uint64(1), e.s.Stats().Checkpoints, "the run took the records")
	require.Equal(t, "v", string(must(t, e, ops.KvGet{Key: "k"}).Value))
}
