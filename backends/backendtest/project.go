package backendtest

import (
	"errors"
	"fmt"
	"strconv"

	"rose-ash.com/persist/effect"
	"rose-ash.com/persist/ops"
	"rose-ash.com/persist/programs"
)

// tally is a projection value: a balance, the number of events folded and
// the seqs seen, so that a wrong fold (a skipped, repeated or reordered
// event) shows in the value.
type tally struct {
	Balance int
	Count   int
	Seqs    []uint64
}

// tallyStep folds a "credit"/"debit" event carrying a decimal amount. It is
// pure and never changes its input in place.
func tallyStep(t tally, ev ops.Event) (tally, error) { return tallyFold(t, ev), nil }

// tallyFold is tallyStep for callers that fold by hand.
func tallyFold(t tally, ev ops.Event) tally {
	n, _ := strconv.Atoi(string(ev.Data))
	switch ev.Type {
	case "credit":
		t.Balance += n
	case "debit":
		t.Balance -= n
	}
	t.Count++
	t.Seqs = append(append([]uint64(nil), t.Seqs...), ev.Seq)
	return t
}

// ledger is the stream the projection cases fold: 12 events.
func ledger(e *Env, stream string) {
	for i := 1; i <= 12; i++ {
		typ := "credit"
		if i%3 == 0 {
			typ = "debit"
		}
		mustAppend(e, stream, ops.Any(), ev(typ, strconv.Itoa(i*10)))
	}
}

// ledgerTally is what folding ledger gives.
func ledgerTally(upTo int) tally {
	t := tally{}
	for i := 1; i <= upTo; i++ {
		typ := "credit"
		if i%3 == 0 {
			typ = "debit"
		}
		t = tallyFold(t, ops.Event{Type: typ, Seq: uint64(i), Data: []byte(strconv.Itoa(i * 10))})
	}
	return t
}

func init() {
	register("project",
		Case{Name: "full", Doc: "Project folds the whole stream from the seed into {Value, Seq = head}", Run: projectFull},
		Case{Name: "empty", Doc: "projecting an empty stream gives the seed at seq 0", Run: projectEmpty},
		Case{Name: "resume-equals-full", Doc: "for every cut point k, resuming from the fold of the first k events equals the full fold", Run: projectResumeEqualsFull},
		Case{Name: "resume-tail-only", Doc: "ProjectResume folds only the events after the state's seq", Run: projectResumeTailOnly},
		Case{Name: "resume-current", Doc: "resuming a state already at the head folds nothing and gives the state back", Run: projectResumeCurrent},
		Case{Name: "deterministic", Doc: "projecting the same log twice gives the same value", Run: projectDeterministic},
		Case{Name: "isolated", Doc: "a projection of one stream sees none of another stream's events", Run: projectIsolated},
		Case{Name: "ahead", Doc: "resuming from a seq above the stream's head is an error, not a silent fold", Run: projectAhead},
		Case{Name: "paged", Doc: "a projection of a stream longer than one page folds every event once", Run: projectPaged},
		Case{Name: "step-error", Doc: "a failing step stops the fold with an error naming the stream and seq, the state unchanged", Run: projectStepError},
	)
}

func projectProg(stream string) func(*effect.P) (programs.State[tally], error) {
	return func(p *effect.P) (programs.State[tally], error) {
		return programs.Project(p, stream, tallyStep, tally{})
	}
}

func projectFull(e *Env) {
	ledger(e, "acct")
	st, err := Do(e, projectProg("acct"))
	e.NoError(err, "project")
	e.Equal(programs.State[tally]{Value: ledgerTally(12), Seq: 12}, st, "state")
}

func projectEmpty(e *Env) {
	st, err := Do(e, func(p *effect.P) (programs.State[tally], error) {
		return programs.Project(p, "none", tallyStep, tally{Balance: 7})
	})
	e.NoError(err, "project")
	e.Equal(programs.State[tally]{Value: tally{Balance: 7}, Seq: 0}, st, "state of an empty stream")
}

func projectResumeEqualsFull(e *Env) {
	ledger(e, "acct")
	full, err := Do(e, projectProg("acct"))
	if !e.NoError(err, "full projection") {
		return
	}
	for k := 0; k <= 12; k++ {
		// The state at the cut is folded from the first k events as read.
		cut := programs.State[tally]{}
		if k > 0 {
			for _, got := range mustRead(e, "acct", 1, k).Events {
				cut = programs.State[tally]{Value: tallyFold(cut.Value, got), Seq: got.Seq}
			}
		}
		e.Equal(uint64(k), cut.Seq, "seq of the cut at %d", k)
		st, err := Do(e, func(p *effect.P) (programs.State[tally], error) {
			return programs.ProjectResume(p, "acct", tallyStep, cut)
		})
		if e.NoError(err, "resume from %d", k) {
			e.Equal(full, st, "resume from the cut at %d against the full fold", k)
		}
	}
}

func projectResumeTailOnly(e *Env) {
	ledger(e, "acct")
	var folded []uint64
	st, err := Do(e, func(p *effect.P) (programs.State[tally], error) {
		return programs.ProjectResume(p, "acct", func(t tally, ev ops.Event) (tally, error) {
			folded = append(folded, ev.Seq)
			return tallyStep(t, ev)
		}, programs.State[tally]{Value: ledgerTally(9), Seq: 9})
	})
	e.NoError(err, "resume from 9")
	e.Equal([]uint64{10, 11, 12}, folded, "seqs folded by the resume")
	e.Equal(uint64(12), st.Seq, "Seq")
	mustAppend(e, "acct", ops.Any(), ev("credit", "1000"))
	folded = nil
	st2, err := Do(e, func(p *effect.P) (programs.State[tally], error) {
		return programs.ProjectResume(p, "acct", func(t tally, ev ops.Event) (tally, error) {
			folded = append(folded, ev.Seq)
			return tallyStep(t, ev)
		}, st)
	})
	e.NoError(err, "resume after one more append")
	e.Equal([]uint64{13}, folded, "seqs folded by the second resume")
	e.Equal(st.Value.Balance+1000, st2.Value.Balance, "balance after the second resume")
}

func projectResumeCurrent(e *Env) {
	ledger(e, "acct")
	cur := programs.State[tally]{Value: ledgerTally(12), Seq: 12}
	calls := 0
	st, err := Do(e, func(p *effect.P) (programs.State[tally], error) {
		return programs.ProjectResume(p, "acct", func(t tally, ev ops.Event) (tally, error) { calls++; return t, nil }, cur)
	})
	e.NoError(err, "resume at the head")
	e.Equal(cur, st, "state")
	e.Equal(0, calls, "step calls")
}

func projectDeterministic(e *Env) {
	ledger(e, "acct")
	a, err := Do(e, projectProg("acct"))
	e.NoError(err, "first projection")
	b, err := Do(e, projectProg("acct"))
	e.NoError(err, "second projection")
	e.Equal(a, b, "two projections of the same log")
}

func projectIsolated(e *Env) {
	ledger(e, "acct-1")
	mustAppend(e, "acct-10", ops.Any(), ev("credit", "5000"))
	mustAppend(e, "acct", ops.Any(), ev("credit", "7000"))
	st, err := Do(e, projectProg("acct-1"))
	e.NoError(err, "project")
	e.Equal(ledgerTally(12), st.Value, "value of acct-1")
}

func projectAhead(e *Env) {
	ledger(e, "acct")
	_, err := Do(e, func(p *effect.P) (programs.State[tally], error) {
		return programs.ProjectResume(p, "acct", tallyStep, programs.State[tally]{Seq: 20})
	})
	e.True(errors.Is(err, programs.ErrAhead), "resume from seq 20 at head 12: want ErrAhead, got %v", err)
}

var errBadEvent = errors.New("bad event")

func projectStepError(e *Env) {
	ledger(e, "acct")
	start := programs.State[tally]{Value: ledgerTally(2), Seq: 2}
	var folded []uint64
	st, err := Do(e, func(p *effect.P) (programs.State[tally], error) {
		return programs.ProjectResume(p, "acct", func(t tally, ev ops.Event) (tally, error) {
			if ev.Seq == 7 {
				return t, errBadEvent
			}
			folded = append(folded, ev.Seq)
			return tallyStep(t, ev)
		}, start)
	})
	var se *programs.StepError
	if e.True(errors.As(err, &se), "want a *programs.StepError, got %v", err) {
		e.Equal("acct", se.Stream, "stream of the step error")
		e.Equal(uint64(7), se.Seq, "seq of the step error")
	}
	e.True(errors.Is(err, errBadEvent), "the step's error is wrapped: %v", err)
	e.Equal(start, st, "state after a failed fold")
	e.Equal([]uint64{3, 4, 5, 6}, folded, "seqs folded before the failing one")
}

func projectPaged(e *Env) {
	n := ops.DefaultPage*2 + 7
	events := make([]ops.EventData, n)
	for i := range events {
		events[i] = ev("credit", "1")
	}
	mustAppend(e, "big", ops.Any(), events...)
	st, err := Do(e, func(p *effect.P) (programs.State[int], error) {
		return programs.Project(p, "big", func(sum int, ev ops.Event) (int, error) {
			if uint64(sum)+1 != ev.Seq {
				return 0, fmt.Errorf("seq %d after %d events: an event skipped or repeated", ev.Seq, sum)
			}
			return sum + 1, nil
		}, 0)
	})
	e.NoError(err, "project")
	e.Equal(programs.State[int]{Value: n, Seq: uint64(n)}, st, "state after %d events", n)
}
