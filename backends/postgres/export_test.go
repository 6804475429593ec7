package postgres

import (
	"context"

	"github.com/jackc/pgx/v5/pgxpool"
)

// MigrateTo brings schema to version target, for tests of migrations from
// older versions.
func MigrateTo(ctx context.Context, dsn, schema string, target int) error {
	pool, err := pgxpool.New(ctx, dsn)
	if err != nil {
		return err
	}
	defer pool.Close()
	return migrateTo(ctx, pool, schema, target)
}

// Refused is how many guessed groups the server refused.
func Refused(s *Store) int64 { return s.refused.Load() }

// GuessedOneSQL is the statement of a guessed one-event commit to a known
// stream and the store's notification channel, for the benchmark that
// takes the statement apart.
func GuessedOneSQL(s *Store) (sql, channel string) { return s.q.guessedOne, s.channel }

// LogLockKey is the advisory lock key of s's log, for tests that hold the
// lock as another process's writer does.
func LogLockKey(s *Store) int64 { return logLockKey(quote(s.schema)) }

// ReadaheadStats is how many pages s read ahead and how many reads it
// answered from them.
func ReadaheadStats(s *Store) (started, used int64) {
	return s.ahead.started.Load(), s.ahead.used.Load()
}

// ReadaheadIdle reports whether no read ahead of s is in flight.
func ReadaheadIdle(s *Store) bool { return s.ahead.idle() }

// HookReadahead makes each read ahead of s call hook before its query,
// with the context Close ends. Set it before the first read.
func HookReadahead(s *Store, hook func(ctx context.Context, from uint64)) { s.ahead.hook = hook }
