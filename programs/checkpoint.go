package programs

import (
	"fmt"
	"time"

	"rose-ash.com/persist/effect"
	"rose-ash.com/persist/ops"
)

// CheckpointPolicy says when ProjectCheckpointed stores a checkpoint of a
// projection: after every Every events folded since the last one, or once
// Interval has passed by the backend's clock (persist/now) since the last
// one, and at the end of the fold when anything was folded since the last.
// Zero Every and Interval checkpoint at the end only. Keep is how many
// generations of the snapshot the store keeps (0 means 1, see
// ops.SnapshotWrite), so a damaged or unwanted newest one can be passed
// over for an older one.
type CheckpointPolicy struct {
	Every    int
	Interval time.Duration
	Keep     int
}

// clockEvery is how many folded events pass between two readings of the
// clock for a policy's Interval: reading it is an effect, which a remote
// backend answers over the network.
const clockEvery = 64

func (pol CheckpointPolicy) validate() error {
	fail := func(field, reason string) error {
		return &ops.InvalidError{Op: "programs/checkpoint", Field: field, Reason: reason}
	}
	switch {
	case pol.Every < 0:
		return fail("every", fmt.Sprintf("%d is negative", pol.Every))
	case pol.Interval < 0:
		return fail("interval", fmt.Sprintf("negative duration %s", pol.Interval))
	case pol.Keep < 0 || pol.Keep > ops.MaxSnapshotGenerations:
		return fail("keep", fmt.Sprintf("%d is outside 0..%d", pol.Keep, ops.MaxSnapshotGenerations))
	}
	return nil
}

// ProjectCheckpointed brings a projection up to date as Load does (its
// snapshot, when of proj.Version, plus the tail) and checkpoints it on the
// way as pol says, so that the next Load folds at most about pol.Every
// events. It returns the state after the last event of the stream's head
// seen by its first read. The clock is read (persist/now) only when
// pol.Interval is set, once when the fold starts and then every 64 events
// folded. Invalid policies are *ops.InvalidError; a failed checkpoint
// stops the fold with the error, the checkpoints already stored staying.
func ProjectCheckpointed[S any](p *effect.P, proj Projection[S], pol CheckpointPolicy) (State[S], error) {
	if err := pol.validate(); err != nil {
		return State[S]{}, err
	}
	if proj.Step == nil {
		return State[S]{}, &ops.InvalidError{Op: "programs/checkpoint", Field: "step", Reason: "nil"}
	}
	st, err := loadSnapshot(p, proj)
	if err != nil {
		return State[S]{}, err
	}
	var last time.Time
	if pol.Interval > 0 {
		if last, err = effect.Perform(p, ops.Now{}); err != nil {
			return State[S]{}, err
		}
	}
	since := 0
	cur := st
	head, err := scan(p, proj.Stream, st.Seq+1, nil, func(ev ops.Event) error {
		v, err := proj.Step(cur.Value, ev)
		if err != nil {
			return &StepError{Stream: proj.Stream, Seq: ev.Seq, Type: ev.Type, Err: err}
		}
		cur = State[S]{Value: v, Seq: ev.Seq}
		since++
		due := pol.Every > 0 && since >= pol.Every
		if !due && pol.Interval > 0 && since%clockEvery == 0 {
			now, err := effect.Perform(p, ops.Now{})
			if err != nil {
				return err
			}
			due = now.Sub(last) >= pol.Interval
		}
		if !due {
			return nil
		}
		if err := checkpoint(p, proj, cur, pol.Keep); err != nil {
			return err
		}
		since = 0
		if pol.Interval > 0 {
			if last, err = effect.Perform(p, ops.Now{}); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return State[S]{}, fmt.Errorf("project %q with checkpoints: %w", proj.Name, err)
	}
	if head < st.Seq {
		return State[S]{}, fmt.Errorf("project %q from seq %d: head is %d: %w", proj.Name, st.Seq, head, ErrAhead)
	}
	if since > 0 {
		if err := checkpoint(p, proj, cur, pol.Keep); err != nil {
			return State[S]{}, err
		}
	}
	return cur, nil
}

// loadSnapshot gives the state proj's snapshot holds when it is of
// proj.Version, else the seed at seq 0.
func loadSnapshot[S any](p *effect.P, proj Projection[S]) (State[S], error) {
	snap, err := effect.Perform(p, ops.SnapshotRead{Name: proj.Name})
	if err != nil {
		return State[S]{}, err
	}
	if !snap.Found || snap.Snapshot.Version != proj.Version {
		return State[S]{Value: proj.Seed}, nil
	}
	_, dec := proj.codec()
	v, err := dec(snap.Snapshot.Value)
	if err != nil {
		return State[S]{}, fmt.Errorf("load %q: decode snapshot of version %d at seq %d: %w", proj.Name, proj.Version, snap.Snapshot.Seq, err)
	}
	return State[S]{Value: v, Seq: snap.Snapshot.Seq}, nil
}
