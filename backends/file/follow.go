package file

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sync"
	"time"

	"rose-ash.com/persist/effect"
	"rose-ash.com/persist/ops"
)

// A read-only store follows the log that another process (the one holding
// the lock) writes: see "Read-only followers" in the package doc.

const (
	// followPoll is how often a Wait on a read-only store looks for new
	// records.
	followPoll = 50 * time.Millisecond
	// followWindow is how far a catch-up reads ahead: new records are few
	// and near, and a segment's reserved tail is long.
	followWindow = 64 << 10
)

// follower is where a read-only store's view of the log ends.
type follower struct {
	mu     sync.Mutex // serialises catch-ups
	seg    *segment   // the last segment read; nil before segment 1 exists
	end    int64      // end of its last valid record
	sealed bool       // its seal record has been read
	rp     *replayer  // the replay, carried on: LSN, chain, state
}

// OpenReadOnly opens the store in dir for reading only, performing its IO
// on p. It takes no lock and writes nothing: no directory, identity,
// checkpoint or cut. It loads the newest valid checkpoint and replays the
// log like Open, but the first record of the last segment that does not
// validate is taken as the current end of the log (another process may be
// writing it). Damage anywhere before that is ErrCorrupt as in Open. A
// missing directory, or one that holds no store, is an error matching
// fs.ErrNotExist. Reads then catch up with what the writer has written
// since; every write returns ErrReadOnly.
func OpenReadOnly(p *effect.P, dir string, opts Options) (*Store, error) {
	opts, err := opts.withDefaults()
	if err != nil {
		return nil, err
	}
	start := time.Now()
	s := newStore(dir, opts)
	s.readOnly = true
	s.snaps.follow = true
	if err := s.openReadOnly(p); err != nil {
		_ = s.release(p)
		return nil, err
	}
	s.report.Duration = time.Since(start)
	return s, nil
}

func (s *Store) openReadOnly(p *effect.P) error {
	if ok, err := exists(p, s.dir); err != nil || !ok {
		if err == nil {
			err = fs.ErrNotExist
		}
		return fmt.Errorf("file: open %s read-only: %w", s.dir, err)
	}
	id, err := readIdentity(p, filepath.Join(s.dir, identityFile))
	if errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("file: open %s read-only: no store there (no %s): %w", s.dir, identityFile, err)
	}
	if err != nil {
		return fmt.Errorf("file: open %s read-only: %w", s.dir, err)
	}
	s.id = id
	segIDs, err := listSegments(p, s.logDir)
	if err != nil {
		return err
	}
	if err := s.recover(p, segIDs); err != nil {
		return err
	}
	return s.snaps.load(p, s.snapDir)
}

// catchUp applies to the index the records that became valid after the
// end of the log as last seen, in the last segment and in the segments
// created since. When nothing changed it costs one read of a frame.
func (s *Store) catchUp(p *effect.P) error {
	f := &s.follow
	f.mu.Lock()
	defer f.mu.Unlock()
	for {
		if f.seg == nil || f.sealed {
			ok, err := s.followNext(p)
			if err != nil || !ok {
				return err
			}
		}
		var hdr [frameSize]byte
		n, err := readFull(p, f.seg.fd, f.end, hdr[:])
		if err != nil {
			return fmt.Errorf("file: read %s at %d: %w", f.seg.path, f.end, err)
		}
		if n < frameSize || allZero(hdr[:]) {
			return nil // the reserved zeros, or the end of the file
		}
		size, err := fileSize(p, f.seg.path)
		if err != nil {
			return fmt.Errorf("file: stat segment %d: %w", f.seg.id, err)
		}
		rd := &segReader{p: p, fd: f.seg.fd, path: f.seg.path, id: f.seg.id, size: size, window: followWindow}
		s.mu.Lock()
		lsn := s.st.lsn
		f.rp.p = p
		end, _, err := rd.scan(f.end, f.rp.segment(f.seg.path, f.seg.id, &f.sealed))
		s.bytes += end - f.end
		f.end = end
		if s.st.lsn != lsn {
			close(s.notify)
			s.notify = make(chan struct{})
		}
		s.mu.Unlock()
		if err != nil || !f.sealed {
			return err
		}
	}
}

// followNext opens the segment after the last one read, reporting false
// when the writer has not created it yet.
func (s *Store) followNext(p *effect.P) (bool, error) {
	f := &s.follow
	id := uint64(1)
	if f.seg != nil {
		id = f.seg.id + 1
	}
	path := filepath.Join(s.logDir, segName(id))
	fd, err := openFile(p, path, os.O_RDONLY)
	if errors.Is(err, fs.ErrNotExist) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("file: open segment %d: %w", id, err)
	}
	seg := &segment{id: id, path: path, fd: fd}
	s.mu.Lock()
	s.segs[id] = seg
	s.mu.Unlock()
	f.seg, f.end, f.sealed = seg, 0, false
	return true, nil
}

// followHead catches up and gives the head Wait watches.
func (s *Store) followHead(p *effect.P, stream string) (uint64, error) {
	s.opMu.RLock()
	defer s.opMu.RUnlock()
	if s.closed.Load() {
		return 0, ops.ErrClosed
	}
	if err := s.catchUp(p); err != nil {
		return 0, err
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	if stream != "" {
		return s.st.headOf(p, stream)
	}
	return s.st.lastPos, nil
}

// waitFollow is Wait on a read-only store: it catches up every followPoll
// until the head passes After, the timeout elapses, the context ends or
// the store closes.
func (s *Store) waitFollow(p *effect.P, op ops.Wait) (any, error) {
	ctx := p.Context()
	var timer <-chan time.Time
	if op.Timeout > 0 {
		t := time.NewTimer(op.Timeout)
		defer t.Stop()
		timer = t.C
	}
	tick := time.NewTicker(followPoll)
	defer tick.Stop()
	for {
		cur, err := s.followHead(p, op.Stream)
		if err != nil {
			return nil, err
		}
		if cur > op.After {
			return ops.WaitResult{Head: cur, Passed: true}, nil
		}
		select {
		case <-tick.C:
		case <-timer:
			return ops.WaitResult{Head: cur}, nil
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-s.closedCh:
			return nil, ops.ErrClosed
		}
	}
}

// ReadOnly reports whether the store was opened with OpenReadOnly.
func (s *Store) ReadOnly() bool { return s.readOnly }
