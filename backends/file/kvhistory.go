package file

import (
	"encoding/binary"
	"errors"
	"fmt"
	"maps"
	"slices"
	"sort"
	"strings"
	"time"

	"rose-ash.com/persist/effect"
	"rose-ash.com/persist/ops"
)

// Kv history and watch (see "Kv history" in the package doc). The index
// keeps no old values: only where each kv commit record lies and which
// revisions of each key are kept; a history or watch reads the values
// back from the log.

// kvLoc is where the commit record of one kv revision lies.
type kvLoc struct {
	rev uint64
	loc
}

// kvHist is the kv history part of the index.
type kvHist struct {
	depth int // versions kept per key; 0 means ops.DefaultKvHistory
	// recs are the commit records with kv changes, by revision, after
	// those the state's kv runs hold (every one without runs; see
	// kvrecs.go).
	recs []kvLoc
	// keys are the kept revisions, oldest first, of the keys changed
	// since the state's kv run (of every key when there is none); the
	// run's entries hold the others' (state.kvRevs).
	keys      map[string][]uint64
	kept      uint64 // versions kept, all keys
	compacted uint64 // highest revision a key's history dropped
	// partial is set for history that began at a checkpoint of format 4
	// or older, which held none: each key then has its current revision
	// only, whose value is the current value (recs do not reach it).
	partial bool
}

func (h *kvHist) keep() int {
	if h.depth == 0 {
		return ops.DefaultKvHistory
	}
	return h.depth
}

// apply adds the kv changes of commit c, stored at l; had tells whether a
// change's key had a value before c (a delete of an absent key makes no
// version). A key the history does not hold in memory starts from the
// revisions its change's lookup found in the kv run (kvRec.revs).
// A key's revisions are only ever appended past the end of its slice, so
// a view (a checkpoint's) that holds the slice sees it unchanged.
func (h *kvHist) apply(c *commitRec, l loc, had func(*kvRec) bool) {
	h.recs = append(h.recs, kvLoc{rev: c.rev, loc: l})
	if h.keys == nil {
		h.keys = make(map[string][]uint64)
	}
	n := h.keep()
	for i := range c.kv {
		k := &c.kv[i]
		if k.op == kvDel && !had(k) {
			continue
		}
		revs, ok := h.keys[k.key]
		if !ok && len(k.revs) > 0 {
			// Kept in the kv run until now (kvRec.revs): a copy, as a
			// view of the run's may not be appended to.
			revs = slices.Clone(lastRevs(k.revs, n))
		}
		if len(revs) >= n {
			drop := len(revs) - n + 1
			h.compacted = max(h.compacted, revs[drop-1])
			h.kept -= uint64(drop)
			revs = revs[drop:]
		}
		h.keys[k.key] = append(revs, c.rev)
		h.kept++
	}
}

// setDepth makes the history keep n versions per key (0: the default),
// dropping what a smaller depth no longer keeps of the keys in memory;
// it reports whether the depth keeps fewer than before (see trimRun).
func (h *kvHist) setDepth(n int) bool {
	old := h.keep()
	h.depth = n
	keep := h.keep()
	for k, revs := range h.keys {
		if len(revs) > keep {
			drop := len(revs) - keep
			h.compacted = max(h.compacted, revs[drop-1])
			h.kept -= uint64(drop)
			h.keys[k] = revs[drop:]
		}
	}
	return keep < old
}

// trimRun drops, as setDepth does for the keys in memory, what a lowered
// depth no longer keeps of the keys whose revisions lie in run: such a
// key takes its trimmed revisions into memory, for the next checkpoint
// to write into its run. It reads the whole run, at an Open whose depth
// is lower than the checkpoint's only.
func (h *kvHist) trimRun(p *effect.P, run *kvRunSet, cache *recCache) error {
	keep := h.keep()
	if h.keys == nil {
		h.keys = make(map[string][]uint64)
	}
	return run.scan(p, cache, "", func(e *kvRunEntry) bool {
		if _, ok := h.keys[e.key]; ok || len(e.revs) <= keep {
			return true
		}
		drop := len(e.revs) - keep
		h.compacted = max(h.compacted, e.revs[drop-1])
		h.kept -= uint64(drop)
		h.keys[e.key] = slices.Clone(e.revs[drop:])
		return true
	})
}

// seed starts a partial history from a kv index that came without one:
// each key's current revision.
func (h *kvHist) seed(kv map[string]*kvEntry, rev uint64) {
	h.partial, h.compacted = true, rev
	h.keys = make(map[string][]uint64, len(kv))
	for k, e := range kv {
		h.keys[k] = []uint64{e.rev}
	}
	h.kept = uint64(len(kv))
}

// view copies h for a checkpoint: the key map, not the revisions (see
// apply), and the record list as far as it goes now.
func (h *kvHist) view() kvHist {
	v := *h
	v.recs = h.recs[:len(h.recs):len(h.recs)]
	v.keys = maps.Clone(h.keys)
	return v
}

// append encodes h for a checkpoint: depth, partial (0 or 1), compacted
// revision, versions kept; the records (count, then per record its
// revision as a delta and its location as appendLoc writes it); the keys
// in byte order (count, then per key the key, its revision count and its
// revisions as deltas).
func (h *kvHist) append(b []byte) []byte {
	b = binary.AppendUvarint(b, uint64(h.depth))
	partial := uint64(0)
	if h.partial {
		partial = 1
	}
	b = binary.AppendUvarint(b, partial)
	b = binary.AppendUvarint(b, h.compacted)
	b = binary.AppendUvarint(b, h.kept)
	b = binary.AppendUvarint(b, uint64(len(h.recs)))
	var rev uint64
	var l loc
	for _, r := range h.recs {
		b = appendLoc(b, r.rev-rev, l, r.loc)
		rev, l = r.rev, r.loc
	}
	keys := slices.Sorted(maps.Keys(h.keys))
	b = binary.AppendUvarint(b, uint64(len(keys)))
	for _, k := range keys {
		b = appendString(b, k)
		revs := h.keys[k]
		b = binary.AppendUvarint(b, uint64(len(revs)))
		var prev uint64
		for _, r := range revs {
			b = binary.AppendUvarint(b, r-prev)
			prev = r
		}
	}
	return b
}

// decode reads what append wrote in checkpoint format v, checking that
// revisions rise and that the counts agree: from format 8 on the keys
// are those whose revisions the kv run does not hold, and keep no more
// versions than the count of all.
func (h *kvHist) decode(d *decoder, v uint32) {
	h.depth = int(d.uvarint())
	partial := d.uvarint()
	h.partial = partial == 1
	h.compacted = d.uvarint()
	h.kept = d.uvarint()
	if partial > 1 || h.depth > ops.MaxKvHistory {
		d.fail()
		return
	}
	n := d.count(3)
	h.recs = make([]kvLoc, 0, n)
	var rev uint64
	var l loc
	for range n {
		delta, nl := d.loc(l)
		if d.err != nil || delta == 0 {
			d.fail()
			return
		}
		rev, l = rev+delta, nl
		h.recs = append(h.recs, kvLoc{rev: rev, loc: l})
	}
	nk := d.count(2)
	h.keys = make(map[string][]uint64, nk)
	var kept uint64
	prev := ""
	for i := range nk {
		k := string(d.bytes())
		if i > 0 && k <= prev {
			d.fail() // keys in byte order, each once
			return
		}
		prev = k
		nr := d.count(1)
		if d.err != nil || nr == 0 || nr > h.keep() {
			d.fail()
			return
		}
		revs := make([]uint64, nr)
		var prev uint64
		for i := range revs {
			delta := d.uvarint()
			if delta == 0 {
				d.fail()
				return
			}
			prev += delta
			revs[i] = prev
		}
		h.keys[k] = revs
		kept += uint64(nr)
	}
	if kept != h.kept && (v < ckptVersionKvHist || kept > h.kept) {
		d.fail()
	}
}

// sameAs tells how h (a checkpoint's) differs from the history a replay
// built up to the same record, or "" when they agree: the same records,
// and for each key the newest revisions the two keep alike (the depths
// may differ: Verify replays with the default, the store may have been
// run with another).
func (h *kvHist) sameAs(o *kvHist) string {
	if h.partial || o.partial {
		return "" // history began at a checkpoint that held none
	}
	if !slices.Equal(h.recs, o.recs) {
		return "the kv history's records"
	}
	if len(h.keys) != len(o.keys) {
		return fmt.Sprintf("kv history of %d keys where the log has %d", len(h.keys), len(o.keys))
	}
	for k, revs := range h.keys {
		theirs := o.keys[k]
		n := min(len(revs), len(theirs))
		if n == 0 || !slices.Equal(revs[len(revs)-n:], theirs[len(theirs)-n:]) {
			return fmt.Sprintf("the kv history of key %q", k)
		}
	}
	return ""
}

// locOf finds the record of revision rev; the caller holds the lock.
func (h *kvHist) locOf(rev uint64) (loc, bool) {
	i := sort.Search(len(h.recs), func(i int) bool { return h.recs[i].rev >= rev })
	if i < len(h.recs) && h.recs[i].rev == rev {
		return h.recs[i].loc, true
	}
	return loc{}, false
}

// kvChange is one kv change read back from a commit record.
type kvChange struct {
	op    uint8
	key   string
	value []byte // a copy
}

// kvChanges reads the kv changes of the commit record at l, with their
// values copied.
func (s *Store) kvChanges(p *effect.P, seg *segment, l loc, rev uint64) ([]kvChange, error) {
	if s.inGap(l) {
		// Only a history depth raised and then replayed in full reaches
		// here (see Compaction in the package doc).
		return nil, corrupt(seg.path, int64(l.off), "kv revision %d was taken by a compaction", rev)
	}
	f, bp, err := s.readRecord(p, seg, l.off)
	if err != nil {
		return nil, err
	}
	defer releaseBuf(bp)
	var c commitScan
	c.start(f.payload)
	for c.part() {
	}
	if c.rev != rev {
		return nil, corrupt(seg.path, int64(l.off), "the record there does not hold kv revision %d", rev)
	}
	d := &c.d
	nk := d.count(2)
	out := make([]kvChange, 0, nk)
	for i := 0; i < nk && d.err == nil; i++ {
		if len(d.b) < 1 {
			d.fail()
			break
		}
		ch := kvChange{op: d.b[0]}
		d.b = d.b[1:]
		ch.key = string(d.bytes())
		switch ch.op {
		case kvPut:
			ch.value = cloneBytes(d.bytes())
		case kvDel:
		default:
			d.fail()
		}
		out = append(out, ch)
	}
	d.meta()
	if d.err == nil && len(d.b) != 0 {
		d.err = errors.New("trailing bytes")
	}
	if d.err != nil {
		return nil, corrupt(seg.path, int64(l.off), "%v", d.err)
	}
	return out, nil
}

func (ch kvChange) version(rev uint64) ops.KvVersion {
	return ops.KvVersion{Key: ch.key, Revision: rev, Value: ch.value, Deleted: ch.op == kvDel}
}

// kvHistory answers ops.KvHistory.
func (s *Store) kvHistory(p *effect.P, op ops.KvHistory) (ops.KvHistoryResult, error) {
	type want struct {
		rev uint64
		seg *segment
		l   loc
		ok  bool
	}
	s.mu.RLock()
	revs, err := s.st.kvRevs(p, op.Key)
	if err != nil {
		s.mu.RUnlock()
		return ops.KvHistoryResult{}, err
	}
	n := len(revs)
	if op.Limit > 0 && op.Limit < n {
		n = op.Limit
	}
	ws := make([]want, 0, n)
	for i := len(revs) - 1; i >= len(revs)-n; i-- {
		w := want{rev: revs[i]}
		l, ok, err := s.st.kvRecLoc(p, w.rev)
		if err != nil {
			s.mu.RUnlock()
			return ops.KvHistoryResult{}, err
		}
		if ok {
			w.seg, w.l, w.ok = s.segs[uint64(l.seg)], l, true
		}
		ws = append(ws, w)
	}
	var cur *kvEntry
	e, err := s.st.kvGet(p, op.Key)
	if err != nil {
		s.mu.RUnlock()
		return ops.KvHistoryResult{}, err
	}
	if e != nil {
		cur = &kvEntry{value: cloneBytes(e.value), rev: e.rev}
	}
	s.mu.RUnlock()
	res := ops.KvHistoryResult{More: n < len(revs)}
	for _, w := range ws {
		if !w.ok {
			// Partial history: the current value, from the index.
			if cur == nil || cur.rev != w.rev {
				return ops.KvHistoryResult{}, fmt.Errorf("%w: kv history of key %q names revision %d, which no record holds", ErrCorrupt, op.Key, w.rev)
			}
			res.Versions = append(res.Versions, ops.KvVersion{Key: op.Key, Revision: w.rev, Value: cur.value})
			continue
		}
		if w.seg == nil {
			return ops.KvHistoryResult{}, fmt.Errorf("file: segment %d is not open", w.l.seg)
		}
		chs, err := s.kvChanges(p, w.seg, w.l, w.rev)
		if err != nil {
			return ops.KvHistoryResult{}, err
		}
		i := slices.IndexFunc(chs, func(ch kvChange) bool { return ch.key == op.Key })
		if i < 0 {
			return ops.KvHistoryResult{}, corrupt(w.seg.path, int64(w.l.off), "the record there does not change key %q", op.Key)
		}
		res.Versions = append(res.Versions, chs[i].version(w.rev))
	}
	return res, nil
}

// watchScan bounds the records one watch page reads: a page ends short,
// with Next where it stopped, rather than read the whole history for a
// prefix that few changes match.
const watchScan = 4 * ops.MaxPage

// kvWatch answers ops.KvWatch.
func (s *Store) kvWatch(p *effect.P, op ops.KvWatch) (ops.KvWatchResult, error) {
	s.mu.RLock()
	h := &s.st.ret.hist
	from := op.From
	if from == 0 {
		from = h.compacted + 1
	} else if from <= h.compacted {
		s.mu.RUnlock()
		return ops.KvWatchResult{}, &ops.CompactedError{Revision: from, Compacted: h.compacted}
	}
	res := ops.KvWatchResult{Revision: s.st.rev, Next: max(from, s.st.rev+1)}
	recs, err := s.st.kvRecsFrom(p, from, watchScan+1)
	if err != nil {
		s.mu.RUnlock()
		return ops.KvWatchResult{}, err
	}
	more := len(recs) > watchScan
	recs = recs[:min(len(recs), watchScan)]
	refs := make([]chunkRef, 0, len(recs))
	for _, r := range recs {
		refs = append(refs, chunkRef{seq: r.rev, seg: s.segs[uint64(r.seg)], l: r.loc})
	}
	s.mu.RUnlock()

	type revChanges struct {
		rev uint64
		chs []kvChange
	}
	var got []revChanges
	for _, r := range refs {
		if r.seg == nil {
			return ops.KvWatchResult{}, fmt.Errorf("file: segment %d is not open", r.l.seg)
		}
		chs, err := s.kvChanges(p, r.seg, r.l, r.seq)
		if err != nil {
			return ops.KvWatchResult{}, err
		}
		chs = slices.DeleteFunc(chs, func(ch kvChange) bool { return !strings.HasPrefix(ch.key, op.Prefix) })
		got = append(got, revChanges{rev: r.seq, chs: chs})
	}

	// A delete of an absent key takes a revision but is no change: the
	// key's kept revisions tell, as long as history has not dropped what
	// this page covers meanwhile (then the watcher starts over).
	s.mu.RLock()
	if h.compacted >= from {
		c := h.compacted
		s.mu.RUnlock()
		return ops.KvWatchResult{}, &ops.CompactedError{Revision: from, Compacted: c}
	}
	var lerr error
	for g := range got {
		got[g].chs = slices.DeleteFunc(got[g].chs, func(ch kvChange) bool {
			if ch.op != kvDel || lerr != nil {
				return false
			}
			revs, err := s.st.kvRevs(p, ch.key)
			if err != nil {
				lerr = err
				return false
			}
			_, found := slices.BinarySearch(revs, got[g].rev)
			return !found
		})
	}
	s.mu.RUnlock()
	if lerr != nil {
		return ops.KvWatchResult{}, lerr
	}

	limit := ops.PageLimit(op.Limit)
	for g, rc := range got {
		if len(rc.chs) > 0 && len(res.Changes) > 0 && len(res.Changes)+len(rc.chs) > limit {
			res.Next = rc.rev
			return res, nil
		}
		slices.SortFunc(rc.chs, func(a, b kvChange) int { return strings.Compare(a.key, b.key) })
		for _, ch := range rc.chs {
			res.Changes = append(res.Changes, ch.version(rc.rev))
		}
		if g == len(got)-1 && more {
			res.Next = rc.rev + 1
		}
	}
	return res, nil
}

// kvWait answers ops.KvWait: as wait, on the kv revision.
func (s *Store) kvWait(p *effect.P, op ops.KvWait) (ops.WaitResult, error) {
	ctx := p.Context()
	var timer <-chan time.Time
	if op.Timeout > 0 {
		t := time.NewTimer(op.Timeout)
		defer t.Stop()
		timer = t.C
	}
	for {
		if s.closed.Load() {
			return ops.WaitResult{}, ops.ErrClosed
		}
		var poll <-chan time.Time
		if s.readOnly {
			if err := s.catchUp(p); err != nil {
				return ops.WaitResult{}, err
			}
			poll = time.After(followPoll)
		}
		s.mu.RLock()
		cur := s.st.rev
		ch := s.notify
		s.mu.RUnlock()
		if cur > op.After {
			return ops.WaitResult{Head: cur, Passed: true}, nil
		}
		select {
		case <-ch:
		case <-poll:
		case <-timer:
			return ops.WaitResult{Head: cur}, nil
		case <-ctx.Done():
			return ops.WaitResult{}, ctx.Err()
		case <-s.closedCh:
			return ops.WaitResult{}, ops.ErrClosed
		}
	}
}
