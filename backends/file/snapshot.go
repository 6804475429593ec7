package file

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"hash/crc32"
	"io/fs"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"

	"rose-ash.com/persist/effect"
	"rose-ash.com/persist/ops"
)

// Snapshot files. See the package doc for the layout and the rule of
// generations.
const (
	snapHeader = 24
	snapFooter = 8
	snapSuffix = ".snap"
	// snapOnDisk is the fewest generations of a name left on disk: with
	// Keep 1 the previous one stays as the fallback for a damaged newest.
	snapOnDisk = 2
)

var snapMagic = [8]byte{'p', 'e', 'r', 's', 'i', 's', 't', 'S'}

// snapFile is one snapshot file: its generation and the Keep of the write
// that made it, both from its name (keep 0: a format 1 file, which kept
// one).
type snapFile struct {
	gen  uint64
	keep int
	path string
}

// snapMeta is what a listing tells of a generation, cached by path: a
// snapshot file is never rewritten in place.
type snapMeta struct {
	name    string
	version uint64
	seq     uint64
}

// snapshots indexes the snapshot files by the hash of their name.
type snapshots struct {
	dir   string
	wmu   sync.Mutex // serialises writers
	mu    sync.RWMutex
	files map[string][]snapFile // oldest first
	last  map[string]uint64     // per key, the highest generation taken
	// follow is set on a read-only store: another process writes the
	// snapshots, so the listing is refreshed before each read and a file
	// removed since is skipped.
	follow bool

	metaMu sync.Mutex
	meta   map[string]snapMeta
}

func snapKey(name string) string {
	h := sha256.Sum256([]byte(name))
	return hex.EncodeToString(h[:16])
}

// snapFileName is the name of generation gen of key, written with keep.
func snapFileName(key string, gen uint64, keep int) string {
	return fmt.Sprintf("%s-%016x-k%d%s", key, gen, keep, snapSuffix)
}

// parseSnapName reads "<key>-<gen>-k<keep>.snap", or a format 1 file's
// "<key>-<gen>.snap" (keep 0).
func parseSnapName(name string) (snapFile, string, bool) {
	base, ok := strings.CutSuffix(name, snapSuffix)
	if !ok || len(base) < 32+1+16 || base[32] != '-' {
		return snapFile{}, "", false
	}
	if _, err := hex.DecodeString(base[:32]); err != nil || strings.ToLower(base[:32]) != base[:32] {
		return snapFile{}, "", false
	}
	gen, err := strconv.ParseUint(base[33:49], 16, 64)
	if err != nil || gen == 0 {
		return snapFile{}, "", false
	}
	f := snapFile{gen: gen}
	if rest := base[49:]; rest != "" {
		k, ok := strings.CutPrefix(rest, "-k")
		if !ok {
			return snapFile{}, "", false
		}
		keep, err := strconv.Atoi(k)
		if err != nil || keep < 1 || keep > ops.MaxSnapshotGenerations || strconv.Itoa(keep) != k {
			return snapFile{}, "", false
		}
		f.keep = keep
	}
	return f, base[:32], true
}

func (ss *snapshots) load(p *effect.P, dir string) error {
	ss.dir = dir
	ss.files = make(map[string][]snapFile)
	ss.last = make(map[string]uint64)
	ents, err := listDir(p, dir)
	if err != nil {
		return fmt.Errorf("file: list snapshots: %w", err)
	}
	for _, e := range ents {
		f, key, ok := parseSnapName(e.Name)
		if !ok || e.IsDir {
			continue
		}
		f.path = filepath.Join(dir, e.Name)
		ss.files[key] = append(ss.files[key], f)
		ss.last[key] = max(ss.last[key], f.gen)
	}
	for _, fs := range ss.files {
		// By generation, then by path, so that every open agrees even on
		// a directory no write of this package leaves (two files of one
		// generation).
		sort.Slice(fs, func(i, j int) bool {
			if fs[i].gen != fs[j].gen {
				return fs[i].gen < fs[j].gen
			}
			return fs[i].path < fs[j].path
		})
	}
	return nil
}

// reload lists the snapshot files again (a read-only store, whose writer
// is another process).
func (ss *snapshots) reload(p *effect.P) error {
	var fresh snapshots
	if err := fresh.load(p, ss.dir); err != nil {
		return err
	}
	ss.mu.Lock()
	ss.files, ss.last = fresh.files, fresh.last
	ss.mu.Unlock()
	present := make(map[string]bool)
	for _, files := range fresh.files {
		for _, f := range files {
			present[f.path] = true
		}
	}
	ss.metaMu.Lock()
	for path := range ss.meta {
		if !present[path] {
			delete(ss.meta, path) // removed by the writer
		}
	}
	ss.metaMu.Unlock()
	return nil
}

// kept gives the generations of files that count as kept: the newest
// Keep of them, by the Keep of the newest file.
func kept(files []snapFile) []snapFile {
	if len(files) == 0 {
		return nil
	}
	k := max(files[len(files)-1].keep, 1)
	return files[max(0, len(files)-k):]
}

// candidates gives, newest first, the files a read of the newest
// generation tries: the kept ones, then the one before them (the
// fallback, not listed).
func candidates(files []snapFile) []snapFile {
	k := kept(files)
	n := len(k)
	if len(files) > n {
		n++
	}
	out := make([]snapFile, 0, n)
	for i := len(files) - 1; i >= len(files)-n; i-- {
		out = append(out, files[i])
	}
	return out
}

// count is the number of snapshot generations kept, all names together.
func (ss *snapshots) count() int {
	ss.mu.RLock()
	defer ss.mu.RUnlock()
	n := 0
	for _, files := range ss.files {
		n += len(kept(files))
	}
	return n
}

func (ss *snapshots) close() {}

// snapRec is a snapshot file's content: the snapshot, and, in format 2,
// its generation and the Keep of its write.
type snapRec struct {
	ops.Snapshot
	format uint32
	gen    uint64
	keep   int
}

func encodeSnapshot(r snapRec) []byte {
	body := binary.AppendUvarint(nil, uint64(len(r.Name)))
	body = append(body, r.Name...)
	if r.format >= snapFormat2 {
		body = binary.AppendUvarint(body, r.gen)
		body = binary.AppendUvarint(body, uint64(r.keep))
	}
	body = binary.AppendUvarint(body, r.Version)
	body = binary.AppendUvarint(body, r.Seq)
	body = binary.AppendUvarint(body, uint64(len(r.Value)))
	body = append(body, r.Value...)
	b := make([]byte, 0, snapHeader+len(body)+snapFooter)
	b = append(b, snapMagic[:]...)
	b = binary.LittleEndian.AppendUint32(b, r.format)
	b = binary.LittleEndian.AppendUint32(b, 0)
	b = binary.LittleEndian.AppendUint64(b, uint64(len(body)))
	b = append(b, body...)
	b = binary.LittleEndian.AppendUint32(b, crc32.Checksum(b, castagnoli))
	return append(b, snapMagic[:4]...)
}

// decodeSnapshot checks and decodes a snapshot file of either format; the
// value is a copy. On error the offset is where the damage was found.
func decodeSnapshot(b []byte) (snapRec, int64, error) {
	if len(b) < snapHeader+snapFooter || [8]byte(b[:8]) != snapMagic {
		return snapRec{}, 0, errors.New("not a snapshot file")
	}
	v := binary.LittleEndian.Uint32(b[8:])
	if v != snapFormat1 && v != snapFormat2 {
		return snapRec{}, 8, fmt.Errorf("unknown format version %d", v)
	}
	n := binary.LittleEndian.Uint64(b[16:])
	if n != uint64(len(b)-snapHeader-snapFooter) {
		return snapRec{}, 16, fmt.Errorf("body length %d does not match the file", n)
	}
	end := snapHeader + int(n)
	if got, want := crc32.Checksum(b[:end], castagnoli), binary.LittleEndian.Uint32(b[end:]); got != want {
		return snapRec{}, int64(end), fmt.Errorf("checksum mismatch: stored %08x, computed %08x", want, got)
	}
	if [4]byte(b[end+4:]) != [4]byte(snapMagic[:4]) || binary.LittleEndian.Uint32(b[12:]) != 0 {
		return snapRec{}, int64(end + 4), errors.New("bad footer")
	}
	d := decoder{b: b[snapHeader:end]}
	r := snapRec{format: v}
	r.Name = string(d.bytes())
	if v >= snapFormat2 {
		r.gen = d.uvarint()
		keep := d.uvarint()
		if r.gen == 0 || keep < 1 || keep > ops.MaxSnapshotGenerations {
			d.fail()
		}
		r.keep = int(keep)
	}
	r.Version = d.uvarint()
	r.Seq = d.uvarint()
	if v := d.bytes(); len(v) > 0 {
		r.Value = append([]byte(nil), v...)
	}
	if d.err != nil || len(d.b) != 0 {
		return snapRec{}, snapHeader, errors.New("malformed snapshot body")
	}
	return r, 0, nil
}

// readSnap reads and checks the file f of key: a file that does not
// decode, or holds another name, generation or Keep than its own name
// says (a misdirected or misnamed file), is a *CorruptError.
func readSnap(p *effect.P, f snapFile, key string) (snapRec, error) {
	b, err := readFile(p, f.path)
	if err != nil {
		return snapRec{}, err
	}
	r, off, err := decodeSnapshot(b)
	switch {
	case err != nil:
	case snapKey(r.Name) != key:
		err = fmt.Errorf("holds snapshot %q", r.Name)
	case r.format == snapFormat1 && f.keep != 0:
		err = errors.New("a format 1 body under a format 2 name")
	case r.format >= snapFormat2 && (r.gen != f.gen || r.keep != f.keep):
		err = fmt.Errorf("holds generation %d (keep %d), named %d (keep %d)", r.gen, r.keep, f.gen, f.keep)
	}
	if err != nil {
		return snapRec{}, corrupt(f.path, off, "%v", err)
	}
	return r, nil
}

// remember caches what a listing tells of a generation.
func (ss *snapshots) remember(path string, r snapRec) {
	ss.metaMu.Lock()
	defer ss.metaMu.Unlock()
	if ss.meta == nil {
		ss.meta = make(map[string]snapMeta)
	}
	ss.meta[path] = snapMeta{name: r.Name, version: r.Version, seq: r.Seq}
}

func (ss *snapshots) forget(path string) {
	ss.metaMu.Lock()
	defer ss.metaMu.Unlock()
	delete(ss.meta, path)
}

// readGen reads the generation f of key and remembers it. skip says to
// pass over it: a generation the writer has removed since (on a following
// store) or a damaged one, the first damage kept in *firstErr. Any other
// failure is err.
func (ss *snapshots) readGen(p *effect.P, f snapFile, key string, firstErr *error) (r snapRec, skip bool, err error) {
	r, err = readSnap(p, f, key)
	if ss.follow && errors.Is(err, fs.ErrNotExist) {
		return snapRec{}, true, nil
	}
	var ce *CorruptError
	if errors.As(err, &ce) {
		if *firstErr == nil {
			*firstErr = err
		}
		return snapRec{}, true, nil
	}
	if err != nil {
		return snapRec{}, false, err
	}
	ss.remember(f.path, r)
	return r, false, nil
}

func (ss *snapshots) cached(path string) (snapMeta, bool) {
	ss.metaMu.Lock()
	defer ss.metaMu.Unlock()
	m, ok := ss.meta[path]
	return m, ok
}

// write stores sn durably as the next generation of its name, then
// removes the generations neither kept nor the fallback.
func (ss *snapshots) write(p *effect.P, sn ops.Snapshot, keep int) error {
	ss.wmu.Lock()
	defer ss.wmu.Unlock()
	keep = max(keep, 1)
	key := snapKey(sn.Name)
	ss.mu.Lock()
	gen := ss.last[key] + 1
	// The number is taken even if the write fails: a rename that
	// survives a failed directory sync must not meet its number again.
	ss.last[key] = gen
	ss.mu.Unlock()
	path := filepath.Join(ss.dir, snapFileName(key, gen, keep))
	rec := snapRec{Snapshot: sn, format: snapFormat, gen: gen, keep: keep}
	if err := writeFileAtomic(p, path, encodeSnapshot(rec)); err != nil {
		return fmt.Errorf("file: write snapshot %q: %w", sn.Name, err)
	}
	ss.remember(path, rec)
	ss.mu.Lock()
	files := append(ss.files[key], snapFile{gen: gen, keep: keep, path: path})
	var drop []snapFile
	if n := len(files) - max(keep, snapOnDisk); n > 0 {
		drop = append(drop, files[:n]...)
		files = append([]snapFile(nil), files[n:]...)
	}
	ss.files[key] = files
	ss.mu.Unlock()
	for _, f := range drop {
		ss.forget(f.path)
		if err := remove(p, f.path); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("file: remove old snapshot: %w", err)
		}
	}
	if len(drop) > 0 {
		if err := syncDir(p, ss.dir); err != nil {
			return fmt.Errorf("file: sync snapshots: %w", err)
		}
	}
	return nil
}

// read answers ops.SnapshotRead. Generation 0 is the newest kept
// generation that validates, falling back past a damaged one to older
// kept ones and then to the fallback; a named generation is served only
// while it is kept, and a damaged one is ErrCorrupt.
func (ss *snapshots) read(p *effect.P, name string, gen uint64) (ops.SnapshotResult, error) {
	ss.mu.RLock()
	defer ss.mu.RUnlock()
	key := snapKey(name)
	absent := ops.SnapshotResult{Snapshot: ops.Snapshot{Name: name}}
	try := candidates(ss.files[key])
	if gen != 0 {
		var named []snapFile
		for _, f := range kept(ss.files[key]) {
			if f.gen == gen {
				named = append(named, f)
			}
		}
		if len(named) == 0 {
			return absent, nil
		}
		try = named
	}
	var firstErr error
	for _, f := range try {
		r, skip, err := ss.readGen(p, f, key, &firstErr)
		if skip {
			continue
		}
		if err != nil {
			return ops.SnapshotResult{}, fmt.Errorf("file: read snapshot %q: %w", name, err)
		}
		return ops.SnapshotResult{Snapshot: r.Snapshot, Found: true, Generation: f.gen}, nil
	}
	if firstErr != nil {
		return ops.SnapshotResult{}, firstErr
	}
	return absent, nil
}

// generations answers ops.SnapshotGenerations: the kept generations of
// name, newest first, each described from the cache or from its file. A
// damaged generation is left out, as a read of the newest passes over it
// (Verify lists it); a name none of whose kept generations validates is
// ErrCorrupt.
func (ss *snapshots) generations(p *effect.P, name string) (ops.SnapshotGenerationsResult, error) {
	ss.mu.RLock()
	defer ss.mu.RUnlock()
	key := snapKey(name)
	files := kept(ss.files[key])
	var res ops.SnapshotGenerationsResult
	var firstErr error
	for i := len(files) - 1; i >= 0; i-- {
		f := files[i]
		m, ok := ss.cached(f.path)
		if !ok {
			r, skip, err := ss.readGen(p, f, key, &firstErr)
			if skip {
				continue
			}
			if err != nil {
				return ops.SnapshotGenerationsResult{}, fmt.Errorf("file: list generations of snapshot %q: %w", name, err)
			}
			m = snapMeta{name: r.Name, version: r.Version, seq: r.Seq}
		}
		res.Generations = append(res.Generations, ops.SnapshotGeneration{Generation: f.gen, Version: m.version, Seq: m.seq})
	}
	if len(res.Generations) == 0 && firstErr != nil {
		return ops.SnapshotGenerationsResult{}, firstErr
	}
	return res, nil
}
