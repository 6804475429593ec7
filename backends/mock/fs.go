package mock

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"math/rand/v2"
	"os"
	"path"
	"sort"
	"strings"
	"sync"
	"syscall"
	"time"

	"rose-ash.com/persist/effect"
	"rose-ash.com/persist/platform"
)

// SectorSize is the unit of torn writes and zeroed sectors.
const SectorSize = 512

// ErrHalted is the error of an effect on a halted filesystem when Options
// names no crash error.
var ErrHalted = errors.New("mock: filesystem halted by a crash")

// Options configure a filesystem. The zero value is ready to use.
type Options struct {
	// CrashErr is the error an injected crash answers, and what an effect on
	// a halted filesystem wraps; nil means ErrHalted. A crash test running
	// under package interp sets interp.ErrCrash here.
	CrashErr error
	// Start is the first answer of io/clock; zero means 2026-01-01 UTC.
	Start time.Time
	// Tick is how far io/clock advances per call; zero means 1ms.
	Tick time.Duration
	// Record keeps a trace of every effect (see FS.Trace).
	Record bool
}

// FS is the mock platform: a handler of every effect of package platform
// over an in-memory filesystem. It is safe for concurrent use.
type FS struct {
	opts Options
	seed uint64

	mu     sync.Mutex
	root   *inode
	nextIn uint64
	fds    map[platform.FD]*openFile
	nextFD platform.FD
	locks  map[*inode]platform.FD
	ticks  int64
	rnd    *rand.Rand
	halted error
	count  int // effects seen
	inj    []*Injector
	trace  []TraceEntry
}

type openFile struct {
	ino   *inode
	path  string
	write bool
	lock  bool
}

// fileOp is one change in a file's volatile layer.
type fileOp struct {
	kind opKind
	off  int64
	data []byte // write
	size int64  // truncate, extend
}

type opKind uint8

const (
	opWrite opKind = iota
	opTruncate
	opExtend
)

// dirOp is one change in a directory's volatile layer: entries set (to an
// inode) or removed (nil), applied together.
type dirOp struct {
	changes []dirChange
}

type dirChange struct {
	name string
	ino  *inode // nil removes
}

type inode struct {
	id  uint64
	dir bool

	// A file: its durable bytes, its live bytes, and the changes between.
	durable content
	live    content
	pending []fileOp

	// A directory: durable and live entries, and the changes between.
	dents   map[string]*inode
	live2   map[string]*inode
	dops    []dirOp
	modTime time.Time
}

// New returns an empty filesystem whose draws come from seed.
func New(seed uint64, opts Options) *FS {
	m := &FS{opts: opts, seed: seed}
	m.reset()
	m.root = m.newDir()
	return m
}

func (m *FS) reset() {
	m.fds = make(map[platform.FD]*openFile)
	m.locks = make(map[*inode]platform.FD)
	m.rnd = rand.New(rand.NewPCG(m.seed, 0x6d6f636b))
}

func (m *FS) newDir() *inode {
	m.nextIn++
	return &inode{id: m.nextIn, dir: true, dents: map[string]*inode{}, live2: map[string]*inode{}}
}

func (m *FS) newFile() *inode {
	m.nextIn++
	return &inode{id: m.nextIn}
}

// Seed is the seed the filesystem was made with.
func (m *FS) Seed() uint64 { return m.seed }

// Ops counts the effects the filesystem has answered or failed.
func (m *FS) Ops() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.count
}

// Halt makes every later effect fail with err wrapped, as after a power cut
// (nil means the crash error of the options). It does not change the
// filesystem's state: Crash still builds the disk the machine left.
func (m *FS) Halt(err error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if err == nil {
		err = m.crashErr()
	}
	if m.halted == nil {
		m.halted = err
	}
}

// Halted reports whether the filesystem was halted.
func (m *FS) Halted() bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.halted != nil
}

func (m *FS) crashErr() error {
	if m.opts.CrashErr != nil {
		return m.opts.CrashErr
	}
	return ErrHalted
}

// Inject adds injectors; each counts the effects its predicate matches from
// now on, and fires once.
func (m *FS) Inject(in ...*Injector) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.inj = append(m.inj, in...)
}

var _ effect.Handler = (*FS)(nil)

// Handle answers the effects of package platform, and effect.ErrUnhandled
// for any other.
func (m *FS) Handle(_ *effect.P, e effect.Effect) (any, error) {
	switch e.(type) {
	case platform.Open, platform.WriteAt, platform.ReadAt, platform.Fdatasync, platform.Fsync,
		platform.Truncate, platform.Rename, platform.Remove, platform.List, platform.Mkdir,
		platform.SyncDir, platform.Stat, platform.Close, platform.Lock, platform.Fallocate,
		platform.Clock, platform.Random:
	default:
		return nil, effect.ErrUnhandled
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	idx := m.count
	m.count++
	op := Op{Index: idx, Name: e.EffectName(), Path: m.pathOf(e), Effect: e}
	var v any
	var err error
	if m.halted != nil {
		v, err = zeroAnswer(e), &platform.Error{Op: op.Name, Path: op.Path, Err: m.halted}
	} else {
		v, err = m.handle(op)
	}
	if m.opts.Record {
		m.trace = append(m.trace, traceOf(op, v, err))
	}
	return v, err
}

// handle applies the injectors, then carries out the effect.
func (m *FS) handle(op Op) (any, error) {
	var act *Injector
	for _, in := range m.inj {
		if in.count(op) && act == nil {
			act = in
		}
	}
	if act == nil {
		return m.do(op.Effect)
	}
	return m.inject(op, act)
}

// inject carries out op under the action of in.
func (m *FS) inject(op Op, in *Injector) (any, error) {
	e := op.Effect
	fail := func(err error) (any, error) {
		return zeroAnswer(e), &platform.Error{Op: op.Name, Path: op.Path, Err: &InjectedError{Injector: in.String(), Err: err}}
	}
	switch in.Do.Kind {
	case ActCrash:
		if in.Do.After {
			_, _ = m.do(e)
		}
		m.halted = m.crashErr()
		return fail(m.halted)
	case ActEIO:
		switch o := e.(type) {
		case platform.Fdatasync:
			m.dropPages(o.FD)
		case platform.Fsync:
			m.dropPages(o.FD)
		}
		return fail(syscall.EIO)
	case ActENOSPC:
		return fail(syscall.ENOSPC)
	case ActShort:
		if w, ok := e.(platform.WriteAt); ok && len(w.Data) > 1 {
			n := 1 + m.rnd.IntN(len(w.Data)-1)
			if in.Do.N > 0 && in.Do.N < len(w.Data) {
				n = in.Do.N
			}
			w.Data = w.Data[:n]
			if _, err := m.do(w); err != nil {
				return 0, err
			}
			return n, &platform.Error{Op: op.Name, Path: op.Path, Err: &InjectedError{Injector: in.String(), Err: io.ErrShortWrite}}
		}
		return fail(io.ErrShortWrite)
	case ActMisdirect:
		switch o := e.(type) {
		case platform.WriteAt:
			o.Off = misdirect(o.Off, in.Do.N)
			if _, err := m.do(o); err != nil {
				return 0, err
			}
			return len(o.Data), nil // the device says it wrote where asked
		case platform.ReadAt:
			o.Off = misdirect(o.Off, in.Do.N)
			return m.do(o)
		}
		return m.do(e)
	}
	return fail(fmt.Errorf("unknown action %d", in.Do.Kind))
}

func misdirect(off int64, delta int) int64 {
	if delta == 0 {
		delta = SectorSize
	}
	if off+int64(delta) < 0 {
		return off - int64(delta)
	}
	return off + int64(delta)
}

// dropPages forgets the unsynced changes of fd's file: a failed fsync
// whose pages the kernel marked clean. Reads still see them; no later
// sync makes them durable.
func (m *FS) dropPages(fd platform.FD) {
	if f := m.fds[fd]; f != nil && !f.ino.dir {
		f.ino.pending = nil
	}
}

func zeroAnswer(e effect.Effect) any {
	switch e.(type) {
	case platform.Open, platform.Lock:
		return platform.FD(0)
	case platform.WriteAt, platform.ReadAt:
		return 0
	case platform.List:
		return []platform.DirEntry(nil)
	case platform.Stat:
		return platform.FileInfo{}
	case platform.Clock:
		return time.Time{}
	case platform.Random:
		return []byte(nil)
	}
	return struct{}{}
}

// pathOf names the file an effect concerns; the caller holds mu.
func (m *FS) pathOf(e effect.Effect) string {
	fdPath := func(fd platform.FD) string {
		if f := m.fds[fd]; f != nil {
			return f.path
		}
		return fmt.Sprintf("fd %d", fd)
	}
	switch o := e.(type) {
	case platform.Open:
		return o.Path
	case platform.Lock:
		return o.Path
	case platform.WriteAt:
		return fdPath(o.FD)
	case platform.ReadAt:
		return fdPath(o.FD)
	case platform.Fdatasync:
		return fdPath(o.FD)
	case platform.Fsync:
		return fdPath(o.FD)
	case platform.Truncate:
		return fdPath(o.FD)
	case platform.Fallocate:
		return fdPath(o.FD)
	case platform.Close:
		return fdPath(o.FD)
	case platform.Rename:
		return o.From + " -> " + o.To
	case platform.Remove:
		return o.Path
	case platform.List:
		return o.Dir
	case platform.Mkdir:
		return o.Path
	case platform.SyncDir:
		return o.Path
	case platform.Stat:
		return o.Path
	}
	return ""
}

// do carries out e; the caller holds mu.
func (m *FS) do(e effect.Effect) (any, error) {
	switch op := e.(type) {
	case platform.Open:
		fd, err := m.open(op.Path, op.Flag, false)
		return fd, wrap(op.EffectName(), op.Path, err)
	case platform.Lock:
		fd, err := m.open(op.Path, os.O_RDWR|os.O_CREATE, true)
		return fd, wrap(op.EffectName(), op.Path, err)
	case platform.Close:
		f, err := m.fd(op.EffectName(), op.FD)
		if err != nil {
			return struct{}{}, err
		}
		delete(m.fds, op.FD)
		if f.lock && m.locks[f.ino] == op.FD {
			delete(m.locks, f.ino)
		}
		return struct{}{}, nil
	case platform.WriteAt:
		f, err := m.fd(op.EffectName(), op.FD)
		if err != nil {
			return 0, err
		}
		if !f.write {
			return 0, wrap(op.EffectName(), f.path, syscall.EBADF)
		}
		if op.Off < 0 {
			return 0, wrap(op.EffectName(), f.path, syscall.EINVAL)
		}
		data := append([]byte(nil), op.Data...)
		f.ino.change(fileOp{kind: opWrite, off: op.Off, data: data})
		return len(op.Data), nil
	case platform.ReadAt:
		f, err := m.fd(op.EffectName(), op.FD)
		if err != nil {
			return 0, err
		}
		if f.ino.dir {
			return 0, wrap(op.EffectName(), f.path, syscall.EISDIR)
		}
		if op.Off < 0 {
			return 0, wrap(op.EffectName(), f.path, syscall.EINVAL)
		}
		return f.ino.live.readAt(op.Buf, op.Off), nil
	case platform.Fdatasync:
		return m.syncFile(op.EffectName(), op.FD)
	case platform.Fsync:
		// The mock keeps no metadata apart from data: both syncs make the
		// file's contents and size durable.
		return m.syncFile(op.EffectName(), op.FD)
	case platform.Truncate:
		f, err := m.fd(op.EffectName(), op.FD)
		if err != nil {
			return struct{}{}, err
		}
		if !f.write || f.ino.dir {
			return struct{}{}, wrap(op.EffectName(), f.path, syscall.EINVAL)
		}
		if op.Size < 0 {
			return struct{}{}, wrap(op.EffectName(), f.path, syscall.EINVAL)
		}
		f.ino.change(fileOp{kind: opTruncate, size: op.Size})
		return struct{}{}, nil
	case platform.Fallocate:
		f, err := m.fd(op.EffectName(), op.FD)
		if err != nil {
			return struct{}{}, err
		}
		if op.Off < 0 || op.Len <= 0 {
			return struct{}{}, wrap(op.EffectName(), f.path, fmt.Errorf("invalid range off %d len %d: %w", op.Off, op.Len, fs.ErrInvalid))
		}
		if !f.write || f.ino.dir {
			return struct{}{}, wrap(op.EffectName(), f.path, syscall.EBADF)
		}
		if op.Off+op.Len > f.ino.live.size {
			f.ino.change(fileOp{kind: opExtend, size: op.Off + op.Len})
		}
		return struct{}{}, nil
	case platform.Rename:
		return struct{}{}, wrap(op.EffectName(), op.From+" -> "+op.To, m.rename(op.From, op.To))
	case platform.Remove:
		return struct{}{}, wrap(op.EffectName(), op.Path, m.remove(op.Path))
	case platform.Mkdir:
		return struct{}{}, wrap(op.EffectName(), op.Path, m.mkdir(op.Path))
	case platform.SyncDir:
		d, err := m.lookup(op.Path)
		if err == nil && !d.dir {
			err = syscall.ENOTDIR
		}
		if err != nil {
			return struct{}{}, wrap(op.EffectName(), op.Path, err)
		}
		d.syncDir()
		return struct{}{}, nil
	case platform.List:
		d, err := m.lookup(op.Dir)
		if err == nil && !d.dir {
			err = syscall.ENOTDIR
		}
		if err != nil {
			return []platform.DirEntry(nil), wrap(op.EffectName(), op.Dir, err)
		}
		out := make([]platform.DirEntry, 0, len(d.live2))
		for name, ino := range d.live2 {
			out = append(out, platform.DirEntry{Name: name, IsDir: ino.dir})
		}
		sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
		return out, nil
	case platform.Stat:
		ino, err := m.lookup(op.Path)
		if err != nil {
			return platform.FileInfo{}, wrap(op.EffectName(), op.Path, err)
		}
		fi := platform.FileInfo{Name: path.Base(clean(op.Path)), Size: ino.live.size, IsDir: ino.dir, Mode: 0o644, ModTime: ino.modTime}
		if ino.dir {
			fi.Size, fi.Mode = 0, fs.ModeDir|0o755
		}
		return fi, nil
	case platform.Clock:
		return m.now(), nil
	case platform.Random:
		if op.N < 0 {
			return []byte(nil), &platform.Error{Op: op.EffectName(), Err: fmt.Errorf("negative length %d: %w", op.N, fs.ErrInvalid)}
		}
		b := make([]byte, op.N)
		for i := range b {
			b[i] = byte(m.rnd.Uint32())
		}
		return b, nil
	}
	return nil, effect.ErrUnhandled
}

func (m *FS) now() time.Time {
	start := m.opts.Start
	if start.IsZero() {
		start = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	}
	tick := m.opts.Tick
	if tick == 0 {
		tick = time.Millisecond
	}
	m.ticks++
	return start.Add(time.Duration(m.ticks) * tick)
}

func (m *FS) fd(op string, fd platform.FD) (*openFile, error) {
	f := m.fds[fd]
	if f == nil {
		return nil, &platform.Error{Op: op, Path: fmt.Sprintf("fd %d", fd), Err: fs.ErrClosed}
	}
	return f, nil
}

func wrap(op, p string, err error) error {
	if err == nil {
		return nil
	}
	return &platform.Error{Op: op, Path: p, Err: err}
}

func clean(p string) string {
	if !strings.HasPrefix(p, "/") {
		p = "/" + p
	}
	return path.Clean(p)
}

// split gives the parent directory and the base name of p.
func split(p string) (string, string) {
	c := clean(p)
	return path.Dir(c), path.Base(c)
}

// lookup finds the inode at p in the live tree.
func (m *FS) lookup(p string) (*inode, error) {
	c := clean(p)
	ino := m.root
	if c == "/" {
		return ino, nil
	}
	for _, part := range strings.Split(c[1:], "/") {
		if !ino.dir {
			return nil, syscall.ENOTDIR
		}
		next := ino.live2[part]
		if next == nil {
			return nil, syscall.ENOENT
		}
		ino = next
	}
	return ino, nil
}

func (m *FS) parent(p string) (*inode, string, error) {
	dir, base := split(p)
	if base == "/" || base == "." {
		return nil, "", syscall.EINVAL
	}
	d, err := m.lookup(dir)
	if err != nil {
		return nil, "", err
	}
	if !d.dir {
		return nil, "", syscall.ENOTDIR
	}
	return d, base, nil
}

func (m *FS) open(p string, flag int, lock bool) (platform.FD, error) {
	if flag&os.O_APPEND != 0 {
		return 0, syscall.EINVAL
	}
	write := flag&(os.O_WRONLY|os.O_RDWR) != 0
	d, base, err := m.parent(p)
	if err != nil {
		if clean(p) == "/" && !write {
			return m.addFD(&openFile{ino: m.root, path: p}), nil
		}
		return 0, err
	}
	ino := d.live2[base]
	switch {
	case ino != nil && flag&os.O_CREATE != 0 && flag&os.O_EXCL != 0:
		return 0, syscall.EEXIST
	case ino == nil && flag&os.O_CREATE == 0:
		return 0, syscall.ENOENT
	case ino == nil:
		ino = m.newFile()
		ino.modTime = m.now()
		d.dirChange(dirOp{changes: []dirChange{{name: base, ino: ino}}})
	}
	if ino.dir && write {
		return 0, syscall.EISDIR
	}
	if lock {
		if _, held := m.locks[ino]; held {
			return 0, platform.ErrLocked
		}
	}
	if flag&os.O_TRUNC != 0 && write && ino.live.size > 0 {
		ino.change(fileOp{kind: opTruncate, size: 0})
	}
	fd := m.addFD(&openFile{ino: ino, path: p, write: write, lock: lock})
	if lock {
		m.locks[ino] = fd
	}
	return fd, nil
}

func (m *FS) addFD(f *openFile) platform.FD {
	m.nextFD++
	m.fds[m.nextFD] = f
	return m.nextFD
}

func (m *FS) mkdir(p string) error {
	d, base, err := m.parent(p)
	if err != nil {
		if clean(p) == "/" {
			return syscall.EEXIST
		}
		return err
	}
	if d.live2[base] != nil {
		return syscall.EEXIST
	}
	n := m.newDir()
	n.modTime = m.now()
	d.dirChange(dirOp{changes: []dirChange{{name: base, ino: n}}})
	return nil
}

func (m *FS) remove(p string) error {
	d, base, err := m.parent(p)
	if err != nil {
		return err
	}
	ino := d.live2[base]
	if ino == nil {
		return syscall.ENOENT
	}
	if ino.dir && len(ino.live2) > 0 {
		return syscall.ENOTEMPTY
	}
	d.dirChange(dirOp{changes: []dirChange{{name: base}}})
	return nil
}

func (m *FS) rename(from, to string) error {
	fd, fbase, err := m.parent(from)
	if err != nil {
		return err
	}
	ino := fd.live2[fbase]
	if ino == nil {
		return syscall.ENOENT
	}
	td, tbase, err := m.parent(to)
	if err != nil {
		return err
	}
	if old := td.live2[tbase]; old != nil {
		switch {
		case old == ino:
			return nil
		case old.dir && !ino.dir:
			return syscall.EISDIR
		case !old.dir && ino.dir:
			return syscall.ENOTDIR
		case old.dir && len(old.live2) > 0:
			return syscall.ENOTEMPTY
		}
	}
	if ino.dir {
		// A directory may not move into itself.
		for c := clean(to); c != "/"; c = path.Dir(c) {
			if n, err := m.lookup(c); err == nil && n == ino {
				return syscall.EINVAL
			}
		}
	}
	if fd == td {
		fd.dirChange(dirOp{changes: []dirChange{{name: tbase, ino: ino}, {name: fbase}}})
		return nil
	}
	td.dirChange(dirOp{changes: []dirChange{{name: tbase, ino: ino}}})
	fd.dirChange(dirOp{changes: []dirChange{{name: fbase}}})
	return nil
}

// change adds a change to a file's volatile layer and applies it to the
// live bytes.
func (n *inode) change(op fileOp) {
	n.pending = append(n.pending, op)
	n.live.apply(op)
}

// sync makes a file's volatile layer durable.
func (n *inode) sync() {
	if n.dir {
		n.syncDir()
		return
	}
	for _, op := range n.pending {
		n.durable.apply(op)
	}
	n.pending = nil
}

func (n *inode) dirChange(op dirOp) {
	n.dops = append(n.dops, op)
	for _, c := range op.changes {
		if c.ino == nil {
			delete(n.live2, c.name)
		} else {
			n.live2[c.name] = c.ino
		}
	}
}

func (n *inode) syncDir() {
	for _, op := range n.dops {
		applyDir(n.dents, op)
	}
	n.dops = nil
}

func applyDir(ents map[string]*inode, op dirOp) {
	for _, c := range op.changes {
		if c.ino == nil {
			delete(ents, c.name)
		} else {
			ents[c.name] = c.ino
		}
	}
}

// syncFile makes the file open as fd durable, for io/fdatasync and io/fsync.
func (m *FS) syncFile(name string, fd platform.FD) (struct{}, error) {
	f, err := m.fd(name, fd)
	if err != nil {
		return struct{}{}, err
	}
	f.ino.sync()
	return struct{}{}, nil
}
