package idindex

// A Mark is the state of an index at one moment, taken in constant time,
// from which [Index.CopyAsOf] later rebuilds the index as it was then.
type Mark struct {
	tables int     // tables then, the current one last
	slots  *uint64 // the current table's slots then (a grow replaces them)
	last   uint64  // highest position then
}

// Mark takes a mark of x now.
func (x *Index) Mark() Mark {
	if len(x.tables) == 0 {
		return Mark{}
	}
	cur := x.tables[len(x.tables)-1]
	return Mark{tables: len(x.tables), slots: &cur.slots[0], last: cur.last}
}

// copyPiece is how many slots CopyAsOf copies under one hold of the lock.
const copyPiece = 1 << 15

// CopyAsOf returns a copy of x as it was at mark m (which x took), while
// x may go on taking entries: for an encoding of x at a past moment that
// does not hold up the writer for a copy of the whole index. lock must
// hold off x's writer (every Add) until the function it returns is
// called; CopyAsOf holds it only while it copies one piece of 32 Ki slots
// at a time. The tables frozen at m are shared; of the current one, the
// slots are copied and those added since m dropped, which leaves the
// table as it was, unless the table grew since (its slots moved): then
// the entries of m are put into a fresh table of the new size. A table
// that widened its position bits since keeps them: its entries of m are
// as they lie now, with the fewer hash bits a wider table keeps (which
// [Index.Same] allows for).
func (x *Index) CopyAsOf(m Mark, lock func() (unlock func())) *Index {
	c := &Index{key: x.key, limit: x.limit}
	if m.tables == 0 {
		return c
	}
	unlock := lock()
	c.tables = append([]*table(nil), x.tables[:m.tables]...)
	cur := *c.tables[m.tables-1]
	unlock()
	for {
		grown := &cur.slots[0] != m.slots
		slots := make([]uint64, len(cur.slots))
		moved := false
		for i := 0; i < len(slots) && !moved; i += copyPiece {
			unlock := lock()
			now := x.tables[m.tables-1]
			if &now.slots[0] != &cur.slots[0] || now.r != cur.r {
				// It grew or widened meanwhile: start again on its slots
				// as they are now, so that every piece has one layout.
				moved = true
				cur = *now
			} else {
				copy(slots[i:], now.slots[i:min(i+copyPiece, len(slots))])
			}
			unlock()
		}
		if moved {
			continue
		}
		t := &table{base: cur.base, k: cur.k, r: cur.r, last: m.last, slots: slots}
		mask := t.mask()
		if !grown {
			// The slots of m's entries have not moved: drop the rest.
			for i, s := range slots {
				switch {
				case s == 0:
				case t.base+s&mask > m.last:
					slots[i] = 0
				default:
					t.n++
				}
			}
		} else {
			// Rehashed since: the entries of m go into a fresh table.
			t.slots = make([]uint64, len(slots))
			for _, s := range slots {
				if s != 0 && t.base+s&mask <= m.last {
					t.put(s&^mask, s&mask)
				}
			}
		}
		c.tables[m.tables-1] = t
		return c
	}
}

// Same reports whether x and y index the same positions with the same
// hashes, as far as both keep their bits: two indexes of the same entries
// whose tables grew or widened differently (a copy as of a mark, a
// rebuild) are the same though their encodings differ.
func (x *Index) Same(y *Index) bool {
	if x.Len() != y.Len() {
		return false
	}
	type entry struct {
		prefix uint64 // the hash's top bits the slot keeps, left-aligned
		r      uint   // how many low bits of the hash it does not keep
	}
	byPos := make(map[uint64]entry, x.Len())
	for _, t := range x.tables {
		m := t.mask()
		for _, s := range t.slots {
			if s != 0 {
				byPos[t.base+s&m] = entry{s &^ m, t.r}
			}
		}
	}
	for _, t := range y.tables {
		m := t.mask()
		for _, s := range t.slots {
			if s == 0 {
				continue
			}
			e, ok := byPos[t.base+s&m]
			r := max(e.r, t.r)
			if !ok || e.prefix>>r != (s&^m)>>r {
				return false
			}
		}
	}
	return true
}
