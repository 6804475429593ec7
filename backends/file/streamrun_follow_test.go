package file

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"

	"rose-ash.com/persist/effect"
	"rose-ash.com/persist/ops"
	"rose-ash.com/persist/platform"
)

// A follower opens beside the writer, whose checkpoints remove the stream
// runs the older checkpoints name. A follower keeps the files of its
// stream runs open from their open, so a run removed after the follower
// opened it is still read whole, and one removed before is missing: the
// follower passes that checkpoint over, to an older one or the log, and
// holds every head either way.
func TestFollowerPassesOverStreamRunRemovedBeside(t *testing.T) {
	opts := Options{CheckpointBytes: -1, SegmentSize: streamRunOpts.SegmentSize}
	e := newEnv(t, opts)
	heads := map[string]uint64{}
	for round := range 2 {
		for i := range 40 {
			name := fmt.Sprintf("s%02d", i)
			if round == 1 && i%4 != 0 {
				continue
			}
			must(t, e, ops.Append{Stream: name, Events: []ops.EventData{{Type: "t", Data: fmt.Appendf(nil, "%s/%d", name, round)}}})
			heads[name]++
		}
		// Past the segment the appends lie in: Close writes a checkpoint
		// and a stream run of the streams whose records it indexes.
		streamRunPadP(t, e.s, e.sp(), round)
		heads[streamRunPad] += streamRunPads
		e.reopen(opts)
	}
	e.close()
	// The writer's removal, between the follower's opens of a run.
	var mu sync.Mutex
	opens := map[string]int{}
	removed := ""
	h := effect.HandlerFunc(func(_ *effect.P, ef effect.Effect) (any, error) {
		if o, ok := ef.(platform.Open); ok && strings.HasPrefix(filepath.Base(o.Path), streamRunPrefix) {
			mu.Lock()
			opens[o.Path]++
			if opens[o.Path] == 2 && removed == "" {
				removed = o.Path
				require.NoError(t, os.Remove(o.Path))
			}
			mu.Unlock()
		}
		return effect.Handle(context.Background(), e.os).Send(ef)
	})
	p := effect.Handle(context.Background(), h)
	f, err := OpenReadOnly(p, e.dir, Options{})
	require.NoError(t, err)
	defer func() { require.NoError(t, f.Close(p)) }()
	require.NotEmpty(t, removed, "no stream run read")
	require.Positive(t, f.report.CheckpointsSkipped)
	streamRunCheckP(t, effect.Handle(context.Background(), f, h), heads, "follower")
}
