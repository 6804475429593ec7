package file

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/google/uuid"

	"rose-ash.com/persist/effect"
	"rose-ash.com/persist/ops"
	"rose-ash.com/persist/platform"
)

// BenchmarkWaitBesideCheckpoint times Close (PERSIST_WAIT_OP=close)
// or Compact (=compact) called 50 ms into the first checkpoint beside
// commits of a store of 1 M events with IDs in 10,000 streams (16 MiB
// segments) left with its whole log unindexed, so that the checkpoint
// reads every sealed segment for its ID entries. No commit runs
// meanwhile: whatever the checkpoint rests is time the caller waits.
// The store is built once under PERSIST_SCALE_DIR and copied for each
// round. It reports the median time the call took.
func BenchmarkWaitBesideCheckpoint(b *testing.B) {
	root := os.Getenv("PERSIST_SCALE_DIR")
	if root == "" {
		b.Skip("PERSIST_SCALE_DIR")
	}
	const events = 1_000_000
	pristine := filepath.Join(root, "pristine")
	h := &platform.OS{}
	opts := Options{SegmentSize: 16 << 20, CheckpointBytes: -1}
	if _, err := os.Stat(filepath.Join(pristine, identityFile)); err != nil {
		bp := effect.Handle(context.Background(), nosync{}, h)
		s, err := Open(bp, pristine, opts)
		if err != nil {
			b.Fatal(err)
		}
		p := effect.Handle(context.Background(), s, nosync{}, h)
		ev := []ops.EventData{{Type: "t", Data: make([]byte, 100)}}
		for i := range events {
			ev[0].ID = uuid.New()
			if _, err := effect.Perform(p, ops.Append{Stream: fmt.Sprint("s", i%10000), Events: ev}); err != nil {
				b.Fatal(err)
			}
		}
		s.mu.Lock()
		s.failed = fmt.Errorf("left with its tail")
		s.mu.Unlock()
		_ = s.Close(bp)
	}
	op := os.Getenv("PERSIST_WAIT_OP")
	delay := 50 * time.Millisecond
	var closes, ckpts []time.Duration
	for b.Loop() {
		dir := filepath.Join(root, "run")
		_ = os.RemoveAll(dir)
		if out, err := exec.Command("cp", "-a", pristine, dir).CombinedOutput(); err != nil {
			b.Fatal(err, string(out))
		}
		p := effect.Handle(context.Background(), h)
		o := opts
		o.Background = h
		s, err := Open(p, dir, o)
		if err != nil {
			b.Fatal(err)
		}
		sp := effect.Handle(context.Background(), s, h)
		s.opts.CheckpointBytes = 1
		start := time.Now()
		if _, err := effect.Perform(sp, ops.Append{Stream: "x", Events: []ops.EventData{{Type: "t"}}}); err != nil {
			b.Fatal(err)
		}
		s.opts.CheckpointBytes = -1
		time.Sleep(delay)
		s.ckMu.Lock()
		busy := s.ckptBusy
		s.ckMu.Unlock()
		if !busy {
			b.Logf("checkpoint done before %v", delay)
		}
		t0 := time.Now()
		if op == "compact" {
			if _, err := s.Compact(p, CompactOptions{}); err != nil {
				b.Fatal(err)
			}
			closes = append(closes, time.Since(t0))
			ckpts = append(ckpts, time.Since(start))
			_ = s.Close(p)
		} else {
			if err := s.Close(p); err != nil {
				b.Fatal(err)
			}
			closes = append(closes, time.Since(t0))
		}
	}
	b.ReportMetric(float64(quantile(closes, 0.5).Microseconds())/1e3, "wait-ms")
	b.Logf("%s: %v", op, closes)
}
