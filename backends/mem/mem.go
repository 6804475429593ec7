package mem

import (
	crand "crypto/rand"
	"fmt"
	"math/rand/v2"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/google/uuid"

	"rose-ash.com/persist/backends/internal/idindex"
	"rose-ash.com/persist/effect"
	"rose-ash.com/persist/ops"
)

// Store is an in-memory persist backend.
type Store struct {
	clock func() time.Time
	ids   func() uuid.UUID

	mu      sync.RWMutex
	closed  bool
	log     chunked[record] // the global log: log.at(pos)
	slab    slab            // holds the events' data
	idIndex *idindex.Index  // (stream, ID) to position: the unique-ID rule
	streams map[string]*stream
	names   []string // stream names, sorted
	kv      map[string]ops.KvEntry
	keys    []string // kv keys, sorted
	kvRev   uint64
	hist    kvHistory // kept versions of every key, for persist/kv-history and kv-watch
	snaps   map[string]*snapGens
	keep    int           // kv versions kept per key
	limited bool          // some stream has metadata: reads filter what it hides
	changed chan struct{} // made by a waiter, closed by the next commit or Close
}

// chunkBits sets the size of the chunks of the store's growing slices: they
// grow by whole chunks, so an append never copies what came before it.
const chunkBits = 12

// chunked is an append-only slice in fixed-size chunks; its elements are
// numbered from 1.
type chunked[T any] struct {
	chunks [][]T
	n      uint64
}

func (l *chunked[T]) len() uint64 { return l.n }

// at gives element i, 1 <= i <= len().
func (l *chunked[T]) at(i uint64) *T {
	i--
	return &l.chunks[i>>chunkBits][i&(1<<chunkBits-1)]
}

func (l *chunked[T]) add(v T) {
	if l.n&(1<<chunkBits-1) == 0 {
		l.chunks = append(l.chunks, make([]T, 0, 1<<chunkBits))
	}
	c := &l.chunks[len(l.chunks)-1]
	*c = append(*c, v)
	l.n++
}

type stream struct {
	name   string
	key    uint64          // the name's hash for the ID index
	pos    chunked[uint64] // pos.at(seq) is the event's global position
	state  ops.StreamState // metadata and deletion; zero when none was set
	listed bool            // in Store.names: it holds an event
}

// record is a stored event, compactly: its stream's name comes from the
// stream, its position from where it stands in the log.
type record struct {
	id   uuid.UUID
	st   *stream
	seq  uint64
	typ  string
	at   int64 // Unix nanoseconds
	data []byte
}

// event gives r as the event at position pos, with its own copy of the data.
func (r *record) event(pos uint64) ops.Event {
	return r.eventWith(pos, clone(r.data))
}

// eventWith is the event with data in place of a copy of its own.
func (r *record) eventWith(pos uint64, data []byte) ops.Event {
	return ops.Event{
		ID: r.id, Stream: r.st.name, Seq: r.seq, Pos: pos, Type: r.typ,
		At: time.Unix(0, r.at).UTC(), Data: data,
	}
}

// fill answers a read given a page (ops.Read.Page): the events at the
// positions pos(0), pos(1), ... pos(n-1), their data copied into the page.
func (s *Store) fill(pg *ops.Page, n int, pos func(i int) uint64) []ops.Event {
	pg.Reset()
	for i := range n {
		p := pos(i)
		r := s.log.at(p)
		pg.Add(r.eventWith(p, pg.Clone(r.data)))
	}
	return pg.Events()
}

// slabBytes is the size of the slabs event data is kept in: one allocation
// holds the data of many events, which the store never frees one by one.
const slabBytes = 64 << 10

type slab struct{ buf []byte }

// keep copies b into the slab and returns the copy, capped so that an
// append to it cannot reach the next one. Empty data is kept as nil.
func (s *slab) keep(b []byte) []byte {
	switch {
	case len(b) == 0:
		return nil
	case len(b) > slabBytes/4:
		return clone(b)
	case cap(s.buf)-len(s.buf) < len(b):
		s.buf = make([]byte, 0, slabBytes)
	}
	start := len(s.buf)
	s.buf = append(s.buf, b...)
	return s.buf[start:len(s.buf):len(s.buf)]
}

var _ ops.Backend = (*Store)(nil)

// Option configures a Store.
type Option func(*Store)

// WithClock sets the clock that stamps events and answers persist/now.
func WithClock(now func() time.Time) Option { return func(s *Store) { s.clock = now } }

// WithIDs sets the source of IDs for events appended without one.
func WithIDs(next func() uuid.UUID) Option { return func(s *Store) { s.ids = next } }

// randomIDs gives version 4 UUIDs from a ChaCha8 stream seeded once from
// the operating system's random source: as unpredictable as uuid.New, without
// a system call per event. The store calls it with its lock held.
func randomIDs() func() uuid.UUID {
	var seed [32]byte
	if _, err := crand.Read(seed[:]); err != nil {
		panic(fmt.Sprintf("mem: seed event IDs: %v", err))
	}
	src := rand.NewChaCha8(seed)
	return func() uuid.UUID {
		var id uuid.UUID
		_, _ = src.Read(id[:])
		id[6] = id[6]&0x0f | 0x40 // version 4
		id[8] = id[8]&0x3f | 0x80 // RFC 4122 variant
		return id
	}
}

// New returns an empty store.
func New(opts ...Option) *Store {
	var seed [16]byte
	if _, err := crand.Read(seed[:]); err != nil {
		panic(fmt.Sprintf("mem: seed the ID index: %v", err))
	}
	s := &Store{
		idIndex: idindex.New(seed),
		clock:   time.Now,
		ids:     randomIDs(),
		streams: make(map[string]*stream),
		kv:      make(map[string]ops.KvEntry),
		snaps:   make(map[string]*snapGens),
		keep:    ops.DefaultKvHistory,
	}
	for _, o := range opts {
		o(s)
	}
	return s
}

// Close releases the store; every later operation returns ops.ErrClosed.
func (s *Store) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.closed {
		s.closed = true
		s.wake()
	}
	return nil
}

// Handle answers the operations of package ops.
func (s *Store) Handle(p *effect.P, e effect.Effect) (any, error) {
	switch op := e.(type) {
	case ops.KvGet:
		return s.KvGet(op)
	case ops.Append:
		return s.append(op)
	case ops.Read:
		return s.Read(op)
	case ops.Commit:
		return s.commit(op)
	case ops.KvPut, ops.KvDelete:
		r, err := s.commit(op)
		if err != nil {
			return nil, err
		}
		return r.Kv[0], nil
	case ops.ReadAll:
		return s.ReadAll(op)
	case ops.Head:
		return s.Head(op)
	case ops.Streams:
		return s.Streams(op)
	case ops.Wait:
		return s.Wait(p, op)
	case ops.KvList:
		return s.KvList(op)
	case ops.SnapshotRead:
		return s.SnapshotRead(op)
	case ops.SnapshotWrite:
		return s.SnapshotWrite(op)
	case ops.SnapshotNames:
		return s.SnapshotNames()
	case ops.SnapshotGenerations:
		return s.SnapshotGenerations(op)
	case ops.StreamMetaRead:
		return s.StreamMetaRead(op)
	case ops.StreamMetaWrite:
		return s.StreamMetaWrite(op)
	case ops.StreamDelete:
		return s.StreamDelete(op)
	case ops.KvHistory:
		return s.KvHistory(op)
	case ops.KvWatch:
		return s.KvWatch(op)
	case ops.KvWait:
		return s.KvWait(p, op)
	case ops.Stat:
		return s.Stat()
	case ops.Now:
		if err := s.open(); err != nil {
			return nil, err
		}
		return s.clock(), nil
	}
	return nil, effect.ErrUnhandled
}

func (s *Store) open() error {
	s.mu.RLock()
	defer s.mu.RUnlock()
	if s.closed {
		return ops.ErrClosed
	}
	return nil
}

func clone(b []byte) []byte {
	if b == nil {
		return nil
	}
	return append([]byte(nil), b...)
}

// view shows the state to ops.Check; the caller holds mu. at, when set,
// holds the time the commit is stamped with, read from the clock the
// first time Check asks for it (only streams with a max-age make it ask).
type view struct {
	s  *Store
	at *time.Time
}

var _ ops.StreamView = view{}

func (v view) StreamState(name string) (ops.StreamState, error) {
	if st := v.s.streams[name]; st != nil {
		return st.state, nil
	}
	return ops.StreamState{}, nil
}

func (v view) EventTime(name string, seq uint64) (time.Time, error) {
	return time.Unix(0, v.s.log.at(*v.s.streams[name].pos.at(seq)).at).UTC(), nil
}

func (v view) Now() time.Time {
	if v.at == nil {
		return v.s.clock().UTC()
	}
	if v.at.IsZero() {
		*v.at = v.s.clock().UTC()
	}
	return *v.at
}

func (v view) Head(name string) uint64 {
	if st := v.s.streams[name]; st != nil {
		return st.pos.len()
	}
	return 0
}

func (v view) EventAt(name string, seq uint64) (uuid.UUID, uint64, error) {
	pos := *v.s.streams[name].pos.at(seq)
	return v.s.log.at(pos).id, pos, nil
}

// FindID looks id up in the index and confirms each hit against the
// stored event, so a fingerprint collision never answers wrong. A stream
// may store an ID more than once when retention hid the older event (a
// hidden ID is free again), and only the newest can be visible, so every
// hit is looked at and the newest answers.
func (v view) FindID(name string, id uuid.UUID) (uint64, uint64, error) {
	st := v.s.streams[name]
	if st == nil || v.s.idIndex == nil { // nil only in a memory benchmark's baseline
		return 0, 0, nil
	}
	var seq, pos uint64
	_, err := v.s.idIndex.Lookup(v.s.idIndex.Hash(st.key, id), func(p uint64) (bool, error) {
		r := v.s.log.at(p)
		if r.st == st && r.id == id && r.seq > seq {
			seq, pos = r.seq, p
		}
		return false, nil
	})
	return seq, pos, err
}

func (v view) KvRevision(key string) uint64 { return v.s.kv[key].Revision }

// Commit applies c atomically: see ops.Commit.
func (s *Store) Commit(c ops.Commit) (ops.CommitResult, error) { return s.commit(c) }

// commit applies a commit-shaped operation atomically.
func (s *Store) commit(e effect.Effect) (ops.CommitResult, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return ops.CommitResult{}, ops.ErrClosed
	}
	var at time.Time
	c, plan, err := ops.CheckOp(e, view{s, &at})
	if err != nil {
		return ops.CommitResult{}, err
	}
	res := ops.CommitResult{Appends: make([]ops.AppendResult, len(c.Appends)), Kv: make([]ops.KvResult, len(c.Kv))}
	if !plan.Writes {
		for i, ap := range plan.Appends {
			res.Appends[i] = ap.Result
		}
		return res, nil
	}
	if at.IsZero() {
		at = s.clock().UTC()
	}
	for i, a := range c.Appends {
		res.Appends[i] = s.write(a, plan.Appends[i], at)
	}
	if len(c.Kv) > 0 {
		s.kvRev++
		res.Revision = s.kvRev
		for i, k := range c.Kv {
			_, existed := s.kv[k.Key]
			res.Kv[i] = ops.KvResult{Key: k.Key, Revision: s.kvRev, Existed: existed}
			if k.Delete {
				if existed {
					delete(s.kv, k.Key)
					s.keys = removeSorted(s.keys, k.Key)
					s.hist.add(ops.KvVersion{Key: k.Key, Revision: s.kvRev, Deleted: true}, s.keep)
				}
				continue
			}
			if !existed {
				s.keys = insertSorted(s.keys, k.Key)
			}
			v := clone(k.Value)
			s.kv[k.Key] = ops.KvEntry{Key: k.Key, Value: v, Revision: s.kvRev}
			s.hist.add(ops.KvVersion{Key: k.Key, Revision: s.kvRev, Value: v}, s.keep)
		}
	}
	s.wake()
	return res, nil
}

// append answers persist/append: a one-part commit without the commit.
func (s *Store) append(a ops.Append) (ops.AppendResult, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return ops.AppendResult{}, ops.ErrClosed
	}
	var at time.Time
	ap, err := ops.CheckAppend(a, view{s, &at})
	if err != nil || ap.Retry {
		return ap.Result, err
	}
	if at.IsZero() {
		at = s.clock().UTC()
	}
	r := s.write(a, ap, at)
	s.wake()
	return r, nil
}

// write stores the events of an append as its plan says, stamped at, and
// returns its result; the caller holds mu for writing.
func (s *Store) write(a ops.Append, ap ops.AppendPlan, at time.Time) ops.AppendResult {
	if ap.Retry {
		return ap.Result
	}
	st := s.stream(a.Stream)
	if !st.listed {
		st.listed = true
		s.names = insertSorted(s.names, a.Stream)
	}
	r := ap.Result
	nanos := at.UnixNano()
	for j, ed := range a.Events {
		id := ed.ID
		if id == uuid.Nil {
			id = s.ids()
		}
		pos := s.log.len() + 1
		s.log.add(record{
			id: id, st: st, seq: r.FirstSeq + uint64(j),
			typ: ed.Type, at: nanos, data: s.slab.keep(ed.Data),
		})
		st.pos.add(pos)
		if s.idIndex != nil {
			// Positions rise by one per event, so Add can not fail.
			_ = s.idIndex.Add(s.idIndex.Hash(st.key, id), pos)
		}
		if j == 0 {
			r.FirstPos = pos
		}
		r.LastPos = pos
	}
	return r
}

// stream gives the named stream, made empty when absent; the caller
// holds mu for writing.
func (s *Store) stream(name string) *stream {
	st := s.streams[name]
	if st == nil {
		st = &stream{name: name}
		if s.idIndex != nil {
			st.key = s.idIndex.StreamKey(name)
		}
		s.streams[name] = st
	}
	return st
}

// wake releases every waiter; the caller holds mu for writing.
func (s *Store) wake() {
	if s.changed != nil {
		close(s.changed)
		s.changed = nil
	}
}

func insertSorted(xs []string, x string) []string {
	i := sort.SearchStrings(xs, x)
	xs = append(xs, "")
	copy(xs[i+1:], xs[i:])
	xs[i] = x
	return xs
}

func removeSorted(xs []string, x string) []string {
	i := sort.SearchStrings(xs, x)
	if i < len(xs) && xs[i] == x {
		xs = append(xs[:i], xs[i+1:]...)
	}
	return xs
}

// Read answers persist/read.
func (s *Store) Read(op ops.Read) (ops.ReadResult, error) {
	if err := op.Validate(); err != nil {
		return ops.ReadResult{}, err
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	if s.closed {
		return ops.ReadResult{}, ops.ErrClosed
	}
	from := max(op.From, 1)
	st := s.streams[op.Stream]
	if st == nil {
		return ops.ReadResult{Next: from}, nil
	}
	head := st.pos.len()
	if st.state != (ops.StreamState{}) {
		return s.readLimited(op, st, from), nil
	}
	res := ops.ReadResult{Head: head, Next: from}
	if from > head {
		return res, nil
	}
	n := min(head-from+1, uint64(ops.PageLimit(op.Limit)))
	res.Next = from + n
	if op.Page != nil {
		res.Events = s.fill(op.Page, int(n), func(i int) uint64 { return *st.pos.at(from + uint64(i)) })
		return res, nil
	}
	res.Events = make([]ops.Event, n)
	for i := range res.Events {
		pos := *st.pos.at(from + uint64(i))
		res.Events[i] = s.log.at(pos).event(pos)
	}
	return res, nil
}

// ReadAll answers persist/read-all.
func (s *Store) ReadAll(op ops.ReadAll) (ops.ReadAllResult, error) {
	if err := op.Validate(); err != nil {
		return ops.ReadAllResult{}, err
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	if s.closed {
		return ops.ReadAllResult{}, ops.ErrClosed
	}
	last := s.log.len()
	from := max(op.From, 1)
	if s.limited {
		return s.readAllLimited(op, from), nil
	}
	res := ops.ReadAllResult{Head: last, Next: from}
	if from > last {
		return res, nil
	}
	n := min(last-from+1, uint64(ops.PageLimit(op.Limit)))
	res.Next = from + n
	if op.Page != nil {
		res.Events = s.fill(op.Page, int(n), func(i int) uint64 { return from + uint64(i) })
		return res, nil
	}
	res.Events = make([]ops.Event, n)
	for i := range res.Events {
		pos := from + uint64(i)
		res.Events[i] = s.log.at(pos).event(pos)
	}
	return res, nil
}

// Head answers persist/head.
func (s *Store) Head(op ops.Head) (uint64, error) {
	if err := op.Validate(); err != nil {
		return 0, err
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	if s.closed {
		return 0, ops.ErrClosed
	}
	return view{s: s}.Head(op.Stream), nil
}

// Streams answers persist/streams.
func (s *Store) Streams(op ops.Streams) (ops.StreamsResult, error) {
	if err := op.Validate(); err != nil {
		return ops.StreamsResult{}, err
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	if s.closed {
		return ops.StreamsResult{}, ops.ErrClosed
	}
	var res ops.StreamsResult
	var keep func(string) bool
	names := s.names
	switch {
	case op.Deleted && s.limited:
		names = s.stateNames()
	case s.limited:
		keep = func(name string) bool {
			st := s.streams[name]
			return !st.state.Absent(st.pos.len())
		}
	}
	for _, name := range page(names, op.Prefix, op.After, op.Limit, &res.More, keep) {
		res.Streams = append(res.Streams, ops.StreamInfo{Name: name, Head: s.streams[name].pos.len()})
	}
	return res, nil
}

// page returns the sorted names with prefix after after that keep (nil:
// all) accepts, at most limit, and sets more when others follow.
func page(sorted []string, prefix, after string, limit int, more *bool, keep func(string) bool) []string {
	start := max(prefix, after)
	i := sort.SearchStrings(sorted, start)
	if i < len(sorted) && sorted[i] == after {
		i++
	}
	n := ops.PageLimit(limit)
	var out []string
	for ; i < len(sorted) && strings.HasPrefix(sorted[i], prefix); i++ {
		if keep != nil && !keep(sorted[i]) {
			continue
		}
		if len(out) == n {
			*more = true
			break
		}
		out = append(out, sorted[i])
	}
	return out
}

// Wait answers persist/wait.
func (s *Store) Wait(p *effect.P, op ops.Wait) (ops.WaitResult, error) {
	if err := op.Validate(); err != nil {
		return ops.WaitResult{}, err
	}
	return s.waitFor(p, op.Timeout, op.After, func() uint64 {
		if op.Stream == "" {
			return s.log.len()
		}
		return view{s: s}.Head(op.Stream)
	})
}

// KvGet answers persist/kv-get.
func (s *Store) KvGet(op ops.KvGet) (*ops.KvEntry, error) {
	if err := op.Validate(); err != nil {
		return nil, err
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	if s.closed {
		return nil, ops.ErrClosed
	}
	e, ok := s.kv[op.Key]
	if !ok {
		return nil, nil
	}
	e.Value = clone(e.Value)
	return &e, nil
}

// KvList answers persist/kv-list.
func (s *Store) KvList(op ops.KvList) (ops.KvListResult, error) {
	if err := op.Validate(); err != nil {
		return ops.KvListResult{}, err
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	if s.closed {
		return ops.KvListResult{}, ops.ErrClosed
	}
	var res ops.KvListResult
	for _, k := range page(s.keys, op.Prefix, op.After, op.Limit, &res.More, nil) {
		e := s.kv[k]
		e.Value = clone(e.Value)
		res.Entries = append(res.Entries, e)
	}
	return res, nil
}

// SnapshotRead answers persist/snapshot-read.
func (s *Store) SnapshotRead(op ops.SnapshotRead) (ops.SnapshotResult, error) {
	if err := op.Validate(); err != nil {
		return ops.SnapshotResult{}, err
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	if s.closed {
		return ops.SnapshotResult{}, ops.ErrClosed
	}
	g, ok := s.snaps[op.Name].find(op.Generation)
	if !ok {
		return ops.SnapshotResult{Snapshot: ops.Snapshot{Name: op.Name}}, nil
	}
	snap := g.snap
	snap.Value = clone(snap.Value)
	return ops.SnapshotResult{Snapshot: snap, Found: true, Generation: g.gen}, nil
}

// SnapshotWrite answers persist/snapshot-write.
func (s *Store) SnapshotWrite(op ops.SnapshotWrite) (struct{}, error) {
	if err := op.Validate(); err != nil {
		return struct{}{}, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return struct{}{}, ops.ErrClosed
	}
	snap := op.Snapshot
	snap.Value = clone(snap.Value)
	gs := s.snaps[snap.Name]
	if gs == nil {
		gs = &snapGens{}
		s.snaps[snap.Name] = gs
	}
	gs.add(snap, max(op.Keep, 1))
	return struct{}{}, nil
}
