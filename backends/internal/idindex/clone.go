package idindex

import "slices"

// Clone returns a copy of x that x's later changes do not reach, so that
// the copy can be read (encoded, say) on another goroutine while x goes
// on taking entries. Frozen tables never change again and are shared; the
// current one is copied, which costs a copy of its slots.
func (x *Index) Clone() *Index {
	c := &Index{key: x.key, limit: x.limit, tables: make([]*table, len(x.tables))}
	for i, t := range x.tables {
		if i < len(x.tables)-1 {
			c.tables[i] = t
			continue
		}
		cur := *t
		cur.slots = slices.Clone(t.slots)
		c.tables[i] = &cur
	}
	return c
}
