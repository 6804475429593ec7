package server

import (
	"github.com/google/uuid"

	"rose-ash.com/persist/effect"
	"rose-ash.com/persist/internal/plaintext"
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

// fastDecodeOp reads body as one of the common operations; ok false means
// it left the text to the generic decoder.
func fastDecodeOp(body []byte, n Notation) (op effect.Effect, ok bool) {
	r := fastReader{plaintext.Reader{S: body, JSON: n == JSON}}
	r.Space()
	open, close := byte('('), byte(')')
	if r.JSON {
		open, close = '[', ']'
	}
	if !r.Byte(open) {
		return nil, false
	}
	r.Space()
	var name []byte
	if r.JSON {
		name, ok = r.PlainString()
	} else {
		name, ok = r.Symbol()
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
	sep := r.Space()
	if r.Byte(close) {
		// The name alone: the operation with no fields, as the generic
		// decoder gives it.
		op, ok = dec(nil)
	} else {
		if r.JSON {
			if !r.Byte(',') {
				return nil, false
			}
			r.Space()
		} else if !sep {
			return nil, false
		}
		if op, ok = dec(&r); !ok {
			return nil, false
		}
		r.Space()
		if !r.Byte(close) {
			return nil, false
		}
	}
	r.Space()
	if !ok || r.I != len(r.S) {
		return nil, false
	}
	return op, true
}

// fastReader reads the plain subset of SX or JSON: the primitives of
// plaintext.Reader and the values of package ops.
type fastReader struct {
	plaintext.Reader
}

func (r *fastReader) expect() (ops.Expect, bool) {
	b, ok := r.Bytes()
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
	b, ok := r.Bytes()
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
	ok = r.Dict(appendKeys, func(k int) (ok bool) {
		switch k {
		case 0:
			op.Stream, ok = r.String()
		case 1:
			op.Expect, ok = r.expect()
		default:
			ok = r.Vector(func() bool {
				var ev ops.EventData
				ok := r.Dict(eventKeys, func(k int) (ok bool) {
					switch k {
					case 0:
						ev.ID, ok = r.eventID()
					case 1:
						ev.Type, ok = r.String()
					default:
						ev.Data, ok = r.Data()
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
	ok := r.Dict(commitKeys, func(k int) bool {
		if k == 0 {
			return r.Vector(func() bool {
				ap, ok := r.append()
				op.Appends = append(op.Appends, ap)
				return ok
			})
		}
		return r.Vector(func() bool {
			var ch ops.KvChange
			ok := r.Dict(changeKeys, func(k int) (ok bool) {
				switch k {
				case 0:
					ch.Key, ok = r.String()
				case 1:
					ch.Value, ok = r.Data()
				case 2:
					ch.Delete, ok = r.Bool()
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
	ok := r.Dict(readKeys, func(k int) (ok bool) {
		switch k {
		case 0:
			op.Stream, ok = r.String()
		case 1:
			op.From, ok = r.Uint()
		default:
			op.Limit, ok = r.Int()
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
	ok := r.Dict(kvGetKeys, func(int) (ok bool) {
		op.Key, ok = r.String()
		return ok
	})
	return op, ok
}

func (r *fastReader) kvPut() (effect.Effect, bool) {
	var op ops.KvPut
	if r == nil {
		return op, true
	}
	ok := r.Dict(kvPutKeys, func(k int) (ok bool) {
		switch k {
		case 0:
			op.Key, ok = r.String()
		case 1:
			op.Value, ok = r.Data()
		default:
			op.Expect, ok = r.expect()
		}
		return ok
	})
	return op, ok
}
