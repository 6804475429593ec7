package postgres

import (
	"context"
	"errors"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"rose-ash.com/persist/ops"
)

// maxGuessedHeads bounds the heads a store remembers for guessing; past
// it the store forgets them all and learns them again.
const maxGuessedHeads = 1 << 16

// guessable reports whether a group can be tried on guessed state: it
// changes no kv entry (a stale kv revision would not be caught by the
// server), none of its events carries an ID of the caller's (whether it
// is stored, and visible, is decided from the stored events under the
// lock: no index can say it, since a hidden event's ID is free again),
// and guessing is not turned off. The IDs the store draws carry 74
// random bits beside the millisecond, so a guess takes them as unused.
func (s *Store) guessable(group []*request) bool {
	if s.opts.noGuess || !s.posKnown {
		return false
	}
	for _, r := range group {
		c, _ := ops.AsCommit(r.op)
		if len(c.Kv) > 0 {
			return false
		}
		for _, a := range c.Appends {
			for _, ev := range a.Events {
				if ev.ID != uuid.Nil {
					return false
				}
			}
		}
	}
	return true
}

// tryGuessed stores a group of appends in one round trip, decided against
// the heads the store last saw committed instead of heads read under the
// lock. It reports whether it settled the group: false when the guess
// could not decide the group (a conflict, a retry or an ID already seen:
// these are decided on the stored state) or when the server refused the
// writes, which is how a stale guess shows. Nothing is stored then, and
// the caller decides the group on the stored state. When it reports true,
// err is nil (every request answered) or the error of the whole group.
//
// Why a refusal is the only way a guess can be wrong: a guessed head is a
// head this store saw committed, and heads only grow, so a guess is never
// above the stored head. A guess below it puts the group's first new
// event of that stream at a seq already stored, which the (stream, seq)
// unique index refuses; an event ID already stored in its stream is
// refused by the (stream, id) index. Positions are guessed the same way:
// the group takes those after the last position this store saw
// committed, which is never above the stored last position, and a guess
// below it names a position already stored, which the events' primary
// key refuses (the package doc says why no guess can fall into a hole).
// So a group the server accepts was decided on the state it was written
// to.
func (s *Store) tryGuessed(ctx context.Context, conn *pgx.Conn, group []*request) (bool, error) {
	v := &view{
		s: s, ctx: ctx, guessed: true, heads: map[string]uint64{}, revs: map[string]uint64{},
		pending: map[string][]pendingEvent{}, ids: map[streamID]seqPos{}, states: map[string]ops.StreamState{},
	}
	for _, r := range group {
		c, _ := ops.AsCommit(r.op)
		for _, a := range c.Appends {
			if h, ok := s.heads[a.Stream]; ok {
				v.heads[a.Stream] = h
			}
			if st, ok := s.states[a.Stream]; ok {
				v.states[a.Stream] = st
			}
		}
	}
	// Positions are decided relative to the unknown last position: the
	// group's events take 1, 2, … after it.
	replies := make([]reply, len(group))
	var w writes
	for i, r := range group {
		c, _ := ops.AsCommit(r.op)
		s.stamp(r)
		v.now = time.Unix(0, r.at)
		plan, err := ops.Decide(c, v)
		if err != nil || v.err != nil || !plan.Writes {
			return false, nil
		}
		for _, ap := range plan.Appends {
			if ap.Retry {
				return false, nil
			}
		}
		replies[i] = reply{res: s.apply(r, c, plan, v, &w)}
	}
	if len(w.pos) == 0 {
		return false, nil
	}

	fault := FaultNone
	if f := s.opts.commitFault; f != nil {
		fault = f()
	}
	var base uint64
	var err error
	switch {
	case fault == FaultLostBeforeCommit:
		// As if the connection was lost with the statement sent: it is
		// never run.
		err = s.commitFailed(errFaultLost)
	case len(w.pos) == 1:
		sql := s.q.guessedOne
		if s.guessedNew(w.stream[0]) {
			sql = s.q.guessedOneNew
		}
		base, err = s.sendGuessed(ctx, conn, sql, w.stream[0], w.seq[0], w.id[0], w.typ[0], w.at[0], w.data[0], s.channel,
			int64(s.metaGen), int64(s.lastPos+1))
	default:
		// A known stream's row is left as it is: its head is read from
		// the events (see doc.go).
		var created []string
		var createdHeads []int64
		for _, name := range w.headOrder {
			if s.guessedNew(name) {
				created = append(created, name)
				createdHeads = append(createdHeads, int64(w.heads[name]))
			}
		}
		base, err = s.sendGuessed(ctx, conn, s.q.guessed, w.pos, w.stream, w.seq, w.id, w.typ, w.at, w.data,
			int64(s.lastPos), s.channel, int64(s.metaGen), created, createdHeads)
	}
	if errors.Is(err, errRefused) {
		// The locked way that follows learns the position again.
		s.refused.Add(1)
		s.posKnown = false
		return false, nil
	}
	if err != nil {
		s.posKnown = false
		return true, err
	}
	if fault != FaultNone {
		s.posKnown = false
		if fault == FaultLostAfterCommit {
			s.wake()
		}
		return true, s.commitFailed(errFaultLost)
	}
	s.wake()
	s.learnHeads(w.headOrder, w.heads, v.states)
	s.learnPos(base + uint64(len(w.pos)))
	for i, r := range group {
		res := replies[i].res
		for j := range res.Appends {
			if res.Appends[j].LastPos != 0 {
				res.Appends[j].FirstPos += base
				res.Appends[j].LastPos += base
			}
		}
		r.reply <- replies[i]
	}
	return true, nil
}

// guessedNew reports whether a guess takes stream for one with no stored
// row: its head is guessed 0 and no state is remembered. Such a guess
// inserts the row, so the row's key refuses it when the stream exists
// after all (with events, metadata or a tombstone the store never saw);
// a stream the store knows has a row, which the guess updates.
func (s *Store) guessedNew(stream string) bool {
	_, hasState := s.states[stream]
	return s.heads[stream] == 0 && !hasState
}

// errRefused says that the server refused a guessed group's statement:
// nothing of it is stored.
var errRefused = errors.New("guessed group refused")

// sendGuessed runs a guessed group's statement (queries.guessed or
// guessedOne) in one round trip, as one implicit transaction, and returns
// the last position before the group's events (read under the lock). It
// returns errRefused when the server refused the statement (a stale guess
// or a stored ID: nothing is stored), ErrNotWritten when the statement
// never reached the server, and ErrOutcomeUnknown when the answer was lost
// after it was sent.
func (s *Store) sendGuessed(ctx context.Context, conn *pgx.Conn, sql string, args ...any) (uint64, error) {
	var base int64
	err := conn.QueryRow(ctx, sql, args...).Scan(&base, nil)
	var pe *pgconn.PgError
	switch {
	case err == nil:
		return uint64(base), nil
	case errors.As(err, &pe), errors.Is(err, pgx.ErrNoRows):
		// A unique index refused a stale guess, or the metadata
		// generation moved and nothing was written.
		return 0, errRefused
	case pgconn.SafeToRetry(err):
		return 0, s.notWritten(err)
	}
	return 0, s.commitFailed(err)
}
