package ops_test

import (
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/google/uuid"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"rose-ash.com/persist/ops"
)

func TestExpectHolds(t *testing.T) {
	cases := []struct {
		e    ops.Expect
		cur  uint64
		want bool
	}{
		{ops.Any(), 0, true}, {ops.Any(), 7, true},
		{ops.NoStream(), 0, true}, {ops.NoStream(), 1, false},
		{ops.Exists(), 0, false}, {ops.Exists(), 3, true},
		{ops.Exact(3), 3, true}, {ops.Exact(3), 4, false}, {ops.Exact(0), 0, true},
		{ops.Expect{Kind: 9}, 0, false},
	}
	for _, c := range cases {
		assert.Equal(t, c.want, c.e.Holds(c.cur), "%s holds at %d", c.e, c.cur)
	}
}

func TestParseExpect(t *testing.T) {
	for _, s := range []string{"any", "no-stream", "exists", "1", "18446744073709551615"} {
		e, err := ops.ParseExpect(s)
		require.NoError(t, err, s)
		assert.Equal(t, s, e.String())
	}
	for _, s := range []string{"-1", "01", "x", "1.5", " 1", "18446744073709551616"} {
		_, err := ops.ParseExpect(s)
		var ie *ops.InvalidError
		require.True(t, errors.As(err, &ie), "%q: %v", s, err)
		assert.Equal(t, "expect", ie.Field)
	}
}

func FuzzParseExpect(f *testing.F) {
	for _, s := range []string{"any", "no-stream", "exists", "0", "42", "-3", "0x10"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		e, err := ops.ParseExpect(s)
		if err != nil {
			return
		}
		back, err := ops.ParseExpect(e.String())
		require.NoError(t, err)
		assert.Equal(t, e, back)
	})
}

func TestValidateNamesField(t *testing.T) {
	ev := ops.EventData{Type: "t", Data: []byte("x")}
	cases := []struct {
		op          interface{ Validate() error }
		name, field string
	}{
		{ops.Append{Stream: "", Events: []ops.EventData{ev}}, ops.NameAppend, "stream"},
		{ops.Append{Stream: "s"}, ops.NameAppend, "events"},
		{ops.Append{Stream: "s\xff", Events: []ops.EventData{ev}}, ops.NameAppend, "stream"},
		{ops.Append{Stream: "s", Events: []ops.EventData{ev, {Type: ""}}}, ops.NameAppend, "events[1].type"},
		{ops.Append{Stream: "s", Events: []ops.EventData{{Type: "t", Data: make([]byte, ops.MaxDataBytes+1)}}}, ops.NameAppend, "events[0].data"},
		{ops.Append{Stream: "s", Expect: ops.Expect{Kind: 7}, Events: []ops.EventData{ev}}, ops.NameAppend, "expect"},
		{ops.Commit{}, ops.NameCommit, "parts"},
		{ops.Commit{Appends: []ops.Append{{Stream: "s", Events: []ops.EventData{ev}}, {Stream: "s", Events: []ops.EventData{ev}}}}, ops.NameCommit, "appends[1].stream"},
		{ops.Commit{Kv: []ops.KvChange{{Key: "k", Delete: true, Value: []byte("v")}}}, ops.NameCommit, "kv[0].value"},
		{ops.KvPut{Key: strings.Repeat("k", ops.MaxKeyBytes+1)}, ops.NameKvPut, "key"},
		{ops.KvDelete{Key: "a\x00b"}, ops.NameKvDelete, "key"},
		{ops.Read{Stream: "s", Limit: -1}, ops.NameRead, "limit"},
		{ops.ReadAll{Limit: ops.MaxPage + 1}, ops.NameReadAll, "limit"},
		{ops.Wait{Timeout: -1}, ops.NameWait, "timeout"},
		{ops.SnapshotWrite{}, ops.NameSnapshotWrite, "snapshot.name"},
	}
	for _, c := range cases {
		err := c.op.Validate()
		var ie *ops.InvalidError
		if assert.True(t, errors.As(err, &ie), "%T: %v", c.op, err) {
			assert.Equal(t, c.name, ie.Op)
			assert.Equal(t, c.field, ie.Field)
			assert.ErrorIs(t, err, ops.ErrInvalid)
		}
	}
	assert.NoError(t, ops.Append{Stream: "s", Events: []ops.EventData{ev}}.Validate())
	assert.NoError(t, ops.KvGet{Key: "k"}.Validate())
}

// state is a tiny View for Check; FindID scans, which a backend must not.
type state struct {
	ids map[string][]uuid.UUID
	kv  map[string]uint64
}

func (s state) Head(stream string) uint64 { return uint64(len(s.ids[stream])) }
func (s state) EventAt(stream string, seq uint64) (uuid.UUID, uint64, error) {
	return s.ids[stream][seq-1], seq * 10, nil
}
func (s state) FindID(stream string, id uuid.UUID) (uint64, uint64, error) {
	for i, x := range s.ids[stream] {
		if x == id {
			return uint64(i + 1), uint64(i+1) * 10, nil
		}
	}
	return 0, 0, nil
}
func (s state) KvRevision(key string) uint64 { return s.kv[key] }

var _ ops.View = state{}

func evs(ids ...uuid.UUID) []ops.EventData {
	var out []ops.EventData
	for _, id := range ids {
		out = append(out, ops.EventData{ID: id, Type: "t"})
	}
	return out
}

func TestCheck(t *testing.T) {
	a, b, c := uuid.New(), uuid.New(), uuid.New()
	st := state{ids: map[string][]uuid.UUID{"s": {a, b}}, kv: map[string]uint64{"k": 5}}

	plan, err := ops.Check(ops.Commit{Appends: []ops.Append{{Stream: "s", Expect: ops.Exact(2), Events: evs(c)}}}, st)
	require.NoError(t, err)
	assert.Equal(t, ops.AppendPlan{Result: ops.AppendResult{Stream: "s", FirstSeq: 3, Head: 3}}, plan.Appends[0])
	assert.True(t, plan.Writes)

	// A retry at its place answers the original result and writes nothing.
	plan, err = ops.Check(ops.Commit{Appends: []ops.Append{{Stream: "s", Expect: ops.Exact(1), Events: evs(b)}}}, st)
	require.NoError(t, err)
	assert.Equal(t, ops.AppendPlan{Retry: true, Result: ops.AppendResult{Stream: "s", FirstSeq: 2, Head: 2, FirstPos: 20, LastPos: 20}}, plan.Appends[0])
	assert.False(t, plan.Writes)

	// Any and Exists retry wherever the batch is stored whole.
	for _, ex := range []ops.Expect{ops.Any(), ops.Exists()} {
		plan, err = ops.Check(ops.Commit{Appends: []ops.Append{{Stream: "s", Expect: ex, Events: evs(a, b)}}}, st)
		require.NoError(t, err)
		assert.Equal(t, ops.AppendPlan{Retry: true, Result: ops.AppendResult{Stream: "s", FirstSeq: 1, Head: 2, FirstPos: 10, LastPos: 20}}, plan.Appends[0], "%s", ex)
		plan, err = ops.Check(ops.Commit{Appends: []ops.Append{{Stream: "s", Expect: ex, Events: evs(a)}}}, st)
		require.NoError(t, err)
		assert.Equal(t, ops.AppendPlan{Retry: true, Result: ops.AppendResult{Stream: "s", FirstSeq: 1, Head: 1, FirstPos: 10, LastPos: 10}}, plan.Appends[0], "%s", ex)
	}

	// Any other reuse of a stored ID names the ID and its seq.
	for _, bad := range []struct {
		ex     ops.Expect
		events []ops.EventData
		dup    ops.DuplicateIDError
	}{
		{ops.NoStream(), evs(b), ops.DuplicateIDError{Stream: "s", ID: b, Seq: 2}},         // at another place
		{ops.Exact(2), evs(a), ops.DuplicateIDError{Stream: "s", ID: a, Seq: 1}},           // after the stream moved on
		{ops.Any(), evs(c, b), ops.DuplicateIDError{Stream: "s", ID: b, Seq: 2, Index: 1}}, // a new ID, then a stored one
		{ops.Any(), evs(b, c), ops.DuplicateIDError{Stream: "s", ID: b, Seq: 2}},           // past the head
		{ops.Any(), evs(b, a), ops.DuplicateIDError{Stream: "s", ID: b, Seq: 2}},           // out of order
		{ops.Any(), append(evs(a), ops.EventData{Type: "t"}), ops.DuplicateIDError{Stream: "s", ID: a, Seq: 1}},
	} {
		_, err = ops.Check(ops.Commit{Appends: []ops.Append{{Stream: "s", Expect: bad.ex, Events: bad.events}}}, st)
		var dup *ops.DuplicateIDError
		if assert.True(t, errors.As(err, &dup), "%v", err) {
			assert.Equal(t, bad.dup, *dup)
			assert.ErrorIs(t, err, ops.ErrDuplicateID)
		}
	}
	// The same IDs in another stream are no reuse.
	plan, err = ops.Check(ops.Commit{Appends: []ops.Append{{Stream: "other", Expect: ops.NoStream(), Events: evs(a, b)}}}, st)
	require.NoError(t, err)
	assert.False(t, plan.Appends[0].Retry)

	// A new ID under a failed expectation is a conflict.
	_, err = ops.Check(ops.Commit{Appends: []ops.Append{{Stream: "s", Expect: ops.NoStream(), Events: evs(c)}}}, st)
	var conflict *ops.Conflict
	require.True(t, errors.As(err, &conflict))
	assert.Equal(t, ops.Conflict{Stream: "s", Expected: ops.NoStream(), Actual: 2}, *conflict)

	// A kv expectation that fails fails the whole commit.
	_, err = ops.Check(ops.Commit{
		Appends: []ops.Append{{Stream: "s", Events: evs(c)}},
		Kv:      []ops.KvChange{{Key: "k", Expect: ops.Exact(4)}},
	}, st)
	require.True(t, errors.As(err, &conflict))
	assert.Equal(t, ops.Conflict{Key: "k", Expected: ops.Exact(4), Actual: 5}, *conflict)
	assert.ErrorIs(t, err, ops.ErrConflict)
	assert.Equal(t, `persist: conflict on key "k": expected revision 4, actual revision 5`, err.Error())
}

func TestDuplicateIDError(t *testing.T) {
	id := uuid.MustParse("6ba7b810-9dad-11d1-80b4-00c04fd430c8")
	err := error(&ops.DuplicateIDError{Stream: "s", ID: id, Seq: 4, Index: 1})
	assert.Equal(t, `persist: event id 6ba7b810-9dad-11d1-80b4-00c04fd430c8 (events[1]) is already stored in stream "s" at seq 4`, err.Error())
	assert.ErrorIs(t, fmt.Errorf("append: %w", err), ops.ErrDuplicateID)
	assert.NotErrorIs(t, err, ops.ErrConflict)
}

func TestDuplicateIDInBatch(t *testing.T) {
	a, b := uuid.New(), uuid.New()
	cases := []struct {
		op     interface{ Validate() error }
		field  string
		reason string
	}{
		{ops.Append{Stream: "s", Events: evs(a, b, a)}, "events[2].id", "also the ID of events[0]"},
		{ops.Commit{Appends: []ops.Append{{Stream: "x", Events: evs(a)}, {Stream: "s", Events: evs(b, b)}}}, "appends[1].events[1].id", "also the ID of events[0]"},
	}
	many := make([]uuid.UUID, 40)
	for i := range many {
		many[i] = uuid.New()
	}
	many[33] = many[20]
	cases = append(cases, struct {
		op     interface{ Validate() error }
		field  string
		reason string
	}{ops.Append{Stream: "s", Events: evs(many...)}, "events[33].id", "also the ID of events[20]"})
	for _, c := range cases {
		err := c.op.Validate()
		var ie *ops.InvalidError
		if assert.True(t, errors.As(err, &ie), "%v", err) {
			assert.Equal(t, c.field, ie.Field)
			assert.Contains(t, ie.Reason, c.reason)
		}
	}
	// Events without an ID are not duplicates of each other.
	assert.NoError(t, ops.Append{Stream: "s", Events: []ops.EventData{{Type: "t"}, {Type: "t"}, {ID: a, Type: "t"}}}.Validate())
	// The same ID in two streams of one commit is allowed.
	assert.NoError(t, ops.Commit{Appends: []ops.Append{{Stream: "x", Events: evs(a)}, {Stream: "s", Events: evs(a)}}}.Validate())
}

func TestParseEventID(t *testing.T) {
	id, err := ops.ParseEventID("6ba7b810-9dad-11d1-80b4-00c04fd430c8")
	require.NoError(t, err)
	assert.Equal(t, uuid.MustParse("6ba7b810-9dad-11d1-80b4-00c04fd430c8"), id)
	for _, bad := range []string{"00000000-0000-0000-0000-000000000000", "", "x", "6ba7b810-9dad-11d1-80b4-00c04fd430c"} {
		_, err := ops.ParseEventID(bad)
		var ie *ops.InvalidError
		if assert.True(t, errors.As(err, &ie), "%q", bad) {
			assert.Equal(t, "id", ie.Field)
		}
	}
	_, err = ops.ParseEventID("00000000-0000-0000-0000-000000000000")
	assert.ErrorContains(t, err, "nil UUID")
}
