package postgres_test

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"rose-ash.com/persist/backends/postgres"
	"rose-ash.com/persist/effect"
	"rose-ash.com/persist/ops"
)

// TestWaitAcrossProcesses follows appends made by another process with
// polling turned off (an hour), so that only notifications can wake the
// waits, and reports how long after the append was acknowledged this
// process saw it.
func TestWaitAcrossProcesses(t *testing.T) {
	t.Parallel()
	schema := freshSchema(t)
	ctx := context.Background()
	s, err := postgres.Open(ctx, testDSN(), postgres.WithSchema(schema), postgres.WithPollInterval(time.Hour))
	require.NoError(t, err)
	defer s.Close()
	p := effect.Handle(ctx, s)
	// Start listening before the writer starts.
	r, err := effect.Perform(p, ops.Wait{Stream: "ping", Timeout: time.Millisecond})
	require.NoError(t, err)
	require.False(t, r.Passed)

	const count = 200
	c := startChild(t, "pinger", map[string]string{"SCHEMA": schema, "EVERY_MS": "10", "COUNT": fmt.Sprint(count)})
	seenAt := map[uint64]int64{}
	var head uint64
	for head < count {
		w, err := effect.Perform(p, ops.Wait{Stream: "ping", After: head, Timeout: 10 * time.Second})
		require.NoError(t, err)
		now := time.Now().UnixNano()
		require.True(t, w.Passed, "wait after head %d timed out: a notification was lost", head)
		page, err := effect.Perform(p, ops.Read{Stream: "ping", From: head + 1})
		require.NoError(t, err)
		for _, ev := range page.Events {
			seenAt[ev.Pos] = now
			head = ev.Seq
		}
	}
	require.NoError(t, c.cmd.Wait(), "pinger: %s", c.err.String())
	var lat []time.Duration
	for _, line := range strings.Split(c.out.String(), "\n") {
		f := strings.Fields(line)
		if len(f) != 3 || f[0] != "ping" {
			continue
		}
		pos, _ := strconv.ParseUint(f[1], 10, 64)
		ackNanos, _ := strconv.ParseInt(f[2], 10, 64)
		seen, ok := seenAt[pos]
		require.True(t, ok, "position %d never seen", pos)
		lat = append(lat, max(time.Duration(seen-ackNanos), 0))
	}
	require.Len(t, lat, count)
	slices.Sort(lat)
	t.Logf("follow latency across processes, from the writer's acknowledgement, %d appends: p50 %v, p99 %v, max %v",
		len(lat), lat[len(lat)/2], lat[len(lat)*99/100], lat[len(lat)-1])
}

// TestWaitPollFallback commits behind the store's back, the way a commit
// does but without a notification (a lost one), and checks that a pending
// wait still sees it, by polling.
func TestWaitPollFallback(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	schema := freshSchema(t)
	s, err := postgres.Open(ctx, testDSN(), postgres.WithSchema(schema), postgres.WithPollInterval(50*time.Millisecond))
	require.NoError(t, err)
	defer s.Close()
	p := effect.Handle(ctx, s)
	done := make(chan ops.WaitResult, 1)
	go func() {
		r, err := effect.Perform(p, ops.Wait{Stream: "s", Timeout: 20 * time.Second})
		assert.NoError(t, err)
		done <- r
	}()
	time.Sleep(100 * time.Millisecond)
	q := pgx.Identifier{schema}.Sanitize()
	conn, err := pgx.Connect(ctx, testDSN())
	require.NoError(t, err)
	defer conn.Close(ctx)
	tx, err := conn.Begin(ctx)
	require.NoError(t, err)
	for _, sql := range []string{
		"SELECT last_pos FROM " + q + ".log_state FOR UPDATE",
		"INSERT INTO " + q + ".events (pos, stream, seq, id, type, at, data) VALUES (1, 's', 1, gen_random_uuid(), 't', 0, '')",
		"INSERT INTO " + q + ".streams (name, head) VALUES ('s', 1)",
		"UPDATE " + q + ".log_state SET last_pos = 1",
	} {
		_, err := tx.Exec(ctx, sql)
		require.NoError(t, err, sql)
	}
	require.NoError(t, tx.Commit(ctx))
	select {
	case r := <-done:
		assert.True(t, r.Passed, "the wait timed out")
		assert.Equal(t, uint64(1), r.Head)
	case <-time.After(10 * time.Second):
		t.Fatal("the wait did not see a commit made without a notification")
	}
}

// TestWaitListenerReconnects ends the store's LISTEN connection from the
// server side and checks that waits are still woken by notifications
// afterwards (polling is off).
func TestWaitListenerReconnects(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	schema := freshSchema(t)
	s, err := postgres.Open(ctx, testDSN(), postgres.WithSchema(schema), postgres.WithPollInterval(time.Hour))
	require.NoError(t, err)
	defer s.Close()
	w, err := postgres.Open(ctx, testDSN(), postgres.WithSchema(schema))
	require.NoError(t, err)
	defer w.Close()
	p, wp := effect.Handle(ctx, s), effect.Handle(ctx, w)
	_, err = effect.Perform(p, ops.Wait{Stream: "s", Timeout: time.Millisecond})
	require.NoError(t, err)
	conn, err := pgx.Connect(ctx, testDSN())
	require.NoError(t, err)
	defer conn.Close(ctx)
	// The listener connects on its own goroutine: wait until the server
	// shows it before ending it.
	var listening int
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		require.NoError(t, conn.QueryRow(ctx, `SELECT count(*) FROM pg_stat_activity WHERE application_name = $1`,
			s.ListenerName()).Scan(&listening))
		if listening > 0 {
			break
		}
	}
	var ended int
	require.NoError(t, conn.QueryRow(ctx, `SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE application_name = $1`,
		s.ListenerName()).Scan(&ended))
	require.Equal(t, 1, ended, "listener connections ended")
	time.Sleep(300 * time.Millisecond) // the listener comes back
	for i := range uint64(3) {
		// The wait is pending before the append, so only a notification
		// can end it.
		got := make(chan ops.WaitResult, 1)
		go func() {
			r, err := effect.Perform(p, ops.Wait{Stream: "s", After: i, Timeout: 10 * time.Second})
			assert.NoError(t, err)
			got <- r
		}()
		time.Sleep(100 * time.Millisecond)
		_, err := effect.Perform(wp, ops.Append{Stream: "s", Events: []ops.EventData{{Type: "t"}}})
		require.NoError(t, err)
		assert.True(t, (<-got).Passed, "wait %d after the listener was ended", i)
	}
}
