package file_test

import (
	"context"
	"fmt"
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

// bgHandler answers the effects of a store's background work
// (Options.Background) on fs, calling before (when set) ahead of each.
func bgHandler(fs *mock.FS, before func(effect.Effect)) effect.Handler {
	return effect.HandlerFunc(func(_ *effect.P, e effect.Effect) (any, error) {
		if before != nil {
			before(e)
		}
		return effect.Handle(context.Background(), fs).Send(e)
	})
}

// isCkptTmp reports whether e opens a checkpoint's temporary file.
func isCkptTmp(e effect.Effect) bool {
	o, ok := e.(platform.Open)
	return ok && strings.HasSuffix(o.Path, ".ckpt.tmp")
}

// A machine crash at every IO effect of the checkpoints that commits
// make due and the store writes in the background, beside four writers,
// under every crash fault: each image opens, verifies, and holds every
// commit acknowledged before the crash, in order. Some crash lands while
// a checkpoint's temporary file is there, so the kill hit one being
// written.
func TestCrashDuringBackgroundCheckpoint(t *testing.T) {
	fs := mock.New(1, mock.Options{})
	const writers, each, maxImages = 4, 30, 120
	var mu sync.Mutex
	acked := make([][]string, writers) // per stream, in order
	type image struct {
		disk  *mock.FS
		fault mock.Fault
		acked [][]string
	}
	var images []image
	n := 0
	kinds := mock.FaultKinds()
	before := func(effect.Effect) {
		mu.Lock()
		defer mu.Unlock()
		if len(images) == maxImages {
			return
		}
		n++
		f := mock.Fault{Kind: kinds[n%len(kinds)], Seed: uint64(n)}
		disk, _ := fs.Crash(f, uint64(n))
		cp := make([][]string, writers)
		for i := range acked {
			cp[i] = append([]string(nil), acked[i]...)
		}
		images = append(images, image{disk, f, cp})
	}
	opts := file.Options{CheckpointBytes: 1, Background: bgHandler(fs, before)}
	s := mockOpen(t, fs, opts)
	var wg sync.WaitGroup
	for w := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			stream := fmt.Sprintf("s%d", w)
			for i := range each {
				data := fmt.Sprintf("%d-%d", w, i)
				if _, err := mockDo(s, fs, ops.Append{Stream: stream, Events: []ops.EventData{{Type: "t", Data: []byte(data)}}}); err != nil {
					t.Error(err)
					return
				}
				mu.Lock()
				acked[w] = append(acked[w], data)
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	require.NoError(t, s.Close(effect.Handle(context.Background(), fs)))
	st := s.Stats() // Close waited for the checkpoint in the background
	require.Positive(t, st.Checkpoints, "no checkpoint was written beside the commits")
	require.NoError(t, st.CheckpointFailure)

	midWrite := 0
	for i, im := range images {
		for _, f := range im.disk.Files() {
			if strings.HasSuffix(f.Path, ".ckpt.tmp") {
				midWrite++
				break
			}
		}
		disk := im.disk
		s2, err := file.Open(effect.Handle(context.Background(), disk), mockDir, file.Options{})
		require.NoError(t, err, "image %d %s", i, im.fault)
		for w := range writers {
			got := mockEvents(t, s2, disk, fmt.Sprintf("s%d", w))
			require.GreaterOrEqual(t, len(got), len(im.acked[w]), "image %d %s: stream s%d lost acknowledged commits", i, im.fault, w)
			if n := len(im.acked[w]); n > 0 {
				assert.Equal(t, im.acked[w], got[:n], "image %d %s: stream s%d", i, im.fault, w)
			}
		}
		require.NoError(t, s2.Close(effect.Handle(context.Background(), disk)), "image %d", i)
		disk.CloseAll()
		_, err = file.Verify(effect.Handle(context.Background(), disk), mockDir)
		require.NoError(t, err, "image %d %s", i, im.fault)
	}
	require.NotEmpty(t, images)
	assert.Positive(t, midWrite, "no crash landed while a checkpoint file was being written")
}

// Close waits for a checkpoint being written in the background: it does
// not return while the checkpoint's IO is held, and once it is let go
// the store closes with that checkpoint in place and no temporary file.
func TestCloseWaitsForBackgroundCheckpoint(t *testing.T) {
	fs := mock.New(1, mock.Options{})
	held, release := make(chan struct{}), make(chan struct{})
	var once sync.Once
	before := func(e effect.Effect) {
		if isCkptTmp(e) {
			once.Do(func() {
				close(held)
				<-release
			})
		}
	}
	s := mockOpen(t, fs, file.Options{CheckpointBytes: 1, Background: bgHandler(fs, before)})
	r := mockAppend(t, s, fs, "s", "1") // answered though its checkpoint is held
	<-held
	closed := make(chan error, 1)
	go func() { closed <- s.Close(effect.Handle(context.Background(), fs)) }()
	select {
	case err := <-closed:
		t.Fatalf("Close returned (%v) while a background checkpoint was being written", err)
	case <-time.After(50 * time.Millisecond):
	}
	close(release)
	require.NoError(t, <-closed)
	names := ckptFiles(fs)
	assert.NotContains(t, strings.Join(names, " "), ".tmp")
	require.NotEmpty(t, names)
	s2 := mockOpen(t, fs, file.Options{})
	assert.Equal(t, []string{"1"}, mockEvents(t, s2, fs, "s"))
	assert.Equal(t, r.LastPos, s2.Stats().Events)
	require.NoError(t, s2.Close(effect.Handle(context.Background(), fs)))
}

// A store that fails (a log fdatasync fails) while a checkpoint is
// being written in the background keeps none of it: no new checkpoint,
// no temporary file; the failure is in Stats. Close, which writes no
// checkpoint of a failed store, still waits for that one before it
// releases the files.
func TestFailedStoreKeepsNoBackgroundCheckpoint(t *testing.T) {
	fs := mock.New(1, mock.Options{})
	held, release := make(chan struct{}), make(chan struct{})
	var once sync.Once
	before := func(e effect.Effect) {
		if isCkptTmp(e) {
			once.Do(func() {
				close(held)
				<-release
			})
		}
	}
	s := mockOpen(t, fs, file.Options{CheckpointBytes: 1, Background: bgHandler(fs, before)})
	had := ckptFiles(fs)
	mockAppend(t, s, fs, "s", "1")
	<-held
	fs.Inject(mock.Fail(0, mock.Syncs(), mock.Action{Kind: mock.ActEIO}))
	_, err := mockDo(s, fs, ops.Append{Stream: "s", Events: []ops.EventData{{Type: "t", Data: []byte("2")}}})
	require.ErrorIs(t, err, file.ErrFailed)
	closed := make(chan struct{})
	go func() {
		_ = s.Close(effect.Handle(context.Background(), fs))
		close(closed)
	}()
	select {
	case <-closed:
		t.Fatal("Close of the failed store returned while a background checkpoint was being written")
	case <-time.After(50 * time.Millisecond):
	}
	close(release)
	<-closed
	st := s.Stats()
	assert.True(t, st.Failed)
	assert.Equal(t, uint64(1), st.Checkpoints)
	assert.Equal(t, uint64(1), st.CheckpointFailures)
	assert.ErrorIs(t, st.CheckpointFailure, file.ErrFailed)
	assert.Equal(t, had, ckptFiles(fs), "the failed store left a checkpoint file")

	fs.CloseAll()
	s2 := mockOpen(t, fs, file.Options{})
	assert.Equal(t, []string{"1"}, mockEvents(t, s2, fs, "s"))
	require.NoError(t, s2.Close(effect.Handle(context.Background(), fs)))
}

// ckptFiles lists the checkpoint files (temporary ones too) of fs's
// live tree.
func ckptFiles(fs *mock.FS) []string {
	var out []string
	for _, f := range fs.Files() {
		if strings.Contains(f.Path, ".ckpt") {
			out = append(out, f.Path)
		}
	}
	return out
}
