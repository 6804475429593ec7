package file

import (
	"fmt"
	"math/rand/v2"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"

	"rose-ash.com/persist/ops"
)

// A stream whose seqs (and the log's positions) reach exactly 65,535 and
// 65,536 past the first of a run reads the same from every seq about the
// edge, before and after a reopen, and verifies.
func TestTailLocsDistanceEdge(t *testing.T) {
	e := newEnv(t, Options{})
	sizes := []int{1, 10000, 10000, 10000, 10000, 10000, 10000, 5534, 1, 1, 1, 10000, 3}
	var want []ops.Event
	for i, n := range sizes {
		ds := make([]string, n)
		for j := range ds {
			ds[j] = fmt.Sprint(i, "-", j)
		}
		r := must(t, e, ops.Append{Stream: "a", Events: evs(ds...)})
		for j, d := range ds {
			want = append(want, ops.Event{Stream: "a", Seq: r.FirstSeq + uint64(j), Pos: r.FirstPos + uint64(j), Type: "t", Data: []byte(d)})
		}
	}
	x := e.s.st.streams["a"]
	require.Equal(t, 2, len(x.chunks.runs), "65,536 fits its run, 65,537 starts one")
	require.Equal(t, uint64(65537), x.chunks.runs[1].key)
	require.Equal(t, 2, len(e.s.st.positions.runs))
	check := func(what string) {
		t.Helper()
		for from := uint64(65520); from <= 65545; from++ {
			got := must(t, e, ops.Read{Stream: "a", From: from, Limit: 20})
			require.Len(t, got.Events, 20, what)
			for i, ev := range got.Events {
				w := want[from-1+uint64(i)]
				require.Equal(t, []any{w.Seq, string(w.Data)}, []any{ev.Seq, string(ev.Data)}, "%s: read from %d", what, from)
			}
			all := must(t, e, ops.ReadAll{From: from, Limit: 20})
			require.Len(t, all.Events, 20, what)
			for i, ev := range all.Events {
				w := want[from-1+uint64(i)]
				require.Equal(t, []any{w.Pos, string(w.Data)}, []any{ev.Pos, string(ev.Data)}, "%s: read all from %d", what, from)
			}
		}
		last := must(t, e, ops.Read{Stream: "a", From: uint64(len(want)) - 2, Limit: 10})
		require.Len(t, last.Events, 3, what)
	}
	check("live")
	e.reopen(Options{})
	check("reopened")
	e.close()
	rep, err := Verify(e.p(), e.dir)
	require.NoError(t, err)
	require.Empty(t, rep.IndexesBad)
}

// Checkpoints captured beside commits, their views of the tail locations
// encoded and indexed while writers keep adding (and growing the lists),
// and readers search them: under -race, no access of a view's entries
// meets an add's, and every event reads back.
func TestTailLocsViewsBesideCommits(t *testing.T) {
	opts := Options{SegmentSize: minSegmentSize, CheckpointBytes: 24 << 10}
	e := newEnv(t, opts)
	const writers, each = 4, 600
	var wg sync.WaitGroup
	stop := make(chan struct{})
	for w := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range each {
				n := 1 + i%3
				ds := make([]string, n)
				for j := range ds {
					ds[j] = fmt.Sprintf("w%d-%d-%d-%0100d", w, i, j, 0)
				}
				if _, err := perform(e, ops.Append{Stream: fmt.Sprintf("s%d", (w+i)%7), Events: evs(ds...)}); err != nil {
					t.Error(err)
					return
				}
			}
		}()
	}
	var rd sync.WaitGroup
	rd.Add(1)
	go func() {
		defer rd.Done()
		for k := 0; ; k++ {
			select {
			case <-stop:
				return
			default:
			}
			if _, err := perform(e, ops.Read{Stream: fmt.Sprintf("s%d", k%7), From: uint64(1 + k%50), Limit: 30}); err != nil {
				t.Error(err)
				return
			}
			if _, err := perform(e, ops.ReadAll{From: uint64(1 + k%300), Limit: 30}); err != nil {
				t.Error(err)
				return
			}
		}
	}()
	wg.Wait()
	close(stop)
	rd.Wait()
	all := must(t, e, ops.ReadAll{Limit: ops.MaxPage})
	total := 0
	for i := range each {
		total += writers * (1 + i%3)
	}
	require.Len(t, all.Events, min(total, ops.MaxPage))
	require.NotEmpty(t, e.s.st.indexed, "checkpoints indexed segments")
	checkReads(t, e, all.Events)
	e.close()
	rep, err := Verify(e.p(), e.dir)
	require.NoError(t, err)
	require.Empty(t, rep.IndexesBad)
}

// Lists cut (as a drop's clone) or viewed, then grown on, answer every
// look-up as the plain list of their entries does; a view, its look-ups
// too, as it was when taken.
func TestTailLocsGrownAfterCutAndView(t *testing.T) {
	for seed := range uint64(60) {
		rnd := rand.New(rand.NewPCG(seed, 13))
		checkGrownAfterCut(t, rnd, randomChunks(rnd, 1+rnd.IntN(400)))
	}
}

// checkGrownAfterCut builds a list of a prefix of cs, views it and cuts
// it at a drawn entry, grows the list and the cut by the rest of cs, and
// checks all three against cs.
func checkGrownAfterCut(t *testing.T, rnd *rand.Rand, cs []chunk) {
	t.Helper()
	if len(cs) == 0 {
		return
	}
	a := rnd.IntN(len(cs))
	b := a + rnd.IntN(len(cs)-a+1)
	x := locsOf(cs[:b])
	v := x.view()
	cut := x.clone(a, b)
	for _, c := range cs[b:] {
		x.add(c.seq, c.loc)
		cut.add(c.seq, c.loc)
	}
	checkLocs(t, cs, &x)
	checkLocs(t, cs[a:], &cut)
	checkLocs(t, cs[:b], &v)
}

// Commits of two streams' parts (one location, two lists) whose
// positions and seqs cross their runs' 65,536 at different places, with a
// checkpoint and index files between: every stream and the log read the
// same from each key about each run's start, before and after a reopen.
func TestTailLocsMultiStreamEdges(t *testing.T) {
	opts := Options{SegmentSize: 4 << 20, CheckpointBytes: 1 << 20}
	e := newEnv(t, opts)
	var want []ops.Event
	for i := range 26 {
		na, nb := 9000+i, 1+i%5
		mk := func(s string, n int) []string {
			ds := make([]string, n)
			for j := range ds {
				ds[j] = fmt.Sprint(s, i, "-", j)
			}
			return ds
		}
		da, db := mk("a", na), mk("b", nb)
		must(t, e, ops.Commit{Appends: []ops.Append{{Stream: "a", Events: evs(da...)}, {Stream: "b", Events: evs(db...)}}})
		ha := must(t, e, ops.Head{Stream: "a"})
		hb := must(t, e, ops.Head{Stream: "b"})
		pos := uint64(len(want)) + 1
		for j, d := range da {
			want = append(want, ops.Event{Stream: "a", Seq: ha - uint64(na-1-j), Pos: pos, Type: "t", Data: []byte(d)})
			pos++
		}
		for j, d := range db {
			want = append(want, ops.Event{Stream: "b", Seq: hb - uint64(nb-1-j), Pos: pos, Type: "t", Data: []byte(d)})
			pos++
		}
	}
	by := map[string][]ops.Event{}
	for _, ev := range want {
		by[ev.Stream] = append(by[ev.Stream], ev)
	}
	check := func(what string) {
		t.Helper()
		var starts []uint64
		for _, r := range e.s.st.positions.runs {
			starts = append(starts, r.key)
		}
		for _, r := range e.s.st.streams["a"].chunks.runs {
			starts = append(starts, r.key)
		}
		for _, k := range append(starts, 65535, 65536, 65537, 65538) {
			for from := max(k, 4) - 3; from <= k+3 && from <= uint64(len(want)); from++ {
				all := must(t, e, ops.ReadAll{From: from, Limit: 8})
				require.NotEmpty(t, all.Events, "%s: all from %d", what, from)
				for i, ev := range all.Events {
					w := want[from-1+uint64(i)]
					require.Equal(t, []any{w.Pos, w.Stream, w.Seq, string(w.Data)}, []any{ev.Pos, ev.Stream, ev.Seq, string(ev.Data)}, "%s: all from %d", what, from)
				}
				for s, evs := range by {
					if from > uint64(len(evs)) {
						continue
					}
					got := must(t, e, ops.Read{Stream: s, From: from, Limit: 8})
					require.NotEmpty(t, got.Events, "%s: %s from %d", what, s, from)
					for i, ev := range got.Events {
						w := evs[from-1+uint64(i)]
						require.Equal(t, []any{w.Pos, w.Seq, string(w.Data)}, []any{ev.Pos, ev.Seq, string(ev.Data)}, "%s: %s from %d", what, s, from)
					}
				}
			}
		}
	}
	check("live")
	require.NotEmpty(t, e.s.st.indexed, "a sealed segment is indexed")
	require.GreaterOrEqual(t, len(e.s.st.positions.runs), 2, "the tail's positions cross a run's 65,536")
	require.GreaterOrEqual(t, len(e.s.st.streams["a"].chunks.runs), 2, "a's tail seqs cross a run's 65,536")
	e.reopen(opts)
	check("reopened")
	e.close()
	rep, err := Verify(e.p(), e.dir)
	require.NoError(t, err)
	require.Empty(t, rep.IndexesBad)
}
