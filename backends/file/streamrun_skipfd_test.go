package file

import (
	"context"
	"fmt"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"rose-ash.com/persist/effect"
	"rose-ash.com/persist/ops"
	"rose-ash.com/persist/platform"
)

// A follower whose listing of the log misses the newest segment (a roll
// beside it) passes over the checkpoints written after that roll; the
// runs it opened for such a checkpoint are closed as it passes it over,
// and its Close leaves no file open.
func TestFollowerClosesRunsOfCheckpointPassedOver(t *testing.T) {
	e := newEnv(t, streamLookupOpts)
	heads := map[string]uint64{}
	for i := range 30 {
		name := fmt.Sprintf("s%02d", i)
		must(t, e, ops.Append{Stream: name, Events: evs("x")})
		heads[name]++
	}
	must(t, e, ops.KvPut{Key: "k", Value: []byte("v")})
	fillSegment(t, e)
	heads["zz-fill"] += 5
	e.reopen(streamLookupOpts) // Close writes a checkpoint, its kv and stream runs
	e.close()
	require.Zero(t, e.os.OpenFiles())
	segs, err := listSegments(effect.Handle(context.Background(), e.os), filepath.Join(e.dir, logDir))
	require.NoError(t, err)
	require.GreaterOrEqual(t, len(segs), 2)
	last := segName(segs[len(segs)-1])
	// The first listing misses the newest segment, as one taken just
	// before the writer's roll would.
	hidden := false
	h := effect.HandlerFunc(func(_ *effect.P, ef effect.Effect) (any, error) {
		if l, ok := ef.(platform.List); ok && !hidden {
			hidden = true
			ents, err := effect.Handle(context.Background(), e.os).Send(l)
			if err != nil {
				return nil, err
			}
			var out []platform.DirEntry
			for _, d := range ents.([]platform.DirEntry) {
				if d.Name != last {
					out = append(out, d)
				}
			}
			return out, nil
		}
		return effect.Handle(context.Background(), e.os).Send(ef)
	})
	p := effect.Handle(context.Background(), h)
	f, err := OpenReadOnly(p, e.dir, Options{})
	require.NoError(t, err)
	require.True(t, hidden)
	require.Positive(t, f.report.CheckpointsSkipped, "the checkpoint after the roll passed over")
	for name, n := range heads {
		require.Equal(t, n, must(t, &env{t: t, s: f, os: e.os, hs: []effect.Handler{h}}, ops.Head{Stream: name}), name)
	}
	require.NoError(t, f.Close(p))
	require.Zero(t, e.os.OpenFiles(), "the follower's Close leaves no file open")
}
