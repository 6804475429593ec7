package crashtest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strconv"

	"rose-ash.com/persist/backends/file"
	"rose-ash.com/persist/backends/mock"
	"rose-ash.com/persist/effect"
	"rose-ash.com/persist/interp"
	"rose-ash.com/persist/ops"
	"rose-ash.com/persist/programs"
)

// Program is a persistence program as package programs writes them: it
// performs persist operations and returns a result. To be re-run after a
// crash it must be deterministic and its appends idempotent (events with
// IDs of their own), so that an append in flight at the crash is retried
// rather than doubled.
type Program func(p *effect.P) (string, error)

// LedgerProgram is the program of the program-level crash test: a ledger
// stream appended with exact expectations, a status key set after each
// entry, a projection folded over the stream, and a snapshot of it.
func LedgerProgram(p *effect.P) (string, error) {
	for i := 1; i <= 5; i++ {
		ev := ops.EventData{ID: id("ledger", i), Type: "credit", Data: []byte(strconv.Itoa(10 * i))}
		if _, err := programs.Append(p, "ledger", ops.Exact(uint64(i-1)), ev); err != nil {
			return "", fmt.Errorf("credit %d: %w", i, err)
		}
		if _, err := programs.Put(p, "status", []byte(fmt.Sprintf("credited %d", i))); err != nil {
			return "", err
		}
	}
	evs, err := programs.ReadStream(p, "ledger")
	if err != nil {
		return "", err
	}
	total := 0
	for _, e := range evs {
		n, err := strconv.Atoi(string(e.Data))
		if err != nil {
			return "", err
		}
		total += n
	}
	snap := ops.Snapshot{Name: "ledger-total", Version: 1, Seq: uint64(len(evs)), Value: []byte(strconv.Itoa(total))}
	if _, err := effect.Perform(p, ops.SnapshotWrite{Snapshot: snap}); err != nil {
		return "", err
	}
	if _, err := programs.Append(p, "ledger", ops.Exact(uint64(len(evs))), ops.EventData{ID: id("ledger", 99), Type: "closed", Data: []byte(strconv.Itoa(total))}); err != nil {
		return "", err
	}
	return fmt.Sprintf("total %d over %d credits", total, len(evs)), nil
}

// ProgramOutcome is what a program-level crash and restart came to.
type ProgramOutcome struct {
	At      int // the IO effect the machine crashed at
	Fault   mock.Fault
	Crashed bool   // the first run crashed (false: it finished before effect At)
	Result  string // the re-run's result
	Replay  int    // effects the re-run answered from the journal
	Live    int    // effects it performed anew
}

// programEnv is a store on a mock disk for one run of a program.
type programEnv struct {
	ctx   context.Context
	fs    *mock.FS
	store *file.Store
}

func (e *programEnv) open() error {
	s, err := file.Open(effect.Handle(e.ctx, e.fs), Dir, file.Options{SegmentSize: segSize})
	e.store = s
	return err
}

// crashAt is a handler between the store and the disk that crashes the
// machine at its At-th effect: the disk halts and the effect is answered
// with interp.ErrCrash, which ends the run.
type crashAt struct {
	fs *mock.FS
	At int
	n  int
}

func (c *crashAt) Handle(p *effect.P, e effect.Effect) (any, error) {
	k := c.n
	c.n++
	if k == c.At {
		c.fs.Halt(interp.ErrCrash)
		return nil, fmt.Errorf("io effect %d (%s): %w", k, e.EffectName(), interp.ErrCrash)
	}
	return p.Send(e)
}

// RunProgram runs prog stepped on a new store on the mock platform (seed
// seed), crashes the machine at IO effect at under fault, restarts the
// store on the disk the crash left, checks that every step the program saw
// acknowledged is there, and re-runs the program with its journal: the
// steps it saw answered before the crash are replayed, the rest performed
// anew. The re-run must finish with the result and the store state of a
// run without a crash. It returns what happened, or an error that names the
// acknowledged step missing or the difference.
func RunProgram(ctx context.Context, prog Program, seed uint64, at int, fault mock.Fault) (ProgramOutcome, error) {
	return runProgramOn(ctx, prog, seed, at, fault, nil)
}

// runProgramOn is RunProgram with wrap, when set, between the store and
// the disk of the run that crashes.
func runProgramOn(ctx context.Context, prog Program, seed uint64, at int, fault mock.Fault, wrap func(effect.Handler) effect.Handler) (ProgramOutcome, error) {
	out := ProgramOutcome{At: at, Fault: fault}
	// The run without a crash: its result and its final state.
	ref := &programEnv{ctx: ctx, fs: mock.New(seed, mock.Options{})}
	if err := ref.open(); err != nil {
		return out, err
	}
	want, err := interp.Run(ctx, prog, ref.store, ref.fs)
	if err != nil {
		return out, fmt.Errorf("the program without a crash: %w", err)
	}
	wantView, err := readView(effect.Handle(ctx, ref.store, ref.fs), ref.store, []string{"ledger-total"})
	if err != nil {
		return out, err
	}

	// The run that crashes, journalled.
	env := &programEnv{ctx: ctx, fs: mock.New(seed, mock.Options{})}
	if err := env.open(); err != nil {
		return out, err
	}
	j := &interp.Journal{}
	var disk effect.Handler = env.fs
	if wrap != nil {
		disk = wrap(env.fs)
	}
	_, err = interp.RunStepped(ctx, prog, interp.Record(j), env.store, &crashAt{fs: env.fs, At: at}, disk)
	out.Crashed = errors.Is(err, interp.ErrCrash)
	if err != nil && !out.Crashed {
		return out, fmt.Errorf("the run that crashes: %w", err)
	}

	// Restart on the disk the crash left.
	left, _ := env.fs.Crash(fault, seed+1)
	re := &programEnv{ctx: ctx, fs: left}
	if err := re.open(); err != nil {
		return out, fmt.Errorf("restart after a crash at effect %d under %s (invariant 10): %w", at, fault, err)
	}
	if err := acknowledged(ctx, j, re); err != nil {
		return out, err
	}
	rp := interp.Replay(j)
	got, err := interp.RunStepped(ctx, prog, rp, re.store, re.fs)
	out.Result, out.Replay, out.Live = got, rp.Replayed(), rp.Live()
	if err != nil {
		return out, fmt.Errorf("the re-run after a crash at effect %d: %w", at, err)
	}
	if got != want {
		return out, fmt.Errorf("the re-run returned %q, a run without a crash %q", got, want)
	}
	v, err := readView(effect.Handle(ctx, re.store, re.fs), re.store, []string{"ledger-total"})
	if err != nil {
		return out, err
	}
	if d := sameContent(wantView, v); d != "" {
		return out, fmt.Errorf("after the re-run: %s", d)
	}
	return out, nil
}

// acknowledged checks that every append and snapshot the journal holds an
// answer for is in the restarted store: exactly which acknowledged step is
// missing, if one is.
func acknowledged(ctx context.Context, j *interp.Journal, e *programEnv) error {
	p := effect.Handle(ctx, e.store, e.fs)
	for i, st := range j.Snapshot() {
		if st.Err != nil {
			continue
		}
		switch op := st.Effect.(type) {
		case ops.Append:
			res := st.Value.(ops.AppendResult)
			r, err := effect.Perform(p, ops.Read{Stream: op.Stream, From: res.FirstSeq, Limit: len(op.Events)})
			if err != nil {
				return fmt.Errorf("step %d (%s): read back: %w", i, interp.FormatEffect(op), err)
			}
			if len(r.Events) != len(op.Events) {
				return fmt.Errorf("acknowledged step %d is missing after the restart: %s answered %+v", i, interp.FormatEffect(op), res)
			}
			for k, ev := range r.Events {
				if ev.ID != op.Events[k].ID || !bytes.Equal(ev.Data, op.Events[k].Data) {
					return fmt.Errorf("acknowledged step %d differs after the restart at seq %d", i, ev.Seq)
				}
			}
		case ops.SnapshotWrite:
			r, err := effect.Perform(p, ops.SnapshotRead{Name: op.Snapshot.Name})
			if err != nil || !r.Found || !sameSnap(r.Snapshot, op.Snapshot) {
				return fmt.Errorf("acknowledged step %d is missing after the restart: %s (%v)", i, interp.FormatEffect(op), err)
			}
		}
	}
	return nil
}

// sameContent compares two views by their events (times aside), kv values
// and snapshots. Kv revisions may differ: a put in flight at the crash that
// was durable is done again by the re-run, at a new revision.
func sameContent(want, got *view) string {
	m := newModel()
	m.streams, m.log, m.snaps = want.streams, want.log, want.snaps
	m.gens = nil // generations are the campaign's to check, not a re-run's
	for k, e := range want.kv {
		m.kv[k] = e
	}
	g := *got
	g.kv = map[string]ops.KvEntry{}
	for k, e := range got.kv {
		if w, ok := want.kv[k]; ok && bytes.Equal(w.Value, e.Value) {
			e.Revision = w.Revision
		}
		g.kv[k] = e
	}
	return m.diff(&g)
}

// ProgramEffects counts the IO effects of a run of prog without a crash:
// the crash points of the program-level test.
func ProgramEffects(ctx context.Context, prog Program, seed uint64) (int, error) {
	env := &programEnv{ctx: ctx, fs: mock.New(seed, mock.Options{})}
	if err := env.open(); err != nil {
		return 0, err
	}
	before := env.fs.Ops()
	if _, err := interp.Run(ctx, prog, env.store, env.fs); err != nil {
		return 0, err
	}
	return env.fs.Ops() - before, nil
}
