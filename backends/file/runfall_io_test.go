package file

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"

	"github.com/stretchr/testify/require"

	"rose-ash.com/persist/effect"
	"rose-ash.com/persist/ops"
	"rose-ash.com/persist/platform"
)

// runReadFail fails with EIO every read of a kv run file at the offset
// of its block 0, while on is set.
type runReadFail struct {
	mu  sync.Mutex
	fds map[platform.FD]bool
	on  bool
	hit int
}

func (f *runReadFail) Handle(p *effect.P, e effect.Effect) (any, error) {
	switch e := e.(type) {
	case platform.Open:
		v, err := p.Send(e)
		if fd, ok := v.(platform.FD); ok && err == nil && strings.HasSuffix(e.Path, kvRunSuffix) {
			f.mu.Lock()
			f.fds[fd] = true
			f.mu.Unlock()
		}
		return v, err
	case platform.ReadAt:
		f.mu.Lock()
		bad := f.on && f.fds[e.FD] && e.Off == int64(kvRunHeader)
		if bad {
			f.hit++
		}
		f.mu.Unlock()
		if bad {
			return nil, syscall.EIO
		}
	}
	return nil, effect.ErrUnhandled
}

// An IO error reading a run block the replay after the checkpoint
// needs is not damage: Open, a follower and Verify fail with it rather
// than pass the checkpoint over, and the failed Open leaves no file open.
func TestOpenRunIOErrorInReplayFails(t *testing.T) {
	opts := Options{SegmentSize: 64 << 10, KvHistory: 3}
	e, bad, _ := kvDamagedStore(t, opts)
	runs, err := filepath.Glob(filepath.Join(e.dir, logDir, "kv-*.run"))
	require.NoError(t, err)
	for _, path := range runs {
		require.NoError(t, os.Remove(path))
	}
	e.open(opts) // passes the checkpoints over, rebuilds from the log
	e.close()    // a checkpoint with a good run
	e.open(opts)
	must(t, e, ops.KvPut{Key: bad, Value: []byte("tail")})
	crash := t.TempDir() + "/data"
	copyDir(t, e.dir, crash)
	e.close()
	f := &runReadFail{fds: map[platform.FD]bool{}, on: true}
	d := &env{t: t, dir: crash, os: &platform.OS{}, hs: []effect.Handler{f}}
	_, err = Open(d.p(), crash, opts)
	require.Positive(t, f.hit, "the replay reads block 0 of the run")
	require.ErrorIs(t, err, syscall.EIO, "Open")
	require.False(t, errors.Is(err, ErrCorrupt), "Open: %v", err)
	require.Zero(t, d.os.OpenFiles(), "the failed Open leaves no file open")
	_, err = OpenReadOnly(d.p(), crash, Options{})
	require.ErrorIs(t, err, syscall.EIO, "a follower")
	require.False(t, errors.Is(err, ErrCorrupt), "a follower: %v", err)
	_, err = Verify(d.p(), crash)
	require.ErrorIs(t, err, syscall.EIO, "Verify")
	require.False(t, errors.Is(err, ErrCorrupt), "Verify: %v", err)
	require.Zero(t, d.os.OpenFiles(), "a follower and Verify leave no file open")
	f.mu.Lock()
	f.on = false
	f.mu.Unlock()
	d.open(opts)
	require.Equal(t, "tail", string(must(t, d, ops.KvGet{Key: bad}).Value), "the read that works opens from the checkpoint")
	require.Zero(t, d.s.Recovery().CheckpointsSkipped)
	d.close()
}
