package transfer

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"hash"
	"io"
	"time"

	"github.com/google/uuid"

	"rose-ash.com/persist/ops"
)

// Format names and version: see the package doc.
const (
	FormatName    = "persist-export"
	FormatVersion = 3
)

// maxLine bounds one line of an export: the largest record is a snapshot
// of ops.MaxSnapshotBytes, base64 encoded, with its fields.
const maxLine = ops.MaxSnapshotBytes/3*4 + 4<<10

var (
	// ErrFormat matches an export that is not well formed: bad JSON, a
	// record out of order, a count or digest that does not match.
	ErrFormat = errors.New("transfer: malformed export")
	// ErrTruncated matches an export that ends before its trailer.
	ErrTruncated = errors.New("transfer: export is truncated (no trailer)")
	// ErrNewerVersion matches an export of a format version newer than
	// this package reads.
	ErrNewerVersion = errors.New("transfer: export format is newer than this persist reads")
)

// FormatError is an export that does not decode: Line is the 1-based line
// of the file where it went wrong.
type FormatError struct {
	Line   int
	Reason string
	Err    error // ErrFormat, ErrTruncated or ErrNewerVersion
}

func (e *FormatError) Error() string {
	return fmt.Sprintf("%v: line %d: %s", e.Err, e.Line, e.Reason)
}

func (e *FormatError) Unwrap() error { return e.Err }

// header is the first line.
type header struct {
	Format  string `json:"format"`
	Version int    `json:"version"`
}

// record is every line after the header: Kind says which fields it has.
type record struct {
	Kind string `json:"kind"`
	// event
	Pos    uint64     `json:"pos,omitempty"`
	Stream string     `json:"stream,omitempty"`
	Seq    uint64     `json:"seq,omitempty"`
	ID     *uuid.UUID `json:"id,omitempty"`
	At     string     `json:"at,omitempty"`
	Type   *string    `json:"type,omitempty"`
	Data   *[]byte    `json:"data,omitempty"`
	// stream, snapshot
	Name string `json:"name,omitempty"`
	Head uint64 `json:"head,omitempty"`
	// stream, version 2: its state, when it has one
	MaxCount       uint64 `json:"max-count,omitempty"`
	MaxAgeNanos    int64  `json:"max-age-ns,omitempty"`
	TruncateBefore uint64 `json:"truncate-before,omitempty"`
	Deleted        bool   `json:"deleted,omitempty"`
	Tombstone      bool   `json:"tombstone,omitempty"`
	// kv
	Key      *string `json:"key,omitempty"`
	Value    *[]byte `json:"value,omitempty"`
	Revision uint64  `json:"revision,omitempty"`
	// snapshot
	Version *uint64 `json:"version,omitempty"`
	// snapshot, snapshot-generation (version 3)
	Generation uint64 `json:"generation,omitempty"`
	// end
	Counts  *Counts `json:"counts,omitempty"`
	LastPos *uint64 `json:"last-pos,omitempty"`
	Digest  string  `json:"digest,omitempty"`
	SHA256  string  `json:"sha256,omitempty"`
}

// Section order of the records.
const (
	secEvent = iota
	secStream
	secKv
	secSnapshot
	secEnd
)

var kindSection = map[string]int{"event": secEvent, "hidden": secEvent, "stream": secStream, "kv": secKv, "kv-version": secKv,
	"snapshot": secSnapshot, "snapshot-generation": secSnapshot, "end": secEnd}

// encoder writes an export, hashing every byte before the trailer.
type encoder struct {
	w   *bufio.Writer
	h   hash.Hash
	d   *digester
	n   Counts
	pos uint64
}

func newEncoder(w io.Writer) (*encoder, error) {
	e := &encoder{w: bufio.NewWriterSize(w, 256<<10), h: sha256.New()}
	if err := e.line(header{Format: FormatName, Version: FormatVersion}); err != nil {
		return nil, err
	}
	return e, nil
}

func (e *encoder) line(v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Errorf("transfer: encode: %w", err)
	}
	b = append(b, '\n')
	e.h.Write(b)
	if _, err := e.w.Write(b); err != nil {
		return fmt.Errorf("transfer: write export: %w", err)
	}
	return nil
}

func eventRecord(ev ops.Event) record {
	id, typ, data := ev.ID, ev.Type, ev.Data
	if data == nil {
		data = []byte{}
	}
	return record{Kind: "event", Pos: ev.Pos, Stream: ev.Stream, Seq: ev.Seq, ID: &id,
		At: ev.At.UTC().Format(time.RFC3339Nano), Type: &typ, Data: &data}
}

func (e *encoder) event(ev ops.Event) error {
	e.n.Events++
	e.pos = ev.Pos
	return e.line(eventRecord(ev))
}

func (e *encoder) hidden(pos uint64, stream string) error {
	e.n.Hidden++
	e.pos = pos
	return e.line(record{Kind: "hidden", Pos: pos, Stream: stream})
}

func (e *encoder) stream(s ops.StreamInfo, st ops.StreamState) error {
	e.n.Streams++
	return e.line(record{Kind: "stream", Name: s.Name, Head: s.Head,
		MaxCount: st.MaxCount, MaxAgeNanos: int64(st.MaxAge), TruncateBefore: st.TruncateBefore,
		Deleted: st.Deleted, Tombstone: st.Tombstone})
}

func (e *encoder) kv(k ops.KvEntry) error {
	e.n.Kv++
	key, val := k.Key, k.Value
	if val == nil {
		val = []byte{}
	}
	return e.line(record{Kind: "kv", Key: &key, Value: &val, Revision: k.Revision})
}

// kvVersion writes an older kept version of a key (version 3).
func (e *encoder) kvVersion(v ops.KvVersion) error {
	e.n.KvVersions++
	key := v.Key
	r := record{Kind: "kv-version", Key: &key, Revision: v.Revision, Deleted: v.Deleted}
	if !v.Deleted {
		val := v.Value
		if val == nil {
			val = []byte{}
		}
		r.Value = &val
	}
	return e.line(r)
}

// snapshot writes a snapshot name's newest generation, or, with older
// set, one of its older kept generations (version 3).
func (e *encoder) snapshot(s ops.Snapshot, gen uint64, older bool) error {
	kind := "snapshot"
	if older {
		kind = "snapshot-generation"
		e.n.Generations++
	} else {
		e.n.Snapshots++
	}
	ver, val := s.Version, s.Value
	if val == nil {
		val = []byte{}
	}
	return e.line(record{Kind: kind, Name: s.Name, Version: &ver, Seq: s.Seq, Value: &val, Generation: gen})
}

// end writes the trailer, with the time of the source's clock the
// export's visibility is of when it depends on the time (at not zero),
// and flushes.
func (e *encoder) end(digest string, at time.Time, lastPos uint64) error {
	n := e.n
	sum := hex.EncodeToString(e.h.Sum(nil))
	r := record{Kind: "end", Counts: &n, LastPos: &lastPos, Digest: digest, SHA256: sum}
	if !at.IsZero() {
		r.At = at.UTC().Format(time.RFC3339Nano)
	}
	if err := e.line(r); err != nil {
		return err
	}
	if err := e.w.Flush(); err != nil {
		return fmt.Errorf("transfer: write export: %w", err)
	}
	return nil
}

// Decoder reads an export record by record, checking as it goes
// everything the package doc promises: the header and its version, the
// order of sections and of records within them, gap-free positions,
// contiguous seqs, stream heads, and, at the trailer, the counts, the
// store digest and the SHA-256 of the bytes. Only a Next that returned
// io.EOF has seen a good trailer: until then nothing read is known good.
type Decoder struct {
	version int
	hidden  map[string]uint64 // hidden positions of each stream
	r       *bufio.Reader
	h       hash.Hash
	line    int
	sec     int
	d       *digester
	n       Counts
	pos     uint64
	heads   map[string]uint64
	streams map[string]bool
	last    string // the last stream name, key or snapshot name of the section
	// lastRev is the revision (kv) or generation (snapshots) of the last
	// record of d.last, and open is set while d.last's older versions or
	// generations have been read but not its current one.
	lastRev uint64
	open    bool
	openPut bool // the open key's last version is a value
	done    bool
	// Trailer is set once the trailer has been read and checked.
	Trailer *Trailer
}

// Trailer is what an export's last line says of it. At is the time of
// the source's clock the export's visibility is of (version 2; zero in
// version 1).
type Trailer struct {
	Counts  Counts
	LastPos uint64
	Digest  string
	At      time.Time
}

// Item is one record of an export: exactly one of Event, Hidden, Stream,
// Kv, KvVersion and Snapshot is set; State goes with Stream, Generation
// and Older with Snapshot.
type Item struct {
	Event     *ops.Event
	Hidden    *Hidden
	Stream    *ops.StreamInfo
	State     ops.StreamState // the stream's state (version 2), zero when none
	Kv        *ops.KvEntry
	KvVersion *ops.KvVersion // an older kept version of a key (version 3)
	Snapshot  *ops.Snapshot
	// Generation is the snapshot's generation (version 3; 0 when the
	// export does not say), and Older is set for an older kept generation
	// of its name rather than the newest.
	Generation uint64
	Older      bool
}

// Hidden is a position the source's stream limits hide (version 2): an
// import puts a placeholder event there, in Stream at Seq, which the
// stream's state hides again.
type Hidden struct {
	Pos    uint64
	Stream string
	Seq    uint64
}

// NewDecoder reads the header of an export from r and returns a decoder
// of the rest.
func NewDecoder(r io.Reader) (*Decoder, error) {
	d := &Decoder{r: bufio.NewReaderSize(r, 256<<10), h: sha256.New(), d: newDigester(), heads: map[string]uint64{}, streams: map[string]bool{}, hidden: map[string]uint64{}}
	b, err := d.readLine()
	if err != nil {
		if errors.Is(err, ErrTruncated) {
			return nil, d.fail(ErrFormat, "empty: no header")
		}
		return nil, err
	}
	d.h.Write(b)
	var h header
	// The version first, leniently: a newer header may carry fields this
	// version does not know, and the error should say newer, not unknown.
	if err := json.Unmarshal(b, &h); err == nil && h.Format == FormatName && h.Version > FormatVersion {
		return nil, d.fail(ErrNewerVersion, fmt.Sprintf("version %d; this persist reads version %d and older: upgrade persist to import it", h.Version, FormatVersion))
	}
	if err := strict(b, &h); err != nil {
		return nil, d.fail(ErrFormat, "header: "+err.Error())
	}
	if h.Format != FormatName {
		return nil, d.fail(ErrFormat, fmt.Sprintf("header names format %q, want %q", h.Format, FormatName))
	}
	if h.Version > FormatVersion {
		return nil, d.fail(ErrNewerVersion, fmt.Sprintf("version %d; this persist reads version %d and older: upgrade persist to import it", h.Version, FormatVersion))
	}
	if h.Version < 1 {
		return nil, d.fail(ErrFormat, fmt.Sprintf("version %d", h.Version))
	}
	d.version = h.Version
	return d, nil
}

func strict(b []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return err
	}
	if dec.More() {
		return errors.New("more than one JSON value on the line")
	}
	return nil
}

func (d *Decoder) fail(kind error, reason string) error {
	return &FormatError{Line: d.line, Reason: reason, Err: kind}
}

// readLine reads one line, hashing it; its error is a FormatError.
func (d *Decoder) readLine() ([]byte, error) {
	d.line++
	var line []byte
	for {
		chunk, err := d.r.ReadSlice('\n')
		line = append(line, chunk...)
		if len(line) > maxLine {
			return nil, d.fail(ErrFormat, fmt.Sprintf("line longer than %d bytes", maxLine))
		}
		if err == bufio.ErrBufferFull {
			continue
		}
		if err == io.EOF {
			if len(line) == 0 {
				return nil, d.fail(ErrTruncated, "the file ends here")
			}
			return nil, d.fail(ErrTruncated, "the last line is cut short")
		}
		if err != nil {
			return nil, fmt.Errorf("transfer: read export: %w", err)
		}
		break
	}
	return line, nil
}

// Next returns the next record, or io.EOF after a trailer that checked
// out. Any other error is final.
func (d *Decoder) Next() (Item, error) {
	if d.done {
		return Item{}, io.EOF
	}
	b, err := d.readLine()
	if err != nil {
		return Item{}, err
	}
	var r record
	if err := strict(b, &r); err != nil {
		return Item{}, d.fail(ErrFormat, err.Error())
	}
	sec, ok := kindSection[r.Kind]
	if !ok {
		return Item{}, d.fail(ErrFormat, fmt.Sprintf("unknown record kind %q", r.Kind))
	}
	if sec != secEnd {
		d.h.Write(b) // every byte before the trailer's line
	}
	if sec < d.sec {
		return Item{}, d.fail(ErrFormat, fmt.Sprintf("a %s record after the %s section", r.Kind, sectionName(d.sec)))
	}
	if sec > d.sec {
		if d.sec == secEvent {
			d.streams = map[string]bool{}
		}
		if err := d.closeOpen(); err != nil {
			return Item{}, err
		}
		d.sec, d.last = sec, ""
	}
	switch sec {
	case secEvent:
		if r.Kind == "hidden" {
			return d.hiddenPos(r)
		}
		return d.event(r)
	case secStream:
		return d.stream(r)
	case secKv:
		if r.Kind == "kv-version" {
			return d.kvVersion(r)
		}
		return d.kv(r)
	case secSnapshot:
		return d.snapshot(r, r.Kind == "snapshot-generation")
	}
	return Item{}, d.end(r)
}

func sectionName(s int) string {
	for k, v := range kindSection {
		if v == s {
			return k
		}
	}
	return "?"
}

// only checks that r has no fields but those named.
func (d *Decoder) only(r record, allowed ...string) error {
	fields := [...]struct {
		name string
		set  bool
	}{
		{"pos", r.Pos != 0}, {"stream", r.Stream != ""}, {"seq", r.Seq != 0}, {"id", r.ID != nil}, {"at", r.At != ""},
		{"type", r.Type != nil}, {"data", r.Data != nil}, {"name", r.Name != ""}, {"head", r.Head != 0},
		{"key", r.Key != nil}, {"value", r.Value != nil}, {"revision", r.Revision != 0}, {"version", r.Version != nil},
		{"counts", r.Counts != nil}, {"last-pos", r.LastPos != nil}, {"digest", r.Digest != ""}, {"sha256", r.SHA256 != ""},
		{"max-count", r.MaxCount != 0}, {"max-age-ns", r.MaxAgeNanos != 0}, {"truncate-before", r.TruncateBefore != 0},
		{"deleted", r.Deleted}, {"tombstone", r.Tombstone}, {"generation", r.Generation != 0},
	}
next:
	for _, f := range fields {
		if !f.set {
			continue
		}
		for _, a := range allowed {
			if a == f.name {
				continue next
			}
		}
		return d.fail(ErrFormat, fmt.Sprintf("a %s record has no field %q", r.Kind, f.name))
	}
	return nil
}

func (d *Decoder) event(r record) (Item, error) {
	if err := d.only(r, "pos", "stream", "seq", "id", "at", "type", "data"); err != nil {
		return Item{}, err
	}
	if r.ID == nil || r.Type == nil || r.Data == nil || r.At == "" {
		return Item{}, d.fail(ErrFormat, "an event needs pos, stream, seq, id, at, type and data")
	}
	if r.Pos != d.pos+1 {
		return Item{}, d.fail(ErrFormat, fmt.Sprintf("event at position %d follows position %d: positions must run 1, 2, 3 … without gaps", r.Pos, d.pos))
	}
	if want := d.heads[r.Stream] + 1; r.Seq != want {
		return Item{}, d.fail(ErrFormat, fmt.Sprintf("event %d of stream %q has seq %d, want %d", r.Pos, r.Stream, r.Seq, want))
	}
	at, err := time.Parse(time.RFC3339Nano, r.At)
	if err != nil {
		return Item{}, d.fail(ErrFormat, fmt.Sprintf("event %d: at: %v", r.Pos, err))
	}
	ev := ops.Event{ID: *r.ID, Stream: r.Stream, Seq: r.Seq, Pos: r.Pos, Type: *r.Type, At: at.UTC(), Data: *r.Data}
	if len(ev.Data) == 0 {
		ev.Data = nil
	}
	if err := (ops.Append{Stream: ev.Stream, Events: []ops.EventData{{ID: ev.ID, Type: ev.Type, Data: ev.Data}}}).Validate(); err != nil {
		return Item{}, d.fail(ErrFormat, fmt.Sprintf("event %d: %v", r.Pos, err))
	}
	if ev.ID == uuid.Nil {
		return Item{}, d.fail(ErrFormat, fmt.Sprintf("event %d has the nil UUID as its ID", r.Pos))
	}
	d.pos, d.heads[r.Stream] = r.Pos, r.Seq
	d.n.Events++
	d.d.event(ev)
	return Item{Event: &ev}, nil
}

// hiddenPos reads a hidden position (version 2): the next position, at
// the next seq of its stream.
func (d *Decoder) hiddenPos(r record) (Item, error) {
	if d.version < 2 {
		return Item{}, d.fail(ErrFormat, "a hidden record in a version 1 export")
	}
	if err := d.only(r, "pos", "stream"); err != nil {
		return Item{}, err
	}
	if r.Pos != d.pos+1 {
		return Item{}, d.fail(ErrFormat, fmt.Sprintf("hidden position %d follows position %d: positions must run 1, 2, 3 … without gaps", r.Pos, d.pos))
	}
	if err := (ops.Head{Stream: r.Stream}).Validate(); err != nil {
		return Item{}, d.fail(ErrFormat, fmt.Sprintf("hidden position %d: %v", r.Pos, err))
	}
	seq := d.heads[r.Stream] + 1
	d.pos, d.heads[r.Stream] = r.Pos, seq
	d.hidden[r.Stream]++
	d.n.Hidden++
	d.d.hidden(r.Pos, r.Stream)
	return Item{Hidden: &Hidden{Pos: r.Pos, Stream: r.Stream, Seq: seq}}, nil
}

func (d *Decoder) stream(r record) (Item, error) {
	allowed := []string{"name", "head"}
	if d.version >= 2 {
		allowed = append(allowed, "max-count", "max-age-ns", "truncate-before", "deleted", "tombstone")
	}
	if err := d.only(r, allowed...); err != nil {
		return Item{}, err
	}
	if r.Name <= d.last && d.n.Streams > 0 {
		return Item{}, d.fail(ErrFormat, fmt.Sprintf("stream %q after %q: streams must be in byte order, each once", r.Name, d.last))
	}
	st := ops.StreamState{StreamMeta: ops.StreamMeta{MaxCount: r.MaxCount, MaxAge: time.Duration(r.MaxAgeNanos), TruncateBefore: r.TruncateBefore},
		Deleted: r.Deleted, Tombstone: r.Tombstone}
	head, ok := d.heads[r.Name]
	if (!ok && st == (ops.StreamState{})) || head != r.Head {
		return Item{}, d.fail(ErrFormat, fmt.Sprintf("stream %q with head %d, but its events give head %d", r.Name, r.Head, head))
	}
	if err := d.checkState(r.Name, head, st); err != nil {
		return Item{}, err
	}
	d.last = r.Name
	d.streams[r.Name] = true
	d.n.Streams++
	si := ops.StreamInfo{Name: r.Name, Head: r.Head}
	d.d.stream(si)
	if st != (ops.StreamState{}) {
		d.d.state(r.Name, st)
	}
	return Item{Stream: &si, State: st}, nil
}

// checkState checks a stream's exported state against the rules of
// package ops and the stream's records.
func (d *Decoder) checkState(name string, head uint64, st ops.StreamState) error {
	if err := (ops.StreamMetaWrite{Stream: name, Meta: st.StreamMeta}).Validate(); err != nil {
		return d.fail(ErrFormat, fmt.Sprintf("stream %q: %v", name, err))
	}
	switch {
	case st.TruncateBefore > head+1:
		return d.fail(ErrFormat, fmt.Sprintf("stream %q truncates before %d, beyond its head %d plus one", name, st.TruncateBefore, head))
	case st.Tombstone && !st.Deleted:
		return d.fail(ErrFormat, fmt.Sprintf("stream %q is tombstoned but not deleted", name))
	case st.Deleted && st.TruncateBefore != head+1:
		return d.fail(ErrFormat, fmt.Sprintf("stream %q is deleted but truncates before %d, not its head %d plus one", name, st.TruncateBefore, head))
	case d.hidden[name] > 0 && st == (ops.StreamState{}):
		return d.fail(ErrFormat, fmt.Sprintf("stream %q has hidden positions but no state that hides them", name))
	}
	return nil
}

// closeOpen ends the records of d.last: a key whose older versions were
// read and whose newest one is a value needs its kv entry, and a snapshot
// name whose older generations were read needs its newest.
func (d *Decoder) closeOpen() error {
	if !d.open {
		return nil
	}
	d.open = false
	switch {
	case d.sec == secKv && d.openPut:
		return d.fail(ErrFormat, fmt.Sprintf("key %q: its newest version is a value, but no kv entry follows its versions", d.last))
	case d.sec == secSnapshot:
		return d.fail(ErrFormat, fmt.Sprintf("snapshot %q: older generations, but no snapshot record follows them", d.last))
	}
	return nil
}

// next checks that a record of name (a key or a snapshot name) may come
// next: after d.last in byte order, or, with more set (its older versions
// or generations were read, and this is one more or the current one),
// the same name at a revision or generation above the last.
func (d *Decoder) next(what, name string, rev uint64, any bool) error {
	if d.open && name == d.last {
		if rev <= d.lastRev {
			return d.fail(ErrFormat, fmt.Sprintf("%s %q at %d after %d: versions and generations run oldest first", what, name, rev, d.lastRev))
		}
		return nil
	}
	if err := d.closeOpen(); err != nil {
		return err
	}
	if name <= d.last && any {
		return d.fail(ErrFormat, fmt.Sprintf("%s %q after %q: %ss must be in byte order, each once", what, name, d.last, what))
	}
	return nil
}

func (d *Decoder) kv(r record) (Item, error) {
	if err := d.only(r, "key", "value", "revision"); err != nil {
		return Item{}, err
	}
	if r.Key == nil || r.Value == nil || r.Revision == 0 {
		return Item{}, d.fail(ErrFormat, "a kv entry needs key, value and a revision above 0")
	}
	if err := d.next("key", *r.Key, r.Revision, d.n.Kv+d.n.KvVersions > 0); err != nil {
		return Item{}, err
	}
	e := ops.KvEntry{Key: *r.Key, Value: *r.Value, Revision: r.Revision}
	if len(e.Value) == 0 {
		e.Value = nil
	}
	if err := (ops.KvPut{Key: e.Key, Value: e.Value}).Validate(); err != nil {
		return Item{}, d.fail(ErrFormat, fmt.Sprintf("kv %q: %v", e.Key, err))
	}
	d.last, d.open = e.Key, false
	d.n.Kv++
	d.d.kv(e)
	return Item{Kv: &e}, nil
}

// kvVersion reads an older kept version of a key (version 3): a value,
// or a delete (which only a value may precede).
func (d *Decoder) kvVersion(r record) (Item, error) {
	if d.version < 3 {
		return Item{}, d.fail(ErrFormat, fmt.Sprintf("a kv-version record in a version %d export", d.version))
	}
	if err := d.only(r, "key", "value", "revision", "deleted"); err != nil {
		return Item{}, err
	}
	if r.Key == nil || r.Revision == 0 || (r.Value == nil) != r.Deleted {
		return Item{}, d.fail(ErrFormat, "a kv-version needs key, a revision above 0, and a value or deleted")
	}
	if err := d.next("key", *r.Key, r.Revision, d.n.Kv+d.n.KvVersions > 0); err != nil {
		return Item{}, err
	}
	same := d.open && *r.Key == d.last
	if r.Deleted && same && !d.openPut {
		return Item{}, d.fail(ErrFormat, fmt.Sprintf("key %q deleted at %d right after a delete: only a present key's delete is a version", *r.Key, r.Revision))
	}
	v := ops.KvVersion{Key: *r.Key, Revision: r.Revision, Deleted: r.Deleted}
	if r.Value != nil && len(*r.Value) > 0 {
		v.Value = *r.Value
	}
	if err := (ops.KvPut{Key: v.Key, Value: v.Value}).Validate(); err != nil {
		return Item{}, d.fail(ErrFormat, fmt.Sprintf("kv %q: %v", v.Key, err))
	}
	d.last, d.lastRev, d.open, d.openPut = v.Key, v.Revision, true, !v.Deleted
	d.n.KvVersions++
	d.d.kvVersion(v)
	return Item{KvVersion: &v}, nil
}

func (d *Decoder) snapshot(r record, older bool) (Item, error) {
	allowed := []string{"name", "version", "seq", "value"}
	if d.version >= 3 {
		allowed = append(allowed, "generation")
	}
	if older && d.version < 3 {
		return Item{}, d.fail(ErrFormat, fmt.Sprintf("a snapshot-generation record in a version %d export", d.version))
	}
	if err := d.only(r, allowed...); err != nil {
		return Item{}, err
	}
	if r.Version == nil || r.Value == nil {
		return Item{}, d.fail(ErrFormat, "a snapshot needs name, version, seq and value")
	}
	if older && r.Generation == 0 {
		return Item{}, d.fail(ErrFormat, fmt.Sprintf("snapshot %q: an older generation needs its generation", r.Name))
	}
	if d.open && r.Name == d.last && r.Generation == 0 {
		return Item{}, d.fail(ErrFormat, fmt.Sprintf("snapshot %q: its newest generation needs its generation after older ones", r.Name))
	}
	if err := d.next("snapshot", r.Name, r.Generation, d.n.Snapshots+d.n.Generations > 0); err != nil {
		return Item{}, err
	}
	s := ops.Snapshot{Name: r.Name, Version: *r.Version, Seq: r.Seq, Value: *r.Value}
	if len(s.Value) == 0 {
		s.Value = nil
	}
	if err := (ops.SnapshotWrite{Snapshot: s}).Validate(); err != nil {
		return Item{}, d.fail(ErrFormat, fmt.Sprintf("snapshot %q: %v", s.Name, err))
	}
	d.last, d.lastRev, d.open = s.Name, r.Generation, older
	if older {
		d.n.Generations++
		d.d.generation(s, r.Generation)
	} else {
		d.n.Snapshots++
		d.d.snapshot(s)
		d.d.newest(s.Name, r.Generation)
	}
	return Item{Snapshot: &s, Generation: r.Generation, Older: older}, nil
}

func (d *Decoder) end(r record) error {
	allowed := []string{"counts", "last-pos", "digest", "sha256"}
	if d.version >= 2 {
		allowed = append(allowed, "at")
	}
	if err := d.only(r, allowed...); err != nil {
		return err
	}
	if r.Counts == nil || r.LastPos == nil || r.Digest == "" || r.SHA256 == "" {
		return d.fail(ErrFormat, "the trailer needs counts, last-pos, digest and sha256")
	}
	if err := d.closeOpen(); err != nil {
		return err
	}
	var at time.Time
	if r.At != "" {
		t, err := time.Parse(time.RFC3339Nano, r.At)
		if err != nil {
			return d.fail(ErrFormat, fmt.Sprintf("the trailer's at: %v", err))
		}
		at = t.UTC()
	}
	if len(d.streams) != len(d.heads) {
		for name := range d.heads {
			if !d.streams[name] {
				return d.fail(ErrFormat, fmt.Sprintf("stream %q has events but no stream record", name))
			}
		}
	}
	if *r.Counts != d.n {
		return d.fail(ErrFormat, fmt.Sprintf("the trailer counts %+v, the export holds %+v", *r.Counts, d.n))
	}
	if *r.LastPos != d.pos {
		return d.fail(ErrFormat, fmt.Sprintf("the trailer's last position %d, the events end at %d", *r.LastPos, d.pos))
	}
	if got := d.d.sum(); got != r.Digest {
		return d.fail(ErrFormat, fmt.Sprintf("store digest %s, the trailer says %s", got, r.Digest))
	}
	if got := hex.EncodeToString(d.h.Sum(nil)); got != r.SHA256 {
		return d.fail(ErrFormat, fmt.Sprintf("the bytes before the trailer hash to %s, the trailer says %s", got, r.SHA256))
	}
	if _, err := d.r.Peek(1); err != io.EOF {
		d.line++
		return d.fail(ErrFormat, "bytes after the trailer")
	}
	d.done = true
	d.Trailer = &Trailer{Counts: d.n, LastPos: d.pos, Digest: r.Digest, At: at}
	return io.EOF
}
