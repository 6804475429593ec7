package file

import (
	"fmt"
	"os"

	"rose-ash.com/persist/effect"
)

// Tiered kv runs (see "Kv run files" in the package doc): the kv keys a
// checkpoint covers lie in a set of runs, oldest first. A checkpoint
// writes the keys changed since the last one as a new run, folding into
// it as many of the newest runs as the tiering takes (kvFoldCount), so
// that a checkpoint's cost follows what changed, not the key count, and
// a lookup reads at most kvMaxRuns runs. A key's entry in a newer run
// wins over the older runs'; a tombstone (an entry without a value or
// kept revisions) hides them, until a fold into the oldest run drops it.

// kvMaxRuns is how many runs a set holds at most.
const kvMaxRuns = 4

// kvRunSet is the runs a checkpoint names, oldest first. A set is never
// changed once made: a checkpoint makes a new one, which may share runs
// with the set it started from.
type kvRunSet struct {
	runs []*kvRun
}

// newest is the set's newest run.
func (rs *kvRunSet) newest() *kvRun { return rs.runs[len(rs.runs)-1] }

// has reports whether r is one of the set's runs.
func (rs *kvRunSet) has(r *kvRun) bool {
	if rs == nil {
		return false
	}
	for _, x := range rs.runs {
		if x == r {
			return true
		}
	}
	return false
}

// get finds key's newest entry in the set (a tombstone is an entry
// without a value or revisions), as getFn does. The entry's key is key,
// its value and kept revisions the caller's.
func (rs *kvRunSet) get(p *effect.P, cache *recCache, key string) (kvRunEntry, bool, error) {
	var e kvRunEntry
	found, err := rs.getFn(p, cache, key, true, func(x kvRunEntry) {
		e = x
		e.value = cloneBytes(x.value)
	})
	return e, found, err
}

// kvRunCursor steps over one run's entries in key order.
type kvRunCursor struct {
	r     *kvRun
	cache *recCache
	blk   int
	d     decoder
	e     kvRunEntry
	ok    bool // e is an entry; false once the run is done
	// seek, when set, is the key the first block read is taken from
	// (blockFrom); revs decodes the entries' kept revisions.
	seek string
	revs bool
}

// next steps to the run's next entry at or after from.
func (c *kvRunCursor) next(p *effect.P, from string) error {
	for {
		for len(c.d.b) > 0 {
			c.e = decodeKvEntryRevs(&c.d, c.revs)
			if c.d.err != nil {
				c.ok = false
				return corrupt(c.r.path, c.r.blocks[c.blk-1].off, "malformed %s block %d", c.r.noun(), c.blk-1)
			}
			if c.e.key >= from {
				c.ok = true
				return nil
			}
		}
		if c.blk >= len(c.r.blocks) {
			c.ok = false
			return nil
		}
		var b []byte
		var err error
		if c.seek != "" {
			b, err = c.r.blockFrom(p, c.cache, c.blk, c.seek)
			c.seek = ""
		} else {
			b, err = c.r.block(p, c.cache, c.blk)
		}
		if err != nil {
			c.ok = false
			return err
		}
		c.blk++
		c.d = decoder{b: b}
	}
}

// scan calls fn with the set's entries from the first at or after from,
// in byte order, each key's newest entry only (tombstones included),
// until fn returns false. The entry's value aliases a block: fn copies
// what it keeps.
func (rs *kvRunSet) scan(p *effect.P, cache *recCache, from string, fn func(e *kvRunEntry) bool) error {
	return rs.scanRevs(p, cache, from, true, fn)
}

// scanRevs is scan giving the entries' kept revisions only with revs
// set: a kv-list wants none of them.
func (rs *kvRunSet) scanRevs(p *effect.P, cache *recCache, from string, revs bool, fn func(e *kvRunEntry) bool) error {
	if len(rs.runs) == 1 {
		return rs.runs[0].scanRevs(p, cache, from, revs, fn)
	}
	cs := make([]kvRunCursor, len(rs.runs))
	for i, r := range rs.runs {
		cs[i] = kvRunCursor{r: r, cache: cache, blk: max(r.blockFor(from), 0), seek: from, revs: revs}
		if err := cs[i].next(p, from); err != nil {
			return err
		}
	}
	for {
		win := -1
		for i := range cs {
			// The newest run is the last: on a tie it wins.
			if cs[i].ok && (win < 0 || cs[i].e.key <= cs[win].e.key) {
				win = i
			}
		}
		if win < 0 {
			return nil
		}
		e := cs[win].e
		if !fn(&e) {
			return nil
		}
		for i := range cs {
			if cs[i].ok && cs[i].e.key == e.key {
				if err := cs[i].next(p, ""); err != nil {
					return err
				}
			}
		}
	}
}

// close closes the files of the set's runs.
func (rs *kvRunSet) close(p *effect.P) error {
	if rs == nil {
		return nil
	}
	var first error
	for _, r := range rs.runs {
		if err := r.close(p); first == nil {
			first = err
		}
	}
	return first
}

// refs is what a checkpoint records of the set's runs.
func (rs *kvRunSet) refs() []kvRunRef {
	if rs == nil {
		return nil
	}
	out := make([]kvRunRef, len(rs.runs))
	for i, r := range rs.runs {
		out[i] = kvRunRef{gen: r.gen, hdrCRC: r.hdrCRC, entries: r.entries, live: r.live}
	}
	return out
}

// gens is the generations of the set's runs.
func (rs *kvRunSet) gens() []uint64 {
	if rs == nil {
		return nil
	}
	out := make([]uint64, len(rs.runs))
	for i, r := range rs.runs {
		out[i] = r.gen
	}
	return out
}

// dup gives a copy of the set whose runs read through file descriptors
// of their own, for a reader that may outlive the set's (a compaction);
// the caller closes it.
func (rs *kvRunSet) dup(p *effect.P) (*kvRunSet, error) {
	out := &kvRunSet{runs: make([]*kvRun, 0, len(rs.runs))}
	for _, r := range rs.runs {
		fd, err := openFile(p, r.path, os.O_RDONLY)
		if err != nil {
			_ = out.close(p)
			return nil, fmt.Errorf("file: open kv run: %w", err)
		}
		d := *r
		d.fd = fd
		out.runs = append(out.runs, &d)
	}
	return out, nil
}

// kvFoldCount decides how many of the newest runs of a set (sizes, in
// bytes, oldest first) a checkpoint folds into the run it writes of
// changes of about est bytes: each run no larger than what the new run
// holds so far (size-tiered: a run is folded into once its newer runs
// add up to its size), then as many more as keep the set at kvMaxRuns,
// each of which the new run then weighs too, going on as before. Without
// that last step a full set whose newest run had grown past the changes
// folded the newest alone, again and again: it grew by a checkpoint's
// changes each time and was written whole each time, quadratic in the
// checkpoints (a store of 10 M keys written with a checkpoint every
// 66,000 keys wrote 30 GiB of runs for 534 MiB of log).
func kvFoldCount(sizes []int64, est int64) int {
	k, acc := 0, est
	grow := func() {
		for k < len(sizes) && sizes[len(sizes)-1-k] <= acc {
			acc += sizes[len(sizes)-1-k]
			k++
		}
	}
	grow()
	for len(sizes)-k+1 > kvMaxRuns {
		acc += sizes[len(sizes)-1-k]
		k++
		grow()
	}
	return k
}

// kvChangesSize estimates the bytes changes take in a run.
func kvChangesSize(changes []kvRunChange) int64 {
	var n int64
	for i := range changes {
		c := &changes[i]
		n += int64(len(c.key)+len(c.value)) + 12 + 3*int64(len(c.revs))
	}
	return n
}
