package idindex

// DropRange removes the entries at positions from through to, for a
// backend that moved them into files of its own: a table wholly within the
// range goes (but the current one, which stays, empty, to keep taking
// entries above its highest position), one that overlaps it is replaced by
// a table of the entries it keeps, sized for them. Tables are replaced,
// never changed, so a copy that shares them ([Index.Clone],
// [Index.CopyAsOf]) is not touched; a [Mark] taken before is void (the
// caller takes none across a DropRange). It costs a pass over the slots
// of the tables that overlap the range.
func (x *Index) DropRange(from, to uint64) {
	if from > to || len(x.tables) == 0 {
		return
	}
	out := x.tables[:0:0]
	for i, t := range x.tables {
		cur := i == len(x.tables)-1
		if t.n == 0 && !cur {
			continue
		}
		// A table's entries lie in base+1..last.
		if t.last < from || t.base+1 > to {
			out = append(out, t)
			continue
		}
		if t.base+1 >= from && t.last <= to && !cur {
			continue
		}
		m := t.mask()
		keep := make([]uint64, 0, t.n)
		for _, s := range t.slots {
			if s == 0 {
				continue
			}
			if pos := t.base + s&m; pos < from || pos > to {
				keep = append(keep, s)
			}
		}
		if len(keep) == 0 && !cur {
			continue
		}
		// The smallest size that holds them and keeps r position bits.
		k := kFor(uint64(len(keep)))
		for k < t.k && t.r > maxRel(k) {
			k++
		}
		nt := newTable(t.base, k, t.r)
		nt.last = t.last
		for _, s := range keep {
			nt.put(s&^m, s&m)
		}
		out = append(out, nt)
	}
	x.tables = out
}
