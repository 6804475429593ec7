package file

import (
	"context"
	"fmt"
	"testing"

	"github.com/stretchr/testify/require"

	"rose-ash.com/persist/effect"
	"rose-ash.com/persist/ops"
)

// sharedBackground is a Background handler for e's store as
// Options.Background asks: a handle of its own for each effect, over the
// descriptors of the store's handler.
func sharedBackground(e *env) effect.Handler {
	return effect.HandlerFunc(func(_ *effect.P, ef effect.Effect) (any, error) {
		return effect.Handle(context.Background(), e.os).Send(ef)
	})
}

// The kv runs that checkpoints beside commits write on the Background
// handler are read, and closed, through the store's handler: with a
// Background that answers on its descriptors (a second platform.OS, a
// table of its own, made the commit after the first such checkpoint
// read "fd 2: file already closed"), every key reads back, before and
// after a reopen, and Close leaves no file open.
func TestKvRunsBesideOnOwnDescriptors(t *testing.T) {
	const keys, batch = 3000, 50
	e := newEnv(t, Options{})
	bg := sharedBackground(e)
	e.reopen(Options{CheckpointBytes: -1, KvBufferBytes: 32 << 10, Background: bg})
	for c := 0; c < keys; c += batch {
		ch := make([]ops.KvChange, 0, batch)
		for i := c; i < c+batch; i++ {
			ch = append(ch, ops.KvChange{Key: fmt.Sprintf("key/%09d", i), Value: fmt.Appendf(nil, "%040d", i)})
		}
		must(t, e, ops.Commit{Kv: ch})
		if c%500 == 0 {
			_, err := perform(e, ops.Append{Stream: fmt.Sprintf("s%d", c), Events: []ops.EventData{{Type: "t"}}})
			require.NoError(t, err)
		}
	}
	e.s.waitCheckpoint()
	require.Positive(t, e.s.Stats().Checkpoints)
	for i := 0; i < keys; i += 7 {
		r, err := perform(e, ops.KvGet{Key: fmt.Sprintf("key/%09d", i)})
		require.NoError(t, err, "key %d", i)
		require.NotNil(t, r, "key %d", i)
		require.Equal(t, fmt.Sprintf("%040d", i), string(r.Value))
	}
	require.NoError(t, e.s.Close(e.p()))
	e.s = nil
	require.Zero(t, e.os.OpenFiles(), "files left open")
	e.open(Options{})
	for i := 0; i < keys; i += 7 {
		r := must(t, e, ops.KvGet{Key: fmt.Sprintf("key/%09d", i)})
		require.NotNil(t, r, "key %d", i)
	}
}
