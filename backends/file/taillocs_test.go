package file

import (
	"math"
	"math/rand/v2"
	"sort"
	"testing"

	"github.com/stretchr/testify/require"
)

// randomChunks gives n chunks sorted by seq and location: keys that step
// by small amounts, now and then by more than 32 bits, over segments that
// change now and then.
func randomChunks(rnd *rand.Rand, n int) []chunk {
	var cs []chunk
	seq, seg, off := uint64(rnd.IntN(5)), uint32(1+rnd.IntN(3)), uint32(64)
	for range n {
		switch rnd.IntN(20) {
		case 0:
			seg += uint32(1 + rnd.IntN(2))
			off = 64
		case 1:
			seq += math.MaxUint16 + uint64(rnd.IntN(3)) // past a run's 16 bits
		case 2:
			seq += math.MaxUint32 + uint64(rnd.IntN(3))
		}
		seq += uint64(1 + rnd.IntN(3))
		cs = append(cs, chunk{seq: seq, loc: loc{seg: seg, off: off}})
		if rnd.IntN(4) > 0 { // a multi-stream record's parts share a location
			off += uint32(1 + rnd.IntN(300))
		}
	}
	return cs
}

// Every look-up of a tailLocs answers as the same search over the chunks
// it was built from.
func TestTailLocsMatchChunks(t *testing.T) {
	for seed := range uint64(200) {
		rnd := rand.New(rand.NewPCG(seed, 7))
		cs := randomChunks(rnd, rnd.IntN(300))
		tl := locsOf(cs)
		var grown tailLocs // grown one add at a time
		for _, c := range cs {
			grown.add(c.seq, c.loc)
		}
		require.Equal(t, len(cs), grown.len())
		for _, x := range []*tailLocs{&tl, &grown} {
			checkLocs(t, cs, x)
			a, b := 0, 0
			if len(cs) > 0 {
				a = rnd.IntN(len(cs))
				b = a + rnd.IntN(len(cs)-a+1)
			}
			s := x.slice(a, b)
			checkLocs(t, cs[a:b], &s)
			c := x.clone(a, b)
			checkLocs(t, cs[a:b], &c)
		}
		require.True(t, tl.equal(&grown))
	}
}

func checkLocs(t *testing.T, cs []chunk, x *tailLocs) {
	t.Helper()
	require.Equal(t, len(cs), x.len())
	if len(cs) == 0 {
		require.Zero(t, x.find(5))
		return
	}
	require.Equal(t, cs, x.chunks())
	for _, a := range []int{0, len(cs) / 3, len(cs) - 1} {
		r := x.runOf(a)
		for i := a; i < len(cs); i++ {
			k, l := x.step(i, &r)
			require.Equal(t, cs[i], chunk{seq: k, loc: l}, "step %d from %d", i, a)
		}
	}
	probe := func(c chunk) []uint64 {
		return []uint64{c.seq - 1, c.seq, c.seq + 1, c.seq + math.MaxUint16, c.seq + math.MaxUint32, c.seq + 1<<33}
	}
	for i := range cs {
		for _, k := range probe(cs[i]) {
			want := max(sort.Search(len(cs), func(j int) bool { return cs[j].seq > k })-1, 0)
			require.Equal(t, want, x.find(k), "find %d", k)
		}
		for _, l := range []loc{cs[i].loc, {seg: cs[i].seg, off: cs[i].off - 1}, {seg: cs[i].seg, off: cs[i].off + 1}, {seg: cs[i].seg + 1}} {
			want := sort.Search(len(cs), func(j int) bool {
				return cs[j].seg > l.seg || cs[j].seg == l.seg && cs[j].off > l.off
			})
			require.Equal(t, want, x.bound(l), "bound %v", l)
		}
	}
	for seg := cs[0].seg - 1; seg <= cs[len(cs)-1].seg+1; seg++ {
		a := sort.Search(len(cs), func(j int) bool { return cs[j].seg >= seg })
		b := sort.Search(len(cs), func(j int) bool { return cs[j].seg > seg })
		ga, gb := x.segRange(seg)
		if a == b {
			require.Equal(t, ga, gb, "segment %d holds none", seg)
		} else {
			require.Equal(t, [2]int{a, b}, [2]int{ga, gb}, "segment %d", seg)
		}
		require.Equal(t, b, x.after(seg), "after %d", seg)
	}
}

// A view stays what it was while the list grows, and what the list holds
// beyond its entries stays within an eighth of them (and two entries).
func TestTailLocsViewAndSlack(t *testing.T) {
	rnd := rand.New(rand.NewPCG(1, 2))
	cs := randomChunks(rnd, 20000)
	var x tailLocs
	var views []tailLocs
	for i, c := range cs {
		x.add(c.seq, c.loc)
		if i%997 == 0 {
			views = append(views, x.view())
		}
		require.LessOrEqual(t, cap(x.ents), entryWords*(x.len()+x.len()/8+2))
	}
	for _, v := range views {
		require.Equal(t, cs[:v.len()], v.chunks())
	}
	cut := x.clone(x.after(cs[len(cs)/2].seg), x.len())
	require.Equal(t, entryWords*cut.len(), cap(cut.ents), "a cut list is of exact size")
}

// FuzzTailLocs checks the look-ups of lists drawn from seed against the
// chunks they hold, as TestTailLocsMatchChunks does, and of such lists
// viewed, cut and grown on.
func FuzzTailLocs(f *testing.F) {
	f.Add(uint64(1), uint16(40))
	f.Add(uint64(9), uint16(2000))
	f.Fuzz(func(t *testing.T, seed uint64, n uint16) {
		rnd := rand.New(rand.NewPCG(seed, 11))
		cs := randomChunks(rnd, int(n)%3000)
		x := locsOf(cs)
		checkLocs(t, cs, &x)
		if len(cs) > 0 {
			a := rnd.IntN(len(cs))
			s := x.slice(a, len(cs))
			checkLocs(t, cs[a:], &s)
		}
		checkGrownAfterCut(t, rnd, cs)
	})
}

// BenchmarkTailLocsFind compares a look-up in a list of 210,000
// locations (an active segment's positions) with the binary search over
// 16-byte chunks it replaced, and a read's walk of the next 10 entries.
func BenchmarkTailLocsFind(b *testing.B) {
	rnd := rand.New(rand.NewPCG(3, 4))
	var cs []chunk
	for i := range 210_000 {
		cs = append(cs, chunk{seq: uint64(i + 1), loc: loc{seg: uint32(40 + i/70_000), off: uint32(64 + 300*(i%70_000))}})
	}
	x := locsOf(cs)
	keys := make([]uint64, 1<<12)
	for i := range keys {
		keys[i] = uint64(1 + rnd.IntN(len(cs)))
	}
	b.Run("chunks", func(b *testing.B) {
		sum := uint64(0)
		for i := 0; b.Loop(); i++ {
			k := keys[i%len(keys)]
			j := max(sort.Search(len(cs), func(j int) bool { return cs[j].seq > k })-1, 0)
			for e := j; e < min(j+10, len(cs)); e++ {
				sum += cs[e].seq + uint64(cs[e].off)
			}
		}
		_ = sum
	})
	b.Run("tailLocs", func(b *testing.B) {
		sum := uint64(0)
		for i := 0; b.Loop(); i++ {
			j := x.find(keys[i%len(keys)])
			r := x.runOf(j)
			for e := j; e < min(j+10, x.len()); e++ {
				k, l := x.step(e, &r)
				sum += k + uint64(l.off)
			}
		}
		_ = sum
	})
}
