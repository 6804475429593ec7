package transfer

import (
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
}

// visitor receives a store's content in export order.
type visitor struct {
	event    func(ops.Event) error
	hidden   func(pos uint64, stream string) error
	stream   func(ops.StreamInfo, ops.StreamState) error
	kv       func(ops.KvEntry) error
	snapshot func(ops.Snapshot) error
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
	// Kv entries in key order.
	after := ""
	for {
		r, err := effect.Perform(p, ops.KvList{After: after, Limit: ops.MaxPage})
		if err != nil {
			return w, fmt.Errorf("transfer: list kv after %q: %w", after, err)
		}
		for _, e := range r.Entries {
			d.kv(e)
			w.counts.Kv++
			if v.kv != nil {
				if err := v.kv(e); err != nil {
					return w, err
				}
			}
			after = e.Key
		}
		if !r.More || len(r.Entries) == 0 {
			break
		}
	}
	// Snapshots in name order.
	snaps, err := effect.Perform(p, ops.SnapshotNames{})
	if errors.Is(err, effect.ErrUnhandled) {
		return w, ErrNoSnapshotList
	}
	if err != nil {
		return w, fmt.Errorf("transfer: list snapshots: %w", err)
	}
	sortStrings(snaps)
	for _, n := range snaps {
		r, err := effect.Perform(p, ops.SnapshotRead{Name: n})
		if err != nil {
			return w, fmt.Errorf("transfer: read snapshot %q: %w", n, err)
		}
		if !r.Found {
			continue // removed since it was listed
		}
		d.snapshot(r.Snapshot)
		w.counts.Snapshots++
		if v.snapshot != nil {
			if err := v.snapshot(r.Snapshot); err != nil {
				return w, err
			}
		}
	}
	return w, nil
}

type walked struct {
	counts  Counts
	lastPos uint64
	aged    bool // some stream has a max-age: what is visible depends on the time
}

func sortStrings(s []string) { slices.Sort(s) }
