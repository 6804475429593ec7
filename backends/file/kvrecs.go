package file

import (
	"sort"

	"rose-ash.com/persist/effect"
)

// The kv history's records (kvHist.recs: where the commit record of each
// kv revision lies) that a checkpoint covers lie in its kv runs (run
// format 2, see "Kv run files" in the package doc), in checked blocks
// after the entries, read through the block cache: each run holds those
// of a range of revisions, the older runs the lower ranges, and memory
// only the records after the newest run's.

// scanRecBlock calls fn with the records of history block b in order
// until it returns false; it reports false when the block is malformed.
func scanRecBlock(b []byte, fn func(kvLoc) bool) bool {
	d := decoder{b: b}
	var prev kvLoc
	for len(d.b) > 0 {
		delta, l := d.loc(prev.loc)
		if d.err != nil || delta == 0 || prev.rev+delta < prev.rev {
			return false
		}
		prev = kvLoc{rev: prev.rev + delta, loc: l}
		if !fn(prev) {
			return true
		}
	}
	return true
}

// recScan calls fn with the run's history records from revision from
// on, in order, until fn returns false; it reports whether fn did.
func (r *kvRun) recScan(p *effect.P, cache *recCache, from uint64, fn func(kvLoc) bool) (bool, error) {
	if r.recN == 0 || from > r.recLast {
		return false, nil
	}
	i := max(sort.Search(len(r.recBlocks), func(i int) bool { return r.recBlocks[i].first > from })-1, 0)
	for ; i < len(r.recBlocks); i++ {
		b, err := r.recBlock(p, cache, i)
		if err != nil {
			return false, err
		}
		stopped := false
		if !scanRecBlock(b, func(x kvLoc) bool {
			if x.rev < from {
				return true
			}
			stopped = !fn(x)
			return !stopped
		}) {
			return false, corrupt(r.path, r.recBlocks[i].off, "malformed kv run history block %d", i)
		}
		if stopped {
			return true, nil
		}
	}
	return false, nil
}

// recHi is the revision of the last history record the set's runs hold,
// 0 when they hold none: memory holds the records after it.
func (rs *kvRunSet) recHi() uint64 {
	if rs == nil {
		return 0
	}
	for i := len(rs.runs) - 1; i >= 0; i-- {
		if rs.runs[i].recN > 0 {
			return rs.runs[i].recLast
		}
	}
	return 0
}

// recScan calls fn with the set's history records from revision from
// on, oldest run first, until fn returns false; it reports whether fn
// did.
func (rs *kvRunSet) recScan(p *effect.P, cache *recCache, from uint64, fn func(kvLoc) bool) (bool, error) {
	if rs == nil {
		return false, nil
	}
	for _, r := range rs.runs {
		if stopped, err := r.recScan(p, cache, from, fn); err != nil || stopped {
			return stopped, err
		}
	}
	return false, nil
}

// recLoc finds the record of revision rev in the set's runs.
func (rs *kvRunSet) recLoc(p *effect.P, cache *recCache, rev uint64) (loc, bool, error) {
	var out loc
	found := false
	_, err := rs.recScan(p, cache, rev, func(x kvLoc) bool {
		found = x.rev == rev
		out = x.loc
		return false
	})
	if err != nil || !found {
		return loc{}, false, err
	}
	return out, true, nil
}

// kvRecLoc finds the commit record of kv revision rev: in memory when it
// follows the runs' records, else in the runs. The caller holds the
// store's lock.
func (s *state) kvRecLoc(p *effect.P, rev uint64) (loc, bool, error) {
	h := &s.ret.hist
	if rev > s.kvRuns.recHi() {
		l, ok := h.locOf(rev)
		return l, ok, nil
	}
	return s.kvRuns.recLoc(p, s.kvCache, rev)
}

// kvRecsFrom gives at most n history records from revision from on:
// the runs', then memory's. The caller holds the store's lock.
func (s *state) kvRecsFrom(p *effect.P, from uint64, n int) ([]kvLoc, error) {
	var out []kvLoc
	if from <= s.kvRuns.recHi() {
		if _, err := s.kvRuns.recScan(p, s.kvCache, from, func(x kvLoc) bool {
			out = append(out, x)
			return len(out) < n
		}); err != nil {
			return nil, err
		}
	}
	h := &s.ret.hist
	i := sort.Search(len(h.recs), func(i int) bool { return h.recs[i].rev >= from })
	for ; i < len(h.recs) && len(out) < n; i++ {
		out = append(out, h.recs[i])
	}
	return out, nil
}

// verifyRecs reads every history block of the run, bypassing the cache:
// records in rising revision order, each block's first the one its index
// names, the count and the last revision the index's.
func (r *kvRun) verifyRecs(p *effect.P) error {
	var n, last uint64
	for i := range r.recBlocks {
		b, err := r.recBlock(p, nil, i)
		if err != nil {
			return err
		}
		j := 0
		bad := ""
		ok := scanRecBlock(b, func(x kvLoc) bool {
			switch {
			case j == 0 && x.rev != r.recBlocks[i].first:
				bad = "begins with a revision its index does not name"
			case n > 0 && x.rev <= last:
				bad = "revisions out of order"
			}
			j++
			n++
			last = x.rev
			return bad == ""
		})
		if !ok || bad != "" {
			if bad == "" {
				bad = "malformed"
			}
			return corrupt(r.path, r.recBlocks[i].off, "kv run history block %d: %s", i, bad)
		}
	}
	if n != r.recN || n > 0 && last != r.recLast {
		return corrupt(r.path, 0, "kv run of %d history records up to revision %d where its index names %d up to %d", n, last, r.recN, r.recLast)
	}
	return nil
}
