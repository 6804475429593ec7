package crashtest

import (
	"fmt"

	"rose-ash.com/persist/ops"
)

// Status is what the oracle knows of one issued write.
type Status uint8

const (
	// InFlight: issued, no answer yet.
	InFlight Status = iota + 1
	// Acked: acknowledged; it must survive every crash.
	Acked
	// Absent: refused (a conflict, a failed store) or otherwise known not to
	// be stored.
	Absent
	// Doubt: failed with an IO error, or in flight at a crash: all of it
	// or none of it may be stored.
	Doubt
	// Present: was in doubt, and a recovery found it stored; it is as
	// durable as an acknowledged write from then on.
	Present
)

func (s Status) String() string {
	return [...]string{"?", "in-flight", "acked", "absent", "in-doubt", "present"}[s]
}

// entry is one issued write: a commit or a snapshot.
type entry struct {
	step   int // index in the workload
	snap   bool
	commit ops.Commit
	snapV  ops.Snapshot
	keep   int        // a snapshot's Keep
	meta   *metaWrite // a metadata write or delete (retention.go)
	status Status
	result ops.CommitResult
}

func (e *entry) stored() bool { return e.status == Acked || e.status == Present }

// oracle tracks every write the workload issued and what became of it.
type oracle struct {
	entries []entry
	failed  bool // the store reported an IO error this session
	// lenient lets a snapshot fall back to an older generation: for disks
	// damaged at rest, where the newest may not validate.
	lenient bool
}

func (o *oracle) clone() *oracle {
	return &oracle{entries: append([]entry(nil), o.entries...), failed: o.failed, lenient: o.lenient}
}

// doubts returns the indexes of the entries whose fate a crash now leaves
// open: in doubt or in flight.
func (o *oracle) doubts() []int {
	var out []int
	for i := range o.entries {
		if s := o.entries[i].status; s == Doubt || s == InFlight {
			out = append(out, i)
		}
	}
	return out
}

// fold builds the model of the stored entries plus those of the doubts
// whose bit is set in take.
func (o *oracle) fold(doubts []int, take uint) (*model, error) {
	m := newModel()
	if o.lenient {
		m.snapAlt = map[string][]ops.Snapshot{}
	}
	chosen := map[int]bool{}
	for b, i := range doubts {
		if take&(1<<b) != 0 {
			chosen[i] = true
		}
	}
	for i := range o.entries {
		e := &o.entries[i]
		if !e.stored() && !chosen[i] {
			continue
		}
		if e.snap {
			if old, ok := m.snaps[e.snapV.Name]; ok && o.lenient {
				if m.snapAlt == nil {
					m.snapAlt = map[string][]ops.Snapshot{}
				}
				m.snapAlt[old.Name] = append(m.snapAlt[old.Name], old)
			}
			m.snaps[e.snapV.Name] = e.snapV
			m.gens[e.snapV.Name] = append(m.gens[e.snapV.Name], e.snapV)
			m.keep[e.snapV.Name] = max(e.keep, 1)
			continue
		}
		if e.meta != nil {
			if _, err := m.applyMeta(*e.meta); err != nil {
				if e.stored() {
					return nil, fmt.Errorf("acknowledged step %d does not apply to the model: %w", e.step, err)
				}
				return nil, errNoFit
			}
			continue
		}
		if _, err := m.apply(e.commit); err != nil {
			if e.stored() {
				return nil, fmt.Errorf("acknowledged step %d does not apply to the model: %w", e.step, err)
			}
			return nil, errNoFit
		}
	}
	return m, nil
}

var errNoFit = fmt.Errorf("the writes in doubt do not fit")

// resolve finds which writes in doubt the view holds: the choice whose
// model equals it. It returns the model, the choice, and, when none fits,
// a description of the difference from the closest choice.
func (o *oracle) resolve(v *view) (*model, uint, string) {
	doubts := o.doubts()
	if len(doubts) > 10 {
		return nil, 0, fmt.Sprintf("%d writes in doubt at once", len(doubts))
	}
	best := ""
	for take := uint(0); take < 1<<len(doubts); take++ {
		m, err := o.fold(doubts, take)
		if err != nil {
			if best == "" && err != errNoFit {
				best = err.Error()
			}
			continue
		}
		d := m.diff(v)
		if d == "" {
			return m, take, ""
		}
		if best == "" || len(d) < len(best) {
			best = d
		}
	}
	return nil, 0, best
}

// settle records the resolution: the doubts chosen are present, the rest
// absent.
func (o *oracle) settle(take uint) {
	for b, i := range o.doubts() {
		if take&(1<<b) != 0 {
			o.entries[i].status = Present
		} else {
			o.entries[i].status = Absent
		}
	}
	o.failed = false
}
