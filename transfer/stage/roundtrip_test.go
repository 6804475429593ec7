package stage_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"net/http/httptest"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"rose-ash.com/persist/backends/backendtest"
	"rose-ash.com/persist/backends/file"
	"rose-ash.com/persist/backends/mem"
	"rose-ash.com/persist/effect"
	"rose-ash.com/persist/ops"
	"rose-ash.com/persist/remote"
	"rose-ash.com/persist/server"
	"rose-ash.com/persist/transfer"
	"rose-ash.com/persist/transfer/stage"
)

// fill writes a workload with every shape the export carries: several
// streams, one commit over two streams and kv, events of one time in
// separate commits, data that is not UTF-8 and empty data, kv puts,
// overwrites and deletes (so revisions have gaps), and snapshots.
func fill(t testing.TB, h effect.Handler) {
	t.Helper()
	p := effect.Handle(context.Background(), h)
	must := func(e effect.Effect) {
		t.Helper()
		_, err := h.Handle(p, e)
		require.NoError(t, err, "%s", e.EffectName())
	}
	for i := range 30 {
		must(ops.Append{Stream: "orders", Events: []ops.EventData{{Type: "placed", Data: []byte(`{"n":` + string(rune('0'+i%10)) + `}`)}}})
		if i%7 == 0 {
			must(ops.Commit{
				Appends: []ops.Append{
					{Stream: "audit", Events: []ops.EventData{{Type: "seen", Data: []byte{0xff, 0x00, byte(i)}}, {Type: "empty"}}},
					{Stream: "orders", Events: []ops.EventData{{Type: "shipped", Data: []byte("x")}}},
				},
				Kv: []ops.KvChange{{Key: "cfg/a", Value: []byte{byte(i)}}, {Key: "cfg/b", Value: []byte("b")}},
			})
		}
	}
	must(ops.KvPut{Key: "tmp", Value: []byte("gone soon")})
	must(ops.KvDelete{Key: "tmp"})
	must(ops.KvPut{Key: "z/empty", Value: nil})
	must(ops.KvDelete{Key: "never-there"})
	must(ops.KvPut{Key: "z/last", Value: bytes.Repeat([]byte{0xfe}, 3000)})
	must(ops.SnapshotWrite{Snapshot: ops.Snapshot{Name: "orders", Version: 3, Seq: 20, Value: []byte("folded")}})
	must(ops.SnapshotWrite{Snapshot: ops.Snapshot{Name: "audit/empty", Version: 1, Seq: 0}})
}

func export(t testing.TB, h effect.Handler) ([]byte, transfer.Summary) {
	t.Helper()
	var buf bytes.Buffer
	s, err := transfer.Export(context.Background(), h, &buf)
	require.NoError(t, err)
	return buf.Bytes(), s
}

// importInto imports b into a staged store and publishes it.
func importInto(t testing.TB, st *stage.Staged, b []byte) ops.Backend {
	t.Helper()
	_, err := transfer.Import(context.Background(), bytes.NewReader(b), st.Target())
	if err != nil {
		_ = st.Abort()
		require.NoError(t, err)
	}
	out, err := st.Publish(context.Background())
	require.NoError(t, err)
	t.Cleanup(func() { _ = out.Close() })
	return out
}

func testDSN() string {
	if dsn := os.Getenv("PERSIST_TEST_PG"); dsn != "" {
		return dsn
	}
	return "postgres://root@127.0.0.1:5432/test?sslmode=disable"
}

// pgSchema names a fresh schema and drops it (and anything staged beside
// it) when t ends; it skips t without a server (fails it in CI).
func pgSchema(t *testing.T) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, testDSN())
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("PostgreSQL test server: %v", err)
		}
		t.Skipf("no PostgreSQL test server: %v", err)
	}
	conn.Close(ctx)
	var b [4]byte
	_, _ = rand.Read(b[:])
	schema := "t_transfer_" + hex.EncodeToString(b[:])
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		conn, err := pgx.Connect(ctx, testDSN())
		if err != nil {
			return
		}
		defer conn.Close(ctx)
		rows, err := conn.Query(ctx, "SELECT nspname FROM pg_namespace WHERE nspname LIKE $1", schema+"%")
		if err != nil {
			return
		}
		names, _ := pgx.CollectRows(rows, pgx.RowTo[string])
		for _, n := range names {
			_, _ = conn.Exec(ctx, "DROP SCHEMA "+pgx.Identifier{n}.Sanitize()+" CASCADE")
		}
	})
	return schema
}

// TestRoundTrip moves one store mem -> file -> PostgreSQL -> file: every
// store has the same digest, and every export is the same bytes.
func TestRoundTrip(t *testing.T) {
	ctx := context.Background()
	src := mem.New(mem.WithClock(backendtest.Clock()))
	defer src.Close()
	fill(t, src)
	want, err := transfer.Digest(ctx, src)
	require.NoError(t, err)
	b0, s0 := export(t, src)
	assert.Equal(t, want, s0.Digest)
	assert.Equal(t, transfer.Counts{Events: 30 + 5*3, Streams: 2, Kv: 4, Snapshots: 2, KvVersions: 10}, s0.Counts)

	dir := filepath.Join(t.TempDir(), "one")
	st, err := stage.File(ctx, dir, file.Options{})
	require.NoError(t, err)
	f1 := importInto(t, st, b0)
	got, err := transfer.Digest(ctx, f1)
	require.NoError(t, err)
	assert.Equal(t, want, got, "mem -> file")
	b1, _ := export(t, f1)
	assert.Equal(t, b0, b1, "the file store exports the same bytes")

	schema := pgSchema(t)
	st, err = stage.Postgres(ctx, testDSN(), schema)
	require.NoError(t, err)
	pg := importInto(t, st, b1)
	got, err = transfer.Digest(ctx, pg)
	require.NoError(t, err)
	assert.Equal(t, want, got, "file -> PostgreSQL")
	b2, _ := export(t, pg)
	assert.Equal(t, b0, b2, "PostgreSQL exports the same bytes")

	dir2 := filepath.Join(t.TempDir(), "two")
	st, err = stage.File(ctx, dir2, file.Options{})
	require.NoError(t, err)
	f2 := importInto(t, st, b2)
	got, err = transfer.Digest(ctx, f2)
	require.NoError(t, err)
	assert.Equal(t, want, got, "PostgreSQL -> file")

	// The published stores take new writes, with the next positions and
	// revisions.
	p := effect.Handle(ctx, f2)
	r, err := effect.Perform(p, ops.Append{Stream: "orders", Events: []ops.EventData{{Type: "after"}}})
	require.NoError(t, err)
	assert.Equal(t, s0.LastPos+1, r.FirstPos)
	kv, err := effect.Perform(p, ops.KvGet{Key: "z/last"})
	require.NoError(t, err)
	require.NotNil(t, kv)
	kr, err := effect.Perform(p, ops.KvPut{Key: "k", Value: []byte("v")})
	require.NoError(t, err)
	assert.Equal(t, kv.Revision+1, kr.Revision)
}

// TestExportThroughServer: a store served by persist serve exports and
// digests through a remote client as it does locally.
func TestExportThroughServer(t *testing.T) {
	ctx := context.Background()
	src := mem.New(mem.WithClock(backendtest.Clock()))
	fill(t, src)
	want, err := transfer.Digest(ctx, src)
	require.NoError(t, err)
	srv, err := server.New(src, server.Options{})
	require.NoError(t, err)
	hs := httptest.NewServer(srv)
	defer func() { hs.Close(); _ = srv.Shutdown(ctx) }()
	c, err := remote.Dial(hs.URL, remote.Options{})
	require.NoError(t, err)
	defer c.Close()
	got, err := transfer.Digest(ctx, c)
	require.NoError(t, err)
	assert.Equal(t, want, got)
	b, _ := export(t, c)
	b0, _ := export(t, src)
	assert.Equal(t, b0, b)
}
