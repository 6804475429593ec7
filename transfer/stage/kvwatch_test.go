package stage_test

import (
	"bytes"
	"context"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"rose-ash.com/persist/backends/file"
	"rose-ash.com/persist/effect"
	"rose-ash.com/persist/ops"
	"rose-ash.com/persist/transfer"
	"rose-ash.com/persist/transfer/stage"
)

// A file store's kv-watch page reads a bounded run of records and may
// answer none of them, with Next where it stopped: a long run of deletes
// of absent keys (each a revision and no change) gives such a page. The
// walk reads on to the store's revision, so the versions and the deleted
// keys after the run are still exported, and the imported store answers
// kv-history as its source.
func TestExportReadsKvHistoryPastEmptyWatchPages(t *testing.T) {
	ctx := context.Background()
	src, err := stage.File(ctx, filepath.Join(t.TempDir(), "src"), file.Options{})
	require.NoError(t, err)
	t.Cleanup(func() { _ = src.Abort() })
	h := src.Target().Handler
	p := effect.Handle(ctx, h)
	for range 4*ops.MaxPage + 1 { // more records than one watch page reads
		_, err := effect.Perform(p, ops.KvDelete{Key: "absent"})
		require.NoError(t, err)
	}
	for _, op := range []effect.Effect{
		ops.KvPut{Key: "kept", Value: []byte("1")},
		ops.KvPut{Key: "kept", Value: []byte("2")},
		ops.KvPut{Key: "gone", Value: []byte("x")},
		ops.KvDelete{Key: "gone"},
	} {
		_, err := h.Handle(p, op)
		require.NoError(t, err, "%s", op.EffectName())
	}
	b, _ := export(t, h)
	assert.Contains(t, string(b), `{"kind":"kv-version","key":"kept","value":"MQ==","revision":40002}`)
	assert.Contains(t, string(b), `"kind":"kv-version","deleted":true,"key":"gone"`)

	dst := stage.Mem()
	_, err = transfer.Import(ctx, bytes.NewReader(b), dst.Target())
	require.NoError(t, err)
	q := effect.Handle(ctx, dst.Target().Handler)
	for _, k := range []string{"kept", "gone"} {
		r1, err := effect.Perform(p, ops.KvHistory{Key: k})
		require.NoError(t, err)
		r2, err := effect.Perform(q, ops.KvHistory{Key: k})
		require.NoError(t, err)
		assert.Equal(t, r1, r2, k)
	}
}
