package transfer

import (
	"context"
	"errors"
	"fmt"
	"sync"

	"rose-ash.com/persist/effect"
	"rose-ash.com/persist/ops"
)

// ErrFenced matches the error of a write to a store that has been fenced
// because it moved: the error names the new store (FencedError).
var ErrFenced = errors.New("persist: store is fenced")

// FencedError is a write refused by a fence: the store moved to MovedTo.
type FencedError struct{ MovedTo string }

func (e *FencedError) Error() string {
	return fmt.Sprintf("persist: store is fenced: it moved to %s; send writes there", e.MovedTo)
}

// Is matches ErrFenced.
func (e *FencedError) Is(target error) bool { return target == ErrFenced }

// Gate puts a fence in front of a store that one process owns (a store in
// memory, or a file store, whose writer's lock keeps every other process
// out): every write of that process goes through the gate, so fencing the
// gate fences every writer. Fence waits for the writes in flight, and
// from then on refuses every write (append, commit, kv put and delete,
// snapshot write, stream metadata and delete) with a *FencedError; reads
// pass.
type Gate struct {
	ops.Backend

	mu      sync.RWMutex // held for reading by each write in flight
	movedTo string
}

// NewGate puts a gate in front of b.
func NewGate(b ops.Backend) *Gate { return &Gate{Backend: b} }

func isWrite(e effect.Effect) bool {
	switch e.(type) {
	case ops.Append, ops.Commit, ops.KvPut, ops.KvDelete, ops.SnapshotWrite, ops.StreamMetaWrite, ops.StreamDelete:
		return true
	}
	return false
}

// Handle answers through the store, refusing writes once fenced.
func (g *Gate) Handle(p *effect.P, e effect.Effect) (any, error) {
	if !isWrite(e) {
		return g.Backend.Handle(p, e)
	}
	g.mu.RLock()
	defer g.mu.RUnlock()
	if g.movedTo != "" {
		return nil, &FencedError{MovedTo: g.movedTo}
	}
	return g.Backend.Handle(p, e)
}

// Fence refuses every write from now on; it returns once no write is in
// flight.
func (g *Gate) Fence(_ context.Context, movedTo string) error {
	if movedTo == "" {
		return errors.New("transfer: a fence names the store moved to")
	}
	g.mu.Lock()
	g.movedTo = movedTo
	g.mu.Unlock()
	return nil
}

// Unfence lets writes through again (a migration that failed after the
// fence).
func (g *Gate) Unfence(context.Context) error {
	g.mu.Lock()
	g.movedTo = ""
	g.mu.Unlock()
	return nil
}

// Source is the gated store as a migration source.
func (g *Gate) Source() Source {
	return Source{Handler: g, Fence: g.Fence, Unfence: g.Unfence}
}
