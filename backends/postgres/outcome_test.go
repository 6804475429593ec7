package postgres_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"rose-ash.com/persist/backends/postgres"
	"rose-ash.com/persist/effect"
	"rose-ash.com/persist/ops"
)

// faults answers the given faults to the first commits, then FaultNone.
func faults(fs ...postgres.Fault) func() postgres.Fault {
	var mu sync.Mutex
	return func() postgres.Fault {
		mu.Lock()
		defer mu.Unlock()
		if len(fs) == 0 {
			return postgres.FaultNone
		}
		f := fs[0]
		fs = fs[1:]
		return f
	}
}

// TestUnknownOutcomeResolved loses the answer to COMMIT, after and before
// the commit, and checks that the store resolves an append expecting an
// exact head by retrying it with the same IDs (its own for events that
// had none): the caller gets one answer, the events are stored once.
func TestUnknownOutcomeResolved(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name  string
		fault postgres.Fault
	}{
		{"lost-after-commit", postgres.FaultLostAfterCommit},
		{"lost-before-commit", postgres.FaultLostBeforeCommit},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			s := mustOpen(t, postgres.WithCommitFault(faults(postgres.FaultNone, tc.fault, tc.fault)))
			p := effect.Handle(context.Background(), s)
			_, err := effect.Perform(p, ops.Append{Stream: "s", Expect: ops.NoStream(), Events: []ops.EventData{{Type: "a"}}})
			require.NoError(t, err)
			r, err := effect.Perform(p, ops.Append{Stream: "s", Expect: ops.Exact(1), Events: []ops.EventData{{Type: "b"}, {Type: "c", ID: uuid.New()}}})
			require.NoError(t, err)
			assert.Equal(t, ops.AppendResult{Stream: "s", FirstSeq: 2, Head: 3, FirstPos: 2, LastPos: 3}, r)
			page, err := effect.Perform(p, ops.Read{Stream: "s"})
			require.NoError(t, err)
			require.Len(t, page.Events, 3, "stored once")
			assert.Equal(t, []string{"a", "b", "c"}, []string{page.Events[0].Type, page.Events[1].Type, page.Events[2].Type})
		})
	}
}

// TestUnknownOutcomeReported checks that a commit with kv changes, which
// the store cannot resolve itself, answers ErrOutcomeUnknown, and that an
// append expecting any head is resolved.
func TestUnknownOutcomeReported(t *testing.T) {
	t.Parallel()
	s := mustOpen(t, postgres.WithCommitFault(faults(postgres.FaultLostAfterCommit, postgres.FaultLostAfterCommit)))
	p := effect.Handle(context.Background(), s)
	// A kv change tried again is not the same change: unknown.
	_, err := effect.Perform(p, ops.KvPut{Key: "k", Value: []byte("v"), Expect: ops.NoStream()})
	require.ErrorIs(t, err, postgres.ErrOutcomeUnknown)
	assert.Contains(t, err.Error(), "127.0.0.1")
	e, err := effect.Perform(p, ops.KvGet{Key: "k"})
	require.NoError(t, err)
	assert.NotNil(t, e, "the put was committed, its answer lost")
	// An append with events the store gave IDs, expecting any head, is
	// resolved by the store.
	s2 := mustOpen(t, postgres.WithCommitFault(faults(postgres.FaultNone, postgres.FaultLostAfterCommit)))
	p2 := effect.Handle(context.Background(), s2)
	_, err = effect.Perform(p2, ops.Append{Stream: "s", Events: []ops.EventData{{Type: "a"}}})
	require.NoError(t, err)
	r, err := effect.Perform(p2, ops.Append{Stream: "s", Events: []ops.EventData{{Type: "b"}, {Type: "c"}}})
	require.NoError(t, err)
	assert.Equal(t, ops.AppendResult{Stream: "s", FirstSeq: 2, Head: 3, FirstPos: 2, LastPos: 3}, r)
	h, err := effect.Perform(p2, ops.Head{Stream: "s"})
	require.NoError(t, err)
	assert.Equal(t, uint64(3), h, "stored once")
}

// TestUnknownOutcomeGivesUp checks that a commit whose every try is lost
// answers ErrOutcomeUnknown when the commit timeout runs out.
func TestUnknownOutcomeGivesUp(t *testing.T) {
	t.Parallel()
	always := func() postgres.Fault { return postgres.FaultLostBeforeCommit }
	s := mustOpen(t, postgres.WithCommitFault(always), postgres.WithCommitTimeout(500*time.Millisecond))
	p := effect.Handle(context.Background(), s)
	_, err := effect.Perform(p, ops.Append{Stream: "s", Expect: ops.NoStream(), Events: []ops.EventData{{Type: "t"}}})
	require.ErrorIs(t, err, postgres.ErrOutcomeUnknown)
	h, err := effect.Perform(p, ops.Head{Stream: "s"})
	require.NoError(t, err)
	assert.Equal(t, uint64(0), h)
}
