package persist_test

import (
	"bytes"
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"rose-ash.com/persist"
	"rose-ash.com/persist/backends/file"
)

// The file options reach the front door whole: a DB opened with
// CompactInterval compacts in the background, and Close waits for it.
func TestFileBackgroundCompaction(t *testing.T) {
	ctx := context.Background()
	done := make(chan file.CompactResult, 4)
	db, err := persist.Open(ctx, t.TempDir(), persist.WithFileOptions(file.Options{
		SegmentSize: 64 << 10, CompactFraction: 0.5, CompactInterval: time.Hour,
		CompactReport: func(r file.CompactResult, err error) {
			assert.NoError(t, err)
			done <- r
		},
	}))
	require.NoError(t, err)
	_, err = db.SetStreamMeta(ctx, "s", persist.Any(), persist.StreamLimits{MaxCount: 1})
	require.NoError(t, err)
	big := bytes.Repeat([]byte("f"), 4<<10)
	for range 40 {
		_, err := db.Append(ctx, "s", persist.Any(), persist.NewEvent("e", big))
		require.NoError(t, err)
	}
	select {
	case r := <-done:
		assert.Greater(t, r.Events, int64(0))
	case <-time.After(60 * time.Second):
		t.Fatal("no background compaction ran")
	}
	var seqs []uint64
	for ev, err := range db.Read(ctx, "s", 1) {
		require.NoError(t, err)
		seqs = append(seqs, ev.Seq)
	}
	assert.Equal(t, []uint64{40}, seqs)
	require.NoError(t, db.Close())
}
