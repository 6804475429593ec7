package programs

import (
	"errors"
	"fmt"

	"rose-ash.com/persist/effect"
	"rose-ash.com/persist/ops"
)

// ErrRetriesExhausted is wrapped by the error of a compare-and-set loop
// (AppendRetry, Update) that met a conflict on every attempt. The same error
// also wraps the last *ops.Conflict.
var ErrRetriesExhausted = errors.New("programs: retries exhausted")

// AppendRetry appends to stream what decide makes of its current head, with
// optimistic concurrency.
//
// It reads the stream's head (persist/head), calls decide(p, head), and
// appends the events decide returns with ops.Exact(head) (ops.NoStream when
// head is 0). When that append meets a *ops.Conflict, nothing was written: it
// calls decide again with the head the conflict reports, and appends again.
// decide runs at most attempts times (an attempts below 1 counts as 1); when
// every append conflicted, the error wraps ErrRetriesExhausted and the last
// *ops.Conflict.
//
// decide is the command: it may perform effects on p (read the stream, look
// up kv) and must base its answer on the head it is given, since that is the
// head the append expects. When decide returns no events there is nothing to
// append: AppendRetry returns the zero result and nil. An error from decide
// is returned as it is, and any error of the append other than a conflict
// (an *ops.InvalidError, say) ends the loop and is returned as it is. A nil
// decide is an *ops.InvalidError too.
func AppendRetry(p *effect.P, stream string, attempts int, decide func(p *effect.P, head uint64) ([]ops.EventData, error)) (ops.AppendResult, error) {
	if decide == nil {
		return ops.AppendResult{}, &ops.InvalidError{Op: "programs/append-retry", Field: "decide", Reason: "nil"}
	}
	attempts = max(attempts, 1)
	head, err := Head(p, stream)
	if err != nil {
		return ops.AppendResult{}, err
	}
	var last *ops.Conflict
	for range attempts {
		events, err := decide(p, head)
		if err != nil {
			return ops.AppendResult{}, err
		}
		if len(events) == 0 {
			return ops.AppendResult{}, nil
		}
		res, err := Append(p, stream, ops.Exact(head), events...)
		if err == nil {
			return res, nil
		}
		if !errors.As(err, &last) {
			return ops.AppendResult{}, err
		}
		head = last.Actual
	}
	return ops.AppendResult{}, fmt.Errorf("append to %q: %w after %d attempts: %w", stream, ErrRetriesExhausted, attempts, last)
}
