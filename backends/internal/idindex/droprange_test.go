package idindex

import (
	"math/rand/v2"
	"testing"
)

// TestDropRange drops a range of positions from an index of several
// tables and checks every entry answers, or does not, as its position
// says, that a clone taken before keeps every entry, and that the index
// goes on taking entries and encodes and decodes.
func TestDropRange(t *testing.T) {
	var seed [16]byte
	x := New(seed)
	x.limit = 8 // several tables
	rnd := rand.New(rand.NewPCG(1, 2))
	hashes := map[uint64]uint64{}
	var pos uint64
	for range 2000 {
		pos += 1 + rnd.Uint64N(3)
		h := rnd.Uint64()
		if err := x.Add(h, pos); err != nil {
			t.Fatal(err)
		}
		hashes[pos] = h
	}
	if len(x.tables) < 3 {
		t.Fatalf("%d tables, want several", len(x.tables))
	}
	before := x.Clone()
	from, to := uint64(300), pos-500
	x.DropRange(from, to)
	find := func(x *Index, h, want uint64) bool {
		got, _ := x.Lookup(h, func(p uint64) (bool, error) { return p == want, nil })
		return got == want
	}
	n := 0
	for p, h := range hashes {
		dropped := p >= from && p <= to
		if find(x, h, p) == dropped {
			t.Fatalf("position %d (dropped %v): found %v", p, dropped, !dropped)
		}
		if !find(before, h, p) {
			t.Fatalf("the clone lost position %d", p)
		}
		if !dropped {
			n++
		}
	}
	if x.Len() != n || x.Last() != pos {
		t.Fatalf("Len %d Last %d, want %d and %d", x.Len(), x.Last(), n, pos)
	}
	if x.Bytes() >= before.Bytes() {
		t.Fatalf("%d bytes of slots after the drop, %d before", x.Bytes(), before.Bytes())
	}
	// Everything up to the last position: the current table stays, empty.
	x.DropRange(1, pos)
	if x.Len() != 0 || x.Last() != pos {
		t.Fatalf("Len %d Last %d after dropping all", x.Len(), x.Last())
	}
	if err := x.Add(7, pos); err == nil {
		t.Fatal("Add at the last position after a drop did not fail")
	}
	if err := x.Add(7, pos+1); err != nil {
		t.Fatal(err)
	}
	b := x.AppendSlots(nil)
	y, rest, err := DecodeSlots(b, seed)
	if err != nil || len(rest) != 0 || !y.Same(x) {
		t.Fatalf("decode after a drop: %v, %d bytes left, same %v", err, len(rest), err == nil && y.Same(x))
	}
	if !find(y, 7, pos+1) {
		t.Fatal("the entry added after the drop is not found")
	}
}
