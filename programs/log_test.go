package programs_test

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"rose-ash.com/persist/effect"
	"rose-ash.com/persist/ops"
	"rose-ash.com/persist/programs"
)

type order struct {
	ID    string `json:"id"`
	Total int    `json:"total"`
}

func TestAppendAndReadStream(t *testing.T) {
	evs, err := both(t, nil, func(p *effect.P) ([]ops.Event, error) {
		placed, err := programs.JSONEvent("order-placed", order{ID: "o1", Total: 30})
		if err != nil {
			return nil, err
		}
		res, err := programs.Append(p, "orders", ops.NoStream(), placed, programs.Event("note", []byte("hi")))
		if err != nil {
			return nil, err
		}
		if res.FirstSeq != 1 || res.Head != 2 {
			return nil, fmt.Errorf("append result %+v", res)
		}
		if _, err := programs.Append(p, "orders", ops.Exact(2), programs.Event("order-paid", nil)); err != nil {
			return nil, err
		}
		return programs.ReadStream(p, "orders")
	})
	require.NoError(t, err)
	require.Len(t, evs, 3)
	for i, ev := range evs {
		assert.Equal(t, uint64(i+1), ev.Seq)
		assert.Equal(t, "orders", ev.Stream)
		assert.NotZero(t, ev.ID)
		assert.False(t, ev.At.IsZero())
	}
	assert.Equal(t, []string{"order-placed", "note", "order-paid"}, []string{evs[0].Type, evs[1].Type, evs[2].Type})
	o, err := programs.Decode[order](evs[0])
	require.NoError(t, err)
	assert.Equal(t, order{ID: "o1", Total: 30}, o)
	assert.Equal(t, []byte("hi"), evs[1].Data)
}

func TestHead(t *testing.T) {
	store := newStore(t)
	p := handle(t, store)
	h, err := programs.Head(p, "s")
	require.NoError(t, err)
	assert.Zero(t, h)
	mustAppend(t, p, "s", "a", "b")
	h, err = programs.Head(p, "s")
	require.NoError(t, err)
	assert.Equal(t, uint64(2), h)
}

func TestReadFromPages(t *testing.T) {
	const n = 2345 // three pages of ops.DefaultPage
	types := make([]string, n)
	for i := range types {
		types[i] = fmt.Sprintf("e%d", i+1)
	}
	store := newStore(t)
	mustAppend(t, handle(t, store), "big", types...)

	evs, trace, err := inPlace(t, store, func(p *effect.P) ([]ops.Event, error) { return programs.ReadFrom(p, "big", 1) })
	require.NoError(t, err)
	require.Len(t, evs, n)
	for i, ev := range evs {
		require.Equal(t, uint64(i+1), ev.Seq)
		require.Equal(t, types[i], ev.Type)
	}
	assert.Equal(t, []string{"persist/read big@1", "persist/read big@1001", "persist/read big@2001"}, trace)

	tail, err := programs.ReadFrom(handle(t, store), "big", 1001)
	require.NoError(t, err)
	require.Len(t, tail, n-1000)
	assert.Equal(t, uint64(1001), tail[0].Seq)
	assert.Equal(t, uint64(n), tail[len(tail)-1].Seq)

	zero, err := programs.ReadFrom(handle(t, store), "big", 0)
	require.NoError(t, err)
	assert.Equal(t, evs, zero, "from 0 means the start")

	for _, from := range []uint64{n + 1, n + 2, 1 << 40} {
		past, err := programs.ReadFrom(handle(t, store), "big", from)
		require.NoError(t, err)
		assert.Nil(t, past, "from %d", from)
	}
}

func TestReadFromStopsAtHeadItSaw(t *testing.T) {
	store := newStore(t)
	types := make([]string, 1500)
	for i := range types {
		types[i] = "e"
	}
	mustAppend(t, handle(t, store), "s", types...)
	// Another writer appends right after the first page is read.
	reads := 0
	late := intercept(func(p *effect.P, e effect.Effect) error {
		if _, ok := e.(ops.Read); ok {
			reads++
			if reads == 2 {
				_, err := effect.Perform(p, ops.Append{Stream: "s", Events: []ops.EventData{{Type: "late"}}})
				return err
			}
		}
		return nil
	})
	evs, err := programs.ReadStream(handle(t, late, store), "s")
	require.NoError(t, err)
	assert.Len(t, evs, 1500)
	assert.Equal(t, "e", evs[len(evs)-1].Type)
	all, err := programs.ReadStream(handle(t, store), "s")
	require.NoError(t, err)
	assert.Len(t, all, 1501)
}

func TestReadEmptyStream(t *testing.T) {
	evs, err := both(t, nil, func(p *effect.P) ([]ops.Event, error) { return programs.ReadStream(p, "nothing") })
	require.NoError(t, err)
	assert.Nil(t, evs)
}

func TestAppendConflictIsAValue(t *testing.T) {
	_, err := both(t, nil, func(p *effect.P) (ops.AppendResult, error) {
		if _, err := programs.Append(p, "s", ops.NoStream(), programs.Event("a", nil)); err != nil {
			return ops.AppendResult{}, err
		}
		return programs.Append(p, "s", ops.NoStream(), programs.Event("b", nil))
	})
	var c *ops.Conflict
	require.ErrorAs(t, err, &c)
	assert.Equal(t, "s", c.Stream)
	assert.Equal(t, ops.NoStream(), c.Expected)
	assert.Equal(t, uint64(1), c.Actual)
	assert.ErrorIs(t, err, ops.ErrConflict)
}

func TestLogInvalidPassesThrough(t *testing.T) {
	p := handle(t, newStore(t))
	cases := map[string]struct {
		run   func() error
		field string
	}{
		"empty type": {func() error {
			_, err := programs.Append(p, "s", ops.Any(), programs.Event("", nil))
			return err
		}, "events[0].type"},
		"no events": {func() error {
			_, err := programs.Append(p, "s", ops.Any())
			return err
		}, "events"},
		"empty stream": {func() error {
			_, err := programs.Append(p, "", ops.Any(), programs.Event("a", nil))
			return err
		}, "stream"},
		"read empty stream name": {func() error {
			_, err := programs.ReadStream(p, "")
			return err
		}, "stream"},
		"read NUL": {func() error {
			_, err := programs.ReadFrom(p, "a\x00b", 3)
			return err
		}, "stream"},
		"head empty": {func() error {
			_, err := programs.Head(p, "")
			return err
		}, "stream"},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			var inv *ops.InvalidError
			require.ErrorAs(t, tc.run(), &inv)
			// The field may carry the commit's "appends[0]." prefix.
			assert.True(t, strings.HasSuffix(inv.Field, tc.field), "field %q", inv.Field)
		})
	}
	h, err := programs.Head(p, "s")
	require.NoError(t, err)
	assert.Zero(t, h, "nothing was written")
}

func TestJSONEventAndDecodeErrors(t *testing.T) {
	_, err := programs.JSONEvent("bad", make(chan int))
	require.Error(t, err)
	assert.Contains(t, err.Error(), "encode bad event")

	_, err = programs.Decode[order](ops.Event{Stream: "orders", Seq: 4, Type: "order-placed", Data: []byte("{nope")})
	require.Error(t, err)
	assert.Contains(t, err.Error(), "order-placed event orders#4")
	var syn *json.SyntaxError
	assert.True(t, errors.As(err, &syn), "the JSON error is wrapped")

	ev, err := programs.JSONEvent("n", 42)
	require.NoError(t, err)
	assert.Equal(t, ops.EventData{Type: "n", Data: []byte("42")}, ev)
	n, err := programs.Decode[int](ops.Event{Data: ev.Data})
	require.NoError(t, err)
	assert.Equal(t, 42, n)
}

// TestDecodeSXAndJSON is the one rule for data: the same order appended as
// JSON (a Go caller) and as SX (the command line) decodes to one struct.
func TestDecodeSXAndJSON(t *testing.T) {
	store := newStore(t)
	p := handle(t, store)
	_, err := programs.Append(p, "orders", ops.Any(),
		programs.Event("placed", []byte(`{"id": "o1", "total": 17}`)),
		programs.Event("placed", []byte(`{:id "o1" :total 17}`)),
		programs.Event("placed", []byte(`{"id" "o1", "total" 17}`)))
	require.NoError(t, err)
	evs, err := programs.ReadStream(p, "orders")
	require.NoError(t, err)
	require.Len(t, evs, 3)
	for _, ev := range evs {
		o, err := programs.Decode[order](ev)
		require.NoError(t, err, string(ev.Data))
		assert.Equal(t, order{ID: "o1", Total: 17}, o, string(ev.Data))
	}

	v, err := programs.DecodeData[map[string]int]([]byte(`{:a 1 :b 2}`))
	require.NoError(t, err)
	assert.Equal(t, map[string]int{"a": 1, "b": 2}, v)

	_, err = programs.Decode[order](ops.Event{Stream: "orders", Seq: 2, Type: "placed", Data: []byte(`{:total "x"}`)})
	var te *json.UnmarshalTypeError
	require.ErrorAs(t, err, &te, "a wrong type is the JSON decoder's error, for SX data too")
	assert.Contains(t, err.Error(), "placed event orders#2")
}

func TestReadFromLaterPageError(t *testing.T) {
	store := newStore(t)
	types := make([]string, 1200)
	for i := range types {
		types[i] = "e"
	}
	mustAppend(t, handle(t, store), "s", types...)
	lost := errors.New("connection lost")
	reads := 0
	second := intercept(func(_ *effect.P, e effect.Effect) error {
		if _, ok := e.(ops.Read); ok {
			if reads++; reads == 2 {
				return lost
			}
		}
		return nil
	})
	evs, err := programs.ReadStream(handle(t, second, store), "s")
	require.ErrorIs(t, err, lost)
	assert.Len(t, evs, 1000, "what was read before the error")
}
