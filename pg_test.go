package persist_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"os"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"rose-ash.com/persist"
	"rose-ash.com/persist/backends/postgres"
)

// pgDSN is the PostgreSQL test server: PERSIST_TEST_PG, or the machine's
// own. Without one the test skips, but fails with CI=true.
func pgDSN(t *testing.T) string {
	t.Helper()
	dsn := os.Getenv("PERSIST_TEST_PG")
	if dsn == "" {
		dsn = "postgres://root@127.0.0.1:5432/test?sslmode=disable"
	}
	conn, err := pgx.Connect(context.Background(), dsn)
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("PostgreSQL test server %s: %v", postgres.Redact(dsn), err)
		}
		t.Skipf("no PostgreSQL test server at %s: %v", postgres.Redact(dsn), err)
	}
	defer conn.Close(context.Background())
	return dsn
}

func TestOpenPostgres(t *testing.T) {
	dsn := pgDSN(t)
	var b [4]byte
	_, _ = rand.Read(b[:])
	schema := "t_open_postgres_" + hex.EncodeToString(b[:])
	t.Cleanup(func() {
		conn, err := pgx.Connect(context.Background(), dsn)
		if err == nil {
			_, _ = conn.Exec(context.Background(), "DROP SCHEMA IF EXISTS "+schema+" CASCADE")
			conn.Close(context.Background())
		}
	})
	ctx := context.Background()
	db, err := persist.OpenPostgres(ctx, dsn, persist.WithPostgresOptions(postgres.WithSchema(schema)))
	require.NoError(t, err)
	_, err = db.Append(ctx, "orders", persist.NoStream(), persist.NewEvent("placed", []byte(`{"order": 17}`)))
	require.NoError(t, err)
	_, err = db.KvPut(ctx, "k", []byte("v"), persist.Any())
	require.NoError(t, err)
	require.NoError(t, db.Close())

	db, err = persist.OpenPostgres(ctx, dsn, persist.WithPostgresOptions(postgres.WithSchema(schema)))
	require.NoError(t, err)
	defer db.Close()
	var types []string
	for ev, err := range db.Read(ctx, "orders", 1) {
		require.NoError(t, err)
		types = append(types, ev.Type)
	}
	assert.Equal(t, []string{"placed"}, types)
	e, ok, err := db.KvGet(ctx, "k")
	require.NoError(t, err)
	assert.True(t, ok)
	assert.Equal(t, []byte("v"), e.Value)
	_, isPG := db.Backend().(*postgres.Store)
	assert.True(t, isPG, "the backend is a *postgres.Store")
}

func TestOpenPostgresUnreachable(t *testing.T) {
	_, err := persist.OpenPostgres(context.Background(), "postgres://u:s3cret@127.0.0.1:1/db?connect_timeout=5")
	require.Error(t, err)
	var oe *postgres.OpenError
	assert.True(t, errors.As(err, &oe))
	assert.ErrorIs(t, err, postgres.ErrUnreachable)
	assert.NotContains(t, err.Error(), "s3cret")
}
