package sx

import (
	"fmt"
	"iter"
	"slices"
	"strings"
)

// Dict is an ordered set of entries with unique keys, printed {:k v :k2 v2}.
// Keys may be any SX value and are compared with [Equal]. Entries are kept in
// canonical order: sorted by the printed form of their keys, byte by byte,
// so a dict prints the same however it was built.
//
// A key must not be changed after it is stored (a List or Dict key is held,
// not copied). A nil *Dict is an empty dict for reading; the zero Dict is
// ready to use. A Dict is not safe for concurrent use when one goroutine
// changes it.
type Dict struct {
	ents []dictEntry
}

// Entry is one key and its value.
type Entry struct {
	Key, Val Value
}

type dictEntry struct {
	Entry
	p     string // the key's printed form
	depth int    // how deeply the key itself nests (0 for an atom)
}

// NewDict makes a dict from alternating keys and values. A later duplicate
// of a key replaces the earlier value, as [Dict.Set] does. It panics on an
// odd number of arguments or a key that is not an SX value.
func NewDict(kv ...Value) *Dict {
	if len(kv)%2 != 0 {
		panic("sx: NewDict: odd number of arguments (want key, value pairs)")
	}
	ents := make([]dictEntry, 0, len(kv)/2)
	for i := 0; i < len(kv); i += 2 {
		p, depth := printKey(kv[i])
		ents = append(ents, dictEntry{Entry: Entry{Key: kv[i], Val: kv[i+1]}, p: p, depth: depth})
	}
	d := &Dict{ents: ents}
	if d.sort() {
		// Keep the last of each run of equal keys.
		out := d.ents[:0]
		for i, e := range d.ents {
			if i+1 < len(d.ents) && d.ents[i+1].p == e.p {
				continue
			}
			out = append(out, e)
		}
		clear(d.ents[len(out):])
		d.ents = out
	}
	return d
}

// sort puts the entries in canonical order, keeping entries with equal keys
// in their original order, and reports whether any two keys are equal.
func (d *Dict) sort() (dup bool) {
	slices.SortStableFunc(d.ents, func(a, b dictEntry) int { return strings.Compare(a.p, b.p) })
	for i := 1; i < len(d.ents); i++ {
		if d.ents[i].p == d.ents[i-1].p {
			return true
		}
	}
	return false
}

// printKey prints a dict key and measures its depth. It panics if k is not
// an SX value.
func printKey(k Value) (string, int) {
	switch k := k.(type) {
	case Keyword:
		if !k.Valid() {
			panic(fmt.Errorf("sx: %w", badName("keyword", string(k))))
		}
		return ":" + string(k), 0
	case string:
		return string(appendString(nil, k)), 0
	}
	var pr printer
	pr.value(k, 0)
	return string(pr.buf), pr.maxDepth
}

// find returns the index of the entry whose key prints as p, or where it
// would be inserted.
func (d *Dict) find(p string) (int, bool) {
	return slices.BinarySearchFunc(d.ents, p, func(e dictEntry, p string) int { return strings.Compare(e.p, p) })
}

// Get returns the value stored under k and whether there is one.
func (d *Dict) Get(k Value) (Value, bool) {
	if d == nil || len(d.ents) == 0 {
		checkSX(k)
		return nil, false
	}
	p, _ := printKey(k)
	i, ok := d.find(p)
	if !ok {
		return nil, false
	}
	return d.ents[i].Val, true
}

// Set stores v under k, replacing any value stored under an Equal key (the
// stored key is then kept). It panics if k is not an SX value.
func (d *Dict) Set(k, v Value) {
	p, depth := printKey(k)
	i, ok := d.find(p)
	if ok {
		d.ents[i].Val = v
		return
	}
	d.ents = slices.Insert(d.ents, i, dictEntry{Entry: Entry{Key: k, Val: v}, p: p, depth: depth})
}

// Delete removes the entry stored under k, if there is one.
func (d *Dict) Delete(k Value) {
	if d == nil || len(d.ents) == 0 {
		checkSX(k)
		return
	}
	p, _ := printKey(k)
	if i, ok := d.find(p); ok {
		d.ents = slices.Delete(d.ents, i, i+1)
	}
}

// Len returns the number of entries.
func (d *Dict) Len() int {
	if d == nil {
		return 0
	}
	return len(d.ents)
}

// Entries returns a copy of the entries in canonical order.
func (d *Dict) Entries() []Entry {
	if d.Len() == 0 {
		return nil
	}
	out := make([]Entry, len(d.ents))
	for i, e := range d.ents {
		out[i] = e.Entry
	}
	return out
}

// All yields the keys and values in canonical order. The dict must not be
// changed during the iteration.
func (d *Dict) All() iter.Seq2[Value, Value] {
	return func(yield func(Value, Value) bool) {
		if d == nil {
			return
		}
		for _, e := range d.ents {
			if !yield(e.Key, e.Val) {
				return
			}
		}
	}
}

// String returns the printed form.
func (d *Dict) String() string { return Print(d) }
