package file

import (
	"bytes"
	"errors"
	"math/rand/v2"
	"path/filepath"
	"sort"
	"testing"

	"github.com/stretchr/testify/require"
)

// walkBlock gives the offsets and keys of the entries of ents, walked
// one by one; false when an entry is malformed or the keys are not in
// byte order.
func walkBlock(ents []byte) ([]int, []string, bool) {
	var offs []int
	var keys []string
	d := decoder{b: ents}
	for len(d.b) > 0 {
		offs = append(offs, len(ents)-len(d.b))
		k, _, _, ok := skipKvEntry(&d)
		if !ok || len(keys) > 0 && string(k) <= keys[len(keys)-1] {
			return nil, nil, false
		}
		keys = append(keys, string(k))
	}
	return offs, keys, true
}

// tableAgrees reports whether b is a block whose table gives each of
// its entries, walked one by one, in byte order: what Verify requires.
func tableAgrees(b []byte) bool {
	ents, tab, ok := splitBlock(b)
	if !ok {
		return false
	}
	offs, _, ok := walkBlock(ents)
	if !ok || len(offs) != len(tab)/kvTableEntry {
		return false
	}
	for i, o := range offs {
		if tableOff(tab, i) != o {
			return false
		}
	}
	return true
}

// Every block of entries of a run of format 3 ends in a table that gives
// each of its entries, and holds at most 4096 bytes with its checksum
// unless it holds one entry; the same entries written in format 2 (no
// tables) read the same, by key from the disk and from the cache, and a
// key a run does not hold is not found in either.
func TestKvRunTables(t *testing.T) {
	rng := rand.New(rand.NewPCG(31, 32))
	es := kvRunModel(rng, 3000)
	dir := t.TempDir()
	ch := make([]kvRunChange, len(es))
	for i := range es {
		ch[i].kvRunEntry = es[i]
	}
	var runs []*kvRun
	for i, v := range []uint32{kvRunVersion2, kvRunVersion} {
		path := filepath.Join(dir, kvRunName(uint64(i+1)))
		w, err := mergeKvRunAs(v, osP(), path, kvRunTestID, uint64(i+1), 1000, nil, nil, ch, kvRunTestKeep, true, nil, 0, nil)
		require.NoError(t, err)
		r := openRun(t, path, uint64(i+1), w.hdrCRC)
		require.Equal(t, v, r.version)
		require.Equal(t, v == kvRunVersion, r.table)
		require.NoError(t, r.verify(osP(), kvRunTestID))
		runs = append(runs, r)
	}
	r := runs[1]
	require.Greater(t, len(r.blocks), len(runs[0].blocks), "the tables take room")
	n := 0
	for i, bl := range r.blocks {
		b, err := r.readBlock(osP(), nil, i, bl.off, bl.n, bl.sum)
		require.NoError(t, err)
		require.True(t, tableAgrees(b), "block %d", i)
		ents, tab, _ := splitBlock(b)
		_, keys, _ := walkBlock(ents)
		require.Equal(t, bl.first, keys[0])
		if len(keys) > 1 {
			require.LessOrEqual(t, int(bl.n), kvRunBlockSize, "block %d", i)
		}
		require.Equal(t, len(keys), len(tab)/kvTableEntry)
		n += len(keys)
	}
	require.Equal(t, len(es), n)
	var cache recCache
	cache.setupSize(1<<20, 0)
	p := osP()
	for _, e := range es {
		for _, r := range runs {
			for _, c := range []*recCache{nil, &cache, &cache} {
				got, ok, err := r.get(p, c, e.key)
				require.NoError(t, err)
				require.True(t, ok, e.key)
				sameEntry(t, e, got)
			}
			for _, miss := range []string{e.key + "\x00", e.key[:len(e.key)-1], e.key + "~"} {
				i := sort.Search(len(es), func(i int) bool { return es[i].key >= miss })
				if i < len(es) && es[i].key == miss {
					continue
				}
				for _, c := range []*recCache{nil, &cache} {
					_, ok, err := r.get(p, c, miss)
					require.NoError(t, err)
					require.False(t, ok, miss)
				}
			}
		}
	}
}

// A scan of a run of format 2 or 3 from any key, a set's merge of them
// too, starts at the first entry at or after it (found in the first
// block by its table, or a walk of keys) and gives the entries in order,
// with their kept revisions or, for a kv-list, without.
func TestKvRunScanFrom(t *testing.T) {
	rng := rand.New(rand.NewPCG(37, 38))
	es := kvRunModel(rng, 1500)
	dir := t.TempDir()
	ch := make([]kvRunChange, len(es))
	for i := range es {
		ch[i].kvRunEntry = es[i]
	}
	var runs []*kvRun
	for i, v := range []uint32{kvRunVersion2, kvRunVersion} {
		path := filepath.Join(dir, kvRunName(uint64(i+1)))
		w, err := mergeKvRunAs(v, osP(), path, kvRunTestID, uint64(i+1), 1000, nil, nil, ch, kvRunTestKeep, true, nil, 0, nil)
		require.NoError(t, err)
		runs = append(runs, openRun(t, path, uint64(i+1), w.hdrCRC))
	}
	var cache recCache
	cache.setupSize(1<<20, 0)
	p := osP()
	set := &kvRunSet{runs: runs} // the same entries twice: the newer wins, alike
	for trial := range 300 {
		from := ""
		switch trial % 3 {
		case 0:
			from = es[rng.IntN(len(es))].key
		case 1:
			from = es[rng.IntN(len(es))].key + "\x00"
		case 2:
			k := es[rng.IntN(len(es))].key
			from = k[:rng.IntN(len(k))]
		}
		i := sort.Search(len(es), func(i int) bool { return es[i].key >= from })
		want := es[i:min(i+30, len(es))]
		revs := trial%2 == 0
		for _, scan := range []func(fn func(e *kvRunEntry) bool) error{
			func(fn func(e *kvRunEntry) bool) error { return runs[0].scanRevs(p, &cache, from, revs, fn) },
			func(fn func(e *kvRunEntry) bool) error { return runs[1].scanRevs(p, &cache, from, revs, fn) },
			func(fn func(e *kvRunEntry) bool) error { return set.scanRevs(p, &cache, from, revs, fn) },
		} {
			var got []kvRunEntry
			require.NoError(t, scan(func(e *kvRunEntry) bool {
				c := *e
				c.value = bytes.Clone(e.value)
				got = append(got, c)
				return len(got) < len(want)
			}))
			require.Len(t, got, len(want), "from %q", from)
			for j := range want {
				w := want[j]
				if !revs {
					w.revs = nil
				}
				sameEntry(t, w, got[j])
			}
		}
	}
}

// A block whose table does not give its entries (a count past the
// block, an offset outside the entries, offsets out of order), written
// under a good checksum, is refused by Verify, naming the block, and a
// lookup in it gives an error or the right entry, never another's.
func TestKvRunTableBad(t *testing.T) {
	rng := rand.New(rand.NewPCG(33, 34))
	var es []kvRunEntry
	for _, e := range kvRunModel(rng, 40) {
		if len(e.value) < 100 {
			es = append(es, e) // one block of them
		}
	}
	require.Greater(t, len(es), 10)
	for _, bad := range []struct {
		name string
		fix  func(offs []uint16) []uint16
	}{
		{"offsets swapped", func(o []uint16) []uint16 { o[3], o[4] = o[4], o[3]; return o }},
		{"an offset outside", func(o []uint16) []uint16 { o[5] = 4000; return o }},
		{"one short", func(o []uint16) []uint16 { return o[:len(o)-1] }},
		{"one more", func(o []uint16) []uint16 { return append(o, o[len(o)-1]+1) }},
		{"the first not at 0", func(o []uint16) []uint16 { o[0] = 1; return o }},
	} {
		t.Run(bad.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), kvRunName(3))
			w, err := newKvRunWriter(osP(), path, kvRunTestID, 3)
			require.NoError(t, err)
			for i := range es {
				require.NoError(t, w.add(&es[i]))
			}
			require.Len(t, w.blocks, 0, "one block, still being filled")
			w.offs = bad.fix(w.offs)
			wr, err := w.finish(99)
			require.NoError(t, err)
			r := openRun(t, path, 3, wr.hdrCRC)
			err = r.verify(osP(), kvRunTestID)
			require.Error(t, err)
			require.True(t, errors.Is(err, ErrCorrupt), "%v", err)
			require.ErrorContains(t, err, "block 0")
			for _, e := range es {
				got, ok, err := r.get(osP(), nil, e.key)
				if err != nil {
					require.True(t, errors.Is(err, ErrCorrupt), "%v", err)
					continue
				}
				if ok {
					sameEntry(t, e, got)
				}
			}
		})
	}
}

// FuzzKvBlockTable searches arbitrary bytes as a block with a table for
// a key: never a panic; a malformed table is an error of the run's
// lookup; and on a block whose table gives its entries in byte order (as
// Verify requires), the search finds exactly the entry a walk of the
// block finds.
func FuzzKvBlockTable(f *testing.F) {
	rng := rand.New(rand.NewPCG(35, 36))
	for _, n := range []int{1, 3, 30} {
		var blk []byte
		var offs []uint16
		es := kvRunModel(rng, n)
		for i := range es {
			if len(blk) > 3000 {
				break
			}
			offs = append(offs, uint16(len(blk)))
			blk = appendKvEntry(blk, &es[i])
		}
		blk = appendBlockTable(blk, offs)
		f.Add(blk, es[0].key)
		f.Add(blk, es[len(offs)-1].key)
		f.Add(blk, es[len(offs)/2].key+"\x00")
		f.Add(blk, "")
	}
	f.Add([]byte{0, 0}, "a")
	f.Add([]byte{1, 'a', 1, 1, 0, 0, 0, 0, 0, 1, 0}, "a")
	f.Fuzz(func(t *testing.T, b []byte, key string) {
		r := &kvRun{path: "f.run", kind: kvRunKind, version: kvRunVersion, table: true, blocks: []kvBlock{{off: kvRunHeader}}}
		var got *kvRunEntry
		found, err := r.find(b, 0, key, true, func(e kvRunEntry) {
			c := e
			c.value = bytes.Clone(e.value)
			got = &c
		})
		if err != nil && !errors.Is(err, ErrCorrupt) {
			t.Fatalf("not a CorruptError: %v", err)
		}
		if found != (got != nil) || found && err != nil {
			t.Fatalf("found %v, entry %v, error %v", found, got, err)
		}
		if !tableAgrees(b) {
			return
		}
		if err != nil {
			t.Fatalf("a block whose table agrees: %v", err)
		}
		ents, _, _ := splitBlock(b)
		offs, keys, _ := walkBlock(ents)
		i := sort.SearchStrings(keys, key)
		if i == len(keys) || keys[i] != key {
			if found {
				t.Fatalf("found %q, which the block does not hold", key)
			}
			return
		}
		d := decoder{b: ents[offs[i]:]}
		want := decodeKvEntry(&d)
		if d.err != nil {
			t.Fatalf("the walk's entry does not decode: %v", d.err)
		}
		if !found || got.key != want.key || got.live != want.live || got.rev != want.rev ||
			!bytes.Equal(got.value, want.value) || len(got.revs) != len(want.revs) {
			t.Fatalf("search gives %v %+v, the walk %+v", found, got, want)
		}
		for j := range want.revs {
			if got.revs[j] != want.revs[j] {
				t.Fatalf("revisions %v, want %v", got.revs, want.revs)
			}
		}
		// The revisions alone, undecoded: the same entry but for them.
		var lean *kvRunEntry
		if ok, err := r.find(b, 0, key, false, func(e kvRunEntry) { lean = &e }); !ok || err != nil ||
			lean.revs != nil || lean.rev != want.rev || !bytes.Equal(lean.value, want.value) {
			t.Fatalf("without revisions: %v %v %+v", ok, err, lean)
		}
	})
}
