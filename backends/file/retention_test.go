package file

import (
	"context"
	"encoding/binary"
	"fmt"
	"hash/crc32"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"rose-ash.com/persist/effect"
	"rose-ash.com/persist/ops"
)

// retentionFixture writes a store with every kind of retention state:
// limits, a soft delete, a hard delete, and keys with more versions
// than the history keeps.
func retentionFixture(t *testing.T, e *env) {
	t.Helper()
	for i := range 5 {
		must(t, e, ops.Append{Stream: "a", Events: evs(fmt.Sprint("a", i))})
		must(t, e, ops.Append{Stream: "b", Events: evs(fmt.Sprint("b", i))})
		must(t, e, ops.Append{Stream: "c", Events: evs(fmt.Sprint("c", i))})
		must(t, e, ops.KvPut{Key: "k", Value: []byte(fmt.Sprint("v", i))})
	}
	must(t, e, ops.KvDelete{Key: "absent"})
	must(t, e, ops.KvDelete{Key: "k"})
	must(t, e, ops.StreamMetaWrite{Stream: "a", Meta: ops.StreamMeta{MaxCount: 2}})
	must(t, e, ops.StreamDelete{Stream: "b"})
	must(t, e, ops.StreamDelete{Stream: "c", Hard: true})
	must(t, e, ops.StreamMetaWrite{Stream: "never", Meta: ops.StreamMeta{TruncateBefore: 1, MaxCount: 7}})
}

// retentionView is what a reader sees of the fixture.
type retentionView struct {
	a, b, c []string
	all     []string
	streams []string
	hist    []ops.KvVersion
	metaC   ops.StreamMetaResult
	watch   []ops.KvVersion
}

func readRetention(t *testing.T, e *env) retentionView {
	t.Helper()
	var v retentionView
	data := func(evs []ops.Event) []string {
		var out []string
		for _, ev := range evs {
			out = append(out, string(ev.Data))
		}
		return out
	}
	v.a = data(must(t, e, ops.Read{Stream: "a"}).Events)
	v.b = data(must(t, e, ops.Read{Stream: "b"}).Events)
	v.c = data(must(t, e, ops.Read{Stream: "c"}).Events)
	v.all = data(must(t, e, ops.ReadAll{}).Events)
	for _, s := range must(t, e, ops.Streams{}).Streams {
		v.streams = append(v.streams, s.Name)
	}
	v.hist = must(t, e, ops.KvHistory{Key: "k"}).Versions
	v.metaC = must(t, e, ops.StreamMetaRead{Stream: "c"})
	v.watch = must(t, e, ops.KvWatch{}).Changes
	return v
}

func TestRetentionSurvivesReopen(t *testing.T) {
	for _, tc := range []struct {
		name string
		opts Options
	}{
		{"checkpoint", Options{}},
		{"replay", Options{CheckpointBytes: -1}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t, Options{})
			retentionFixture(t, e)
			before := readRetention(t, e)
			assert.Equal(t, []string{"a3", "a4"}, before.a)
			assert.Empty(t, before.b)
			assert.Empty(t, before.c)
			assert.Equal(t, []string{"a3", "a4"}, before.all)
			assert.Equal(t, []string{"a"}, before.streams)
			assert.True(t, before.metaC.Tombstone)
			assert.Len(t, before.hist, 6, "five puts and a delete")
			assert.True(t, before.hist[0].Deleted)

			e.reopen(tc.opts)
			if tc.name == "replay" {
				// No checkpoint was written at Close: remove the one
				// of the first run too, so that Open replays all.
				ents, err := os.ReadDir(filepath.Join(e.dir, "log"))
				require.NoError(t, err)
				e.close()
				for _, en := range ents {
					if filepath.Ext(en.Name()) == ckptSuffix {
						require.NoError(t, os.Remove(filepath.Join(e.dir, "log", en.Name())))
					}
				}
				e.open(tc.opts)
				assert.Zero(t, e.s.Recovery().Checkpoint, "replayed without a checkpoint")
			}
			assert.Equal(t, before, readRetention(t, e))
			_, err := perform(e, ops.Append{Stream: "c", Events: evs("x")})
			assert.ErrorIs(t, err, ops.ErrStreamDeleted, "the tombstone holds after a reopen")
			r := must(t, e, ops.Append{Stream: "b", Events: evs("b5")})
			assert.Equal(t, uint64(6), r.FirstSeq, "a soft-deleted stream numbers on")

			e.close()
			rep, err := Verify(e.p(), e.dir)
			require.NoError(t, err, "Verify agrees with the checkpoint on metadata and history")
			assert.NotZero(t, rep.Checkpoint, "Verify compared a checkpoint")
			e.open(Options{})
		})
	}
}

func TestRetentionDepthOption(t *testing.T) {
	e := newEnv(t, Options{KvHistory: 3})
	for i := range 5 {
		must(t, e, ops.KvPut{Key: "k", Value: []byte(fmt.Sprint(i))})
	}
	h := must(t, e, ops.KvHistory{Key: "k"})
	require.Len(t, h.Versions, 3)
	assert.Equal(t, uint64(5), h.Versions[0].Revision)
	_, err := perform(e, ops.KvWatch{From: 2})
	assert.ErrorIs(t, err, ops.ErrCompacted)

	e.reopen(Options{KvHistory: 2})
	h = must(t, e, ops.KvHistory{Key: "k"})
	assert.Len(t, h.Versions, 2, "a lowered depth drops the older versions at Open")
	_, err = perform(e, ops.KvWatch{From: 3})
	var ce *ops.CompactedError
	require.ErrorAs(t, err, &ce)
	assert.Equal(t, uint64(3), ce.Compacted)

	e.reopen(Options{KvHistory: 20})
	for i := range 25 {
		must(t, e, ops.KvPut{Key: "k", Value: []byte(fmt.Sprint(i))})
	}
	e.close()
	_, err = Verify(e.p(), e.dir)
	require.NoError(t, err, "Verify, replaying with the default depth, agrees with a checkpoint of a deeper history")
	e.open(Options{KvHistory: 20})
	assert.Len(t, must(t, e, ops.KvHistory{Key: "k"}).Versions, 20)

	_, err = Open(e.p(), t.TempDir(), Options{KvHistory: ops.MaxKvHistory + 1})
	assert.ErrorContains(t, err, "kv-history")
}

func TestRetentionFollower(t *testing.T) {
	w := newEnv(t, Options{})
	must(t, w, ops.Append{Stream: "a", Events: evs("1", "2", "3")})
	f := openFollower(t, w.dir, Options{})
	must(t, w, ops.StreamMetaWrite{Stream: "a", Meta: ops.StreamMeta{TruncateBefore: 3}})
	must(t, w, ops.KvPut{Key: "k", Value: []byte("v")})
	p := f.p(context.Background())
	r, err := effect.Perform(p, ops.Read{Stream: "a"})
	require.NoError(t, err)
	require.Len(t, r.Events, 1, "the follower applies the metadata record it catches up with")
	assert.Equal(t, uint64(3), r.Events[0].Seq)
	h, err := effect.Perform(p, ops.KvHistory{Key: "k"})
	require.NoError(t, err)
	assert.Len(t, h.Versions, 1)
	_, err = effect.Perform(p, ops.StreamDelete{Stream: "a"})
	assert.ErrorIs(t, err, ErrReadOnly)
	kw, err := effect.Perform(p, ops.KvWait{After: 0})
	require.NoError(t, err)
	assert.True(t, kw.Passed)
}

// An old checkpoint (format 4) has no retention section: its kv history
// starts at the checkpoint, with each key's current value, and a watch
// from before it is compacted.
func TestRetentionOldCheckpoint(t *testing.T) {
	id := [16]byte{3}
	st := newState()
	st.indexIDs(id)
	c := commitRec{at: 1, rev: 1, kv: []kvRec{{op: kvPut, key: "k", value: []byte("v")}}}
	st.apply(&c, loc{seg: 1, off: 64})
	st.lsn = 2
	b := encodeCheckpointAs(id, resume{seg: 1, off: 200, crc: 1, lsn: 2, last: 64, sum: 1}, st, ckptVersionRetention)
	// Cut the retention section and mark the file as format 4.
	section := st.ret.appendSection(nil)
	body := b[:len(b)-8-len(section)]
	binary.LittleEndian.PutUint32(body[8:], ckptVersion4)
	binary.LittleEndian.PutUint64(body[16:], uint64(len(body)-24))
	old := binary.LittleEndian.AppendUint32(append([]byte(nil), body...), crc32.Checksum(body, castagnoli))
	old = append(old, ckptMagic[:4]...)
	_, got, err := decodeCheckpoint(old, id)
	require.NoError(t, err)
	assert.True(t, got.ret.hist.partial)
	assert.Equal(t, uint64(1), got.ret.hist.compacted)
	assert.Equal(t, []uint64{1}, got.ret.hist.keys["k"])
}

func TestRetentionBadLimitsWriteNothing(t *testing.T) {
	e := newEnv(t, Options{})
	must(t, e, ops.Append{Stream: "a", Events: evs("1")})
	lsn := e.s.Stats().LSN
	_, err := perform(e, ops.StreamMetaWrite{Stream: "a", Meta: ops.StreamMeta{TruncateBefore: 5}})
	var ie *ops.InvalidError
	require.ErrorAs(t, err, &ie)
	assert.Equal(t, "meta.truncate-before", ie.Field)
	_, err = perform(e, ops.StreamMetaWrite{Stream: "a", Expect: ops.Expect{Kind: ops.ExpectExact, N: 7}})
	assert.ErrorIs(t, err, ops.ErrConflict)
	assert.Equal(t, lsn, e.s.Stats().LSN, "a refused metadata write writes no record")
}

func TestRetentionStatBytes(t *testing.T) {
	e := newEnv(t, Options{})
	must(t, e, ops.Append{Stream: "a", Events: evs("1", "2", "3")})
	must(t, e, ops.StreamMetaWrite{Stream: "a", Meta: ops.StreamMeta{MaxCount: 1}})
	st := must(t, e, ops.Stat{})
	assert.Equal(t, uint64(3), st.EventsStored)
	assert.Equal(t, uint64(1), st.EventsVisible)
	assert.True(t, st.BytesKnown)
	assert.Equal(t, uint64(e.s.Stats().LogBytes), st.BytesStored)
}
