package postgres_test

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"sync"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"rose-ash.com/persist/backends/postgres"
	"rose-ash.com/persist/effect"
	"rose-ash.com/persist/ops"
)

// withDSN gives the test DSN changed by edit (user, password, port,
// database).
func withDSN(t *testing.T, edit func(*pgx.ConnConfig)) string {
	t.Helper()
	cfg, err := pgx.ParseConfig(testDSN())
	require.NoError(t, err)
	edit(cfg)
	u := fmt.Sprintf("postgres://%s:%s@%s:%d/%s?sslmode=disable&connect_timeout=5", cfg.User, cfg.Password, cfg.Host, cfg.Port, cfg.Database)
	return u
}

// openFails opens dsn and checks the error is an *OpenError of kind want
// whose message names the server and never the password.
func openFails(t *testing.T, dsn string, want error, opts ...postgres.Option) error {
	t.Helper()
	s, err := postgres.Open(context.Background(), dsn, opts...)
	if s != nil {
		_ = s.Close()
	}
	require.Error(t, err)
	assert.ErrorIs(t, err, want)
	var oe *postgres.OpenError
	if assert.True(t, errors.As(err, &oe), "want an *OpenError, got %T", err) {
		assert.NotContains(t, oe.DSN, "s3cret")
	}
	assert.NotContains(t, err.Error(), "s3cret", "the error gives the password away")
	assert.Contains(t, err.Error(), "postgres://")
	t.Log(err)
	return err
}

func TestOpenUnreachable(t *testing.T) {
	t.Parallel()
	needServer(t)
	dsn := withDSN(t, func(c *pgx.ConnConfig) { c.Port = 1; c.Password = "s3cret" })
	err := openFails(t, dsn, postgres.ErrUnreachable)
	assert.Contains(t, err.Error(), ":1/")
}

func TestOpenWrongCredentials(t *testing.T) {
	t.Parallel()
	needServer(t)
	dsn := withDSN(t, func(c *pgx.ConnConfig) { c.User = "persist_no_such_role"; c.Password = "s3cret" })
	err := openFails(t, dsn, postgres.ErrAuth)
	assert.Contains(t, err.Error(), "persist_no_such_role")
}

func TestOpenNoDatabase(t *testing.T) {
	t.Parallel()
	needServer(t)
	dsn := withDSN(t, func(c *pgx.ConnConfig) { c.Database = "persist_no_such_db"; c.Password = "s3cret" })
	err := openFails(t, dsn, postgres.ErrNoDatabase)
	assert.Contains(t, err.Error(), "persist_no_such_db")
}

func TestOpenNoRightToCreateSchema(t *testing.T) {
	t.Parallel()
	needServer(t)
	// A role that may log in but, like every role but the database's
	// owner, may not create schemas in it.
	execSQL(t, `DO $$ BEGIN CREATE ROLE persist_noperm LOGIN; EXCEPTION WHEN duplicate_object THEN NULL; END $$`)
	schema := freshSchema(t)
	dsn := withDSN(t, func(c *pgx.ConnConfig) { c.User = "persist_noperm"; c.Password = "s3cret" })
	err := openFails(t, dsn, postgres.ErrPermission, postgres.WithSchema(schema))
	assert.Contains(t, err.Error(), schema)
}

func TestOpenNewerSchemaRefused(t *testing.T) {
	t.Parallel()
	schema := freshSchema(t)
	ctx := context.Background()
	s, err := postgres.Open(ctx, testDSN(), postgres.WithSchema(schema))
	require.NoError(t, err)
	require.NoError(t, s.Close())
	newer := postgres.SchemaVersion + 1
	execSQL(t, fmt.Sprintf("UPDATE %s.schema_version SET version = %d", pgx.Identifier{schema}.Sanitize(), newer))
	err = openFails(t, testDSN(), postgres.ErrSchemaTooNew, postgres.WithSchema(schema))
	assert.Contains(t, err.Error(), fmt.Sprintf("schema version %d", newer))
	assert.Contains(t, err.Error(), fmt.Sprintf("up to %d", postgres.SchemaVersion))
}

func TestOpenBadSchemaName(t *testing.T) {
	t.Parallel()
	needServer(t)
	for _, name := range []string{"", strings.Repeat("x", 64), "pg_mine", "a\x00b"} {
		_, err := postgres.Open(context.Background(), testDSN(), postgres.WithSchema(name))
		assert.Error(t, err, "schema %q", name)
	}
}

func TestOpenBadDSN(t *testing.T) {
	t.Parallel()
	_, err := postgres.Open(context.Background(), "postgres://u:s3cret@host:notaport/db")
	require.Error(t, err)
	assert.NotContains(t, err.Error(), "s3cret")
}

// TestReopenKeepsState checks that the schema is created once and opened
// again as it is, by several processes' worth of concurrent opens.
func TestReopenKeepsState(t *testing.T) {
	t.Parallel()
	schema := freshSchema(t)
	ctx := context.Background()
	var wg sync.WaitGroup
	stores := make([]*postgres.Store, 6)
	errs := make([]error, len(stores))
	for i := range stores {
		wg.Go(func() { stores[i], errs[i] = postgres.Open(ctx, testDSN(), postgres.WithSchema(schema)) })
	}
	wg.Wait()
	for i, err := range errs {
		require.NoError(t, err, "concurrent open %d", i)
	}
	p := effect.Handle(ctx, stores[0])
	r, err := effect.Perform(p, ops.Append{Stream: "s", Events: []ops.EventData{{Type: "t", Data: []byte("1")}}})
	require.NoError(t, err)
	assert.Equal(t, uint64(1), r.Head)
	_, err = effect.Perform(p, ops.KvPut{Key: "k", Value: []byte("v")})
	require.NoError(t, err)
	for _, s := range stores {
		require.NoError(t, s.Close())
	}
	s, err := postgres.Open(ctx, testDSN(), postgres.WithSchema(schema))
	require.NoError(t, err)
	defer s.Close()
	p = effect.Handle(ctx, s)
	page, err := effect.Perform(p, ops.Read{Stream: "s"})
	require.NoError(t, err)
	require.Len(t, page.Events, 1)
	assert.Equal(t, []byte("1"), page.Events[0].Data)
	e, err := effect.Perform(p, ops.KvGet{Key: "k"})
	require.NoError(t, err)
	require.NotNil(t, e)
	assert.Equal(t, uint64(1), e.Revision)
}

func TestRedact(t *testing.T) {
	for dsn, want := range map[string]string{
		"postgres://bob:s3cret@db.example:6543/app?sslmode=disable":     "postgres://bob@db.example:6543/app",
		"host=db.example port=6543 user=bob password=s3cret dbname=app": "postgres://bob@db.example:6543/app",
		"postgres://bob@[::1]:5432/app":                                 "postgres://bob@[::1]:5432/app",
	} {
		assert.Equal(t, want, postgres.Redact(dsn), dsn)
	}
}

// FuzzRedact checks that whatever the DSN, the password pgx would send
// never appears in its redacted form (unless it is also the user, host or
// database name, which Redact shows on purpose).
func FuzzRedact(f *testing.F) {
	f.Add("postgres://bob:s3cret@db.example:6543/app")
	f.Add("host=h user=u password=s3cret dbname=d")
	f.Add("postgresql://u:p%40ss@h/d?password=xyzzy")
	f.Add("host=/var/run/postgresql user=u password='a b c d'")
	f.Fuzz(func(t *testing.T, dsn string) {
		out := postgres.Redact(dsn)
		cfg, err := pgconn.ParseConfig(dsn)
		if err != nil {
			if out != "(unparsable DSN)" && strings.Contains(dsn, "@") && strings.Contains(out, ":") {
				u, uerr := url.Parse(out)
				if uerr == nil {
					if _, set := u.User.Password(); set && !strings.Contains(out, "xxxxx") {
						t.Fatalf("Redact(%q) = %q keeps a password", dsn, out)
					}
				}
			}
			return
		}
		pw := cfg.Password
		if len(pw) < 4 || strings.Contains(cfg.User, pw) || strings.Contains(cfg.Host, pw) || strings.Contains(cfg.Database, pw) || strings.Contains("postgres://:/?host=", pw) {
			return
		}
		if strings.Contains(out, pw) || strings.Contains(out, url.QueryEscape(pw)) || strings.Contains(out, url.PathEscape(pw)) {
			t.Fatalf("Redact(%q) = %q gives the password %q away", dsn, out, pw)
		}
	})
}

// TestOpenNoRightToReadToken: a role that may use the schema's tables but
// not read the metadata token's sequence is refused at Open, naming the
// sequence, rather than reading the token as never set on a server whose
// pg_sequence_last_value answers NULL for it.
func TestOpenNoRightToReadToken(t *testing.T) {
	t.Parallel()
	needServer(t)
	execSQL(t, `DO $$ BEGIN CREATE ROLE persist_notoken LOGIN; EXCEPTION WHEN duplicate_object THEN NULL; END $$`)
	schema := freshSchema(t)
	s, err := postgres.Open(context.Background(), testDSN(), postgres.WithSchema(schema))
	require.NoError(t, err)
	require.NoError(t, s.Close())
	q := pgx.Identifier{schema}.Sanitize()
	execSQL(t, "GRANT USAGE, CREATE ON SCHEMA "+q+" TO persist_notoken")
	execSQL(t, "GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA "+q+" TO persist_notoken")
	dsn := withDSN(t, func(c *pgx.ConnConfig) { c.User = "persist_notoken"; c.Password = "s3cret" })
	err = openFails(t, dsn, postgres.ErrPermission, postgres.WithSchema(schema))
	assert.Contains(t, err.Error(), "meta_token")
	execSQL(t, "GRANT SELECT, UPDATE ON SEQUENCE "+q+".meta_token TO persist_notoken")
	s, err = postgres.Open(context.Background(), dsn, postgres.WithSchema(schema))
	require.NoError(t, err, "with the right granted")
	require.NoError(t, s.Close())
}
