package postgres_test

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"rose-ash.com/persist/backends/postgres"
	"rose-ash.com/persist/effect"
	"rose-ash.com/persist/ops"
)

// TestCloseDuringCommits closes a store while 32 callers commit: every
// call returns, acknowledged or with ops.ErrClosed, and what was
// acknowledged is stored.
func TestCloseDuringCommits(t *testing.T) {
	t.Parallel()
	schema := freshSchema(t)
	ctx := context.Background()
	s, err := postgres.Open(ctx, testDSN(), postgres.WithSchema(schema))
	require.NoError(t, err)
	var wg sync.WaitGroup
	acked := make([]uint64, 32)
	for w := range acked {
		wg.Go(func() {
			p := effect.Handle(ctx, s)
			for {
				r, err := effect.Perform(p, ops.Append{Stream: fmt.Sprint("s", w), Events: []ops.EventData{{Type: "t"}}})
				if err != nil {
					assert.ErrorIs(t, err, ops.ErrClosed)
					return
				}
				acked[w] = r.Head
			}
		})
	}
	time.Sleep(300 * time.Millisecond)
	require.NoError(t, s.Close())
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(30 * time.Second):
		t.Fatal("commits still pending 30s after Close")
	}
	s, err = postgres.Open(ctx, testDSN(), postgres.WithSchema(schema))
	require.NoError(t, err)
	defer s.Close()
	p := effect.Handle(ctx, s)
	for w, head := range acked {
		h, err := effect.Perform(p, ops.Head{Stream: fmt.Sprint("s", w)})
		require.NoError(t, err)
		assert.GreaterOrEqual(t, h, head, "stream s%d", w)
	}
}
