package postgres_test

import (
	"context"
	"errors"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"rose-ash.com/persist/backends/postgres"
	"rose-ash.com/persist/effect"
	"rose-ash.com/persist/ops"
)

// TestGuessWaitsForMetaWrite sends a guessed append while another
// process's metadata write (a hard delete of the stream) holds the log
// lock, and then lets that write delete the stream, set the new
// metadata token and end. The guessed statement is on the server, waiting for the lock,
// before the write changes anything: only a token read after its shared
// lock was granted can refuse it (one read with the statement's start,
// or at its planning, is the old one). When the write commits, the
// append must be refused as one to a deleted stream; when it rolls back
// (or its process dies), the guess is refused for the token it left and
// the append is stored the locked way.
func TestGuessWaitsForMetaWrite(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		end    string
		events int // 1: the one-event statement; 2: the statement of arrays
	}{{"commit", 1}, {"commit", 2}, {"rollback", 1}, {"disconnect", 1}, {"rollback", 2}} {
		end := tc.end
		t.Run(end+"/"+strconv.Itoa(tc.events), func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			s := mustOpen(t)
			p := effect.Handle(ctx, s)
			ev := []ops.EventData{{Type: "t"}}
			for i := range 3 {
				_, err := effect.Perform(p, ops.Append{Stream: "s", Expect: ops.Exact(uint64(i)), Events: ev})
				require.NoError(t, err)
			}
			require.Zero(t, postgres.Refused(s), "the store guesses")

			conn, err := pgx.Connect(ctx, testDSN())
			require.NoError(t, err)
			defer conn.Close(ctx)
			q := pgx.Identifier{s.Schema()}.Sanitize()
			tx, err := conn.Begin(ctx)
			require.NoError(t, err)
			run := func(sql string) {
				t.Helper()
				_, err := tx.Exec(ctx, sql)
				require.NoError(t, err, sql)
			}
			run("SELECT pg_advisory_xact_lock(" + strconv.FormatInt(postgres.LogLockKey(s), 10) + ")")

			done := make(chan error, 1)
			go func() {
				_, err := effect.Perform(p, ops.Append{Stream: "s", Expect: ops.Any(), Events: slices.Repeat(ev, tc.events)})
				done <- err
			}()
			// Wait until the guessed statement waits for the lock, and
			// only then write the metadata and set its token, as a
			// writer that took the lock a moment before the guess does.
			waitFor(t, func() bool {
				var n int
				require.NoError(t, s.Pool().QueryRow(ctx,
					"SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND NOT granted AND objid = ($1::bigint & x'ffffffff'::bigint)::oid",
					postgres.LogLockKey(s)).Scan(&n))
				return n > 0
			})
			run("UPDATE " + q + ".streams SET tombstone = true WHERE name = 's'")
			run("UPDATE " + q + ".log_state SET meta_gen = meta_gen + 1 WHERE id = 1")
			run("SELECT setval('" + pgx.Identifier{s.Schema(), "meta_token"}.Sanitize() + "', 424242)")
			switch end {
			case "commit":
				require.NoError(t, tx.Commit(ctx))
			case "rollback":
				require.NoError(t, tx.Rollback(ctx))
			case "disconnect":
				require.NoError(t, conn.PgConn().Close(ctx))
			}
			err = <-done
			assert.Equal(t, int64(1), postgres.Refused(s), "the guess in flight is refused")
			all, rerr := effect.Perform(p, ops.ReadAll{})
			require.NoError(t, rerr)
			if end == "commit" {
				var del *ops.StreamDeletedError
				require.True(t, errors.As(err, &del), "append to a stream deleted while its guess waited: want a StreamDeletedError, got %v", err)
				assert.Empty(t, all.Events, "the deleted stream's events are hidden and nothing was added")
				assert.Equal(t, uint64(3), all.Head, "nothing was stored past the delete")
				return
			}
			require.NoError(t, err, "a write that did not commit changes nothing")
			require.Len(t, all.Events, 3+tc.events)
			// Guesses hold again at the token read under the lock.
			_, err = effect.Perform(p, ops.Append{Stream: "s", Expect: ops.Exact(uint64(3 + tc.events)), Events: ev})
			require.NoError(t, err)
			assert.Equal(t, int64(1), postgres.Refused(s), "guesses hold again")
		})
	}
}

func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("timed out waiting")
		}
		time.Sleep(5 * time.Millisecond)
	}
}
