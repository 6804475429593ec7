package ops

import (
	"github.com/google/uuid"

	"rose-ash.com/persist/effect"
)

// View is what a backend shows Check of its current state.
type View interface {
	// Head is the stream's last seq, 0 when it is empty.
	Head(stream string) uint64
	// EventAt gives the ID and position of the stored event at seq
	// (1 <= seq <= Head(stream)).
	EventAt(stream string, seq uint64) (id uuid.UUID, pos uint64, err error)
	// FindID gives the seq and position of the event with ID id stored in
	// stream, seq 0 when the stream holds no event with that ID. It is
	// called for every event of an append that carries an ID, so it must
	// not scan the stream: backends keep an index (and confirm its hits
	// against the stored event).
	FindID(stream string, id uuid.UUID) (seq, pos uint64, err error)
	// KvRevision is the key's revision, 0 when it is absent.
	KvRevision(key string) uint64
}

// Plan is what a commit will do, decided by Check before anything is
// written.
type Plan struct {
	// Appends has one entry per append of the commit, in order.
	Appends []AppendPlan
	// Writes reports whether anything is to be written: false when every
	// append is a retry of a stored one and there are no kv changes.
	Writes bool
}

// AppendPlan is the fate of one append. A Retry is already stored and
// Result is its original answer. Otherwise its events go at seqs
// Result.FirstSeq..Result.Head, and the backend fills in the positions.
type AppendPlan struct {
	Retry  bool
	Result AppendResult
}

// Check validates c and decides it against the state v: an append to a
// hard-deleted stream is a *StreamDeletedError (when v is a StreamView),
// a reused event ID is a *DuplicateIDError, the first failed expectation a
// *Conflict, a
// retried append (see the package doc) is answered from the stored events.
// Nothing is written by Check; the backend writes what the plan says,
// atomically, while v stays unchanged.
func Check(c Commit, v View) (Plan, error) {
	if err := c.Validate(); err != nil {
		return Plan{}, err
	}
	return check(c, v)
}

// Decide is Check for a commit its caller has validated already (with
// Validate, as itself): a backend that validates each operation on arrival
// decides it later without validating it twice.
func Decide(c Commit, v View) (Plan, error) { return check(c, v) }

// CheckOp is Check for any commit-shaped operation (Append, KvPut, KvDelete
// or Commit): it validates the operation as itself, so an invalid append is
// reported as a persist/append error, and returns the commit it stands for.
func CheckOp(e effect.Effect, v View) (Commit, Plan, error) {
	c, ok := AsCommit(e)
	if !ok {
		return Commit{}, Plan{}, &InvalidError{Op: e.EffectName(), Field: "op", Reason: "not a commit"}
	}
	if err := Validate(e); err != nil {
		return Commit{}, Plan{}, err
	}
	plan, err := check(c, v)
	return c, plan, err
}

func check(c Commit, v View) (Plan, error) {
	plan := Plan{Appends: make([]AppendPlan, len(c.Appends)), Writes: len(c.Kv) > 0}
	for i, a := range c.Appends {
		ap, err := checkAppend(a, v)
		if err != nil {
			return Plan{}, err
		}
		plan.Appends[i] = ap
		plan.Writes = plan.Writes || !ap.Retry
	}
	for _, k := range c.Kv {
		if rev := v.KvRevision(k.Key); !k.Expect.Holds(rev) {
			return Plan{}, &Conflict{Key: k.Key, Expected: k.Expect, Actual: rev}
		}
	}
	return plan, nil
}

// CheckAppend is Check for a single append, without building a commit: the
// fast path of backends that answer persist/append on its own.
func CheckAppend(a Append, v View) (AppendPlan, error) {
	if err := a.Validate(); err != nil {
		return AppendPlan{}, err
	}
	return checkAppend(a, v)
}

func checkAppend(a Append, v View) (AppendPlan, error) {
	head := v.Head(a.Stream)
	var st StreamState
	if sv, ok := v.(StreamView); ok {
		var err error
		if st, err = sv.StreamState(a.Stream); err != nil {
			return AppendPlan{}, err
		}
		if st.Tombstone {
			return AppendPlan{}, &StreamDeletedError{Stream: a.Stream}
		}
		if st != (StreamState{}) {
			v = idView{StreamView: sv, head: head, st: st}
		}
	}
	if head > 0 {
		res, retry, err := storedIDs(a, head, v)
		if err != nil {
			return AppendPlan{}, err
		}
		if retry {
			return AppendPlan{Retry: true, Result: res}, nil
		}
	}
	if !holds(a.Expect, head, st) {
		return AppendPlan{}, &Conflict{Stream: a.Stream, Expected: a.Expect, Actual: head}
	}
	n := uint64(len(a.Events))
	return AppendPlan{Result: AppendResult{Stream: a.Stream, FirstSeq: head + 1, Head: head + n}}, nil
}

// storedIDs applies the rule that an event ID is unique within its stream
// (see the package doc). When a's events all carry IDs stored, in order, at
// consecutive seqs where a's expectation puts them, a is a retry and the
// answer is the original result. Otherwise any of its IDs stored in the
// stream is a *DuplicateIDError naming the first such event.
func storedIDs(a Append, head uint64, v View) (AppendResult, bool, error) {
	for i, ev := range a.Events {
		if ev.ID == uuid.Nil {
			continue
		}
		seq, pos, err := v.FindID(a.Stream, ev.ID)
		if err != nil {
			return AppendResult{}, false, err
		}
		if seq == 0 {
			continue
		}
		if i == 0 {
			res, ok, err := retryAt(a, seq, pos, head, v)
			if err != nil || ok {
				return res, ok, err
			}
		}
		return AppendResult{}, false, &DuplicateIDError{Stream: a.Stream, ID: ev.ID, Seq: seq, Index: i}
	}
	return AppendResult{}, false, nil
}

// retryAt reports whether a, whose first event is stored at seq and pos, is
// stored whole from there at the place its expectation names, and if so
// its original result.
func retryAt(a Append, seq, pos, head uint64, v View) (AppendResult, bool, error) {
	n := uint64(len(a.Events))
	switch a.Expect.Kind {
	case ExpectExact:
		if seq != a.Expect.N+1 {
			return AppendResult{}, false, nil
		}
	case ExpectNoStream:
		if seq != 1 {
			return AppendResult{}, false, nil
		}
	}
	if n-1 > head-seq {
		return AppendResult{}, false, nil
	}
	res := AppendResult{Stream: a.Stream, FirstSeq: seq, Head: seq + n - 1, FirstPos: pos, LastPos: pos}
	for i, ev := range a.Events[1:] {
		if ev.ID == uuid.Nil {
			return AppendResult{}, false, nil
		}
		id, p, err := v.EventAt(a.Stream, seq+1+uint64(i))
		if err != nil {
			return AppendResult{}, false, err
		}
		if id != ev.ID {
			return AppendResult{}, false, nil
		}
		res.LastPos = p
	}
	return res, true, nil
}
