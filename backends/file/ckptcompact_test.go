package file

import (
	"context"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"rose-ash.com/persist/backends/mock"
	"rose-ash.com/persist/effect"
	"rose-ash.com/persist/ops"
	"rose-ash.com/persist/platform"
)

// A Compact that arrives while a commit's leader is in flight, and that
// leader then makes a checkpoint due, must not hold every operation off
// while that checkpoint is written in the background: Compact waits for
// a checkpoint in progress before it takes the store's operation lock,
// and the one the leader claimed is written on a goroutine that holds
// nothing of it, each of its pieces waiting for a group that cannot be
// published while Compact holds the lock.
func TestCompactHoldsNoOperationOffWhileBackgroundCheckpoint(t *testing.T) {
	fs := mock.New(1, mock.Options{})
	var s *Store
	var heldOff, writes atomic.Int64
	waited := make(chan struct{})
	var once sync.Once
	bg := effect.HandlerFunc(func(_ *effect.P, e effect.Effect) (any, error) {
		// The checkpoint's first file: its stream run (a run
		// file, written before the checkpoint file).
		if o, ok := e.(platform.Open); ok && (strings.HasSuffix(o.Path, ".ckpt.tmp") || strings.HasSuffix(o.Path, ".run.tmp")) {
			once.Do(func() {
				// Compact waits for the operation lock or holds it
				// (the leader's claim came first); let it settle: give
				// the lock back, or keep it (5 s).
				deadline := time.Now().Add(5 * time.Second)
				for time.Now().Before(deadline) {
					if s.opMu.TryRLock() {
						s.opMu.RUnlock()
						break
					}
					time.Sleep(time.Millisecond)
				}
				close(waited)
			})
		}
		if _, ok := e.(platform.WriteAt); ok {
			writes.Add(1)
			if s.opMu.TryRLock() {
				s.opMu.RUnlock()
			} else {
				heldOff.Add(1)
			}
		}
		return effect.Handle(context.Background(), fs).Send(e)
	})
	var err error
	s, err = Open(effect.Handle(context.Background(), fs), "/data", Options{CheckpointBytes: 1, Background: bg})
	require.NoError(t, err)

	// A leader held at its log fdatasync, holding the operation lock shared.
	var armed atomic.Bool
	inSync, letSync := make(chan struct{}), make(chan struct{})
	hold := effect.HandlerFunc(func(_ *effect.P, e effect.Effect) (any, error) {
		if _, ok := e.(platform.Fdatasync); ok && armed.CompareAndSwap(true, false) {
			close(inSync)
			<-letSync
		}
		return nil, effect.ErrUnhandled
	})
	armed.Store(true)
	appended := make(chan error, 1)
	go func() {
		_, err := effect.Perform(effect.Handle(context.Background(), s, hold, fs),
			ops.Append{Stream: "s", Events: []ops.EventData{{Type: "t", Data: []byte("1")}}})
		appended <- err
	}()
	<-inSync
	compacted := make(chan error, 1)
	go func() {
		_, err := s.Compact(effect.Handle(context.Background(), fs), CompactOptions{})
		compacted <- err
	}()
	// Compact found no checkpoint in progress and waits for the lock.
	for s.opMu.TryRLock() {
		s.opMu.RUnlock()
		time.Sleep(time.Millisecond)
	}
	close(letSync)
	require.NoError(t, <-appended)
	<-waited
	require.NoError(t, <-compacted)
	require.NoError(t, s.Close(effect.Handle(context.Background(), fs)))
	require.Positive(t, writes.Load(), "no checkpoint was written in the background")
	require.Zero(t, heldOff.Load(), "%d of %d writes of the background checkpoint ran with every operation held off by Compact", heldOff.Load(), writes.Load())
}
