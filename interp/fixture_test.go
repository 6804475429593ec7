package interp_test

import (
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"

	"github.com/google/uuid"

	"rose-ash.com/persist/effect"
	"rose-ash.com/persist/ops"
)

// ioWrite and ioSync are the test's platform effects: what the store
// performs outward to answer an append.
type ioWrite struct {
	effect.Returns[int]
	File string
	Data []byte
}

func (ioWrite) EffectName() string { return "io/write" }

type ioSync struct {
	effect.Returns[struct{}]
	File string
}

func (ioSync) EffectName() string { return "io/fsync" }

// disk is the test's platform handler: it answers io/write and io/fsync and
// counts the calls that reached it.
type disk struct {
	mu      sync.Mutex
	written map[string][]byte
	synced  map[string]int
	calls   int
}

func newDisk() *disk {
	return &disk{written: map[string][]byte{}, synced: map[string]int{}}
}

func (d *disk) Handle(p *effect.P, e effect.Effect) (any, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	switch op := e.(type) {
	case ioWrite:
		d.calls++
		d.written[op.File] = append(d.written[op.File], op.Data...)
		return len(op.Data), nil
	case ioSync:
		d.calls++
		d.synced[op.File] = len(d.written[op.File])
		return struct{}{}, nil
	}
	return nil, effect.ErrUnhandled
}

func (d *disk) Calls() int {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.calls
}

// store is a small backend: streams and kv in memory, and every append
// written and synced to the log file through the platform effects, before it
// is applied. An IO error is returned wrapped, as a real backend would.
type store struct {
	mu      sync.Mutex
	streams map[string][]ops.Event
	kv      map[string]ops.KvEntry
	pos     uint64
	rev     uint64
	calls   int
}

func newStore() *store {
	return &store{streams: map[string][]ops.Event{}, kv: map[string]ops.KvEntry{}}
}

func (s *store) Handle(p *effect.P, e effect.Effect) (any, error) {
	switch op := e.(type) {
	case ops.Append:
		s.count()
		return s.append(p, op)
	case ops.Head:
		s.count()
		s.mu.Lock()
		defer s.mu.Unlock()
		return uint64(len(s.streams[op.Stream])), nil
	case ops.KvPut:
		s.count()
		s.mu.Lock()
		defer s.mu.Unlock()
		cur := s.kv[op.Key]
		if !op.Expect.Holds(cur.Revision) {
			return nil, &ops.Conflict{Key: op.Key, Expected: op.Expect, Actual: cur.Revision}
		}
		s.rev++
		s.kv[op.Key] = ops.KvEntry{Key: op.Key, Value: append([]byte(nil), op.Value...), Revision: s.rev}
		return ops.KvResult{Key: op.Key, Revision: s.rev, Existed: cur.Revision != 0}, nil
	case ops.KvGet:
		s.count()
		s.mu.Lock()
		defer s.mu.Unlock()
		ent, ok := s.kv[op.Key]
		if !ok {
			return (*ops.KvEntry)(nil), nil
		}
		ent.Value = append([]byte(nil), ent.Value...)
		return &ent, nil
	}
	return nil, effect.ErrUnhandled
}

func (s *store) count() {
	s.mu.Lock()
	s.calls++
	s.mu.Unlock()
}

func (s *store) Calls() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.calls
}

func (s *store) append(p *effect.P, op ops.Append) (any, error) {
	s.mu.Lock()
	head := uint64(len(s.streams[op.Stream]))
	s.mu.Unlock()
	if !op.Expect.Holds(head) {
		return nil, &ops.Conflict{Stream: op.Stream, Expected: op.Expect, Actual: head}
	}
	var rec []byte
	for _, ev := range op.Events {
		rec = fmt.Appendf(rec, "%s %s %s\n", op.Stream, ev.Type, ev.Data)
	}
	if _, err := effect.Perform(p, ioWrite{File: "log", Data: rec}); err != nil {
		return nil, fmt.Errorf("append to %q: write log: %w", op.Stream, err)
	}
	if _, err := effect.Perform(p, ioSync{File: "log"}); err != nil {
		return nil, fmt.Errorf("append to %q: sync log: %w", op.Stream, err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	res := ops.AppendResult{Stream: op.Stream, FirstSeq: uint64(len(s.streams[op.Stream])) + 1}
	for i, ev := range op.Events {
		s.pos++
		id := ev.ID
		if id == uuid.Nil {
			id = uuid.NewSHA1(uuid.NameSpaceOID, fmt.Appendf(nil, "%d", s.pos)) // deterministic
		}
		s.streams[op.Stream] = append(s.streams[op.Stream], ops.Event{
			ID: id, Stream: op.Stream, Seq: res.FirstSeq + uint64(i), Pos: s.pos, Type: ev.Type,
			Data: append([]byte(nil), ev.Data...),
		})
	}
	res.Head = uint64(len(s.streams[op.Stream]))
	res.LastPos = s.pos
	res.FirstPos = s.pos - uint64(len(op.Events)) + 1
	return res, nil
}

// orders is the workload: it places orders with exact expectations, reuses
// its event slice between appends (so a journal must copy), keeps a counter
// in kv, and retries an append once on a conflict or IO error.
func orders(p *effect.P) (string, error) {
	events := make([]ops.EventData, 1)
	var head uint64
	for i := range 3 {
		events[0] = ops.EventData{Type: "placed", Data: fmt.Appendf(nil, `{"order":%d}`, i)}
		res, err := effect.Perform(p, ops.Append{Stream: "orders", Expect: ops.Exact(head), Events: events})
		if err != nil {
			if errors.Is(err, effect.ErrAborted) {
				return "", err
			}
			// one retry, after re-reading the head
			h, herr := effect.Perform(p, ops.Head{Stream: "orders"})
			if herr != nil {
				return "", fmt.Errorf("order %d: %w (re-read: %w)", i, err, herr)
			}
			res, err = effect.Perform(p, ops.Append{Stream: "orders", Expect: ops.Exact(h), Events: events})
			if err != nil {
				return "", fmt.Errorf("order %d: %w", i, err)
			}
		}
		head = res.Head
	}
	put, err := effect.Perform(p, ops.KvPut{Key: "orders/count", Value: fmt.Appendf(nil, "%d", head), Expect: ops.NoStream()})
	if err != nil {
		return "", fmt.Errorf("count: %w", err)
	}
	got, err := effect.Perform(p, ops.KvGet{Key: "orders/count"})
	if err != nil {
		return "", fmt.Errorf("read count: %w", err)
	}
	if got == nil {
		return "", fmt.Errorf("read count: orders/count is absent")
	}
	return fmt.Sprintf("head %d, count %s at revision %d", head, got.Value, put.Revision), nil
}

// lineWriter collects what is written to it, one Write call per element.
type lineWriter struct {
	mu     sync.Mutex
	writes []string
}

func (w *lineWriter) Write(b []byte) (int, error) {
	w.mu.Lock()
	w.writes = append(w.writes, string(b))
	w.mu.Unlock()
	return len(b), nil
}

func (w *lineWriter) String() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return strings.Join(w.writes, "")
}

// forbidden is a handler that must never be asked.
func forbidden(t testing.TB) effect.Handler {
	return effect.HandlerFunc(func(p *effect.P, e effect.Effect) (any, error) {
		t.Errorf("a handler that should not be reached was asked %s", e.EffectName())
		return nil, errors.New("forbidden handler")
	})
}
