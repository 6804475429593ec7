package server

import (
	"bytes"

	"github.com/google/uuid"

	"rose-ash.com/persist/effect"
	"rose-ash.com/persist/ops"
)

// The fast decoder reads the operations every client sends most
// (persist/append, persist/commit, persist/read, persist/kv-get and
// persist/kv-put) straight from the request's text into their Go
// descriptors, without building the generic SX tree and converting it by
// reflection. It accepts only a plain subset of both notations, the one
// EncodeOp writes: the fields as a dict with known keys, each once,
// strings whose only escapes are \" and \\ and whose bytes are printable
// ASCII, integers as plain digits, tokens separated by space, tab or line
// breaks. On anything else (a comment, a comma in SX, another escape, a
// non-ASCII byte, an unknown or repeated key, a value of another kind, a
// value its type refuses) it gives up, and the generic decoder reads the
// same text, so every error, and every answer to text outside the subset,
// is the generic decoder's own. Within the subset the two give the same
// operation: FuzzFastDecode compares them.

// maxFastDigits bounds the integers the fast decoder reads: 18 digits
// always fit in an int64, so it never has to decide an overflow.
const maxFastDigits = 18

// fastDecodeOp reads body as one of the common operations; ok false means
// it left the text to the generic decoder.
func fastDecodeOp(body []byte, n Notation) (op effect.Effect, ok bool) {
	r := fastReader{s: body, json: n == JSON}
	r.space()
	open, close := byte('('), byte(')')
	if r.json {
		open, close = '[', ']'
	}
	if !r.byte(open) {
		return nil, false
	}
	r.space()
	var name []byte
	if r.json {
		name, ok = r.plainString()
	} else {
		name, ok = r.symbol()
	}
	if !ok {
		return nil, false
	}
	var dec func(*fastReader) (effect.Effect, bool)
	switch string(name) {
	case ops.NameAppend:
		dec = func(r *fastReader) (effect.Effect, bool) { return r.append() }
	case ops.NameCommit:
		dec = (*fastReader).commit
	case ops.NameRead:
		dec = (*fastReader).read
	case ops.NameKvGet:
		dec = (*fastReader).kvGet
	case ops.NameKvPut:
		dec = (*fastReader).kvPut
	default:
		return nil, false
	}
	sep := r.space()
	if r.byte(close) {
		// The name alone: the operation with no fields, as the generic
		// decoder gives it.
		op, ok = dec(nil)
	} else {
		if r.json {
			if !r.byte(',') {
				return nil, false
			}
			r.space()
		} else if !sep {
			return nil, false
		}
		if op, ok = dec(&r); !ok {
			return nil, false
		}
		r.space()
		if !r.byte(close) {
			return nil, false
		}
	}
	r.space()
	if !ok || r.i != len(r.s) {
		return nil, false
	}
	return op, true
}

// fastReader reads the plain subset of SX or JSON from s at i.
type fastReader struct {
	s    []byte
	i    int
	json bool
}

// space skips white space and reports whether there was any.
func (r *fastReader) space() bool {
	start := r.i
	for r.i < len(r.s) {
		switch r.s[r.i] {
		case ' ', '\t', '\n', '\r':
			r.i++
		default:
			return r.i > start
		}
	}
	return r.i > start
}

func (r *fastReader) byte(c byte) bool {
	if r.i < len(r.s) && r.s[r.i] == c {
		r.i++
		return true
	}
	return false
}

// ended reports whether the token just read is followed by white space, a
// closing bracket or the end: no other token may touch it.
func (r *fastReader) ended() bool {
	if r.i == len(r.s) {
		return true
	}
	switch r.s[r.i] {
	case ' ', '\t', '\n', '\r', ')', ']', '}':
		return true
	case ',':
		return r.json
	}
	return false
}

// symbol reads an SX symbol of lower-case letters, digits, '-' and '/'.
func (r *fastReader) symbol() ([]byte, bool) {
	start := r.i
	for r.i < len(r.s) {
		c := r.s[r.i]
		if ('a' <= c && c <= 'z') || c == '-' || c == '/' || ('0' <= c && c <= '9' && r.i > start) {
			r.i++
			continue
		}
		break
	}
	if r.i == start || !r.ended() {
		return nil, false
	}
	return r.s[start:r.i], true
}

// plainString reads a string without escapes: a key or a name.
func (r *fastReader) plainString() ([]byte, bool) {
	if !r.byte('"') {
		return nil, false
	}
	start := r.i
	for r.i < len(r.s) {
		c := r.s[r.i]
		if c == '"' {
			out := r.s[start:r.i]
			r.i++
			return out, r.ended() || r.json
		}
		if c < 0x20 || c >= 0x7f || c == '\\' {
			return nil, false
		}
		r.i++
	}
	return nil, false
}

// bytes reads a string as its bytes: a slice of the text when it has no
// escape, else a fresh copy with \" and \\ decoded.
func (r *fastReader) bytes() ([]byte, bool) {
	b, _, ok := r.text()
	return b, ok
}

// text reads a string as bytes; fresh reports a copy, which the caller may
// keep.
func (r *fastReader) text() (b []byte, fresh, ok bool) {
	if !r.byte('"') {
		return nil, false, false
	}
	start := r.i
	escapes := 0
	for r.i < len(r.s) {
		if !textStop[r.s[r.i]] {
			r.i++
			continue
		}
		c := r.s[r.i]
		switch {
		case c == '"':
			raw := r.s[start:r.i]
			r.i++
			if !r.ended() {
				return nil, false, false
			}
			if escapes == 0 {
				return raw, false, true
			}
			out := make([]byte, 0, len(raw)-escapes)
			for {
				j := bytes.IndexByte(raw, '\\')
				if j < 0 {
					break
				}
				out = append(out, raw[:j]...)
				out = append(out, raw[j+1])
				raw = raw[j+2:]
			}
			return append(out, raw...), true, true
		case c == '\\':
			if r.i+1 >= len(r.s) || (r.s[r.i+1] != '"' && r.s[r.i+1] != '\\') {
				return nil, false, false
			}
			escapes++
			r.i += 2
		case c < 0x20 || c >= 0x7f:
			return nil, false, false
		default:
			r.i++
		}
	}
	return nil, false, false
}

// textStop marks the bytes a string's scan stops at: its end, an escape,
// and every byte outside printable ASCII.
var textStop = func() (t [256]bool) {
	for c := range t {
		t[c] = c < 0x20 || c >= 0x7f || c == '"' || c == '\\'
	}
	return t
}()

func (r *fastReader) string() (string, bool) {
	b, ok := r.bytes()
	return string(b), ok
}

// data reads bytes as sx.ToGo stores a string in a []byte: a copy, and nil
// for the empty string.
func (r *fastReader) data() ([]byte, bool) {
	b, fresh, ok := r.text()
	if !ok || len(b) == 0 {
		return nil, ok
	}
	if fresh {
		return b, true
	}
	return append([]byte(nil), b...), true
}

// uint reads plain digits: no sign, no leading zero, at most
// maxFastDigits.
func (r *fastReader) uint() (uint64, bool) {
	start := r.i
	var n uint64
	for r.i < len(r.s) && '0' <= r.s[r.i] && r.s[r.i] <= '9' {
		n = n*10 + uint64(r.s[r.i]-'0')
		r.i++
	}
	d := r.i - start
	if d == 0 || d > maxFastDigits || (d > 1 && r.s[start] == '0') || !r.ended() {
		return 0, false
	}
	return n, true
}

func (r *fastReader) int() (int, bool) {
	n, ok := r.uint()
	return int(n), ok && uint64(int(n)) == n
}

func (r *fastReader) bool() (bool, bool) {
	for _, w := range [...]string{"false", "true"} {
		if len(r.s)-r.i >= len(w) && string(r.s[r.i:r.i+len(w)]) == w {
			r.i += len(w)
			return w == "true", r.ended()
		}
	}
	return false, false
}

func (r *fastReader) expect() (ops.Expect, bool) {
	b, ok := r.bytes()
	if !ok {
		return ops.Expect{}, false
	}
	var e ops.Expect
	if e.UnmarshalText(b) != nil {
		return ops.Expect{}, false
	}
	return e, true
}

// eventID reads an :id as the generic decoder does (uuid.UUID's
// UnmarshalText) and gives up where checkEventIDs would refuse it.
func (r *fastReader) eventID() (uuid.UUID, bool) {
	b, ok := r.bytes()
	if !ok {
		return uuid.Nil, false
	}
	var id uuid.UUID
	if id.UnmarshalText(b) != nil {
		return uuid.Nil, false
	}
	if _, err := ops.ParseEventID(string(b)); err != nil {
		return uuid.Nil, false
	}
	return id, true
}

// dict reads a dict, calling entry with each key; entry reads the value
// and reports false to give up. A key read twice gives up: keys index
// seen, at most 64 of them.
func (r *fastReader) dict(keys []string, entry func(k int) bool) bool {
	if !r.byte('{') {
		return false
	}
	var seen uint64
	for first := true; ; first = false {
		r.space()
		if r.byte('}') {
			return r.ended()
		}
		if r.json && !first {
			if !r.byte(',') {
				return false
			}
			r.space()
		}
		var key []byte
		var ok bool
		if r.json {
			key, ok = r.plainString()
			r.space()
			ok = ok && r.byte(':')
		} else {
			ok = r.byte(':')
			if ok {
				key, ok = r.symbol()
			}
		}
		if !ok {
			return false
		}
		k := -1
		for j, name := range keys {
			if string(key) == name {
				k = j
				break
			}
		}
		if k < 0 || seen&(1<<k) != 0 {
			return false
		}
		seen |= 1 << k
		r.space()
		if !entry(k) {
			return false
		}
		if !r.json && r.i < len(r.s) && r.s[r.i] != '}' && !r.space() {
			return false
		}
	}
}

// vector reads a vector, calling item at each element; an empty vector is
// nil, as the generic decoder stores it.
func (r *fastReader) vector(item func() bool) bool {
	if !r.byte('[') {
		return false
	}
	for first := true; ; first = false {
		r.space()
		if r.byte(']') {
			return r.ended()
		}
		if r.json && !first {
			if !r.byte(',') {
				return false
			}
			r.space()
		}
		if !item() {
			return false
		}
		if !r.json && r.i < len(r.s) && r.s[r.i] != ']' && !r.space() {
			return false
		}
	}
}

var (
	appendKeys = []string{"stream", "expect", "events"}
	eventKeys  = []string{"id", "type", "data"}
	readKeys   = []string{"stream", "from", "limit"}
	kvGetKeys  = []string{"key"}
	kvPutKeys  = []string{"key", "value", "expect"}
	commitKeys = []string{"appends", "kv"}
	changeKeys = []string{"key", "value", "delete", "expect"}
)

func (r *fastReader) append() (op ops.Append, ok bool) {
	if r == nil {
		return op, true
	}
	ok = r.dict(appendKeys, func(k int) (ok bool) {
		switch k {
		case 0:
			op.Stream, ok = r.string()
		case 1:
			op.Expect, ok = r.expect()
		default:
			ok = r.vector(func() bool {
				var ev ops.EventData
				ok := r.dict(eventKeys, func(k int) (ok bool) {
					switch k {
					case 0:
						ev.ID, ok = r.eventID()
					case 1:
						ev.Type, ok = r.string()
					default:
						ev.Data, ok = r.data()
					}
					return ok
				})
				op.Events = append(op.Events, ev)
				return ok
			})
		}
		return ok
	})
	return op, ok
}

func (r *fastReader) commit() (effect.Effect, bool) {
	var op ops.Commit
	if r == nil {
		return op, true
	}
	ok := r.dict(commitKeys, func(k int) bool {
		if k == 0 {
			return r.vector(func() bool {
				ap, ok := r.append()
				op.Appends = append(op.Appends, ap)
				return ok
			})
		}
		return r.vector(func() bool {
			var ch ops.KvChange
			ok := r.dict(changeKeys, func(k int) (ok bool) {
				switch k {
				case 0:
					ch.Key, ok = r.string()
				case 1:
					ch.Value, ok = r.data()
				case 2:
					ch.Delete, ok = r.bool()
				default:
					ch.Expect, ok = r.expect()
				}
				return ok
			})
			op.Kv = append(op.Kv, ch)
			return ok
		})
	})
	return op, ok
}

func (r *fastReader) read() (effect.Effect, bool) {
	var op ops.Read
	if r == nil {
		return op, true
	}
	ok := r.dict(readKeys, func(k int) (ok bool) {
		switch k {
		case 0:
			op.Stream, ok = r.string()
		case 1:
			op.From, ok = r.uint()
		default:
			op.Limit, ok = r.int()
		}
		return ok
	})
	return op, ok
}

func (r *fastReader) kvGet() (effect.Effect, bool) {
	var op ops.KvGet
	if r == nil {
		return op, true
	}
	ok := r.dict(kvGetKeys, func(int) (ok bool) {
		op.Key, ok = r.string()
		return ok
	})
	return op, ok
}

func (r *fastReader) kvPut() (effect.Effect, bool) {
	var op ops.KvPut
	if r == nil {
		return op, true
	}
	ok := r.dict(kvPutKeys, func(k int) (ok bool) {
		switch k {
		case 0:
			op.Key, ok = r.string()
		case 1:
			op.Value, ok = r.data()
		default:
			op.Expect, ok = r.expect()
		}
		return ok
	})
	return op, ok
}
