package transfer

import (
	"cmp"
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"slices"

	"rose-ash.com/persist/effect"
	"rose-ash.com/persist/ops"
)

// digestMagic starts the bytes a store digest hashes.
const digestMagic = "persist-store-digest-v1\n"

// digester accumulates a store digest: the canonical encoding of the
// package doc, hashed with SHA-256 as it is written.
type digester struct {
	h   hash.Hash
	buf []byte
}

func newDigester() *digester {
	d := &digester{h: sha256.New()}
	d.h.Write([]byte(digestMagic))
	return d
}

func (d *digester) flush() {
	d.h.Write(d.buf)
	d.buf = d.buf[:0]
}

func (d *digester) u64(v uint64) { d.buf = binary.BigEndian.AppendUint64(d.buf, v) }

func (d *digester) bytes(b []byte) {
	d.u64(uint64(len(b)))
	d.buf = append(d.buf, b...)
}

func (d *digester) str(s string) {
	d.u64(uint64(len(s)))
	d.buf = append(d.buf, s...)
}

func (d *digester) event(e ops.Event) {
	d.buf = append(d.buf, 'E')
	d.u64(e.Pos)
	d.str(e.Stream)
	d.u64(e.Seq)
	d.buf = append(d.buf, e.ID[:]...)
	d.u64(uint64(e.At.UnixNano()))
	d.str(e.Type)
	d.bytes(e.Data)
	d.flush()
}

func (d *digester) stream(s ops.StreamInfo) {
	d.buf = append(d.buf, 'S')
	d.str(s.Name)
	d.u64(s.Head)
	d.flush()
}

// hidden is a position a stream's limits hide: its stream, and its seq
// implied by the order.
func (d *digester) hidden(pos uint64, stream string) {
	d.buf = append(d.buf, 'H')
	d.u64(pos)
	d.str(stream)
	d.flush()
}

// state is a stream's exported state, after its 'S': only for a stream
// that has one, so a store without metadata digests as in version 1.
func (d *digester) state(name string, st ops.StreamState) {
	d.buf = append(d.buf, 'M')
	d.str(name)
	d.u64(st.MaxCount)
	d.u64(uint64(st.MaxAge))
	d.u64(st.TruncateBefore)
	d.buf = append(d.buf, boolByte(st.Deleted), boolByte(st.Tombstone))
	d.flush()
}

func boolByte(b bool) byte {
	if b {
		return 1
	}
	return 0
}

func (d *digester) kv(e ops.KvEntry) {
	d.buf = append(d.buf, 'K')
	d.str(e.Key)
	d.u64(e.Revision)
	d.bytes(e.Value)
	d.flush()
}

func (d *digester) snapshot(s ops.Snapshot) {
	d.buf = append(d.buf, 'P')
	d.str(s.Name)
	d.u64(s.Version)
	d.u64(s.Seq)
	d.bytes(s.Value)
	d.flush()
}

// kvVersion is an older kept version of a key, before the key's 'K':
// 'V' key (str) revision (u64) deleted (one byte) value (bytes).
func (d *digester) kvVersion(v ops.KvVersion) {
	d.buf = append(d.buf, 'V')
	d.str(v.Key)
	d.u64(v.Revision)
	d.buf = append(d.buf, boolByte(v.Deleted))
	d.bytes(v.Value)
	d.flush()
}

// generation is an older kept generation of a snapshot name, before its
// 'P': 'G' name (str) generation (u64) version (u64) seq (u64) value
// (bytes).
func (d *digester) generation(s ops.Snapshot, gen uint64) {
	d.buf = append(d.buf, 'G')
	d.str(s.Name)
	d.u64(gen)
	d.u64(s.Version)
	d.u64(s.Seq)
	d.bytes(s.Value)
	d.flush()
}

// newest is the generation of a snapshot name's newest one, after its
// 'P', when above 1: 'N' name (str) generation (u64). A store whose
// snapshots were each written once digests as before.
func (d *digester) newest(name string, gen uint64) {
	if gen <= 1 {
		return
	}
	d.buf = append(d.buf, 'N')
	d.str(name)
	d.u64(gen)
	d.flush()
}

func (d *digester) sum() string {
	return "sha256:" + hex.EncodeToString(d.h.Sum(nil))
}

// Digest computes the store digest of the store h answers (see the
// package doc): a hash over its events in position order, its streams,
// kv entries and snapshots in name order, the same on every backend for
// the same logical content. It reads the store through its operations,
// so run it on a store no one writes to (or fenced) for a meaningful
// answer.
func Digest(ctx context.Context, h effect.Handler) (string, error) {
	d, _, err := digestCounts(ctx, h)
	return d, err
}

func digestCounts(ctx context.Context, h effect.Handler) (string, Counts, error) {
	var d *digester
	w, err := walk(ctx, h, func(d2 *digester) { d = d2 }, nil)
	if err != nil {
		return "", Counts{}, err
	}
	return d.sum(), w.counts, nil
}

// Counts are how many of each kind of record a store (or an export) holds.
type Counts struct {
	Events    uint64 `json:"events"`
	Streams   uint64 `json:"streams"`
	Kv        uint64 `json:"kv"`
	Snapshots uint64 `json:"snapshots"`
	Hidden    uint64 `json:"hidden,omitempty"` // hidden positions (version 2)
	// KvVersions counts older kept versions of keys, Generations older
	// kept generations of snapshots (version 3).
	KvVersions  uint64 `json:"kv-versions,omitempty"`
	Generations uint64 `json:"generations,omitempty"`
}

// visitor receives a store's content in export order.
type visitor struct {
	event     func(ops.Event) error
	hidden    func(pos uint64, stream string) error
	stream    func(ops.StreamInfo, ops.StreamState) error
	kv        func(ops.KvEntry) error
	kvVersion func(ops.KvVersion) error
	// snapshot takes a name's older generations (older set) oldest first,
	// then its newest.
	snapshot func(s ops.Snapshot, gen uint64, older bool) error
}

// ErrNoSnapshotList is the error of a store that cannot list its
// snapshots (it answers ops.SnapshotNames with effect.ErrUnhandled), such
// as a remote one.
var ErrNoSnapshotList = errors.New("transfer: the store cannot list its snapshots")

// walk reads the store's content in export order into the digest (given
// to gotDigest first) and v. It returns the counts and the global position
// it read to.
func walk(ctx context.Context, h effect.Handler, gotDigest func(*digester), v *visitor) (walked, error) {
	p := effect.Handle(ctx, h)
	d := newDigester()
	gotDigest(d)
	var w walked
	if v == nil {
		v = &visitor{}
	}
	streams, err := walkStreams(p)
	if err != nil {
		return w, err
	}
	plan := newHiddenPlan(p, streams)
	// Events up to the head seen on the first page, and the hidden
	// positions between them, each given a stream (see hiddenPlan).
	var pos uint64
	hidden := func(upTo uint64) error {
		for pos+1 < upTo {
			s, err := plan.take(pos + 1)
			if err != nil {
				return err
			}
			pos++
			d.hidden(pos, s)
			w.counts.Hidden++
			if v.hidden != nil {
				if err := v.hidden(pos, s); err != nil {
					return err
				}
			}
		}
		return nil
	}
	first := true
	for from := uint64(1); ; {
		r, err := effect.Perform(p, ops.ReadAll{From: from, Limit: ops.MaxPage})
		if err != nil {
			return w, fmt.Errorf("transfer: read the log from %d: %w", from, err)
		}
		if first {
			w.lastPos, first = r.Head, false
		}
		for _, e := range r.Events {
			if e.Pos > w.lastPos {
				break
			}
			if e.Pos <= pos {
				return w, fmt.Errorf("transfer: the log gives position %d after %d", e.Pos, pos)
			}
			if err := hidden(e.Pos); err != nil {
				return w, err
			}
			if err := plan.visible(e); err != nil {
				return w, err
			}
			pos = e.Pos
			d.event(e)
			w.counts.Events++
			if v.event != nil {
				if err := v.event(e); err != nil {
					return w, err
				}
			}
		}
		next := r.Next
		if next == 0 { // a backend that does not say: gap-free pages
			if len(r.Events) == 0 {
				break
			}
			next = r.Events[len(r.Events)-1].Pos + 1
		}
		if next <= from || next > w.lastPos {
			break
		}
		from = next
	}
	if err := hidden(w.lastPos + 1); err != nil {
		return w, err
	}
	if err := plan.done(); err != nil {
		return w, err
	}
	// Streams in name order: those of the events and hidden positions
	// read, with the heads they give (so the export is one cut of the
	// log), and those with a state but nothing in the cut.
	for _, si := range plan.sorted() {
		head := si.next - 1
		st := exportState(si.state, head)
		if head == 0 && st == (ops.StreamState{}) {
			continue // written after the cut
		}
		w.aged = w.aged || st.MaxAge > 0
		info := ops.StreamInfo{Name: si.name, Head: head}
		d.stream(info)
		if st != (ops.StreamState{}) {
			d.state(si.name, st)
		}
		w.counts.Streams++
		if v.stream != nil {
			if err := v.stream(info, st); err != nil {
				return w, err
			}
		}
	}
	if err := walkKvSnapshots(p, d, &w.counts, v); err != nil {
		return w, err
	}
	return w, nil
}

// walkKvSnapshots reads the kv entries, each key's older kept versions
// before it, and the snapshots, each name's older kept generations before
// its newest, into the digest and v.
func walkKvSnapshots(p *effect.P, d *digester, n *Counts, v *visitor) error {
	kh, err := readKvHistory(p)
	if err != nil {
		return err
	}
	gone := kh.gone
	history := true
	key := func(k string, cur *ops.KvEntry) error {
		if history {
			older, err := kh.older(p, k, cur)
			if errors.Is(err, effect.ErrUnhandled) {
				history = false
			} else if err != nil {
				return err
			}
			for _, o := range older {
				d.kvVersion(o)
				n.KvVersions++
				if v.kvVersion != nil {
					if err := v.kvVersion(o); err != nil {
						return err
					}
				}
			}
		}
		if cur == nil {
			return nil
		}
		d.kv(*cur)
		n.Kv++
		if v.kv != nil {
			return v.kv(*cur)
		}
		return nil
	}
	// Kv entries in key order, and the deleted keys with history among
	// them.
	after := ""
	for {
		r, err := effect.Perform(p, ops.KvList{After: after, Limit: ops.MaxPage})
		if err != nil {
			return fmt.Errorf("transfer: list kv after %q: %w", after, err)
		}
		for i := range r.Entries {
			e := r.Entries[i]
			for len(gone) > 0 && gone[0] < e.Key {
				if err := key(gone[0], nil); err != nil {
					return err
				}
				gone = gone[1:]
			}
			if len(gone) > 0 && gone[0] == e.Key {
				gone = gone[1:]
			}
			if err := key(e.Key, &e); err != nil {
				return err
			}
			after = e.Key
		}
		if !r.More || len(r.Entries) == 0 {
			break
		}
	}
	for _, k := range gone {
		if err := key(k, nil); err != nil {
			return err
		}
	}
	// Snapshots in name order.
	snaps, err := effect.Perform(p, ops.SnapshotNames{})
	if errors.Is(err, effect.ErrUnhandled) {
		return ErrNoSnapshotList
	}
	if err != nil {
		return fmt.Errorf("transfer: list snapshots: %w", err)
	}
	sortStrings(snaps)
	snaps = slices.Compact(snaps) // a name listed once per generation kept
	gens := true
	for _, name := range snaps {
		r, err := effect.Perform(p, ops.SnapshotRead{Name: name})
		if err != nil {
			return fmt.Errorf("transfer: read snapshot %q: %w", name, err)
		}
		if !r.Found {
			continue // removed since it was listed
		}
		if gens && r.Generation > 0 {
			g, err := effect.Perform(p, ops.SnapshotGenerations{Name: name})
			if errors.Is(err, effect.ErrUnhandled) {
				gens = false
			} else if err != nil {
				return fmt.Errorf("transfer: list the generations of snapshot %q: %w", name, err)
			}
			kept := slices.Clone(g.Generations)
			slices.SortFunc(kept, func(a, b ops.SnapshotGeneration) int { return cmp.Compare(a.Generation, b.Generation) })
			for _, k := range kept {
				gen := k.Generation
				if gen >= r.Generation {
					continue
				}
				o, err := effect.Perform(p, ops.SnapshotRead{Name: name, Generation: gen})
				if err != nil {
					return fmt.Errorf("transfer: read generation %d of snapshot %q: %w", gen, name, err)
				}
				if !o.Found {
					continue // dropped since it was listed
				}
				d.generation(o.Snapshot, gen)
				n.Generations++
				if v.snapshot != nil {
					if err := v.snapshot(o.Snapshot, gen, true); err != nil {
						return err
					}
				}
			}
		}
		d.snapshot(r.Snapshot)
		d.newest(name, r.Generation)
		n.Snapshots++
		if v.snapshot != nil {
			if err := v.snapshot(r.Snapshot, r.Generation, false); err != nil {
				return err
			}
		}
	}
	return nil
}

// maxHeldChanges bounds the kv changes a walk holds to answer each key's
// history from them (kvHistory.byKey).
const maxHeldChanges = 1 << 20

// kvHistory is what a walk learnt from the changes the kv history holds
// whole (persist/kv-watch from revision 0): gone, in byte order, the keys
// whose last change is a delete (keys that no longer read but whose
// history a store still answers); and, when the store never dropped a
// version (watching from revision 1 is not compacted) and the changes
// number at most maxHeldChanges, byKey, every key's versions oldest first:
// then they are every version the store keeps, and a key's history needs
// no operation of its own. A deleted key whose every kept version is
// older than the store's compacted revision is not found. A store without
// kv history has none.
type kvHistory struct {
	gone  []string
	byKey map[string][]ops.KvVersion
}

func readKvHistory(p *effect.P) (kvHistory, error) {
	var kh kvHistory
	_, err := effect.Perform(p, ops.KvWatch{From: 1, Limit: 1})
	switch {
	case errors.Is(err, effect.ErrUnhandled):
		return kh, nil
	case errors.Is(err, ops.ErrCompacted):
	case err != nil:
		return kh, fmt.Errorf("transfer: read the kv history: %w", err)
	default:
		kh.byKey = map[string][]ops.KvVersion{}
	}
	last := map[string]bool{}
	held := 0
	for from := uint64(0); ; {
		r, err := effect.Perform(p, ops.KvWatch{From: from, Limit: ops.MaxPage})
		if err != nil {
			return kh, fmt.Errorf("transfer: read the kv history from revision %d: %w", from, err)
		}
		for _, c := range r.Changes {
			last[c.Key] = c.Deleted
			if kh.byKey != nil {
				if held++; held > maxHeldChanges {
					kh.byKey = nil // too many to hold: ask per key
					continue
				}
				if c.Deleted {
					c.Value = nil
				}
				kh.byKey[c.Key] = append(kh.byKey[c.Key], c)
			}
		}
		// A page may hold no change while more follow (a file store
		// reads a bounded run of records per page): read on to the
		// revision.
		if r.Next > r.Revision || r.Next <= from {
			break
		}
		from = r.Next
	}
	for k, del := range last {
		if del {
			kh.gone = append(kh.gone, k)
		}
	}
	sortStrings(kh.gone)
	return kh, nil
}

// older gives a key's kept versions older than its current entry (cur;
// nil for a deleted key, whose versions are all older), oldest first:
// from the changes held, or by reading the key's history.
func (kh *kvHistory) older(p *effect.P, key string, cur *ops.KvEntry) ([]ops.KvVersion, error) {
	if kh.byKey == nil {
		return olderVersions(p, key, cur)
	}
	vs := kh.byKey[key]
	n := len(vs)
	if cur != nil {
		for n > 0 && vs[n-1].Revision >= cur.Revision {
			n--
		}
	} else if n == 0 || !vs[n-1].Deleted {
		return nil, nil
	}
	return vs[:n], nil
}

// olderVersions reads a key's kept versions older than its current entry
// (cur; nil for a deleted key, whose versions are all older), oldest
// first.
func olderVersions(p *effect.P, key string, cur *ops.KvEntry) ([]ops.KvVersion, error) {
	r, err := effect.Perform(p, ops.KvHistory{Key: key})
	if err != nil {
		if errors.Is(err, effect.ErrUnhandled) {
			return nil, err
		}
		return nil, fmt.Errorf("transfer: read the history of key %q: %w", key, err)
	}
	vs := r.Versions
	if cur != nil && len(vs) > 0 && vs[0].Revision == cur.Revision && !vs[0].Deleted {
		vs = vs[1:]
	}
	if cur == nil && (len(vs) == 0 || !vs[0].Deleted) {
		return nil, nil // written again since the history was read
	}
	out := make([]ops.KvVersion, 0, len(vs))
	for i := len(vs) - 1; i >= 0; i-- {
		if cur != nil && vs[i].Revision >= cur.Revision {
			continue
		}
		o := vs[i]
		o.Key = key
		if o.Deleted {
			o.Value = nil
		}
		out = append(out, o)
	}
	return out, nil
}

type walked struct {
	counts  Counts
	lastPos uint64
	aged    bool // some stream has a max-age: what is visible depends on the time
}

func sortStrings(s []string) { slices.Sort(s) }
