package crashtest

import (
	"context"
	"errors"
	"fmt"

	"rose-ash.com/persist/backends/file"
	"rose-ash.com/persist/backends/mock"
	"rose-ash.com/persist/effect"
	"rose-ash.com/persist/interp"
	"rose-ash.com/persist/ops"
	"rose-ash.com/persist/platform"
)

// machine runs one workload on a mock filesystem: the disk, the store on
// it, and the oracle of what the workload issued.
type machine struct {
	ctx   context.Context
	w     *Workload
	seed  uint64
	fs    *mock.FS
	store *file.Store
	or    *oracle
	tap   *tap

	// inject, when set, is given the filesystem before the effect of tap
	// index injectAt (an injected fault of a runtime case).
	injectAt int
	inject   func(local int) *mock.Injector
	injected *mock.Injector

	// wrap, when set, stands between the store and the disk of the run.
	wrap func(effect.Handler) effect.Handler

	violations []string
	stopped    bool // the store could not be opened after a fault
	// lossy runs had bytes damaged behind the store's back: a reopen may
	// cut a damaged tail it reports (cut is then set) instead of holding
	// every acknowledged write.
	lossy bool
	cut   bool
}

// tap counts the IO effects of a run, across restarts, and calls fn
// before and after each one.
type tap struct {
	m     *machine
	n     int
	names []string
	fn    func(k int, after bool)
}

func (t *tap) Handle(p *effect.P, e effect.Effect) (any, error) {
	k := t.n
	t.n++
	if t.names != nil {
		t.names = append(t.names, e.EffectName())
	}
	if t.m.inject != nil && k == t.m.injectAt && t.m.injected == nil {
		t.m.injected = t.m.inject(t.m.fs.Ops())
		t.m.fs.Inject(t.m.injected)
	}
	if t.fn != nil {
		t.fn(k, false)
	}
	v, err := p.Send(e)
	if t.fn != nil {
		t.fn(k, true)
	}
	return v, err
}

func newMachine(ctx context.Context, w *Workload, seed uint64) *machine {
	m := &machine{ctx: ctx, w: w, seed: seed, or: &oracle{}, injectAt: -1}
	m.fs = mock.New(seed, mock.Options{CrashErr: interp.ErrCrash})
	m.tap = &tap{m: m}
	return m
}

// disk is the platform as the store sees it.
func (m *machine) disk() effect.Handler {
	if m.wrap != nil {
		return m.wrap(m.fs)
	}
	return m.fs
}

// io is a handle whose effects go through the tap to the filesystem.
func (m *machine) io() *effect.P { return effect.Handle(m.ctx, m.tap, m.disk()) }

// sp is a handle whose effects reach the store first.
func (m *machine) sp() *effect.P { return effect.Handle(m.ctx, m.store, m.tap, m.disk()) }

func (m *machine) violate(format string, args ...any) {
	m.violations = append(m.violations, fmt.Sprintf(format, args...))
}

// faulted reports whether an injected fault has fired: errors are then
// expected.
func (m *machine) faulted() bool { return m.injected != nil && m.injected.Fired() }

// run runs the workload to its end: open, the steps, close.
func (m *machine) run() {
	if !m.open() {
		return
	}
	for i, st := range m.w.Steps {
		if m.stopped {
			return
		}
		m.step(i, st)
	}
	if m.stopped {
		return
	}
	if err := m.store.Close(m.io()); err != nil && !m.or.failed && !m.faulted() {
		m.violate("close: %v", err)
	}
	m.store = nil
}

func (m *machine) open() bool {
	s, err := file.Open(m.io(), Dir, m.w.Opts)
	if err != nil {
		if !m.faulted() {
			m.violate("open: %v", err)
		}
		m.stopped = true
		return false
	}
	m.store = s
	m.or.failed = false
	return true
}

func (m *machine) step(i int, st Step) {
	switch st.Kind {
	case StepCommit:
		m.commit(i, st.Commit)
	case StepSnapshot:
		m.snapshot(i, st.Snap, st.Keep)
	case StepMeta:
		m.metaStep(i, *st.Meta)
	case StepCompact:
		m.compact(i, st.Reclaims, st.ReclaimsKv)
	case StepRead:
		m.read(i)
	case StepReopen:
		if err := m.store.Close(m.io()); err != nil && !m.or.failed && !m.faulted() {
			m.violate("step %d: close: %v", i, err)
		}
		m.store = nil
		if m.open() {
			m.settle(i, "reopen")
		}
	case StepCrash:
		f := mock.Fault{Kind: st.Fault, Seed: mix(m.seed, "step-crash", uint64(i))}
		next, _ := m.fs.Crash(f, mix(m.seed, "restart", uint64(i)))
		m.fs.Halt(nil)
		m.fs, m.store = next, nil
		if !m.open() {
			return
		}
		doubts := m.or.doubts()
		if !m.settle(i, "restart") {
			return
		}
		// Retry the appends that were in doubt, as a client would: by their
		// event IDs a stored one answers its original result.
		for _, d := range doubts {
			e := m.or.entries[d]
			if !e.snap && e.meta == nil && len(e.commit.Kv) == 0 {
				m.commit(i, e.commit)
			}
		}
	}
}

// settle resolves the writes in doubt from what the reopened store holds.
func (m *machine) settle(i int, why string) bool {
	v, err := readView(m.sp(), m.store, m.w.snapshotNames())
	if err != nil {
		if !m.faulted() {
			m.violate("step %d: read after %s: %v", i, why, err)
		}
		m.stopped = true
		return false
	}
	_, take, d := m.or.resolve(v)
	if d != "" && m.lossy && m.or.prefixFit(v) != nil {
		m.cut, m.stopped = true, true
		return false
	}
	if d != "" {
		m.violate("step %d: after %s the store does not hold what was acknowledged: %s", i, why, d)
		m.stopped = true
		return false
	}
	m.or.settle(take)
	return true
}

func (m *machine) commit(i int, c ops.Commit) {
	before, err := m.or.fold(nil, 0)
	if err != nil {
		m.violate("step %d: %v", i, err)
		m.stopped = true
		return
	}
	want, wantErr := before.apply(c)
	m.or.entries = append(m.or.entries, entry{step: i, commit: c, status: InFlight})
	e := &m.or.entries[len(m.or.entries)-1]
	wasFailed := m.or.failed
	res, err := effect.Perform(m.sp(), c)
	e = &m.or.entries[len(m.or.entries)-1]
	var conflict *ops.Conflict
	var dup *ops.DuplicateIDError
	var deleted *ops.StreamDeletedError
	switch {
	case err == nil:
		e.status, e.result = Acked, res
		if wasFailed {
			m.violate("step %d: acknowledged after an IO error, before a reopen (invariant 9)", i)
		}
		if wantErr != nil {
			m.violate("step %d: acknowledged, but the model rejects it: %v", i, wantErr)
		} else if d := resultDiff(want, res); d != "" {
			m.violate("step %d: result %s", i, d)
		}
	case errors.As(err, &conflict), errors.As(err, &dup), errors.As(err, &deleted):
		m.refused(i, e, wantErr, wasFailed, err)
	default:
		m.failed(i, e, wasFailed, "commit", err)
	}
}

// refused records that the store refused step i (entry e) with err: the
// step is absent, and the model, unless the store had failed before,
// rejects it too (wantErr).
func (m *machine) refused(i int, e *entry, wantErr error, wasFailed bool, err error) {
	e.status = Absent
	if wantErr == nil && !wasFailed {
		m.violate("step %d: refused (%v), but the model applies it", i, err)
	}
}

// failed records that step i (entry e, on what) failed with err: the step
// is absent, or in doubt when this failure is the one that failed the
// store; a failure while no fault was injected is a violation.
func (m *machine) failed(i int, e *entry, wasFailed bool, what string, err error) {
	e.status = Absent
	if !wasFailed && m.store.Stats().Failed {
		e.status = Doubt
		m.or.failed = true
	}
	if !m.faulted() {
		m.violate("step %d: %s: %v", i, what, err)
	}
}

func (m *machine) snapshot(i int, s ops.Snapshot, keep int) {
	m.or.entries = append(m.or.entries, entry{step: i, snap: true, snapV: s, keep: keep, status: InFlight})
	_, err := effect.Perform(m.sp(), ops.SnapshotWrite{Snapshot: s, Keep: keep})
	e := &m.or.entries[len(m.or.entries)-1]
	if err == nil {
		e.status = Acked
		return
	}
	e.status = Doubt
	if !m.faulted() {
		m.violate("step %d: snapshot: %v", i, err)
	}
}

// read checks what the running store serves against what was
// acknowledged: nothing in doubt is visible, nothing acknowledged missing.
func (m *machine) read(i int) {
	v, err := readView(m.sp(), m.store, m.w.snapshotNames())
	if err != nil {
		if !m.faulted() || !typed(err) {
			m.violate("step %d: read: %v", i, err)
		}
		return
	}
	want, err := m.or.fold(nil, 0)
	if err != nil {
		m.violate("step %d: %v", i, err)
		return
	}
	if d := want.diff(v); d != "" {
		m.violate("step %d: the running store serves %s", i, d)
	}
	// A subscriber waiting for what is already durable is woken at once,
	// and sees the durable head.
	for name, evs := range want.streams {
		head := uint64(len(evs))
		r, err := effect.Perform(m.sp(), ops.Wait{Stream: name, After: head - 1})
		if err != nil {
			m.violate("step %d: wait on %s: %v", i, name, err)
		} else if !r.Passed || r.Head != head {
			m.violate("step %d: wait on %s after %d: %+v, want head %d", i, name, head-1, r, head)
		}
	}
}

// typed reports whether a read error is one the contract allows: corrupt
// data named, or an IO error of the platform.
func typed(err error) bool {
	var pe *platform.Error
	return errors.Is(err, file.ErrCorrupt) || errors.As(err, &pe)
}

func resultDiff(want, got ops.CommitResult) string {
	if len(want.Appends) != len(got.Appends) || len(want.Kv) != len(got.Kv) || want.Revision != got.Revision {
		return fmt.Sprintf("%+v, want %+v", got, want)
	}
	for i := range want.Appends {
		if want.Appends[i] != got.Appends[i] {
			return fmt.Sprintf("append %d: %+v, want %+v", i, got.Appends[i], want.Appends[i])
		}
	}
	for i := range want.Kv {
		if want.Kv[i] != got.Kv[i] {
			return fmt.Sprintf("kv %d: %+v, want %+v", i, got.Kv[i], want.Kv[i])
		}
	}
	return ""
}
