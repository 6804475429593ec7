package postgres_test

import (
	"context"
	"runtime"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"rose-ash.com/persist/effect"
	"rose-ash.com/persist/ops"
)

// liveHeap is the heap in use once garbage is collected.
func liveHeap() int64 {
	runtime.GC()
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return int64(ms.HeapAlloc)
}

// TestReadaheadLargePagesKeepLittle reads one full page of large events
// and lets it go: the store must not keep pages the reader never asked
// for, each as large as the one it read, alive until its next read-all.
// Pages of 1,000 events of 32 KiB hold 32 MiB each.
func TestReadaheadLargePagesKeepLittle(t *testing.T) {
	ctx := context.Background()
	s := mustOpen(t)
	p := effect.Handle(ctx, s)
	data := make([]byte, 32<<10)
	for n := 0; n < 3000; n += 250 {
		evs := make([]ops.EventData, 250)
		for i := range evs {
			evs[i] = ops.EventData{Type: "t", Data: data}
		}
		_, err := effect.Perform(p, ops.Append{Stream: "big", Events: evs})
		require.NoError(t, err)
	}
	before := liveHeap()
	res, err := effect.Perform(p, ops.ReadAll{From: 1, Limit: 1000})
	require.NoError(t, err)
	require.Len(t, res.Events, 1000)
	res = ops.ReadAllResult{}
	waitIdle(t, s)
	kept := liveHeap() - before
	assert.Less(t, kept, int64(16<<20), "%d MiB kept alive after one page of 32 MiB was read and dropped", kept>>20)
	_ = res
}
