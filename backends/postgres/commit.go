package postgres

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgtype"

	"rose-ash.com/persist/effect"
	"rose-ash.com/persist/ops"
)

// request is one commit-shaped operation waiting for a leader to store it.
type request struct {
	op    effect.Effect // Append, KvPut, KvDelete or Commit
	state atomic.Int32  // reqQueued, reqTaken or reqAbandoned
	reply chan reply
	// ids are the IDs the store drew for the events that came without
	// one, kept so that a retry of the same request stores the same IDs.
	ids map[[2]int]uuid.UUID
	// at is the time the store stamped the request's events with, read
	// from the clock once (when stamped is set), so that a request tried
	// again (alone after its group failed, or after a guess was refused)
	// stores the same time and the clock is read once per commit, as in
	// the other backends.
	at      int64
	stamped bool
}

const (
	reqQueued int32 = iota
	reqTaken
	reqAbandoned
)

type reply struct {
	res ops.CommitResult
	err error
}

// commit queues a commit-shaped operation and waits for its answer. There
// is no committer goroutine: the caller that holds the store's commit
// token is the leader, and stores every queued commit (its own and its
// neighbours') as one group; the others wait for their answers or for the
// token. So a lone caller commits on its own goroutine, with no hand-over
// to another, and concurrent callers share transactions. A caller whose
// context ends while its commit is still queued gets the context's error
// and the commit is never tried; once a leader has taken it, the caller
// waits for the outcome.
func (s *Store) commit(ctx context.Context, e effect.Effect) (ops.CommitResult, error) {
	if err := ops.Validate(e); err != nil {
		return ops.CommitResult{}, err
	}
	if s.closed.Load() {
		return ops.CommitResult{}, ops.ErrClosed
	}
	r := &request{op: e, reply: make(chan reply, 1)}
	select {
	case s.reqs <- r:
	case <-s.done:
		return ops.CommitResult{}, ops.ErrClosed
	case <-ctx.Done():
		return ops.CommitResult{}, ctx.Err()
	}
	for {
		select {
		case rep := <-r.reply:
			return rep.res, rep.err
		case s.token <- struct{}{}:
			s.lead()
			<-s.token
		case <-ctx.Done():
			if r.state.CompareAndSwap(reqQueued, reqAbandoned) {
				return ops.CommitResult{}, ctx.Err()
			}
			rep := <-r.reply
			return rep.res, rep.err
		case <-s.done:
			// Close answers what is queued once the leader is done; a
			// request a leader took is answered by it.
			if r.state.CompareAndSwap(reqQueued, reqAbandoned) {
				return ops.CommitResult{}, ops.ErrClosed
			}
			rep := <-r.reply
			return rep.res, rep.err
		}
	}
}

// lead runs one group of the commits queued (up to maxGroup); the caller
// holds the commit token.
func (s *Store) lead() {
	if s.closed.Load() {
		s.drain()
		return
	}
	group := make([]*request, 0, 8)
	select {
	case r := <-s.reqs:
		group = append(group, r)
	default:
		return
	}
	if !s.opts.noGroup {
		group = s.gather(group, s.lastGroup)
	}
	s.lastGroup = len(group)
	live := group[:0]
	for _, r := range group {
		if r.state.CompareAndSwap(reqQueued, reqTaken) {
			live = append(live, r)
		}
	}
	if len(live) > 0 {
		s.runGroup(live)
	}
}

// gather adds the commits waiting to group. The callers answered by the
// last group come back a moment later, so while group is smaller than the
// last one it lingers a little (a fraction of a commit's time) for them:
// without it, groups alternate between nearly all callers and one.
func (s *Store) gather(group []*request, last int) []*request {
	var linger <-chan time.Time
	for len(group) < s.opts.maxGroup {
		select {
		case r := <-s.reqs:
			group = append(group, r)
			continue
		default:
		}
		if len(group) >= last || s.opts.linger <= 0 {
			return group
		}
		if linger == nil {
			t := time.NewTimer(s.opts.linger)
			defer t.Stop()
			linger = t.C
		}
		select {
		case r := <-s.reqs:
			group = append(group, r)
		case <-linger:
			return group
		case <-s.done:
			return group
		}
	}
	return group
}

func (s *Store) drain() {
	for {
		select {
		case r := <-s.reqs:
			if r.state.CompareAndSwap(reqQueued, reqTaken) {
				r.reply <- reply{err: ops.ErrClosed}
			}
		default:
			return
		}
	}
}

// runGroup stores a group of commits in one transaction and answers each.
// When the transaction fails with an error the server answered (not a lost
// connection) and the group holds several commits, each is tried alone, so
// that one commit's fault is not its neighbours'.
func (s *Store) runGroup(group []*request) {
	ctx, cancel := s.groupTimer.start(s.opts.txTimeout)
	defer cancel()
	err := s.tryGroup(ctx, group)
	if err == nil {
		return
	}
	if code := sqlState(err); len(group) > 1 && code != "" && !connectionLost(code) && !errors.Is(err, ErrOutcomeUnknown) {
		for _, r := range group {
			if err := s.tryGroup(ctx, []*request{r}); err != nil {
				r.reply <- reply{err: err}
			}
		}
		return
	}
	for _, r := range group {
		if errors.Is(err, ErrOutcomeUnknown) && resolvable(r) {
			s.resolve(ctx, r, err)
			continue
		}
		r.reply <- reply{err: err}
	}
}

// resolvable reports whether a commit whose outcome is unknown can be
// resolved by trying it again with the same event IDs: it has appends
// only (a kv change tried again is not the same change). Since an event
// ID is unique within its stream, the retry of a stored batch is known by
// its IDs whatever its expectation.
func resolvable(r *request) bool {
	c, _ := ops.AsCommit(r.op)
	return len(c.Kv) == 0 && len(c.Appends) > 0
}

// resolve settles a commit whose COMMIT was sent but not answered, by
// trying it again with the event IDs the first try stored (its own, and
// those the store drew): if the first try was stored, the retry answers
// its original result; if not, the retry stores it. It tries until ctx
// ends, waiting for the server to come back, and answers the first
// outcome it learns, or first when time runs out.
func (s *Store) resolve(ctx context.Context, r *request, first error) {
	rr := &request{op: withIDs(r.op, r.ids), reply: r.reply, ids: r.ids, at: r.at, stamped: r.stamped}
	wait := 50 * time.Millisecond
	for {
		select {
		case <-ctx.Done():
			r.reply <- reply{err: first}
			return
		case <-s.done:
			r.reply <- reply{err: first}
			return
		case <-time.After(wait):
		}
		wait = min(2*wait, time.Second)
		err := s.tryGroup(ctx, []*request{rr})
		if err == nil {
			return
		}
		if sqlState(err) != "" && !errors.Is(err, ErrOutcomeUnknown) {
			// The server answered: this is the outcome of the retry.
			r.reply <- reply{err: err}
			return
		}
	}
}

// withIDs gives the commit-shaped e with ids (drawn by the store for
// events that came without one) written into its events.
func withIDs(e effect.Effect, ids map[[2]int]uuid.UUID) effect.Effect {
	fill := func(i int, a ops.Append) ops.Append {
		evs := append([]ops.EventData(nil), a.Events...)
		for j := range evs {
			if id, ok := ids[[2]int{i, j}]; ok && evs[j].ID == uuid.Nil {
				evs[j].ID = id
			}
		}
		a.Events = evs
		return a
	}
	switch op := e.(type) {
	case ops.Append:
		return fill(0, op)
	case ops.Commit:
		apps := make([]ops.Append, len(op.Appends))
		for i, a := range op.Appends {
			apps[i] = fill(i, a)
		}
		op.Appends = apps
		return op
	}
	return e
}

// tryGroup runs one transaction for group. On success it answers every
// request and returns nil; on failure it answers none and returns the
// error, which says whether the transaction may have committed
// (ErrOutcomeUnknown) or not (ErrNotWritten).
func (s *Store) tryGroup(ctx context.Context, group []*request) error {
	// A transaction left open by an error is rolled back before the
	// connection goes back to the pool.
	conn, err := s.pool.Acquire(ctx)
	if err != nil {
		return s.notWritten(err)
	}
	defer func() {
		if conn.Conn().PgConn().TxStatus() != 'I' && !conn.Conn().IsClosed() {
			rctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			if _, err := conn.Exec(rctx, "ROLLBACK"); err != nil {
				_ = conn.Conn().Close(rctx)
			}
			cancel()
		}
		conn.Release()
	}()
	if s.guessable(group) {
		done, err := s.tryGuessed(ctx, conn.Conn(), group)
		if done {
			return err
		}
		// The guess was refused: end its transaction (this costs a round
		// trip, but only when the guess was wrong).
		if conn.Conn().PgConn().TxStatus() != 'I' {
			if _, err := conn.Exec(ctx, "ROLLBACK"); err != nil {
				return s.notWritten(err)
			}
		}
	}
	return s.tryLocked(ctx, conn.Conn(), group)
}

// tryLocked runs one transaction for group in two round trips: BEGIN with
// the lock and the reads, then the writes with COMMIT.
func (s *Store) tryLocked(ctx context.Context, tx *pgx.Conn, group []*request) error {
	// Take the log lock, then read the heads and revisions the group
	// needs: after the lock nothing else can change them until COMMIT.
	var streams, keys, idStreams []string
	var ids []pgtype.UUID
	seenS, seenK := map[string]bool{}, map[string]bool{}
	for _, r := range group {
		c, _ := ops.AsCommit(r.op)
		for _, a := range c.Appends {
			if !seenS[a.Stream] {
				seenS[a.Stream] = true
				streams = append(streams, a.Stream)
			}
			for _, ev := range a.Events {
				if ev.ID != uuid.Nil {
					idStreams = append(idStreams, a.Stream)
					ids = append(ids, pgtype.UUID{Bytes: ev.ID, Valid: true})
				}
			}
		}
		for _, k := range c.Kv {
			if !seenK[k.Key] {
				seenK[k.Key] = true
				keys = append(keys, k.Key)
			}
		}
	}
	b := &pgx.Batch{}
	b.Queue("BEGIN ISOLATION LEVEL READ COMMITTED")
	b.Queue(s.q.lock)
	b.Queue(s.q.lockedState)
	switch len(streams) {
	case 0:
	case 1:
		b.Queue(s.q.prefetchHead, streams[0])
	default:
		b.Queue(s.q.prefetchHeads, streams)
	}
	if len(keys) > 0 {
		b.Queue(s.q.prefetchRevs, keys)
	}
	if len(ids) > 0 {
		b.Queue(s.q.prefetchIDs, idStreams, ids)
	}
	v := &view{
		s: s, ctx: ctx, tx: tx, heads: map[string]uint64{}, revs: map[string]uint64{},
		pending: map[string][]pendingEvent{}, ids: map[streamID]seqPos{}, states: map[string]ops.StreamState{},
	}
	br := tx.SendBatch(ctx, b)
	if _, err := br.Exec(); err != nil {
		br.Close()
		return s.notWritten(err)
	}
	if _, err := br.Exec(); err != nil {
		br.Close()
		return s.notWritten(err)
	}
	var lastPos, kvRev, metaGen int64
	if err := br.QueryRow().Scan(&lastPos, &kvRev, &metaGen); err != nil {
		br.Close()
		return s.notWritten(err)
	}
	v.lastPos, v.kvRev = uint64(lastPos), uint64(kvRev)
	if len(streams) > 0 {
		if err := scanStreams(br, v.heads, v.states); err != nil {
			br.Close()
			return s.notWritten(err)
		}
	}
	if len(keys) > 0 {
		if err := scanPairs(br, v.revs); err != nil {
			br.Close()
			return s.notWritten(err)
		}
	}
	if len(ids) > 0 {
		if err := scanIDs(br, v.ids); err != nil {
			br.Close()
			return s.notWritten(err)
		}
	}
	if err := br.Close(); err != nil {
		return s.notWritten(err)
	}
	// The streams with a row stored: the others get one if they are
	// appended to.
	rowed := make(map[string]bool, len(v.heads))
	for name := range v.heads {
		rowed[name] = true
	}
	// The heads and states read under the lock are committed ones: good
	// guesses, at the metadata generation read with the lock.
	s.learnGen(uint64(metaGen))
	s.learnHeads(streams, v.heads, v.states)
	s.learnPos(v.lastPos)

	// Decide every commit in order, each against the state the ones before
	// it leave, and collect what the group writes.
	replies := make([]reply, len(group))
	var w writes
	startPos, startRev := v.lastPos, v.kvRev
	for i, r := range group {
		// Validated by commit on arrival; decided here under the lock, at
		// the time the commit is stamped with.
		c, _ := ops.AsCommit(r.op)
		s.stamp(r)
		v.now = time.Unix(0, r.at)
		plan, err := ops.Decide(c, v)
		if err != nil {
			if v.err != nil {
				return s.notWritten(v.err)
			}
			replies[i] = reply{err: err}
			continue
		}
		replies[i] = reply{res: s.apply(r, c, plan, v, &w)}
	}
	if v.err != nil {
		return s.notWritten(v.err)
	}

	if v.lastPos != startPos || v.kvRev != startRev {
		b := &pgx.Batch{}
		if len(w.pos) > 0 {
			b.Queue(s.q.insertEvents, w.pos, w.stream, w.seq, w.id, w.typ, w.at, w.data)
			// Known streams' rows are left as they are: heads are read
			// from the events (see doc.go).
			var names []string
			var heads []int64
			for _, name := range w.headOrder {
				if !rowed[name] {
					names = append(names, name)
					heads = append(heads, int64(w.heads[name]))
				}
			}
			if len(names) > 0 {
				b.Queue(s.q.createStreams, names, heads)
			}
		}
		var putK, delK []string
		var putV [][]byte
		var putR []int64
		for _, key := range w.kvOrder {
			ch := w.kv[key]
			if ch.delete {
				delK = append(delK, key)
				continue
			}
			putK = append(putK, key)
			putV = append(putV, ch.value)
			putR = append(putR, int64(ch.rev))
		}
		if len(putK) > 0 {
			b.Queue(s.q.upsertKv, putK, putV, putR)
		}
		if len(delK) > 0 {
			b.Queue(s.q.deleteKv, delK)
		}
		if len(w.hist.rev) > 0 {
			b.Queue(s.q.insertHistory, w.hist.rev, w.hist.key, w.hist.value)
			b.Queue(s.q.trimHistory, w.kvOrder, s.opts.kvHistory)
		}
		// The last position is read from the events (see doc.go): only
		// a kv change moves log_state.
		if v.kvRev != startRev {
			b.Queue(s.q.setKvRev, int64(v.kvRev))
		}
		b.Queue(s.q.notify, s.channel, strconv.FormatUint(v.lastPos, 10))
		fault := FaultNone
		if f := s.opts.commitFault; f != nil {
			fault = f()
		}
		if fault != FaultLostBeforeCommit {
			b.Queue("COMMIT")
		}
		if err := s.sendCommit(ctx, tx, b); err != nil {
			return err
		}
		if fault != FaultNone {
			if fault == FaultLostAfterCommit {
				s.wake()
			}
			return s.commitFailed(errFaultLost)
		}
		s.wake()
		s.learnHeads(w.headOrder, w.heads, v.states)
		s.learnPos(v.lastPos)
	}
	for i, r := range group {
		r.reply <- replies[i]
	}
	return nil
}

// learnHeads remembers the heads of names in heads (0 for those missing)
// and their states (zero for those missing) as committed, the guesses of
// later groups.
func (s *Store) learnHeads(names []string, heads map[string]uint64, states map[string]ops.StreamState) {
	if len(s.heads)+len(names) > maxGuessedHeads {
		clear(s.heads)
		clear(s.states)
	}
	for _, name := range names {
		s.heads[name] = heads[name]
		if st := states[name]; st != (ops.StreamState{}) {
			s.states[name] = st
		} else {
			delete(s.states, name)
		}
	}
}

// learnPos takes pos, the log's last position read under the exclusive
// lock or left by this store's own acknowledged commit, as the position
// guessed commits count on from.
func (s *Store) learnPos(pos uint64) {
	s.lastPos, s.posKnown = pos, true
}

// learnGen takes gen, the metadata token read under the lock, as
// the generation of the guesses: when it moved, every state remembered
// may be stale, so they are all forgotten.
func (s *Store) learnGen(gen uint64) {
	if gen != s.metaGen {
		clear(s.heads)
		clear(s.states)
		s.metaGen = gen
		// A compaction may have freed positions past the one guessed.
		s.posKnown = false
	}
}

// stamp reads the clock for r once: the time its events are stamped with
// and its expectations decided at (max-age), however often it is tried.
func (s *Store) stamp(r *request) {
	if !r.stamped {
		r.at, r.stamped = s.opts.clock().UTC().UnixNano(), true
	}
}

// sendCommit sends the writes of a transaction and its COMMIT (the last
// statement of b, when it is there) in one round trip and reads their
// answers. A statement the server refuses means nothing was written (the
// server skips the rest, COMMIT included). An error without the server's
// answer (a lost connection) means the outcome is unknown once COMMIT was
// sent, which it was by the time any answer is awaited.
func (s *Store) sendCommit(ctx context.Context, conn *pgx.Conn, b *pgx.Batch) error {
	n := b.Len()
	br := conn.SendBatch(ctx, b)
	defer br.Close()
	for i := range n {
		tag, err := br.Exec()
		if err != nil {
			var pe *pgconn.PgError
			if errors.As(err, &pe) {
				return s.notWritten(err)
			}
			return s.commitFailed(err)
		}
		if i == n-1 && b.QueuedQueries[i].SQL == "COMMIT" && tag.String() != "COMMIT" {
			return s.notWritten(fmt.Errorf("COMMIT answered %q", tag.String()))
		}
	}
	if err := br.Close(); err != nil {
		return s.commitFailed(err)
	}
	return nil
}

// connectionLost reports whether a SQLSTATE says the connection or the
// server went away (class 08, or 57P01-57P03: shutdown, crash, not yet
// accepting), where trying each commit of a group alone cannot help.
func connectionLost(code string) bool {
	return strings.HasPrefix(code, "08") || strings.HasPrefix(code, "57P")
}

// notWritten is the error of a transaction that failed before COMMIT.
func (s *Store) notWritten(err error) error {
	if s.closed.Load() && errors.Is(err, context.Canceled) {
		return ops.ErrClosed
	}
	return fmt.Errorf("%w on %s: %w", ErrNotWritten, s.dsn, err)
}

// commitFailed is the error of a failed COMMIT: when the server answered
// with an error, nothing was written; when the answer was lost, the
// outcome is unknown.
func (s *Store) commitFailed(err error) error {
	var pe *pgconn.PgError
	if errors.As(err, &pe) || errors.Is(err, pgx.ErrTxCommitRollback) {
		return s.notWritten(err)
	}
	return fmt.Errorf("%w on %s: %w", ErrOutcomeUnknown, s.dsn, err)
}

// scanPairs reads (text, bigint) rows of the batch into m.
func scanPairs(br pgx.BatchResults, m map[string]uint64) error {
	rows, err := br.Query()
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		var k string
		var n int64
		if err := rows.Scan(&k, &n); err != nil {
			return err
		}
		m[k] = uint64(n)
	}
	return rows.Err()
}

// scanStreams reads prefetchHeads rows of the batch into heads and
// states (only streams with a state of their own).
func scanStreams(br pgx.BatchResults, heads map[string]uint64, states map[string]ops.StreamState) error {
	rows, err := br.Query()
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		var name string
		var head int64
		st, err := scanState(rows, &name, &head)
		if err != nil {
			return err
		}
		heads[name] = uint64(head)
		if st != (ops.StreamState{}) {
			states[name] = st
		}
	}
	return rows.Err()
}

// scanState scans a row of (name, head, max_count, max_age,
// truncate_before, deleted, tombstone).
func scanState(row pgx.Row, name *string, head *int64) (ops.StreamState, error) {
	var count, age, before int64
	var st ops.StreamState
	if err := row.Scan(name, head, &count, &age, &before, &st.Deleted, &st.Tombstone); err != nil {
		return ops.StreamState{}, err
	}
	st.MaxCount, st.MaxAge, st.TruncateBefore = uint64(count), time.Duration(age), uint64(before)
	return st, nil
}

// scanIDs reads (stream, id, seq, pos) rows of the batch into m.
func scanIDs(br pgx.BatchResults, m map[streamID]seqPos) error {
	rows, err := br.Query()
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		var k streamID
		var seq, pos int64
		if err := rows.Scan(&k.stream, &k.id, &seq, &pos); err != nil {
			return err
		}
		// A hidden event's ID is free again, so a stream may hold it
		// twice: the newest event is the one a visible ID names.
		if uint64(seq) > m[k].seq {
			m[k] = seqPos{seq: uint64(seq), pos: uint64(pos)}
		}
	}
	return rows.Err()
}

// writes collects the rows a group of commits writes.
type writes struct {
	pos, seq, at []int64
	stream, typ  []string
	id           []pgtype.UUID
	data         [][]byte
	heads        map[string]uint64
	headOrder    []string
	kv           map[string]kvChange
	kvOrder      []string
	hist         struct { // the kv versions, in order
		rev   []int64
		key   []string
		value [][]byte // nil for a delete
	}
}

// addVersion records a kv version for the history.
func (w *writes) addVersion(rev uint64, key string, value []byte) {
	w.hist.rev = append(w.hist.rev, int64(rev))
	w.hist.key = append(w.hist.key, key)
	w.hist.value = append(w.hist.value, value)
}

// setKv records the final change of key in the group.
func (w *writes) setKv(key string, ch kvChange) {
	if _, ok := w.kv[key]; !ok {
		w.kvOrder = append(w.kvOrder, key)
	}
	w.kv[key] = ch
}

type kvChange struct {
	delete bool
	value  []byte
	rev    uint64
}

// apply records what an accepted commit writes, in w and in the view, and
// returns its result.
func (s *Store) apply(r *request, c ops.Commit, plan ops.Plan, v *view, w *writes) ops.CommitResult {
	res := ops.CommitResult{Appends: make([]ops.AppendResult, len(c.Appends)), Kv: make([]ops.KvResult, len(c.Kv))}
	if !plan.Writes {
		for i, ap := range plan.Appends {
			res.Appends[i] = ap.Result
		}
		return res
	}
	s.stamp(r)
	at := r.at
	for i, a := range c.Appends {
		ap := plan.Appends[i]
		if ap.Retry {
			res.Appends[i] = ap.Result
			continue
		}
		ar := ap.Result
		for j, ed := range a.Events {
			id := ed.ID
			if id == uuid.Nil {
				key := [2]int{i, j}
				if r.ids == nil {
					r.ids = map[[2]int]uuid.UUID{}
				}
				if got, ok := r.ids[key]; ok {
					id = got
				} else {
					id = s.opts.ids()
					r.ids[key] = id
				}
			}
			v.lastPos++
			pos := v.lastPos
			seq := ar.FirstSeq + uint64(j)
			data := ed.Data
			if data == nil {
				data = []byte{}
			}
			w.pos = append(w.pos, int64(pos))
			w.stream = append(w.stream, a.Stream)
			w.seq = append(w.seq, int64(seq))
			w.id = append(w.id, pgtype.UUID{Bytes: id, Valid: true})
			w.typ = append(w.typ, ed.Type)
			w.at = append(w.at, at)
			w.data = append(w.data, data)
			v.pending[a.Stream] = append(v.pending[a.Stream], pendingEvent{id: id, pos: pos})
			v.ids[streamID{a.Stream, id}] = seqPos{seq: seq, pos: pos}
			if j == 0 {
				ar.FirstPos = pos
			}
			ar.LastPos = pos
		}
		if len(a.Events) > 0 {
			if w.heads == nil {
				w.heads = map[string]uint64{}
			}
			if _, ok := w.heads[a.Stream]; !ok {
				w.headOrder = append(w.headOrder, a.Stream)
			}
			w.heads[a.Stream] = ar.Head
			v.heads[a.Stream] = ar.Head
		}
		res.Appends[i] = ar
	}
	if len(c.Kv) > 0 {
		v.kvRev++
		res.Revision = v.kvRev
		if w.kv == nil {
			w.kv = map[string]kvChange{}
		}
		for i, k := range c.Kv {
			existed := v.revs[k.Key] > 0
			res.Kv[i] = ops.KvResult{Key: k.Key, Revision: v.kvRev, Existed: existed}
			if k.Delete {
				if existed {
					w.setKv(k.Key, kvChange{delete: true})
					w.addVersion(v.kvRev, k.Key, nil)
					v.revs[k.Key] = 0
				}
				continue
			}
			value := append([]byte{}, k.Value...)
			w.setKv(k.Key, kvChange{value: value, rev: v.kvRev})
			w.addVersion(v.kvRev, k.Key, value)
			v.revs[k.Key] = v.kvRev
		}
	}
	return res
}

// errGuessUnknown is what a guessed view answers for a stored event.
var errGuessUnknown = errors.New("stored event not known to a guess")

// pendingEvent is an event a group writes, seen by the later commits of
// the same group.
type pendingEvent struct {
	id  uuid.UUID
	pos uint64
}

type streamID struct {
	stream string
	id     uuid.UUID
}

type seqPos struct{ seq, pos uint64 }

// view shows ops.Check the state inside a commit transaction: the stored
// state (read under the log lock, so it holds still) with the writes of
// the group's earlier commits over it.
type view struct {
	s   *Store
	ctx context.Context
	tx  interface {
		QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
	}
	// guessed: the heads are the store's guesses and nothing was read;
	// the view knows no stored event, and asking for one is an error
	// (the group is then decided on the stored state).
	guessed bool
	lastPos uint64
	kvRev   uint64
	heads   map[string]uint64 // stored heads of the group's streams, then updated
	revs    map[string]uint64 // stored revisions of the group's keys, then updated
	pending map[string][]pendingEvent
	ids     map[streamID]seqPos        // the stored and pending events with the IDs the group carries
	states  map[string]ops.StreamState // stored states of the group's streams (guessed: remembered)
	now     time.Time                  // the time of the commit being decided
	err     error                      // the first database error a view method met
}

var _ ops.StreamView = (*view)(nil)

func (v *view) StreamState(stream string) (ops.StreamState, error) { return v.states[stream], nil }

func (v *view) Now() time.Time { return v.now }

// EventTime reads the time of a stored event, for a stream with a
// max-age; a guessed view knows none.
func (v *view) EventTime(stream string, seq uint64) (time.Time, error) {
	if v.guessed {
		if v.err == nil {
			v.err = errGuessUnknown
		}
		return time.Time{}, errGuessUnknown
	}
	var at int64
	if err := v.tx.QueryRow(v.ctx, v.s.q.eventTime, stream, int64(seq)).Scan(&at); err != nil {
		err = fmt.Errorf("read the time of event %d of %q: %w", seq, stream, err)
		if v.err == nil {
			v.err = err
		}
		return time.Time{}, err
	}
	return time.Unix(0, at), nil
}

func (v *view) Head(stream string) uint64 { return v.heads[stream] }

func (v *view) KvRevision(key string) uint64 { return v.revs[key] }

// FindID answers from the events read before the group was decided: every
// ID the group's events carry, looked up in the (stream, id) index in one
// statement, and the group's own writes.
func (v *view) FindID(stream string, id uuid.UUID) (seq, pos uint64, err error) {
	sp := v.ids[streamID{stream, id}]
	return sp.seq, sp.pos, nil
}

func (v *view) EventAt(stream string, seq uint64) (uuid.UUID, uint64, error) {
	p := v.pending[stream]
	stored := v.heads[stream] - uint64(len(p))
	if seq > stored {
		e := p[seq-stored-1]
		return e.id, e.pos, nil
	}
	if v.guessed {
		if v.err == nil {
			v.err = errGuessUnknown
		}
		return uuid.Nil, 0, errGuessUnknown
	}
	var id uuid.UUID
	var pos int64
	if err := v.tx.QueryRow(v.ctx, v.s.q.eventAt, stream, int64(seq)).Scan(&id, &pos); err != nil {
		err = fmt.Errorf("read event %d of %q: %w", seq, stream, err)
		if v.err == nil {
			v.err = err
		}
		return uuid.Nil, 0, err
	}
	return id, uint64(pos), nil
}
