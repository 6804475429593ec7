package file

import (
	"fmt"
	"testing"

	"github.com/stretchr/testify/require"

	"rose-ash.com/persist/ops"
	"rose-ash.com/persist/platform"
)

// A Background handler with a descriptor table of its own (a second
// platform.OS, as TestStreamRunCheckpointsBesideAppends passes): the kv
// runs its checkpoints write are read, and closed, by the store's
// handler. Every key reads back, before and after a reopen, and Close
// closes every file it opened on either.
func TestKvRunsBesideOnOwnDescriptors(t *testing.T) {
	const keys, batch = 3000, 50
	e := newEnv(t, Options{})
	bg := &platform.OS{}
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
	require.Zero(t, e.os.OpenFiles(), "files open on the store's handler")
	require.Zero(t, bg.OpenFiles(), "files open on the Background handler")
	e.open(Options{})
	for i := 0; i < keys; i += 7 {
		r := must(t, e, ops.KvGet{Key: fmt.Sprintf("key/%09d", i)})
		require.NotNil(t, r, "key %d", i)
	}
}
