package file

import (
	"errors"
	"fmt"
	"iter"
	"os"
	"path/filepath"
	"time"

	"rose-ash.com/persist/effect"
	"rose-ash.com/persist/ops"
)

// VerifyReport is what Verify checked.
type VerifyReport struct {
	Segments    int
	Records     int
	Commits     int
	Events      uint64
	Streams     int
	KvKeys      int
	LSN         uint64
	LogBytes    int64
	Snapshots   int // snapshot files checked
	Checkpoints int // store checkpoint files checked
	// TornTail is a torn write at the end of the log that the next Open
	// will cut; nil when the log ends cleanly.
	TornTail *TornTail
}

var errHalt = errors.New("halt")

// walkLog checks every segment of the store in dir without changing
// anything: the rules of recovery, except that a torn tail is reported
// rather than cut.
func walkLog(p *effect.P, dir string, rp *replayer) (VerifyReport, error) {
	var rep VerifyReport
	id, err := readIdentity(p, filepath.Join(dir, identityFile))
	if err != nil {
		return rep, fmt.Errorf("file: read identity: %w", err)
	}
	rp.store = id
	logd := filepath.Join(dir, logDir)
	ids, err := listSegments(p, logd)
	if err != nil {
		return rep, err
	}
	if len(ids) > 0 && ids[0] != 1 {
		return rep, corrupt(filepath.Join(logd, segName(ids[0])), 0, "the log does not begin with segment 1")
	}
	for i, sid := range ids {
		last := i == len(ids)-1
		path := filepath.Join(logd, segName(sid))
		if i > 0 && sid != ids[i-1]+1 {
			return rep, corrupt(path, 0, "segment %d is missing", ids[i-1]+1)
		}
		err := func() error {
			size, err := fileSize(p, path)
			if err != nil {
				return err
			}
			fd, err := openFile(p, path, os.O_RDONLY)
			if err != nil {
				return err
			}
			defer func() { _ = closeFile(p, fd) }()
			r := &segReader{p: p, fd: fd, path: path, id: sid, size: size}
			sealed := false
			end, bad, err := r.scan(0, rp.segment(path, sid, &sealed))
			rep.Segments++
			rep.LogBytes += end
			if err != nil {
				return err
			}
			if end == 0 && bad != "" {
				return corrupt(path, 0, "segment header: %s", bad)
			}
			if !last {
				switch {
				case bad != "":
					return corrupt(path, end, "%s", bad)
				case !sealed:
					return corrupt(path, end, "sealed segment has no seal record")
				case end != size:
					return corrupt(path, end, "%d bytes after the seal record", size-end)
				}
				return nil
			}
			if end == size {
				return nil
			}
			lastByte, valid, err := examineTail(p, r, end)
			if err != nil {
				return err
			}
			switch {
			case lastByte == end:
				return nil
			case sealed:
				return corrupt(path, end, "%d bytes after the seal record", lastByte-end)
			case valid >= 0:
				return corrupt(path, end, "%s, and a valid record follows at offset %d", bad, valid)
			case lastByte-end > (Options{GroupBytes: defaultGroupBytes}).maxUnsynced():
				return corrupt(path, end, "%s, and the damage spans %d bytes, more than one write", bad, lastByte-end)
			}
			rep.TornTail = &TornTail{File: path, Offset: end, Bytes: lastByte - end, Reason: bad}
			return nil
		}()
		if err != nil {
			return rep, err
		}
	}
	rep.Records, rep.Commits, rep.Events = rp.records, rp.commits, rp.events
	rep.LSN = rp.st.lsn
	rep.Streams, rep.KvKeys = len(rp.st.streams), len(rp.st.kv)
	return rep, nil
}

// Verify checks every record of every segment of the store in dir (frames,
// checksums, the checksum chain, LSNs, seqs, positions, revisions, and
// every event's encoding) and every snapshot file, changing nothing. Damage
// is an error matching ErrCorrupt that names the file and offset; a torn
// tail that Open would cut is reported, not an error. Verify takes no lock:
// run it on a closed store for an exact answer.
func Verify(p *effect.P, dir string) (VerifyReport, error) {
	rp := &replayer{st: newState(), full: true}
	rep, err := walkLog(p, dir, rp)
	if err != nil {
		return rep, err
	}
	logd := filepath.Join(dir, logDir)
	lsns, err := listCheckpoints(p, logd)
	if err != nil {
		return rep, fmt.Errorf("file: list checkpoints: %w", err)
	}
	for _, lsn := range lsns {
		path := filepath.Join(logd, ckptName(lsn))
		b, err := readFile(p, path)
		if err != nil {
			return rep, fmt.Errorf("file: read checkpoint: %w", err)
		}
		r, _, err := decodeCheckpoint(b, rp.store)
		if err == nil && r.lsn != lsn {
			err = fmt.Errorf("covers LSN %d, named %d", r.lsn, lsn)
		}
		if err != nil {
			return rep, corrupt(path, 0, "%v", err)
		}
		rep.Checkpoints++
	}
	snapd := filepath.Join(dir, snapDir)
	ents, err := listDir(p, snapd)
	if err != nil {
		return rep, fmt.Errorf("file: list snapshots: %w", err)
	}
	for _, e := range ents {
		if _, _, ok := parseSnapName(e.Name); !ok || e.IsDir {
			continue
		}
		path := filepath.Join(snapd, e.Name)
		b, err := readFile(p, path)
		if err != nil {
			return rep, fmt.Errorf("file: read snapshot: %w", err)
		}
		sn, off, err := decodeSnapshot(b)
		if err == nil && e.Name[:32] != snapKey(sn.Name) {
			err = fmt.Errorf("file name does not match snapshot %q", sn.Name)
		}
		if err != nil {
			return rep, corrupt(path, off, "%v", err)
		}
		rep.Snapshots++
	}
	return rep, nil
}

// Record is one record of the log, as Dump yields it.
type Record struct {
	File    string
	Segment uint64
	Offset  int64
	Type    string // "header", "commit" or "seal"
	LSN     uint64
	CRC     uint32
	PrevCRC uint32
	Size    int // bytes on disk, padding included
	// For a commit: its time, kv revision (0 without kv changes), events
	// (with their seqs and positions) and kv changes.
	At       time.Time
	Revision uint64
	Events   []ops.Event
	Kv       []ops.KvChange
}

var typeNames = map[uint8]string{recHeader: "header", recCommit: "commit", recSeal: "seal"}

// Dump yields every record of the store in dir in log order, checking each
// as Verify does; the first damage is yielded as an error matching
// ErrCorrupt, and ends the sequence. It changes nothing and takes no lock.
func Dump(p *effect.P, dir string) iter.Seq2[Record, error] {
	return func(yield func(Record, error) bool) {
		rp := &replayer{st: newState(), full: true}
		rp.onRec = func(seg uint64, off int64, f frame, c *commitRec) error {
			r := Record{
				File: filepath.Join(dir, logDir, segName(seg)), Segment: seg, Offset: off,
				Type: typeNames[f.typ], LSN: f.lsn, CRC: f.crc, PrevCRC: f.prev, Size: f.size,
			}
			if c != nil {
				r.At, r.Revision = time.Unix(0, c.at).UTC(), c.rev
				pos := c.firstPos
				for _, part := range c.parts {
					for j := range part.events {
						r.Events = append(r.Events, toEvent(part.stream, part.firstSeq+uint64(j), pos, c.at, &part.events[j]))
						pos++
					}
				}
				for _, k := range c.kv {
					r.Kv = append(r.Kv, ops.KvChange{Key: k.key, Value: cloneBytes(k.value), Delete: k.op == kvDel})
				}
			}
			if !yield(r, nil) {
				return errHalt
			}
			return nil
		}
		_, err := walkLog(p, dir, rp)
		if err != nil && !errors.Is(err, errHalt) {
			yield(Record{}, err)
		}
	}
}
