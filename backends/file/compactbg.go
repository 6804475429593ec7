package file

import (
	"context"
	"sync"
	"time"

	"rose-ash.com/persist/effect"
)

// Background compaction: see the package doc, Compaction (Policy).

// compactor is the goroutine Options.CompactInterval starts at Open.
type compactor struct {
	wg sync.WaitGroup
	// Guarded by Store.mu.
	runs    uint64 // background compactions that ran
	lastErr error  // of the last one that ran; nil after a clean one
}

// startCompactor starts the background compaction of a store just
// opened for writing, when its options ask for one.
func (s *Store) startCompactor() {
	if s.opts.CompactInterval <= 0 || s.readOnly || s.verify {
		return
	}
	p := effect.Handle(context.Background(), s.opts.Background)
	s.bg.wg.Add(1)
	go func() {
		defer s.bg.wg.Done()
		s.compactLoop(p)
	}()
}

// stopCompactor waits for the background compaction to stop: a
// compaction in progress stops before its next segment (Compact checks
// Store.closed), keeping what it made durable. Close calls it after
// marking the store closed and before it holds operations off, so no
// compaction runs while Close does.
func (s *Store) stopCompactor() { s.bg.wg.Wait() }

// compactLoop runs CompactDue each time commits have grown the log by a
// segment since the last check, and every CompactInterval, until Close.
func (s *Store) compactLoop(p *effect.P) {
	t := time.NewTicker(s.opts.CompactInterval)
	defer t.Stop()
	s.mu.RLock()
	checked := s.bytes
	s.mu.RUnlock()
	for {
		s.mu.RLock()
		ch := s.notify
		grown := s.bytes-checked >= s.opts.SegmentSize
		s.mu.RUnlock()
		if !grown {
			select {
			case <-s.closedCh:
				return
			case <-ch:
				continue
			case <-t.C:
			}
		}
		s.mu.RLock()
		checked = s.bytes
		s.mu.RUnlock()
		res, ran, err := s.CompactDue(p, CompactOptions{})
		if s.closed.Load() {
			// Cut short by Close: what it made durable stays valid,
			// and the next Open goes on from there.
			return
		}
		if !ran {
			continue
		}
		s.mu.Lock()
		s.bg.runs++
		s.bg.lastErr = err
		s.mu.Unlock()
		if s.opts.CompactReport != nil {
			s.opts.CompactReport(res, err)
		}
	}
}
