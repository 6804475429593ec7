package postgres

import (
	"context"
	"time"

	"github.com/jackc/pgx/v5"

	"rose-ash.com/persist/ops"
)

// changes returns the channel the next change seen closes.
func (s *Store) changes() <-chan struct{} {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.changed == nil {
		s.changed = make(chan struct{})
	}
	return s.changed
}

// wake releases every waiter: a commit of this store, a notification of
// another's, a reconnect of the listener or Close.
func (s *Store) wake() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.changed != nil {
		close(s.changed)
		s.changed = nil
	}
}

// ListenerName is the application_name of the connection the store
// LISTENs on, as pg_stat_activity shows it.
func (s *Store) ListenerName() string { return "persist listen " + s.schema }

// startListener starts, once, the goroutine that listens for other
// processes' commits.
func (s *Store) startListener() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.listener || s.closed.Load() {
		return
	}
	s.listener = true
	s.wg.Add(1)
	go s.listen()
}

// listen holds one connection that LISTENs on the store's channel and
// wakes the waiters at every notification. When the connection is lost it
// wakes them too (they look at the database themselves, so nothing
// committed meanwhile is missed) and connects again, until Close.
func (s *Store) listen() {
	defer s.wg.Done()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() {
		<-s.done
		cancel()
	}()
	for ctx.Err() == nil {
		s.listenOnce(ctx)
		s.wake()
		select {
		case <-ctx.Done():
		case <-time.After(s.opts.listenRetry):
		}
	}
}

func (s *Store) listenOnce(ctx context.Context) {
	cfg := s.pool.Config().ConnConfig.Copy()
	cfg.RuntimeParams["application_name"] = s.ListenerName()
	conn, err := pgx.ConnectConfig(ctx, cfg)
	if err != nil {
		return
	}
	defer conn.Close(context.Background())
	if _, err := conn.Exec(ctx, "LISTEN "+quote(s.channel)); err != nil {
		return
	}
	// Commits made before LISTEN took effect were not notified: wake the
	// waiters so they look.
	s.wake()
	for {
		if _, err := conn.WaitForNotification(ctx); err != nil {
			return
		}
		s.wake()
	}
}

// wait answers persist/wait: it looks at the head, and until it passes
// op.After sleeps until a change is seen (a local commit, a notification),
// the poll interval passes, the timeout passes, the context ends or the
// store closes.
func (s *Store) wait(ctx context.Context, op ops.Wait) (ops.WaitResult, error) {
	if err := op.Validate(); err != nil {
		return ops.WaitResult{}, err
	}
	return s.waitFor(ctx, op.Timeout, op.After, func(ctx context.Context) (uint64, error) {
		return s.headOf(ctx, op.Stream, ops.NameWait)
	})
}

// waitFor blocks until cur passes after, the timeout (0: none) elapses,
// the context ends or the store closes, looking at cur at every wake-up
// and every poll interval.
func (s *Store) waitFor(ctx context.Context, timeoutAfter time.Duration, after uint64, cur func(context.Context) (uint64, error)) (ops.WaitResult, error) {
	if s.closed.Load() {
		return ops.WaitResult{}, ops.ErrClosed
	}
	s.startListener()
	var timeout <-chan time.Time
	if timeoutAfter > 0 {
		t := time.NewTimer(timeoutAfter)
		defer t.Stop()
		timeout = t.C
	}
	poll := time.NewTicker(s.opts.poll)
	defer poll.Stop()
	for {
		changed := s.changes()
		head, err := cur(ctx)
		if err != nil {
			if ctx.Err() != nil {
				return ops.WaitResult{}, ctx.Err()
			}
			return ops.WaitResult{}, err
		}
		if head > after {
			return ops.WaitResult{Head: head, Passed: true}, nil
		}
		select {
		case <-changed:
		case <-poll.C:
		case <-timeout:
			return ops.WaitResult{Head: head}, nil
		case <-ctx.Done():
			return ops.WaitResult{}, ctx.Err()
		case <-s.done:
			return ops.WaitResult{}, ops.ErrClosed
		}
	}
}
