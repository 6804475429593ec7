package file

import (
	"encoding/binary"
	"fmt"
	"strconv"
	"strings"

	"rose-ash.com/persist/effect"
)

// A stream run file holds the heads of streams in byte order of their
// names: each stream's head seq and the newest indexed segment whose
// index file of version 3 holds it (its directory chain, streamdir.go),
// what a read or a commit needs of a stream whose records all lie in
// index files. It is a run file of its own kind in the layout of the kv
// run files (kvrun.go: checksummed blocks, a sparse index of their first
// names, a Bloom filter, read through the block cache), and a set of
// them is tiered as the kv runs are (kvtier.go). See the package doc
// (Stream run files).

var streamRunMagic = [8]byte{'p', 'e', 'r', 's', 'i', 's', 't', 'S'}

// streamRunVersion is the stream run format: a run's entries are those
// of a kv run of version 2 (key, a flag byte of 1, the revision, a
// value, a count of 0 kept revisions) with the stream's name as the key,
// its head seq as the revision and as the value the uvarint of its
// directory segment (0: none); it holds no history records, and always
// a filter.
const streamRunVersion = 1

var streamRunKind = &runKind{magic: streamRunMagic, version: streamRunVersion, versions: streamRunVersion, noun: "stream run"}

// streamRunPrefix names stream run files: st-<generation>.run.
const streamRunPrefix = "st-"

func streamRunName(gen uint64) string {
	return fmt.Sprintf("%s%016x%s", streamRunPrefix, gen, kvRunSuffix)
}

// isStreamRunName reports whether a log directory entry is a stream run
// file, and its generation.
func isStreamRunName(name string) (uint64, bool) {
	if !strings.HasPrefix(name, streamRunPrefix) || !strings.HasSuffix(name, kvRunSuffix) || len(name) != len(streamRunName(0)) {
		return 0, false
	}
	gen, err := strconv.ParseUint(name[len(streamRunPrefix):len(streamRunPrefix)+16], 16, 64)
	return gen, err == nil
}

// streamHead is a stream as a run holds it.
type streamHead struct {
	name string
	head uint64
	dir  uint32 // the newest indexed segment whose file of version 3 holds it; 0: none
}

// entry gives h as a run entry, its value in buf's room.
func (h *streamHead) entry(buf []byte) kvRunEntry {
	return kvRunEntry{key: h.name, live: true, rev: h.head, value: binary.AppendUvarint(buf[:0], uint64(h.dir))}
}

// streamHeadOf decodes a stream run's entry; false when it is not one
// (no head, no value, kept revisions, or a value other than one uvarint
// of at most 32 bits).
func streamHeadOf(e *kvRunEntry) (streamHead, bool) {
	if !e.live || e.rev == 0 || len(e.revs) != 0 {
		return streamHead{}, false
	}
	dir, n := binary.Uvarint(e.value)
	if n <= 0 || n != len(e.value) || n != uvarintLen(dir) || dir > 1<<32-1 {
		return streamHead{}, false
	}
	return streamHead{name: e.key, head: e.rev, dir: uint32(dir)}, true
}

// openStreamRun opens the stream run at path, checked as openKvRun
// checks a kv run: generation gen of store id with header checksum want
// (0 takes any).
func openStreamRun(p *effect.P, path string, id [16]byte, gen uint64, want uint32) (*kvRun, error) {
	return openRunOf(p, path, id, gen, want, streamRunKind)
}

// writeStreamRun writes stream run gen at path: the heads of the runs of
// old (nil: none; the newest's entry of a stream wins) with heads, sorted
// by name, put over them, in pieces of piece bytes (kvRunPiece when 0)
// each synced, calling between (when set) after each. lsn is the last
// record the run covers. It syncs the file but leaves renaming it into
// place and syncing the directory to the caller.
func writeStreamRun(p *effect.P, path string, id [16]byte, gen, lsn uint64, old *kvRunSet, cache *recCache, heads []streamHead, piece int, between func()) (*kvRun, error) {
	w, err := newKvRunWriter(p, path, id, gen)
	if err != nil {
		return nil, fmt.Errorf("file: write stream run %s: %w", path, err)
	}
	w.kind, w.piece, w.between = streamRunKind, piece, between
	bound := uint64(len(heads))
	if old != nil {
		for _, r := range old.runs {
			bound += r.entries
		}
	}
	// A filter always: a commit to a new stream asks the runs for it, and
	// the filter answers without a block of entries.
	w.bloomN = max(kvBloomBlocks(bound), 1)
	w.bloom = make([]byte, w.bloomN*kvRunBlockSize)
	var buf [binary.MaxVarintLen32]byte
	put := func(h *streamHead) error {
		e := h.entry(buf[:])
		return w.add(&e)
	}
	hi := 0
	if old != nil {
		var bad error
		err = old.scan(p, cache, "", func(e *kvRunEntry) bool {
			for hi < len(heads) && heads[hi].name < e.key {
				if put(&heads[hi]) != nil {
					return false
				}
				hi++
			}
			if hi < len(heads) && heads[hi].name == e.key {
				hi++
				return put(&heads[hi-1]) == nil
			}
			if _, ok := streamHeadOf(e); !ok {
				bad = corrupt(path, 0, "stream run entry of %q malformed", e.key)
				return false
			}
			return w.add(e) == nil
		})
		if err == nil {
			err = bad
		}
	}
	for err == nil && w.err == nil && hi < len(heads) {
		err = put(&heads[hi])
		hi++
	}
	if err == nil {
		err = w.err
	}
	if err != nil {
		w.abort()
		return nil, err
	}
	r, err := w.finish(lsn)
	if err != nil {
		_ = remove(p, path)
		return nil, err
	}
	return r, nil
}

// streamRunGet finds the stream name's newest head in set: the filter
// of each run first, then one block of the run that may hold it, through
// cache (nil: none).
func streamRunGet(p *effect.P, set *kvRunSet, cache *recCache, name string) (streamHead, bool, error) {
	if set == nil {
		return streamHead{}, false, nil
	}
	for i := len(set.runs) - 1; i >= 0; i-- {
		r := set.runs[i]
		e, ok, err := r.get(p, cache, name)
		if err != nil {
			return streamHead{}, false, err
		}
		if !ok {
			continue
		}
		h, ok := streamHeadOf(&e)
		if !ok {
			return streamHead{}, false, corrupt(r.path, r.blocks[r.blockFor(name)].off, "stream run entry of %q malformed", name)
		}
		return h, true, nil
	}
	return streamHead{}, false, nil
}

// scanStreamRuns calls fn with the newest head of each stream of set
// from the first at or after from, in byte order of names, until fn
// returns false. A malformed entry is a CorruptError.
func scanStreamRuns(p *effect.P, set *kvRunSet, cache *recCache, from string, fn func(h streamHead) bool) error {
	if set == nil {
		return nil
	}
	var bad error
	err := set.scan(p, cache, from, func(e *kvRunEntry) bool {
		h, ok := streamHeadOf(e)
		if !ok {
			bad = corrupt(set.newest().path, 0, "stream run entry of %q malformed", e.key)
			return false
		}
		return fn(h)
	})
	if err != nil {
		return err
	}
	return bad
}

// verifyStreamRun reads every block of r past the cache and checks it as
// kvRun.verify does, and that every entry is a stream head.
func verifyStreamRun(p *effect.P, r *kvRun, id [16]byte) error {
	if err := r.verify(p, id); err != nil {
		return err
	}
	if r.recN != 0 {
		return corrupt(r.path, r.size, "stream run holds %d history records", r.recN)
	}
	if r.entries > 0 && len(r.bloomSums) == 0 {
		return corrupt(r.path, r.size, "stream run without a filter")
	}
	for i := range r.blocks {
		b, err := r.block(p, nil, i)
		if err != nil {
			return err
		}
		d := decoder{b: b}
		for len(d.b) > 0 {
			e := decodeKvEntry(&d)
			if d.err != nil {
				return corrupt(r.path, r.blocks[i].off, "malformed stream run block %d", i)
			}
			if _, ok := streamHeadOf(&e); !ok {
				return corrupt(r.path, r.blocks[i].off, "stream run block %d: entry of %q is not a stream head", i, e.key)
			}
		}
	}
	return nil
}
