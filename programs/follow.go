package programs

import (
	"errors"
	"fmt"
	"strconv"
	"time"

	"rose-ash.com/persist/effect"
	"rose-ash.com/persist/ops"
)

// FollowPrefix is the kv prefix of follow checkpoints: a follower named n
// keeps its checkpoint under the key FollowPrefix+n.
const FollowPrefix = "follow/"

// DefaultFollowBatch is the batch size of a follower whose Batch is 0.
const DefaultFollowBatch = 100

// FollowOptions configures Follow.
type FollowOptions struct {
	// Name identifies the follower. Its checkpoint is the kv key
	// "follow/"+Name; one name follows one source.
	Name string
	// Stream is the stream to follow, by seq; "" follows the global log
	// (every stream) by position, through persist/read-all.
	Stream string
	// Batch is how many events are read at once and handled between two
	// checkpoints: 1 checkpoints after every event. 0 means
	// DefaultFollowBatch; above ops.MaxPage is invalid.
	Batch int
	// Idle ends Follow, with nil, when no event arrives within Idle of
	// catching up. 0 follows until the context ends.
	Idle time.Duration
	// Handle is called for each event in order.
	Handle func(p *effect.P, ev ops.Event) error
}

// Follow delivers the events of a stream (or of the global log) to
// opts.Handle, at least once and in order, resuming where the follower left
// off.
//
// It reads the checkpoint, the seq (or, for the global log, the position)
// of the last event handled, and catches up from the event after it, a
// batch at a time. Once caught up it waits for more with persist/wait and
// goes on. After each batch it stores the checkpoint in kv, as the decimal
// number of the batch's last event, with compare-and-set against the
// revision it read or last wrote: a second follower of the same name
// running at the same time makes one of them stop with a *ops.Conflict.
//
// Delivery is at-least-once: the checkpoint is written after the events are
// handled, so a crash (or a failed checkpoint write, or the context ending)
// between handling and checkpoint delivers those events again on restart.
// Handle should be idempotent.
//
// Follow returns nil when opts.Idle is set and no event arrives within it,
// and an error matching the context's (errors.Is) when the context ends. A
// Handle error stops it: the checkpoint is left at the last event handled
// (written first if that event is within the current batch) and the error
// is returned, wrapped with the event's place. A checkpoint above the
// source's head (the source was replaced) is an error wrapping ErrAhead, and
// a checkpoint that is not a decimal number is an error too. Invalid options
// (an empty Name, a nil Handle, a negative Idle, a Batch outside
// 0..ops.MaxPage) are *ops.InvalidError, from Follow or from the operation
// they reach.
func Follow(p *effect.P, opts FollowOptions) error {
	if err := opts.validate(); err != nil {
		return err
	}
	f := follower{p: p, opts: opts, key: FollowPrefix + opts.Name, batch: opts.Batch}
	if f.batch == 0 {
		f.batch = DefaultFollowBatch
	}
	if err := f.load(); err != nil {
		return err
	}
	for {
		events, head, next, err := f.read()
		if err != nil {
			return err
		}
		if len(events) == 0 && next > f.pos+1 && next-1 <= head {
			// Hidden events only: step over them, unhandled. The
			// checkpoint moves with the next batch handled.
			f.pos = next - 1
			continue
		}
		if head < f.pos {
			return fmt.Errorf("follow %q: checkpoint %d, source head %d: %w", opts.Name, f.pos, head, ErrAhead)
		}
		if len(events) > 0 {
			if err := f.handle(events); err != nil {
				return err
			}
			continue
		}
		w, err := effect.Perform(p, ops.Wait{Stream: opts.Stream, After: f.pos, Timeout: opts.Idle})
		if err != nil {
			if cerr := p.Context().Err(); cerr != nil && errors.Is(err, cerr) {
				return err
			}
			return fmt.Errorf("follow %q: wait after %d: %w", opts.Name, f.pos, err)
		}
		if !w.Passed {
			return nil
		}
	}
}

func (o FollowOptions) validate() error {
	fail := func(field, reason string) error {
		return &ops.InvalidError{Op: "programs/follow", Field: field, Reason: reason}
	}
	switch {
	case o.Name == "":
		return fail("name", "empty")
	case o.Handle == nil:
		return fail("handle", "nil")
	case o.Idle < 0:
		return fail("idle", fmt.Sprintf("negative duration %s", o.Idle))
	case o.Batch < 0 || o.Batch > ops.MaxPage:
		return fail("batch", fmt.Sprintf("%d is outside 0..%d", o.Batch, ops.MaxPage))
	}
	return nil
}

type follower struct {
	p     *effect.P
	opts  FollowOptions
	key   string
	batch int
	pos   uint64     // seq or position of the last event handled
	rev   ops.Expect // what the checkpoint key is expected to be
}

func (f *follower) load() error {
	e, found, err := Get(f.p, f.key)
	if err != nil {
		return fmt.Errorf("follow %q: read checkpoint: %w", f.opts.Name, err)
	}
	f.rev = ops.NoStream()
	if !found {
		return nil
	}
	f.rev = ops.Exact(e.Revision)
	f.pos, err = strconv.ParseUint(string(e.Value), 10, 64)
	if err != nil {
		return fmt.Errorf("follow %q: checkpoint %q is not a position: %w", f.opts.Name, e.Value, err)
	}
	return nil
}

// read returns the next batch after f.pos, the source's head and where
// the read says to go on (0 when the backend does not say).
func (f *follower) read() ([]ops.Event, uint64, uint64, error) {
	if f.opts.Stream == "" {
		r, err := effect.Perform(f.p, ops.ReadAll{From: f.pos + 1, Limit: f.batch})
		if err != nil {
			return nil, 0, 0, fmt.Errorf("follow %q: read-all from %d: %w", f.opts.Name, f.pos+1, err)
		}
		return r.Events, r.Head, r.Next, nil
	}
	r, err := effect.Perform(f.p, ops.Read{Stream: f.opts.Stream, From: f.pos + 1, Limit: f.batch})
	if err != nil {
		return nil, 0, 0, fmt.Errorf("follow %q: read %q from %d: %w", f.opts.Name, f.opts.Stream, f.pos+1, err)
	}
	return r.Events, r.Head, r.Next, nil
}

// place is where an event sits in the followed source.
func (f *follower) place(ev ops.Event) uint64 {
	if f.opts.Stream == "" {
		return ev.Pos
	}
	return ev.Seq
}

// handle delivers a batch, then checkpoints its last handled event.
func (f *follower) handle(events []ops.Event) error {
	start := f.pos
	for _, ev := range events {
		if err := f.opts.Handle(f.p, ev); err != nil {
			err = fmt.Errorf("follow %q: handle %s#%d (position %d): %w", f.opts.Name, ev.Stream, ev.Seq, ev.Pos, err)
			if f.pos > start {
				if cerr := f.checkpoint(); cerr != nil {
					err = errors.Join(err, cerr)
				}
			}
			return err
		}
		f.pos = f.place(ev)
	}
	return f.checkpoint()
}

func (f *follower) checkpoint() error {
	value := strconv.AppendUint(nil, f.pos, 10)
	res, err := PutIf(f.p, f.key, value, f.rev)
	if err != nil {
		return fmt.Errorf("follow %q: store checkpoint %d: %w", f.opts.Name, f.pos, err)
	}
	f.rev = ops.Exact(res.Revision)
	return nil
}
