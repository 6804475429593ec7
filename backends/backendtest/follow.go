package backendtest

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"rose-ash.com/persist/effect"
	"rose-ash.com/persist/ops"
	"rose-ash.com/persist/programs"
)

func init() {
	register("follow",
		Case{Name: "catch-up", Doc: "a follower delivers a stream's events in order and checkpoints the last seq", Run: followCatchUp},
		Case{Name: "resume", Doc: "a follower started again delivers only the events after its checkpoint", Run: followResume},
		Case{Name: "global", Doc: "a follower of the global log delivers every stream's events in position order", Run: followGlobal},
		Case{Name: "handler-error", Doc: "a handler error stops the follower at the last handled event; a restart delivers from the failed one", Run: followHandlerError},
		Case{Name: "ahead", Doc: "a checkpoint above the source's head is an error, and nothing is delivered", Run: followAhead},
		Case{Name: "live", Concurrent: true, Doc: "a caught-up follower is woken by appends from another goroutine and delivers them", Run: followLive},
	)
}

// followIdle is how long a follower waits, once caught up, before it stops.
const followIdle = 10 * time.Millisecond

func follow(e *Env, opts programs.FollowOptions) ([]string, error) {
	var got []string
	handle := opts.Handle
	opts.Handle = func(p *effect.P, ev ops.Event) error {
		got = append(got, fmt.Sprintf("%s#%d@%d:%s", ev.Stream, ev.Seq, ev.Pos, ev.Data))
		if handle != nil {
			return handle(p, ev)
		}
		return nil
	}
	if opts.Idle == 0 {
		opts.Idle = followIdle
	}
	_, err := Do(e, func(p *effect.P) (struct{}, error) { return struct{}{}, programs.Follow(p, opts) })
	return got, err
}

func checkpointOf(e *Env, name string) string {
	r := mustGet(e, programs.FollowPrefix+name)
	if !r.Found {
		return "none"
	}
	return string(r.Entry.Value)
}

func followCatchUp(e *Env) {
	mustAppend(e, "other", ops.Any(), ev("t", "x"))
	mustAppend(e, "s", ops.Any(), ev("t", "1"), ev("t", "2"), ev("t", "3"))
	got, err := follow(e, programs.FollowOptions{Name: "f", Stream: "s", Batch: 2})
	e.NoError(err, "follow")
	e.Equal([]string{"s#1@2:1", "s#2@3:2", "s#3@4:3"}, got, "delivered")
	e.Equal("3", checkpointOf(e, "f"), "checkpoint")
}

func followResume(e *Env) {
	mustAppend(e, "s", ops.Any(), ev("t", "1"), ev("t", "2"))
	got, err := follow(e, programs.FollowOptions{Name: "f", Stream: "s"})
	e.NoError(err, "first follow")
	e.Equal([]string{"s#1@1:1", "s#2@2:2"}, got, "delivered by the first follow")
	mustAppend(e, "s", ops.Any(), ev("t", "3"))
	got, err = follow(e, programs.FollowOptions{Name: "f", Stream: "s"})
	e.NoError(err, "second follow")
	e.Equal([]string{"s#3@3:3"}, got, "delivered by the second follow")
	got, err = follow(e, programs.FollowOptions{Name: "f", Stream: "s"})
	e.NoError(err, "third follow")
	e.Equal(0, len(got), "events delivered by a follow with nothing new")
	e.Equal("3", checkpointOf(e, "f"), "checkpoint")
}

func followGlobal(e *Env) {
	mustAppend(e, "b", ops.Any(), ev("t", "1"))
	mustAppend(e, "a", ops.Any(), ev("t", "2"), ev("t", "3"))
	mustAppend(e, "b", ops.Any(), ev("t", "4"))
	got, err := follow(e, programs.FollowOptions{Name: "all", Batch: 3})
	e.NoError(err, "follow the global log")
	e.Equal([]string{"b#1@1:1", "a#1@2:2", "a#2@3:3", "b#2@4:4"}, got, "delivered")
	e.Equal("4", checkpointOf(e, "all"), "checkpoint")
}

func followHandlerError(e *Env) {
	mustAppend(e, "s", ops.Any(), numbered(5, "t", "")...)
	boom := errors.New("handler failed")
	got, err := follow(e, programs.FollowOptions{Name: "f", Stream: "s", Batch: 10, Handle: func(p *effect.P, ev ops.Event) error {
		if ev.Seq == 3 {
			return boom
		}
		return nil
	}})
	e.ErrorIs(err, boom, "follow with a handler failing at seq 3")
	e.Equal(3, len(got), "events offered before the failure")
	e.Equal("2", checkpointOf(e, "f"), "checkpoint after the failure")
	got, err = follow(e, programs.FollowOptions{Name: "f", Stream: "s"})
	e.NoError(err, "follow again")
	e.Equal([]string{"s#3@3:3", "s#4@4:4", "s#5@5:5"}, got, "delivered after the restart")
}

func followAhead(e *Env) {
	mustAppend(e, "s", ops.Any(), ev("t", "1"))
	mustPut(e, programs.FollowPrefix+"f", "9")
	got, err := follow(e, programs.FollowOptions{Name: "f", Stream: "s"})
	e.ErrorIs(err, programs.ErrAhead, "follow from checkpoint 9 at head 1")
	e.Equal(0, len(got), "events delivered")
}

func followLive(e *Env) {
	const n = 5
	ctx, cancel := context.WithCancel(e.Context())
	defer cancel()
	var mu sync.Mutex
	var got []string
	var wg sync.WaitGroup
	var err error
	wg.Go(func() {
		_, err = DoContext(e, ctx, func(p *effect.P) (struct{}, error) {
			return struct{}{}, programs.Follow(p, programs.FollowOptions{Name: "live", Stream: "s", Batch: 1,
				Handle: func(p *effect.P, ev ops.Event) error {
					mu.Lock()
					defer mu.Unlock()
					got = append(got, string(ev.Data))
					if len(got) == n {
						cancel()
					}
					return nil
				}})
		})
	})
	wg.Go(func() {
		for i := 1; i <= n; i++ {
			time.Sleep(nudge / 4)
			mustAppendFrom(e, "s", ev("t", fmt.Sprint(i)))
		}
		// A follower that misses an append would run until the case's
		// context ends: stop it well before.
		select {
		case <-ctx.Done():
		case <-time.After(longWait / 3):
			cancel()
		}
	})
	wg.Wait()
	e.True(errors.Is(err, context.Canceled), "follow stopped by its context: want context.Canceled, got %v", err)
	e.Equal([]string{"1", "2", "3", "4", "5"}, got, "delivered")
}
