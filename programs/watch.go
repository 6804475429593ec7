package programs

import (
	"errors"
	"fmt"
	"time"

	"rose-ash.com/persist/effect"
	"rose-ash.com/persist/ops"
)

// WatchOptions configures Watch.
type WatchOptions struct {
	// Prefix selects the keys watched; "" watches every key.
	Prefix string
	// From is the first revision delivered; 0 starts at the oldest
	// revision the store's kv history holds whole.
	From uint64
	// Idle ends Watch, with nil, when no change arrives within Idle of
	// catching up. 0 watches until the context ends.
	Idle time.Duration
	// Handle is called for each change, in revision order.
	Handle func(p *effect.P, v ops.KvVersion) error
}

// Watch delivers the kv changes under opts.Prefix from opts.From on to
// opts.Handle, in revision order (a commit's changes in key order), each
// once: it pages with persist/kv-watch and, once caught up, waits for the
// next revision with persist/kv-wait. It returns the revision to resume
// from (the Next of the last page read) with nil after opts.Idle without
// changes, with the context's error when it ends, or with a Handle error,
// which stops it at that change: the revision returned is then that
// change's, so a resumed watch delivers it again. A From that history no
// longer holds is an *ops.CompactedError from the first page: nothing was
// delivered, and the caller reads the current state and watches on from
// its revision.
func Watch(p *effect.P, opts WatchOptions) (uint64, error) {
	if opts.Handle == nil {
		return opts.From, &ops.InvalidError{Op: "programs/watch", Field: "handle", Reason: "nil"}
	}
	if opts.Idle < 0 {
		return opts.From, &ops.InvalidError{Op: "programs/watch", Field: "idle", Reason: fmt.Sprintf("negative duration %s", opts.Idle)}
	}
	from := opts.From
	for {
		page, err := effect.Perform(p, ops.KvWatch{Prefix: opts.Prefix, From: from})
		if err != nil {
			return from, err
		}
		for _, v := range page.Changes {
			if err := opts.Handle(p, v); err != nil {
				return v.Revision, fmt.Errorf("watch %q: handle %q at revision %d: %w", opts.Prefix, v.Key, v.Revision, err)
			}
		}
		from = max(page.Next, from)
		if from <= page.Revision {
			continue
		}
		w, err := effect.Perform(p, ops.KvWait{After: page.Revision, Timeout: opts.Idle})
		if err != nil {
			if cerr := p.Context().Err(); cerr != nil && errors.Is(err, cerr) {
				return from, err
			}
			return from, fmt.Errorf("watch %q: wait after revision %d: %w", opts.Prefix, page.Revision, err)
		}
		if !w.Passed {
			return from, nil
		}
	}
}
