package file

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/google/uuid"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"rose-ash.com/persist/effect"
	"rose-ash.com/persist/ops"
	"rose-ash.com/persist/platform"
)

func TestDumpAndVerify(t *testing.T) {
	e := newEnv(t, Options{SegmentSize: minSegmentSize})
	fill(t, e, 200)
	must(t, e, ops.Commit{
		Appends: []ops.Append{{Stream: "x", Events: evs("a", "b")}, {Stream: "y", Events: evs("c")}},
		Kv:      []ops.KvChange{{Key: "k", Value: []byte("v")}, {Key: "gone", Delete: true}},
	})
	st := e.s.Stats()
	e.close()

	recs := records(t, e)
	require.NotEmpty(t, recs)
	commits, events := 0, 0
	var segs []uint64
	for i, r := range recs {
		assert.Equal(t, uint64(i+1), r.LSN, "LSNs run on")
		if i > 0 {
			assert.Equal(t, recs[i-1].CRC, r.PrevCRC, "the chain links every record")
		}
		switch r.Type {
		case "header":
			assert.Zero(t, r.Offset)
			segs = append(segs, r.Segment)
		case "commit":
			commits++
			events += len(r.Events)
		case "seal":
		default:
			t.Fatalf("record type %q", r.Type)
		}
	}
	assert.Equal(t, st.Segments, len(segs))
	assert.Equal(t, int(st.Commits), commits)
	assert.Equal(t, int(st.Events), events)
	last := recs[len(recs)-1]
	require.Equal(t, "commit", last.Type)
	assert.Equal(t, []string{"x", "x", "y"}, []string{last.Events[0].Stream, last.Events[1].Stream, last.Events[2].Stream})
	assert.Equal(t, "c", string(last.Events[2].Data))
	assert.Equal(t, uint64(1), last.Events[2].Seq)
	assert.Equal(t, []ops.KvChange{{Key: "k", Value: []byte("v")}, {Key: "gone", Delete: true}}, last.Kv)
	assert.Equal(t, st.Revision, last.Revision)

	// Stopping early is fine.
	n := 0
	for range Dump(e.p(), e.dir) {
		n++
		if n == 3 {
			break
		}
	}
	assert.Equal(t, 3, n)

	rep, err := Verify(e.p(), e.dir)
	require.NoError(t, err)
	assert.Equal(t, len(recs), rep.Records)
	assert.Equal(t, commits, rep.Commits)
	assert.Equal(t, st.Events, rep.Events)
	assert.Equal(t, st.Segments, rep.Segments)
	assert.Equal(t, st.LSN, rep.LSN)
	assert.Equal(t, st.Streams, rep.Streams)
	assert.Equal(t, st.KvKeys, rep.KvKeys)
	assert.Equal(t, 1, rep.Checkpoints)
	assert.Nil(t, rep.TornTail)
}

func TestCommitWithRepeatedPart(t *testing.T) {
	e := newEnv(t, Options{})
	id := uuid.New()
	first := must(t, e, ops.Append{Stream: "a", Expect: ops.NoStream(), Events: []ops.EventData{{ID: id, Type: "t", Data: []byte("1")}}})
	res := must(t, e, ops.Commit{Appends: []ops.Append{
		{Stream: "a", Expect: ops.NoStream(), Events: []ops.EventData{{ID: id, Type: "t", Data: []byte("1")}}},
		{Stream: "b", Expect: ops.NoStream(), Events: evs("2")},
	}})
	assert.Equal(t, first, res.Appends[0], "the repeated part answers its original result")
	assert.Equal(t, ops.AppendResult{Stream: "b", FirstSeq: 1, Head: 1, FirstPos: 2, LastPos: 2}, res.Appends[1])
	assert.Equal(t, uint64(1), must(t, e, ops.Head{Stream: "a"}))

	lsn := e.s.Stats().LSN
	res = must(t, e, ops.Commit{Appends: []ops.Append{{Stream: "a", Expect: ops.Exact(0), Events: []ops.EventData{{ID: id, Type: "t"}}}}})
	assert.Equal(t, first, res.Appends[0])
	assert.Equal(t, lsn, e.s.Stats().LSN, "a commit that only repeats writes no record")
}

func TestCancelledLeaderDoesNotFailStore(t *testing.T) {
	e := newEnv(t, Options{})
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err := effect.Perform(effect.Handle(ctx, e.s, e.os), ops.Append{Stream: "s", Events: evs("x")})
	assert.ErrorIs(t, err, context.Canceled)
	assert.False(t, e.s.Stats().Failed)
	r := must(t, e, ops.Append{Stream: "s", Events: evs("y")})
	assert.Equal(t, uint64(1), r.Head)
}

func TestWaitAcrossStreamsAndTimeoutAnswer(t *testing.T) {
	e := newEnv(t, Options{})
	must(t, e, ops.Append{Stream: "a", Events: evs("1")})
	w := must(t, e, ops.Wait{Stream: "a", After: 0})
	assert.Equal(t, ops.WaitResult{Head: 1, Passed: true}, w, "already past: answered at once")
	w = must(t, e, ops.Wait{Stream: "b", After: 0, Timeout: 1})
	assert.Equal(t, ops.WaitResult{Head: 0, Passed: false}, w)
}

// misdirect serves reads at one offset from another.
type misdirect struct{ from, to int64 }

func (m *misdirect) Handle(p *effect.P, e effect.Effect) (any, error) {
	if r, ok := e.(platform.ReadAt); ok && r.Off == m.from {
		r.Off = m.to
		return p.Send(r)
	}
	return nil, effect.ErrUnhandled
}

func TestMisdirectedReadIsCorrupt(t *testing.T) {
	m := &misdirect{from: -1, to: -1}
	e := newEnv(t, Options{}, m)
	must(t, e, ops.Append{Stream: "a", Events: evs("1")})
	must(t, e, ops.Append{Stream: "b", Events: evs("2")})
	must(t, e, ops.Append{Stream: "a", Events: evs("3")})
	recs := records(t, e)
	require.Len(t, recs, 4)
	m.from, m.to = recs[1].Offset, recs[3].Offset // a's first record reads as a's second

	_, err := perform(e, ops.Read{Stream: "a"})
	var ce *CorruptError
	require.ErrorAs(t, err, &ce)
	assert.Equal(t, recs[1].Offset, ce.Offset)
	_, err = perform(e, ops.ReadAll{})
	require.ErrorAs(t, err, &ce)
	assert.Equal(t, recs[1].Offset, ce.Offset)
}

func TestLargeRecordsAndSmallSegments(t *testing.T) {
	opts := Options{SegmentSize: minSegmentSize}
	e := newEnv(t, opts)
	big := make([]byte, ops.MaxDataBytes)
	for i := range big {
		big[i] = byte(i * 7)
	}
	batch := make([]ops.EventData, 12)
	for i := range batch {
		batch[i] = ops.EventData{Type: "big", Data: big}
	}
	for range 3 {
		must(t, e, ops.Append{Stream: "big", Events: batch})
		must(t, e, ops.Append{Stream: "small", Events: evs("x")})
	}
	must(t, e, ops.KvPut{Key: "k", Value: big})
	check := func() {
		rr := must(t, e, ops.Read{Stream: "big", From: 13, Limit: 2})
		require.Len(t, rr.Events, 2)
		assert.Equal(t, big, rr.Events[1].Data)
		assert.Equal(t, uint64(36), rr.Head)
		all := must(t, e, ops.ReadAll{From: 13, Limit: 3})
		require.Len(t, all.Events, 3)
		assert.Equal(t, "small", all.Events[0].Stream)
		assert.Equal(t, big, must(t, e, ops.KvGet{Key: "k"}).Value)
	}
	check()
	e.reopen(opts)
	check()
	e.close()
	rep, err := Verify(e.p(), e.dir)
	require.NoError(t, err)
	assert.Equal(t, uint64(39), rep.Events)
	assert.Greater(t, rep.Segments, 3)
	e.open(opts)
}

func TestBadIdentity(t *testing.T) {
	e := newEnv(t, Options{})
	e.close()
	require.NoError(t, os.WriteFile(filepath.Join(e.dir, identityFile), []byte("something else\n"), 0o644))
	_, err := Open(e.p(), e.dir, Options{})
	assert.ErrorIs(t, err, ErrCorrupt)
	require.NoError(t, os.Remove(filepath.Join(e.dir, identityFile)))
	_, err = Open(e.p(), e.dir, Options{})
	assert.ErrorIs(t, err, ErrCorrupt, "a log without its identity is not silently adopted")
	assert.Zero(t, e.os.OpenFiles(), "a failed Open releases what it opened")
}

func TestBadOptions(t *testing.T) {
	_, err := Open(effect.Handle(context.Background(), &platform.OS{}), t.TempDir(), Options{SegmentSize: 10})
	assert.Error(t, err)
}
