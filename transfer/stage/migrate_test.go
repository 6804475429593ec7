package stage_test

import (
	"context"
	"encoding/binary"
	"fmt"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"rose-ash.com/persist/backends/file"
	"rose-ash.com/persist/backends/mem"
	"rose-ash.com/persist/backends/postgres"
	"rose-ash.com/persist/effect"
	"rose-ash.com/persist/ops"
	"rose-ash.com/persist/transfer"
	"rose-ash.com/persist/transfer/stage"
)

// liveWriter appends one event at a time, each with its own ID, to the
// store it is given; when a write is refused by a fence it waits for the
// new store and sends the same write there. It records every write that
// was acknowledged.
type liveWriter struct {
	mu       sync.Mutex
	acked    []uuid.UUID
	fenced   int
	movedTo  string
	next     chan effect.Handler // the new store, once published
	stop     chan struct{}
	done     chan error
	waitedMu sync.Mutex
	waited   time.Duration // the longest a write waited for the new store
}

func newWriter() *liveWriter {
	return &liveWriter{next: make(chan effect.Handler, 1), stop: make(chan struct{}), done: make(chan error, 1)}
}

func writerID(i int) uuid.UUID {
	var id uuid.UUID
	id[0] = 0x77
	binary.BigEndian.PutUint64(id[8:], uint64(i))
	id[6], id[8] = 0x40, id[8]|0x80
	return id
}

func (w *liveWriter) ackedCount() int {
	w.mu.Lock()
	defer w.mu.Unlock()
	return len(w.acked)
}

func (w *liveWriter) run(h effect.Handler) {
	p := effect.Handle(context.Background())
	switched := false
	for i := 0; ; i++ {
		if switched {
			select {
			case <-w.stop:
				w.done <- nil
				return
			default:
			}
		}
		time.Sleep(50 * time.Microsecond) // a busy service, not a benchmark
		id := writerID(i)
		var op effect.Effect = ops.Append{Stream: fmt.Sprintf("live/%d", i%3), Events: []ops.EventData{{ID: id, Type: "w", Data: []byte(fmt.Sprint(i))}}}
		for {
			_, err := h.Handle(p, op)
			if err == nil {
				w.mu.Lock()
				w.acked = append(w.acked, id)
				w.mu.Unlock()
				break
			}
			movedTo, ok := stage.IsFenced(err)
			if !ok || switched {
				w.done <- fmt.Errorf("write %d: %w", i, err)
				return
			}
			w.mu.Lock()
			w.fenced++
			w.movedTo = movedTo
			w.mu.Unlock()
			start := time.Now()
			select {
			case h = <-w.next:
			case <-time.After(2 * time.Minute):
				w.done <- fmt.Errorf("write %d: no new store after the fence", i)
				return
			}
			w.waitedMu.Lock()
			w.waited = max(w.waited, time.Since(start))
			w.waitedMu.Unlock()
			switched = true
		}
	}
}

// checkAll: the target holds the events before the writer and every
// acknowledged write exactly once, and nothing else.
func checkAll(t *testing.T, h effect.Handler, before int, acked []uuid.UUID) {
	t.Helper()
	p := effect.Handle(context.Background(), h)
	seen := map[uuid.UUID]int{}
	var n int
	for from := uint64(1); ; {
		r, err := effect.Perform(p, ops.ReadAll{From: from, Limit: ops.MaxPage})
		require.NoError(t, err)
		for _, e := range r.Events {
			require.Equal(t, from, e.Pos, "positions run without a gap")
			from++
			n++
			if e.Type == "w" {
				seen[e.ID]++
			}
		}
		if len(r.Events) == 0 {
			break
		}
	}
	for _, id := range acked {
		assert.Equal(t, 1, seen[id], "acknowledged write %s", id)
		delete(seen, id)
	}
	assert.Empty(t, seen, "writes in the target that were never acknowledged")
	assert.Equal(t, before+len(acked), n)
}

func seed(t testing.TB, h effect.Handler, n int) {
	t.Helper()
	p := effect.Handle(context.Background(), h)
	for i := 0; i < n; i += 100 {
		var evs []ops.EventData
		for j := range 100 {
			evs = append(evs, ops.EventData{Type: "seed", Data: []byte(fmt.Sprint(i + j))})
		}
		_, err := effect.Perform(p, ops.Append{Stream: fmt.Sprintf("seed/%d", i%700), Events: evs})
		require.NoError(t, err)
	}
	_, err := effect.Perform(p, ops.KvPut{Key: "cfg", Value: []byte("1")})
	require.NoError(t, err)
	_, err = effect.Perform(p, ops.SnapshotWrite{Snapshot: ops.Snapshot{Name: "seed/0", Version: 1, Seq: 100}})
	require.NoError(t, err)
}

// TestMigrateGateUnderWriter moves a store in memory to a file store
// while a writer keeps appending through a gate: the writer's refused
// write goes to the new store, and nothing is lost or duplicated.
func TestMigrateGateUnderWriter(t *testing.T) {
	ctx := context.Background()
	src := mem.New()
	defer src.Close()
	const before = 20000
	seed(t, src, before)
	gate := transfer.NewGate(src)
	dir := filepath.Join(t.TempDir(), "moved")
	st, err := stage.File(ctx, dir, file.Options{})
	require.NoError(t, err)

	w := newWriter()
	go w.run(gate)
	for w.ackedCount() < 200 {
		time.Sleep(time.Millisecond)
	}
	ctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	sum, err := transfer.Migrate(ctx, gate.Source(), st.Target(), transfer.MigrateOptions{MovedTo: dir, Lag: 100})
	require.NoError(t, err)
	dst, err := st.Publish(ctx)
	require.NoError(t, err)
	defer dst.Close()
	w.next <- dst
	at := w.ackedCount()
	for w.ackedCount() < at+200 {
		time.Sleep(time.Millisecond)
	}
	close(w.stop)
	require.NoError(t, <-w.done)
	t.Logf("migrated %d events in %d rounds, %s; fenced at %d, fenced for %s; the writer waited at most %s",
		sum.Counts.Events, sum.Rounds, sum.Took, sum.AtFence, sum.FencedFor, w.waited)
	assert.LessOrEqual(t, w.fenced, 1, "one write was refused, then sent to the new store")
	assert.Equal(t, dir, w.movedTo)
	checkAll(t, dst, before, w.acked)

	// The old store refuses writes, naming the new one.
	_, err = gate.Handle(effect.Handle(ctx), ops.KvPut{Key: "late"})
	require.ErrorIs(t, err, transfer.ErrFenced)
	assert.Contains(t, err.Error(), dir)
}

// TestMigratePostgresUnderWriter moves a PostgreSQL store to a file store
// while a writer in another connection pool (as another process would)
// keeps appending: the fence is in the database.
func TestMigratePostgresUnderWriter(t *testing.T) {
	ctx := context.Background()
	schema := pgSchema(t)
	src, err := postgres.Open(ctx, testDSN(), postgres.WithSchema(schema))
	require.NoError(t, err)
	defer src.Close()
	const before = 5000
	seed(t, src, before)
	other, err := postgres.Open(ctx, testDSN(), postgres.WithSchema(schema))
	require.NoError(t, err)
	defer other.Close()

	dir := filepath.Join(t.TempDir(), "moved")
	st, err := stage.File(ctx, dir, file.Options{})
	require.NoError(t, err)
	w := newWriter()
	go w.run(other)
	for w.ackedCount() < 100 {
		time.Sleep(time.Millisecond)
	}
	mctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	sum, err := transfer.Migrate(mctx, stage.PostgresSource(src, testDSN()), st.Target(), transfer.MigrateOptions{MovedTo: dir, Lag: 50})
	require.NoError(t, err)
	dst, err := st.Publish(ctx)
	require.NoError(t, err)
	defer dst.Close()
	w.next <- dst
	at := w.ackedCount()
	for w.ackedCount() < at+100 {
		time.Sleep(time.Millisecond)
	}
	close(w.stop)
	require.NoError(t, <-w.done)
	t.Logf("migrated %d events in %d rounds, %s; fenced at %d, fenced for %s; the writer waited at most %s",
		sum.Counts.Events, sum.Rounds, sum.Took, sum.AtFence, sum.FencedFor, w.waited)
	assert.Equal(t, dir, w.movedTo)
	checkAll(t, dst, before, w.acked)

	// Every writer of the schema is refused, naming the new store, and
	// writes nothing.
	for _, h := range []effect.Handler{src, other} {
		_, err = h.Handle(effect.Handle(ctx), ops.KvPut{Key: "late"})
		moved, ok := stage.IsFenced(err)
		require.True(t, ok, "%v", err)
		assert.Equal(t, dir, moved)
		assert.Contains(t, err.Error(), "moved to "+dir)
		_, err = h.Handle(effect.Handle(ctx), ops.SnapshotWrite{Snapshot: ops.Snapshot{Name: "late"}})
		_, ok = stage.IsFenced(err)
		assert.True(t, ok, "%v", err)
		// An append without IDs, which the store tries as a guessed
		// commit that writes no log_state.
		_, err = h.Handle(effect.Handle(ctx), ops.Append{Stream: "late", Events: []ops.EventData{{Type: "t"}}})
		_, ok = stage.IsFenced(err)
		assert.True(t, ok, "an append without IDs: %v", err)
	}
	got, err := effect.Perform(effect.Handle(ctx, src), ops.KvGet{Key: "late"})
	require.NoError(t, err)
	assert.Nil(t, got)

	// Unfenced, the source takes writes again.
	require.NoError(t, stage.PostgresSource(src, testDSN()).Unfence(ctx))
	_, err = src.Handle(effect.Handle(ctx), ops.KvPut{Key: "late"})
	require.NoError(t, err)
}
