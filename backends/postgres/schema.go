package postgres

import (
	"context"
	"embed"
	"errors"
	"fmt"
	"hash/fnv"
	"io/fs"
	"sort"
	"strconv"
	"strings"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

//go:embed migrations/*.sql
var migrationFiles embed.FS

// migration is one numbered SQL file of migrations/.
type migration struct {
	version int
	name    string
	sql     string
}

// migrations are the embedded migrations in version order, numbered 1, 2,
// 3, … without gaps.
var migrations = mustMigrations()

// SchemaVersion is the schema version this package writes and reads: the
// number of its last migration.
var SchemaVersion = migrations[len(migrations)-1].version

func mustMigrations() []migration {
	names, err := fs.Glob(migrationFiles, "migrations/*.sql")
	if err != nil {
		panic(err)
	}
	sort.Strings(names)
	var out []migration
	for i, name := range names {
		base := strings.TrimPrefix(name, "migrations/")
		num, _, ok := strings.Cut(base, "_")
		v, err := strconv.Atoi(num)
		if !ok || err != nil || v != i+1 {
			panic(fmt.Sprintf("postgres: migration %s is not numbered %04d", base, i+1))
		}
		b, err := migrationFiles.ReadFile(name)
		if err != nil {
			panic(err)
		}
		out = append(out, migration{version: v, name: base, sql: string(b)})
	}
	if len(out) == 0 {
		panic("postgres: no migrations")
	}
	return out
}

// lockKey is the advisory lock that serializes migrations of one schema
// across processes.
func lockKey(schema string) int64 {
	h := fnv.New64a()
	h.Write([]byte("persist schema " + schema))
	return int64(h.Sum64())
}

// migrate brings schema up to SchemaVersion, creating it when it does not
// exist. Concurrent migrations of one schema (several processes opening a
// new store at once) take turns on an advisory lock; each runs in one
// transaction, so a failed one leaves the schema as it was. A schema of a
// newer version is refused with ErrSchemaTooNew.
func migrate(ctx context.Context, pool *pgxpool.Pool, schema string) error {
	return migrateTo(ctx, pool, schema, SchemaVersion)
}

// migrateTo is migrate up to version target (at most SchemaVersion).
func migrateTo(ctx context.Context, pool *pgxpool.Pool, schema string, target int) error {
	q := quote(schema)
	tx, err := pool.Begin(ctx)
	if err != nil {
		return err
	}
	defer tx.Rollback(ctx) //nolint:errcheck // a no-op after Commit
	if _, err := tx.Exec(ctx, "SELECT pg_advisory_xact_lock($1)", lockKey(schema)); err != nil {
		return err
	}
	var exists bool
	if err := tx.QueryRow(ctx, "SELECT EXISTS (SELECT 1 FROM pg_namespace WHERE nspname = $1)", schema).Scan(&exists); err != nil {
		return err
	}
	if !exists {
		if _, err := tx.Exec(ctx, "CREATE SCHEMA "+q); err != nil {
			return fmt.Errorf("create schema: %w", err)
		}
	}
	if _, err := tx.Exec(ctx, "CREATE TABLE IF NOT EXISTS "+q+".schema_version (version int NOT NULL)"); err != nil {
		return fmt.Errorf("create the schema_version table: %w", err)
	}
	var versions []int
	rows, err := tx.Query(ctx, "SELECT version FROM "+q+".schema_version")
	if err != nil {
		return fmt.Errorf("read the schema version: %w", err)
	}
	versions, err = pgx.CollectRows(rows, pgx.RowTo[int])
	if err != nil {
		return fmt.Errorf("read the schema version: %w", err)
	}
	var have int
	switch len(versions) {
	case 0:
		if _, err := tx.Exec(ctx, "INSERT INTO "+q+".schema_version (version) VALUES (0)"); err != nil {
			return fmt.Errorf("write the schema version: %w", err)
		}
	case 1:
		have = versions[0]
	default:
		return fmt.Errorf("the schema_version table has %d rows, want 1", len(versions))
	}
	if have > SchemaVersion {
		return tooNewError{have: have}
	}
	if have < 0 {
		return fmt.Errorf("the schema version is %d", have)
	}
	for _, m := range migrations[min(have, target):target] {
		if _, err := tx.Exec(ctx, strings.ReplaceAll(m.sql, "{schema}", q)); err != nil {
			return fmt.Errorf("migration %s: %w", m.name, err)
		}
	}
	if have < target {
		if _, err := tx.Exec(ctx, "UPDATE "+q+".schema_version SET version = $1", target); err != nil {
			return fmt.Errorf("write the schema version: %w", err)
		}
	}
	if err := tx.Commit(ctx); err != nil {
		return err
	}
	return nil
}

// tooNewError is a schema of a version this package does not know.
type tooNewError struct{ have int }

func (e tooNewError) Error() string {
	return fmt.Sprintf("schema version %d, this version of persist knows up to %d: open it with a newer persist", e.have, SchemaVersion)
}

func (e tooNewError) Is(target error) bool { return target == ErrSchemaTooNew }

// quote gives name as a quoted SQL identifier.
func quote(name string) string { return pgx.Identifier{name}.Sanitize() }

var errBadSchema = errors.New("postgres: invalid schema name")

// checkSchema refuses a schema name PostgreSQL would truncate or reject.
func checkSchema(name string) error {
	switch {
	case name == "":
		return fmt.Errorf("%w: empty", errBadSchema)
	case len(name) > 63:
		return fmt.Errorf("%w: %q is longer than 63 bytes", errBadSchema, name)
	case strings.ContainsRune(name, 0):
		return fmt.Errorf("%w: %q holds a NUL", errBadSchema, name)
	case strings.HasPrefix(name, "pg_"):
		return fmt.Errorf("%w: %q starts with pg_, which PostgreSQL reserves", errBadSchema, name)
	}
	return nil
}
