package postgres_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"rose-ash.com/persist/backends/postgres"
	"rose-ash.com/persist/effect"
	"rose-ash.com/persist/ops"
)

// restartEnv turns TestServerRestart on: it restarts the PostgreSQL server
// of the machine (pg_ctlcluster), which every other user of that server
// notices, so it runs only when asked.
const restartEnv = "PERSIST_TEST_PG_RESTART"

// cluster is the "VERSION main" of the machine's PostgreSQL cluster.
func cluster(t *testing.T) []string {
	t.Helper()
	entries, err := os.ReadDir("/etc/postgresql")
	if err != nil || len(entries) != 1 {
		t.Skipf("no single PostgreSQL cluster to restart: %v", err)
	}
	return []string{entries[0].Name(), "main"}
}

func pgctl(t *testing.T, verb string, extra ...string) {
	t.Helper()
	args := append([]string{"--skip-systemctl-redirect"}, cluster(t)...)
	args = append(append(args, verb), extra...)
	out, err := exec.Command("pg_ctlcluster", args...).CombinedOutput()
	require.NoError(t, err, "pg_ctlcluster %s: %s", strings.Join(args, " "), out)
}

// TestServerRestart restarts the server under a load of 16 writers, each
// appending to its own stream with Exact expectations. Commits in flight
// fail with ErrNotWritten or ErrOutcomeUnknown (the store resolves most
// unknown outcomes itself by retrying with the same IDs), the pool
// reconnects, and at the end every acknowledged append is in the log at
// the seq and position it was acknowledged with, seqs without gap.
func TestServerRestart(t *testing.T) {
	if os.Getenv(restartEnv) != "1" {
		t.Skipf("restarts the PostgreSQL server: set %s=1 to run", restartEnv)
	}
	schema := freshSchema(t)
	t.Cleanup(func() {
		// Never leave the server down.
		if exec.Command("pg_isready", "-q", "-h", "127.0.0.1").Run() != nil {
			pgctl(t, "start")
		}
	})
	ctx := context.Background()
	s, err := postgres.Open(ctx, testDSN(), postgres.WithSchema(schema), postgres.WithCommitTimeout(20*time.Second))
	require.NoError(t, err)
	defer s.Close()

	const writers = 16
	var stop atomic.Bool
	var wg sync.WaitGroup
	acks := make([][]ops.AppendResult, writers)
	var mu sync.Mutex
	errs := map[string]int{}
	var failed atomic.Int64
	for w := range writers {
		wg.Go(func() {
			p := effect.Handle(ctx, s)
			stream := fmt.Sprintf("w%d", w)
			var head uint64
			for !stop.Load() {
				r, err := effect.Perform(p, ops.Append{Stream: stream, Expect: ops.Exact(head), Events: []ops.EventData{{Type: "t"}, {Type: "t"}}})
				if err == nil {
					mu.Lock()
					acks[w] = append(acks[w], r)
					mu.Unlock()
					head = r.Head
					continue
				}
				failed.Add(1)
				clear := errors.Is(err, postgres.ErrNotWritten) || errors.Is(err, postgres.ErrOutcomeUnknown) || errors.Is(err, ops.ErrConflict)
				assert.True(t, clear, "an error that says neither written nor unknown: %v", err)
				msg := err.Error()
				if i := strings.Index(msg, " (SQLSTATE"); i > 0 {
					msg = msg[:i]
				}
				mu.Lock()
				errs[msg]++
				mu.Unlock()
				// Learn where the stream is now, once the server is back.
				for !stop.Load() {
					h, err := effect.Perform(p, ops.Head{Stream: stream})
					if err == nil {
						head = h
						break
					}
					time.Sleep(50 * time.Millisecond)
				}
			}
		})
	}
	time.Sleep(500 * time.Millisecond)
	before := countAcks(acks, &mu)
	pgctl(t, "restart", "-m", "fast")
	restarted := time.Now()
	// Run on until every writer has been acknowledged after the restart.
	for time.Since(restarted) < 15*time.Second {
		time.Sleep(200 * time.Millisecond)
		if countAcks(acks, &mu) > before+4*writers {
			break
		}
	}
	time.Sleep(500 * time.Millisecond)
	stop.Store(true)
	wg.Wait()
	total := countAcks(acks, &mu)
	require.Greater(t, total, before+writers, "appends acknowledged after the restart: the pool did not reconnect")
	p := effect.Handle(ctx, s)
	for w, rs := range acks {
		stream := fmt.Sprintf("w%d", w)
		page, err := effect.Perform(p, ops.Read{Stream: stream, Limit: ops.MaxPage})
		require.NoError(t, err)
		for i, ev := range page.Events {
			require.Equal(t, uint64(i+1), ev.Seq, "seqs of %s", stream)
		}
		for _, r := range rs {
			if assert.GreaterOrEqual(t, uint64(len(page.Events)), r.Head, "acknowledged %s head %d", stream, r.Head) {
				assert.Equal(t, r.LastPos, page.Events[r.Head-1].Pos, "position of %s seq %d", stream, r.Head)
			}
		}
	}
	t.Logf("%d appends acknowledged (%d before the restart), %d failed; errors seen:", total, before, failed.Load())
	for msg, n := range errs {
		t.Logf("  %d× %s", n, msg)
	}
}

func countAcks(acks [][]ops.AppendResult, mu *sync.Mutex) int {
	mu.Lock()
	defer mu.Unlock()
	n := 0
	for _, a := range acks {
		n += len(a)
	}
	return n
}
