package postgres

import (
	"context"
	"errors"
	"slices"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"rose-ash.com/persist/ops"
)

// nilIfEmpty keeps empty bytes as nil, as the other backends answer them.
func nilIfEmpty(b []byte) []byte {
	if len(b) == 0 {
		return nil
	}
	return b
}

func (s *Store) read(ctx context.Context, op ops.Read) (ops.ReadResult, error) {
	if err := op.Validate(); err != nil {
		return ops.ReadResult{}, err
	}
	if s.closed.Load() {
		return ops.ReadResult{}, ops.ErrClosed
	}
	from := max(op.From, 1)
	rows, err := s.pool.Query(ctx, s.q.read, op.Stream, int64(min(from, 1<<62)), ops.PageLimit(op.Limit))
	if err != nil {
		return ops.ReadResult{}, s.dbErr(ops.NameRead, err)
	}
	defer rows.Close()
	var res ops.ReadResult
	limited := false
	for rows.Next() {
		var (
			head         int64
			pos, seq, at *int64
			id           *uuid.UUID
			typ          *string
			data         []byte
		)
		if err := rows.Scan(&head, &limited, &pos, &seq, &id, &typ, &at, &data); err != nil {
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
	rows.Close()
	if limited {
		return s.readLimited(ctx, op, from)
	}
	// Seqs may have holes where Compact deleted events of a stream whose
	// limits were lifted later: go on after the last event read.
	if n := len(res.Events); n > 0 {
		res.Next = res.Events[n-1].Seq + 1
	} else {
		res.Next = max(from, res.Head+1)
	}
	return res, nil
}

func (s *Store) readAll(ctx context.Context, op ops.ReadAll) (ops.ReadAllResult, error) {
	if err := op.Validate(); err != nil {
		return ops.ReadAllResult{}, err
	}
	if s.closed.Load() {
		return ops.ReadAllResult{}, ops.ErrClosed
	}
	from := max(op.From, 1)
	limit := ops.PageLimit(op.Limit)
	res, st, err := s.readAllAhead(ctx, from, limit, op.Page)
	if err != nil {
		return ops.ReadAllResult{}, err
	}
	if !st.read {
		if res, st, err = s.readAllPage(ctx, from, limit, op.Page); err != nil {
			return ops.ReadAllResult{}, err
		}
	}
	if st.limited {
		s.ahead.drop()
		return s.readAllLimited(ctx, op, from)
	}
	// The page is a run of the contiguous prefix its snapshot sees (see
	// the package doc): short of the limit, it ends where that prefix
	// ends, and its last position is the head. A full page is followed
	// by events or not; the head read after it is the head of a later
	// snapshot, and that snapshot gives the same full page, since events
	// never change and positions have no holes. An empty page takes the
	// head read after it, as a wait does. This path runs only while read-all
	// needs no filtering (see limitedOf), so its positions have no holes.
	res.Next = from + uint64(len(res.Events))
	switch n := len(res.Events); {
	case n == 0:
		res.Events = nil
		res.Head = st.last
	case n < limit:
		res.Head = res.Events[n-1].Pos
	default:
		res.Head = st.last
		if dataBytes(res.Events) <= readaheadBytes {
			s.ahead.after(res.Next, limit, op.Page != nil, s.readAhead)
		}
	}
	return res, nil
}

// allState is what readAllState reads: whether read-all must filter,
// and the log's last position; read says whether it was read.
type allState struct {
	read    bool
	limited bool
	last    uint64
}

// readAllPage reads a page of read-all from `from` and then the store's
// state, in one round trip: the page in one statement (empty when
// read-all must filter), the state in the next, so with a later snapshot.
func (s *Store) readAllPage(ctx context.Context, from uint64, limit int, page *ops.Page) (ops.ReadAllResult, allState, error) {
	b := &pgx.Batch{}
	b.Queue(s.q.readAll, int64(min(from, 1<<62)), limit)
	b.Queue(s.q.readAllState)
	br := s.pool.SendBatch(ctx, b)
	defer br.Close()
	rows, err := br.Query()
	if err != nil {
		return ops.ReadAllResult{}, allState{}, s.dbErr(ops.NameReadAll, err)
	}
	evs, err := decodeEvents(rows, limit, min(limit, 1024), page)
	if err != nil {
		return ops.ReadAllResult{}, allState{}, s.dbErr(ops.NameReadAll, err)
	}
	st, err := scanAllState(br.QueryRow())
	if err != nil {
		return ops.ReadAllResult{}, allState{}, s.dbErr(ops.NameReadAll, err)
	}
	if err := br.Close(); err != nil {
		return ops.ReadAllResult{}, allState{}, s.dbErr(ops.NameReadAll, err)
	}
	return ops.ReadAllResult{Events: evs}, st, nil
}

// readAllAhead answers a read of a page from `from` with the page read
// ahead there, if there is one and it is full, and the store's state
// read now says that read-all still needs no filtering; st.read is false
// when it cannot, and the read goes its usual way. A page read ahead
// that failed is forgotten, not answered: the usual way gives the read's
// own answer or error.
func (s *Store) readAllAhead(ctx context.Context, from uint64, limit int, page *ops.Page) (ops.ReadAllResult, allState, error) {
	p := s.ahead.take(from, limit)
	if p == nil {
		return ops.ReadAllResult{}, allState{}, nil
	}
	select {
	case <-p.done:
	case <-ctx.Done():
		// Left to finish on its own; the usual way answers ctx's end.
		return ops.ReadAllResult{}, allState{}, nil
	}
	if p.err != nil || len(p.events) < limit {
		s.ahead.giveBack(p)
		return ops.ReadAllResult{}, allState{}, nil
	}
	st, err := scanAllState(s.pool.QueryRow(ctx, s.q.readAllState))
	if err != nil {
		s.ahead.giveBack(p)
		return ops.ReadAllResult{}, allState{}, s.dbErr(ops.NameReadAll, err)
	}
	if st.limited {
		s.ahead.giveBack(p)
		return ops.ReadAllResult{}, st, nil
	}
	return ops.ReadAllResult{Events: s.ahead.hand(p, page)}, st, nil
}

// readAhead reads a page ahead: readAll alone, with the readahead's
// context.
func (s *Store) readAhead(ctx context.Context, from uint64, limit int, page *ops.Page) ([]ops.Event, error) {
	rows, err := s.pool.Query(ctx, s.q.readAll, binaryResults, int64(min(from, 1<<62)), limit)
	if err != nil {
		return nil, err
	}
	// A page read ahead is a replay's, so likely full: room for all of it.
	return decodeEvents(rows, limit, limit, page)
}

func scanAllState(row pgx.Row) (allState, error) {
	var st allState
	var last int64
	if err := row.Scan(&st.limited, &last); err != nil {
		return allState{}, err
	}
	st.read, st.last = true, uint64(last)
	return st, nil
}

// decodeEvents decodes the rows of readAll (at most limit) into page, or
// fresh memory (room for room events at first) without one, and closes
// them.
func decodeEvents(rows pgx.Rows, limit, room int, page *ops.Page) ([]ops.Event, error) {
	defer rows.Close()
	d := rowDecoder{page: page}
	var evs []ops.Event
	if page != nil {
		page.Reset()
	} else {
		evs = make([]ops.Event, 0, room)
	}
	first := true
	for rows.Next() {
		if first {
			if err := checkFormats(rows.FieldDescriptions(), 0); err != nil {
				return nil, err
			}
			first = false
		}
		e, err := d.event(rows.RawValues(), 0)
		if err != nil {
			return nil, err
		}
		if page != nil {
			page.Add(e)
			continue
		}
		if len(evs) == cap(evs) {
			// A page past its first 1,024 events is a replay's, and
			// likely full: grow once to the limit, not step by step.
			evs = slices.Grow(evs, limit-len(evs))
		}
		evs = append(evs, e)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, err
	}
	if page != nil {
		return page.Events(), nil
	}
	return evs, nil
}

func (s *Store) head(ctx context.Context, op ops.Head) (uint64, error) {
	if err := op.Validate(); err != nil {
		return 0, err
	}
	return s.headOf(ctx, op.Stream, ops.NameHead)
}

// headOf is a stream's head, or the global log's last position for "".
func (s *Store) headOf(ctx context.Context, stream, op string) (uint64, error) {
	if s.closed.Load() {
		return 0, ops.ErrClosed
	}
	var h int64
	var err error
	if stream == "" {
		err = s.pool.QueryRow(ctx, s.q.lastPos).Scan(&h)
	} else {
		err = s.pool.QueryRow(ctx, s.q.head, stream).Scan(&h)
	}
	if errors.Is(err, pgx.ErrNoRows) {
		return 0, nil
	}
	if err != nil {
		return 0, s.dbErr(op, err)
	}
	return uint64(h), nil
}

func (s *Store) streams(ctx context.Context, op ops.Streams) (ops.StreamsResult, error) {
	if err := op.Validate(); err != nil {
		return ops.StreamsResult{}, err
	}
	if s.closed.Load() {
		return ops.StreamsResult{}, ops.ErrClosed
	}
	n := ops.PageLimit(op.Limit)
	sql := s.q.streams
	if op.Deleted {
		sql = s.q.streamsAll
	}
	rows, err := s.pool.Query(ctx, sql, op.Prefix, op.After, n+1)
	if err != nil {
		return ops.StreamsResult{}, s.dbErr(ops.NameStreams, err)
	}
	var res ops.StreamsResult
	for rows.Next() {
		var name string
		var head int64
		if err := rows.Scan(&name, &head); err != nil {
			rows.Close()
			return ops.StreamsResult{}, s.dbErr(ops.NameStreams, err)
		}
		if len(res.Streams) == n {
			res.More = true
			continue
		}
		res.Streams = append(res.Streams, ops.StreamInfo{Name: name, Head: uint64(head)})
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return ops.StreamsResult{}, s.dbErr(ops.NameStreams, err)
	}
	return res, nil
}

func (s *Store) kvGet(ctx context.Context, op ops.KvGet) (*ops.KvEntry, error) {
	if err := op.Validate(); err != nil {
		return nil, err
	}
	if s.closed.Load() {
		return nil, ops.ErrClosed
	}
	var value []byte
	var rev int64
	err := s.pool.QueryRow(ctx, s.q.kvGet, op.Key).Scan(&value, &rev)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, nil
	}
	if err != nil {
		return nil, s.dbErr(ops.NameKvGet, err)
	}
	return &ops.KvEntry{Key: op.Key, Value: nilIfEmpty(value), Revision: uint64(rev)}, nil
}

func (s *Store) kvList(ctx context.Context, op ops.KvList) (ops.KvListResult, error) {
	if err := op.Validate(); err != nil {
		return ops.KvListResult{}, err
	}
	if s.closed.Load() {
		return ops.KvListResult{}, ops.ErrClosed
	}
	n := ops.PageLimit(op.Limit)
	rows, err := s.pool.Query(ctx, s.q.kvList, op.Prefix, op.After, n+1)
	if err != nil {
		return ops.KvListResult{}, s.dbErr(ops.NameKvList, err)
	}
	var res ops.KvListResult
	for rows.Next() {
		var e ops.KvEntry
		var rev int64
		if err := rows.Scan(&e.Key, &e.Value, &rev); err != nil {
			rows.Close()
			return ops.KvListResult{}, s.dbErr(ops.NameKvList, err)
		}
		if len(res.Entries) == n {
			res.More = true
			continue
		}
		e.Value = nilIfEmpty(e.Value)
		e.Revision = uint64(rev)
		res.Entries = append(res.Entries, e)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return ops.KvListResult{}, s.dbErr(ops.NameKvList, err)
	}
	return res, nil
}

func (s *Store) snapshotRead(ctx context.Context, op ops.SnapshotRead) (ops.SnapshotResult, error) {
	if err := op.Validate(); err != nil {
		return ops.SnapshotResult{}, err
	}
	if s.closed.Load() {
		return ops.SnapshotResult{}, ops.ErrClosed
	}
	var version, seq, gen int64
	var value []byte
	err := s.pool.QueryRow(ctx, s.q.snapshotReadGen, op.Name, int64(min(op.Generation, 1<<62))).Scan(&version, &seq, &value, &gen)
	if errors.Is(err, pgx.ErrNoRows) {
		return ops.SnapshotResult{Snapshot: ops.Snapshot{Name: op.Name}}, nil
	}
	if err != nil {
		return ops.SnapshotResult{}, s.dbErr(ops.NameSnapshotRead, err)
	}
	return ops.SnapshotResult{Found: true, Generation: uint64(gen), Snapshot: ops.Snapshot{
		Name: op.Name, Version: uint64(version), Seq: uint64(seq), Value: nilIfEmpty(value),
	}}, nil
}

func (s *Store) snapshotWrite(ctx context.Context, op ops.SnapshotWrite) (struct{}, error) {
	if err := op.Validate(); err != nil {
		return struct{}{}, err
	}
	if s.closed.Load() {
		return struct{}{}, ops.ErrClosed
	}
	if err := s.writeSnapshot(ctx, op.Snapshot, op.Keep); err != nil {
		return struct{}{}, s.dbErr(ops.NameSnapshotWrite, err)
	}
	return struct{}{}, nil
}
