package file

import (
	"fmt"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"

	"rose-ash.com/persist/effect"
	"rose-ash.com/persist/ops"
	"rose-ash.com/persist/platform"
)

// A stream run's block reads that miss the block cache (none kept here)
// open the run's file once, on the first, and keep the descriptor until
// the run is closed: Open and reads of every stream from the runs, again
// and again from three goroutines, open each run once past the open of
// its header; Close leaves no file open.
func TestStreamRunKeepsItsDescriptor(t *testing.T) {
	var mu sync.Mutex
	opens := map[string]int{}
	count := effect.HandlerFunc(func(p *effect.P, ef effect.Effect) (any, error) {
		if o, ok := ef.(platform.Open); ok && strings.HasPrefix(filepath.Base(o.Path), streamRunPrefix) {
			mu.Lock()
			opens[filepath.Base(o.Path)]++
			mu.Unlock()
		}
		return nil, effect.ErrUnhandled
	})
	opts := streamLookupOpts
	opts.IndexCacheBytes = -1
	e := newEnv(t, opts, count)
	for round := range 2 {
		for i := range 40 {
			if round == 1 && i%3 != 0 {
				continue
			}
			must(t, e, ops.Append{Stream: fmt.Sprintf("s%02d", i), Events: evs("x")})
		}
		fillSegment(t, e)
		if round == 1 {
			e.close()
			mu.Lock()
			clear(opens)
			mu.Unlock()
			e.open(opts)
		} else {
			e.reopen(opts)
		}
	}
	e.s.mu.RLock()
	runs := len(e.s.st.stRuns.runs)
	e.s.mu.RUnlock()
	require.Equal(t, 2, runs)
	var wg sync.WaitGroup
	for range 3 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range 5 {
				for i := range 40 {
					if _, err := perform(e, ops.Head{Stream: fmt.Sprintf("s%02d", i)}); err != nil {
						t.Error(err)
						return
					}
				}
			}
		}()
	}
	wg.Wait()
	mu.Lock()
	require.Len(t, opens, runs, "every run read")
	for name, n := range opens {
		// Once for its header at Open, once for its blocks.
		require.Equal(t, 2, n, "opens of %s", name)
	}
	mu.Unlock()
	e.close()
	require.Zero(t, e.os.OpenFiles(), "Close leaves no file open")
}
