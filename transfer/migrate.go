package transfer

import (
	"context"
	"errors"
	"fmt"
	"time"

	"rose-ash.com/persist/effect"
	"rose-ash.com/persist/ops"
)

// Source is a store to migrate from: its handler, and how to fence it.
type Source struct {
	Handler effect.Handler
	// Fence makes the store refuse every write, from every writer, with an
	// error naming movedTo, and returns once no write can still land.
	Fence func(ctx context.Context, movedTo string) error
	// Unfence lifts the fence, when the migration fails after it; nil
	// leaves the source fenced.
	Unfence func(ctx context.Context) error
	// Clock, when set, is the Clock the source was opened with: from the
	// fence on, Migrate holds it at the time it reads then, so that what a
	// max-age hides does not move while the rest is copied and both
	// digests are taken (see the package doc, Migrate). Nil leaves the
	// source's clock running.
	Clock *Clock
}

// MigrateOptions tune Migrate. The zero value is the default.
type MigrateOptions struct {
	// MovedTo names the new store in the fence's error (required).
	MovedTo string
	// Lag is how many events behind the source the copy may be when the
	// source is fenced: the events left to copy while writes wait.
	// Default 1,000.
	Lag uint64
	// Rounds bounds the passes over the source before the fence: a writer
	// faster than the copy would otherwise keep it from ever catching up.
	// The source is also fenced as soon as a pass leaves it no closer.
	// Default 8.
	Rounds int
	// Progress, when set, is called after each page copied.
	Progress func(copied, head uint64)
}

// MigrateSummary is what a migration did.
type MigrateSummary struct {
	Summary
	Rounds     int           // passes over the source before the fence
	AtFence    uint64        // events copied when the source was fenced
	FencedFor  time.Duration // from the fence to the digests matching
	CopiedLive time.Duration // copying while the source took writes
}

// Migrate copies the store src into the empty store dst while src keeps
// taking writes: it copies the log (each hidden position as a placeholder
// that its stream's state hides again, see the package doc), follows it
// until it is within Lag events of the head (or a pass gets no closer, or
// Rounds passes are done), fences src (from then on every write to it
// fails with an error naming MovedTo), copies the rest of the log, the
// streams' states, the kv entries and the snapshots, and checks that both
// stores have the same digest. Writes refused by the fence are to be sent
// to dst once Migrate returns (with the same event IDs: none of them was
// stored in src). On an error after the fence, the fence is lifted
// (Source.Unfence) so that src takes writes again, and dst is to be
// dropped.
func Migrate(ctx context.Context, src Source, dst Target, opts MigrateOptions) (MigrateSummary, error) {
	if src.Handler == nil || src.Fence == nil {
		return MigrateSummary{}, errors.New("transfer: a migration source needs its handler and a fence")
	}
	if opts.MovedTo == "" {
		return MigrateSummary{}, errors.New("transfer: MigrateOptions.MovedTo must name the new store")
	}
	if opts.Lag == 0 {
		opts.Lag = 1000
	}
	if opts.Rounds == 0 {
		opts.Rounds = 8
	}
	start := time.Now()
	im, err := newImporter(ctx, dst)
	if err != nil {
		return MigrateSummary{}, err
	}
	defer dst.Clock.Release()
	p := effect.Handle(ctx, src.Handler)
	var sum MigrateSummary
	streams, err := walkStreams(p)
	if err != nil {
		return sum, err
	}
	lc := &logCopy{p: p, im: im, plan: newHiddenPlan(p, streams)}
	// copyLog copies the log after lc.pos; with all set, up to the head
	// seen at its first page, else until a page finds it within Lag.
	copyLog := func(all bool) error {
		for {
			r, err := lc.page()
			if err != nil {
				return err
			}
			if opts.Progress != nil {
				opts.Progress(lc.pos, r.Head)
			}
			if all && lc.pos >= r.Head || !all && (r.Head-lc.pos <= opts.Lag || len(r.Events) < ops.MaxPage) || lc.pos == lc.before {
				return nil
			}
		}
	}
	lag := ^uint64(0)
	for sum.Rounds < opts.Rounds {
		sum.Rounds++
		if err := copyLog(false); err != nil {
			return sum, err
		}
		r, err := effect.Perform(p, ops.ReadAll{From: lc.pos + 1, Limit: 1})
		if err != nil {
			return sum, fmt.Errorf("transfer: read the source: %w", err)
		}
		now := r.Head - lc.pos
		if now <= opts.Lag || now >= lag {
			break
		}
		lag = now
	}
	sum.CopiedLive = time.Since(start)
	sum.AtFence = lc.pos
	fenceAt := time.Now()
	if err := src.Fence(ctx, opts.MovedTo); err != nil {
		return sum, fmt.Errorf("transfer: fence the source: %w", err)
	}
	if src.Clock != nil {
		src.Clock.Hold(src.Clock.Now())
		defer src.Clock.Release()
	}
	fail := func(err error) (MigrateSummary, error) {
		if src.Unfence != nil {
			if uerr := src.Unfence(context.WithoutCancel(ctx)); uerr != nil {
				err = fmt.Errorf("%w (and lifting the fence failed: %v)", err, uerr)
			}
		}
		return sum, err
	}
	// The source takes no write now: its streams' states are final. Plan
	// the rest of the log with them, copy it, and give every stream its
	// state and the head the copy gives.
	if err := lc.plan.refresh(); err != nil {
		return fail(err)
	}
	if err := copyLog(true); err != nil {
		return fail(err)
	}
	if err := lc.finish(); err != nil {
		return fail(err)
	}
	var n Counts
	if err := walkKvSnapshots(p, newDigester(), &n, &visitor{kv: im.kv, kvVersion: im.kvVersion, snapshot: im.snapshot}); err != nil {
		return fail(err)
	}
	if err := im.finish(); err != nil {
		return fail(err)
	}
	// Both digests at one time of the source's clock: what a max-age
	// hides depends on it.
	at, err := effect.Perform(p, ops.Now{})
	if err != nil {
		return fail(fmt.Errorf("transfer: read the source's clock: %w", err))
	}
	want, _, err := digestCounts(ctx, src.Handler)
	if err != nil {
		return fail(fmt.Errorf("transfer: digest of the source: %w", err))
	}
	dst.Clock.Hold(at)
	got, counts, err := digestCounts(ctx, dst.Handler)
	dst.Clock.Release()
	if err != nil {
		return fail(fmt.Errorf("transfer: digest of the target: %w", err))
	}
	if got != want {
		hint := ""
		if src.Clock == nil && lc.aged {
			hint = " (a stream has a max-age and the source's clock ran while it was read: give Source.Clock)"
		}
		return fail(fmt.Errorf("%w: the source has %s, the target %s%s", ErrDigestMismatch, want, got, hint))
	}
	sum.FencedFor = time.Since(fenceAt)
	sum.Digest = want
	sum.LastPos = lc.pos
	sum.Took = time.Since(start)
	sum.Counts = counts
	return sum, nil
}

// logCopy copies a source's log into an importer page by page, giving
// each hidden position its stream as an export does (hiddenPlan), so
// that a copy keeps positions and seqs across what the source hides.
type logCopy struct {
	p      *effect.P
	im     *importer
	plan   *hiddenPlan
	pos    uint64 // the last position copied, visible or hidden
	before uint64 // pos before the last page
	aged   bool   // some stream has a max-age
}

// page copies the next page of the log: the hidden positions before each
// event, and the event, then the hidden positions up to where the page
// says to read on.
func (lc *logCopy) page() (ops.ReadAllResult, error) {
	lc.before = lc.pos
	r, err := effect.Perform(lc.p, ops.ReadAll{From: lc.pos + 1, Limit: ops.MaxPage})
	if err != nil {
		return r, fmt.Errorf("transfer: read the source from %d: %w", lc.pos+1, err)
	}
	for _, e := range r.Events {
		if e.Pos <= lc.pos {
			return r, fmt.Errorf("transfer: the source gives position %d after %d", e.Pos, lc.pos)
		}
		if err := lc.hidden(e.Pos); err != nil {
			return r, err
		}
		if err := lc.plan.visible(e); err != nil {
			return r, fmt.Errorf("%w (the source's stream limits or deletes changed during the migration: migrate again)", err)
		}
		if err := lc.im.event(e); err != nil {
			return r, err
		}
		lc.pos = e.Pos
	}
	next := r.Next
	if next == 0 || next > r.Head+1 { // a backend that does not say: gap-free pages
		next = lc.pos + 1
	}
	if err := lc.hidden(next); err != nil {
		return r, err
	}
	return r, lc.im.flush()
}

// hidden copies the hidden positions after pos and before upTo, each as a
// placeholder in the stream the plan gives it. A position the plan has no
// stream for means the source's states changed since they were read: it
// reads them again, once for that position.
func (lc *logCopy) hidden(upTo uint64) error {
	for lc.pos+1 < upTo {
		s, err := lc.plan.take(lc.pos + 1)
		if err != nil {
			if rerr := lc.plan.refresh(); rerr != nil {
				return rerr
			}
			if s, err = lc.plan.take(lc.pos + 1); err != nil {
				return err
			}
		}
		lc.pos++
		if err := lc.im.hidden(Hidden{Pos: lc.pos, Stream: s, Seq: lc.plan.streams[s].next - 1}); err != nil {
			return err
		}
	}
	return nil
}

// finish checks that every hidden seq got a position and hands the
// importer every stream's state, with the head the copy gives it.
func (lc *logCopy) finish() error {
	if err := lc.plan.done(); err != nil {
		return err
	}
	for _, si := range lc.plan.sorted() {
		head := si.next - 1
		st := exportState(si.state, head)
		if head == 0 && st == (ops.StreamState{}) {
			continue
		}
		lc.aged = lc.aged || st.MaxAge > 0
		lc.im.stream(ops.StreamInfo{Name: si.name, Head: head}, st)
	}
	return nil
}
