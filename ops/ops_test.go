package ops_test

import (
	"errors"
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

// state is a tiny View for Check.
type state struct {
	ids map[string][]uuid.UUID
	kv  map[string]uint64
}

func (s state) Head(stream string) uint64 { return uint64(len(s.ids[stream])) }
func (s state) EventAt(stream string, seq uint64) (uuid.UUID, uint64, error) {
	return s.ids[stream][seq-1], seq * 10, nil
}
func (s state) KvRevision(key string) uint64 { return s.kv[key] }

func TestCheck(t *testing.T) {
	a, b, c := uuid.New(), uuid.New(), uuid.New()
	st := state{ids: map[string][]uuid.UUID{"s": {a, b}}, kv: map[string]uint64{"k": 5}}
	evs := func(ids ...uuid.UUID) []ops.EventData {
		var out []ops.EventData
		for _, id := range ids {
			out = append(out, ops.EventData{ID: id, Type: "t"})
		}
		return out
	}

	plan, err := ops.Check(ops.Commit{Appends: []ops.Append{{Stream: "s", Expect: ops.Exact(2), Events: evs(c)}}}, st)
	require.NoError(t, err)
	assert.Equal(t, ops.AppendPlan{Result: ops.AppendResult{Stream: "s", FirstSeq: 3, Head: 3}}, plan.Appends[0])
	assert.True(t, plan.Writes)

	// A retry at its place answers the original result and writes nothing.
	plan, err = ops.Check(ops.Commit{Appends: []ops.Append{{Stream: "s", Expect: ops.Exact(1), Events: evs(b)}}}, st)
	require.NoError(t, err)
	assert.Equal(t, ops.AppendPlan{Retry: true, Result: ops.AppendResult{Stream: "s", FirstSeq: 2, Head: 2, FirstPos: 20, LastPos: 20}}, plan.Appends[0])
	assert.False(t, plan.Writes)

	// The same IDs elsewhere are not a retry: with Exact(0) it is a conflict.
	_, err = ops.Check(ops.Commit{Appends: []ops.Append{{Stream: "s", Expect: ops.NoStream(), Events: evs(b)}}}, st)
	var conflict *ops.Conflict
	require.True(t, errors.As(err, &conflict))
	assert.Equal(t, ops.Conflict{Stream: "s", Expected: ops.NoStream(), Actual: 2}, *conflict)

	// Any retries only at the tail.
	plan, err = ops.Check(ops.Commit{Appends: []ops.Append{{Stream: "s", Events: evs(a, b)}}}, st)
	require.NoError(t, err)
	assert.True(t, plan.Appends[0].Retry)
	plan, err = ops.Check(ops.Commit{Appends: []ops.Append{{Stream: "s", Events: evs(a)}}}, st)
	require.NoError(t, err)
	assert.False(t, plan.Appends[0].Retry)

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
