package postgres_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"os"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"

	"rose-ash.com/persist/backends/postgres"
)

// defaultDSN is the test server: PERSIST_TEST_PG overrides it.
const defaultDSN = "postgres://root@127.0.0.1:5432/test?sslmode=disable"

func testDSN() string {
	if dsn := os.Getenv("PERSIST_TEST_PG"); dsn != "" {
		return dsn
	}
	return defaultDSN
}

var reach struct {
	once sync.Once
	err  error
}

// needServer skips t when the test server cannot be reached, and fails it
// instead when CI=true: in CI the server must be there.
func needServer(t testing.TB) {
	t.Helper()
	reach.once.Do(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		conn, err := pgx.Connect(ctx, testDSN())
		if err == nil {
			conn.Close(ctx)
		}
		reach.err = err
	})
	if reach.err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("PostgreSQL test server %s: %v", postgres.Redact(testDSN()), reach.err)
		}
		t.Skipf("no PostgreSQL test server at %s: %v", postgres.Redact(testDSN()), reach.err)
	}
}

var unsafeChars = regexp.MustCompile(`[^a-z0-9]+`)

// schemaName is a fresh schema for t: a readable part of its name and a
// random suffix, at most 63 bytes.
func schemaName(t testing.TB) string {
	var b [4]byte
	_, _ = rand.Read(b[:])
	name := unsafeChars.ReplaceAllString(strings.ToLower(t.Name()), "_")
	if len(name) > 40 {
		name = name[len(name)-40:]
	}
	return "t_" + name + "_" + hex.EncodeToString(b[:])
}

// freshSchema names a schema for t and drops it when t ends.
func freshSchema(t testing.TB) string {
	t.Helper()
	needServer(t)
	schema := schemaName(t)
	t.Cleanup(func() { dropSchema(t, schema) })
	return schema
}

func dropSchema(t testing.TB, schema string) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, testDSN())
	if err != nil {
		t.Errorf("drop schema %s: %v", schema, err)
		return
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, "DROP SCHEMA IF EXISTS "+pgx.Identifier{schema}.Sanitize()+" CASCADE"); err != nil {
		t.Errorf("drop schema %s: %v", schema, err)
	}
}

// mustOpen opens a store in a fresh schema of the test server, closed
// and dropped when t ends.
func mustOpen(t testing.TB, opts ...postgres.Option) *postgres.Store {
	t.Helper()
	schema := freshSchema(t)
	s, err := postgres.Open(context.Background(), testDSN(), append([]postgres.Option{postgres.WithSchema(schema)}, opts...)...)
	require.NoError(t, err)
	t.Cleanup(func() { _ = s.Close() })
	return s
}

// execSQL runs sql on the test server.
func execSQL(t testing.TB, sql string, args ...any) {
	t.Helper()
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, testDSN())
	require.NoError(t, err)
	defer conn.Close(ctx)
	_, err = conn.Exec(ctx, sql, args...)
	require.NoError(t, err)
}
