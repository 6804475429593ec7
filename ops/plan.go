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

// Check validates c and decides it against the state v: the first failed
// expectation is a *Conflict, a retried append (see the package doc) is
// answered from the stored events. Nothing is written by Check; the backend
// writes what the plan says, atomically, while v stays unchanged.
func Check(c Commit, v View) (Plan, error) {
	if err := c.Validate(); err != nil {
		return Plan{}, err
	}
	return check(c, v)
}

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
	res, retry, err := retryOf(a, head, v)
	if err != nil {
		return AppendPlan{}, err
	}
	if retry {
		return AppendPlan{Retry: true, Result: res}, nil
	}
	if !a.Expect.Holds(head) {
		return AppendPlan{}, &Conflict{Stream: a.Stream, Expected: a.Expect, Actual: head}
	}
	n := uint64(len(a.Events))
	return AppendPlan{Result: AppendResult{Stream: a.Stream, FirstSeq: head + 1, Head: head + n}}, nil
}

// retryOf reports whether a's events, all with IDs, are stored in order at
// the place a would write them, and if so the original result.
func retryOf(a Append, head uint64, v View) (AppendResult, bool, error) {
	n := uint64(len(a.Events))
	for _, ev := range a.Events {
		if ev.ID == uuid.Nil {
			return AppendResult{}, false, nil
		}
	}
	var from uint64
	switch a.Expect.Kind {
	case ExpectExact:
		from = a.Expect.N + 1
	case ExpectNoStream:
		from = 1
	default:
		if head < n {
			return AppendResult{}, false, nil
		}
		from = head - n + 1
	}
	if from == 0 || from+n-1 > head || from+n-1 < from {
		return AppendResult{}, false, nil
	}
	res := AppendResult{Stream: a.Stream, FirstSeq: from, Head: from + n - 1}
	for i, ev := range a.Events {
		id, pos, err := v.EventAt(a.Stream, from+uint64(i))
		if err != nil {
			return AppendResult{}, false, err
		}
		if id != ev.ID {
			return AppendResult{}, false, nil
		}
		if i == 0 {
			res.FirstPos = pos
		}
		res.LastPos = pos
	}
	return res, true, nil
}
