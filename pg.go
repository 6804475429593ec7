package persist

import (
	"context"

	"rose-ash.com/persist/backends/postgres"
)

// WithPostgresOptions tunes the PostgreSQL store (its schema, pool size,
// poll interval; see package postgres). OpenPostgres uses it; the other
// constructors ignore it.
func WithPostgresOptions(o ...postgres.Option) Option {
	return func(c *config) { c.pg = append(c.pg, o...) }
}

// OpenPostgres opens the store kept in a PostgreSQL database (13 or later)
// at dsn, a URL or key=value connection string as libpq takes, creating or
// migrating its schema ("persist" unless WithPostgresOptions names
// another). Many processes on many hosts may open the same store at once.
// ctx bounds the connection and the migration only. A failure is a
// *postgres.OpenError naming the DSN without its password. WithClock sets
// the clock that stamps events.
func OpenPostgres(ctx context.Context, dsn string, opts ...Option) (*DB, error) {
	if ctx == nil {
		return nil, nilContext("open postgres")
	}
	c := configure(opts)
	pgopts := c.pg
	if c.clock != nil {
		pgopts = append([]postgres.Option{postgres.WithClock(c.clock)}, pgopts...)
	}
	b, err := postgres.Open(ctx, dsn, pgopts...)
	if err != nil {
		return nil, err
	}
	return newDB(b, c), nil
}
