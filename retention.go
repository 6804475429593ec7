package persist

import (
	"context"
	"time"

	"rose-ash.com/persist/effect"
	"rose-ash.com/persist/ops"
	"rose-ash.com/persist/programs"
)

// StreamMeta reads a stream's limits and deletion state
// (persist/stream-meta-read), with its stored head.
func (db *DB) StreamMeta(ctx context.Context, stream string) (StreamMetaResult, error) {
	p, err := db.handle(ctx, ops.NameStreamMetaRead)
	if err != nil {
		return StreamMetaResult{}, err
	}
	return effect.Perform(p, ops.StreamMetaRead{Stream: stream})
}

// SetStreamMeta replaces a stream's limits (max-count, max-age,
// truncate-before) if expect holds for its head
// (persist/stream-meta-write). What the limits hide is hidden from every
// read at once; positions never change. Limits out of range, or a
// truncate-before beyond head+1, are an *InvalidError naming the field; a
// hard-deleted stream is a *StreamDeletedError.
func (db *DB) SetStreamMeta(ctx context.Context, stream string, expect Expect, meta StreamLimits) (StreamMetaResult, error) {
	p, err := db.handle(ctx, ops.NameStreamMetaWrite)
	if err != nil {
		return StreamMetaResult{}, err
	}
	return effect.Perform(p, ops.StreamMetaWrite{Stream: stream, Expect: expect, Meta: meta})
}

// DeleteStream deletes a stream if expect holds for its head
// (persist/stream-delete): soft, it reads as absent until appended to
// again, numbering going on; hard, it can never be written again.
func (db *DB) DeleteStream(ctx context.Context, stream string, expect Expect, hard bool) (StreamMetaResult, error) {
	p, err := db.handle(ctx, ops.NameStreamDelete)
	if err != nil {
		return StreamMetaResult{}, err
	}
	return effect.Perform(p, ops.StreamDelete{Stream: stream, Expect: expect, Hard: hard})
}

// KvHistory reads a key's kept versions, newest first, at most limit (0:
// every kept one), deletes included (persist/kv-history).
func (db *DB) KvHistory(ctx context.Context, key string, limit int) ([]KvVersion, error) {
	p, err := db.handle(ctx, ops.NameKvHistory)
	if err != nil {
		return nil, err
	}
	r, err := effect.Perform(p, ops.KvHistory{Key: key, Limit: limit})
	return r.Versions, err
}

// KvWatchOptions configures KvWatch; see programs.WatchOptions, of which
// it is the form without effects.
type KvWatchOptions struct {
	// Prefix selects the keys watched; "" watches every key.
	Prefix string
	// From is the first revision delivered; 0 starts at the oldest the
	// store's history holds whole.
	From uint64
	// Idle ends KvWatch, with nil, when no change arrives within it once
	// caught up; 0 watches until ctx ends.
	Idle time.Duration
	// Handle is called for each change in revision order, with the ctx
	// of KvWatch.
	Handle func(ctx context.Context, v KvVersion) error
}

// KvWatch delivers the kv changes under a prefix from a revision on, each
// once, waiting for more once caught up (programs.Watch), and returns the
// revision to resume from. A From that history no longer holds is a
// *CompactedError before anything is delivered.
func (db *DB) KvWatch(ctx context.Context, opts KvWatchOptions) (uint64, error) {
	po := programs.WatchOptions{Prefix: opts.Prefix, From: opts.From, Idle: opts.Idle}
	if h := opts.Handle; h != nil {
		po.Handle = func(p *effect.P, v ops.KvVersion) error { return h(p.Context(), v) }
	}
	return call(ctx, db, "programs/watch", func(p *effect.P) (uint64, error) {
		return programs.Watch(p, po)
	})
}

// Stat tells what the store holds, visible against stored
// (persist/stat).
func (db *DB) Stat(ctx context.Context) (StatResult, error) {
	p, err := db.handle(ctx, ops.NameStat)
	if err != nil {
		return StatResult{}, err
	}
	return effect.Perform(p, ops.Stat{})
}

// ProjectCheckpointed brings a projection up to date from its snapshot,
// checkpointing it on the way as pol says (programs.ProjectCheckpointed).
func ProjectCheckpointed[S any](ctx context.Context, db *DB, proj Projection[S], pol CheckpointPolicy) (State[S], error) {
	return call(ctx, db, "programs/checkpoint", func(p *effect.P) (State[S], error) {
		return programs.ProjectCheckpointed(p, proj, pol)
	})
}
