package crashtest

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"slices"
	"sort"
	"strings"

	"github.com/google/uuid"

	"rose-ash.com/persist/ops"
)

// model is the reference state: the fold of the commits that survived, in
// issue order, by the rules of package ops as the file backend applies
// them. Event times are not modelled.
type model struct {
	streams map[string][]ops.Event // seq i at index i-1
	log     []ops.Event            // position i at index i-1
	kv      map[string]ops.KvEntry
	rev     uint64
	snaps   map[string]ops.Snapshot
	// snapAlt, when not nil, lists per snapshot name the older generations
	// a store may fall back to when the newest is damaged (or none).
	snapAlt map[string][]ops.Snapshot
	// gens holds per snapshot name every surviving write in issue order,
	// keep the Keep of the last: the kept generations are the newest keep
	// of gens. A model not built by a fold has gens nil and is not
	// checked for generations.
	gens map[string][]ops.Snapshot
	keep map[string]int
	// states holds the streams' metadata and deletion (retention.go).
	states map[string]ops.StreamState
}

func newModel() *model {
	return &model{streams: map[string][]ops.Event{}, kv: map[string]ops.KvEntry{}, snaps: map[string]ops.Snapshot{}, states: map[string]ops.StreamState{},
		gens: map[string][]ops.Snapshot{}, keep: map[string]int{}}
}

func (m *model) head(stream string) uint64 { return uint64(len(m.streams[stream])) }

func (m *model) kvRev(key string) uint64 { return m.kv[key].Revision }

// retried applies the rule that an event ID is unique within its stream,
// by a plain scan of the modelled stream: when every event of a carries an
// ID stored, in order, at consecutive seqs from where a's expectation puts
// them (seq 1 for NoStream, N+1 for Exact(N), anywhere for Any and
// Exists), a is a retry and its original result is returned; any other
// stored ID of a is a *ops.DuplicateIDError naming the first.
func (m *model) retried(a ops.Append) (ops.AppendResult, bool, error) {
	evs := m.streams[a.Stream]
	first := m.firstVisible(a.Stream) // a hidden event's ID is free again
	for i, e := range a.Events {
		if e.ID == uuid.Nil {
			continue
		}
		at := slices.IndexFunc(evs[first:], func(x ops.Event) bool { return x.ID == e.ID })
		if at < 0 {
			continue
		}
		at += first
		if i == 0 && storedWhole(a, evs, at) {
			last := at + len(a.Events) - 1
			return ops.AppendResult{Stream: a.Stream, FirstSeq: uint64(at + 1), Head: uint64(last + 1), FirstPos: evs[at].Pos, LastPos: evs[last].Pos}, true, nil
		}
		return ops.AppendResult{}, false, &ops.DuplicateIDError{Stream: a.Stream, ID: e.ID, Seq: uint64(at + 1), Index: i}
	}
	return ops.AppendResult{}, false, nil
}

// storedID picks, with rnd, a visible event whose ID a caller chose, in
// a stream not deleted; ok is false when there is none.
func (m *model) storedID(rnd *rand.Rand) (ops.Event, bool) {
	var cands []ops.Event
	for name, evs := range m.streams {
		if m.state(name).Tombstone {
			continue
		}
		for _, e := range evs[min(m.firstVisible(name), len(evs)):] {
			if e.ID != uuid.Nil {
				cands = append(cands, e)
			}
		}
	}
	if len(cands) == 0 {
		return ops.Event{}, false
	}
	slices.SortFunc(cands, func(a, b ops.Event) int { return int(a.Pos) - int(b.Pos) })
	return cands[rnd.IntN(len(cands))], true
}

// storedWhole reports whether a's events are evs[at:] in order, at the
// place a's expectation allows.
func storedWhole(a ops.Append, evs []ops.Event, at int) bool {
	switch a.Expect.Kind {
	case ops.ExpectExact:
		if uint64(at) != a.Expect.N {
			return false
		}
	case ops.ExpectNoStream:
		if at != 0 {
			return false
		}
	}
	if at+len(a.Events) > len(evs) {
		return false
	}
	for i, e := range a.Events {
		if e.ID == uuid.Nil || evs[at+i].ID != e.ID {
			return false
		}
	}
	return true
}

// apply applies c as the file backend does and returns its result, or the
// conflict or reused ID that rejects it (then nothing changes).
func (m *model) apply(c ops.Commit) (ops.CommitResult, error) {
	res := ops.CommitResult{}
	if len(c.Appends) > 0 {
		res.Appends = make([]ops.AppendResult, len(c.Appends))
	}
	if len(c.Kv) > 0 {
		res.Kv = make([]ops.KvResult, len(c.Kv))
	}
	// Check every part against the state the parts before it leave: the
	// overlay of heads and revisions.
	heads := map[string]uint64{}
	head := func(s string) uint64 {
		if h, ok := heads[s]; ok {
			return h
		}
		return m.head(s)
	}
	retried := make([]bool, len(c.Appends))
	for i, a := range c.Appends {
		if m.state(a.Stream).Tombstone {
			return ops.CommitResult{}, &ops.StreamDeletedError{Stream: a.Stream}
		}
		r, ok, err := m.retried(a)
		if err != nil {
			return ops.CommitResult{}, err
		}
		if ok {
			res.Appends[i], retried[i] = r, true
			continue
		}
		if !m.holds(a.Expect, a.Stream, head(a.Stream)) {
			return ops.CommitResult{}, &ops.Conflict{Stream: a.Stream, Expected: a.Expect, Actual: head(a.Stream)}
		}
		heads[a.Stream] = head(a.Stream) + uint64(len(a.Events))
	}
	revs := map[string]uint64{}
	for _, k := range c.Kv {
		cur, ok := revs[k.Key]
		if !ok {
			cur = m.kvRev(k.Key)
		}
		if !k.Expect.Holds(cur) {
			return ops.CommitResult{}, &ops.Conflict{Key: k.Key, Expected: k.Expect, Actual: cur}
		}
		if k.Delete {
			revs[k.Key] = 0
		} else {
			revs[k.Key] = m.rev + 1
		}
	}
	pos := uint64(len(m.log)) + 1
	for i, a := range c.Appends {
		if retried[i] {
			continue
		}
		cur := m.head(a.Stream)
		r := ops.AppendResult{Stream: a.Stream, FirstSeq: cur + 1, Head: cur + uint64(len(a.Events)), FirstPos: pos}
		for j, e := range a.Events {
			ev := ops.Event{ID: e.ID, Stream: a.Stream, Seq: cur + 1 + uint64(j), Pos: pos, Type: e.Type, Data: cloneNil(e.Data)}
			m.streams[a.Stream] = append(m.streams[a.Stream], ev)
			m.log = append(m.log, ev)
			pos++
		}
		r.LastPos = pos - 1
		res.Appends[i] = r
	}
	if len(c.Kv) > 0 {
		m.rev++
		res.Revision = m.rev
		for i, k := range c.Kv {
			_, existed := m.kv[k.Key]
			res.Kv[i] = ops.KvResult{Key: k.Key, Revision: m.rev, Existed: existed}
			if k.Delete {
				delete(m.kv, k.Key)
			} else {
				m.kv[k.Key] = ops.KvEntry{Key: k.Key, Value: cloneNil(k.Value), Revision: m.rev}
			}
		}
	}
	return res, nil
}

func cloneNil(b []byte) []byte {
	if len(b) == 0 {
		return nil
	}
	return append([]byte(nil), b...)
}

// view is a store's whole content as read back through package ops.
type view struct {
	streams map[string][]ops.Event
	heads   map[string]uint64
	log     []ops.Event
	kv      map[string]ops.KvEntry
	// kvHist is each key's kept history as kv-history reads it, of the
	// keys with a value, and kvWatch every change a kv-watch from the
	// start of what history keeps reads: so that what a checkpoint's kv
	// run holds of the history is held to a full replay's.
	kvHist  map[string][]ops.KvVersion
	kvWatch []ops.KvVersion
	snaps   map[string]ops.Snapshot // the names the workload wrote
	gens    map[string][]snapGen    // their kept generations, newest first
	lsn     uint64
	states  map[string]ops.StreamState
}

// diff describes how v differs from m (event times aside), or "" when it
// does not.
func (m *model) diff(v *view) string {
	var out []string
	add := func(format string, args ...any) {
		if len(out) < 8 {
			out = append(out, fmt.Sprintf(format, args...))
		}
	}
	names := map[string]bool{}
	for s := range m.streams {
		names[s] = true
	}
	for s := range v.streams {
		names[s] = true
	}
	for s := range m.states {
		names[s] = true
	}
	for s := range v.states {
		names[s] = true
	}
	for _, s := range sortedKeys(names) {
		want, got := m.streams[s], v.streams[s]
		if uint64(len(want)) != v.heads[s] {
			add("stream %q: head %d, want %d", s, v.heads[s], len(want))
		}
		if m.state(s) != v.states[s] {
			add("stream %q: state %+v, want %+v", s, v.states[s], m.state(s))
		}
		want = want[min(m.firstVisible(s), len(want)):] // what its state hides stays hidden
		for i := 0; i < max(len(want), len(got)); i++ {
			switch {
			case i >= len(got):
				add("stream %q: seq %d (id %s) missing", s, want[i].Seq, want[i].ID)
			case i >= len(want):
				add("stream %q: seq %d (id %s) was never acknowledged nor in doubt", s, got[i].Seq, got[i].ID)
			default:
				if d := eventDiff(want[i], got[i]); d != "" {
					add("stream %q: seq %d: %s", s, want[i].Seq, d)
				}
			}
		}
	}
	if log := m.visibleLog(); len(log) != len(v.log) {
		add("global log: %d visible events, want %d", len(v.log), len(log))
	} else {
		for i := range log {
			if d := eventDiff(log[i], v.log[i]); d != "" {
				add("global log: position %d: %s", log[i].Pos, d)
			}
		}
	}
	keys := map[string]bool{}
	for k := range m.kv {
		keys[k] = true
	}
	for k := range v.kv {
		keys[k] = true
	}
	for _, k := range sortedKeys(keys) {
		want, wok := m.kv[k]
		got, gok := v.kv[k]
		switch {
		case !gok:
			add("kv %q missing (want revision %d)", k, want.Revision)
		case !wok:
			add("kv %q present (revision %d), want absent", k, got.Revision)
		case want.Revision != got.Revision || !bytes.Equal(want.Value, got.Value):
			add("kv %q: revision %d value %q, want revision %d value %q", k, got.Revision, got.Value, want.Revision, want.Value)
		}
	}
	for name, want := range m.snaps {
		got, ok := v.snaps[name]
		switch {
		case m.snapAlt != nil && (!ok || slices.ContainsFunc(m.snapAlt[name], func(s ops.Snapshot) bool { return sameSnap(s, got) })):
			// A fallback to an older generation of a damaged snapshot.
		case !ok:
			add("snapshot %q missing", name)
		case !sameSnap(got, want):
			add("snapshot %q: version %d seq %d, want version %d seq %d", name, got.Version, got.Seq, want.Version, want.Seq)
		}
	}
	for name := range v.snaps {
		if _, ok := m.snaps[name]; !ok {
			add("snapshot %q present, want absent", name)
		}
	}
	if m.gens != nil {
		m.diffGens(v, add)
	}
	return strings.Join(out, "; ")
}

// diffGens compares the kept generations a store lists (each read back by
// its number, view.go) with the newest keep writes of each name; on a
// damaged disk (snapAlt set) a listing may leave a damaged generation out,
// so each listed one need only be one the name's writes hold.
func (m *model) diffGens(v *view, add func(string, ...any)) {
	for name, all := range m.gens {
		got := v.gens[name]
		if m.snapAlt != nil {
			for _, g := range got {
				if !slices.ContainsFunc(all, func(s ops.Snapshot) bool { return sameSnap(s, g.snap) }) {
					add("snapshot %q generation %d: version %d seq %d was never written", name, g.gen, g.snap.Version, g.snap.Seq)
				}
			}
			continue
		}
		want := all[max(0, len(all)-m.keep[name]):]
		if len(got) != len(want) {
			add("snapshot %q: %d generations kept, want %d", name, len(got), len(want))
			continue
		}
		for i, g := range got {
			if w := want[len(want)-1-i]; !sameSnap(g.snap, w) {
				add("snapshot %q generation %d: version %d seq %d, want version %d seq %d", name, g.gen, g.snap.Version, g.snap.Seq, w.Version, w.Seq)
			}
		}
	}
	for name, got := range v.gens {
		if _, ok := m.gens[name]; !ok && len(got) > 0 {
			add("snapshot %q lists generations, want none", name)
		}
	}
}

func sameSnap(a, b ops.Snapshot) bool {
	return a.Name == b.Name && a.Version == b.Version && a.Seq == b.Seq && bytes.Equal(a.Value, b.Value)
}

// snapGen is one kept generation as a store lists and reads it.
type snapGen struct {
	gen  uint64
	snap ops.Snapshot
}

func eventDiff(want, got ops.Event) string {
	switch {
	case want.ID != got.ID:
		return fmt.Sprintf("id %s, want %s", got.ID, want.ID)
	case want.Stream != got.Stream || want.Seq != got.Seq || want.Pos != got.Pos:
		return fmt.Sprintf("at %s/%d pos %d, want %s/%d pos %d", got.Stream, got.Seq, got.Pos, want.Stream, want.Seq, want.Pos)
	case want.Type != got.Type || !bytes.Equal(want.Data, got.Data):
		return fmt.Sprintf("bytes differ: type %q data %q, want type %q data %q", got.Type, trim(got.Data), want.Type, trim(want.Data))
	}
	return ""
}

func trim(b []byte) []byte {
	if len(b) > 24 {
		return b[:24]
	}
	return b
}

func sortedKeys(m map[string]bool) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
