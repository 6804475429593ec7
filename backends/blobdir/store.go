package blobdir

import (
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"strings"
	"sync/atomic"

	"github.com/ipfs/go-cid"

	"rose-ash.com/persist/effect"
	"rose-ash.com/persist/ops"
	"rose-ash.com/persist/platform"
)

// Options configure a store. The zero value is ready to use.
type Options struct {
	// MaxBytes is the size limit of one blob; 0 means
	// ops.DefaultMaxBlobBytes.
	MaxBytes int64
}

// Store answers the blob operations of package ops over a directory,
// performing its IO outward as platform effects. It is safe for concurrent
// use.
type Store struct {
	dir    string
	max    int64
	closed atomic.Bool
}

var _ effect.Handler = (*Store)(nil)

// ErrClosed is the answer of every operation after Close.
var ErrClosed = errors.New("blobdir: store closed")

// Open opens (creating when absent) the store in dir, performing its IO on
// p: it makes the directories, removes what interrupted puts left under tmp
// and fsyncs what it changed.
func Open(p *effect.P, dir string, opts Options) (*Store, error) {
	s := &Store{dir: path.Clean(dir), max: opts.MaxBytes}
	if s.max <= 0 {
		s.max = ops.DefaultMaxBlobBytes
	}
	parent := path.Dir(s.dir)
	if made, err := mkdir(p, s.dir); err != nil {
		return nil, err
	} else if made {
		if err := syncDir(p, parent); err != nil {
			return nil, err
		}
	}
	changed := false
	for _, sub := range []string{"blobs", "tmp"} {
		made, err := mkdir(p, path.Join(s.dir, sub))
		if err != nil {
			return nil, err
		}
		changed = changed || made
	}
	if changed {
		if err := syncDir(p, s.dir); err != nil {
			return nil, err
		}
	}
	ents, err := effect.Perform(p, platform.List{Dir: s.tmpDir()})
	if err != nil {
		return nil, fmt.Errorf("blobdir: list tmp: %w", err)
	}
	removed := false
	for _, e := range ents {
		if e.IsDir || !strings.HasSuffix(e.Name, ".tmp") {
			continue
		}
		if _, err := effect.Perform(p, platform.Remove{Path: path.Join(s.tmpDir(), e.Name)}); err != nil {
			return nil, fmt.Errorf("blobdir: remove leftover %s: %w", e.Name, err)
		}
		removed = true
	}
	if removed {
		if err := syncDir(p, s.tmpDir()); err != nil {
			return nil, err
		}
	}
	return s, nil
}

// mkdir creates dir, reporting whether it was absent.
func mkdir(p *effect.P, dir string) (bool, error) {
	_, err := effect.Perform(p, platform.Mkdir{Path: dir, Perm: 0o755})
	switch {
	case err == nil:
		return true, nil
	case errors.Is(err, fs.ErrExist):
		return false, nil
	default:
		return false, fmt.Errorf("blobdir: make %s: %w", dir, err)
	}
}

func syncDir(p *effect.P, dir string) error {
	if _, err := effect.Perform(p, platform.SyncDir{Path: dir}); err != nil {
		return fmt.Errorf("blobdir: sync %s: %w", dir, err)
	}
	return nil
}

func (s *Store) tmpDir() string { return path.Join(s.dir, "tmp") }

// shard is the directory of c's file.
func (s *Store) shard(c string) string {
	return path.Join(s.dir, "blobs", c[len(c)-3:len(c)-1])
}

// Path is the file that holds the blob c, relative to the store's
// directory as Open was given it.
func (s *Store) Path(c cid.Cid) string {
	name := c.String()
	return path.Join(s.shard(name), name)
}

// Close makes every later operation answer ErrClosed. It holds no
// resources.
func (s *Store) Close() error {
	s.closed.Store(true)
	return nil
}

// Handle answers ops.BlobPut, BlobGet, BlobHas and BlobStat, and
// effect.ErrUnhandled for any other effect.
func (s *Store) Handle(p *effect.P, e effect.Effect) (any, error) {
	switch op := e.(type) {
	case ops.BlobPut:
		if s.closed.Load() {
			return nil, ErrClosed
		}
		return s.put(p, op)
	case ops.BlobGet:
		if s.closed.Load() {
			return nil, ErrClosed
		}
		return s.get(p, op)
	case ops.BlobHas:
		if s.closed.Load() {
			return nil, ErrClosed
		}
		if err := ops.CheckCID(op.CID); err != nil {
			return nil, err
		}
		_, err := s.stat(p, op.CID)
		if errors.Is(err, ops.ErrBlobNotFound) {
			return false, nil
		}
		return err == nil, err
	case ops.BlobStat:
		if s.closed.Load() {
			return nil, ErrClosed
		}
		if err := ops.CheckCID(op.CID); err != nil {
			return nil, err
		}
		size, err := s.stat(p, op.CID)
		if err != nil {
			return nil, err
		}
		return ops.BlobRef{CID: op.CID, Size: size}, nil
	}
	return nil, effect.ErrUnhandled
}

func (s *Store) stat(p *effect.P, c cid.Cid) (int64, error) {
	fi, err := effect.Perform(p, platform.Stat{Path: s.Path(c)})
	if errors.Is(err, fs.ErrNotExist) {
		return 0, fmt.Errorf("%w: %s", ops.ErrBlobNotFound, c)
	}
	if err != nil {
		return 0, fmt.Errorf("blobdir: stat %s: %w", c, err)
	}
	return fi.Size, nil
}

func (s *Store) put(p *effect.P, op ops.BlobPut) (ops.BlobRef, error) {
	if op.Body == nil {
		return ops.BlobRef{}, errors.New("blobdir: put without a body")
	}
	rnd, err := effect.Perform(p, platform.Random{N: 8})
	if err != nil {
		return ops.BlobRef{}, fmt.Errorf("blobdir: name a tmp file: %w", err)
	}
	tmp := path.Join(s.tmpDir(), hex.EncodeToString(rnd)+".tmp")
	fd, err := effect.Perform(p, platform.Open{Path: tmp, Flag: os.O_CREATE | os.O_EXCL | os.O_WRONLY, Perm: 0o644})
	if err != nil {
		return ops.BlobRef{}, fmt.Errorf("blobdir: create %s: %w", tmp, err)
	}
	open := true
	done := false
	defer func() {
		if open {
			_, _ = effect.Perform(p, platform.Close{FD: fd})
		}
		if !done {
			_, _ = effect.Perform(p, platform.Remove{Path: tmp})
		}
	}()

	var dag ops.BlobDAG
	buf := make([]byte, ops.BlobChunkBytes)
	var off int64
	for {
		n, rerr := io.ReadFull(op.Body, buf)
		if n > 0 {
			if off+int64(n) > s.max {
				return ops.BlobRef{}, fmt.Errorf("%w: more than %d bytes", ops.ErrBlobTooLarge, s.max)
			}
			if _, err := effect.Perform(p, platform.WriteAt{FD: fd, Off: off, Data: buf[:n]}); err != nil {
				return ops.BlobRef{}, fmt.Errorf("blobdir: write %s: %w", tmp, err)
			}
			_, _ = dag.Write(buf[:n])
			off += int64(n)
		}
		if rerr == io.EOF || rerr == io.ErrUnexpectedEOF {
			break
		}
		if rerr != nil {
			return ops.BlobRef{}, fmt.Errorf("blobdir: read the body: %w", rerr)
		}
	}
	c, size, err := dag.Sum()
	if err != nil {
		return ops.BlobRef{}, err
	}
	ref := ops.BlobRef{CID: c, Size: size, MediaType: op.MediaType}
	if _, err := effect.Perform(p, platform.Fsync{FD: fd}); err != nil {
		return ops.BlobRef{}, fmt.Errorf("blobdir: sync %s: %w", tmp, err)
	}
	open = false
	if _, err := effect.Perform(p, platform.Close{FD: fd}); err != nil {
		return ops.BlobRef{}, fmt.Errorf("blobdir: close %s: %w", tmp, err)
	}
	final := s.Path(c)
	made, err := mkdir(p, s.shard(c.String()))
	if err != nil {
		return ops.BlobRef{}, err
	}
	if made {
		if err := syncDir(p, path.Join(s.dir, "blobs")); err != nil {
			return ops.BlobRef{}, err
		}
	}
	if _, err := effect.Perform(p, platform.Rename{From: tmp, To: final}); err != nil {
		return ops.BlobRef{}, fmt.Errorf("blobdir: rename %s: %w", tmp, err)
	}
	done = true
	if err := syncDir(p, s.shard(c.String())); err != nil {
		return ops.BlobRef{}, err
	}
	return ref, nil
}

func (s *Store) get(p *effect.P, op ops.BlobGet) (ops.BlobRef, error) {
	if err := ops.CheckCID(op.CID); err != nil {
		return ops.BlobRef{}, err
	}
	if op.To == nil {
		return ops.BlobRef{}, errors.New("blobdir: get without a writer")
	}
	name := s.Path(op.CID)
	size, err := s.stat(p, op.CID)
	if err != nil {
		return ops.BlobRef{}, err
	}
	if size > s.max {
		return ops.BlobRef{}, fmt.Errorf("%w: %s is %d bytes, the limit is %d", ops.ErrBlobTooLarge, name, size, s.max)
	}
	fd, err := effect.Perform(p, platform.Open{Path: name, Flag: os.O_RDONLY})
	if errors.Is(err, fs.ErrNotExist) {
		return ops.BlobRef{}, fmt.Errorf("%w: %s", ops.ErrBlobNotFound, op.CID)
	}
	if err != nil {
		return ops.BlobRef{}, fmt.Errorf("blobdir: open %s: %w", name, err)
	}
	defer func() { _, _ = effect.Perform(p, platform.Close{FD: fd}) }()
	mismatch := func(what string) error {
		return fmt.Errorf("%w: %s: %s", ops.ErrBlobMismatch, name, what)
	}
	buf := make([]byte, ops.BlobChunkBytes)
	read := func(off int64) ([]byte, error) {
		n := int(min(int64(len(buf)), size-off))
		k, err := effect.Perform(p, platform.ReadAt{FD: fd, Off: off, Buf: buf[:n]})
		if err != nil {
			return nil, fmt.Errorf("blobdir: read %s at %d: %w", name, off, err)
		}
		if k != n {
			return nil, mismatch(fmt.Sprintf("ends at %d, short of %d", off+int64(k), size))
		}
		return buf[:n], nil
	}
	ref := ops.BlobRef{CID: op.CID, Size: size}
	if size <= ops.BlobChunkBytes {
		b, err := read(0)
		if err != nil {
			return ops.BlobRef{}, err
		}
		// A blob of one chunk (or none) is named by its raw block; a dag-pb
		// name never is.
		if op.CID.Prefix().Codec != cid.Raw || ops.VerifyBlock(op.CID, b) != nil {
			return ops.BlobRef{}, mismatch("bytes do not hash to the name")
		}
		if _, err := op.To.Write(b); err != nil {
			return ops.BlobRef{}, fmt.Errorf("blobdir: write %s out: %w", op.CID, err)
		}
		return ref, nil
	}
	// First pass: the DAG, its root checked against the name, its leaves kept.
	var leaves []cid.Cid
	dag := ops.BlobDAG{OnLeaf: func(c cid.Cid, _ []byte) error {
		leaves = append(leaves, c)
		return nil
	}}
	for off := int64(0); off < size; off += ops.BlobChunkBytes {
		b, err := read(off)
		if err != nil {
			return ops.BlobRef{}, err
		}
		_, _ = dag.Write(b)
	}
	root, _, err := dag.Sum()
	if err != nil {
		return ops.BlobRef{}, err
	}
	if !root.Equals(op.CID) {
		return ops.BlobRef{}, mismatch("bytes do not hash to the name")
	}
	// Second pass: each chunk checked against its leaf, then written.
	for i, off := 0, int64(0); off < size; i, off = i+1, off+ops.BlobChunkBytes {
		b, err := read(off)
		if err != nil {
			return ops.BlobRef{}, err
		}
		if i >= len(leaves) || ops.VerifyBlock(leaves[i], b) != nil {
			return ops.BlobRef{}, mismatch(fmt.Sprintf("chunk at %d changed while it was read", off))
		}
		if _, err := op.To.Write(b); err != nil {
			return ops.BlobRef{}, fmt.Errorf("blobdir: write %s out: %w", op.CID, err)
		}
	}
	return ref, nil
}

// DB is a Store on the real operating system: an ops.BlobStore.
type DB struct {
	store *Store
	os    *platform.OS
}

var _ ops.BlobStore = (*DB)(nil)

// OpenDir opens (creating when absent) the store in dir on the real
// operating system.
func OpenDir(ctx context.Context, dir string, opts Options) (*DB, error) {
	h := &platform.OS{}
	s, err := Open(effect.Handle(ctx, h), dir, opts)
	if err != nil {
		return nil, err
	}
	return &DB{store: s, os: h}, nil
}

// Handle answers the blob operations; the IO goes to the operating system,
// under the context of p.
func (db *DB) Handle(p *effect.P, e effect.Effect) (any, error) {
	ctx := context.Background()
	if p != nil {
		ctx = p.Context()
	}
	return db.store.Handle(effect.Handle(ctx, db.os), e)
}

// Store gives the store.
func (db *DB) Store() *Store { return db.store }

// Close closes the store.
func (db *DB) Close() error { return db.store.Close() }
