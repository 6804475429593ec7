package transfer_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"regexp"
	"strings"
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

// asVersion1 rewrites a version 3 export of a store without stream
// state, kv history or snapshot generations as the version 1 export of
// that store (asVersion).
func asVersion1(t testing.TB, b []byte) []byte { return asVersion(t, b, 1) }

// asVersion rewrites a version 3 export of a store without kv history or
// older snapshot generations as the version v export of that store: the
// header's version, the snapshots' generation fields left out, and the
// trailer's hash of the bytes before it.
func asVersion(t testing.TB, b []byte, v int) []byte {
	t.Helper()
	old := bytes.Replace(b, []byte(`{"format":"persist-export","version":3}`), []byte(fmt.Sprintf(`{"format":"persist-export","version":%d}`, v)), 1)
	old = regexp.MustCompile(`,"generation":[0-9]+`).ReplaceAll(old, nil)
	cut := bytes.LastIndexByte(b[:len(b)-1], '\n') + 1
	ncut := bytes.LastIndexByte(old[:len(old)-1], '\n') + 1
	was := sha256.Sum256(b[:cut])
	now := sha256.Sum256(old[:ncut])
	out := bytes.Replace(old, []byte(hex.EncodeToString(was[:])), []byte(hex.EncodeToString(now[:])), 1)
	require.NotEqual(t, old, out, "the trailer's hash was rewritten")
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
	v1 := bytes.Replace(b, []byte(`{"format":"persist-export","version":3}`), []byte(`{"format":"persist-export","version":1}`), 1)
	_, err := transfer.Verify(bytes.NewReader(v1))
	require.ErrorIs(t, err, transfer.ErrFormat)
	assert.Contains(t, err.Error(), "version 1")
}

// A version 2 export (stream state, no kv history, no generations) still
// imports, to the same digest.
func TestVersion2StillImports(t *testing.T) {
	src := retained(t)
	v2 := asVersion(t, exportOf(t, src), 2)
	_, err := transfer.Verify(bytes.NewReader(v2))
	require.NoError(t, err)
	dst, tgt := target()
	defer dst.Close()
	_, err = transfer.Import(context.Background(), bytes.NewReader(v2), tgt)
	require.NoError(t, err)
	want, err := transfer.Digest(context.Background(), src)
	require.NoError(t, err)
	got, err := transfer.Digest(context.Background(), dst)
	require.NoError(t, err)
	assert.Equal(t, want, got)
}

// historied is a store with older kv versions (a key overwritten, one
// deleted and written again, one deleted for good) and older snapshot
// generations (kept 3 of 5; and one written 4 times keeping 1).
func historied(t testing.TB) *mem.Store {
	t.Helper()
	s := mem.New(mem.WithClock(backendtest.Clock()), mem.WithIDs(backendtest.IDs()))
	t.Cleanup(func() { _ = s.Close() })
	p := effect.Handle(context.Background(), s)
	do := func(op effect.Effect) {
		t.Helper()
		_, err := s.Handle(p, op)
		require.NoError(t, err, "%s", op.EffectName())
	}
	do(ops.Append{Stream: "a", Events: []ops.EventData{{Type: "t"}}})
	for i := range 4 {
		do(ops.KvPut{Key: "over", Value: []byte{byte('0' + i)}})
	}
	do(ops.KvPut{Key: "back", Value: []byte("1")})
	do(ops.KvDelete{Key: "back"})
	do(ops.KvDelete{Key: "never"}) // an absent key: a revision, no version
	do(ops.KvPut{Key: "back", Value: []byte("2")})
	do(ops.KvPut{Key: "gone", Value: []byte("x")})
	do(ops.KvDelete{Key: "gone"})
	for i := range 5 {
		do(ops.SnapshotWrite{Snapshot: ops.Snapshot{Name: "kept", Version: 1, Seq: uint64(i), Value: []byte{byte(i)}}, Keep: 3})
	}
	for i := range 4 {
		do(ops.SnapshotWrite{Snapshot: ops.Snapshot{Name: "one", Version: 2, Seq: uint64(i), Value: []byte{byte(i)}}})
	}
	return s
}

// The records of version 3 are refused in an older export.
func TestVersion2RefusesHistoryRecords(t *testing.T) {
	b := exportOf(t, historied(t))
	v2 := bytes.Replace(b, []byte(`{"format":"persist-export","version":3}`), []byte(`{"format":"persist-export","version":2}`), 1)
	_, err := transfer.Verify(bytes.NewReader(v2))
	require.ErrorIs(t, err, transfer.ErrFormat)
	assert.Contains(t, err.Error(), "version 2")
}

// A version 3 export carries every kept kv version and snapshot
// generation: the imported store answers kv-history and
// snapshot-generations as its source, and numbers on as it would.
func TestHistoryRoundTrip(t *testing.T) {
	ctx := context.Background()
	src := historied(t)
	b := exportOf(t, src)
	for _, kind := range []string{`"kind":"kv-version","key":"gone"`, `"kind":"kv-version","key":"over"`, `"kind":"snapshot-generation","seq":2,"name":"kept"`} {
		assert.Contains(t, string(b), kind)
	}
	dst, tgt := target()
	defer dst.Close()
	sum, err := transfer.Import(ctx, bytes.NewReader(b), tgt)
	require.NoError(t, err)
	assert.Equal(t, transfer.Counts{Events: 1, Streams: 1, Kv: 2, Snapshots: 2, KvVersions: 3 + 2 + 2, Generations: 2}, sum.Counts)
	assert.Equal(t, b, exportOf(t, dst), "the imported store exports the same bytes")
	sameHistory(t, src, dst)
}

// sameHistory: both stores answer kv-history, snapshot-generations and
// every generation's read alike, and take the next kv revision and
// snapshot generation alike.
func sameHistory(t *testing.T, a, b effect.Handler) {
	t.Helper()
	pa, pb := effect.Handle(context.Background(), a), effect.Handle(context.Background(), b)
	both := func(op effect.Effect) {
		t.Helper()
		ra, erra := a.Handle(pa, op)
		rb, errb := b.Handle(pb, op)
		require.NoError(t, erra, "%s", op.EffectName())
		require.NoError(t, errb, "%s", op.EffectName())
		assert.Equal(t, ra, rb, "%s %+v", op.EffectName(), op)
	}
	for _, k := range []string{"over", "back", "gone", "never"} {
		both(ops.KvHistory{Key: k})
	}
	for _, n := range []string{"kept", "one"} {
		both(ops.SnapshotGenerations{Name: n})
		for g := uint64(1); g <= 5; g++ {
			both(ops.SnapshotRead{Name: n, Generation: g})
		}
	}
	both(ops.KvPut{Key: "over", Value: []byte("next")})
	both(ops.KvHistory{Key: "over"})
	both(ops.SnapshotWrite{Snapshot: ops.Snapshot{Name: "kept", Version: 1, Seq: 9}, Keep: 3})
	both(ops.SnapshotGenerations{Name: "kept"})
}

// The version 3 records are checked as they are read: each mutation of a
// good export is refused with a reason naming what is wrong.
func TestBadHistoryRecords(t *testing.T) {
	b := string(exportOf(t, historied(t)))
	for _, c := range []struct{ old, new, reason string }{
		{`{"kind":"kv-version","deleted":true,"key":"gone","revision":10}` + "\n", ``, `no kv entry follows its versions`},
		{`"key":"back","value":"MQ==","revision":5`, `"key":"back","value":"MQ==","revision":7`, `versions and generations run oldest first`},
		{`{"kind":"kv-version","key":"gone","value":"eA==","revision":9}`, `{"kind":"kv-version","deleted":true,"key":"gone","revision":9}`, `right after a delete`},
		{`{"kind":"kv-version","deleted":true,"key":"gone","revision":10}`, `{"kind":"kv-version","deleted":true,"key":"gone","value":"eA==","revision":10}`, `a value or deleted`},
		{`"name":"kept","value":"Aw==","version":1,"generation":4`, `"name":"kept","value":"Aw==","version":1,"generation":2`, `oldest first`},
		{`{"kind":"snapshot","seq":4,"name":"kept","value":"BA==","version":1,"generation":5}` + "\n", ``, `no snapshot record follows`},
		{`"name":"kept","value":"BA==","version":1,"generation":5`, `"name":"kept","value":"BA==","version":1`, `needs its generation`},
		{`"name":"kept","value":"Ag==","version":1,"generation":3`, `"name":"kept","value":"Ag==","version":1`, `an older generation needs its generation`},
		{`{"kind":"kv-version","key":"over","value":"MA==","revision":1}`, `{"kind":"kv-version","key":"aa","value":"MA==","revision":1}`, `byte order`},
	} {
		require.Contains(t, b, c.old)
		bad := strings.Replace(b, c.old, c.new, 1)
		_, err := transfer.Verify(strings.NewReader(bad))
		require.ErrorIs(t, err, transfer.ErrFormat, c.reason)
		assert.Contains(t, err.Error(), c.reason)
	}
}

// A store whose history dropped versions (a key written more often than
// it keeps) is read key by key rather than from the changes: the import
// answers kv-history alike.
func TestHistoryRoundTripCompacted(t *testing.T) {
	ctx := context.Background()
	src := historied(t)
	p := effect.Handle(ctx, src)
	for i := range ops.DefaultKvHistory + 3 {
		_, err := effect.Perform(p, ops.KvPut{Key: "many", Value: []byte{byte('a' + i)}})
		require.NoError(t, err)
	}
	_, err := effect.Perform(p, ops.KvWatch{From: 1})
	require.ErrorIs(t, err, ops.ErrCompacted, "the history dropped versions")
	b := exportOf(t, src)
	dst, tgt := target()
	defer dst.Close()
	sum, err := transfer.Import(ctx, bytes.NewReader(b), tgt)
	require.NoError(t, err)
	assert.Equal(t, uint64(3+2+ops.DefaultKvHistory-1), sum.Counts.KvVersions, "over, back and many; not gone")
	assert.Equal(t, b, exportOf(t, dst), "the imported store exports the same bytes")
	q := effect.Handle(ctx, dst)
	for _, k := range []string{"many", "over", "back"} {
		r1, err := effect.Perform(p, ops.KvHistory{Key: k})
		require.NoError(t, err)
		r2, err := effect.Perform(q, ops.KvHistory{Key: k})
		require.NoError(t, err)
		assert.Equal(t, r1, r2, k)
	}
	// The limit the package doc names: "gone" was deleted before the
	// versions of "many" were dropped, so its kept versions are all below
	// the compacted revision, no watch finds it, and it is not carried.
	r, err := effect.Perform(q, ops.KvHistory{Key: "gone"})
	require.NoError(t, err)
	assert.Empty(t, r.Versions)
}

// A key deleted and written again until the value before the delete fell
// out of its history has the delete as its oldest kept version: the
// import gives it a placeholder value at revision 1, which the same
// history depth drops again, so the imported store answers kv-history as
// its source and the digests agree.
func TestHistoryRoundTripOldestDelete(t *testing.T) {
	ctx := context.Background()
	src := mem.New(mem.WithClock(backendtest.Clock()), mem.WithIDs(backendtest.IDs()), mem.WithKvHistory(3))
	defer src.Close()
	p := effect.Handle(ctx, src)
	for _, op := range []effect.Effect{
		ops.KvPut{Key: "other", Value: []byte("o")},
		ops.KvPut{Key: "back", Value: []byte("0")},
		ops.KvDelete{Key: "back"},
		ops.KvPut{Key: "back", Value: []byte("1")},
		ops.KvPut{Key: "back", Value: []byte("2")}, // "0" drops: the delete is the oldest kept
		ops.KvPut{Key: "gone", Value: []byte("x")},
		ops.KvDelete{Key: "gone"},
	} {
		_, err := src.Handle(p, op)
		require.NoError(t, err, "%s", op.EffectName())
	}
	r, err := effect.Perform(p, ops.KvHistory{Key: "back"})
	require.NoError(t, err)
	require.Len(t, r.Versions, 3)
	require.True(t, r.Versions[2].Deleted, "the oldest kept version of back is its delete")
	b := exportOf(t, src)
	clk := &transfer.Clock{}
	dst := mem.New(mem.WithClock(clk.Now), mem.WithKvHistory(3))
	defer dst.Close()
	_, err = transfer.Import(ctx, bytes.NewReader(b), transfer.Target{Handler: dst, Clock: clk})
	require.NoError(t, err)
	q := effect.Handle(ctx, dst)
	for _, k := range []string{"other", "back", "gone"} {
		r1, err := effect.Perform(p, ops.KvHistory{Key: k})
		require.NoError(t, err)
		r2, err := effect.Perform(q, ops.KvHistory{Key: k})
		require.NoError(t, err)
		assert.Equal(t, r1, r2, k)
	}
	assert.Equal(t, b, exportOf(t, dst), "the imported store exports the same bytes")
}

// snapshotBytes counts the value bytes of the snapshot writes a store
// takes.
type snapshotBytes struct {
	effect.Handler
	n int
}

func (s *snapshotBytes) Handle(p *effect.P, e effect.Effect) (any, error) {
	if w, ok := e.(ops.SnapshotWrite); ok {
		s.n += len(w.Snapshot.Value)
	}
	return s.Handler.Handle(p, e)
}

// A snapshot name at a high generation is numbered on by writes of
// generations the import drops at once: they carry no value, so the
// import writes about the bytes of the generations kept, not one copy per
// generation dropped.
func TestImportDropsGenerationsWithoutTheirValue(t *testing.T) {
	ctx := context.Background()
	src := mem.New(mem.WithClock(backendtest.Clock()), mem.WithIDs(backendtest.IDs()))
	defer src.Close()
	p := effect.Handle(ctx, src)
	value := bytes.Repeat([]byte("s"), 64<<10)
	for i := range 50 {
		_, err := effect.Perform(p, ops.SnapshotWrite{Snapshot: ops.Snapshot{Name: "proj", Version: 1, Seq: uint64(i), Value: value}, Keep: 2})
		require.NoError(t, err)
	}
	b := exportOf(t, src)
	dst, tgt := target()
	defer dst.Close()
	counted := &snapshotBytes{Handler: dst}
	tgt.Handler = counted
	_, err := transfer.Import(ctx, bytes.NewReader(b), tgt)
	require.NoError(t, err)
	assert.Equal(t, 2*len(value), counted.n, "the two kept generations' values, once each")
	sameGenerations := func(h effect.Handler) any {
		r, err := effect.Perform(effect.Handle(ctx, h), ops.SnapshotGenerations{Name: "proj"})
		require.NoError(t, err)
		return r
	}
	assert.Equal(t, sameGenerations(src), sameGenerations(dst))
}
