package file

import (
	"math"
	"sort"
)

// tailLocs is a list of record locations of the segments not indexed,
// sorted by key (a stream's seqs, or the log's positions) and by
// location: a stream's chunks or the state's positions. An entry takes 6
// bytes, its offset (4) and its key as a distance from the key of its
// run (2), in one slice, where a run is entries of one segment whose keys lie within
// 65,535 of its first (a new one starts where the segment changes or a
// distance would not fit); a run takes 16 bytes, one a segment, or a
// 65,536 seqs (positions) of it. A list grows by an eighth, not by
// doubling, so that what it holds beyond its entries stays within an
// eighth of them.
//
// Entries once added never change: a view (a copy of the value whose
// slices end at their lengths, as view gives) stays what it was while
// the list grows, as a checkpoint being written needs.
type tailLocs struct {
	runs []locRun
	// ents holds entryWords words an entry: its offset in its run's
	// segment (low half, high half) and its key less its run's key. One
	// slice, not one a field, keeps a stream's list within 48 bytes.
	ents []uint16
}

const entryWords = 3

// locRun is a run of a tailLocs: its entries from from up to the next
// run's, all in segment seg, each key key+d. key is at most the key
// of its first entry (a sub-list's first run may start within it) and
// above every key of the run before.
type locRun struct {
	key  uint64
	seg  uint32
	from uint32
}

// locsOf gives the list of cs, sorted by seq and location.
func locsOf(cs []chunk) tailLocs {
	t := withCap(len(cs))
	for _, c := range cs {
		t.add(c.seq, c.loc)
	}
	return t
}

// posLocsOf gives the list of ps, sorted by position and location.
func posLocsOf(ps []posChunk) tailLocs {
	t := withCap(len(ps))
	for _, c := range ps {
		t.add(c.pos, c.loc)
	}
	return t
}

// withCap gives an empty list with room for n entries.
func withCap(n int) tailLocs {
	return tailLocs{ents: make([]uint16, 0, entryWords*n)}
}

func (t *tailLocs) len() int { return len(t.ents) / entryWords }

// off gives entry i's offset.
func (t *tailLocs) off(i int) uint32 {
	e := t.ents[entryWords*i : entryWords*i+2]
	return uint32(e[0]) | uint32(e[1])<<16
}

// d gives entry i's key less its run's.
func (t *tailLocs) d(i int) uint16 { return t.ents[entryWords*i+2] }

// add appends the entry of key at l: key above the last entry's, l at or
// after its location.
func (t *tailLocs) add(key uint64, l loc) {
	n := t.len()
	if k := len(t.runs); k == 0 || t.runs[k-1].seg != l.seg || key-t.runs[k-1].key > math.MaxUint16 {
		if len(t.runs) == cap(t.runs) {
			rs := make([]locRun, k, k+max(k/4, 1))
			copy(rs, t.runs)
			t.runs = rs
		}
		t.runs = append(t.runs, locRun{key: key, seg: l.seg, from: uint32(n)})
	}
	if len(t.ents)+entryWords > cap(t.ents) {
		// An empty list takes room for its one entry: most streams
		// have one or a few records in a segment.
		grow := max(n/8, 2)
		if n == 0 {
			grow = 1
		}
		g := make([]uint16, len(t.ents), entryWords*(n+grow))
		copy(g, t.ents)
		t.ents = g
	}
	t.ents = append(t.ents, uint16(l.off), uint16(l.off>>16), uint16(key-t.runs[len(t.runs)-1].key))
}

// runOf gives the index of the run holding entry i (0 in an empty
// list).
func (t *tailLocs) runOf(i int) int {
	rs := t.runs
	if n := len(rs); n <= 1 || int(rs[n-1].from) <= i {
		return max(n-1, 0)
	}
	return sort.Search(len(rs), func(r int) bool { return int(rs[r].from) > i }) - 1
}

// at gives entry i's key and location.
func (t *tailLocs) at(i int) (uint64, loc) {
	r := &t.runs[t.runOf(i)]
	return r.key + uint64(t.d(i)), loc{seg: r.seg, off: t.off(i)}
}

// step gives entry i's key and location as at does, r the index of the
// run of an entry before it (runOf of it, or 0), which it advances to
// entry i's: for a walk of entries in order, one search of the runs in
// all.
func (t *tailLocs) step(i int, r *int) (uint64, loc) {
	for *r+1 < len(t.runs) && int(t.runs[*r+1].from) <= i {
		*r++
	}
	run := &t.runs[*r]
	return run.key + uint64(t.d(i)), loc{seg: run.seg, off: t.off(i)}
}

// key gives entry i's key.
func (t *tailLocs) key(i int) uint64 {
	k, _ := t.at(i)
	return k
}

// chunk gives entry i as a chunk.
func (t *tailLocs) chunk(i int) chunk {
	k, l := t.at(i)
	return chunk{seq: k, loc: l}
}

// posChunk gives entry i as a position chunk.
func (t *tailLocs) posChunk(i int) posChunk {
	k, l := t.at(i)
	return posChunk{pos: k, loc: l}
}

// find gives the index of the entry holding key: the last whose key is at
// most key, 0 when none is.
func (t *tailLocs) find(key uint64) int {
	rs := t.runs
	r := sort.Search(len(rs), func(r int) bool { return rs[r].key > key }) - 1
	if r < 0 {
		return 0
	}
	a, b := t.span(r)
	d := key - rs[r].key
	if d > math.MaxUint16 {
		return b - 1
	}
	j := sort.Search(b-a, func(j int) bool { return uint64(t.d(a+j)) > d })
	return max(a+j-1, 0)
}

// span gives the entries of run r, from a up to b.
func (t *tailLocs) span(r int) (int, int) {
	b := t.len()
	if r+1 < len(t.runs) {
		b = int(t.runs[r+1].from)
	}
	return int(t.runs[r].from), b
}

// bound gives the index of the first entry whose location lies after l
// (len when none does).
func (t *tailLocs) bound(l loc) int {
	rs := t.runs
	// The first run whose segment lies after l's, or whose first entry
	// does: the entry is in the run before, or is that run's first.
	r := sort.Search(len(rs), func(r int) bool {
		return rs[r].seg > l.seg || rs[r].seg == l.seg && t.off(int(rs[r].from)) > l.off
	})
	if r > 0 && rs[r-1].seg == l.seg {
		a, b := t.span(r - 1)
		if j := sort.Search(b-a, func(j int) bool { return t.off(a+j) > l.off }); j < b-a {
			return a + j
		}
	}
	if r < len(rs) {
		return int(rs[r].from)
	}
	return t.len()
}

// segRange gives the entries in segment seg, from a up to b.
func (t *tailLocs) segRange(seg uint32) (int, int) {
	rs := t.runs
	r := sort.Search(len(rs), func(r int) bool { return rs[r].seg >= seg })
	if r == len(rs) || rs[r].seg != seg {
		return t.len(), t.len()
	}
	a, b := t.span(r)
	for r++; r < len(rs) && rs[r].seg == seg; r++ {
		_, b = t.span(r)
	}
	return a, b
}

// after gives the index of the first entry in a segment after upTo.
func (t *tailLocs) after(upTo uint32) int {
	rs := t.runs
	r := sort.Search(len(rs), func(r int) bool { return rs[r].seg > upTo })
	if r == len(rs) {
		return t.len()
	}
	return int(rs[r].from)
}

// view gives the list as it is now, unchanged by later adds.
func (t *tailLocs) view() tailLocs {
	return tailLocs{runs: t.runs[:len(t.runs):len(t.runs)], ents: t.ents[:len(t.ents):len(t.ents)]}
}

// slice gives entries a up to b as a list sharing t's entries (its runs
// are copied: a few a list).
func (t *tailLocs) slice(a, b int) tailLocs {
	if a >= b {
		return tailLocs{}
	}
	r0, r1 := t.runOf(a), t.runOf(b-1)
	rs := make([]locRun, r1-r0+1)
	for i := range rs {
		r := t.runs[r0+i]
		r.from = uint32(max(int(r.from)-a, 0))
		rs[i] = r
	}
	return tailLocs{runs: rs, ents: t.ents[entryWords*a : entryWords*b : entryWords*b]}
}

// clone gives a copy of entries a up to b, its own and of exact size.
func (t *tailLocs) clone(a, b int) tailLocs {
	s := t.slice(a, b)
	s.ents = append(make([]uint16, 0, len(s.ents)), s.ents...)
	return s
}

// chunks gives every entry as a chunk.
func (t *tailLocs) chunks() []chunk {
	out := make([]chunk, t.len())
	for i := range out {
		out[i] = t.chunk(i)
	}
	return out
}

// posChunks gives every entry as a position chunk.
func (t *tailLocs) posChunks() []posChunk {
	out := make([]posChunk, t.len())
	for i := range out {
		out[i] = t.posChunk(i)
	}
	return out
}

// equal tells whether t and u hold the same entries.
func (t *tailLocs) equal(u *tailLocs) bool {
	if t.len() != u.len() {
		return false
	}
	for i := range t.len() {
		ka, la := t.at(i)
		kb, lb := u.at(i)
		if ka != kb || la != lb {
			return false
		}
	}
	return true
}

// bytes is what the list holds in memory, its slices' capacities.
func (t *tailLocs) bytes() int { return 2*cap(t.ents) + 16*cap(t.runs) }
