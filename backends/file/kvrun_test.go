package file

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"rose-ash.com/persist/effect"
	"rose-ash.com/persist/platform"
)

var kvRunTestID = [16]byte{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16}

// kvRunOS is the OS handler of the run tests: file descriptors belong to
// the handler that opened them.
var kvRunOS = &platform.OS{}

func osP() *effect.P { return effect.Handle(context.Background(), kvRunOS) }

// kvRunModel makes n entries with keys in byte order, values of varied
// sizes (some larger than a block), some deleted keys with history.
func kvRunModel(rng *rand.Rand, n int) []kvRunEntry {
	keys := make(map[string]bool)
	for len(keys) < n {
		keys[fmt.Sprintf("k/%d/%x", rng.IntN(50), rng.Uint64()%1e9)] = true
	}
	sorted := slices.Sorted(func(yield func(string) bool) {
		for k := range keys {
			if !yield(k) {
				return
			}
		}
	})
	out := make([]kvRunEntry, 0, n)
	for i, k := range sorted {
		rev := uint64(10 + i*3)
		e := kvRunEntry{key: k, live: rng.IntN(9) != 0, rev: rev, revs: []uint64{rev - 2, rev}}
		if e.live {
			size := rng.IntN(200)
			if rng.IntN(60) == 0 {
				size = 5000 + rng.IntN(9000)
			}
			e.value = make([]byte, size)
			for j := range e.value {
				e.value[j] = byte(rng.Uint32())
			}
		}
		if rng.IntN(4) == 0 {
			e.revs = []uint64{rev}
		}
		out = append(out, e)
	}
	return out
}

func writeRun(t *testing.T, path string, gen uint64, es []kvRunEntry) *kvRun {
	t.Helper()
	ch := make([]kvRunChange, len(es))
	for i := range es {
		ch[i].kvRunEntry = es[i]
	}
	r, err := mergeKvRun(osP(), path, kvRunTestID, gen, 1000, nil, nil, ch, kvRunTestKeep, true, nil)
	require.NoError(t, err)
	return r
}

func openRun(t *testing.T, path string, gen uint64, want uint32) *kvRun {
	t.Helper()
	r, err := openKvRun(osP(), path, kvRunTestID, gen, want)
	require.NoError(t, err)
	t.Cleanup(func() { _ = r.close(osP()) })
	return r
}

func sameEntry(t *testing.T, want kvRunEntry, got kvRunEntry) {
	t.Helper()
	assert.Equal(t, want.key, got.key)
	assert.Equal(t, want.live, got.live, want.key)
	assert.Equal(t, want.rev, got.rev, want.key)
	assert.Equal(t, len(want.value), len(got.value), want.key)
	assert.True(t, string(want.value) == string(got.value), want.key)
	assert.Equal(t, want.revs, got.revs, want.key)
}

// A run reads back every entry by key and in order from any key, finds
// no key it does not hold, and verifies.
func TestKvRunRoundTrip(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	es := kvRunModel(rng, 3000)
	path := filepath.Join(t.TempDir(), kvRunName(7))
	w := writeRun(t, path, 7, es)
	require.Greater(t, len(w.blocks), 20)
	r := openRun(t, path, 7, w.hdrCRC)
	require.Equal(t, uint64(len(es)), r.entries)
	require.Equal(t, w.blocks, r.blocks)
	require.Equal(t, uint64(1000), r.rev)
	require.NoError(t, r.verify(osP(), kvRunTestID))
	require.Equal(t, w.live, r.live)
	var cache recCache
	cache.setupSize(64<<10, 0)
	p := osP()
	for _, e := range es {
		got, ok, err := r.get(p, &cache, e.key)
		require.NoError(t, err)
		require.True(t, ok, e.key)
		sameEntry(t, e, got)
		for _, miss := range []string{e.key + "\x00", e.key[:len(e.key)-1]} {
			i := sort.Search(len(es), func(i int) bool { return es[i].key >= miss })
			if i < len(es) && es[i].key == miss {
				continue
			}
			_, ok, err := r.get(p, &cache, miss)
			require.NoError(t, err)
			require.False(t, ok, miss)
		}
	}
	_, ok, err := r.get(p, &cache, "")
	require.NoError(t, err)
	require.False(t, ok)
	for range 50 {
		from := es[rng.IntN(len(es))].key[:rng.IntN(6)+1]
		i := sort.Search(len(es), func(i int) bool { return es[i].key >= from })
		var got []kvRunEntry
		require.NoError(t, r.scan(p, &cache, from, func(e *kvRunEntry) bool {
			e.value = cloneBytes(e.value)
			got = append(got, *e)
			return len(got) < 40
		}))
		want := es[i:min(i+40, len(es))]
		require.Len(t, got, len(want), from)
		for j := range want {
			sameEntry(t, want[j], got[j])
		}
	}
}

// A merge puts changes over the old run: new keys in place, changed ones
// replaced, dropped ones gone; an empty merge writes an empty run.
func TestKvRunMerge(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	dir := t.TempDir()
	es := kvRunModel(rng, 1500)
	old := writeRun(t, filepath.Join(dir, kvRunName(1)), 1, es)
	old = openRun(t, old.path, 1, old.hdrCRC)
	want := make(map[string]kvRunEntry)
	for _, e := range es {
		want[e.key] = e
	}
	var changes []kvRunChange
	for _, e := range kvRunModel(rng, 300) {
		changes = append(changes, kvRunChange{kvRunEntry: e})
	}
	for i, e := range es {
		if i%7 == 0 {
			changes = append(changes, kvRunChange{kvRunEntry: kvRunEntry{key: e.key}, drop: true})
		}
		if i%11 == 0 {
			changes = append(changes, kvRunChange{kvRunEntry: kvRunEntry{key: e.key, live: true, rev: 5000 + uint64(i), value: []byte("new"), revs: []uint64{5000 + uint64(i)}}})
		}
	}
	slices.SortStableFunc(changes, func(a, b kvRunChange) int {
		switch {
		case a.key < b.key:
			return -1
		case a.key > b.key:
			return 1
		}
		return 0
	})
	changes = slices.CompactFunc(changes, func(a, b kvRunChange) bool { return a.key == b.key }) // one change a key: the drop of i%77 wins
	for _, c := range changes {
		if c.drop {
			delete(want, c.key)
		} else {
			want[c.key] = c.kvRunEntry
		}
	}
	var cache recCache
	cache.setupSize(16<<10, 0)
	m, err := mergeKvRun(osP(), filepath.Join(dir, kvRunName(2)), kvRunTestID, 2, 6000, &kvRunSet{runs: []*kvRun{old}}, &cache, changes, kvRunTestKeep, true, nil)
	require.NoError(t, err)
	r := openRun(t, m.path, 2, m.hdrCRC)
	require.NoError(t, r.verify(osP(), kvRunTestID))
	require.Equal(t, uint64(len(want)), r.entries)
	n := 0
	require.NoError(t, r.scan(osP(), nil, "", func(e *kvRunEntry) bool {
		w, ok := want[e.key]
		require.True(t, ok, e.key)
		sameEntry(t, w, *e)
		n++
		return true
	}))
	require.Equal(t, len(want), n)

	empty, err := mergeKvRun(osP(), filepath.Join(dir, kvRunName(3)), kvRunTestID, 3, 0, nil, nil, nil, kvRunTestKeep, true, nil)
	require.NoError(t, err)
	e := openRun(t, empty.path, 3, empty.hdrCRC)
	require.NoError(t, e.verify(osP(), kvRunTestID))
	_, ok, err := e.get(osP(), nil, "x")
	require.NoError(t, err)
	require.False(t, ok)
}

// Keys out of order are refused and leave no file.
func TestKvRunOrder(t *testing.T) {
	path := filepath.Join(t.TempDir(), kvRunName(1))
	_, err := mergeKvRun(osP(), path, kvRunTestID, 1, 9, nil, nil, []kvRunChange{
		{kvRunEntry: kvRunEntry{key: "b", live: true, rev: 1, revs: []uint64{1}}},
		{kvRunEntry: kvRunEntry{key: "a", live: true, rev: 2, revs: []uint64{2}}},
	}, kvRunTestKeep, true, nil)
	require.ErrorContains(t, err, `key "a" out of order`)
	_, err = os.Stat(path)
	require.True(t, errors.Is(err, os.ErrNotExist))
}

// Every damage is found: a torn file or a damaged header or index at
// open, a flipped bit in a block at its read and by verify, each a
// CorruptError naming the file; none gives wrong bytes.
func TestKvRunDamage(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	es := kvRunModel(rng, 800)
	dir := t.TempDir()
	good := writeRun(t, filepath.Join(dir, kvRunName(4)), 4, es)
	orig, err := os.ReadFile(good.path)
	require.NoError(t, err)
	path := filepath.Join(dir, "damaged.run")
	try := func(b []byte) (*kvRun, error) {
		require.NoError(t, os.WriteFile(path, b, 0o644))
		return openKvRun(osP(), path, kvRunTestID, 4, good.hdrCRC)
	}
	isCorrupt := func(err error, what string) {
		t.Helper()
		require.Error(t, err, what)
		require.True(t, errors.Is(err, ErrCorrupt), "%s: %v", what, err)
		require.ErrorContains(t, err, path, what)
	}
	for _, n := range []int{0, 10, kvRunHeader, kvRunHeader + 100, len(orig) / 2, len(orig) - 1} {
		_, err := try(orig[:n])
		isCorrupt(err, fmt.Sprint("torn at ", n))
	}
	idxOff := int(good.blocks[len(good.blocks)-1].off) + int(good.blocks[len(good.blocks)-1].n)
	for _, off := range []int{0, 9, 20, 30, 40, 50, 61, idxOff, idxOff + 3, len(orig) - 2} {
		b := slices.Clone(orig)
		b[off] ^= 0x10
		r, err := try(b)
		if err == nil {
			// A flip in the counted entries is found by verify.
			err = r.verify(osP(), kvRunTestID)
			_ = r.close(osP())
		}
		isCorrupt(err, fmt.Sprint("bit flip at ", off))
	}
	_, err = openKvRun(osP(), good.path, kvRunTestID, 5, 0)
	require.ErrorContains(t, err, "generation 4, want 5")
	_, err = openKvRun(osP(), good.path, [16]byte{9}, 4, 0)
	require.ErrorContains(t, err, "another store")
	for trial := range 40 {
		blk := good.blocks[rng.IntN(len(good.blocks))]
		off := int(blk.off) + rng.IntN(int(blk.n))
		b := slices.Clone(orig)
		b[off] ^= 1 << rng.IntN(8)
		r, err := try(b)
		require.NoError(t, err, "flip in a block is not seen at open")
		var first error
		for _, e := range es {
			got, ok, err := r.get(osP(), nil, e.key)
			if err != nil {
				first = err
				continue
			}
			require.True(t, ok, e.key)
			sameEntry(t, e, got)
		}
		isCorrupt(first, fmt.Sprint("trial ", trial, " block flip at ", off))
		isCorrupt(r.verify(osP(), kvRunTestID), "verify")
		_ = r.close(osP())
	}
}

// Reads through one cache from many goroutines agree with the model.
func TestKvRunConcurrentReads(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 8))
	es := kvRunModel(rng, 2000)
	path := filepath.Join(t.TempDir(), kvRunName(1))
	w := writeRun(t, path, 1, es)
	r := openRun(t, path, 1, w.hdrCRC)
	var cache recCache
	cache.setupSize(32<<10, 0)
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for g := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			p := osP()
			rng := rand.New(rand.NewPCG(uint64(g), 9))
			for range 400 {
				e := es[rng.IntN(len(es))]
				got, ok, err := r.get(p, &cache, e.key)
				if err != nil || !ok || got.rev != e.rev || string(got.value) != string(e.value) {
					errs <- fmt.Errorf("get %q: %v %v %d", e.key, ok, err, got.rev)
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
}

func TestKvRunName(t *testing.T) {
	gen, ok := isKvRunName(kvRunName(0xabc))
	require.True(t, ok)
	require.Equal(t, uint64(0xabc), gen)
	for _, bad := range []string{"kv-12.run", "kv-00000000000000zz.run", "seg-0000000000000001.idx", "kv-0000000000000001.run.tmp"} {
		_, ok := isKvRunName(bad)
		require.False(t, ok, bad)
	}
}

// FuzzKvRun opens, verifies and reads arbitrary bytes as a run file: it
// must give an error or entries in order, never panic, and a run it
// accepts whole must verify only if every block reads.
func FuzzKvRun(f *testing.F) {
	dir := f.TempDir()
	rng := rand.New(rand.NewPCG(11, 12))
	for i, n := range []int{0, 1, 40, 300} {
		es := kvRunModel(rng, n)
		ch := make([]kvRunChange, len(es))
		for j := range es {
			ch[j].kvRunEntry = es[j]
		}
		path := filepath.Join(dir, kvRunName(uint64(i)))
		if _, err := mergeKvRun(osP(), path, kvRunTestID, 1, 99, nil, nil, ch, kvRunTestKeep, true, nil); err != nil {
			f.Fatal(err)
		}
		b, err := os.ReadFile(path)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	// A run of format 2: blocks without entry tables.
	{
		es := kvRunModel(rng, 120)
		ch := make([]kvRunChange, len(es))
		for j := range es {
			ch[j].kvRunEntry = es[j]
		}
		path := filepath.Join(dir, kvRunName(8))
		if _, err := mergeKvRunAs(kvRunVersion2, osP(), path, kvRunTestID, 1, 99, nil, nil, ch, kvRunTestKeep, true, nil, 0, nil); err != nil {
			f.Fatal(err)
		}
		b, err := os.ReadFile(path)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	// A tier over older runs: tombstones among the entries (version 2).
	es := kvRunModel(rng, 60)
	ch := make([]kvRunChange, len(es))
	for j := range es {
		ch[j].kvRunEntry = es[j]
		if j%3 == 0 {
			ch[j] = kvRunChange{kvRunEntry: kvRunEntry{key: es[j].key, rev: es[j].rev}, drop: true}
		}
	}
	// With history records: several blocks of them, across segments.
	var recs []kvLoc
	for i := range 1500 {
		recs = append(recs, kvLoc{rev: uint64(3 + 2*i), loc: loc{seg: uint32(1 + i/400), off: uint32(64 + 96*(i%400))}})
	}
	path := filepath.Join(dir, kvRunName(9))
	if _, err := mergeKvRun(osP(), path, kvRunTestID, 1, 99, nil, nil, ch, kvRunTestKeep, false, recs); err != nil {
		f.Fatal(err)
	}
	if b, err := os.ReadFile(path); err != nil {
		f.Fatal(err)
	} else {
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		path := filepath.Join(t.TempDir(), "f.run")
		if err := os.WriteFile(path, b, 0o644); err != nil {
			t.Fatal(err)
		}
		p := osP()
		r, err := openKvRun(p, path, kvRunTestID, 1, 0)
		if err != nil {
			if !errors.Is(err, ErrCorrupt) {
				t.Fatalf("not a CorruptError: %v", err)
			}
			return
		}
		defer r.close(p)
		verr := r.verify(p, kvRunTestID)
		last, n := "", 0
		var scanned []kvRunEntry
		serr := r.scan(p, nil, "", func(e *kvRunEntry) bool {
			if n > 0 && e.key <= last {
				t.Fatalf("scan out of order: %q after %q", e.key, last)
			}
			last = e.key
			n++
			if len(scanned) < 50 {
				c := *e
				c.value = cloneBytes(e.value)
				scanned = append(scanned, c)
			}
			return true
		})
		if verr == nil && serr != nil {
			t.Fatalf("verified, but scan fails: %v", serr)
		}
		// A lookup of each key the scan gave (the entry table's search
		// in format 3, a walk before) finds the scan's entry once the run
		// verifies, and else an error or an entry, never a panic.
		for _, want := range scanned {
			got, ok, err := r.get(p, nil, want.key)
			if err != nil && !errors.Is(err, ErrCorrupt) {
				t.Fatalf("not a CorruptError: %v", err)
			}
			if verr == nil && (err != nil || !ok || got.rev != want.rev || got.live != want.live || string(got.value) != string(want.value)) {
				t.Fatalf("verified, but get %q gives %v %v %+v, the scan %+v", want.key, ok, err, got, want)
			}
		}
		if verr == nil && uint64(n) != r.entries {
			t.Fatalf("verified with %d entries, header %d", n, r.entries)
		}
		var nr, lastRev uint64
		_, rerr := r.recScan(p, nil, 0, func(x kvLoc) bool {
			if nr > 0 && x.rev <= lastRev {
				t.Fatalf("history records out of order: %d after %d", x.rev, lastRev)
			}
			nr, lastRev = nr+1, x.rev
			return true
		})
		if rerr != nil && !errors.Is(rerr, ErrCorrupt) {
			t.Fatalf("not a CorruptError: %v", rerr)
		}
		if verr == nil && (rerr != nil || nr != r.recN) {
			t.Fatalf("verified, but the history reads %d of %d records: %v", nr, r.recN, rerr)
		}
	})
}

// rewriteKvRun rewrites the newest kv run the checkpoint state st names
// with key's value replaced, a run that validates, and makes st name it.
func rewriteKvRun(t *testing.T, e *env, st *state, key string, value []byte) {
	t.Helper()
	p := e.p()
	id := e.s0id(t)
	ref := &st.kvRefs[len(st.kvRefs)-1]
	path := filepath.Join(e.dir, logDir, kvRunName(ref.gen))
	r, err := openKvRun(p, path, id, ref.gen, ref.hdrCRC)
	require.NoError(t, err)
	var changes []kvRunChange
	require.NoError(t, r.scan(p, nil, "", func(x *kvRunEntry) bool {
		c := kvRunChange{kvRunEntry: *x}
		c.value = cloneBytes(x.value)
		c.revs = slices.Clone(x.revs)
		if c.key == key {
			c.value = value
		}
		changes = append(changes, c)
		return true
	}))
	var recs []kvLoc
	_, err = r.recScan(p, nil, 0, func(x kvLoc) bool { recs = append(recs, x); return true })
	require.NoError(t, err)
	require.NoError(t, r.close(p))
	w, err := mergeKvRun(p, path+".new", id, ref.gen, r.rev, nil, nil, changes, kvRunTestKeep, len(st.kvRefs) == 1, recs)
	require.NoError(t, err)
	require.NoError(t, os.Rename(path+".new", path))
	ref.hdrCRC = w.hdrCRC
}

// kvRunTestKeep is the history depth the tests merge runs with: the
// most, so that no entry loses a revision.
const kvRunTestKeep = 1 << 20
