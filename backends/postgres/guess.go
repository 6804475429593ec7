package postgres

import (
	"context"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"rose-ash.com/persist/ops"
)

// maxGuessedHeads bounds the heads a store remembers for guessing; past
// it the store forgets them all and learns them again.
const maxGuessedHeads = 1 << 16

// guessable reports whether a group can be tried on guessed state: it
// changes no kv entry (a stale kv revision would not be caught by the
// server) and guessing is not turned off.
func (s *Store) guessable(group []*request) bool {
	if s.opts.noGuess {
		return false
	}
	for _, r := range group {
		c, _ := ops.AsCommit(r.op)
		if len(c.Kv) > 0 {
			return false
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
// refused by the (stream, id) index. Positions are not guessed: they are
// counted on from log_state.last_pos, read under the lock by the
// statements themselves. So a group the server accepts was decided on the
// state it was written to.
func (s *Store) tryGuessed(ctx context.Context, conn *pgx.Conn, group []*request) (bool, error) {
	v := &view{
		s: s, ctx: ctx, guessed: true, heads: map[string]uint64{}, revs: map[string]uint64{},
		pending: map[string][]pendingEvent{}, ids: map[streamID]seqPos{},
	}
	for _, r := range group {
		c, _ := ops.AsCommit(r.op)
		for _, a := range c.Appends {
			if h, ok := s.heads[a.Stream]; ok {
				v.heads[a.Stream] = h
			}
		}
	}
	// Positions are decided relative to the unknown last position: the
	// group's events take 1, 2, … after it.
	replies := make([]reply, len(group))
	var w writes
	for i, r := range group {
		c, _ := ops.AsCommit(r.op)
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

	names := make([]string, 0, len(w.heads))
	heads := make([]int64, 0, len(w.heads))
	for _, name := range w.headOrder {
		names = append(names, name)
		heads = append(heads, int64(w.heads[name]))
	}
	n := int64(len(w.pos))
	b := &pgx.Batch{}
	b.Queue("BEGIN ISOLATION LEVEL READ COMMITTED")
	b.Queue(s.q.lock)
	b.Queue(s.q.insertEventsAfter, w.pos, w.stream, w.seq, w.id, w.typ, w.at, w.data)
	b.Queue(s.q.upsertHeads, names, heads)
	b.Queue(s.q.advance, n, s.channel)
	fault := FaultNone
	if f := s.opts.commitFault; f != nil {
		fault = f()
	}
	if fault != FaultLostBeforeCommit {
		b.Queue("COMMIT")
	}
	base, err := s.sendGuessed(ctx, conn, b)
	if errors.Is(err, errRefused) {
		s.refused.Add(1)
		return false, nil
	}
	if err != nil {
		return true, err
	}
	if fault != FaultNone {
		if fault == FaultLostAfterCommit {
			s.wake()
		}
		return true, s.commitFailed(errFaultLost)
	}
	s.wake()
	s.learnHeads(w.headOrder, w.heads)
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

// errRefused says that the server refused a guessed group's statements:
// nothing of it is stored.
var errRefused = errors.New("guessed group refused")

// sendGuessed sends a guessed group's transaction in one round trip and
// returns the last position before the group's events (read under the
// lock). It returns errRefused when the server refused a statement (the
// transaction is then aborted and nothing is stored), ErrNotWritten when
// the batch never reached the server, and ErrOutcomeUnknown when the
// answer was lost after the batch, COMMIT included, was sent.
func (s *Store) sendGuessed(ctx context.Context, conn *pgx.Conn, b *pgx.Batch) (uint64, error) {
	n := b.Len()
	br := conn.SendBatch(ctx, b)
	defer br.Close()
	fail := func(err error) (uint64, error) {
		var pe *pgconn.PgError
		switch {
		case errors.As(err, &pe):
			return 0, errRefused
		case pgconn.SafeToRetry(err):
			return 0, s.notWritten(err)
		}
		return 0, s.commitFailed(err)
	}
	if _, err := br.Exec(); err != nil {
		return fail(err)
	}
	var base, kvRev int64
	if err := br.QueryRow().Scan(&base, &kvRev); err != nil {
		return fail(err)
	}
	for i := 2; i < n; i++ {
		tag, err := br.Exec()
		if err != nil {
			return fail(err)
		}
		if i == n-1 && b.QueuedQueries[i].SQL == "COMMIT" && tag.String() != "COMMIT" {
			return 0, s.notWritten(fmt.Errorf("COMMIT answered %q", tag.String()))
		}
	}
	if err := br.Close(); err != nil {
		return fail(err)
	}
	return uint64(base), nil
}
