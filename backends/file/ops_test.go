package file

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"rose-ash.com/persist/effect"
	"rose-ash.com/persist/ops"
)

func TestAppendExpectations(t *testing.T) {
	e := newEnv(t, Options{})
	r := must(t, e, ops.Append{Stream: "s", Expect: ops.NoStream(), Events: evs("a")})
	assert.Equal(t, ops.AppendResult{Stream: "s", FirstSeq: 1, Head: 1, FirstPos: 1, LastPos: 1}, r)

	_, err := perform(e, ops.Append{Stream: "s", Expect: ops.NoStream(), Events: evs("x")})
	var c *ops.Conflict
	require.ErrorAs(t, err, &c)
	assert.Equal(t, ops.Conflict{Stream: "s", Expected: ops.NoStream(), Actual: 1}, *c)
	assert.ErrorIs(t, err, ops.ErrConflict)

	_, err = perform(e, ops.Append{Stream: "s", Expect: ops.Exact(5), Events: evs("x")})
	require.ErrorAs(t, err, &c)
	assert.Equal(t, uint64(1), c.Actual)
	_, err = perform(e, ops.Append{Stream: "new", Expect: ops.Exists(), Events: evs("x")})
	require.ErrorAs(t, err, &c)
	assert.Equal(t, uint64(0), c.Actual)

	r = must(t, e, ops.Append{Stream: "s", Expect: ops.Exact(1), Events: evs("b", "c")})
	assert.Equal(t, ops.AppendResult{Stream: "s", FirstSeq: 2, Head: 3, FirstPos: 2, LastPos: 3}, r)
	r = must(t, e, ops.Append{Stream: "s", Expect: ops.Exists(), Events: evs("d")})
	assert.Equal(t, uint64(4), r.Head)
	r = must(t, e, ops.Append{Stream: "t", Events: evs("e")})
	assert.Equal(t, ops.AppendResult{Stream: "t", FirstSeq: 1, Head: 1, FirstPos: 5, LastPos: 5}, r)

	assert.Equal(t, uint64(4), must(t, e, ops.Head{Stream: "s"}))
	assert.Equal(t, uint64(0), must(t, e, ops.Head{Stream: "nothing"}))
	rr := must(t, e, ops.Read{Stream: "s"})
	assert.Equal(t, []string{"a", "b", "c", "d"}, datas(rr.Events), "conflicts wrote nothing")
}

func datas(es []ops.Event) []string {
	out := make([]string, len(es))
	for i, e := range es {
		out[i] = string(e.Data)
	}
	return out
}

func TestEventFields(t *testing.T) {
	at := time.Date(2026, 3, 4, 5, 6, 7, 8, time.UTC)
	e := newEnv(t, Options{})
	e.os.Now = func() time.Time { return at.Local() }
	id := uuid.New()
	must(t, e, ops.Append{Stream: "s", Events: []ops.EventData{{ID: id, Type: "created", Data: []byte(`{"x":1}`)}, {Type: "empty"}}})
	rr := must(t, e, ops.Read{Stream: "s"})
	require.Len(t, rr.Events, 2)
	assert.Equal(t, ops.Event{ID: id, Stream: "s", Seq: 1, Pos: 1, Type: "created", At: at, Data: []byte(`{"x":1}`)}, rr.Events[0])
	assert.Nil(t, rr.Events[1].Data)
	assert.Equal(t, uuid.Version(4), rr.Events[1].ID.Version(), "a fresh ID is a v4 UUID")
	assert.Equal(t, uuid.RFC4122, rr.Events[1].ID.Variant())

	// The clock stepping back does not make At go back.
	e.os.Now = func() time.Time { return at.Add(-time.Hour) }
	must(t, e, ops.Append{Stream: "s", Events: evs("x")})
	rr = must(t, e, ops.Read{Stream: "s", From: 3})
	assert.Equal(t, at, rr.Events[0].At)

	now := must(t, e, ops.Now{})
	assert.Equal(t, at.Add(-time.Hour), now)

	e.reopen(Options{})
	rr = must(t, e, ops.Read{Stream: "s"})
	assert.Equal(t, id, rr.Events[0].ID)
	assert.Equal(t, at, rr.Events[0].At)
}

func TestIdempotentAppend(t *testing.T) {
	e := newEnv(t, Options{})
	ids := []uuid.UUID{uuid.New(), uuid.New()}
	batch := []ops.EventData{{ID: ids[0], Type: "t", Data: []byte("1")}, {ID: ids[1], Type: "t", Data: []byte("2")}}
	first := must(t, e, ops.Append{Stream: "s", Expect: ops.NoStream(), Events: batch})
	must(t, e, ops.Append{Stream: "other", Events: evs("o")})

	again := must(t, e, ops.Append{Stream: "s", Expect: ops.NoStream(), Events: batch})
	assert.Equal(t, first, again, "a retry at the same place answers the original result")
	again = must(t, e, ops.Append{Stream: "s", Expect: ops.Any(), Events: batch})
	assert.Equal(t, first, again, "with Any the place is the stream's last events")

	must(t, e, ops.Append{Stream: "s", Events: evs("3")})
	again = must(t, e, ops.Append{Stream: "s", Expect: ops.Exact(0), Events: batch})
	assert.Equal(t, first, again, "Exact(0) places at seq 1 even when more followed")

	// Stored whole before the tail: with Any a retry, never written again.
	moved := must(t, e, ops.Append{Stream: "s", Expect: ops.Any(), Events: batch})
	assert.Equal(t, first, moved)
	// Same IDs in another order are a reuse, refused.
	_, err := perform(e, ops.Append{Stream: "s", Expect: ops.Exact(0), Events: []ops.EventData{batch[1], batch[0]}})
	var dup *ops.DuplicateIDError
	require.ErrorAs(t, err, &dup)
	assert.Equal(t, ops.DuplicateIDError{Stream: "s", ID: ids[1], Seq: 2}, *dup)
	// A prefix of a batch repeats too.
	part := must(t, e, ops.Append{Stream: "s", Expect: ops.NoStream(), Events: batch[:1]})
	assert.Equal(t, ops.AppendResult{Stream: "s", FirstSeq: 1, Head: 1, FirstPos: 1, LastPos: 1}, part)

	e.reopen(Options{})
	again = must(t, e, ops.Append{Stream: "s", Expect: ops.NoStream(), Events: batch})
	assert.Equal(t, first, again, "decided from stored events, also after a restart")
	assert.Equal(t, uint64(3), must(t, e, ops.Head{Stream: "s"}))
}

func TestCommit(t *testing.T) {
	e := newEnv(t, Options{})
	must(t, e, ops.KvPut{Key: "k0", Value: []byte("v")})
	res := must(t, e, ops.Commit{
		Appends: []ops.Append{{Stream: "a", Events: evs("1", "2")}, {Stream: "b", Expect: ops.NoStream(), Events: evs("3")}},
		Kv:      []ops.KvChange{{Key: "k1", Value: []byte("x")}, {Key: "k0", Delete: true, Expect: ops.Exact(1)}, {Key: "absent", Delete: true}},
	})
	assert.Equal(t, []ops.AppendResult{
		{Stream: "a", FirstSeq: 1, Head: 2, FirstPos: 1, LastPos: 2},
		{Stream: "b", FirstSeq: 1, Head: 1, FirstPos: 3, LastPos: 3},
	}, res.Appends)
	assert.Equal(t, uint64(2), res.Revision)
	assert.Equal(t, []ops.KvResult{{Key: "k1", Revision: 2, Existed: false}, {Key: "k0", Revision: 2, Existed: true}, {Key: "absent", Revision: 2}}, res.Kv)

	// A failed expectation in any part writes nothing; the first is named.
	_, err := perform(e, ops.Commit{
		Appends: []ops.Append{{Stream: "a", Expect: ops.Exact(2), Events: evs("4")}, {Stream: "c", Events: evs("5")}},
		Kv:      []ops.KvChange{{Key: "k1", Value: []byte("y"), Expect: ops.Exact(1)}, {Key: "k2", Value: []byte("z"), Expect: ops.Exists()}},
	})
	var c *ops.Conflict
	require.ErrorAs(t, err, &c)
	assert.Equal(t, ops.Conflict{Key: "k1", Expected: ops.Exact(1), Actual: 2}, *c)
	assert.Equal(t, uint64(2), must(t, e, ops.Head{Stream: "a"}))
	assert.Equal(t, uint64(0), must(t, e, ops.Head{Stream: "c"}))
	assert.Nil(t, must(t, e, ops.KvGet{Key: "k2"}))

	e.reopen(Options{})
	got := must(t, e, ops.KvGet{Key: "k1"})
	assert.Equal(t, &ops.KvEntry{Key: "k1", Value: []byte("x"), Revision: 2}, got)
	assert.Nil(t, must(t, e, ops.KvGet{Key: "k0"}))
	all := must(t, e, ops.ReadAll{})
	assert.Equal(t, []string{"1", "2", "3"}, datas(all.Events))
	assert.Equal(t, uint64(3), all.Head)
}

func TestKv(t *testing.T) {
	e := newEnv(t, Options{})
	r := must(t, e, ops.KvPut{Key: "a", Value: []byte("1"), Expect: ops.NoStream()})
	assert.Equal(t, ops.KvResult{Key: "a", Revision: 1}, r)
	must(t, e, ops.Append{Stream: "s", Events: evs("x")}) // no kv: no revision
	r = must(t, e, ops.KvPut{Key: "b", Value: []byte("2")})
	assert.Equal(t, uint64(2), r.Revision, "revisions are store-wide")
	r = must(t, e, ops.KvPut{Key: "a", Value: []byte("3"), Expect: ops.Exact(1)})
	assert.Equal(t, ops.KvResult{Key: "a", Revision: 3, Existed: true}, r)

	_, err := perform(e, ops.KvPut{Key: "a", Value: []byte("4"), Expect: ops.Exact(1)})
	var c *ops.Conflict
	require.ErrorAs(t, err, &c)
	assert.Equal(t, ops.Conflict{Key: "a", Expected: ops.Exact(1), Actual: 3}, *c)
	_, err = perform(e, ops.KvDelete{Key: "zz", Expect: ops.Exists()})
	require.ErrorAs(t, err, &c)

	r = must(t, e, ops.KvDelete{Key: "a"})
	assert.Equal(t, ops.KvResult{Key: "a", Revision: 4, Existed: true}, r)
	r = must(t, e, ops.KvDelete{Key: "a"})
	assert.Equal(t, ops.KvResult{Key: "a", Revision: 5}, r, "deleting an absent key is not an error")
	r = must(t, e, ops.KvPut{Key: "a", Value: []byte("again"), Expect: ops.NoStream()})
	assert.Equal(t, uint64(6), r.Revision, "no revision is reused across delete and re-create")

	for i := range 25 {
		must(t, e, ops.KvPut{Key: fmt.Sprintf("p/%02d", i), Value: []byte{byte(i)}})
	}
	l := must(t, e, ops.KvList{Prefix: "p/", Limit: 10})
	require.Len(t, l.Entries, 10)
	assert.True(t, l.More)
	assert.Equal(t, "p/00", l.Entries[0].Key)
	l = must(t, e, ops.KvList{Prefix: "p/", After: "p/19", Limit: 10})
	require.Len(t, l.Entries, 5)
	assert.False(t, l.More)
	assert.Equal(t, "p/20", l.Entries[0].Key)
	assert.Equal(t, []byte{20}, l.Entries[0].Value)
	l = must(t, e, ops.KvList{})
	assert.Len(t, l.Entries, 27)
	assert.Equal(t, "a", l.Entries[0].Key)

	e.reopen(Options{})
	l2 := must(t, e, ops.KvList{})
	assert.Equal(t, l, l2)
}

func TestReadPagingAndStreams(t *testing.T) {
	e := newEnv(t, Options{SegmentSize: minSegmentSize})
	var want []string
	for i := range 300 {
		d := fmt.Sprintf("event-%03d-%0400d", i, i)
		want = append(want, d)
		must(t, e, ops.Append{Stream: fmt.Sprintf("s%d", i%3), Events: evs(d)})
	}
	check := func() {
		var got []string
		for from := uint64(0); ; {
			page := must(t, e, ops.ReadAll{From: from, Limit: 7})
			assert.Equal(t, uint64(300), page.Head)
			if len(page.Events) == 0 {
				break
			}
			for _, ev := range page.Events {
				got = append(got, string(ev.Data))
			}
			from = page.Events[len(page.Events)-1].Pos + 1
		}
		assert.Equal(t, want, got)

		rr := must(t, e, ops.Read{Stream: "s1", From: 10, Limit: 5})
		require.Len(t, rr.Events, 5)
		assert.Equal(t, uint64(100), rr.Head)
		for i, ev := range rr.Events {
			assert.Equal(t, uint64(10+i), ev.Seq)
			assert.Equal(t, want[(9+i)*3+1], string(ev.Data))
			assert.Equal(t, uint64((9+i)*3+2), ev.Pos)
		}
		rr = must(t, e, ops.Read{Stream: "s1", From: 101})
		assert.Empty(t, rr.Events)
		assert.Equal(t, uint64(100), rr.Head)
		rr = must(t, e, ops.Read{Stream: "nope"})
		assert.Empty(t, rr.Events)
		assert.Zero(t, rr.Head)

		st := must(t, e, ops.Streams{})
		assert.Equal(t, []ops.StreamInfo{{Name: "s0", Head: 100}, {Name: "s1", Head: 100}, {Name: "s2", Head: 100}}, st.Streams)
		assert.False(t, st.More)
		st = must(t, e, ops.Streams{Prefix: "s", After: "s0", Limit: 1})
		assert.Equal(t, []ops.StreamInfo{{Name: "s1", Head: 100}}, st.Streams)
		assert.True(t, st.More)
		st = must(t, e, ops.Streams{Prefix: "x"})
		assert.Empty(t, st.Streams)
	}
	check()
	assert.Greater(t, e.s.Stats().Segments, 1, "small segments roll")
	e.reopen(Options{SegmentSize: minSegmentSize})
	check()
	rep := e.s.Recovery()
	assert.Positive(t, rep.Checkpoint, "a clean close leaves a checkpoint")
	assert.Zero(t, rep.Commits)
	assert.Nil(t, rep.Truncated)
	_, err := Verify(e.p(), e.dir)
	require.NoError(t, err)
}

func TestCopiesBytes(t *testing.T) {
	e := newEnv(t, Options{})
	data := []byte("original")
	must(t, e, ops.Append{Stream: "s", Events: []ops.EventData{{Type: "t", Data: data}}})
	val := []byte("value")
	must(t, e, ops.KvPut{Key: "k", Value: val})
	copy(data, "XXXXXXXX")
	copy(val, "YYYYY")
	rr := must(t, e, ops.Read{Stream: "s"})
	assert.Equal(t, "original", string(rr.Events[0].Data))
	g := must(t, e, ops.KvGet{Key: "k"})
	assert.Equal(t, "value", string(g.Value))
	copy(g.Value, "ZZZZZ")
	assert.Equal(t, "value", string(must(t, e, ops.KvGet{Key: "k"}).Value))
}

func TestWait(t *testing.T) {
	e := newEnv(t, Options{})
	w := must(t, e, ops.Wait{Stream: "s", After: 0, Timeout: 20 * time.Millisecond})
	assert.Equal(t, ops.WaitResult{}, w, "a timeout is an answer")

	var wg sync.WaitGroup
	var got ops.WaitResult
	var gotErr error
	wg.Add(1)
	go func() {
		defer wg.Done()
		got, gotErr = perform(e, ops.Wait{Stream: "s", After: 1})
	}()
	must(t, e, ops.Append{Stream: "s", Events: evs("1")})
	must(t, e, ops.Append{Stream: "s", Events: evs("2")})
	wg.Wait()
	require.NoError(t, gotErr)
	assert.Equal(t, ops.WaitResult{Head: 2, Passed: true}, got)

	all := must(t, e, ops.Wait{After: 1})
	assert.Equal(t, ops.WaitResult{Head: 2, Passed: true}, all)

	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	p := effect.Handle(ctx, e.s, e.os)
	_, err := effect.Perform(p, ops.Wait{Stream: "s", After: 5})
	assert.ErrorIs(t, err, context.DeadlineExceeded)

	wg.Add(1)
	go func() {
		defer wg.Done()
		_, gotErr = perform(e, ops.Wait{Stream: "s", After: 5})
	}()
	time.Sleep(10 * time.Millisecond)
	s := e.s
	require.NoError(t, s.Close(e.p()))
	wg.Wait()
	assert.ErrorIs(t, gotErr, ops.ErrClosed)
	e.s = nil
}

func TestClosedInvalidUnhandled(t *testing.T) {
	e := newEnv(t, Options{})
	_, err := perform(e, ops.Append{Stream: "", Events: evs("x")})
	var inv *ops.InvalidError
	require.ErrorAs(t, err, &inv)
	assert.Equal(t, "stream", inv.Field)
	_, err = perform(e, ops.Read{Stream: "s", Limit: ops.MaxPage + 1})
	assert.ErrorIs(t, err, ops.ErrInvalid)

	v, err := e.s.Handle(e.p(), unknownOp{})
	assert.Nil(t, v)
	assert.Same(t, effect.ErrUnhandled, err)

	s := e.s
	e.close()
	for _, op := range []effect.Effect{
		ops.Append{Stream: "s", Events: evs("x")}, ops.Read{Stream: "s"}, ops.KvGet{Key: "k"},
		ops.Head{Stream: "s"}, ops.Wait{Stream: "s"}, ops.SnapshotRead{Name: "n"}, ops.Now{},
	} {
		_, err := s.Handle(e.p(), op)
		assert.ErrorIs(t, err, ops.ErrClosed, op.EffectName())
	}
	assert.ErrorIs(t, s.Close(e.p()), ops.ErrClosed)
	assert.Zero(t, e.os.OpenFiles(), "close releases every file")
}

type unknownOp struct{ effect.Returns[int] }

func (unknownOp) EffectName() string { return "test/unknown" }

func TestLocked(t *testing.T) {
	e := newEnv(t, Options{})
	_, err := Open(e.p(), e.dir, Options{})
	require.Error(t, err)
	assert.Contains(t, err.Error(), "file: data directory "+e.dir+" is locked by another process")
	e.reopen(Options{})
}

func TestOpenDir(t *testing.T) {
	dir := t.TempDir() + "/db"
	db, err := OpenDir(context.Background(), dir, Options{})
	require.NoError(t, err)
	p := effect.Handle(context.Background(), db)
	_, err = effect.Perform(p, ops.Append{Stream: "s", Events: evs("x")})
	require.NoError(t, err)
	assert.Equal(t, 1, db.Stats().Streams)
	assert.True(t, db.Recovery().Created)
	require.NoError(t, db.Close())
	_, err = effect.Perform(p, ops.Head{Stream: "s"})
	assert.ErrorIs(t, err, ops.ErrClosed)

	db, err = OpenDir(context.Background(), dir, Options{})
	require.NoError(t, err)
	defer func() { require.NoError(t, db.Close()) }()
	h, err := effect.Perform(effect.Handle(context.Background(), db), ops.Head{Stream: "s"})
	require.NoError(t, err)
	assert.Equal(t, uint64(1), h)
	assert.False(t, db.Recovery().Created)
}

func TestStats(t *testing.T) {
	e := newEnv(t, Options{})
	must(t, e, ops.Append{Stream: "a", Events: evs("1", "2")})
	must(t, e, ops.Append{Stream: "b", Events: evs("3")})
	must(t, e, ops.KvPut{Key: "k", Value: []byte("v")})
	st := e.s.Stats()
	assert.Equal(t, 2, st.Streams)
	assert.Equal(t, uint64(3), st.Events)
	assert.Equal(t, uint64(3), st.Commits)
	assert.Equal(t, 1, st.KvKeys)
	assert.Equal(t, uint64(1), st.Revision)
	assert.Equal(t, uint64(4), st.LSN, "header plus three commits")
	assert.Equal(t, 1, st.Segments)
	assert.Positive(t, st.LogBytes)
	assert.False(t, st.Failed)
	e.reopen(Options{})
	st2 := e.s.Stats()
	assert.Equal(t, st, st2)
}

var _ = errors.New
