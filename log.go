package persist

import (
	"context"
	"iter"
	"time"

	"rose-ash.com/persist/effect"
	"rose-ash.com/persist/ops"
	"rose-ash.com/persist/programs"
)

// Append adds events to stream, atomically, if expect holds for the
// stream's head (persist/append). A failed expectation is a *Conflict
// naming expected and actual, and writes nothing; re-appending a batch
// whose event IDs are stored whole answers the original result (see ops).
func (db *DB) Append(ctx context.Context, stream string, expect Expect, events ...EventData) (AppendResult, error) {
	if ctx == nil {
		return AppendResult{}, nilContext(ops.NameAppend)
	}
	return effect.Perform(effect.Handle(ctx, db.hs...), ops.Append{Stream: stream, Expect: expect, Events: events})
}

// AppendRetry appends what decide makes of the stream's current head,
// with optimistic concurrency (programs.AppendRetry): it reads the head,
// calls decide(head), and appends the events expecting that head; on a
// conflict it calls decide again with the new head, at most attempts
// times. Exhaustion wraps ErrRetriesExhausted and the last *Conflict. decide
// returning no events appends nothing. decide should decide from the head
// (and what it reads for it) alone, since it may run more than once.
func (db *DB) AppendRetry(ctx context.Context, stream string, attempts int, decide func(head uint64) ([]EventData, error)) (AppendResult, error) {
	var d func(*effect.P, uint64) ([]ops.EventData, error)
	if decide != nil {
		d = func(_ *effect.P, head uint64) ([]ops.EventData, error) { return decide(head) }
	}
	return call(ctx, db, "programs/append-retry", func(p *effect.P) (AppendResult, error) {
		return programs.AppendRetry(p, stream, attempts, d)
	})
}

// Read iterates the events of stream from seq from (0 and 1 both mean the
// start) up to the head seen by its first page, paging through
// persist/read: a consistent prefix, never a torn one. An error (an
// invalid name, a closed DB) is yielded once with a zero Event and ends the
// iteration.
//
//	for ev, err := range db.Read(ctx, "orders", 1) {
//		if err != nil {
//			return err
//		}
//		…
//	}
func (db *DB) Read(ctx context.Context, stream string, from uint64) iter.Seq2[Event, error] {
	p, err := db.handle(ctx, ops.NameRead)
	if err != nil {
		return failed[Event](err)
	}
	return programs.Events(p, stream, from)
}

// ReadAll iterates the global log, the events of every stream in position
// order, from position from up to the last position seen by its first
// page (persist/read-all), as Read does for one stream.
func (db *DB) ReadAll(ctx context.Context, from uint64) iter.Seq2[Event, error] {
	p, err := db.handle(ctx, ops.NameReadAll)
	if err != nil {
		return failed[Event](err)
	}
	return programs.AllEvents(p, from)
}

// Scan iterates the events of stream from seq from as Read does, for a
// caller that only looks at each event: the event yielded, its Data
// included, is lent until the next step of the range and then overwritten,
// since the reads reuse one page of memory (ops.Page). Keep a copy
// (CloneEvent) of an event that must outlive its step. On a file store it
// allocates nothing per event once its first page is read; Read, which
// copies every event out, stays for callers that keep them.
//
//	for ev, err := range db.Scan(ctx, "orders", 1) {
//		if err != nil {
//			return err
//		}
//		total += len(ev.Data) // ev is not kept
//	}
func (db *DB) Scan(ctx context.Context, stream string, from uint64) iter.Seq2[Event, error] {
	p, err := db.handle(ctx, ops.NameRead)
	if err != nil {
		return failed[Event](err)
	}
	return programs.Scan(p, stream, from)
}

// ScanAll iterates the global log as ReadAll does, with each event lent
// until the next step, as Scan does.
func (db *DB) ScanAll(ctx context.Context, from uint64) iter.Seq2[Event, error] {
	p, err := db.handle(ctx, ops.NameReadAll)
	if err != nil {
		return failed[Event](err)
	}
	return programs.ScanAll(p, from)
}

// CloneEvent copies an event lent by Scan, ScanAll or a projection step
// into memory of its own (ops.CloneEvent).
func CloneEvent(ev Event) Event { return ops.CloneEvent(ev) }

// Head is the stream's last seq, 0 when it is empty (persist/head).
func (db *DB) Head(ctx context.Context, stream string) (uint64, error) {
	if ctx == nil {
		return 0, nilContext(ops.NameHead)
	}
	return effect.Perform(effect.Handle(ctx, db.hs...), ops.Head{Stream: stream})
}

// Streams iterates the non-empty streams whose names start with prefix,
// in byte order, with their heads (persist/streams, paged).
func (db *DB) Streams(ctx context.Context, prefix string) iter.Seq2[StreamInfo, error] {
	p, err := db.handle(ctx, ops.NameStreams)
	if err != nil {
		return failed[StreamInfo](err)
	}
	return programs.Streams(p, prefix)
}

// Wait blocks until stream's head passes after (with stream "", until the
// global log's last position does), or timeout elapses (0: no timeout),
// or ctx ends (persist/wait). A timeout is an answer, Passed false, not an
// error; an ended ctx is the ctx's error.
func (db *DB) Wait(ctx context.Context, stream string, after uint64, timeout time.Duration) (WaitResult, error) {
	if ctx == nil {
		return WaitResult{}, nilContext(ops.NameWait)
	}
	return effect.Perform(effect.Handle(ctx, db.hs...), ops.Wait{Stream: stream, After: after, Timeout: timeout})
}

// FollowOptions configures Follow; see programs.FollowOptions, of which
// it is the form without effects.
type FollowOptions struct {
	// Name identifies the follower; its checkpoint is the kv key
	// "follow/"+Name.
	Name string
	// Stream is the stream to follow; "" follows the global log.
	Stream string
	// Batch is how many events are handled between two checkpoints (0:
	// programs.DefaultFollowBatch).
	Batch int
	// Idle ends Follow, with nil, when no event arrives within it once
	// caught up; 0 follows until ctx ends.
	Idle time.Duration
	// Handle is called for each event in order, with the ctx of Follow.
	Handle func(ctx context.Context, ev Event) error
}

// Follow delivers the events of a stream (or of the global log) to
// opts.Handle, at least once and in order, resuming after the last event
// a follower of that name checkpointed, and waits for more once caught up
// (programs.Follow). It returns nil after opts.Idle without events, the
// ctx's error when ctx ends, and a Handle error wrapped with the event's
// place.
func (db *DB) Follow(ctx context.Context, opts FollowOptions) error {
	po := programs.FollowOptions{Name: opts.Name, Stream: opts.Stream, Batch: opts.Batch, Idle: opts.Idle}
	if h := opts.Handle; h != nil {
		po.Handle = func(p *effect.P, ev ops.Event) error { return h(p.Context(), ev) }
	}
	_, err := call(ctx, db, "programs/follow", func(p *effect.P) (struct{}, error) {
		return struct{}{}, programs.Follow(p, po)
	})
	return err
}

// Publish appends events to stream if expect holds, as Append does, then
// calls the subscribers of stream (Subscribe) for each event as stored
// (programs.Hub.Publish). Once the append succeeded its result is
// returned, with the subscribers' errors joined.
func (db *DB) Publish(ctx context.Context, stream string, expect Expect, events ...EventData) (AppendResult, error) {
	return call(ctx, db, "programs/publish", func(p *effect.P) (AppendResult, error) {
		return db.hub.Publish(p, stream, expect, events...)
	})
}

// Subscribe registers fn for the events published on stream through this
// DB's Publish, and returns the function that cancels the registration.
// Events appended otherwise (Append, Commit, another process) do not fire
// it: a reader of every event belongs in Follow. A nil fn or an invalid
// stream name is an *InvalidError; a closed DB answers ErrClosed.
func (db *DB) Subscribe(stream string, fn func(ctx context.Context, ev Event) error) (cancel func(), err error) {
	const op = "programs/subscribe"
	if fn == nil {
		return nil, &ops.InvalidError{Op: op, Field: "subscriber", Reason: "nil"}
	}
	if err := (ops.Head{Stream: stream}).Validate(); err != nil {
		if inv, ok := err.(*ops.InvalidError); ok {
			inv.Op = op
		}
		return nil, err
	}
	if db.closed.Load() {
		return nil, ops.ErrClosed
	}
	return db.hub.Subscribe(stream, func(p *effect.P, ev ops.Event) error { return fn(p.Context(), ev) }), nil
}

// failed is an iteration that yields err alone.
func failed[T any](err error) iter.Seq2[T, error] {
	return func(yield func(T, error) bool) {
		var zero T
		yield(zero, err)
	}
}
