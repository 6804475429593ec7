package persist

import (
	"context"

	"rose-ash.com/persist/effect"
	"rose-ash.com/persist/programs"
)

// Projections are generic, and Go methods cannot be, so these are
// functions of a DB.

// Load returns a projection's current state: its snapshot, when there is
// one of proj.Version, plus the events after it; else the fold of the whole
// stream from proj.Seed (programs.Load). It writes nothing; Checkpoint
// stores a state. A failing step is a *StepError naming the stream and
// seq. The step may keep the events it is given (see Step).
func Load[S any](ctx context.Context, db *DB, proj Projection[S]) (State[S], error) {
	return call(ctx, db, "programs/load", func(p *effect.P) (State[S], error) {
		return programs.Load(p, proj)
	})
}

// Resume folds into st the events of proj.Stream after st.Seq, with
// proj.Step (programs.ProjectResume): the state kept from an earlier
// Load or Resume, brought up to date without reading a snapshot.
func Resume[S any](ctx context.Context, db *DB, proj Projection[S], st State[S]) (State[S], error) {
	return call(ctx, db, "programs/project", func(p *effect.P) (State[S], error) {
		return programs.ProjectResume(p, proj.Stream, proj.Step, st)
	})
}

// Checkpoint stores st as proj's snapshot (programs.Checkpoint), so a later
// Load folds only the events after st.Seq.
func Checkpoint[S any](ctx context.Context, db *DB, proj Projection[S], st State[S]) error {
	_, err := call(ctx, db, "programs/checkpoint", func(p *effect.P) (struct{}, error) {
		return struct{}{}, programs.Checkpoint(p, proj, st)
	})
	return err
}
