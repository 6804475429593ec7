package file

import (
	"sort"
	"strings"

	"rose-ash.com/persist/effect"
)

// Streams in memory and in the stream runs (see "Stream run files" in the
// package doc): a stream is in state.streams, or the stream runs alone
// hold it, whole (its head and directory, no chunks and no legacy runs),
// or the store holds no such stream. Every user of a stream asks for it
// here, so that one the runs alone hold is the same to it as one in
// memory: a commit's expected version and head, a read, a listing, a
// count. A stream with metadata (ret.meta) is always in memory, since
// its metadata is: memHead reads such a stream's head without asking the
// runs.

// stream gives stream name's index: memory's, else one made of the head
// the stream runs hold (not kept: the caller reads it), nil when the
// store holds no such stream. A run's block that does not read, an entry
// that is not a head, or a directory the state does not index with
// directories is an error (a CorruptError naming the run and the block's
// offset), never an absent stream. The caller holds the store's lock,
// for reading at least, or owns the state.
func (s *state) stream(p *effect.P, name string) (*streamIdx, error) {
	if x := s.streams[name]; x != nil || s.stRuns == nil {
		return x, nil
	}
	h, path, off, ok, err := streamRunFind(p, s.stRuns, s.kvCache, name)
	if err != nil || !ok {
		return nil, err
	}
	return s.fromRun(h, path, off)
}

// fromRun gives the index of a stream the run at path holds (its block
// at off) as h, its directory checked against the indexed segments.
func (s *state) fromRun(h streamHead, path string, off int64) (*streamIdx, error) {
	if h.dir != 0 {
		if e := s.indexedSeg(h.dir); e == nil || !e.dir {
			return nil, corrupt(path, off, "stream run names segment %d as the directory of %q, which the checkpoint does not index with directories", h.dir, h.name)
		}
	}
	x := &streamIdx{head: h.head, dir: h.dir, ran: true}
	if s.ids != nil {
		x.key = s.ids.StreamKey(h.name)
	}
	return x, nil
}

// headOf gives stream name's head, 0 when the store holds no such stream,
// as stream finds it.
func (s *state) headOf(p *effect.P, name string) (uint64, error) {
	x, err := s.stream(p, name)
	if x == nil || err != nil {
		return 0, err
	}
	return x.head, nil
}

// memHead gives the head of a stream memory holds, 0 when it holds none:
// for a stream with metadata, which memory holds whenever the store
// holds it (and for the checks of a replay, which brings the streams of
// a record into memory first: load).
func (s *state) memHead(name string) uint64 {
	if x := s.streams[name]; x != nil {
		return x.head
	}
	return 0
}

// bring makes x, the index of a stream the runs alone held (stream),
// memory's; the caller owns the state and holds the store's lock
// exclusively.
func (s *state) bring(name string, x *streamIdx) {
	if s.streams[name] != nil {
		return
	}
	s.streams[name] = x
	s.namesDirty = true
	s.stOnly--
}

// load brings into memory the streams of c (its appends' and its
// metadata's) that the runs alone hold, for check and apply: a replay's,
// which owns the state.
func (s *state) load(p *effect.P, c *commitRec) error {
	if s.stRuns == nil {
		return nil
	}
	one := func(name string) error {
		if s.streams[name] != nil {
			return nil
		}
		x, err := s.stream(p, name)
		if x != nil {
			s.bring(name, x)
		}
		return err
	}
	for i := range c.parts {
		if err := one(c.parts[i].stream); err != nil {
			return err
		}
	}
	for i := range c.meta {
		if err := one(c.meta[i].stream); err != nil {
			return err
		}
	}
	return nil
}

// checkLoaded is check after load: why c cannot follow the state ("" when
// it can), or the error of a run read.
func (s *state) checkLoaded(p *effect.P, c *commitRec) (string, error) {
	if err := s.load(p, c); err != nil {
		return "", err
	}
	return s.check(c), nil
}

// streamCount is how many streams the store holds, in memory and in the
// runs alone.
func (s *state) streamCount() int { return len(s.streams) + s.stOnly }

// eachStream calls fn with every stream, those of memory first, then
// those the runs alone hold, in no order, until fn returns false. The
// caller holds the store's lock, for reading at least.
func (s *state) eachStream(p *effect.P, fn func(name string, x *streamIdx) bool) error {
	for name, x := range s.streams {
		if !fn(name, x) {
			return nil
		}
	}
	if s.stRuns == nil {
		return nil
	}
	var bad error
	err := scanStreamRuns(p, s.stRuns, s.kvCache, "", func(h streamHead) bool {
		if s.streams[h.name] != nil {
			return true
		}
		x, err := s.fromRunScan(p, h)
		if err != nil {
			bad = err
			return false
		}
		return fn(h.name, x)
	})
	if err != nil {
		return err
	}
	return bad
}

// fromRunScan is fromRun of a head a scan of the runs gave.
func (s *state) fromRunScan(p *effect.P, h streamHead) (*streamIdx, error) {
	if h.dir == 0 {
		return s.fromRun(h, "", 0)
	}
	if e := s.indexedSeg(h.dir); e != nil && e.dir {
		return s.fromRun(h, "", 0)
	}
	path, off := entryAt(p, s.stRuns, h.name)
	return s.fromRun(h, path, off)
}

// walkNames calls fn with the streams whose names start with prefix,
// from the first at or after start, in byte order, with their heads,
// until fn returns false: memory's sorted names (up to date: the caller
// holds the store's lock exclusively when namesDirty is set, see
// Store.sorted) merged with the names the runs alone hold, as kvPage
// merges the kv changes with the kv runs, and with extra (sorted names
// of neither, a head of 0). A stream in memory wins over the runs'.
func (s *state) walkNames(p *effect.P, prefix, start string, extra []string, fn func(name string, head uint64) bool) error {
	start = max(start, prefix)
	mem := s.names[sort.SearchStrings(s.names, start):]
	ext := extra[sort.SearchStrings(extra, start):]
	stop := false
	emit := func(name string, head uint64) {
		if !strings.HasPrefix(name, prefix) || !fn(name, head) {
			stop = true
		}
	}
	// pull emits memory's names and extra before key, all of them when
	// all is set.
	pull := func(key string, all bool) {
		for !stop {
			var n string
			var head uint64
			switch {
			case len(mem) > 0 && (len(ext) == 0 || mem[0] <= ext[0]):
				n, head = mem[0], s.streams[mem[0]].head
				if !all && n >= key {
					return
				}
				mem = mem[1:]
				if len(ext) > 0 && ext[0] == n {
					ext = ext[1:]
				}
			case len(ext) > 0:
				n = ext[0]
				if !all && n >= key {
					return
				}
				ext = ext[1:]
			default:
				return
			}
			emit(n, head)
		}
	}
	if s.stRuns != nil {
		var bad error
		err := scanStreamRuns(p, s.stRuns, s.kvCache, start, func(h streamHead) bool {
			if !strings.HasPrefix(h.name, prefix) {
				return false // every name after it sorts after the prefix's
			}
			pull(h.name, false)
			if stop {
				return false
			}
			if len(mem) > 0 && mem[0] == h.name {
				return true // memory's, emitted by the next pull
			}
			if len(ext) > 0 && ext[0] == h.name {
				ext = ext[1:]
			}
			if h.dir != 0 {
				if _, err := s.fromRunScan(p, h); err != nil {
					bad = err
					return false
				}
			}
			emit(h.name, h.head)
			return !stop
		})
		if err == nil {
			err = bad
		}
		if err != nil {
			return err
		}
	}
	pull("", true)
	return nil
}

// streamRunFind is streamRunGet, with the path of the run holding the
// head and the offset of its block, for an error naming where it lies.
func streamRunFind(p *effect.P, set *kvRunSet, cache *recCache, name string) (streamHead, string, int64, bool, error) {
	if set == nil {
		return streamHead{}, "", 0, false, nil
	}
	for i := len(set.runs) - 1; i >= 0; i-- {
		r := set.runs[i]
		e, ok, err := r.get(p, cache, name)
		if err != nil {
			return streamHead{}, "", 0, false, err
		}
		if !ok {
			continue
		}
		off := r.blocks[r.blockFor(name)].off
		h, ok := streamHeadOf(&e)
		if !ok {
			return streamHead{}, "", 0, false, corrupt(r.path, off, "stream run entry of %q malformed", name)
		}
		return h, r.path, off, true, nil
	}
	return streamHead{}, "", 0, false, nil
}

// dropWhole drops from memory the streams the stream runs hold whole
// (ran, no chunks, no legacy runs), but those with metadata, and takes
// those it drops off the capture's list (state.ck), and gives how many
// it dropped. A stream dropped is looked up in the runs from then on,
// and comes back into memory from its run head when a commit or a
// replay brings it (bring). The caller holds the store's lock
// exclusively and owns the state, and the checkpoint naming the runs is
// durable (applyDrop).
func (s *state) dropWhole() int {
	if s.stRuns == nil {
		return 0
	}
	n, listed := 0, false
	for name, x := range s.streams {
		if !x.whole() {
			continue
		}
		if _, ok := s.ret.meta[name]; ok {
			continue
		}
		delete(s.streams, name)
		listed = listed || x.ck
		n++
	}
	if listed {
		keep := s.ck[:0]
		for _, c := range s.ck {
			if s.streams[c.name] != c.x {
				c.x.ck = false
				continue
			}
			keep = append(keep, c)
		}
		clear(s.ck[len(keep):])
		s.ck = keep
	}
	if n > 0 {
		s.stOnly += n
		s.namesDirty = true
	}
	return n
}
