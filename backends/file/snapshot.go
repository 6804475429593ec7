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

// Snapshot files. See the package doc for the layout.
const (
	snapHeader  = 24
	snapFooter  = 8
	snapSuffix  = ".snap"
	snapKeepGen = 2 // the newest and the previous good one
)

var snapMagic = [8]byte{'p', 'e', 'r', 's', 'i', 's', 't', 'S'}

type snapFile struct {
	gen  uint64
	path string
}

// snapshots indexes the snapshot files by the hash of their name.
type snapshots struct {
	dir   string
	wmu   sync.Mutex // serialises writers
	mu    sync.RWMutex
	files map[string][]snapFile // oldest first
	gen   uint64
	// follow is set on a read-only store: another process writes the
	// snapshots, so the listing is refreshed before each read and a file
	// removed since is skipped.
	follow bool
}

func snapKey(name string) string {
	h := sha256.Sum256([]byte(name))
	return hex.EncodeToString(h[:16])
}

func parseSnapName(name string) (string, uint64, bool) {
	if !strings.HasSuffix(name, snapSuffix) || len(name) != 32+1+16+len(snapSuffix) || name[32] != '-' {
		return "", 0, false
	}
	if _, err := hex.DecodeString(name[:32]); err != nil {
		return "", 0, false
	}
	gen, err := strconv.ParseUint(name[33:49], 16, 64)
	return name[:32], gen, err == nil
}

func (ss *snapshots) load(p *effect.P, dir string) error {
	ss.dir = dir
	ss.files = make(map[string][]snapFile)
	ents, err := listDir(p, dir)
	if err != nil {
		return fmt.Errorf("file: list snapshots: %w", err)
	}
	for _, e := range ents {
		key, gen, ok := parseSnapName(e.Name)
		if !ok || e.IsDir {
			continue
		}
		ss.files[key] = append(ss.files[key], snapFile{gen: gen, path: filepath.Join(dir, e.Name)})
		ss.gen = max(ss.gen, gen)
	}
	for _, fs := range ss.files {
		sort.Slice(fs, func(i, j int) bool { return fs[i].gen < fs[j].gen })
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
	ss.files, ss.gen = fresh.files, fresh.gen
	ss.mu.Unlock()
	return nil
}

func (ss *snapshots) count() int {
	ss.mu.RLock()
	defer ss.mu.RUnlock()
	return len(ss.files)
}

func (ss *snapshots) close() {}

func encodeSnapshot(sn ops.Snapshot) []byte {
	body := binary.AppendUvarint(nil, uint64(len(sn.Name)))
	body = append(body, sn.Name...)
	body = binary.AppendUvarint(body, sn.Version)
	body = binary.AppendUvarint(body, sn.Seq)
	body = binary.AppendUvarint(body, uint64(len(sn.Value)))
	body = append(body, sn.Value...)
	b := make([]byte, 0, snapHeader+len(body)+snapFooter)
	b = append(b, snapMagic[:]...)
	b = binary.LittleEndian.AppendUint32(b, formatVersion)
	b = binary.LittleEndian.AppendUint32(b, 0)
	b = binary.LittleEndian.AppendUint64(b, uint64(len(body)))
	b = append(b, body...)
	b = binary.LittleEndian.AppendUint32(b, crc32.Checksum(b, castagnoli))
	return append(b, snapMagic[:4]...)
}

// decodeSnapshot checks and decodes a snapshot file; the value is a copy.
func decodeSnapshot(b []byte) (ops.Snapshot, int64, error) {
	if len(b) < snapHeader+snapFooter || [8]byte(b[:8]) != snapMagic {
		return ops.Snapshot{}, 0, errors.New("not a snapshot file")
	}
	if v := binary.LittleEndian.Uint32(b[8:]); v != formatVersion {
		return ops.Snapshot{}, 8, fmt.Errorf("unknown format version %d", v)
	}
	n := binary.LittleEndian.Uint64(b[16:])
	if n != uint64(len(b)-snapHeader-snapFooter) {
		return ops.Snapshot{}, 16, fmt.Errorf("body length %d does not match the file", n)
	}
	end := snapHeader + int(n)
	if got, want := crc32.Checksum(b[:end], castagnoli), binary.LittleEndian.Uint32(b[end:]); got != want {
		return ops.Snapshot{}, int64(end), fmt.Errorf("checksum mismatch: stored %08x, computed %08x", want, got)
	}
	if [4]byte(b[end+4:]) != [4]byte(snapMagic[:4]) {
		return ops.Snapshot{}, int64(end + 4), errors.New("bad footer")
	}
	d := decoder{b: b[snapHeader:end]}
	var sn ops.Snapshot
	sn.Name = string(d.bytes())
	sn.Version = d.uvarint()
	sn.Seq = d.uvarint()
	if v := d.bytes(); len(v) > 0 {
		sn.Value = append([]byte(nil), v...)
	}
	if d.err != nil || len(d.b) != 0 {
		return ops.Snapshot{}, snapHeader, errors.New("malformed snapshot body")
	}
	return sn, 0, nil
}

// write stores sn durably under a new generation, then removes the
// generations before the previous one.
func (ss *snapshots) write(p *effect.P, sn ops.Snapshot) error {
	ss.wmu.Lock()
	defer ss.wmu.Unlock()
	key := snapKey(sn.Name)
	ss.mu.RLock()
	gen := ss.gen + 1
	ss.mu.RUnlock()
	path := filepath.Join(ss.dir, fmt.Sprintf("%s-%016x%s", key, gen, snapSuffix))
	if err := writeFileAtomic(p, path, encodeSnapshot(sn)); err != nil {
		return fmt.Errorf("file: write snapshot %q: %w", sn.Name, err)
	}
	ss.mu.Lock()
	ss.gen = gen
	files := append(ss.files[key], snapFile{gen: gen, path: path})
	var drop []snapFile
	if len(files) > snapKeepGen {
		drop = append(drop, files[:len(files)-snapKeepGen]...)
		files = append([]snapFile(nil), files[len(files)-snapKeepGen:]...)
	}
	ss.files[key] = files
	ss.mu.Unlock()
	for _, f := range drop {
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

// read returns the newest generation of name that validates; a damaged
// newest generation falls back to the previous one.
func (ss *snapshots) read(p *effect.P, name string) (ops.SnapshotResult, error) {
	ss.mu.RLock()
	defer ss.mu.RUnlock()
	files := ss.files[snapKey(name)]
	var firstErr error
	for i := len(files) - 1; i >= 0; i-- {
		b, err := readFile(p, files[i].path)
		if ss.follow && errors.Is(err, fs.ErrNotExist) {
			continue // an older generation the writer has removed
		}
		if err != nil {
			return ops.SnapshotResult{}, fmt.Errorf("file: read snapshot %q: %w", name, err)
		}
		sn, off, err := decodeSnapshot(b)
		if err == nil && sn.Name != name {
			err = fmt.Errorf("holds snapshot %q", sn.Name)
		}
		if err != nil {
			if firstErr == nil {
				firstErr = corrupt(files[i].path, off, "%v", err)
			}
			continue
		}
		return ops.SnapshotResult{Snapshot: sn, Found: true}, nil
	}
	if firstErr != nil {
		return ops.SnapshotResult{}, firstErr
	}
	return ops.SnapshotResult{Snapshot: ops.Snapshot{Name: name}}, nil
}
