package programs

import (
	"encoding/json"
	"fmt"

	"rose-ash.com/persist/effect"
	"rose-ash.com/persist/ops"
)

// Projection describes a projection whose state is checkpointed as a
// snapshot: the fold of Stream by Step from Seed, stored under the snapshot
// name Name with Encode and read back with Decode.
//
// Version names the meaning of Step and of the encoding: change it whenever
// either changes, and snapshots written by the old version are ignored
// rather than misapplied. Encode and Decode may be nil, meaning JSON (see
// JSONCodec).
type Projection[S any] struct {
	Name    string
	Stream  string
	Version uint64
	Seed    S
	Step    Step[S]
	Encode  func(S) ([]byte, error)
	Decode  func([]byte) (S, error)
}

func (proj Projection[S]) codec() (func(S) ([]byte, error), func([]byte) (S, error)) {
	enc, dec := JSONCodec[S]()
	if proj.Encode != nil {
		enc = proj.Encode
	}
	if proj.Decode != nil {
		dec = proj.Decode
	}
	return enc, dec
}

// Load returns the projection's current state: replay = snapshot + tail.
//
// It reads the snapshot called proj.Name. When there is one and its Version
// is proj.Version, it decodes the value and folds only the events after the
// snapshot's Seq (ProjectResume). Otherwise (no snapshot, or one of another
// version) it folds the whole stream from proj.Seed (Project): a snapshot of
// another version is never decoded. A snapshot of the right version that
// does not decode is an error, not a silent replay: it means the encoding
// changed without a new Version. A snapshot whose Seq is above the stream's
// head is an error wrapping ErrAhead.
//
// Load writes nothing; Checkpoint stores the state it returns.
func Load[S any](p *effect.P, proj Projection[S]) (State[S], error) {
	st, err := loadSnapshot(p, proj)
	if err != nil {
		return State[S]{}, err
	}
	st, err = ProjectResume(p, proj.Stream, proj.Step, st)
	if err != nil {
		return State[S]{}, fmt.Errorf("load %q: %w", proj.Name, err)
	}
	return st, nil
}

// Checkpoint stores st as the projection's snapshot {Name, Version, Seq:
// st.Seq, Value: encoded st.Value}, replacing the previous one. A later Load
// folds only the events after st.Seq. st must be a state of this
// projection (from Load, Project or ProjectResume with proj.Step).
func Checkpoint[S any](p *effect.P, proj Projection[S], st State[S]) error {
	return checkpoint(p, proj, st, 0)
}

// checkpoint is Checkpoint keeping the newest keep generations (0: one).
func checkpoint[S any](p *effect.P, proj Projection[S], st State[S], keep int) error {
	enc, _ := proj.codec()
	value, err := enc(st.Value)
	if err != nil {
		return fmt.Errorf("checkpoint %q: encode state at seq %d: %w", proj.Name, st.Seq, err)
	}
	_, err = effect.Perform(p, ops.SnapshotWrite{Snapshot: ops.Snapshot{
		Name: proj.Name, Version: proj.Version, Seq: st.Seq, Value: value,
	}, Keep: keep})
	return err
}

// JSONCodec returns an Encode and a Decode for Projection that store a
// state as JSON.
func JSONCodec[S any]() (func(S) ([]byte, error), func([]byte) (S, error)) {
	enc := func(v S) ([]byte, error) { return json.Marshal(v) }
	dec := func(b []byte) (S, error) {
		var v S
		if err := json.Unmarshal(b, &v); err != nil {
			var zero S
			return zero, err
		}
		return v, nil
	}
	return enc, dec
}
