package postgres

import (
	"context"
	"errors"
	"testing"
	"time"
)

// TestGroupTimer holds the store's one timer to the behaviour of a
// context of context.WithTimeout for each group: a group that outlives
// its timeout ends with context.DeadlineExceeded, one that ended first
// is never canceled by the timer, and a group started while the timer
// is set for an earlier group's deadline ends at its own.
func TestGroupTimer(t *testing.T) {
	t.Parallel()
	var g groupTimer
	defer g.stop()
	const timeout = 50 * time.Millisecond

	// Ends first: the timer, when it fires, finds no group.
	ctx, end := g.start(timeout)
	if dl, ok := ctx.Deadline(); !ok || time.Until(dl) > timeout {
		t.Fatalf("deadline %v, %v: want one within %v", dl, ok, timeout)
	}
	end()
	if !errors.Is(ctx.Err(), context.Canceled) {
		t.Fatalf("an ended group's context: %v, want context.Canceled", ctx.Err())
	}

	// Started a little later, while the timer is set for the first
	// group's deadline: it must last to its own.
	time.Sleep(timeout / 2)
	start := time.Now()
	ctx, end = g.start(timeout)
	defer end()
	select {
	case <-ctx.Done():
	case <-time.After(5 * time.Second):
		t.Fatal("the group's context did not end at its deadline")
	}
	if took := time.Since(start); took < timeout {
		t.Fatalf("the group's context ended after %v, before its timeout of %v", took, timeout)
	}
	if !errors.Is(ctx.Err(), context.DeadlineExceeded) {
		t.Fatalf("an expired group's context: %v, want context.DeadlineExceeded", ctx.Err())
	}

	// The next group starts the timer again.
	ctx, end = g.start(timeout)
	defer end()
	select {
	case <-ctx.Done():
	case <-time.After(5 * time.Second):
		t.Fatal("the next group's context did not end at its deadline")
	}
	if !errors.Is(ctx.Err(), context.DeadlineExceeded) {
		t.Fatalf("the next group's context: %v, want context.DeadlineExceeded", ctx.Err())
	}
}

// TestGroupTimerDerived holds the contexts derived from an expired
// group's (pgx derives one to connect, context.AfterFunc watches a query
// by one) to what they say under a context of context.WithTimeout: the
// deadline passed, not a cancellation.
func TestGroupTimerDerived(t *testing.T) {
	t.Parallel()
	var g groupTimer
	defer g.stop()
	ctx, end := g.start(20 * time.Millisecond)
	defer end()
	child, cancelChild := context.WithCancel(ctx)
	defer cancelChild()
	timed, cancelTimed := context.WithTimeout(ctx, time.Hour)
	defer cancelTimed()
	after := make(chan struct{})
	stop := context.AfterFunc(ctx, func() { close(after) })
	defer stop()
	select {
	case <-child.Done():
	case <-time.After(5 * time.Second):
		t.Fatal("the derived context did not end with the group's")
	}
	<-timed.Done()
	<-after
	for name, c := range map[string]context.Context{"the group's": ctx, "a derived": child, "a derived one with a later deadline": timed} {
		if !errors.Is(c.Err(), context.DeadlineExceeded) {
			t.Errorf("%s context: %v, want context.DeadlineExceeded", name, c.Err())
		}
		if !errors.Is(context.Cause(c), context.DeadlineExceeded) {
			t.Errorf("%s context's cause: %v, want context.DeadlineExceeded", name, context.Cause(c))
		}
	}
	if dl, ok := timed.Deadline(); !ok || time.Until(dl) > time.Minute {
		t.Errorf("a derived context's deadline %v, %v: want the group's", dl, ok)
	}
}

// TestGroupTimerManyGroups runs groups one after another, as leaders do,
// with a timeout short enough for the timer to fire in the middle of
// starts and ends (run it with -race): a group's context never ends
// before the group's own deadline, every group that outlives it ends,
// and a group that ended first is never told its deadline passed.
func TestGroupTimerManyGroups(t *testing.T) {
	t.Parallel()
	var g groupTimer
	defer g.stop()
	const timeout = time.Millisecond
	for i := range 2000 {
		start := time.Now()
		ctx, end := g.start(timeout)
		if i%3 == 0 {
			select {
			case <-ctx.Done():
			case <-time.After(5 * time.Second):
				t.Fatalf("group %d: its context did not end at its deadline", i)
			}
			if took := time.Since(start); took < timeout {
				t.Fatalf("group %d: its context ended after %v, before its timeout", i, took)
			}
			if !errors.Is(ctx.Err(), context.DeadlineExceeded) {
				t.Fatalf("group %d: %v, want context.DeadlineExceeded", i, ctx.Err())
			}
			end()
			continue
		}
		err := ctx.Err()
		took := time.Since(start)
		end()
		ended := time.Since(start)
		if err != nil && took < timeout {
			t.Fatalf("group %d: %v after %v, before its timeout", i, err, took)
		}
		// Only a group whose end came before its deadline must be told it
		// was cancelled: a run descheduled between the look at its context
		// and its end may see the deadline pass in between, and then
		// either word is true.
		if err == nil && ended < timeout && !errors.Is(ctx.Err(), context.Canceled) {
			t.Fatalf("group %d ended after %v: %v, want context.Canceled", i, ended, ctx.Err())
		}
		if err == nil && ctx.Err() == nil {
			t.Fatalf("group %d ended after %v with its context still live", i, ended)
		}
	}
}
