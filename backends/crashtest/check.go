package crashtest

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"strings"

	"github.com/google/uuid"

	"rose-ash.com/persist/backends/file"
	"rose-ash.com/persist/backends/mock"
	"rose-ash.com/persist/effect"
	"rose-ash.com/persist/ops"
)

// mode is how strictly a disk is judged.
type mode uint8

const (
	// strict: the store must open and hold exactly what was acknowledged,
	// plus all or none of each write in doubt.
	strict mode = iota
	// lossy: the disk was damaged behind the store's back (bytes at rest, a
	// misdirected write). The store may refuse with ErrCorrupt, or fail a
	// read with it; it may cut a damaged tail it reports; it must never
	// serve wrong bytes or silently serve less.
	lossy
)

// Outcomes of a passing check.
const (
	outIntact  = "intact"           // opened and held what it must
	outCorrupt = "corrupt-detected" // refused or failed a read with ErrCorrupt
	outCut     = "tail-cut-reported"
	outLost    = "tail-lost-unreported" // damage the format cannot tell from an unsynced tail
	outRefused = "open-refused"         // a read fault made the open fail; a clean open then held all
)

// checker judges disks left by crashes of one workload.
type checker struct {
	ctx context.Context
	w   *Workload
}

func (c *checker) open(fs *mock.FS) (*file.Store, error) {
	return file.Open(effect.Handle(c.ctx, fs), Dir, c.w.Opts)
}

// openVia opens fs with the handlers hs between the store and it.
func (c *checker) openVia(fs *mock.FS, hs ...effect.Handler) (*file.Store, error) {
	return file.Open(effect.Handle(c.ctx, append(hs, effect.Handler(fs))...), Dir, c.w.Opts)
}

func (c *checker) sp(s *file.Store, fs *mock.FS) *effect.P {
	return effect.Handle(c.ctx, s, fs)
}

func (c *checker) view(s *file.Store, fs *mock.FS) (*view, error) {
	return readView(c.sp(s, fs), s, c.w.snapshotNames())
}

// check judges the disk img against the oracle. It opens copies of img
// several times and checks the invariants of RELIABILITY.md; rnd draws
// the faults of the compound checks. It returns the outcome, or an error
// naming the violated invariant.
func (c *checker) check(img *mock.FS, or *oracle, md mode, rnd *rand.Rand) (string, error) {
	if md == lossy {
		or = or.clone()
		or.lenient = true
	}
	fsA := img.Clone(rnd.Uint64())
	a, err := c.open(fsA)
	if err != nil {
		if md == lossy && errors.Is(err, file.ErrCorrupt) {
			return outCorrupt, nil
		}
		return "", fmt.Errorf("recovery failed (invariant 10): %w", err)
	}
	va, err := c.view(a, fsA)
	if err != nil {
		if md == lossy && errors.Is(err, file.ErrCorrupt) {
			return outCorrupt, nil
		}
		return "", fmt.Errorf("read after recovery (invariant 5): %w", err)
	}
	out := outIntact
	mdl, _, d := or.resolve(va)
	if d != "" {
		if md != lossy {
			return "", fmt.Errorf("recovered state (invariants 1-3, 7): %s", d)
		}
		// The documented limit: damage in the last records of the log
		// looks like a torn or unsynced tail; the store may lose them, and
		// only them.
		if mdl = or.prefixFit(va); mdl == nil {
			return "", fmt.Errorf("recovered state after damage (invariants 1-3): %s", d)
		}
		out = outLost
		if a.Recovery().Truncated != nil {
			out = outCut
		}
	}
	da := va.digest()

	// Invariant 6: a second open of the same disk gives the same state.
	if err := c.same(img.Clone(rnd.Uint64()), da, "a second open of the same disk (invariant 6)"); err != nil {
		return "", err
	}
	// Invariant 7: the store checkpoints are a shortcut, not a second truth.
	noCkpt := img.Clone(rnd.Uint64())
	removed := 0
	for _, f := range noCkpt.Files() {
		if !f.Dir && strings.HasSuffix(f.Path, ".ckpt") {
			if err := noCkpt.Remove(f.Path); err != nil {
				return "", err
			}
			removed++
		}
	}
	if removed > 0 {
		err := c.same(noCkpt, da, "an open without store checkpoints (invariant 7)")
		// Damage in records a checkpoint covers is left by Open to the
		// reads (rule 8 of recovery); a replay of the whole log meets it.
		if err != nil && !(md == lossy && errors.Is(err, file.ErrCorrupt)) {
			return "", err
		}
	}
	// And the segment index files are a shortcut too: an open without
	// them rebuilds what it reads from the segments.
	noIdx := img.Clone(rnd.Uint64())
	removed = 0
	for _, f := range noIdx.Files() {
		if !f.Dir && strings.HasSuffix(f.Path, ".idx") {
			if err := noIdx.Remove(f.Path); err != nil {
				return "", err
			}
			removed++
		}
	}
	if removed > 0 {
		err := c.same(noIdx, da, "an open without segment index files (invariant 7)")
		if err != nil && !(md == lossy && errors.Is(err, file.ErrCorrupt)) {
			return "", err
		}
	}
	// Invariant 8: recovery is idempotent, even cut short by a crash after
	// it finished: what it did and did not make durable changes nothing.
	kinds := []mock.FaultKind{mock.Drop, mock.Prefix, mock.Torn, mock.Keep}
	again, _ := fsA.Crash(mock.Fault{Kind: kinds[rnd.IntN(len(kinds))], Seed: rnd.Uint64()}, rnd.Uint64())
	if err := c.same(again, da, "a reopen after recovery (invariant 8)"); err != nil {
		return "", err
	}

	// The event-ID rule holds after recovery for a stored ID, in memory
	// or in a segment index file (damaged or not): reused beside a new ID
	// it is refused, naming where it is stored, and nothing is written.
	if ev, ok := mdl.storedID(rnd); ok {
		reuse := ops.Commit{Appends: []ops.Append{{Stream: ev.Stream, Events: []ops.EventData{
			{ID: uuid.UUID{0xaf, 0x7e, 0x40, 0, 0, 0, 0x40, 0, 0x80, 2}, Type: "reuse"}, {ID: ev.ID, Type: "reuse"}}}}}
		_, werr := mdl.apply(reuse)
		_, gerr := effect.Perform(c.sp(a, fsA), reuse)
		var wd, gd *ops.DuplicateIDError
		if !errors.As(werr, &wd) || !errors.As(gerr, &gd) || wd.Seq != gd.Seq {
			return "", fmt.Errorf("a reuse of the ID of %s seq %d after recovery: the store answers %v, the model %v", ev.Stream, ev.Seq, gerr, werr)
		}
	}

	// Invariant 10: new appends after recovery, at fresh positions and LSNs.
	lsn := a.Stats().LSN
	ev := ops.EventData{ID: uuid.UUID{0xaf, 0x7e, 0x40, 0, 0, 0, 0x40, 0, 0x80, 1}, Type: "after", Data: []byte("after recovery")}
	app := ops.Commit{Appends: []ops.Append{{Stream: "crashtest/after", Expect: ops.NoStream(), Events: []ops.EventData{ev}}}}
	want, err := mdl.apply(app)
	if err != nil {
		return "", fmt.Errorf("model: %w", err)
	}
	got, err := effect.Perform(c.sp(a, fsA), app)
	if err != nil {
		if md == lossy && errors.Is(err, file.ErrCorrupt) {
			// A new stream's commit asks the stream runs whether it
			// exists: a damaged block that may hold it refuses it.
			return outCorrupt, nil
		}
		return "", fmt.Errorf("append after recovery (invariant 10): %w", err)
	}
	if d := resultDiff(want, got); d != "" {
		return "", fmt.Errorf("append after recovery (invariant 10): %s", d)
	}
	if st := a.Stats(); st.LSN <= lsn {
		return "", fmt.Errorf("append after recovery took LSN %d, not above %d (invariant 10)", st.LSN, lsn)
	}
	vb, err := c.view(a, fsA)
	if err != nil {
		return "", fmt.Errorf("read after the new append: %w", err)
	}
	if d := mdl.diff(vb); d != "" {
		return "", fmt.Errorf("state after the new append: %s", d)
	}
	db := vb.digest()
	// It is durable once acknowledged: a crash that drops everything
	// unsynced keeps it.
	lost, _ := fsA.Crash(mock.Fault{Kind: mock.Drop, Seed: rnd.Uint64()}, rnd.Uint64())
	if err := c.same(lost, db, "a crash after the new append (invariant 1)"); err != nil {
		return "", err
	}
	if err := a.Close(effect.Handle(c.ctx, fsA)); err != nil {
		return "", fmt.Errorf("close after recovery: %w", err)
	}
	closed, _ := fsA.Crash(mock.Fault{Kind: mock.Drop, Seed: rnd.Uint64()}, rnd.Uint64())
	if _, err := file.Verify(effect.Handle(c.ctx, closed), Dir); err != nil && !(md == lossy && errors.Is(err, file.ErrCorrupt)) {
		return "", fmt.Errorf("verify after a clean close: %w", err)
	}
	if err := c.same(closed, db, "a reopen after a clean close"); err != nil {
		return "", err
	}
	return out, nil
}

// same opens fs and checks that it holds the state of digest want.
func (c *checker) same(fs *mock.FS, want, what string) error {
	s, err := c.open(fs)
	if err != nil {
		return fmt.Errorf("%s: open: %w", what, err)
	}
	v, err := c.view(s, fs)
	if err != nil {
		return fmt.Errorf("%s: read: %w", what, err)
	}
	if got := v.digest(); got != want {
		return fmt.Errorf("%s: state %s differs from %s", what, got, want)
	}
	return nil
}

// prefixFit finds the longest prefix of the issued commits whose model
// equals v: what a store that lost its damaged tail may hold. Snapshots
// live in their own files and are not cut with the log.
func (o *oracle) prefixFit(v *view) *model {
	for n := len(o.entries); n >= 0; n-- {
		p := &oracle{entries: append([]entry(nil), o.entries...), lenient: o.lenient}
		for i := range p.entries {
			e := &p.entries[i]
			if e.status == InFlight || (!e.snap && i >= n) {
				e.status = Absent
			}
		}
		for _, m := range p.snapFits(v) {
			if m.diff(v) == "" {
				return m
			}
		}
	}
	return nil
}

// snapFits folds the stored entries with each choice of the writes in
// doubt.
func (o *oracle) snapFits(v *view) []*model {
	var out []*model
	doubts := o.doubts()
	if len(doubts) > 10 {
		return nil
	}
	for take := uint(0); take < 1<<len(doubts); take++ {
		if m, err := o.fold(doubts, take); err == nil {
			out = append(out, m)
		}
	}
	return out
}
