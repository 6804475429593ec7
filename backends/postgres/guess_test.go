package postgres_test

import (
	"context"
	"errors"
	"testing"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"rose-ash.com/persist/backends/postgres"
	"rose-ash.com/persist/effect"
	"rose-ash.com/persist/ops"
)

// TestStaleGuesses has two stores on one schema append to the same stream
// in turns, so that each one's guess of the head is stale whenever the
// other wrote last: every answer must still be the one the stored state
// gives, and the log must stay contiguous.
func TestStaleGuesses(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	a := mustOpen(t)
	b, err := postgres.Open(ctx, testDSN(), postgres.WithSchema(a.Schema()))
	require.NoError(t, err)
	t.Cleanup(func() { _ = b.Close() })
	pa, pb := effect.Handle(ctx, a), effect.Handle(ctx, b)
	ev := func(ids ...uuid.UUID) []ops.EventData {
		out := make([]ops.EventData, len(ids))
		for i, id := range ids {
			out[i] = ops.EventData{ID: id, Type: "t", Data: []byte{byte(i)}}
		}
		return out
	}
	appendOK := func(p *effect.P, expect ops.Expect, events []ops.EventData) ops.AppendResult {
		t.Helper()
		res, err := effect.Perform(p, ops.Append{Stream: "s", Expect: expect, Events: events})
		require.NoError(t, err)
		return res
	}

	// a learns head 3.
	r := appendOK(pa, ops.NoStream(), ev(uuid.Nil, uuid.Nil, uuid.Nil))
	assert.Equal(t, ops.AppendResult{Stream: "s", FirstSeq: 1, Head: 3, FirstPos: 1, LastPos: 3}, r)
	// b carries an ID of its own: decided on the stored head.
	idB := uuid.New()
	r = appendOK(pb, ops.Any(), ev(idB, uuid.Nil))
	assert.Equal(t, ops.AppendResult{Stream: "s", FirstSeq: 4, Head: 5, FirstPos: 4, LastPos: 5}, r)
	// a guesses 3, which its expectation names: the server refuses seq 4,
	// and the stored head gives the conflict.
	_, err = effect.Perform(pa, ops.Append{Stream: "s", Expect: ops.Exact(3), Events: ev(uuid.Nil)})
	var c *ops.Conflict
	require.True(t, errors.As(err, &c), "want a conflict, got %v", err)
	assert.Equal(t, uint64(5), c.Actual)
	// a learned head 5 on the way: its next guess holds.
	r = appendOK(pa, ops.Exact(5), ev(uuid.Nil))
	assert.Equal(t, ops.AppendResult{Stream: "s", FirstSeq: 6, Head: 6, FirstPos: 6, LastPos: 6}, r)
	// b's retry of its stored batch, with a stale guess: the original
	// result, nothing written.
	r = appendOK(pb, ops.Any(), ev(idB, uuid.Nil)[:1])
	assert.Equal(t, ops.AppendResult{Stream: "s", FirstSeq: 4, Head: 4, FirstPos: 4, LastPos: 4}, r)
	// b reuses an ID stored by the other store's batch, as a new event.
	_, err = effect.Perform(pb, ops.Append{Stream: "s", Expect: ops.Exact(6), Events: ev(uuid.New(), idB)})
	var dup *ops.DuplicateIDError
	require.True(t, errors.As(err, &dup), "want a duplicate ID, got %v", err)
	assert.Equal(t, uint64(4), dup.Seq)
	// Another stream takes positions on from the other store's last.
	res, err := effect.Perform(pb, ops.Append{Stream: "u", Events: ev(uuid.Nil, uuid.Nil)})
	require.NoError(t, err)
	assert.Equal(t, ops.AppendResult{Stream: "u", FirstSeq: 1, Head: 2, FirstPos: 7, LastPos: 8}, res)

	all, err := effect.Perform(pa, ops.ReadAll{})
	require.NoError(t, err)
	require.Len(t, all.Events, 8)
	for i, e := range all.Events {
		assert.Equal(t, uint64(i+1), e.Pos)
	}
	assert.Equal(t, uint64(8), all.Head)
	// a's conflict was a refused guess; b's appends with IDs of their own
	// were decided under the lock without guessing, and its append to u
	// guessed right.
	assert.Equal(t, int64(1), postgres.Refused(a))
	assert.Equal(t, int64(0), postgres.Refused(b))
}

// TestLockedPath runs the conformance-critical shapes with guessing off,
// so the path every guess falls back to is tested on its own as well.
func TestLockedPath(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s := mustOpen(t, postgres.WithoutGuessing())
	p := effect.Handle(ctx, s)
	id := uuid.New()
	r, err := effect.Perform(p, ops.Append{Stream: "s", Expect: ops.NoStream(), Events: []ops.EventData{{ID: id, Type: "t"}, {Type: "t"}}})
	require.NoError(t, err)
	assert.Equal(t, ops.AppendResult{Stream: "s", FirstSeq: 1, Head: 2, FirstPos: 1, LastPos: 2}, r)
	r, err = effect.Perform(p, ops.Append{Stream: "s", Expect: ops.NoStream(), Events: []ops.EventData{{ID: id, Type: "t"}}})
	require.NoError(t, err)
	assert.Equal(t, ops.AppendResult{Stream: "s", FirstSeq: 1, Head: 1, FirstPos: 1, LastPos: 1}, r)
	_, err = effect.Perform(p, ops.Append{Stream: "s", Expect: ops.Exact(1), Events: []ops.EventData{{Type: "t"}}})
	var c *ops.Conflict
	require.True(t, errors.As(err, &c), "want a conflict, got %v", err)
	assert.Equal(t, uint64(2), c.Actual)
}

// TestMetaTokenRolledBack moves the store's metadata token in a
// transaction that then rolls back, as a metadata write that failed
// after setting it does: a sequence's value is not rolled back, so the
// next guess must be refused (the token is not the one it was decided
// at) and the append decided the locked way, after which guesses hold
// again at the token read under the lock. The token of a new schema,
// never set, reads as 0 and lets guesses through.
func TestMetaTokenRolledBack(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s := mustOpen(t)
	p := effect.Handle(ctx, s)
	head := uint64(0)
	appendOne := func() {
		t.Helper()
		r, err := effect.Perform(p, ops.Append{Stream: "s", Expect: ops.Exact(head), Events: []ops.EventData{{Type: "t"}}})
		require.NoError(t, err)
		require.Equal(t, head+1, r.Head)
		head = r.Head
	}
	// The first append reads the state under the lock; the next ones
	// are guessed at token 0.
	appendOne()
	appendOne()
	appendOne()
	require.Zero(t, postgres.Refused(s), "guesses at the new schema's token")

	conn, err := pgx.Connect(ctx, testDSN())
	require.NoError(t, err)
	defer conn.Close(ctx)
	seq := pgx.Identifier{s.Schema(), "meta_token"}.Sanitize()
	tx, err := conn.Begin(ctx)
	require.NoError(t, err)
	_, err = tx.Exec(ctx, "SELECT setval($1::regclass, 12345)", seq)
	require.NoError(t, err)
	require.NoError(t, tx.Rollback(ctx))

	appendOne()
	assert.Equal(t, int64(1), postgres.Refused(s), "the guess at the old token is refused")
	appendOne()
	appendOne()
	assert.Equal(t, int64(1), postgres.Refused(s), "guesses hold at the token read under the lock")
	page, err := effect.Perform(p, ops.ReadAll{})
	require.NoError(t, err)
	require.Len(t, page.Events, 6, "every append stored once")
	for i, e := range page.Events {
		assert.Equal(t, uint64(i+1), e.Pos)
	}
}

// TestMetaTokenQuotedSchema runs guessed appends and a metadata write in
// a schema whose name holds both kinds of quote, since the token's
// sequence is named by a literal with the schema's name in it.
func TestMetaTokenQuotedSchema(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	schema := freshSchema(t) + `_q'"`
	t.Cleanup(func() { dropSchema(t, schema) })
	s, err := postgres.Open(ctx, testDSN(), postgres.WithSchema(schema))
	require.NoError(t, err)
	t.Cleanup(func() { _ = s.Close() })
	p := effect.Handle(ctx, s)
	for i := range 3 {
		_, err := effect.Perform(p, ops.Append{Stream: "s", Expect: ops.Exact(uint64(i)), Events: []ops.EventData{{Type: "t"}}})
		require.NoError(t, err)
	}
	_, err = effect.Perform(p, ops.StreamMetaWrite{Stream: "s", Expect: ops.Any(), Meta: ops.StreamMeta{MaxCount: 2}})
	require.NoError(t, err)
	for i := 3; i < 6; i++ {
		_, err := effect.Perform(p, ops.Append{Stream: "s", Expect: ops.Exact(uint64(i)), Events: []ops.EventData{{Type: "t"}}})
		require.NoError(t, err)
	}
	page, err := effect.Perform(p, ops.Read{Stream: "s"})
	require.NoError(t, err)
	require.Len(t, page.Events, 2, "the max-count set by the metadata write holds")
	assert.Equal(t, uint64(6), page.Head)
	assert.Zero(t, postgres.Refused(s), "the store's own metadata write keeps its guesses good")
}
