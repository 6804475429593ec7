package stage

import (
	"context"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"rose-ash.com/persist/backends/postgres"
	"rose-ash.com/persist/transfer"
)

// fenceState is the SQLSTATE of a write a fence refused.
const fenceState = "PFNCE"

// PostgresSource is a PostgreSQL store as a migration source. Its fence
// is in the database, so it holds for every process that writes the
// schema: in one transaction that first locks the log_state row's table
// (waiting for the commits in flight), it records the new store in a
// table of the schema, fence, and adds triggers on log_state (which every
// kv change, metadata write and compaction updates), events (which every
// append inserts into; a guessed append neither writes nor reads
// log_state, but its insert holds the events table in ROW EXCLUSIVE mode,
// which CREATE TRIGGER's SHARE ROW EXCLUSIVE lock waits for, and a later
// insert waits for the fence's transaction and then meets the trigger)
// and snapshots that raise SQLSTATE PFNCE, "the
// store is fenced: it moved to …", so every later commit fails before
// COMMIT and writes nothing. Unfence drops the triggers and the table.
func PostgresSource(s *postgres.Store, dsn string) transfer.Source {
	schema := s.Schema()
	return transfer.Source{
		Handler: s,
		Fence:   func(ctx context.Context, movedTo string) error { return fencePostgres(ctx, dsn, schema, movedTo) },
		Unfence: func(ctx context.Context) error { return unfencePostgres(ctx, dsn, schema) },
	}
}

func fencePostgres(ctx context.Context, dsn, schema, movedTo string) error {
	if movedTo == "" {
		return errors.New("stage: a fence names the store moved to")
	}
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		return fmt.Errorf("stage: fence: %w", err)
	}
	defer conn.Close(ctx)
	q := pgx.Identifier{schema}.Sanitize()
	lit := func(s string) string { return "'" + pgEscape(s) + "'" }
	stmts := []string{
		"LOCK TABLE " + q + ".log_state IN ACCESS EXCLUSIVE MODE",
		"CREATE TABLE IF NOT EXISTS " + q + ".fence (moved_to text NOT NULL, at timestamptz NOT NULL DEFAULT now())",
		"DELETE FROM " + q + ".fence",
		"INSERT INTO " + q + ".fence (moved_to) VALUES (" + lit(movedTo) + ")",
		`CREATE OR REPLACE FUNCTION ` + q + `.persist_fenced() RETURNS trigger LANGUAGE plpgsql AS $f$
BEGIN
	RAISE EXCEPTION 'persist: store is fenced: it moved to %; send writes there', ` + lit(movedTo) + `
		USING ERRCODE = '` + fenceState + `', DETAIL = ` + lit(movedTo) + `;
END
$f$`,
		"DROP TRIGGER IF EXISTS persist_fence ON " + q + ".log_state",
		"CREATE TRIGGER persist_fence BEFORE INSERT OR UPDATE OR DELETE ON " + q + ".log_state FOR EACH STATEMENT EXECUTE FUNCTION " + q + ".persist_fenced()",
		"DROP TRIGGER IF EXISTS persist_fence ON " + q + ".events",
		"CREATE TRIGGER persist_fence BEFORE INSERT OR UPDATE OR DELETE ON " + q + ".events FOR EACH STATEMENT EXECUTE FUNCTION " + q + ".persist_fenced()",
		"DROP TRIGGER IF EXISTS persist_fence ON " + q + ".snapshots",
		"CREATE TRIGGER persist_fence BEFORE INSERT OR UPDATE OR DELETE ON " + q + ".snapshots FOR EACH STATEMENT EXECUTE FUNCTION " + q + ".persist_fenced()",
	}
	tx, err := conn.Begin(ctx)
	if err != nil {
		return fmt.Errorf("stage: fence: %w", err)
	}
	defer func() { _ = tx.Rollback(ctx) }()
	for _, s := range stmts {
		if _, err := tx.Exec(ctx, s); err != nil {
			return fmt.Errorf("stage: fence schema %s: %w", schema, err)
		}
	}
	if err := tx.Commit(ctx); err != nil {
		return fmt.Errorf("stage: fence schema %s: %w", schema, err)
	}
	return nil
}

func pgEscape(s string) string {
	out := make([]byte, 0, len(s))
	for i := 0; i < len(s); i++ {
		if s[i] == '\'' {
			out = append(out, '\'')
		}
		out = append(out, s[i])
	}
	return string(out)
}

func unfencePostgres(ctx context.Context, dsn, schema string) error {
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		return fmt.Errorf("stage: unfence: %w", err)
	}
	defer conn.Close(ctx)
	q := pgx.Identifier{schema}.Sanitize()
	tx, err := conn.Begin(ctx)
	if err != nil {
		return fmt.Errorf("stage: unfence: %w", err)
	}
	defer func() { _ = tx.Rollback(ctx) }()
	for _, s := range []string{
		"DROP TRIGGER IF EXISTS persist_fence ON " + q + ".log_state",
		"DROP TRIGGER IF EXISTS persist_fence ON " + q + ".events",
		"DROP TRIGGER IF EXISTS persist_fence ON " + q + ".snapshots",
		"DROP FUNCTION IF EXISTS " + q + ".persist_fenced()",
		"DROP TABLE IF EXISTS " + q + ".fence",
	} {
		if _, err := tx.Exec(ctx, s); err != nil {
			return fmt.Errorf("stage: unfence schema %s: %w", schema, err)
		}
	}
	return tx.Commit(ctx)
}

// IsFenced reports whether err is a write refused by a fence, of a Gate
// (transfer.ErrFenced) or of a fenced PostgreSQL store (SQLSTATE PFNCE),
// and the store it names.
func IsFenced(err error) (movedTo string, ok bool) {
	var fe *transfer.FencedError
	if errors.As(err, &fe) {
		return fe.MovedTo, true
	}
	var pe *pgconn.PgError
	if errors.As(err, &pe) && pe.Code == fenceState {
		return pe.Detail, true
	}
	return "", false
}
