package transfer

import (
	"container/heap"
	"errors"
	"fmt"
	"math"
	"sort"

	"rose-ash.com/persist/effect"
	"rose-ash.com/persist/ops"
)

// streamInfo is what a walk knows of a stream: its stored state, how
// many of its first seqs are hidden and where its first visible event
// is, and the seq its next event or hidden position in the walk has.
type streamInfo struct {
	name     string
	head     uint64 // stored head when listed
	state    ops.StreamState
	hidden   uint64 // hidden seqs not yet given a position
	deadline uint64 // position of its first visible event; MaxUint64 when none
	next     uint64
	index    int // in the plan's heap; -1 when not in it
}

// walkStreams lists every stream, deleted ones included (ops.Streams
// Deleted), with its state and hidden prefix. A backend without stream
// metadata (it answers persist/stream-meta-read with effect.ErrUnhandled)
// has no hidden events: its streams are listed without reading more.
func walkStreams(p *effect.P) (map[string]*streamInfo, error) {
	out := map[string]*streamInfo{}
	return out, relist(p, out)
}

// relist lists every stream into known, keeping what a walk already
// placed of a stream it knows (its next seq) and reading its state again,
// and its hidden seqs from its next seq on: a live store's limits, and so
// its hidden prefixes, move while it is read.
func relist(p *effect.P, known map[string]*streamInfo) error {
	meta := true
	for after := ""; ; {
		r, err := effect.Perform(p, ops.Streams{After: after, Limit: ops.MaxPage, Deleted: true})
		if err != nil {
			return fmt.Errorf("transfer: list streams after %q: %w", after, err)
		}
		for _, info := range r.Streams {
			si := known[info.Name]
			if si == nil {
				si = &streamInfo{name: info.Name, next: 1, index: -1}
				known[info.Name] = si
			}
			si.hidden, si.deadline = 0, math.MaxUint64
			after = info.Name
			if !meta {
				continue
			}
			m, err := effect.Perform(p, ops.StreamMetaRead{Stream: info.Name})
			if errors.Is(err, effect.ErrUnhandled) {
				meta = false
				continue
			}
			if err != nil {
				return fmt.Errorf("transfer: read the metadata of %q: %w", info.Name, err)
			}
			si.state, si.head = m.StreamState, m.Head
			if si.state == (ops.StreamState{}) {
				continue
			}
			if err := firstVisible(p, si, si.next); err != nil {
				return err
			}
		}
		if !r.More || len(r.Streams) == 0 {
			return nil
		}
	}
}

// firstVisible finds the first visible event of a stream with a state
// from seq start on: the seqs from start before it are hidden.
func firstVisible(p *effect.P, si *streamInfo, start uint64) error {
	si.hidden, si.deadline = 0, math.MaxUint64
	if start > si.head {
		return nil
	}
	si.hidden = si.head + 1 - start
	for from := start; from <= si.head; {
		r, err := effect.Perform(p, ops.Read{Stream: si.name, From: from, Limit: 1})
		if err != nil {
			return fmt.Errorf("transfer: read %q from %d: %w", si.name, from, err)
		}
		if len(r.Events) > 0 {
			si.hidden, si.deadline = r.Events[0].Seq-start, r.Events[0].Pos
			return nil
		}
		if r.Next <= from {
			return nil
		}
		from = r.Next
	}
	return nil
}

// exportState is a stream's state as an export carries it: Deleted says
// whether the stream reads as absent, not whether a soft delete was ever
// made (an append since undid it), since only that has a meaning.
func exportState(st ops.StreamState, head uint64) ops.StreamState {
	st.Deleted = st.Absent(head)
	return st
}

// hiddenPlan gives each hidden position a stream. No operation serves a
// hidden event, so which stream held the event at a hidden position is
// not known; what is known is how many seqs each stream hides (its hidden
// prefix: every limit hides a prefix of a stream) and where its first
// visible event is, which the hidden ones must precede. The plan fills
// each hidden position, in order, with the stream whose first visible
// event comes soonest (earliest deadline first, ties by name), which
// finds an assignment whenever one exists. An import makes placeholder
// events there, hidden again by the same limits, so that every visible
// event keeps its position and seq; the digest covers the assignment,
// a function of what is visible, so source and target digest alike.
//
// A max-age hides more as the walk goes on: the event that was a stream's
// first visible one when it was listed may be hidden by the time the log
// is read. Its position then shows up as hidden; the plan knows whose it
// is (the stream's deadline), gives it to that stream and reads where the
// stream's first visible event now is.
type hiddenPlan struct {
	p          *effect.P
	streams    map[string]*streamInfo
	h          planHeap
	byDeadline map[uint64]*streamInfo
}

func newHiddenPlan(p *effect.P, streams map[string]*streamInfo) *hiddenPlan {
	pl := &hiddenPlan{p: p, streams: streams, byDeadline: map[uint64]*streamInfo{}}
	for _, si := range streams {
		pl.add(si)
	}
	return pl
}

// refresh reads every stream's state and hidden prefix again (relist)
// and plans the rest of the walk with them: for a store that took writes,
// limits or deletes since its streams were listed.
func (pl *hiddenPlan) refresh() error {
	for _, si := range pl.h {
		si.index = -1
	}
	pl.h, pl.byDeadline = pl.h[:0], map[uint64]*streamInfo{}
	if err := relist(pl.p, pl.streams); err != nil {
		return err
	}
	for _, si := range pl.streams {
		pl.add(si)
	}
	return nil
}

// add puts a stream with hidden seqs in the heap, and notes its deadline.
func (pl *hiddenPlan) add(si *streamInfo) {
	if si.hidden > 0 {
		heap.Push(&pl.h, si)
	}
	if si.deadline != math.MaxUint64 {
		pl.byDeadline[si.deadline] = si
	}
}

// take gives the stream of hidden position pos.
func (pl *hiddenPlan) take(pos uint64) (string, error) {
	if si := pl.byDeadline[pos]; si != nil {
		// The stream's first visible event when listed is hidden now.
		delete(pl.byDeadline, pos)
		if si.hidden > 0 {
			return "", fmt.Errorf("transfer: stream %q hides %d more seqs than fit before its first visible event at position %d", si.name, si.hidden, si.deadline)
		}
		si.next++
		if err := firstVisible(pl.p, si, si.next); err != nil {
			return "", err
		}
		pl.add(si)
		return si.name, nil
	}
	if len(pl.h) == 0 {
		return "", fmt.Errorf("transfer: position %d is hidden, but no stream has hidden seqs left: the store changed during the walk, or hides events that are not a prefix of their stream", pos)
	}
	si := pl.h[0]
	if si.deadline <= pos {
		return "", fmt.Errorf("transfer: stream %q hides %d more seqs than fit before its first visible event at position %d", si.name, si.hidden, si.deadline)
	}
	si.hidden--
	si.next++
	if si.hidden == 0 {
		heap.Pop(&pl.h)
	}
	return si.name, nil
}

// visible accounts for a visible event: it must be the next seq of its
// stream, after all of the stream's hidden prefix.
func (pl *hiddenPlan) visible(e ops.Event) error {
	si := pl.streams[e.Stream]
	if si == nil { // written after the listing
		si = &streamInfo{name: e.Stream, next: 1, deadline: math.MaxUint64, index: -1}
		pl.streams[e.Stream] = si
	}
	if si.deadline == e.Pos {
		delete(pl.byDeadline, e.Pos)
	}
	if si.hidden > 0 && e.Seq == si.next && si.index >= 0 {
		// The page was read before the stream's first visible event was
		// last looked up, and the stream hid more in between (a max-age
		// passing, or a max-count under new writes of a live store): the
		// page's older view holds, and the hidden prefix is one shorter.
		si.hidden--
		if si.hidden == 0 {
			heap.Remove(&pl.h, si.index)
		}
		si.next++
		return nil
	}
	if si.hidden > 0 || e.Seq != si.next {
		return fmt.Errorf("transfer: stream %q shows seq %d where seq %d comes next: it hides events that are not a prefix of it (a max-age over times that step back), or it changed during the walk; export it again", e.Stream, e.Seq, si.next)
	}
	si.next++
	return nil
}

// done checks that every hidden seq got a position.
func (pl *hiddenPlan) done() error {
	if len(pl.h) > 0 {
		si := pl.h[0]
		return fmt.Errorf("transfer: stream %q hides %d seqs the log has no position for: the store changed during the walk", si.name, si.hidden)
	}
	return nil
}

// sorted gives the streams in name order.
func (pl *hiddenPlan) sorted() []*streamInfo {
	out := make([]*streamInfo, 0, len(pl.streams))
	for _, si := range pl.streams {
		out = append(out, si)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].name < out[j].name })
	return out
}

// planHeap orders streams by deadline, then name.
type planHeap []*streamInfo

func (h planHeap) Len() int { return len(h) }
func (h planHeap) Less(i, j int) bool {
	if h[i].deadline != h[j].deadline {
		return h[i].deadline < h[j].deadline
	}
	return h[i].name < h[j].name
}
func (h planHeap) Swap(i, j int) {
	h[i], h[j] = h[j], h[i]
	h[i].index, h[j].index = i, j
}
func (h *planHeap) Push(x any) {
	si := x.(*streamInfo)
	si.index = len(*h)
	*h = append(*h, si)
}
func (h *planHeap) Pop() any {
	old := *h
	si := old[len(old)-1]
	old[len(old)-1] = nil
	si.index = -1
	*h = old[:len(old)-1]
	return si
}
