package programs

import (
	"errors"
	"fmt"
	"iter"

	"rose-ash.com/persist/effect"
	"rose-ash.com/persist/ops"
)

// errStop ends a scan when the consumer of an iterator stops ranging.
var errStop = errors.New("programs: iteration stopped")

// Events is ReadFrom as an iterator: the events of stream from seq from up
// to the head seen by its first persist/read, a page at a time, so a long
// stream is never held in memory at once. An error (an invalid stream
// name, a closed store) is yielded once, with a zero event, and ends the
// iteration. Stopping the range early stops the reads.
func Events(p *effect.P, stream string, from uint64) iter.Seq2[ops.Event, error] {
	return func(yield func(ops.Event, error) bool) {
		_, err := scan(p, stream, from, nil, func(ev ops.Event) error {
			if !yield(ev, nil) {
				return errStop
			}
			return nil
		})
		if err != nil && err != errStop {
			yield(ops.Event{}, err)
		}
	}
}

// Scan is Events for a reader that only looks at each event: the reads
// lend one ops.Page, so the event yielded, its Data included, is valid
// until the next step of the range, when its memory is reused. Keep a copy
// (ops.CloneEvent) of an event that must outlive the step. On the file
// backend it allocates nothing per event; a backend that ignores pages
// gives fresh events, which a caller must not count on.
func Scan(p *effect.P, stream string, from uint64) iter.Seq2[ops.Event, error] {
	return func(yield func(ops.Event, error) bool) {
		_, err := scan(p, stream, from, new(ops.Page), func(ev ops.Event) error {
			if !yield(ev, nil) {
				return errStop
			}
			return nil
		})
		if err != nil && err != errStop {
			yield(ops.Event{}, err)
		}
	}
}

// AllEvents iterates the global log (every stream, in position order) from
// position from (0 and 1 both mean the start) up to the last position seen
// by its first persist/read-all, a page at a time, as Events does for one
// stream.
func AllEvents(p *effect.P, from uint64) iter.Seq2[ops.Event, error] {
	return allEvents(p, from, nil)
}

// ScanAll is AllEvents with events lent until the next step, as Scan is
// Events.
func ScanAll(p *effect.P, from uint64) iter.Seq2[ops.Event, error] {
	return allEvents(p, from, new(ops.Page))
}

func allEvents(p *effect.P, from uint64, pg *ops.Page) iter.Seq2[ops.Event, error] {
	return func(yield func(ops.Event, error) bool) {
		from = max(from, 1)
		page, err := effect.Perform(p, ops.ReadAll{From: from, Page: pg})
		if err != nil {
			yield(ops.Event{}, err)
			return
		}
		head := page.Head
		for {
			for _, ev := range page.Events {
				if ev.Pos > head {
					return
				}
				if !yield(ev, nil) {
					return
				}
				from = ev.Pos + 1
			}
			if page.Next > from { // past hidden events (see scan)
				from = page.Next
			}
			if from > head {
				return
			}
			if len(page.Events) == 0 && page.Next == 0 {
				yield(ops.Event{}, fmt.Errorf("read-all from %d: empty page below the last position %d", from, head))
				return
			}
			if page, err = effect.Perform(p, ops.ReadAll{From: from, Page: pg}); err != nil {
				yield(ops.Event{}, err)
				return
			}
		}
	}
}

// Streams iterates the non-empty streams whose names start with prefix, in
// byte order, paging through persist/streams. Each page is consistent on
// its own; streams created between pages may or may not be seen.
func Streams(p *effect.P, prefix string) iter.Seq2[ops.StreamInfo, error] {
	return func(yield func(ops.StreamInfo, error) bool) {
		after := ""
		for {
			page, err := effect.Perform(p, ops.Streams{Prefix: prefix, After: after})
			if err != nil {
				yield(ops.StreamInfo{}, err)
				return
			}
			for _, s := range page.Streams {
				if !yield(s, nil) {
					return
				}
				after = s.Name
			}
			if !page.More || len(page.Streams) == 0 {
				return
			}
		}
	}
}

// Entries iterates the kv entries whose keys start with prefix, in key
// order, paging through persist/kv-list as List does.
func Entries(p *effect.P, prefix string) iter.Seq2[ops.KvEntry, error] {
	return func(yield func(ops.KvEntry, error) bool) {
		after := ""
		for {
			page, err := effect.Perform(p, ops.KvList{Prefix: prefix, After: after})
			if err != nil {
				yield(ops.KvEntry{}, err)
				return
			}
			for _, e := range page.Entries {
				if !yield(e, nil) {
					return
				}
				after = e.Key
			}
			if !page.More || len(page.Entries) == 0 {
				return
			}
		}
	}
}
