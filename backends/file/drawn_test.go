package file

import (
	"encoding/binary"
	"hash/crc32"
	"os"
	"path/filepath"
	"testing"

	"github.com/google/uuid"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"rose-ash.com/persist/backends/internal/idindex"
	"rose-ash.com/persist/ops"
)

// The IDs the store draws name their own positions, so they take no slot
// of the ID index; caller-chosen IDs do.
func TestDrawnIDsAreNotIndexed(t *testing.T) {
	e := newEnv(t, Options{})
	batch := evs(make([]string, 1000)...)
	for range 3 {
		must(t, e, ops.Append{Stream: "s", Events: batch})
	}
	assert.Zero(t, e.s.st.ids.Len(), "drawn IDs take no slot")
	mixed := evs("a", "b", "c", "d")
	mixed[1].ID, mixed[3].ID = uuid.New(), uuid.New()
	must(t, e, ops.Append{Stream: "s", Events: mixed})
	assert.Equal(t, 2, e.s.st.ids.Len(), "caller IDs take one slot each")

	got := must(t, e, ops.Read{Stream: "s", From: 1, Limit: 10}).Events
	for i, ev := range got {
		assert.Equal(t, uuid.Version(4), ev.ID.Version(), "event %d", i)
		_, pos, ok := e.s.st.ids.DrawnPos(ev.ID)
		require.True(t, ok)
		assert.Equal(t, ev.Pos, pos, "event %d's ID names its position", i)
	}
	e.reopen(Options{})
	assert.Equal(t, 2, e.s.st.ids.Len(), "recovery indexes the same events")
}

// Events read back and appended again with the IDs the store drew obey
// the unique-ID rule as caller-chosen IDs do: durable, after a reopen
// (from a checkpoint and from a full replay).
func TestDrawnIDsReappended(t *testing.T) {
	e := newEnv(t, Options{})
	must(t, e, ops.Append{Stream: "x", Events: evs("x")})
	first := must(t, e, ops.Append{Stream: "s", Events: evs("a", "b", "c")})
	must(t, e, ops.Append{Stream: "s", Events: evs("d")})
	stored := must(t, e, ops.Read{Stream: "s", From: 1, Limit: 3}).Events
	again := make([]ops.EventData, len(stored))
	for i, ev := range stored {
		again[i] = ops.EventData{ID: ev.ID, Type: ev.Type, Data: ev.Data}
	}
	check := func(what string) {
		t.Helper()
		r, err := perform(e, ops.Append{Stream: "s", Events: again})
		require.NoError(t, err, what)
		assert.Equal(t, first, r, "%s: a retry answers the original result", what)
		_, err = perform(e, ops.Append{Stream: "s", Events: []ops.EventData{{Type: "t"}, again[1]}})
		var dup *ops.DuplicateIDError
		require.ErrorAs(t, err, &dup, what)
		assert.Equal(t, ops.DuplicateIDError{Stream: "s", ID: again[1].ID, Seq: 2, Index: 1}, *dup, what)
		// Another stream holds none of them.
		_, err = perform(e, ops.Append{Stream: "y", Expect: ops.Exact(7), Events: again[:1]})
		var c *ops.Conflict
		assert.ErrorAs(t, err, &c, "%s: only the expectation fails in another stream", what)
		assert.Equal(t, uint64(4), must(t, e, ops.Head{Stream: "s"}), what)
	}
	check("durable")
	e.reopen(Options{})
	require.NotZero(t, e.s.Recovery().Checkpoint)
	check("from a checkpoint")
	e.close()
	for _, f := range ckptFiles(t, e.dir) {
		require.NoError(t, os.Remove(f))
	}
	e.open(Options{})
	check("full replay")
	// The copy in another stream is a caller's ID there, indexed.
	must(t, e, ops.Append{Stream: "y", Events: again[:1]})
	_, err := perform(e, ops.Append{Stream: "y", Events: []ops.EventData{{Type: "t"}, again[0]}})
	var dup *ops.DuplicateIDError
	require.ErrorAs(t, err, &dup)
	assert.Equal(t, uint64(1), dup.Seq)
}

// Within one group, a commit sees the drawn IDs of the commits before it.
func TestDrawnIDsInOneGroup(t *testing.T) {
	e := newEnv(t, Options{})
	must(t, e, ops.Append{Stream: "x", Events: evs("x")}) // draws the nonce
	ids, n := e.s.st.ids, *e.s.nonce
	at := func(pos uint64) ops.EventData { return ops.EventData{ID: ids.Drawn(n, pos), Type: "t"} }
	mk := func(a ops.Append) *writer {
		c := ops.Commit{Appends: []ops.Append{a}}
		return &writer{c: c, size: estimate(c), done: make(chan struct{}, 1)}
	}
	group := []*writer{
		mk(ops.Append{Stream: "s", Events: evs("a", "b")}),                       // positions 2 and 3
		mk(ops.Append{Stream: "s", Events: []ops.EventData{at(2), at(3)}}),       // a retry of it
		mk(ops.Append{Stream: "s", Events: []ops.EventData{{Type: "t"}, at(3)}}), // a reuse
		mk(ops.Append{Stream: "o", Events: []ops.EventData{at(2)}}),              // new in "o"
		mk(ops.Append{Stream: "o", Events: []ops.EventData{at(2)}}),              // a retry of that
	}
	e.s.runGroup(e.p(), group)
	for i, w := range group {
		if i != 2 {
			require.NoError(t, w.err, "commit %d", i)
		}
	}
	assert.Equal(t, group[0].res, group[1].res, "the retry answers the first result")
	var dup *ops.DuplicateIDError
	require.ErrorAs(t, group[2].err, &dup)
	assert.Equal(t, ops.DuplicateIDError{Stream: "s", ID: at(3).ID, Seq: 2, Index: 1}, *dup)
	assert.Equal(t, group[3].res, group[4].res)
	assert.Equal(t, uint64(2), must(t, e, ops.Head{Stream: "s"}))
	assert.Equal(t, uint64(1), must(t, e, ops.Head{Stream: "o"}))
	assert.Equal(t, 1, e.s.st.ids.Len(), "only the copy in \"o\" takes a slot")
}

// A store whose checkpoints are of format 2 (written before the ID index
// left drawn IDs out) opens: the index is rebuilt from the records the
// checkpoint covers, and the next checkpoint is of the current format.
func TestCheckpointVersion2Opens(t *testing.T) {
	dir := untarStore(t, "ckptv2store.tar.gz")
	e := &env{t: t, dir: dir, os: newEnv(t, Options{}).os}
	e.open(Options{})
	t.Cleanup(func() {
		if e.s != nil {
			_ = e.s.Close(e.p())
		}
	})
	assert.Equal(t, uint64(5), e.s.Recovery().Checkpoint, "opened from the format 2 checkpoint")
	assert.Equal(t, 6, e.s.st.ids.Len(), "every event of the old store indexed")
	id := func(s string) uuid.UUID { return uuid.MustParse(s) }
	check := func(what string) {
		t.Helper()
		r, err := perform(e, ops.Append{Stream: "a", Events: []ops.EventData{
			{ID: id("11111111-1111-4111-8111-111111111111"), Type: "t", Data: []byte(`"one"`)},
			{ID: id("22222222-2222-4222-8222-222222222222"), Type: "t", Data: []byte(`"two"`)},
		}})
		require.NoError(t, err, what)
		assert.Equal(t, ops.AppendResult{Stream: "a", FirstSeq: 1, Head: 2, FirstPos: 1, LastPos: 2}, r, what)
		// Drawn at random by the old version, at seq 3 of "a".
		_, err = perform(e, ops.Append{Stream: "a", Events: []ops.EventData{{Type: "t"}, {ID: id("bcab9047-54a3-43ef-b426-b9f9e90bd0a5"), Type: "t"}}})
		var dup *ops.DuplicateIDError
		require.ErrorAs(t, err, &dup, what)
		assert.Equal(t, uint64(3), dup.Seq, what)
		_, err = perform(e, ops.Append{Stream: "b", Events: []ops.EventData{{Type: "t"}, {ID: id("33333333-3333-4333-8333-333333333333"), Type: "t"}}})
		require.ErrorAs(t, err, &dup, what)
		assert.Equal(t, uint64(2), dup.Seq, what)
	}
	check("format 2")
	must(t, e, ops.Append{Stream: "a", Events: evs("new")})
	e.reopen(Options{})
	files := ckptFiles(t, dir)
	b, err := os.ReadFile(files[len(files)-1])
	require.NoError(t, err)
	assert.Equal(t, uint32(ckptVersion), binary.LittleEndian.Uint32(b[8:]))
	assert.NotZero(t, e.s.Recovery().Checkpoint)
	check("current format")
	assert.Equal(t, 6, e.s.st.ids.Len(), "the new event's drawn ID takes no slot")
	_, err = Verify(e.p(), filepath.Clean(dir))
	require.NoError(t, err)
}

// A store whose checkpoints are of format 3 (the ID index as its slots,
// of every event, the IDs the store drew then random) opens from its
// checkpoint with that index as it is, not rebuilt; the covered segment is
// trusted; the next checkpoint is of the current format and Verify agrees.
func TestCheckpointVersion3Opens(t *testing.T) {
	dir := untarStore(t, "ckptv3store.tar.gz")
	e := &env{t: t, dir: dir, os: newEnv(t, Options{}).os}
	e.open(Options{})
	t.Cleanup(func() {
		if e.s != nil {
			_ = e.s.Close(e.p())
		}
	})
	assert.Equal(t, uint64(6), e.s.Recovery().Checkpoint, "opened from the format 3 checkpoint")
	assert.Equal(t, 1, e.s.Recovery().Trusted, "the covered segment trusted, not read")
	assert.Equal(t, 6, e.s.st.ids.Len(), "every event of the old store indexed")
	_, err := Verify(e.p(), filepath.Clean(dir))
	require.NoError(t, err, "Verify agrees with the format 3 index")
	id := func(s string) uuid.UUID { return uuid.MustParse(s) }
	check := func(what string) {
		t.Helper()
		r, err := perform(e, ops.Append{Stream: "a", Events: []ops.EventData{
			{ID: id("11111111-1111-4111-8111-111111111111"), Type: "t", Data: []byte(`"one"`)},
			{ID: id("22222222-2222-4222-8222-222222222222"), Type: "t", Data: []byte(`"two"`)},
		}})
		require.NoError(t, err, what)
		assert.Equal(t, ops.AppendResult{Stream: "a", FirstSeq: 1, Head: 2, FirstPos: 1, LastPos: 2}, r, what)
		// Drawn at random by the old version, at seq 3 of "a".
		_, err = perform(e, ops.Append{Stream: "a", Events: []ops.EventData{{Type: "t"}, {ID: id("074b9a64-6f61-472a-a000-0211abc11e42"), Type: "t"}}})
		var dup *ops.DuplicateIDError
		require.ErrorAs(t, err, &dup, what)
		assert.Equal(t, uint64(3), dup.Seq, what)
		_, err = perform(e, ops.Append{Stream: "b", Events: []ops.EventData{{Type: "t"}, {ID: id("33333333-3333-4333-8333-333333333333"), Type: "t"}}})
		require.ErrorAs(t, err, &dup, what)
		assert.Equal(t, uint64(2), dup.Seq, what)
		assert.Equal(t, "\"3\"", string(must(t, e, ops.KvGet{Key: "k1"}).Value), what)
	}
	check("format 3")
	must(t, e, ops.Append{Stream: "a", Events: evs("new")})
	must(t, e, ops.Append{Stream: "c", Events: []ops.EventData{{ID: id("55555555-5555-4555-8555-555555555555"), Type: "t"}}})
	e.reopen(Options{})
	files := ckptFiles(t, dir)
	b, err := os.ReadFile(files[len(files)-1])
	require.NoError(t, err)
	assert.Equal(t, uint32(ckptVersion), binary.LittleEndian.Uint32(b[8:]))
	assert.Equal(t, uint64(8), e.s.Recovery().Checkpoint)
	check("current format")
	assert.Equal(t, 7, e.s.st.ids.Len(), "the new drawn ID takes no slot, the chosen one does")
	_, err = Verify(e.p(), filepath.Clean(dir))
	require.NoError(t, err)
}

// A checkpoint of format 4 may index fewer events than it covers, but not
// more, nor any past its last position; one of format 3 indexed every
// event, and one that does not is refused.
func TestCheckpointIDIndexBounds(t *testing.T) {
	id := [16]byte{7, 7}
	build := func(events int) *state {
		st := newState()
		st.indexIDs(id)
		for i := range events {
			c := commitRec{at: int64(i), firstPos: uint64(i + 1), parts: []partRec{{stream: "s", firstSeq: uint64(i + 1), n: 1, ids: []uuid.UUID{uuid.New()}}}}
			st.apply(&c, loc{seg: 1, off: uint32(64 + 100*i)})
			st.lsn++
		}
		return st
	}
	r := resume{seg: 1, off: 64 + 100*10, crc: 9, last: 64 + 100*9, sum: 5, version: ckptVersion}
	some := build(10)
	some.ids = idindex.New(id)
	for i := 0; i < 10; i += 3 {
		require.NoError(t, some.ids.Add(uint64(i+1)<<40, uint64(i+1)))
	}
	r.lsn = some.lsn
	_, got, err := decodeCheckpoint(encodeCheckpoint(id, r, some), id)
	require.NoError(t, err, "fewer entries than events")
	assert.Equal(t, 4, got.ids.Len())

	past := build(10)
	past.ids = idindex.New(id)
	require.NoError(t, past.ids.Add(1<<40, 3))
	require.NoError(t, past.ids.Add(2<<40, 11))
	_, _, err = decodeCheckpoint(encodeCheckpoint(id, r, past), id)
	assert.ErrorContains(t, err, "malformed checkpoint ID index", "an entry past the last position")

	// The same bytes under format 3 (no position bits, which the dense
	// decoding finds malformed or short of one entry per event): refused.
	b := encodeCheckpoint(id, r, some)
	binary.LittleEndian.PutUint32(b[8:], ckptVersion3)
	end := len(b) - 8
	binary.LittleEndian.PutUint32(b[end:], crc32.Checksum(b[:end], castagnoli))
	_, _, err = decodeCheckpoint(b, id)
	assert.Error(t, err, "format 3 with fewer entries than events")
}
