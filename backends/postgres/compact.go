package postgres

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"rose-ash.com/persist/ops"
)

// CompactResult says what Compact removed.
type CompactResult struct {
	Events   int64         // hidden events deleted
	Vacuumed bool          // the tables were vacuumed after
	Took     time.Duration // the whole compaction, vacuum included
}

// Compact deletes the events that streams' limits and deletions hide (as
// of the store's clock now), then, unless noVacuum, vacuums the events
// table so that PostgreSQL can reuse their space. Survivors keep their
// positions and seqs, and positions are never reused: the transaction
// first raises the floors (log_state.last_pos and the streams' heads) to
// what the events say, and positions and heads are counted from the
// greater of floor and events. Stream rows stay, with their heads, limits
// and tombstones.
//
// The DELETE runs in one transaction under the log lock, so it is
// ordered with every commit, and it moves the metadata generation on:
// a guess made before it is refused (a stale guessed head or position
// could otherwise name a seq or position the compaction freed, which no
// index would refuse). Readers and writers keep working while
// it runs; commits wait for its transaction. A long compaction can be
// bounded by ctx.
func (s *Store) Compact(ctx context.Context, noVacuum bool) (CompactResult, error) {
	start := time.Now()
	if s.closed.Load() {
		return CompactResult{}, ops.ErrClosed
	}
	select {
	case s.token <- struct{}{}:
	case <-ctx.Done():
		return CompactResult{}, ctx.Err()
	case <-s.done:
		return CompactResult{}, ops.ErrClosed
	}
	var res CompactResult
	var gen, newGen int64
	err := pgx.BeginTxFunc(ctx, s.pool, pgx.TxOptions{IsoLevel: pgx.ReadCommitted}, func(tx pgx.Tx) error {
		var lastPos, kvRev int64
		if err := lockLog(ctx, tx, s.q, &lastPos, &kvRev, &gen); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, s.q.floors); err != nil {
			return err
		}
		now := s.opts.clock().UnixNano()
		tag, err := tx.Exec(ctx, s.q.compact, now)
		if err != nil {
			return err
		}
		res.Events = tag.RowsAffected()
		if _, err := tx.Exec(ctx, s.q.markCompacted, now); err != nil {
			return err
		}
		return tx.QueryRow(ctx, s.q.bumpGen, newToken()).Scan(&newGen)
	})
	// The compaction may have freed positions past the one this store
	// guesses (another process's events), which no index would refuse.
	s.posKnown = false
	if err == nil {
		if uint64(gen) == s.metaGen {
			// Heads and states are as they were: only events went.
			s.metaGen = uint64(newGen)
		} else {
			s.learnGen(uint64(newGen))
		}
	}
	<-s.token
	if err != nil {
		return CompactResult{}, s.dbErr("compact", err)
	}
	if !noVacuum {
		if _, err := s.pool.Exec(ctx, "VACUUM "+quote(s.schema)+".events"); err != nil {
			return res, s.dbErr("compact: vacuum", fmt.Errorf("the hidden events are deleted, the vacuum failed: %w", err))
		}
		res.Vacuumed = true
	}
	res.Took = time.Since(start)
	return res, nil
}

// lockLog takes the log lock in tx and reads the log's last position, kv
// revision and metadata token under it.
func lockLog(ctx context.Context, tx pgx.Tx, q queries, lastPos, kvRev, gen *int64) error {
	if _, err := tx.Exec(ctx, q.lock); err != nil {
		return err
	}
	return tx.QueryRow(ctx, q.lockedState).Scan(lastPos, kvRev, gen)
}
