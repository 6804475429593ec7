package file

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// streamRunModel makes n stream heads sorted by name, with names of
// varied lengths (some longer than a block) and dirs of either kind.
func streamRunModel(rng *rand.Rand, n int) []streamHead {
	names := make(map[string]bool)
	for len(names) < n {
		name := fmt.Sprintf("s/%d/%x", rng.IntN(40), rng.Uint64()%1e12)
		if rng.IntN(500) == 0 {
			name += strings.Repeat("x", 4000+rng.IntN(3000))
		}
		names[name] = true
	}
	out := make([]streamHead, 0, n)
	for name := range names {
		h := streamHead{name: name, head: 1 + rng.Uint64N(1e6)}
		if rng.IntN(3) != 0 {
			h.dir = 1 + rng.Uint32N(1<<31)
		}
		if rng.IntN(50) == 0 {
			h.dir = 1<<32 - 1
		}
		out = append(out, h)
	}
	slices.SortFunc(out, func(a, b streamHead) int { return strings.Compare(a.name, b.name) })
	return out
}

// writeStreamRunAt writes heads over old as run gen in dir and opens it.
func writeStreamRunAt(t testing.TB, dir string, gen uint64, old *kvRunSet, heads []streamHead) *kvRun {
	t.Helper()
	p := osP()
	path := filepath.Join(dir, streamRunName(gen))
	w, err := writeStreamRun(p, path, kvRunTestID, gen, gen+100, old, nil, heads, 0, nil)
	require.NoError(t, err)
	r, err := openStreamRun(p, path, kvRunTestID, gen, w.hdrCRC)
	require.NoError(t, err)
	require.Equal(t, w.entries, r.entries)
	r.live = r.entries
	t.Cleanup(func() { _ = r.close(p) })
	return r
}

// checkStreamRuns asserts that set holds exactly want (by name), through
// lookups, full and partial scans and a verify of every run.
func checkStreamRuns(t *testing.T, set *kvRunSet, want map[string]streamHead) {
	t.Helper()
	p := osP()
	var cache recCache
	cache.setupSize(1<<20, 1<<20)
	for name, h := range want {
		got, ok, err := streamRunGet(p, set, &cache, name)
		require.NoError(t, err)
		require.True(t, ok, name)
		require.Equal(t, h, got)
		_, ok, err = streamRunGet(p, set, &cache, name+"\x00")
		require.NoError(t, err)
		require.False(t, ok)
	}
	for _, name := range []string{"", "a", "s/", "s/99", "zzz"} {
		_, ok, err := streamRunGet(p, set, &cache, name)
		require.NoError(t, err)
		require.False(t, ok, name)
	}
	names := make([]string, 0, len(want))
	for name := range want {
		names = append(names, name)
	}
	slices.Sort(names)
	var got []string
	require.NoError(t, scanStreamRuns(p, set, &cache, "", func(h streamHead) bool {
		require.Equal(t, want[h.name], h)
		got = append(got, h.name)
		return true
	}))
	require.Equal(t, len(names), len(got))
	if len(names) > 0 {
		require.Equal(t, names, got)
		from := names[len(names)/2]
		got = got[:0]
		require.NoError(t, scanStreamRuns(p, set, &cache, from, func(h streamHead) bool {
			got = append(got, h.name)
			return len(got) < 3
		}))
		require.Equal(t, names[len(names)/2:min(len(names), len(names)/2+3)], got)
	}
	for _, r := range set.runs {
		require.NoError(t, verifyStreamRun(p, r, kvRunTestID))
	}
}

func TestStreamRunRoundTrip(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for _, n := range []int{0, 1, 17, 5000} {
		t.Run(fmt.Sprint(n), func(t *testing.T) {
			heads := streamRunModel(rng, n)
			r := writeStreamRunAt(t, t.TempDir(), 7, nil, heads)
			require.Equal(t, uint64(n), r.entries)
			require.Equal(t, uint64(107), r.rev)
			require.NotEmpty(t, r.bloomSums)
			want := make(map[string]streamHead, n)
			for _, h := range heads {
				want[h.name] = h
			}
			checkStreamRuns(t, &kvRunSet{runs: []*kvRun{r}}, want)
		})
	}
}

// A newer run's head of a stream wins over the older runs', and a run
// written over a set folds its heads in.
func TestStreamRunTiers(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	dir := t.TempDir()
	base := streamRunModel(rng, 3000)
	want := make(map[string]streamHead)
	for _, h := range base {
		want[h.name] = h
	}
	r1 := writeStreamRunAt(t, dir, 1, nil, base)
	// The second: some streams moved on, some new.
	var next []streamHead
	for i, h := range base {
		if i%7 == 0 {
			h.head += 10
			h.dir += 3
			next = append(next, h)
		}
	}
	next = append(next, streamRunModel(rng, 400)...)
	slices.SortFunc(next, func(a, b streamHead) int { return strings.Compare(a.name, b.name) })
	next = slices.CompactFunc(next, func(a, b streamHead) bool { return a.name == b.name })
	for _, h := range next {
		want[h.name] = h
	}
	r2 := writeStreamRunAt(t, dir, 2, nil, next)
	set := &kvRunSet{runs: []*kvRun{r1, r2}}
	checkStreamRuns(t, set, want)
	// A fold of both with a third change.
	third := []streamHead{{name: base[1].name, head: base[1].head + 99, dir: 5}, {name: "t/new", head: 1}}
	for _, h := range third {
		want[h.name] = h
	}
	r3 := writeStreamRunAt(t, dir, 3, set, third)
	require.Equal(t, uint64(len(want)), r3.entries)
	checkStreamRuns(t, &kvRunSet{runs: []*kvRun{r3}}, want)
}

// Damage to a stream run is a CorruptError naming the file and the
// offset; a run of the other kind or generation does not open as one.
func TestStreamRunDamage(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	dir := t.TempDir()
	heads := streamRunModel(rng, 2000)
	r := writeStreamRunAt(t, dir, 4, nil, heads)
	p := osP()
	path := r.path

	_, err := openKvRun(p, path, kvRunTestID, 4, 0)
	require.ErrorIs(t, err, ErrCorrupt)
	require.Contains(t, err.Error(), "not a kv run file")
	_, err = openStreamRun(p, path, kvRunTestID, 5, 0)
	require.ErrorIs(t, err, ErrCorrupt)
	require.Contains(t, err.Error(), "stream run of generation 4, want 5")
	_, err = openStreamRun(p, path, kvRunTestID, 4, r.hdrCRC+1)
	require.ErrorIs(t, err, ErrCorrupt)
	kvPath := filepath.Join(dir, kvRunName(4))
	_, err = mergeKvRun(p, kvPath, kvRunTestID, 4, 9, nil, nil, []kvRunChange{{kvRunEntry: kvRunEntry{key: "k", live: true, rev: 3, revs: []uint64{3}}}}, 2, true, nil)
	require.NoError(t, err)
	_, err = openStreamRun(p, kvPath, kvRunTestID, 4, 0)
	require.ErrorIs(t, err, ErrCorrupt)
	require.Contains(t, err.Error(), "not a stream run file")

	// A flipped byte in a block of entries.
	b, err := os.ReadFile(path)
	require.NoError(t, err)
	blk := r.blocks[len(r.blocks)/2]
	bad := slices.Clone(b)
	bad[blk.off+10] ^= 0x40
	badPath := filepath.Join(dir, streamRunName(40))
	require.NoError(t, os.WriteFile(badPath, bad, 0o644))
	br, err := openStreamRun(p, badPath, kvRunTestID, 4, r.hdrCRC)
	require.NoError(t, err) // blocks are checked as they are read
	defer br.close(p)
	err = verifyStreamRun(p, br, kvRunTestID)
	require.ErrorIs(t, err, ErrCorrupt)
	require.Contains(t, err.Error(), badPath)
	require.Contains(t, err.Error(), fmt.Sprintf("at offset %d", blk.off))
	set := &kvRunSet{runs: []*kvRun{br}}
	name := blk.first
	_, _, err = streamRunGet(p, set, nil, name)
	require.ErrorIs(t, err, ErrCorrupt)
	require.Contains(t, err.Error(), "stream run block")

	// Cut short: the index and the header do not agree.
	require.NoError(t, os.WriteFile(badPath, b[:len(b)-9], 0o644))
	_, err = openStreamRun(p, badPath, kvRunTestID, 4, 0)
	require.ErrorIs(t, err, ErrCorrupt)
}

// Heads out of order are refused and leave no file.
func TestStreamRunOrder(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, streamRunName(1))
	_, err := writeStreamRun(osP(), path, kvRunTestID, 1, 1, nil, nil, []streamHead{{name: "b", head: 1}, {name: "a", head: 2}}, 0, nil)
	require.ErrorContains(t, err, "out of order")
	_, err = os.Stat(path)
	require.True(t, errors.Is(err, os.ErrNotExist), "%v", err)
	_, err = writeStreamRun(osP(), path, kvRunTestID, 1, 1, nil, nil, []streamHead{{name: "a", head: 1}, {name: "a", head: 2}}, 0, nil)
	require.ErrorContains(t, err, "out of order")
}

func TestStreamRunEntry(t *testing.T) {
	var buf [8]byte
	for _, h := range []streamHead{{name: "a", head: 1}, {name: "", head: 1 << 63, dir: 1<<32 - 1}} {
		e := h.entry(buf[:])
		got, ok := streamHeadOf(&e)
		require.True(t, ok)
		require.Equal(t, h, got)
	}
	for _, e := range []kvRunEntry{
		{key: "a", live: false, rev: 1, value: []byte{0}},
		{key: "a", live: true, rev: 0, value: []byte{0}},
		{key: "a", live: true, rev: 1},
		{key: "a", live: true, rev: 1, value: []byte{0, 0}},
		{key: "a", live: true, rev: 1, value: []byte{0x80}},
		{key: "a", live: true, rev: 1, value: []byte{0x80, 0x80, 0x80, 0x80, 0x10}},
		{key: "a", live: true, rev: 2, value: []byte{0}, revs: []uint64{1}},
	} {
		_, ok := streamHeadOf(&e)
		require.False(t, ok, "%+v", e)
	}
	for _, name := range []string{streamRunName(0), streamRunName(1<<64 - 1)} {
		_, ok := isStreamRunName(name)
		require.True(t, ok, name)
	}
	for _, name := range []string{kvRunName(3), "st-12.run", "st-000000000000000g.run", streamRunName(3) + ".tmp"} {
		_, ok := isStreamRunName(name)
		require.False(t, ok, name)
	}
}

// FuzzStreamRun opens, verifies and reads arbitrary bytes as a stream
// run: it must give a CorruptError or heads in order, never panic, and a
// run that verifies must give every head its scan gives by lookup.
func FuzzStreamRun(f *testing.F) {
	dir := f.TempDir()
	rng := rand.New(rand.NewPCG(7, 8))
	for i, n := range []int{0, 1, 30, 400} {
		path := filepath.Join(dir, streamRunName(uint64(i)))
		if _, err := writeStreamRun(osP(), path, kvRunTestID, 1, 9, nil, nil, streamRunModel(rng, n), 0, nil); err != nil {
			f.Fatal(err)
		}
		b, err := os.ReadFile(path)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		path := filepath.Join(t.TempDir(), "f.run")
		if err := os.WriteFile(path, b, 0o644); err != nil {
			t.Fatal(err)
		}
		p := osP()
		r, err := openStreamRun(p, path, kvRunTestID, 1, 0)
		if err != nil {
			if !errors.Is(err, ErrCorrupt) {
				t.Fatalf("not a CorruptError: %v", err)
			}
			return
		}
		defer r.close(p)
		verr := verifyStreamRun(p, r, kvRunTestID)
		set := &kvRunSet{runs: []*kvRun{r}}
		var heads []streamHead
		serr := scanStreamRuns(p, set, nil, "", func(h streamHead) bool {
			if len(heads) > 0 && h.name <= heads[len(heads)-1].name {
				t.Fatalf("scan out of order: %q after %q", h.name, heads[len(heads)-1].name)
			}
			heads = append(heads, h)
			return true
		})
		if serr != nil && !errors.Is(serr, ErrCorrupt) {
			t.Fatalf("scan: not a CorruptError: %v", serr)
		}
		if verr != nil {
			if !errors.Is(verr, ErrCorrupt) {
				t.Fatalf("verify: not a CorruptError: %v", verr)
			}
			return
		}
		if serr != nil {
			t.Fatalf("a run that verifies fails its scan: %v", serr)
		}
		if uint64(len(heads)) != r.entries {
			t.Fatalf("a run that verifies scans %d heads of %d", len(heads), r.entries)
		}
		for _, h := range heads {
			got, ok, err := streamRunGet(p, set, nil, h.name)
			if err != nil || !ok || got != h {
				t.Fatalf("lookup of %q: %+v %v %v, scan gave %+v", h.name, got, ok, err, h)
			}
		}
	})
}
