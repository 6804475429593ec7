package file

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"testing"

	"github.com/google/uuid"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"rose-ash.com/persist/ops"
)

// idModel is what the event-ID rule must answer: per stream, the seq of
// each caller ID stored, and the stream's head.
type idModel struct {
	ids   map[string]map[uuid.UUID]uint64
	heads map[string]uint64
}

func newIDModel(e *env, stored []ops.Event) *idModel {
	m := &idModel{ids: map[string]map[uuid.UUID]uint64{}, heads: map[string]uint64{}}
	for _, ev := range stored {
		m.add(ev.Stream, ev.ID, ev.Seq)
	}
	for name, st := range e.s.st.streams {
		m.heads[name] = st.head
	}
	return m
}

func (m *idModel) add(stream string, id uuid.UUID, seq uint64) {
	if m.ids[stream] == nil {
		m.ids[stream] = map[uuid.UUID]uint64{}
	}
	m.ids[stream][id] = seq
	m.heads[stream] = max(m.heads[stream], seq)
}

// check appends one event with id to stream and requires the answer the
// model gives: the stored event's seq for an ID it holds (a retry), a new
// event at the head for one it does not.
func (m *idModel) check(t *testing.T, e *env, stream string, id uuid.UUID) {
	t.Helper()
	res := must(t, e, ops.Append{Stream: stream, Events: []ops.EventData{{ID: id, Type: "t", Data: []byte("x")}}})
	if seq, ok := m.ids[stream][id]; ok {
		require.Equal(t, seq, res.FirstSeq, "a retry of %s in %s", id, stream)
		return
	}
	require.Equal(t, m.heads[stream]+1, res.FirstSeq, "a new ID %s in %s", id, stream)
	m.add(stream, id, res.FirstSeq)
}

// idBoundOpts are the options of the filter bound tests: small segments,
// so that the store has many index files, and the bound given.
func idBoundOpts(filters int) Options {
	return Options{SegmentSize: minSegmentSize, CheckpointBytes: 32 << 10, IDFilterBytes: filters}
}

// Lookups of stored and new IDs in a store of many index files answer as
// the model does whatever the bound on the filters kept whole: with none
// kept every probe reads its filter block through the index block cache;
// with a bound of a few blocks some files' filters are kept and the
// others probed; with the default all are kept. The filters kept never
// pass the bound.
func TestIDLookupsFilterBound(t *testing.T) {
	for _, c := range []struct {
		name    string
		filters int
	}{{"none", -1}, {"few", 3 * (idxBlockSize - 4)}, {"default", 0}} {
		t.Run(c.name, func(t *testing.T) {
			e, stored := idStore(t, 4500)
			e.reopen(idBoundOpts(c.filters))
			var withIDs []segIdx
			for _, x := range e.s.st.indexed {
				if x.ids && x.nID > 0 {
					withIDs = append(withIDs, x)
				}
			}
			require.GreaterOrEqual(t, len(withIDs), 8, "index files holding ID entries")
			m := newIDModel(e, stored)
			rnd := rand.New(rand.NewPCG(7, uint64(c.filters)))
			var fresh []uuid.UUID
			for i := range 1500 {
				stream := fmt.Sprint("s", rnd.IntN(5))
				switch k := rnd.IntN(4); {
				case k == 0 && len(fresh) > 0: // an ID of this run, maybe of another stream
					m.check(t, e, stream, fresh[rnd.IntN(len(fresh))])
				case k <= 1: // a stored ID, maybe of another stream
					ev := stored[rnd.IntN(len(stored))]
					if rnd.IntN(4) == 0 {
						stream = ev.Stream
					}
					m.check(t, e, stream, ev.ID)
				default: // a new one
					id := uuid.New()
					fresh = append(fresh, id)
					m.check(t, e, stream, id)
				}
				if i == 700 {
					e.reopen(idBoundOpts(c.filters))
				}
			}
			x := &e.s.idx
			x.mu.Lock()
			kept, used := len(x.filters), x.filterUsed
			x.mu.Unlock()
			switch c.filters {
			case -1:
				assert.Zero(t, kept, "no filter kept whole")
				var cached int
				for _, f := range withIDs {
					for blk := f.filterFirst(); blk < f.filterFirst()+f.filterBlocks(); blk++ {
						if _, ok := e.s.idx.cache.peek(loc{seg: f.seg, off: blk}); ok {
							cached++
						}
					}
				}
				assert.Positive(t, cached, "filter blocks read through the block cache")
			case 0:
				assert.GreaterOrEqual(t, kept, len(withIDs), "every filter kept under the default bound")
			default:
				assert.Positive(t, kept)
				assert.Less(t, kept, len(withIDs), "not every filter kept")
			}
			assert.LessOrEqual(t, used, e.s.idFilterMax(), "filters kept within the bound")
			e.close()
			rep, err := Verify(e.p(), e.dir)
			require.NoError(t, err)
			assert.Empty(t, rep.IndexesBad)
		})
	}
}

// A damaged filter or ID entry block is rebuilt from its segment under
// any bound; when the segment is damaged too, the lookup that reads the
// block fails with an error naming the index file and the block's
// offset, and takes no ID for new.
func TestIDFilterDamage(t *testing.T) {
	for _, filters := range []int{-1, 0} {
		for _, where := range []string{"filter", "entries"} {
			t.Run(fmt.Sprint(where, filters), func(t *testing.T) {
				e, stored := idStore(t, 1800)
				require.Greater(t, len(e.s.st.indexed), 2)
				x := e.s.st.indexed[1]
				require.Positive(t, x.nID)
				require.Equal(t, uint32(1), x.filterBlocks(), "one filter block: every probe reads it")
				path := filepath.Join(e.dir, logDir, idxName(x.seg))
				blk := x.filterFirst()
				var ev ops.Event // an ID whose entries lie in the file
				for _, s := range stored {
					if s.Pos >= x.firstPos && s.Pos <= x.lastPos {
						ev = s
						break
					}
				}
				require.NotZero(t, ev.Seq)
				h := e.s.st.ids.Hash(e.s.st.streams[ev.Stream].key, ev.ID)
				if where == "entries" {
					_, n := findIDEntry(t, e, &x, h)
					blk = (x.idBase() + n) / idxPerBlock
				}
				off := idxHeader + int64(blk)*idxBlockSize
				e.close()
				flipAt(t, path, off+100)

				// Rebuilt from the segment: the rule holds.
				e.open(idBoundOpts(filters))
				m := newIDModel(e, stored)
				m.check(t, e, ev.Stream, ev.ID)
				m.check(t, e, ev.Stream, uuid.New())
				e.close()

				// The segment damaged as well: an error naming the file.
				flipAt(t, path, off+100) // the checkpoint rewrote it
				seg := filepath.Join(e.dir, logDir, segName(uint64(x.seg)))
				fi, err := os.Stat(seg)
				require.NoError(t, err)
				flipAt(t, seg, fi.Size()/2)
				e.open(idBoundOpts(filters))
				_, err = perform(e, ops.Append{Stream: ev.Stream, Events: []ops.EventData{{ID: ev.ID, Type: "t"}}})
				var ce *CorruptError
				require.True(t, errors.As(err, &ce), "got %v", err)
				assert.Equal(t, path, ce.File)
				assert.Equal(t, off, ce.Offset)
				assert.Equal(t, m.heads[ev.Stream], e.s.st.streams[ev.Stream].head, "nothing appended")
			})
		}
	}
}

// findIDEntry gives the position and file index (from the first ID
// entry) of the first ID entry of hash h in e's file, read whole.
func findIDEntry(t *testing.T, e *env, x *segIdx, h uint64) (uint64, uint32) {
	t.Helper()
	for i := range x.nID {
		k, rel, err := e.s.idxAt(e.p(), x, x.idBase()+i)
		require.NoError(t, err)
		if k == h {
			return x.firstPos + uint64(rel), i
		}
	}
	t.Fatalf("no ID entry of hash %x in segment %d's file", h, x.seg)
	return 0, 0
}

// Lookups with no filter kept whole beside commits and the checkpoints
// they make (which write index files and move ID entries into them):
// every retry is answered as the original, every new ID is new. Run with
// -race.
func TestIDLookupsBesideCheckpoints(t *testing.T) {
	opts := idBoundOpts(-1)
	opts.IndexCacheBytes = 64 << 10
	e := newEnv(t, opts)
	const writers, rounds = 4, 500
	var wg sync.WaitGroup
	errs := make(chan error, writers)
	for w := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			p := e.sp()
			stream := fmt.Sprint("w", w)
			rnd := rand.New(rand.NewPCG(uint64(w), 1))
			var ids []uuid.UUID
			for i := range rounds {
				id := uuid.New()
				if len(ids) > 0 && rnd.IntN(3) == 0 {
					j := rnd.IntN(len(ids))
					res, err := performOn(p, ops.Append{Stream: stream, Events: []ops.EventData{{ID: ids[j], Type: "t"}}})
					if err != nil || res.FirstSeq != uint64(j+1) {
						errs <- fmt.Errorf("retry of seq %d in %s: %v, seq %d", j+1, stream, err, res.FirstSeq)
						return
					}
					continue
				}
				res, err := performOn(p, ops.Append{Stream: stream, Events: []ops.EventData{{ID: id, Type: "t", Data: fmt.Appendf(nil, "%d %0200d", i, 0)}}})
				if err != nil || res.FirstSeq != uint64(len(ids)+1) {
					errs <- fmt.Errorf("new ID in %s: %v, seq %d, want %d", stream, err, res.FirstSeq, len(ids)+1)
					return
				}
				ids = append(ids, id)
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	assert.Greater(t, len(e.s.st.indexed), 3, "checkpoints wrote index files meanwhile")
}

// A probe of one filter block, tested in place in the index block cache,
// answers as the filter read whole does, and holds every hash put in.
func FuzzIDFilterProbe(f *testing.F) {
	f.Add(uint64(1), uint16(10), uint64(42))
	f.Add(uint64(0x9e3779b97f4a7c15), uint16(7000), uint64(0))
	f.Fuzz(func(t *testing.T, seed uint64, n uint16, probe uint64) {
		rnd := rand.New(rand.NewPCG(seed, uint64(n)))
		ids := make([]idEntry, int(n)%8000+1)
		for i := range ids {
			ids[i] = idEntry{hash: rnd.Uint64(), pos: uint64(i) + 1}
		}
		pos := []posChunk{{pos: 1, loc: loc{seg: 1, off: 64}}}
		b, e, _ := encodeIndex([16]byte{1}, 1, posLocsOf(pos), nil, slices.Clone(ids), true)
		var whole []byte
		for blk := e.filterFirst(); blk < e.blocks(); blk++ {
			o := idxHeader + int(blk)*idxBlockSize
			whole = append(whole, b[o:o+idxBlockSize-4]...)
		}
		var c recCache
		c.setupSize(1<<20, 0)
		defer c.release()
		has := func(h uint64) bool {
			rel, a, bb := filterProbes(h, e.filterBlocks())
			l := loc{seg: 1, off: e.filterFirst() + rel}
			if got, ok := c.test(l, func(blk []byte) bool { return blockHas(blk, a, bb) }); ok {
				return got
			}
			o := idxHeader + int(l.off)*idxBlockSize
			c.put(l, b[o:o+idxBlockSize])
			return blockHas(b[o:o+idxBlockSize], a, bb)
		}
		for _, x := range ids[:min(len(ids), 50)] {
			if !has(x.hash) || !has(x.hash) {
				t.Fatalf("hash %x put in is not found", x.hash)
			}
		}
		if has(probe) != filterHas(whole, probe) || has(probe) != filterHas(whole, probe) {
			t.Fatalf("probe of %x differs from the filter read whole", probe)
		}
	})
}

// A filter block too short to hold the bits a hash names cannot tell
// that the hash is absent: it answers that the file may hold it, so that
// the lookup reads the ID entries, since an answer of absent would let a
// retry append its event again.
func TestBlockHasShortBlock(t *testing.T) {
	_, a, b := filterProbes(0x0123456789abcdef, 1)
	for _, n := range []int{0, 1, idxBlockSize - 5} {
		assert.True(t, blockHas(make([]byte, n), a, b), "a block of %d bytes", n)
	}
	assert.False(t, blockHas(make([]byte, idxBlockSize-4), a, b), "an empty block of full size")
}
