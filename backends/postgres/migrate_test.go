package postgres_test

import (
	"context"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"rose-ash.com/persist/backends/postgres"
	"rose-ash.com/persist/effect"
	"rose-ash.com/persist/ops"
)

// TestMigrateFromEveryVersion writes a store at every older schema
// version, opens it with this version, and checks that its events and
// keys are still there and that it takes new commits.
func TestMigrateFromEveryVersion(t *testing.T) {
	t.Parallel()
	for from := 1; from < postgres.SchemaVersion; from++ {
		schema := freshSchema(t)
		ctx := context.Background()
		require.NoError(t, postgres.MigrateTo(ctx, testDSN(), schema, from))
		q := pgx.Identifier{schema}.Sanitize()
		// Rows as version 1 stores them: two events of stream s, one key.
		execSQL(t, "INSERT INTO "+q+".events (pos, stream, seq, id, type, at, data) VALUES (1, 's', 1, gen_random_uuid(), 't', 0, 'a'), (2, 's', 2, gen_random_uuid(), 't', 0, 'b')")
		execSQL(t, "INSERT INTO "+q+".streams (name, head) VALUES ('s', 2)")
		execSQL(t, "INSERT INTO "+q+".kv (key, value, revision) VALUES ('k', 'v', 1)")
		execSQL(t, "UPDATE "+q+".log_state SET last_pos = 2, kv_rev = 1")
		if from >= 3 {
			// Version 3 keeps the entry's history beside it.
			execSQL(t, "INSERT INTO "+q+".kv_history (revision, key, value) VALUES (1, 'k', 'v')")
		}
		s, err := postgres.Open(ctx, testDSN(), postgres.WithSchema(schema))
		require.NoError(t, err, "open a version %d schema", from)
		p := effect.Handle(ctx, s)
		page, err := effect.Perform(p, ops.Read{Stream: "s"})
		require.NoError(t, err)
		assert.Len(t, page.Events, 2)
		e, err := effect.Perform(p, ops.KvGet{Key: "k"})
		require.NoError(t, err)
		assert.NotNil(t, e)
		// The kv entry is the first history; the revisions before
		// migration 3 count as compacted, so a watch can not start in
		// them.
		h, err := effect.Perform(p, ops.KvHistory{Key: "k"})
		require.NoError(t, err)
		assert.Equal(t, []ops.KvVersion{{Key: "k", Revision: 1, Value: []byte("v")}}, h.Versions)
		if from < 3 {
			_, err = effect.Perform(p, ops.KvWatch{From: 1})
			var ce *ops.CompactedError
			if assert.ErrorAs(t, err, &ce, "a watch from before the migration") {
				assert.Equal(t, uint64(1), ce.Compacted)
			}
		}
		r, err := effect.Perform(p, ops.Append{Stream: "s", Expect: ops.Exact(2), Events: []ops.EventData{{Type: "t"}}})
		require.NoError(t, err)
		assert.Equal(t, uint64(3), r.LastPos)
		require.NoError(t, s.Close())
		var v int
		conn, err := pgx.Connect(ctx, testDSN())
		require.NoError(t, err)
		require.NoError(t, conn.QueryRow(ctx, "SELECT version FROM "+q+".schema_version").Scan(&v))
		assert.Equal(t, postgres.SchemaVersion, v)
		// The event-ID rule holds on the migrated store: a stored ID
		// appended again as a new event is refused.
		var id [16]byte
		require.NoError(t, conn.QueryRow(ctx, "SELECT id FROM "+q+".events WHERE pos = 1").Scan(&id))
		_, err = effect.Perform(effect.Handle(ctx, reopen(t, schema)), ops.Append{Stream: "s", Events: []ops.EventData{{ID: id, Type: "t"}, {Type: "t"}}})
		var dup *ops.DuplicateIDError
		assert.ErrorAs(t, err, &dup, "a reused ID")
		conn.Close(ctx)
	}
}

// reopen opens the store in schema, closed when t ends.
func reopen(t *testing.T, schema string) *postgres.Store {
	t.Helper()
	s, err := postgres.Open(context.Background(), testDSN(), postgres.WithSchema(schema))
	require.NoError(t, err)
	t.Cleanup(func() { _ = s.Close() })
	return s
}
