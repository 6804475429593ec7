package file

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"rose-ash.com/persist/effect"
	"rose-ash.com/persist/ops"
	"rose-ash.com/persist/platform"
)

// ckptGate holds the creation of a checkpoint's temporary file until it
// is released, so that a test can commit while a checkpoint is being
// written.
type ckptGate struct {
	mu      sync.Mutex
	armed   bool
	reached chan struct{} // closed when a checkpoint write reaches the gate
	release chan struct{}
}

func newCkptGate() *ckptGate {
	return &ckptGate{reached: make(chan struct{}), release: make(chan struct{})}
}

func (g *ckptGate) arm() {
	g.mu.Lock()
	g.armed = true
	g.mu.Unlock()
}

func (g *ckptGate) Handle(_ *effect.P, e effect.Effect) (any, error) {
	o, ok := e.(platform.Open)
	if !ok || !strings.HasSuffix(o.Path, ckptSuffix+tmpSuffix) {
		return nil, effect.ErrUnhandled
	}
	g.mu.Lock()
	armed := g.armed
	g.armed = false
	g.mu.Unlock()
	if armed {
		close(g.reached)
		<-g.release
	}
	return nil, effect.ErrUnhandled
}

// A checkpoint is written after the leader that found it due has handed
// the leadership on: while it is being written, other writers commit, and
// the checkpoint then covers what was durable when it was captured.
func TestCheckpointBesideCommits(t *testing.T) {
	g := newCkptGate()
	e := newEnv(t, Options{CheckpointBytes: 4 << 10}, g)
	fill(t, e, 5) // below the checkpoint size
	g.arm()
	done := make(chan uint64)
	go func() {
		// The commit that makes a checkpoint due writes it.
		for {
			r, err := perform(e, ops.Append{Stream: "due", Events: evs(strings.Repeat("d", 1000))})
			if err != nil {
				t.Error(err)
				close(done)
				return
			}
			select {
			case <-g.reached:
				done <- r.LastPos
				return
			default:
			}
		}
	}()
	select {
	case <-g.reached:
	case <-time.After(30 * time.Second):
		t.Fatal("no checkpoint was written")
	}
	// Commits go on while the checkpoint is held.
	var wg sync.WaitGroup
	for i := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := range 5 {
				_, err := perform(e, ops.Append{Stream: fmt.Sprintf("w%d", i), Events: evs(fmt.Sprint(j))})
				assert.NoError(t, err)
			}
		}()
	}
	wg.Wait()
	assert.Equal(t, uint64(5), must(t, e, ops.Head{Stream: "w7"}), "commits went on beside the checkpoint")
	close(g.release)
	captured := <-done
	require.NotZero(t, captured)

	files := ckptFiles(t, e.dir)
	require.NotEmpty(t, files)
	b, err := os.ReadFile(files[len(files)-1])
	require.NoError(t, err)
	_, st, err := decodeCheckpoint(b, e.s.id)
	require.NoError(t, err)
	assert.Equal(t, captured, st.lastPos, "the checkpoint holds what was durable when it was captured")
	assert.Zero(t, st.memHead("w0"), "and nothing committed after")

	// Open from it replays the rest, and agrees with a full replay.
	d := digest(t, e)
	e.s.failed = fmt.Errorf("leave the checkpoint as it is")
	require.NoError(t, e.s.Close(e.p()))
	e.s = nil
	e.open(Options{})
	assert.Equal(t, d, digest(t, e))
	_, err = Verify(e.p(), e.dir)
	require.NoError(t, err)
}

// A store that fails while a checkpoint is being written renames none: the
// checkpoint's temporary file is removed.
func TestCheckpointOfAFailedStore(t *testing.T) {
	g := newCkptGate()
	f := &faulty{fail: platform.NameFdatasync}
	e := newEnv(t, Options{CheckpointBytes: 4 << 10}, g, f)
	fill(t, e, 5)
	before := ckptFiles(t, e.dir)
	g.arm()
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			if _, err := perform(e, ops.Append{Stream: "due", Events: evs(strings.Repeat("d", 1000))}); err != nil {
				t.Error(err)
				return
			}
			select {
			case <-g.reached:
				return
			default:
			}
		}
	}()
	<-g.reached
	f.armed.Store(true)
	_, err := perform(e, ops.Append{Stream: "s", Events: evs("lost")})
	require.ErrorIs(t, err, ErrFailed)
	close(g.release)
	<-done
	assert.Equal(t, before, ckptFiles(t, e.dir), "a failed store renames no checkpoint")
	tmps, err := filepath.Glob(filepath.Join(e.dir, logDir, "*"+tmpSuffix))
	require.NoError(t, err)
	assert.Empty(t, tmps)
	f.armed.Store(false)
	e.reopen(Options{})
	_, err = Verify(e.p(), e.dir)
	require.NoError(t, err)
}

// Many writers with a checkpoint due every few commits: checkpoints
// written beside commits, under the race detector, each one the index of
// a durable point of the log (Verify compares), and a reopen from the
// newest equal to a full replay.
func TestCheckpointsUnderLoad(t *testing.T) {
	e := newEnv(t, Options{SegmentSize: minSegmentSize, CheckpointBytes: 2 << 10})
	var wg sync.WaitGroup
	for w := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 60 {
				var err error
				if i%5 == 0 {
					_, err = perform(e, ops.KvPut{Key: fmt.Sprintf("k%d", i%7), Value: []byte(fmt.Sprint(w, i))})
				} else {
					_, err = perform(e, ops.Append{Stream: fmt.Sprintf("s%d", (w+i)%5), Events: evs(fmt.Sprintf("%d-%d-%0400d", w, i, i))})
				}
				assert.NoError(t, err)
			}
		}()
	}
	wg.Wait()
	require.Greater(t, e.s.Stats().Segments, 2)
	d := digest(t, e)
	e.s.failed = fmt.Errorf("keep the checkpoints written under load")
	require.NoError(t, e.s.Close(e.p()))
	e.s = nil
	require.NotEmpty(t, ckptFiles(t, e.dir))
	rep, err := Verify(e.p(), e.dir)
	require.NoError(t, err)
	assert.NotZero(t, rep.Checkpoint)
	e.open(Options{SegmentSize: minSegmentSize})
	assert.NotZero(t, e.s.Recovery().Checkpoint)
	assert.Equal(t, d, digest(t, e))
	e.close()
	dropCheckpoints(t, e.dir)
	e.open(Options{SegmentSize: minSegmentSize})
	assert.Equal(t, d, digest(t, e), "a full replay agrees")
}
