package mock

import (
	"fmt"
	"math/rand/v2"
	"sort"
	"strings"

	"rose-ash.com/persist/platform"
)

// FaultKind is what a crash does to the unsynced state.
type FaultKind uint8

const (
	// Drop loses every unsynced change: a clean power loss.
	Drop FaultKind = iota + 1
	// Prefix keeps, per file and per directory, a random prefix of the
	// unsynced changes: an in-order device.
	Prefix
	// Subset keeps a random subset of each file's unsynced changes, in any
	// order, and a random prefix of each directory's: a reordering device.
	Subset
	// Torn keeps every unsynced change but tears writes: each 512-byte
	// sector of a torn write is new, old or garbage.
	Torn
	// ExtendZero keeps each file's new size but loses the bytes of its
	// unsynced writes beyond its old size: they read as zeros (delayed
	// allocation).
	ExtendZero
	// ExtendGarbage is ExtendZero with garbage in place of zeros.
	ExtendGarbage
	// Dirs keeps every file's data but reverts a random suffix (often all)
	// of each directory's unsynced creates, renames and unlinks: a missing
	// directory fsync.
	Dirs
	// Keep makes every unsynced change durable: a crash that lost nothing.
	Keep
)

var faultNames = map[FaultKind]string{
	Drop: "drop", Prefix: "prefix", Subset: "subset", Torn: "torn",
	ExtendZero: "extend-zero", ExtendGarbage: "extend-garbage", Dirs: "dirs", Keep: "keep",
}

func (k FaultKind) String() string {
	if s, ok := faultNames[k]; ok {
		return s
	}
	return fmt.Sprintf("fault-%d", uint8(k))
}

// ParseFaultKind reads a FaultKind from its String.
func ParseFaultKind(s string) (FaultKind, error) {
	for k, n := range faultNames {
		if n == s {
			return k, nil
		}
	}
	return 0, fmt.Errorf("mock: unknown crash fault %q", s)
}

// FaultKinds lists the crash faults in order.
func FaultKinds() []FaultKind {
	return []FaultKind{Drop, Prefix, Subset, Torn, ExtendZero, ExtendGarbage, Dirs, Keep}
}

// Fault is one draw of a crash fault: the kind and the seed of its random
// choices. The same fault on the same state builds the same disk.
type Fault struct {
	Kind FaultKind
	Seed uint64
}

func (f Fault) String() string { return fmt.Sprintf("(fault %s :seed %d)", f.Kind, f.Seed) }

// CrashReport says what a crash kept and lost.
type CrashReport struct {
	Fault        Fault
	FilesChanged int // files with unsynced changes
	KeptOps      int // unsynced file changes kept (wholly or torn)
	LostOps      int // unsynced file changes lost
	TornSectors  int // sectors that came out old or garbage in a torn write
	DirOpsKept   int
	DirOpsLost   int
}

func (r CrashReport) String() string {
	return fmt.Sprintf("%s: %d files changed, file ops kept %d lost %d, torn sectors %d, dir ops kept %d lost %d",
		r.Fault, r.FilesChanged, r.KeptOps, r.LostOps, r.TornSectors, r.DirOpsKept, r.DirOpsLost)
}

// Lossless reports whether the crash kept every unsynced change intact.
func (r CrashReport) Lossless() bool {
	return r.LostOps == 0 && r.TornSectors == 0 && r.DirOpsLost == 0
}

// Crash builds the disk a crash under f leaves: a new filesystem, seeded
// seed, with only durable state (the durable images, plus what f keeps of
// the volatile layers), no open files and no locks. m is not changed.
func (m *FS) Crash(f Fault, seed uint64) (*FS, CrashReport) {
	m.mu.Lock()
	defer m.mu.Unlock()
	c := &crasher{f: f, rnd: rand.New(rand.NewPCG(f.Seed, 0x63726173)), memo: map[*inode]*inode{}, rep: CrashReport{Fault: f}}
	n := &FS{opts: m.opts, seed: seed, nextIn: m.nextIn, ticks: m.ticks}
	n.reset()
	n.root = c.dir(m.root)
	return n, c.rep
}

// Clone returns an independent copy of m's whole state, durable and
// volatile, without open files, locks, injectors or trace.
func (m *FS) Clone(seed uint64) *FS {
	m.mu.Lock()
	defer m.mu.Unlock()
	memo := map[*inode]*inode{}
	var cp func(n *inode) *inode
	cp = func(n *inode) *inode {
		if c := memo[n]; c != nil {
			return c
		}
		c := &inode{id: n.id, dir: n.dir, modTime: n.modTime}
		memo[n] = c
		if !n.dir {
			c.durable = n.durable.share()
			c.live = n.live.share()
			c.pending = append([]fileOp(nil), n.pending...)
			return c
		}
		c.dents, c.live2 = map[string]*inode{}, map[string]*inode{}
		for k, v := range n.dents {
			c.dents[k] = cp(v)
		}
		for k, v := range n.live2 {
			c.live2[k] = cp(v)
		}
		for _, op := range n.dops {
			nop := dirOp{changes: make([]dirChange, len(op.changes))}
			for i, ch := range op.changes {
				nop.changes[i] = dirChange{name: ch.name}
				if ch.ino != nil {
					nop.changes[i].ino = cp(ch.ino)
				}
			}
			c.dops = append(c.dops, nop)
		}
		return c
	}
	n := &FS{opts: m.opts, seed: seed, nextIn: m.nextIn, ticks: m.ticks}
	n.reset()
	n.root = cp(m.root)
	return n
}

type crasher struct {
	f    Fault
	rnd  *rand.Rand
	memo map[*inode]*inode
	rep  CrashReport
}

// dir builds the durable directory that n leaves under the fault.
func (c *crasher) dir(n *inode) *inode {
	if d := c.memo[n]; d != nil {
		return d
	}
	d := &inode{id: n.id, dir: true, dents: map[string]*inode{}, live2: map[string]*inode{}, modTime: n.modTime}
	c.memo[n] = d
	ents := make(map[string]*inode, len(n.dents))
	for k, v := range n.dents {
		ents[k] = v
	}
	keep := len(n.dops)
	switch c.f.Kind {
	case Drop:
		keep = 0
	case Prefix, Subset:
		keep = c.rnd.IntN(len(n.dops) + 1)
	case Dirs:
		if len(n.dops) > 0 && c.rnd.IntN(3) > 0 {
			keep = 0
		} else {
			keep = c.rnd.IntN(len(n.dops) + 1)
		}
	}
	for _, op := range n.dops[:keep] {
		applyDir(ents, op)
	}
	c.rep.DirOpsKept += keep
	c.rep.DirOpsLost += len(n.dops) - keep
	names := make([]string, 0, len(ents))
	for k := range ents {
		names = append(names, k)
	}
	sort.Strings(names) // draw in a fixed order
	for _, k := range names {
		v := ents[k]
		var nv *inode
		if v.dir {
			nv = c.dir(v)
		} else {
			nv = c.file(v)
		}
		d.dents[k], d.live2[k] = nv, nv
	}
	return d
}

// file builds the durable file that n leaves under the fault.
func (c *crasher) file(n *inode) *inode {
	if f := c.memo[n]; f != nil {
		return f
	}
	b := n.durable.share()
	if len(n.pending) > 0 {
		c.rep.FilesChanged++
	}
	switch c.f.Kind {
	case Drop:
		c.rep.LostOps += len(n.pending)
	case Keep, Dirs:
		for _, op := range n.pending {
			b.apply(op)
		}
		c.rep.KeptOps += len(n.pending)
	case Prefix:
		k := c.rnd.IntN(len(n.pending) + 1)
		for _, op := range n.pending[:k] {
			b.apply(op)
		}
		c.rep.KeptOps += k
		c.rep.LostOps += len(n.pending) - k
	case Subset:
		for _, op := range n.pending {
			if c.rnd.IntN(2) == 0 {
				b.apply(op)
				c.rep.KeptOps++
			} else {
				c.rep.LostOps++
			}
		}
	case Torn:
		last := -1
		for i, op := range n.pending {
			if op.kind == opWrite {
				last = i
			}
		}
		for i, op := range n.pending {
			if op.kind == opWrite && (i == last || c.rnd.IntN(2) == 0) {
				c.tear(&b, op, i == last)
			} else {
				b.apply(op)
			}
			c.rep.KeptOps++
		}
	case ExtendZero, ExtendGarbage:
		// The metadata made it, the data did not: the file has its new
		// size, and every byte an unsynced write put past the old size is
		// zero or garbage. Bytes inside the old size are old.
		old := b.size
		for _, op := range n.pending {
			if op.kind != opWrite {
				b.apply(op)
				continue
			}
			end := op.off + int64(len(op.data))
			if end <= old {
				c.rep.LostOps++
				continue
			}
			lo := max(op.off, old)
			fill := make([]byte, end-lo)
			if c.f.Kind == ExtendGarbage {
				c.garbage(fill)
			}
			b.apply(fileOp{kind: opWrite, off: lo, data: fill})
			c.rep.LostOps++
		}
	}
	f := &inode{id: n.id, durable: b, modTime: n.modTime}
	f.live = f.durable.share()
	c.memo[n] = f
	return f
}

// tear applies the write op to b sector by sector, each sector new, old or
// garbage; with force, at least one sector is old or garbage.
func (c *crasher) tear(b *content, op fileOp, force bool) {
	end := op.off + int64(len(op.data))
	old := make([]byte, len(op.data))
	b.readAt(old, op.off)
	data := append([]byte(nil), op.data...)
	first := op.off &^ (SectorSize - 1)
	// A forced tear has at least one sector that is not new.
	victim := int64(-1)
	if force && end > op.off {
		victim = first + c.rnd.Int64N((end-first+SectorSize-1)/SectorSize)*SectorSize
	}
	for s := first; s < end; s += SectorSize {
		lo, hi := max(s, op.off)-op.off, min(s+SectorSize, end)-op.off
		r := c.rnd.IntN(10)
		if s == victim && r < 5 {
			r += 5
		}
		switch {
		case r < 5: // new
		case r < 8: // old
			copy(data[lo:hi], old[lo:hi])
			c.rep.TornSectors++
		default:
			c.garbage(data[lo:hi])
			c.rep.TornSectors++
		}
	}
	b.apply(fileOp{kind: opWrite, off: op.off, data: data})
}

func (c *crasher) garbage(b []byte) {
	for i := range b {
		b[i] = byte(c.rnd.Uint32())
	}
}

// CorruptKind is damage to durable bytes at rest.
type CorruptKind uint8

const (
	// BitFlip flips one bit.
	BitFlip CorruptKind = iota + 1
	// ZeroSector zeroes one 512-byte sector.
	ZeroSector
)

func (k CorruptKind) String() string {
	switch k {
	case BitFlip:
		return "bitflip"
	case ZeroSector:
		return "zero-sector"
	}
	return fmt.Sprintf("corrupt-%d", uint8(k))
}

// Damage says what Corrupt changed.
type Damage struct {
	Kind   CorruptKind
	Path   string
	Offset int64
	Bit    int // BitFlip: which bit of the byte
}

func (d Damage) String() string {
	if d.Kind == BitFlip {
		return fmt.Sprintf("(damage bitflip %q :offset %d :bit %d)", d.Path, d.Offset, d.Bit)
	}
	return fmt.Sprintf("(damage %s %q :offset %d)", d.Kind, d.Path, d.Offset)
}

// Corrupt damages the durable bytes of one file whose path contains
// within, chosen with seed among the files with non-zero durable bytes: a
// random byte up to the last non-zero one. It reports what it did, and
// false when no file qualifies. The live bytes of the file change too.
func (m *FS) Corrupt(kind CorruptKind, within string, seed uint64) (Damage, bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	rnd := rand.New(rand.NewPCG(seed, 0x726f74))
	type cand struct {
		path string
		ino  *inode
		used int64
	}
	var cands []cand
	m.walk(m.root, "", func(p string, n *inode) {
		if n.dir || !strings.Contains(p, within) {
			return
		}
		if used := n.durable.used(); used > 0 {
			cands = append(cands, cand{p, n, used})
		}
	})
	if len(cands) == 0 {
		return Damage{}, false
	}
	t := cands[rnd.IntN(len(cands))]
	d := Damage{Kind: kind, Path: t.path, Offset: rnd.Int64N(t.used)}
	var data []byte
	switch kind {
	case BitFlip:
		d.Bit = rnd.IntN(8)
		data = make([]byte, 1)
		t.ino.durable.readAt(data, d.Offset)
		data[0] ^= 1 << d.Bit
	case ZeroSector:
		d.Offset &^= SectorSize - 1
		data = make([]byte, min(SectorSize, t.ino.durable.size-d.Offset))
	}
	op := fileOp{kind: opWrite, off: d.Offset, data: data}
	t.ino.durable.apply(op)
	t.ino.live.apply(op)
	return d, true
}

// CorruptRange damages the durable bytes of the file at path, as Corrupt
// does, at a byte chosen with seed in [from, to) (a BitFlip), or the
// sector holding it (a ZeroSector). It reports false when the file has no
// durable byte there.
func (m *FS) CorruptRange(kind CorruptKind, path string, from, to int64, seed uint64) (Damage, bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	rnd := rand.New(rand.NewPCG(seed, 0x726f74))
	var t *inode
	m.walk(m.root, "", func(p string, n *inode) {
		if p == path && !n.dir {
			t = n
		}
	})
	if t == nil {
		return Damage{}, false
	}
	to = min(to, t.durable.size)
	if from < 0 || from >= to {
		return Damage{}, false
	}
	d := Damage{Kind: kind, Path: path, Offset: from + rnd.Int64N(to-from)}
	var data []byte
	switch kind {
	case BitFlip:
		d.Bit = rnd.IntN(8)
		data = make([]byte, 1)
		t.durable.readAt(data, d.Offset)
		data[0] ^= 1 << d.Bit
	case ZeroSector:
		d.Offset &^= SectorSize - 1
		data = make([]byte, min(SectorSize, t.durable.size-d.Offset))
	}
	op := fileOp{kind: opWrite, off: d.Offset, data: data}
	t.durable.apply(op)
	t.live.apply(op)
	return d, true
}

// walk visits every live entry under n in name order.
func (m *FS) walk(n *inode, p string, fn func(string, *inode)) {
	names := make([]string, 0, len(n.live2))
	for k := range n.live2 {
		names = append(names, k)
	}
	sort.Strings(names)
	for _, k := range names {
		c := n.live2[k]
		cp := p + "/" + k
		fn(cp, c)
		if c.dir {
			m.walk(c, cp, fn)
		}
	}
}

// FileInfo describes one file or directory of the live tree.
type FileInfo struct {
	Path     string
	Dir      bool
	Size     int64 // live size
	Durable  int64 // durable size
	Unsynced int   // changes in the volatile layer
}

// Files lists the live tree, in path order.
func (m *FS) Files() []FileInfo {
	m.mu.Lock()
	defer m.mu.Unlock()
	var out []FileInfo
	m.walk(m.root, "", func(p string, n *inode) {
		fi := FileInfo{Path: p, Dir: n.dir, Size: n.live.size, Durable: n.durable.size, Unsynced: len(n.pending)}
		if n.dir {
			fi.Size, fi.Durable, fi.Unsynced = 0, 0, len(n.dops)
		}
		out = append(out, fi)
	})
	return out
}

// ReadFile returns the live bytes of the file at p.
func (m *FS) ReadFile(p string) ([]byte, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	n, err := m.lookup(p)
	if err == nil && n.dir {
		err = errIsDir
	}
	if err != nil {
		return nil, wrap("read-file", p, err)
	}
	return n.live.bytes(), nil
}

// Remove removes the file at p durably (an operator deleting a file with
// the store down): the entry and the parent's change are both durable.
func (m *FS) Remove(p string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if err := m.remove(p); err != nil {
		return wrap(platform.NameRemove, p, err)
	}
	d, _, _ := m.parent(p)
	d.syncDir()
	return nil
}

// CloseAll closes every open FD and releases every lock, as the exit of
// the process that held them would; unlike a crash it loses nothing.
func (m *FS) CloseAll() {
	m.mu.Lock()
	defer m.mu.Unlock()
	clear(m.fds)
	clear(m.locks)
}
