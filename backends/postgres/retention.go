package postgres

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"rose-ash.com/persist/ops"
)

// scanBudget bounds the positions one read-all page looks at when
// events are hidden: a long hidden run then gives a short page with Next
// where it stopped, instead of one statement scanning the run.
const scanBudget = 16 * ops.MaxPage

func (s *Store) streamMetaRead(ctx context.Context, op ops.StreamMetaRead) (ops.StreamMetaResult, error) {
	if err := op.Validate(); err != nil {
		return ops.StreamMetaResult{}, err
	}
	if s.closed.Load() {
		return ops.StreamMetaResult{}, ops.ErrClosed
	}
	res := ops.StreamMetaResult{Stream: op.Stream}
	var name string
	var head int64
	st, err := scanState(s.pool.QueryRow(ctx, s.q.prefetchHeads, []string{op.Stream}), &name, &head)
	if errors.Is(err, pgx.ErrNoRows) {
		return res, nil
	}
	if err != nil {
		return ops.StreamMetaResult{}, s.dbErr(ops.NameStreamMetaRead, err)
	}
	res.Head, res.StreamState = uint64(head), st
	return res, nil
}

func (s *Store) streamMetaWrite(ctx context.Context, op ops.StreamMetaWrite) (ops.StreamMetaResult, error) {
	if err := op.Validate(); err != nil {
		return ops.StreamMetaResult{}, err
	}
	return s.setState(ctx, ops.NameStreamMetaWrite, op.Stream, func(v ops.View) (ops.MetaPlan, error) { return ops.CheckMeta(op, v) })
}

func (s *Store) streamDelete(ctx context.Context, op ops.StreamDelete) (ops.StreamMetaResult, error) {
	if err := op.Validate(); err != nil {
		return ops.StreamMetaResult{}, err
	}
	return s.setState(ctx, ops.NameStreamDelete, op.Stream, func(v ops.View) (ops.MetaPlan, error) { return ops.CheckDelete(op, v) })
}

// setState stores the state decide plans for stream, in one transaction
// under the log lock (so it is ordered with every commit, and a commit
// decided before it is refused or sees it), and moves the store's
// metadata generation on, which refuses every guess made before it. It
// holds the commit token, so the store's own guesses are kept in step.
func (s *Store) setState(ctx context.Context, name, stream string, decide func(ops.View) (ops.MetaPlan, error)) (ops.StreamMetaResult, error) {
	if s.closed.Load() {
		return ops.StreamMetaResult{}, ops.ErrClosed
	}
	select {
	case s.token <- struct{}{}:
	case <-ctx.Done():
		return ops.StreamMetaResult{}, ctx.Err()
	case <-s.done:
		return ops.StreamMetaResult{}, ops.ErrClosed
	}
	defer func() { <-s.token }()
	ctx, cancel := context.WithTimeout(ctx, s.opts.txTimeout)
	defer cancel()
	tx, err := s.pool.BeginTx(ctx, pgx.TxOptions{IsoLevel: pgx.ReadCommitted})
	if err != nil {
		return ops.StreamMetaResult{}, s.notWritten(err)
	}
	defer tx.Rollback(ctx) //nolint:errcheck // a no-op after Commit
	var lastPos, kvRev, gen int64
	if err := lockLog(ctx, tx, s.q, &lastPos, &kvRev, &gen); err != nil {
		return ops.StreamMetaResult{}, s.notWritten(err)
	}
	v := &view{
		s: s, ctx: ctx, tx: tx, heads: map[string]uint64{}, revs: map[string]uint64{},
		pending: map[string][]pendingEvent{}, ids: map[streamID]seqPos{}, states: map[string]ops.StreamState{},
		now: s.opts.clock(),
	}
	var row string
	var head int64
	st, err := scanState(tx.QueryRow(ctx, s.q.prefetchHeads, []string{stream}), &row, &head)
	switch {
	case errors.Is(err, pgx.ErrNoRows):
	case err != nil:
		return ops.StreamMetaResult{}, s.notWritten(err)
	default:
		v.heads[stream] = uint64(head)
		if st != (ops.StreamState{}) {
			v.states[stream] = st
		}
	}
	plan, err := decide(v)
	if err != nil {
		return ops.StreamMetaResult{}, err
	}
	ps := plan.State
	var newGen int64
	if err := tx.QueryRow(ctx, s.q.metaWrite, stream, int64(ps.MaxCount), int64(ps.MaxAge), int64(ps.TruncateBefore),
		ps.Deleted, ps.Tombstone, newToken()).Scan(&newGen); err != nil {
		return ops.StreamMetaResult{}, s.notWritten(err)
	}
	if err := tx.Commit(ctx); err != nil {
		return ops.StreamMetaResult{}, s.commitFailed(fmt.Errorf("%s: %w", name, err))
	}
	// The guesses stay good if they were of the generation this
	// transaction moved on from: only this stream changed.
	if uint64(gen) == s.metaGen {
		s.metaGen = uint64(newGen)
		s.learnHeads([]string{stream}, map[string]uint64{stream: plan.Head}, map[string]ops.StreamState{stream: ps})
	} else {
		s.learnGen(uint64(newGen))
	}
	s.wake()
	return plan.Result(), nil
}

// readLimited is read on a stream with a state of its own; see
// queries.readLimited. The caller has the result of the plain read: the
// stream's head and the limits it found.
func (s *Store) readLimited(ctx context.Context, op ops.Read, from uint64) (ops.ReadResult, error) {
	limit := ops.PageLimit(op.Limit)
	rows, err := s.pool.Query(ctx, s.q.readLimited, op.Stream, int64(min(from, 1<<62)), limit, s.opts.clock().UnixNano())
	if err != nil {
		return ops.ReadResult{}, s.dbErr(ops.NameRead, err)
	}
	defer rows.Close()
	var res ops.ReadResult
	for rows.Next() {
		var (
			head, count, age, before int64
			deleted, tombstone       bool
			pos, seq, at             *int64
			id                       *[16]byte
			typ                      *string
			data                     []byte
		)
		if err := rows.Scan(&head, &count, &age, &before, &deleted, &tombstone, &pos, &seq, &id, &typ, &at, &data); err != nil {
			return ops.ReadResult{}, s.dbErr(ops.NameRead, err)
		}
		res.Head = uint64(head)
		if pos == nil {
			continue
		}
		res.Events = append(res.Events, ops.Event{
			ID: *id, Stream: op.Stream, Seq: uint64(*seq), Pos: uint64(*pos), Type: *typ,
			At: time.Unix(0, *at).UTC(), Data: nilIfEmpty(data),
		})
	}
	if err := rows.Err(); err != nil {
		return ops.ReadResult{}, s.dbErr(ops.NameRead, err)
	}
	if n := len(res.Events); n == limit {
		res.Next = res.Events[n-1].Seq + 1
	} else {
		res.Next = max(from, res.Head+1)
	}
	return res, nil
}

// readAllLimited is read-all while some stream has a state of its own;
// see queries.readAllLimited.
func (s *Store) readAllLimited(ctx context.Context, op ops.ReadAll, from uint64) (ops.ReadAllResult, error) {
	limit := ops.PageLimit(op.Limit)
	rows, err := s.pool.Query(ctx, s.q.readAllLimited, binaryResults, int64(min(from, 1<<61)), limit, scanBudget, s.opts.clock().UnixNano())
	if err != nil {
		return ops.ReadAllResult{}, s.dbErr(ops.NameReadAll, err)
	}
	defer rows.Close()
	var res ops.ReadAllResult
	var d rowDecoder
	last := int64(-1)
	for rows.Next() {
		raw := rows.RawValues()
		if len(raw) != 8 || raw[0] == nil {
			return ops.ReadAllResult{}, s.dbErr(ops.NameReadAll, fmt.Errorf("%w: %d columns", errBadRow, len(raw)))
		}
		l, err := int8At(raw, 0)
		if err != nil {
			return ops.ReadAllResult{}, s.dbErr(ops.NameReadAll, err)
		}
		last = l
		if raw[1] == nil {
			continue // no visible event in the window
		}
		e, err := d.event(raw, 1)
		if err != nil {
			return ops.ReadAllResult{}, s.dbErr(ops.NameReadAll, err)
		}
		res.Events = append(res.Events, e)
	}
	if err := rows.Err(); err != nil {
		return ops.ReadAllResult{}, s.dbErr(ops.NameReadAll, err)
	}
	if last < 0 {
		return ops.ReadAllResult{}, s.dbErr(ops.NameReadAll, errors.New("no log_state row"))
	}
	res.Head = uint64(last)
	if n := len(res.Events); n == limit {
		res.Next = res.Events[n-1].Pos + 1
	} else {
		res.Next = max(from, min(from+scanBudget, res.Head+1))
	}
	return res, nil
}

func (s *Store) kvHistory(ctx context.Context, op ops.KvHistory) (ops.KvHistoryResult, error) {
	if err := op.Validate(); err != nil {
		return ops.KvHistoryResult{}, err
	}
	if s.closed.Load() {
		return ops.KvHistoryResult{}, ops.ErrClosed
	}
	n := op.Limit
	if n <= 0 {
		n = ops.MaxKvHistory
	}
	rows, err := s.pool.Query(ctx, s.q.kvHistory, op.Key, n+1)
	if err != nil {
		return ops.KvHistoryResult{}, s.dbErr(ops.NameKvHistory, err)
	}
	defer rows.Close()
	var res ops.KvHistoryResult
	for rows.Next() {
		var rev int64
		var value []byte
		if err := rows.Scan(&rev, &value); err != nil {
			return ops.KvHistoryResult{}, s.dbErr(ops.NameKvHistory, err)
		}
		if len(res.Versions) == n {
			res.More = true
			continue
		}
		res.Versions = append(res.Versions, version(op.Key, rev, value))
	}
	if err := rows.Err(); err != nil {
		return ops.KvHistoryResult{}, s.dbErr(ops.NameKvHistory, err)
	}
	return res, nil
}

// version is a kv_history row as an ops.KvVersion: a NULL value is a
// delete.
func version(key string, rev int64, value []byte) ops.KvVersion {
	if value == nil {
		return ops.KvVersion{Key: key, Revision: uint64(rev), Deleted: true}
	}
	return ops.KvVersion{Key: key, Revision: uint64(rev), Value: nilIfEmpty(value)}
}

func (s *Store) kvWatch(ctx context.Context, op ops.KvWatch) (ops.KvWatchResult, error) {
	if err := op.Validate(); err != nil {
		return ops.KvWatchResult{}, err
	}
	if s.closed.Load() {
		return ops.KvWatchResult{}, ops.ErrClosed
	}
	limit := ops.PageLimit(op.Limit)
	// The compacted revision is needed before the page's start is known:
	// From 0 starts after it. Ask for it with the page (one snapshot),
	// starting at 1 when From is 0, and cut what it covers.
	from := max(op.From, 1)
	page, rev, compacted, err := s.watchRows(ctx, op.Prefix, from, limit+1)
	if err != nil {
		return ops.KvWatchResult{}, err
	}
	if op.From == 0 {
		from = compacted + 1
		i := 0
		for i < len(page) && page[i].Revision < from {
			i++
		}
		if i > 0 {
			// The page began at revisions history keeps only in part:
			// read again from the first whole one.
			page, rev, compacted, err = s.watchRows(ctx, op.Prefix, from, limit+1)
			if err != nil {
				return ops.KvWatchResult{}, err
			}
			if compacted >= from {
				return s.kvWatch(ctx, op)
			}
		}
	} else if from <= compacted {
		return ops.KvWatchResult{}, &ops.CompactedError{Revision: from, Compacted: compacted}
	}
	res := ops.KvWatchResult{Revision: rev, Next: max(from, rev+1)}
	if len(page) <= limit {
		res.Changes = page
		return res, nil
	}
	// The page may split its last revision: end before it, unless it is
	// the page's only one, which goes whole.
	cut := page[limit].Revision
	i := limit
	for i > 0 && page[i-1].Revision == cut {
		i--
	}
	if i == 0 {
		all, _, _, err := s.watchRows(ctx, op.Prefix, cut, 0)
		if err != nil {
			return ops.KvWatchResult{}, err
		}
		j := 0
		for j < len(all) && all[j].Revision == cut {
			j++
		}
		res.Changes = all[:j]
		res.Next = max(cut+1, res.Next)
		if j < len(all) {
			res.Next = all[j].Revision
		}
		return res, nil
	}
	res.Changes = page[:i]
	res.Next = cut
	return res, nil
}

// watchRows reads the kept changes under prefix from revision from on,
// at most n (0: every change of the revision from, and the first of the
// next), with the kv revision and the compacted revision of the same
// snapshot.
func (s *Store) watchRows(ctx context.Context, prefix string, from uint64, n int) ([]ops.KvVersion, uint64, uint64, error) {
	sql := s.q.kvWatch
	args := []any{prefix, int64(min(from, 1<<62)), n}
	if n == 0 {
		sql, args = s.q.kvWatchRevision, args[:2]
	}
	rows, err := s.pool.Query(ctx, sql, args...)
	if err != nil {
		return nil, 0, 0, s.dbErr(ops.NameKvWatch, err)
	}
	defer rows.Close()
	var out []ops.KvVersion
	var rev, compacted int64
	for rows.Next() {
		var r *int64
		var key *string
		var value []byte
		if err := rows.Scan(&rev, &compacted, &r, &key, &value); err != nil {
			return nil, 0, 0, s.dbErr(ops.NameKvWatch, err)
		}
		if r == nil {
			continue
		}
		out = append(out, version(*key, *r, value))
	}
	if err := rows.Err(); err != nil {
		return nil, 0, 0, s.dbErr(ops.NameKvWatch, err)
	}
	return out, uint64(rev), uint64(compacted), nil
}

func (s *Store) kvWait(ctx context.Context, op ops.KvWait) (ops.WaitResult, error) {
	if err := op.Validate(); err != nil {
		return ops.WaitResult{}, err
	}
	return s.waitFor(ctx, op.Timeout, op.After, func(ctx context.Context) (uint64, error) {
		if s.closed.Load() {
			return 0, ops.ErrClosed
		}
		var rev int64
		if err := s.pool.QueryRow(ctx, s.q.kvRev).Scan(&rev); err != nil {
			return 0, s.dbErr(ops.NameKvWait, err)
		}
		return uint64(rev), nil
	})
}

func (s *Store) snapshotGenerations(ctx context.Context, op ops.SnapshotGenerations) (ops.SnapshotGenerationsResult, error) {
	if err := op.Validate(); err != nil {
		return ops.SnapshotGenerationsResult{}, err
	}
	if s.closed.Load() {
		return ops.SnapshotGenerationsResult{}, ops.ErrClosed
	}
	rows, err := s.pool.Query(ctx, s.q.snapshotGens, op.Name)
	if err != nil {
		return ops.SnapshotGenerationsResult{}, s.dbErr(ops.NameSnapshotGenerations, err)
	}
	defer rows.Close()
	var res ops.SnapshotGenerationsResult
	for rows.Next() {
		var g, version, seq int64
		if err := rows.Scan(&g, &version, &seq); err != nil {
			return ops.SnapshotGenerationsResult{}, s.dbErr(ops.NameSnapshotGenerations, err)
		}
		res.Generations = append(res.Generations, ops.SnapshotGeneration{Generation: uint64(g), Version: uint64(version), Seq: uint64(seq)})
	}
	if err := rows.Err(); err != nil {
		return ops.SnapshotGenerationsResult{}, s.dbErr(ops.NameSnapshotGenerations, err)
	}
	return res, nil
}

// writeSnapshot stores sn as the newest generation of its name and drops
// the generations past keep, in one transaction. Two writers of one name
// at once may pick the same generation; the loser's insert is refused by
// the key and it tries again.
func (s *Store) writeSnapshot(ctx context.Context, sn ops.Snapshot, keep int) error {
	value := sn.Value
	if value == nil {
		value = []byte{}
	}
	keep = max(keep, 1)
	for try := 0; ; try++ {
		err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
			var g int64
			if err := tx.QueryRow(ctx, s.q.snapshotWrite, sn.Name, int64(sn.Version), int64(sn.Seq), value).Scan(&g); err != nil {
				return err
			}
			_, err := tx.Exec(ctx, s.q.snapshotPrune, sn.Name, keep)
			return err
		})
		var pe *pgconn.PgError
		if err != nil && errors.As(err, &pe) && pe.Code == "23505" && try < 10 {
			continue
		}
		return err
	}
}

func (s *Store) stat(ctx context.Context) (ops.StatResult, error) {
	if s.closed.Load() {
		return ops.StatResult{}, ops.ErrClosed
	}
	var res ops.StatResult
	var stored, keys, rev, versions, snaps, bytes, compacted int64
	if err := s.pool.QueryRow(ctx, s.q.stat).Scan(&stored, &keys, &rev, &versions, &snaps, &bytes, &compacted); err != nil {
		return ops.StatResult{}, s.dbErr(ops.NameStat, err)
	}
	if compacted != 0 {
		res.LastCompaction = time.Unix(0, compacted).UTC()
	}
	res.EventsStored, res.KvKeys, res.KvRevision = uint64(stored), uint64(keys), uint64(rev)
	res.KvVersions, res.Snapshots = uint64(versions), uint64(snaps)
	res.BytesKnown, res.BytesStored = true, uint64(bytes)
	now := s.opts.clock().UnixNano()
	rows, err := s.pool.Query(ctx, s.q.statStreams, now)
	if err != nil {
		return ops.StatResult{}, s.dbErr(ops.NameStat, err)
	}
	defer rows.Close()
	for rows.Next() {
		var name string
		var head, visible int64
		var count, age, before int64
		var st ops.StreamState
		if err := rows.Scan(&name, &head, &count, &age, &before, &st.Deleted, &st.Tombstone, &visible); err != nil {
			return ops.StatResult{}, s.dbErr(ops.NameStat, err)
		}
		st.MaxCount, st.MaxAge, st.TruncateBefore = uint64(count), time.Duration(age), uint64(before)
		switch {
		case st.Absent(uint64(head)):
			res.StreamsDeleted++
			continue
		case head == 0:
			continue
		}
		res.Streams++
		res.EventsVisible += uint64(visible)
	}
	if err := rows.Err(); err != nil {
		return ops.StatResult{}, s.dbErr(ops.NameStat, err)
	}
	// Hidden events stay stored until a DELETE removes them (there is
	// no compaction in this backend): their bytes are reclaimable by
	// one, in the share of the events they are.
	if res.EventsStored > 0 {
		res.BytesReclaimable = uint64(float64(res.BytesStored) * float64(res.EventsStored-min(res.EventsVisible, res.EventsStored)) / float64(res.EventsStored))
	}
	return res, nil
}
