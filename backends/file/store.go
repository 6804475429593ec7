package file

import (
	"encoding/hex"
	"errors"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"rose-ash.com/persist/effect"
	"rose-ash.com/persist/ops"
	"rose-ash.com/persist/platform"
)

// Options tune a store. The zero value is the default.
type Options struct {
	// SegmentSize is the size at which the active segment is sealed and a
	// new one begins, and how much space a new segment reserves. Default
	// 64 MiB; at least 64 KiB, at most 1 GiB.
	SegmentSize int64
	// GroupBytes is how many bytes of commits a group commit gathers
	// before it stops taking more waiting writers. Default 1 MiB.
	GroupBytes int
	// CheckpointBytes is how many bytes of log may follow the last store
	// checkpoint before a group-commit leader has a new one written: in
	// the background with Background set, else by the leader once it has
	// handed the leadership on (see the package doc). Default 64 MiB;
	// negative makes none due for the log's bytes, leaving checkpoints
	// to Close and to KvBufferBytes.
	CheckpointBytes int64
	// KvBufferBytes bounds the heap the kv keys changed since the last
	// checkpoint take (their values, their entries and their history,
	// about 200 bytes a key beyond its key and value, and 16 bytes a kv
	// commit for where its record lies): once they take as much, a
	// group-commit leader has a checkpoint written, as for
	// CheckpointBytes, which moves them into a kv run file. Default 16
	// MiB (about 66,000 keys of 13 bytes with 40-byte values); negative
	// leaves them to CheckpointBytes alone. With Background, the changes
	// grow while a checkpoint is written up to twice the bound, where the
	// leader waits for it (see the package doc, Memory of the kv changes).
	KvBufferBytes int64
	// HolderPID, when positive, is written into the LOCK file once the
	// lock is taken, so that a second opener can name the holder
	// (LockHolder). OpenDir sets the process's own pid; 0 writes nothing.
	HolderPID int
	// ReadCacheBytes bounds the memory of small records (up to 4 KiB
	// each: one-event commits and the like) kept once read, so that
	// reading them again takes no IO. Default 32 MiB; negative keeps none.
	// The bytes lie outside the Go heap (see the package doc, Memory).
	ReadCacheBytes int
	// KvHistory is how many versions of each kv key the store keeps for
	// persist/kv-history and kv-watch, the current one included: 1 to
	// ops.MaxKvHistory, 0 meaning ops.DefaultKvHistory. A depth lowered
	// since the last run drops what it no longer keeps at Open; one raised
	// keeps more from then on.
	KvHistory int
	// IndexCacheBytes bounds the memory of segment index blocks (4 KiB
	// each) kept once read: the record locations of sealed segments.
	// Default 4 MiB; negative keeps none.
	IndexCacheBytes int
	// IDFilterBytes bounds the heap memory of the ID filters of segment
	// index files kept whole once read (1.25 bytes per ID entry of the
	// indexed segments): a file's filter is kept while it fits beside
	// those kept before it; the filters of the other files are read a
	// block at a time through the index block cache, one block a probe.
	// Default 16 MiB (the filters of about 13 M ID entries); negative
	// keeps none. See the package doc (Segment index files).
	IDFilterBytes int
	// CompactFraction, when positive (at most 1), is the policy of
	// [Store.CompactDue]: compact once the events that stream states
	// hide and no compaction took yet are at least this fraction of the
	// events stored. 0 leaves compaction to Compact alone.
	CompactFraction float64
	// CompactInterval, when positive, has the store run [Store.CompactDue]
	// by itself, in one goroutine that Open starts and Close stops and
	// waits for: each time commits have grown the log by a segment since
	// it last looked, and every CompactInterval (a metadata change or
	// time passing hides events with no growth). It needs CompactFraction
	// and Background; a read-only store starts none.
	CompactInterval time.Duration
	// Background answers the platform effects of the background
	// compaction and of the checkpoints commits make due, each on a
	// handle of its own (a store's handlers answer operations from many
	// goroutines at once). OpenDir sets the operating system. Without it
	// a due checkpoint is written by the leader that found it due, whose
	// own commit returns only after it. It must answer on the file
	// descriptors of the handler the store is opened and used with (the
	// same platform.OS, or a handler that passes its effects to it): the
	// kv runs such a checkpoint writes and the segments a compaction
	// rewrites are opened on it, then read and closed through the
	// store's handler. Open does not check this; a handler with a
	// descriptor table of its own makes those reads fail or take another
	// file's descriptor.
	Background effect.Handler
	// CompactReport, when set, is called by the background compaction
	// after each compaction it ran, with its result and error (also kept
	// in Stats). It must not close the store.
	CompactReport func(CompactResult, error)
}

const (
	defaultSegmentSize = 64 << 20
	minSegmentSize     = 64 << 10
	maxSegmentSize     = 1 << 30
	defaultGroupBytes  = 1 << 20

	defaultCheckpointBytes = 64 << 20
	defaultKvBufferBytes   = 16 << 20
)

func (o Options) withDefaults() (Options, error) {
	if o.SegmentSize == 0 {
		o.SegmentSize = defaultSegmentSize
	}
	if o.SegmentSize < minSegmentSize || o.SegmentSize > maxSegmentSize {
		return o, fmt.Errorf("file: segment size %d outside %d..%d", o.SegmentSize, minSegmentSize, maxSegmentSize)
	}
	if o.GroupBytes <= 0 {
		o.GroupBytes = defaultGroupBytes
	}
	if o.CheckpointBytes == 0 {
		o.CheckpointBytes = defaultCheckpointBytes
	}
	if o.KvBufferBytes == 0 {
		o.KvBufferBytes = defaultKvBufferBytes
	}
	if o.CompactFraction < 0 || o.CompactFraction > 1 || o.CompactFraction != o.CompactFraction {
		return o, fmt.Errorf("file: option CompactFraction %v outside 0..1", o.CompactFraction)
	}
	if o.CompactInterval < 0 {
		return o, fmt.Errorf("file: option CompactInterval %v is negative", o.CompactInterval)
	}
	if o.CompactInterval > 0 && o.CompactFraction == 0 {
		return o, errors.New("file: option CompactInterval needs CompactFraction, the policy it runs")
	}
	if o.CompactInterval > 0 && o.Background == nil {
		return o, errors.New("file: option CompactInterval needs Background, the handler the compaction performs its IO on")
	}
	if o.KvHistory != 0 {
		if err := ops.ValidateKvHistory(o.KvHistory); err != nil {
			return o, fmt.Errorf("file: option %w", err)
		}
	}
	return o, nil
}

// maxUnsynced bounds the bytes a single group write can put past the last
// synced record: recovery treats damage wider than this as corruption, not
// as a torn tail.
func (o Options) maxUnsynced() int64 {
	return int64(o.GroupBytes) + int64(recordSize(maxPayload))
}

// Directory layout.
const (
	identityFile = "IDENTITY"
	lockFile     = "LOCK"
	logDir       = "log"
	snapDir      = "snap"
	tmpSuffix    = ".tmp"
)

func segName(id uint64) string { return fmt.Sprintf("seg-%016x.log", id) }

// parseSegName returns the id of a segment file name.
func parseSegName(name string) (uint64, bool) {
	if len(name) != len("seg-0000000000000000.log") || !strings.HasPrefix(name, "seg-") || !strings.HasSuffix(name, ".log") {
		return 0, false
	}
	id, err := strconv.ParseUint(name[4:20], 16, 64)
	return id, err == nil && id > 0
}

type segment struct {
	id   uint64
	path string
	fd   platform.FD
	// For the active segment: its format version and its header's LSN
	// and checksum, what its seal records.
	version uint32
	first   uint64
	hdrSum  uint32
}

// Store is a durable persist backend in one data directory. Its methods
// are safe for concurrent use; each performs its IO on the handle it is
// given.
type Store struct {
	dir     string
	logDir  string
	snapDir string
	opts    Options
	id      [16]byte
	lockFD  platform.FD
	report  RecoveryReport

	// opMu is held shared by every operation and exclusively by Close.
	opMu     sync.RWMutex
	closed   atomic.Bool
	closedCh chan struct{}

	// Group commit queue.
	wmu     sync.Mutex
	queue   []*writer
	leading bool

	// mu guards the durable state below; only a group-commit leader
	// changes it, and readers read it shared.
	mu     sync.RWMutex
	st     *state
	segs   map[uint64]*segment
	notify chan struct{}
	failed error
	bytes  int64 // log bytes written, all segments

	cache recCache   // small records read (read.go)
	cmp   compacted  // floors and gaps of physical compaction (compact.go)
	bg    compactor  // background compaction (compactbg.go)
	idx   indexFiles // segment index files (segindex.go)
	steps dirSteps   // chain steps of the stream directories (streamdir.go)
	// A drop a checkpoint made, for the owner of the log to apply.
	pendDrop atomic.Pointer[drop]
	kvBlocks recCache // blocks of kv runs (kvrun.go)
	// ckptRunGens are the kv runs the last checkpoint this process
	// renamed into place names, which the next keeps on the disk even
	// when the state never took them (a failed directory sync); owned by
	// the one writeCheckpoint in progress.
	ckptRunGens []uint64
	// ckptStGens are the stream runs it names, as ckptRunGens.
	ckptStGens []uint64
	// ckStreams is the stream heads' array a checkpoint beside commits
	// captures into (captureBeside) and gives back cleared when it ends:
	// only that checkpoint's goroutine uses it, one at a time.
	ckStreams []streamView
	// ckOrd is the name order of the streams the last checkpoint
	// captured, for the next capture to put the state's list in (ckOrder).
	// Owned by the checkpoint in progress, and the capture of the next.
	ckOrd ckOrder

	// Owned by the current group-commit leader (and by Open and Close).
	active    *segment
	off       int64  // end of the last durable record in the active segment
	reserved  int64  // end of the space reserved in the active segment
	lastCRC   uint32 // crc of the last record written
	headerEnd int64  // end of the active segment's header record
	lastOff   int64  // where the last durable record of the active segment starts
	segSum    uint32 // CRC-32C of the active segment's durable records
	wbuf      []byte

	// The store checkpoint: one at a time, written beside commits.
	ckMu      sync.Mutex
	ckDone    *sync.Cond // on ckMu: ckptBusy went false
	ckptBusy  bool       // one is being written
	ckptLSN   uint64     // LSN the last checkpoint covers
	ckptBytes int64      // log bytes when it was written
	// ckWaiters counts the callers waiting for the checkpoint in
	// progress to end (waitCheckpointIdle): one beside commits rests no
	// more while there are any (pacer).
	ckWaiters atomic.Int32
	// Checkpoints commits made due (noteCheckpoint): how many,
	// how many failed, and the last one's error; and the one written in
	// the background, which Close waits for.
	ckRuns  uint64
	ckFails uint64
	ckErr   error
	ckWG    sync.WaitGroup

	// The nonce of the event IDs the leaders draw (idindex.Drawn), drawn
	// by the first leader that draws an ID; owned by the leader.
	nonce *uint64

	snaps snapshots

	// A read-only store (OpenReadOnly) follows the log another process
	// writes; it has no active segment and writes nothing.
	readOnly bool
	follow   follower

	// A store that Verify opens decides as Open does but writes nothing;
	// ends holds where the valid records of each segment end.
	verify bool
	ends   map[uint64]int64
}

var _ effect.Handler = (*Store)(nil)

// Open opens (creating when absent or empty) the store in dir, performing
// recovery on p, whose handlers further out answer the platform effects.
func Open(p *effect.P, dir string, opts Options) (*Store, error) {
	opts, err := opts.withDefaults()
	if err != nil {
		return nil, err
	}
	start := time.Now()
	s := newStore(dir, opts)
	if err := s.open(p); err != nil {
		s.release(p)
		return nil, err
	}
	s.report.Duration = time.Since(start)
	s.startCompactor()
	return s, nil
}

func newStore(dir string, opts Options) *Store {
	s := &Store{
		dir:      dir,
		logDir:   filepath.Join(dir, logDir),
		snapDir:  filepath.Join(dir, snapDir),
		opts:     opts,
		closedCh: make(chan struct{}),
		st:       newState(),
		segs:     make(map[uint64]*segment),
		notify:   make(chan struct{}),
	}
	s.ckDone = sync.NewCond(&s.ckMu)
	s.st.ret.hist.setDepth(opts.KvHistory)
	return s
}

func (s *Store) open(p *effect.P) error {
	made, err := mkdirIfMissing(p, s.dir)
	if err != nil {
		return fmt.Errorf("file: create data directory: %w", err)
	}
	if made {
		if err := syncDir(p, filepath.Dir(filepath.Clean(s.dir))); err != nil {
			return fmt.Errorf("file: sync parent of data directory: %w", err)
		}
	}
	fd, err := effect.Perform(p, platform.Lock{Path: filepath.Join(s.dir, lockFile)})
	if errors.Is(err, platform.ErrLocked) {
		return fmt.Errorf("file: data directory %s is locked by another process: %w", s.dir, err)
	}
	if err != nil {
		return fmt.Errorf("file: lock data directory: %w", err)
	}
	s.lockFD = fd
	recordHolder(p, fd, s.opts.HolderPID)
	createdDirs := false
	for _, d := range []string{s.logDir, s.snapDir} {
		made, err := mkdirIfMissing(p, d)
		if err != nil {
			return fmt.Errorf("file: create %s: %w", d, err)
		}
		createdDirs = createdDirs || made
	}
	if createdDirs {
		if err := syncDir(p, s.dir); err != nil {
			return fmt.Errorf("file: sync data directory: %w", err)
		}
	}
	if err := s.removeTmp(p); err != nil {
		return err
	}
	segIDs, err := listSegments(p, s.logDir)
	if err != nil {
		return err
	}
	if err := s.loadIdentity(p, len(segIDs) > 0); err != nil {
		return err
	}
	s.st.indexIDs(s.id)
	if err := s.recover(p, segIDs); err != nil {
		return err
	}
	if err := s.snaps.load(p, s.snapDir); err != nil {
		return err
	}
	return s.keepRecovery(p)
}

// removeTmp deletes files left half-written by a crash (rule 1).
func (s *Store) removeTmp(p *effect.P) error {
	for _, d := range []string{s.dir, s.logDir, s.snapDir} {
		ents, err := listDir(p, d)
		if err != nil {
			return fmt.Errorf("file: list %s: %w", d, err)
		}
		removed := false
		for _, e := range ents {
			if !e.IsDir && strings.HasSuffix(e.Name, tmpSuffix) {
				path := filepath.Join(d, e.Name)
				if err := remove(p, path); err != nil {
					return fmt.Errorf("file: remove leftover %s: %w", path, err)
				}
				s.report.RemovedTmp = append(s.report.RemovedTmp, path)
				removed = true
			}
		}
		if removed {
			if err := syncDir(p, d); err != nil {
				return fmt.Errorf("file: sync %s: %w", d, err)
			}
		}
	}
	return nil
}

func listSegments(p *effect.P, dir string) ([]uint64, error) {
	ents, err := listDir(p, dir)
	if err != nil {
		return nil, fmt.Errorf("file: list segments: %w", err)
	}
	var ids []uint64
	for _, e := range ents {
		if id, ok := parseSegName(e.Name); ok && !e.IsDir {
			ids = append(ids, id) // names sort as ids: fixed-width hex
		}
	}
	return ids, nil
}

const identityPrefix = "persist store "

func (s *Store) loadIdentity(p *effect.P, haveSegments bool) error {
	path := filepath.Join(s.dir, identityFile)
	id, err := readIdentity(p, path)
	if err == nil {
		s.id = id
		return nil
	}
	if ok, serr := exists(p, path); serr != nil || ok || haveSegments {
		if serr != nil {
			return fmt.Errorf("file: stat identity: %w", serr)
		}
		if !ok {
			return corrupt(path, 0, "missing, but the log has segments")
		}
		return err
	}
	rnd, err := effect.Perform(p, platform.Random{N: 16})
	if err != nil {
		return fmt.Errorf("file: store id: %w", err)
	}
	copy(s.id[:], rnd)
	text := identityPrefix + hex.EncodeToString(s.id[:]) + "\n"
	if err := writeFileAtomic(p, path, []byte(text)); err != nil {
		return fmt.Errorf("file: write identity: %w", err)
	}
	return nil
}

func readIdentity(p *effect.P, path string) ([16]byte, error) {
	var id [16]byte
	b, err := readFile(p, path)
	if err != nil {
		return id, err
	}
	text := string(b)
	if !strings.HasPrefix(text, identityPrefix) || !strings.HasSuffix(text, "\n") {
		return id, corrupt(path, 0, "not an identity file")
	}
	h, err := hex.DecodeString(strings.TrimSuffix(strings.TrimPrefix(text, identityPrefix), "\n"))
	if err != nil || len(h) != 16 {
		return id, corrupt(path, int64(len(identityPrefix)), "bad store id")
	}
	copy(id[:], h)
	return id, nil
}

// Close waits for operations in progress, then releases the store's files
// and its lock. Later operations, and a second Close, return ops.ErrClosed.
func (s *Store) Close(p *effect.P) error {
	if s.closed.Swap(true) {
		return ops.ErrClosed
	}
	close(s.closedCh)
	s.stopCompactor()
	s.opMu.Lock()
	defer s.opMu.Unlock()
	// No commit runs now, so none starts a checkpoint: wait for the one
	// in the background, whose IO needs the files release closes.
	s.waitCheckpoint()
	var err error
	if s.failed == nil && s.active != nil {
		err = s.checkpoint(p)
	}
	if err == nil && s.failed == nil && s.active != nil {
		// Give back the reserved tail, so that the next Open need not read
		// it; it is reserved again on the next write.
		if _, err = effect.Perform(p, platform.Truncate{FD: s.active.fd, Size: s.off}); err == nil {
			err = fsync(p, s.active.fd)
		}
		if err != nil {
			err = fmt.Errorf("file: cut reserved tail: %w", err)
		}
	}
	return errors.Join(err, s.release(p))
}

func (s *Store) release(p *effect.P) error {
	var errs []error
	// In the order of the segments, not the map's: the closes are IO
	// effects, and the crash test strikes the k-th one of a run by
	// number, the same one at each replay.
	for _, id := range slices.Sorted(maps.Keys(s.segs)) {
		if err := closeFile(p, s.segs[id].fd); err != nil {
			errs = append(errs, err)
		}
	}
	s.segs = nil
	if err := s.idx.close(p); err != nil {
		errs = append(errs, err)
	}
	if s.st != nil {
		if d := s.pendDrop.Swap(nil); d != nil {
			s.st.applyDrop(d)
		}
		for _, r := range s.st.kvRetired {
			if err := r.close(p); err != nil {
				errs = append(errs, err)
			}
		}
		if err := s.st.kvRuns.close(p); err != nil {
			errs = append(errs, err)
		}
		s.st.kvRetired, s.st.kvRuns = nil, nil
		for _, r := range s.st.stRetired {
			if err := r.close(p); err != nil {
				errs = append(errs, err)
			}
		}
		if err := s.st.stRuns.close(p); err != nil {
			errs = append(errs, err)
		}
		s.st.stRetired, s.st.stRuns = nil, nil
	}
	s.snaps.close()
	s.cache.release()
	s.idx.cache.release()
	s.kvBlocks.release()
	if s.lockFD != 0 {
		if s.opts.HolderPID > 0 {
			clearHolder(p, s.lockFD)
		}
		if err := closeFile(p, s.lockFD); err != nil {
			errs = append(errs, err)
		}
		s.lockFD = 0
	}
	return errors.Join(errs...)
}

// Dir is the store's data directory.
func (s *Store) Dir() string { return s.dir }

// Recovery reports what Open did to recover the store.
func (s *Store) Recovery() RecoveryReport { return s.report }

// Stats is a summary of a store's contents.
type Stats struct {
	Streams   int
	Events    uint64
	Commits   uint64
	KvKeys    int
	Revision  uint64 // last kv revision
	LSN       uint64 // last record's log sequence number
	Segments  int
	LogBytes  int64 // bytes of records in all segments
	Snapshots int
	Failed    bool // the store refuses writes after an IO error
	// Background compactions (Options.CompactInterval) that ran, and the
	// error of the last one (nil after a clean one).
	Compactions    uint64
	CompactFailure error
	// Checkpoints written beside commits (Options.CheckpointBytes), those
	// of them that failed, and the error of the last one (nil after a
	// clean one). A failed one leaves the log the truth; the next due
	// one tries again.
	Checkpoints        uint64
	CheckpointFailures uint64
	CheckpointFailure  error
}

// Stats summarises the store from its in-memory index; it performs no IO.
func (s *Store) Stats() Stats {
	// ckMu is taken before mu where both are held (captureCheckpoint),
	// so not inside it here.
	s.ckMu.Lock()
	ck, ckFails, ckErr := s.ckRuns, s.ckFails, s.ckErr
	s.ckMu.Unlock()
	s.mu.RLock()
	defer s.mu.RUnlock()
	return Stats{
		Checkpoints:        ck,
		CheckpointFailures: ckFails,
		CheckpointFailure:  ckErr,

		Streams:   s.st.streamCount(),
		Events:    s.st.events,
		Commits:   s.st.commits,
		KvKeys:    s.st.kvLive,
		Revision:  s.st.rev,
		LSN:       s.st.lsn,
		Segments:  len(s.segs),
		LogBytes:  s.bytes,
		Snapshots: s.snaps.count(),
		Failed:    s.failed != nil,

		Compactions:    s.bg.runs,
		CompactFailure: s.bg.lastErr,
	}
}

// segFD gives the descriptor of segment id; the caller holds mu.
func (s *Store) segment(id uint64) (*segment, error) {
	seg := s.segs[id]
	if seg == nil {
		return nil, fmt.Errorf("file: segment %d is not open", id)
	}
	return seg, nil
}

// openSegment opens a segment file, for reading only on a read-only store.
func (s *Store) openSegment(p *effect.P, path string) (platform.FD, error) {
	if s.readOnly || s.verify {
		return openFile(p, path, os.O_RDONLY)
	}
	return openFile(p, path, os.O_RDWR)
}
