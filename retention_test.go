package persist_test

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"rose-ash.com/persist"
)

// retentionCalls makes one call of every retention method with ctx. The
// methods answer on backends that keep the retention operations (mem on
// this branch), so they are checked apart from calls.
func retentionCalls(db *persist.DB, ctx context.Context) map[string]error {
	proj := balanceProjection()
	return map[string]error{
		"StreamMeta":          second(db.StreamMeta(ctx, "s")),
		"SetStreamMeta":       second(db.SetStreamMeta(ctx, "s", persist.Any(), persist.StreamLimits{})),
		"DeleteStream":        second(db.DeleteStream(ctx, "gone", persist.Any(), false)),
		"KvHistory":           second(db.KvHistory(ctx, "k", 0)),
		"KvWatch":             second(db.KvWatch(ctx, persist.KvWatchOptions{Idle: time.Millisecond, Handle: func(context.Context, persist.KvVersion) error { return nil }})),
		"Stat":                second(db.Stat(ctx)),
		"ProjectCheckpointed": second(persist.ProjectCheckpointed(ctx, db, proj, persist.CheckpointPolicy{})),
	}
}

func TestRetentionNilContextAndClosed(t *testing.T) {
	db := persist.OpenMem()
	var nilCtx context.Context
	for name, err := range retentionCalls(db, nilCtx) {
		var inv *persist.InvalidError
		if assert.ErrorAs(t, err, &inv, name) {
			assert.Equal(t, "ctx", inv.Field, name)
		}
	}
	for name, err := range retentionCalls(db, context.Background()) {
		assert.NoError(t, err, name)
	}
	require.NoError(t, db.Close())
	for name, err := range retentionCalls(db, context.Background()) {
		assert.ErrorIs(t, err, persist.ErrClosed, name)
	}
}

func TestRetentionThroughDB(t *testing.T) {
	ctx := context.Background()
	db := persist.OpenMem()
	defer db.Close()
	for i := 0; i < 5; i++ {
		_, err := db.Append(ctx, "s", persist.Any(), persist.NewEvent("e", nil))
		require.NoError(t, err)
	}
	_, err := db.SetStreamMeta(ctx, "s", persist.Exact(5), persist.StreamLimits{MaxCount: 2})
	require.NoError(t, err)
	var seqs []uint64
	for ev, err := range db.Read(ctx, "s", 1) {
		require.NoError(t, err)
		seqs = append(seqs, ev.Seq)
	}
	assert.Equal(t, []uint64{4, 5}, seqs)
	_, err = db.DeleteStream(ctx, "s", persist.Any(), true)
	require.NoError(t, err)
	_, err = db.Append(ctx, "s", persist.Any(), persist.NewEvent("e", nil))
	var de *persist.StreamDeletedError
	require.ErrorAs(t, err, &de)
	assert.ErrorIs(t, err, persist.ErrStreamDeleted)
	st, err := db.Stat(ctx)
	require.NoError(t, err)
	assert.Equal(t, uint64(5), st.EventsStored)
	assert.Equal(t, uint64(0), st.EventsVisible)

	for _, v := range []string{"1", "2", "3"} {
		_, err := db.KvPut(ctx, "k", []byte(v), persist.Any())
		require.NoError(t, err)
	}
	hist, err := db.KvHistory(ctx, "k", 2)
	require.NoError(t, err)
	require.Len(t, hist, 2)
	assert.Equal(t, "3", string(hist[0].Value))
	var seen []string
	next, err := db.KvWatch(ctx, persist.KvWatchOptions{Prefix: "k", Idle: 10 * time.Millisecond, Handle: func(_ context.Context, v persist.KvVersion) error {
		seen = append(seen, string(v.Value))
		return nil
	}})
	require.NoError(t, err)
	assert.Equal(t, []string{"1", "2", "3"}, seen)
	assert.Equal(t, uint64(4), next)
}
