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
// taking writes: it copies the log, follows it until it is within Lag
// events of the head (or a pass gets no closer, or Rounds passes are
// done), fences src (from then on every write to it fails
// with an error naming MovedTo), copies the rest of the log, the kv
// entries and the snapshots, and checks that both stores have the same
// digest. Writes refused by the fence are to be sent to dst once Migrate
// returns (with the same event IDs: none of them was stored in src). On
// an error after the fence, the fence is lifted (Source.Unfence) so that
// src takes writes again, and dst is to be dropped.
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
	defer dst.Clock.release()
	p := effect.Handle(ctx, src.Handler)
	var sum MigrateSummary
	var pos uint64
	// copyTo copies events after pos; with all set, up to the head seen
	// at its first page, else until a page finds it within Lag.
	copyLog := func(all bool) error {
		for {
			r, err := effect.Perform(p, ops.ReadAll{From: pos + 1, Limit: ops.MaxPage})
			if err != nil {
				return fmt.Errorf("transfer: read the source from %d: %w", pos+1, err)
			}
			for _, e := range r.Events {
				if e.Pos != pos+1 {
					return fmt.Errorf("transfer: the source skips from position %d to %d", pos, e.Pos)
				}
				if err := im.event(e); err != nil {
					return err
				}
				pos = e.Pos
			}
			if err := im.flush(); err != nil {
				return err
			}
			if opts.Progress != nil {
				opts.Progress(pos, r.Head)
			}
			if all && pos >= r.Head || !all && (r.Head-pos <= opts.Lag || len(r.Events) < ops.MaxPage) || len(r.Events) == 0 {
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
		r, err := effect.Perform(p, ops.ReadAll{From: pos + 1, Limit: 1})
		if err != nil {
			return sum, fmt.Errorf("transfer: read the source: %w", err)
		}
		now := r.Head - pos
		if now <= opts.Lag || now >= lag {
			break
		}
		lag = now
	}
	sum.CopiedLive = time.Since(start)
	sum.AtFence = pos
	fenceAt := time.Now()
	if err := src.Fence(ctx, opts.MovedTo); err != nil {
		return sum, fmt.Errorf("transfer: fence the source: %w", err)
	}
	fail := func(err error) (MigrateSummary, error) {
		if src.Unfence != nil {
			if uerr := src.Unfence(context.WithoutCancel(ctx)); uerr != nil {
				err = fmt.Errorf("%w (and lifting the fence failed: %v)", err, uerr)
			}
		}
		return sum, err
	}
	if err := copyLog(true); err != nil {
		return fail(err)
	}
	after := ""
	for {
		r, err := effect.Perform(p, ops.KvList{After: after, Limit: ops.MaxPage})
		if err != nil {
			return fail(fmt.Errorf("transfer: list the source's kv: %w", err))
		}
		for _, e := range r.Entries {
			_ = im.kv(e)
			after = e.Key
		}
		if !r.More || len(r.Entries) == 0 {
			break
		}
	}
	names, err := effect.Perform(p, ops.SnapshotNames{})
	if errors.Is(err, effect.ErrUnhandled) {
		return fail(ErrNoSnapshotList)
	}
	if err != nil {
		return fail(fmt.Errorf("transfer: list the source's snapshots: %w", err))
	}
	for _, n := range names {
		r, err := effect.Perform(p, ops.SnapshotRead{Name: n})
		if err != nil {
			return fail(fmt.Errorf("transfer: read snapshot %q: %w", n, err))
		}
		if r.Found {
			_ = im.snapshot(r.Snapshot)
		}
	}
	if err := im.finish(); err != nil {
		return fail(err)
	}
	want, _, err := digestCounts(ctx, src.Handler)
	if err != nil {
		return fail(fmt.Errorf("transfer: digest of the source: %w", err))
	}
	got, counts, err := digestCounts(ctx, dst.Handler)
	if err != nil {
		return fail(fmt.Errorf("transfer: digest of the target: %w", err))
	}
	if got != want {
		return fail(fmt.Errorf("%w: the source has %s, the target %s", ErrDigestMismatch, want, got))
	}
	sum.FencedFor = time.Since(fenceAt)
	sum.Digest = want
	sum.LastPos = pos
	sum.Took = time.Since(start)
	sum.Counts = counts
	return sum, nil
}
