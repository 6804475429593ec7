package stage_test

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"rose-ash.com/persist/backends/file"
	"rose-ash.com/persist/effect"
	"rose-ash.com/persist/ops"
	"rose-ash.com/persist/transfer"
	"rose-ash.com/persist/transfer/stage"
)

// TestFigures measures, side by side in one run, what persist bench's W3
// (appends of 1,000 events to one stream of a file store) and W4 (its
// replay) take beside an export of that store, an import of the export
// into a fresh file store, and a migration of the store to another file
// store while a writer appends (its whole time, and how long writes were
// fenced). It asserts nothing about time; it is skipped unless
// PERSIST_FIGURES is set (to the number of events; 1 means 1,000,000).
//
//	PERSIST_FIGURES=1 go test ./transfer/stage -run Figures -v
func TestFigures(t *testing.T) {
	n, _ := strconv.Atoi(os.Getenv("PERSIST_FIGURES"))
	if n == 0 {
		t.Skip("set PERSIST_FIGURES (events; 1 for 1,000,000) to measure")
	}
	if n == 1 {
		n = 1_000_000
	}
	ctx := context.Background()
	rate := func(d time.Duration) string { return fmt.Sprintf("%8.0f events/s", float64(n)/d.Seconds()) }
	for round := range 2 {
		root := t.TempDir()
		st, err := stage.File(ctx, filepath.Join(root, "w3"), file.Options{})
		require.NoError(t, err)
		// W3 on a real file store (syncs on: Publish reopens it).
		src, err := st.Publish(ctx)
		require.NoError(t, err)
		p := effect.Handle(ctx, src)
		batch := make([]ops.EventData, 1000)
		for i := range batch {
			batch[i] = ops.EventData{Type: "bench", Data: []byte(`{"n":1234567,"s":"sixty-four bytes of event data, give or take"}`)}
		}
		start := time.Now()
		for done := 0; done < n; done += 1000 {
			_, err := effect.Perform(p, ops.Append{Stream: "w3", Expect: ops.Exact(uint64(done)), Events: batch})
			require.NoError(t, err)
		}
		w3 := time.Since(start)
		start = time.Now()
		for from := uint64(1); from <= uint64(n); {
			r, err := effect.Perform(p, ops.Read{Stream: "w3", From: from, Limit: ops.MaxPage})
			require.NoError(t, err)
			from += uint64(len(r.Events))
		}
		w4 := time.Since(start)

		var exp bytes.Buffer
		start = time.Now()
		_, err = transfer.Export(ctx, src, &exp)
		require.NoError(t, err)
		ex := time.Since(start)

		st2, err := stage.File(ctx, filepath.Join(root, "imported"), file.Options{})
		require.NoError(t, err)
		start = time.Now()
		_, err = transfer.Import(ctx, bytes.NewReader(exp.Bytes()), st2.Target())
		require.NoError(t, err)
		imp, err := st2.Publish(ctx)
		require.NoError(t, err)
		im := time.Since(start)
		require.NoError(t, imp.Close())

		gate := transfer.NewGate(src)
		st3, err := stage.File(ctx, filepath.Join(root, "migrated"), file.Options{})
		require.NoError(t, err)
		w := newWriter()
		go w.run(gate)
		start = time.Now()
		sum, err := transfer.Migrate(ctx, gate.Source(), st3.Target(), transfer.MigrateOptions{MovedTo: "migrated"})
		require.NoError(t, err)
		dst, err := st3.Publish(ctx)
		require.NoError(t, err)
		mig := time.Since(start)
		w.next <- dst
		close(w.stop)
		require.NoError(t, <-w.done)
		require.NoError(t, dst.Close())
		require.NoError(t, src.Close())

		t.Logf("round %d, %d events, export %d MiB", round+1, n, exp.Len()>>20)
		t.Logf("  W3 append (1,000 per append) %8.2fs %s", w3.Seconds(), rate(w3))
		t.Logf("  W4 replay                    %8.2fs %s", w4.Seconds(), rate(w4))
		t.Logf("  export                       %8.2fs %s", ex.Seconds(), rate(ex))
		t.Logf("  import (incl. sync, publish) %8.2fs %s", im.Seconds(), rate(im))
		t.Logf("  migrate under a writer       %8.2fs, %d rounds, fenced for %s (digests included), the writer waited %s",
			mig.Seconds(), sum.Rounds, sum.FencedFor.Round(time.Millisecond), w.waited.Round(time.Millisecond))
	}
}
