package file_test

import (
	"context"
	"fmt"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"rose-ash.com/persist/backends/file"
	"rose-ash.com/persist/backends/mock"
	"rose-ash.com/persist/effect"
	"rose-ash.com/persist/ops"
	"rose-ash.com/persist/platform"
)

// TestCrashDuringBackgroundCheckpoint with what a background checkpoint
// writes besides its file: the log rolls (small segments of events of
// 1 KiB), so checkpoints write the index files of the segments sealed
// since the last, and every commit puts a key, so each writes a kv run.
// Commits run one at a time, each waiting for the checkpoint it made
// due. A machine crash at every 31st IO effect of the background
// checkpoints, under every crash fault: each image opens and verifies,
// holds every append acknowledged before the crash, in order, and each
// stream's key holds its last acknowledged put or a later one.
func TestCrashDuringBackgroundCheckpointRollsAndKv(t *testing.T) {
	fs := mock.New(1, mock.Options{})
	const writers, each, maxImages, stride = 3, 80, 200, 31
	pad := strings.Repeat("x", 1000)
	var mu sync.Mutex
	acked := make([][]string, writers)
	type image struct {
		disk  *mock.FS
		fault mock.Fault
		acked [][]string
	}
	var images []image
	n := 0
	kinds := mock.FaultKinds()
	opened := map[string]bool{} // the kinds of file the background opened
	before := func(e effect.Effect) {
		mu.Lock()
		defer mu.Unlock()
		if o, ok := e.(platform.Open); ok {
			opened[filepath.Ext(strings.TrimSuffix(o.Path, ".tmp"))] = true
		}
		n++
		if len(images) == maxImages || n%stride != 0 {
			return
		}
		f := mock.Fault{Kind: kinds[n%len(kinds)], Seed: uint64(n)}
		disk, _ := fs.Crash(f, uint64(n))
		cp := make([][]string, writers)
		for i := range acked {
			cp[i] = append([]string(nil), acked[i]...)
		}
		images = append(images, image{disk, f, cp})
	}
	opts := file.Options{CheckpointBytes: 1, SegmentSize: 64 << 10, Background: bgHandler(fs, before)}
	s := mockOpen(t, fs, opts)
	// One commit at a time, each then waiting for the checkpoint it
	// made due, so that every one makes one.
	for i := range each {
		for w := range writers {
			data := fmt.Sprintf("%d-%d-%s", w, i, pad)
			c := ops.Commit{
				Appends: []ops.Append{{Stream: fmt.Sprintf("s%d", w), Events: []ops.EventData{{Type: "t", Data: []byte(data)}}}},
				Kv:      []ops.KvChange{{Key: fmt.Sprintf("k%d", w), Value: []byte(strconv.Itoa(i))}},
			}
			_, err := mockDo(s, fs, c)
			require.NoError(t, err)
			mu.Lock()
			acked[w] = append(acked[w], data)
			mu.Unlock()
			want := uint64(i*writers + w + 1)
			for deadline := time.Now().Add(time.Minute); s.Stats().Checkpoints < want; {
				require.True(t, time.Now().Before(deadline), "commit %d made no checkpoint", want)
				time.Sleep(50 * time.Microsecond)
			}
		}
	}
	require.NoError(t, s.Close(effect.Handle(context.Background(), fs)))
	st := s.Stats()
	require.Positive(t, st.Checkpoints, "no checkpoint was written beside the commits")
	require.NoError(t, st.CheckpointFailure)
	require.True(t, opened[".idx"], "no segment index file was written in the background: the log did not roll")
	require.True(t, opened[".run"], "no kv run was written in the background")
	t.Logf("%d checkpoints, %d crash images of %d effects", st.Checkpoints, len(images), n)

	for i, im := range images {
		disk := im.disk
		s2, err := file.Open(effect.Handle(context.Background(), disk), mockDir, file.Options{SegmentSize: 64 << 10})
		require.NoError(t, err, "image %d %s", i, im.fault)
		for w := range writers {
			got := mockEvents(t, s2, disk, fmt.Sprintf("s%d", w))
			require.GreaterOrEqual(t, len(got), len(im.acked[w]), "image %d %s: stream s%d lost acknowledged commits", i, im.fault, w)
			if n := len(im.acked[w]); n > 0 {
				assert.Equal(t, im.acked[w], got[:n], "image %d %s: stream s%d", i, im.fault, w)
				e, err := effect.Perform(effect.Handle(context.Background(), s2, disk), ops.KvGet{Key: fmt.Sprintf("k%d", w)})
				require.NoError(t, err, "image %d %s", i, im.fault)
				require.NotNil(t, e, "image %d %s: key k%d lost", i, im.fault, w)
				v, err := strconv.Atoi(string(e.Value))
				require.NoError(t, err)
				assert.GreaterOrEqual(t, v, n-1, "image %d %s: key k%d went back", i, im.fault, w)
				assert.Less(t, v, len(got), "image %d %s: key k%d ahead of its stream", i, im.fault, w)
			}
		}
		require.NoError(t, s2.Close(effect.Handle(context.Background(), disk)), "image %d", i)
		disk.CloseAll()
		_, err = file.Verify(effect.Handle(context.Background(), disk), mockDir)
		require.NoError(t, err, "image %d %s", i, im.fault)
	}
	require.NotEmpty(t, images)
}
