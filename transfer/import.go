package transfer

import (
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"sync"
	"time"

	"rose-ash.com/persist/effect"
	"rose-ash.com/persist/ops"
)

var (
	// ErrNotEmpty matches an import into a store that holds anything.
	ErrNotEmpty = errors.New("transfer: the target store is not empty")
	// ErrDigestMismatch matches an import or migration whose target's
	// store digest is not the source's.
	ErrDigestMismatch = errors.New("transfer: store digests differ")
)

// Clock is the clock of a store being imported into: while an import
// commits events it answers their time, so that every event keeps the
// time it had; otherwise it answers Fallback (time.Now when nil). Give
// its Now to the target store as that store's clock when opening it
// (mem.WithClock, postgres.WithClock, platform.OS.Now for a file store):
// only whoever opens the store can let an import choose event times,
// and no operation of package ops can.
type Clock struct {
	Fallback func() time.Time

	mu  sync.Mutex
	at  time.Time
	set bool
}

// Now is the store's clock.
func (c *Clock) Now() time.Time {
	c.mu.Lock()
	at, set := c.at, c.set
	c.mu.Unlock()
	if set {
		return at
	}
	if c.Fallback != nil {
		return c.Fallback()
	}
	return time.Now()
}

// Hold makes Now answer t until Release: an import holds a target's clock
// at each commit's time, an export and a migration a source's clock at
// the time their view of what a max-age hides is of.
func (c *Clock) Hold(t time.Time) {
	c.mu.Lock()
	c.at, c.set = t, true
	c.mu.Unlock()
}

// Release lets Now answer Fallback again.
func (c *Clock) Release() {
	c.mu.Lock()
	c.set = false
	c.mu.Unlock()
}

// Target is a store to import into: its handler, and the Clock it was
// opened with.
type Target struct {
	Handler effect.Handler
	Clock   *Clock
}

// Import reads an export from r into the empty store t, and checks at the
// end that the store's digest is the export's. Events keep their IDs,
// positions, seqs and times; kv entries their revisions; snapshots all
// their fields. On any error (a truncated, corrupt or newer export, a
// store that refuses a commit, a digest that differs) the store holds
// part of the export: Import writes into a store made for it, and the
// caller publishes that store only when Import succeeded (see the package
// doc, Atomic imports). The export is read once, as it streams.
func Import(ctx context.Context, r io.Reader, t Target) (Summary, error) {
	start := time.Now()
	dec, err := NewDecoder(r)
	if err != nil {
		return Summary{}, err
	}
	im, err := newImporter(ctx, t)
	if err != nil {
		return Summary{}, err
	}
	defer t.Clock.Release()
	for {
		it, err := dec.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return Summary{}, err
		}
		switch {
		case it.Event != nil:
			err = im.event(*it.Event)
		case it.Hidden != nil:
			err = im.hidden(*it.Hidden)
		case it.Stream != nil:
			im.stream(*it.Stream, it.State)
		case it.Kv != nil:
			err = im.kv(*it.Kv)
		case it.KvVersion != nil:
			err = im.kvVersion(*it.KvVersion)
		case it.Snapshot != nil:
			err = im.snapshot(*it.Snapshot, it.Generation, it.Older)
		}
		if err != nil {
			return Summary{}, err
		}
	}
	if err := im.finish(); err != nil {
		return Summary{}, err
	}
	want := dec.Trailer
	if !want.At.IsZero() {
		// What is visible is decided at the export's time: check there.
		t.Clock.Hold(want.At)
	}
	got, err := Digest(ctx, t.Handler)
	t.Clock.Release()
	if err != nil {
		return Summary{}, fmt.Errorf("transfer: digest of the imported store: %w", err)
	}
	if got != want.Digest {
		hint := "does the target keep event times and positions as given?"
		if !want.At.IsZero() {
			hint = "a stream has a max-age: if it hid more while the export ran, export again with the source's clock held (ExportOptions.Clock, as persist export does); else " + hint
		}
		return Summary{}, fmt.Errorf("%w: the imported store has %s, the export %s (%s)", ErrDigestMismatch, got, want.Digest, hint)
	}
	return Summary{Counts: want.Counts, LastPos: want.LastPos, Digest: got, Took: time.Since(start)}, nil
}

// CheckEmpty reports whether the store h answers holds nothing: no event,
// no stream state (metadata or a deletion, even of a stream without
// events), no kv entry and no kv revision (a key put and deleted again
// leaves its history and moves the revision), no snapshot (ErrNotEmpty
// otherwise). A store whose handler has no Stat (an older server) is
// judged by the rest.
func CheckEmpty(ctx context.Context, h effect.Handler) error {
	p := effect.Handle(ctx, h)
	r, err := effect.Perform(p, ops.ReadAll{Limit: 1})
	if err != nil {
		return fmt.Errorf("transfer: read the target: %w", err)
	}
	if r.Head > 0 {
		return fmt.Errorf("%w: its log runs to position %d", ErrNotEmpty, r.Head)
	}
	st, err := effect.Perform(p, ops.Streams{Limit: 1, Deleted: true})
	if err != nil {
		return fmt.Errorf("transfer: read the target: %w", err)
	}
	if len(st.Streams) > 0 {
		return fmt.Errorf("%w: it holds stream %q (its metadata or deletion)", ErrNotEmpty, st.Streams[0].Name)
	}
	kv, err := effect.Perform(p, ops.KvList{Limit: 1})
	if err != nil {
		return fmt.Errorf("transfer: read the target: %w", err)
	}
	if len(kv.Entries) > 0 {
		return fmt.Errorf("%w: it holds key %q", ErrNotEmpty, kv.Entries[0].Key)
	}
	stat, err := effect.Perform(p, ops.Stat{})
	switch {
	case errors.Is(err, effect.ErrUnhandled):
	case err != nil:
		return fmt.Errorf("transfer: read the target: %w", err)
	case stat.KvRevision > 0:
		return fmt.Errorf("%w: its kv revision is %d (keys written and deleted)", ErrNotEmpty, stat.KvRevision)
	}
	snaps, err := effect.Perform(p, ops.SnapshotNames{})
	if errors.Is(err, effect.ErrUnhandled) {
		return ErrNoSnapshotList
	}
	if err != nil {
		return fmt.Errorf("transfer: read the target: %w", err)
	}
	if len(snaps) > 0 {
		return fmt.Errorf("%w: it holds snapshot %q", ErrNotEmpty, snaps[0])
	}
	return nil
}

// Commit limits of the importer: well within ops's, so that a commit is a
// modest record for every backend.
const (
	importEvents = 1000
	importBytes  = 4 << 20
)

// importer writes a store's content into a target: events in position
// order, grouped into commits of events that share a time; kv entries in
// revision order; snapshots.
type importer struct {
	p   *effect.P
	clk *Clock

	batch   []ops.Event
	bytes   int
	streams map[string]bool // streams in the batch
	pos     uint64          // the last position written

	kvs    []ops.KvVersion // current entries and older versions
	snaps  []snapGen
	states []streamState // stream states, written after the events
}

// snapGen is a snapshot with its generation (0 when the export does not
// say), older set for one older than its name's newest.
type snapGen struct {
	s     ops.Snapshot
	gen   uint64
	older bool
}

type streamState struct {
	name  string
	head  uint64
	state ops.StreamState
}

// HiddenType is the type of the placeholder events an import puts at
// hidden positions (see Hidden); the stream's state hides them again.
const HiddenType = "persist/hidden"

func newImporter(ctx context.Context, t Target) (*importer, error) {
	if t.Handler == nil || t.Clock == nil {
		return nil, errors.New("transfer: a target needs its handler and the Clock it was opened with")
	}
	if err := CheckEmpty(ctx, t.Handler); err != nil {
		return nil, err
	}
	return &importer{p: effect.Handle(ctx, t.Handler), clk: t.Clock, streams: map[string]bool{}}, nil
}

// event adds an event; it is written with the batch it joins.
func (im *importer) event(e ops.Event) error {
	if n := len(im.batch); n > 0 {
		last := im.batch[n-1]
		if !e.At.Equal(im.batch[0].At) || n >= importEvents || im.bytes+len(e.Data) > importBytes ||
			(e.Stream != last.Stream && im.streams[e.Stream]) {
			if err := im.flush(); err != nil {
				return err
			}
		}
	}
	im.batch = append(im.batch, e)
	im.bytes += len(e.Data) + len(e.Type) + len(e.Stream)
	im.streams[e.Stream] = true
	return nil
}

// hidden adds a placeholder at a hidden position, stamped at the Unix
// epoch, so that a max-age hides it too (a file store, which clamps a time
// that steps back to the commit before, stamps it with that commit's).
func (im *importer) hidden(h Hidden) error {
	return im.event(ops.Event{Stream: h.Stream, Seq: h.Seq, Pos: h.Pos, Type: HiddenType, At: time.Unix(0, 0).UTC()})
}

// stream notes a stream's state, to write once its events are.
func (im *importer) stream(si ops.StreamInfo, st ops.StreamState) {
	if st != (ops.StreamState{}) {
		im.states = append(im.states, streamState{name: si.Name, head: si.Head, state: st})
	}
}

// writeStates gives each stream its state: its limits, then a delete
// (hard for a tombstone) when it reads as deleted; each expecting the
// head the export gives.
func (im *importer) writeStates() error {
	for _, s := range im.states {
		meta := s.state.StreamMeta
		if s.state.Deleted {
			meta.TruncateBefore = 0 // the delete truncates
		}
		if meta != (ops.StreamMeta{}) {
			if _, err := effect.Perform(im.p, ops.StreamMetaWrite{Stream: s.name, Expect: ops.Exact(s.head), Meta: meta}); err != nil {
				return fmt.Errorf("transfer: write the limits of stream %q: %w", s.name, err)
			}
		}
		if s.state.Deleted {
			if _, err := effect.Perform(im.p, ops.StreamDelete{Stream: s.name, Expect: ops.Exact(s.head), Hard: s.state.Tombstone}); err != nil {
				return fmt.Errorf("transfer: delete stream %q: %w", s.name, err)
			}
		}
	}
	im.states = nil
	return nil
}

// flush commits the batch: one append per run of a stream, each expecting
// the head the export gives, stamped with the batch's time.
func (im *importer) flush() error {
	if len(im.batch) == 0 {
		return nil
	}
	var c ops.Commit
	for _, e := range im.batch {
		if n := len(c.Appends); n == 0 || c.Appends[n-1].Stream != e.Stream {
			c.Appends = append(c.Appends, ops.Append{Stream: e.Stream, Expect: ops.Exact(e.Seq - 1)})
		}
		a := &c.Appends[len(c.Appends)-1]
		a.Events = append(a.Events, ops.EventData{ID: e.ID, Type: e.Type, Data: e.Data})
	}
	im.clk.Hold(im.batch[0].At)
	r, err := effect.Perform(im.p, c)
	im.clk.Release()
	if err != nil {
		return fmt.Errorf("transfer: write events %d to %d: %w", im.batch[0].Pos, im.batch[len(im.batch)-1].Pos, err)
	}
	i := 0
	for k, a := range c.Appends {
		first := im.batch[i]
		got := r.Appends[k]
		if got.FirstSeq != first.Seq || got.FirstPos != first.Pos {
			return fmt.Errorf("transfer: event %s of stream %q was stored at position %d, seq %d, not at position %d, seq %d: the target does not keep positions as the source has them",
				first.ID, a.Stream, got.FirstPos, got.FirstSeq, first.Pos, first.Seq)
		}
		i += len(a.Events)
	}
	im.pos = im.batch[len(im.batch)-1].Pos
	im.batch, im.bytes = im.batch[:0], 0
	clear(im.streams)
	return nil
}

func (im *importer) kv(e ops.KvEntry) error {
	im.kvs = append(im.kvs, ops.KvVersion{Key: e.Key, Revision: e.Revision, Value: e.Value})
	return nil
}

func (im *importer) kvVersion(v ops.KvVersion) error {
	im.kvs = append(im.kvs, v)
	return nil
}

func (im *importer) snapshot(s ops.Snapshot, gen uint64, older bool) error {
	im.snaps = append(im.snaps, snapGen{s: s, gen: gen, older: older})
	return nil
}

// finish writes what is pending: the last events, then the kv versions in
// revision order (see writeKv), then the snapshots (see writeSnapshots).
func (im *importer) finish() error {
	if err := im.flush(); err != nil {
		return err
	}
	if err := im.writeStates(); err != nil {
		return err
	}
	if err := im.writeKv(); err != nil {
		return err
	}
	return im.writeSnapshots()
}

// writeKv writes every kv version, older ones and current entries alike,
// in revision order: the versions of one revision in one commit (a value
// put, or a delete of the present key), and before them deletes of a key
// that is absent until the store's revision is one below, so that each
// version gets its own revision back and no version more.
func (im *importer) writeKv() error {
	// A key whose oldest kept version is a delete (the value before it
	// fell out of the history) gets a placeholder value at revision 1, so
	// that the delete is of a present key and is a version; the value is
	// older than every version the key keeps, and the same history depth
	// drops it again. Revision 1, rather than one nearer the delete, keeps
	// the target's compacted revision from passing the source's.
	seen := map[string]bool{}
	var placeholders []ops.KvVersion
	for _, v := range im.kvs {
		if !seen[v.Key] {
			seen[v.Key] = true
			if v.Deleted && v.Revision > 1 {
				placeholders = append(placeholders, ops.KvVersion{Key: v.Key, Revision: 1})
			}
		}
	}
	im.kvs = append(placeholders, im.kvs...)
	slices.SortStableFunc(im.kvs, func(a, b ops.KvVersion) int {
		switch {
		case a.Revision < b.Revision:
			return -1
		case a.Revision > b.Revision:
			return 1
		}
		return 0
	})
	present := map[string]bool{}
	var rev uint64
	for i := 0; i < len(im.kvs); {
		j := i
		for j < len(im.kvs) && im.kvs[j].Revision == im.kvs[i].Revision {
			j++
		}
		want := im.kvs[i].Revision
		// A delete of a key not present moves the revision on and
		// changes nothing else.
		for rev+1 < want {
			if err := im.p.Context().Err(); err != nil {
				return err
			}
			r, err := effect.Perform(im.p, ops.KvDelete{Key: absentKey(present, im.kvs[i].Key), Expect: ops.NoStream()})
			if err != nil {
				return fmt.Errorf("transfer: move the kv revision to %d: %w", want-1, err)
			}
			if r.Revision <= rev {
				return fmt.Errorf("transfer: the target's kv revision went from %d to %d", rev, r.Revision)
			}
			rev = r.Revision
		}
		var c ops.Commit
		for _, v := range im.kvs[i:j] {
			c.Kv = append(c.Kv, ops.KvChange{Key: v.Key, Value: v.Value, Delete: v.Deleted})
			present[v.Key] = !v.Deleted
		}
		r, err := effect.Perform(im.p, c)
		if err != nil {
			return fmt.Errorf("transfer: write kv revision %d: %w", want, err)
		}
		if r.Revision != want {
			return fmt.Errorf("transfer: kv revision %d was stored as revision %d: the target's kv revision was not where the import left it", want, r.Revision)
		}
		rev = want
		i = j
	}
	im.kvs = nil
	return nil
}

// absentKey is a key not present in the target: key itself when it is
// not, else one that differs from it by a suffix or, for a key too long
// for one, a short key.
func absentKey(present map[string]bool, key string) string {
	for n := 0; ; n++ {
		k := key
		switch {
		case n > 0 && n%2 == 1:
			k = fmt.Sprintf("%s~import-%d", key, n)
		case n > 0:
			k = fmt.Sprintf("~import-%d", n)
		}
		if !present[k] && (ops.KvDelete{Key: k}).Validate() == nil {
			return k
		}
	}
}

// writeSnapshots writes each snapshot name's generations so that the
// target numbers and keeps them as the export says: a name whose newest
// generation is g, with older generations from f kept, gets generations
// 1 to f-1 written and dropped (generation f without its value, each write
// keeping one), then f to g, each write keeping every generation from f
// on. A name without generations (an export of version 2 or older, or a
// backend that keeps one) is written once, as before. The writes before f
// cost one snapshot write each, of no value.
func (im *importer) writeSnapshots() error {
	for i := 0; i < len(im.snaps); {
		j := i
		for j < len(im.snaps) && im.snaps[j].s.Name == im.snaps[i].s.Name {
			j++
		}
		gens := im.snaps[i:j]
		i = j
		newest := gens[len(gens)-1]
		if newest.gen == 0 {
			if _, err := effect.Perform(im.p, ops.SnapshotWrite{Snapshot: newest.s}); err != nil {
				return fmt.Errorf("transfer: write snapshot %q: %w", newest.s.Name, err)
			}
			continue
		}
		first := gens[0].gen
		byGen := map[uint64]ops.Snapshot{}
		for _, g := range gens {
			byGen[g.gen] = g.s
		}
		for n := uint64(1); n <= newest.gen; n++ {
			if err := im.p.Context().Err(); err != nil {
				return err
			}
			s, ok := byGen[n]
			keep := 1
			if n >= first {
				keep = int(min(n-first+1, ops.MaxSnapshotGenerations))
			}
			if !ok {
				// A generation the source no longer keeps, dropped by the
				// next write: its value does not matter, so it has none.
				s = gens[0].s
				s.Value = nil
			}
			if _, err := effect.Perform(im.p, ops.SnapshotWrite{Snapshot: s, Keep: keep}); err != nil {
				return fmt.Errorf("transfer: write generation %d of snapshot %q: %w", n, s.Name, err)
			}
		}
	}
	im.snaps = nil
	return nil
}
