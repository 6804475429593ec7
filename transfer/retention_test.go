package transfer_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"rose-ash.com/persist/backends/backendtest"
	"rose-ash.com/persist/backends/mem"
	"rose-ash.com/persist/effect"
	"rose-ash.com/persist/ops"
	"rose-ash.com/persist/transfer"
)

// retained is a store whose streams have every kind of state: limits,
// soft and hard deletes, one revived after its delete, metadata on a
// stream never written, and a tombstone reserving a name.
func retained(t testing.TB) *mem.Store {
	t.Helper()
	s := mem.New(mem.WithClock(backendtest.Clock()), mem.WithIDs(backendtest.IDs()))
	t.Cleanup(func() { _ = s.Close() })
	p := effect.Handle(context.Background(), s)
	do := func(op effect.Effect) {
		t.Helper()
		_, err := s.Handle(p, op)
		require.NoError(t, err, "%s", op.EffectName())
	}
	for i := range 30 {
		stream := []string{"count", "trunc", "soft", "hard", "revived", "plain"}[i%6]
		do(ops.Append{Stream: stream, Events: []ops.EventData{{Type: "t", Data: []byte{byte(i)}}}})
	}
	do(ops.StreamMetaWrite{Stream: "count", Meta: ops.StreamMeta{MaxCount: 2}})
	do(ops.StreamMetaWrite{Stream: "trunc", Meta: ops.StreamMeta{TruncateBefore: 4}})
	do(ops.StreamDelete{Stream: "soft"})
	do(ops.StreamDelete{Stream: "hard", Hard: true})
	do(ops.StreamMetaWrite{Stream: "revived", Meta: ops.StreamMeta{MaxCount: 3}})
	do(ops.StreamDelete{Stream: "revived"})
	do(ops.Append{Stream: "revived", Events: []ops.EventData{{Type: "t", Data: []byte("back")}}})
	do(ops.Append{Stream: "plain", Events: []ops.EventData{{Type: "t", Data: []byte("last")}}})
	do(ops.StreamMetaWrite{Stream: "unwritten", Meta: ops.StreamMeta{MaxCount: 9}})
	do(ops.StreamDelete{Stream: "reserved", Hard: true})
	do(ops.KvPut{Key: "k", Value: []byte("v")})
	return s
}

func visibleLog(t *testing.T, h effect.Handler) []ops.Event {
	t.Helper()
	p := effect.Handle(context.Background(), h)
	var out []ops.Event
	for from := uint64(1); ; {
		r, err := effect.Perform(p, ops.ReadAll{From: from})
		require.NoError(t, err)
		out = append(out, r.Events...)
		if r.Next > r.Head {
			return out
		}
		from = r.Next
	}
}

func TestRetentionRoundTrip(t *testing.T) {
	src := retained(t)
	b := exportOf(t, src)
	assert.Contains(t, string(b), `"kind":"hidden"`)
	assert.Contains(t, string(b), `"tombstone":true`)
	dst, tgt := target()
	defer dst.Close()
	_, err := transfer.Import(context.Background(), bytes.NewReader(b), tgt)
	require.NoError(t, err)
	assert.Equal(t, visibleLog(t, src), visibleLog(t, dst), "visible events, positions and seqs included")
	assert.Equal(t, b, exportOf(t, dst), "the import re-exports to the same bytes")
	p := effect.Handle(context.Background(), dst)
	for _, name := range []string{"count", "trunc", "soft", "hard", "revived", "plain", "unwritten", "reserved"} {
		want, err := effect.Perform(effect.Handle(context.Background(), src), ops.StreamMetaRead{Stream: name})
		require.NoError(t, err)
		got, err := effect.Perform(p, ops.StreamMetaRead{Stream: name})
		require.NoError(t, err)
		want.Deleted = want.Absent(want.Head) // an export keeps whether it reads as deleted
		assert.Equal(t, want, got, name)
	}
	_, err = effect.Perform(p, ops.Append{Stream: "hard", Events: []ops.EventData{{Type: "t"}}})
	assert.ErrorIs(t, err, ops.ErrStreamDeleted, "the tombstone came along")
	_, err = effect.Perform(p, ops.Append{Stream: "reserved", Events: []ops.EventData{{Type: "t"}}})
	assert.ErrorIs(t, err, ops.ErrStreamDeleted, "a tombstone with no events came along")
	r, err := effect.Perform(p, ops.Append{Stream: "soft", Expect: ops.NoStream(), Events: []ops.EventData{{Type: "t"}}})
	require.NoError(t, err)
	assert.Equal(t, uint64(6), r.FirstSeq, "the soft-deleted stream's numbering came along")
	assert.Equal(t, uint64(33), r.FirstPos, "positions continue after the import")
}

// An export of streams with a max-age says at what time it was visible,
// and an import checks its digest at that time.
func TestRetentionMaxAge(t *testing.T) {
	src := mem.New(mem.WithClock(backendtest.Clock()), mem.WithIDs(backendtest.IDs()))
	defer src.Close()
	p := effect.Handle(context.Background(), src)
	for i := range 5 {
		_, err := effect.Perform(p, ops.Append{Stream: "s", Events: []ops.EventData{{Type: "t", Data: []byte{byte(i)}}}})
		require.NoError(t, err)
	}
	_, err := effect.Perform(p, ops.StreamMetaWrite{Stream: "s", Meta: ops.StreamMeta{MaxAge: 4 * time.Millisecond}})
	require.NoError(t, err)
	b := exportOf(t, src)
	dec, err := transfer.NewDecoder(bytes.NewReader(b))
	require.NoError(t, err)
	for {
		if _, err := dec.Next(); err != nil {
			break
		}
	}
	require.NotNil(t, dec.Trailer)
	assert.False(t, dec.Trailer.At.IsZero(), "the trailer has the export's time")
	assert.Contains(t, string(b), `"kind":"hidden"`)
	dst, tgt := target()
	defer dst.Close()
	_, err = transfer.Import(context.Background(), bytes.NewReader(b), tgt)
	require.NoError(t, err)
}

// asVersion1 rewrites a version 2 export of a store without stream state
// as the version 1 export of that store: the header's version, and the
// trailer's hash of the bytes before it.
func asVersion1(t testing.TB, b []byte) []byte {
	t.Helper()
	v1 := bytes.Replace(b, []byte(`{"format":"persist-export","version":2}`), []byte(`{"format":"persist-export","version":1}`), 1)
	cut := bytes.LastIndexByte(v1[:len(v1)-1], '\n') + 1
	old := sha256.Sum256(b[:cut])
	now := sha256.Sum256(v1[:cut])
	out := bytes.Replace(v1, []byte(hex.EncodeToString(old[:])), []byte(hex.EncodeToString(now[:])), 1)
	require.NotEqual(t, v1, out, "the trailer's hash was rewritten")
	return out
}

func TestVersion1StillImports(t *testing.T) {
	src := source(t)
	v1 := asVersion1(t, exportOf(t, src))
	_, err := transfer.Verify(bytes.NewReader(v1))
	require.NoError(t, err)
	dst, tgt := target()
	defer dst.Close()
	_, err = transfer.Import(context.Background(), bytes.NewReader(v1), tgt)
	require.NoError(t, err)
	want, err := transfer.Digest(context.Background(), src)
	require.NoError(t, err)
	got, err := transfer.Digest(context.Background(), dst)
	require.NoError(t, err)
	assert.Equal(t, want, got, "a version 1 store digests as it did")
}

func TestVersion1RefusesRetentionRecords(t *testing.T) {
	b := exportOf(t, retained(t))
	v1 := bytes.Replace(b, []byte(`{"format":"persist-export","version":2}`), []byte(`{"format":"persist-export","version":1}`), 1)
	_, err := transfer.Verify(bytes.NewReader(v1))
	require.ErrorIs(t, err, transfer.ErrFormat)
	assert.Contains(t, err.Error(), "version 1")
}
