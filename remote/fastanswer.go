package remote

import (
	"time"

	"github.com/google/uuid"

	"rose-ash.com/persist/effect"
	"rose-ash.com/persist/internal/plaintext"
	"rose-ash.com/persist/ops"
)

// The fast decoder reads the answers of the common operations
// (persist/append, persist/commit, persist/kv-put and persist/kv-get) and
// the events of a follow straight from their text into Go values, without
// building the generic SX value and converting it by reflection. It reads
// the plain subset of both notations (plaintext.Reader): what the server's
// direct answer writer and its event frames write. On anything else (an
// error answer, bytes written as (bytes ...), an unknown key, a value of
// another kind, a number past plaintext.MaxDigits) it gives up, and the
// generic decoder reads the same text, so every error is the generic
// decoder's own. Within the subset the two give the same value:
// TestFastAnswerRandom and FuzzFastAnswer compare them.

// fastAnswer reads text, the answer of e in the client's notation, when e
// is one of the common operations; wrapped says the answer is a pipe's
// {:ok VALUE}. ok false means the generic decoder must read it.
func fastAnswer(text []byte, asJSON bool, e effect.Effect, wrapped bool) (v any, ok bool) {
	var read func(*answerReader) (any, bool)
	switch e.(type) {
	case ops.Append:
		read = func(r *answerReader) (any, bool) { return r.appendResult() }
	case ops.Commit:
		read = (*answerReader).commitResult
	case ops.KvPut:
		read = func(r *answerReader) (any, bool) { return r.kvResult() }
	case ops.KvGet:
		read = (*answerReader).kvEntry
	default:
		return nil, false
	}
	r := answerReader{plaintext.Reader{S: text, JSON: asJSON}}
	r.Space()
	if wrapped {
		// {:ok VALUE} and nothing else; without :ok it is an error.
		read1 := false
		ok = r.Dict(okKeys, func(int) bool {
			v, read1 = read(&r)
			return read1
		}) && read1
	} else {
		v, ok = read(&r)
	}
	r.Space()
	if !ok || r.I != len(r.S) {
		return nil, false
	}
	return v, true
}

// fastEvent reads the data of a follow's event frame; ok false means the
// generic decoder must read it.
func fastEvent(text []byte, asJSON bool) (ops.Event, bool) {
	r := answerReader{plaintext.Reader{S: text, JSON: asJSON}}
	r.Space()
	var ev ops.Event
	ok := r.Dict(eventKeys, func(k int) (ok bool) {
		switch k {
		case 0:
			ev.At, ok = r.time()
		case 1:
			ev.Data, ok = r.Data()
		case 2:
			ev.ID, ok = r.uuid()
		case 3:
			ev.Pos, ok = r.Uint()
		case 4:
			ev.Seq, ok = r.Uint()
		case 5:
			ev.Stream, ok = r.String()
		default:
			ev.Type, ok = r.String()
		}
		return ok
	})
	r.Space()
	if !ok || r.I != len(r.S) {
		return ops.Event{}, false
	}
	return ev, true
}

var (
	okKeys           = []string{"ok"}
	eventKeys        = []string{"at", "data", "id", "pos", "seq", "stream", "type"}
	appendResultKeys = []string{"first-pos", "first-seq", "head", "last-pos", "stream"}
	kvResultKeys     = []string{"existed", "key", "revision"}
	kvEntryKeys      = []string{"key", "revision", "value"}
	commitResultKeys = []string{"appends", "kv", "revision"}
)

// answerReader reads the plain subset of SX or JSON: the primitives of
// plaintext.Reader and the answers of package ops.
type answerReader struct {
	plaintext.Reader
}

func (r *answerReader) appendResult() (a ops.AppendResult, ok bool) {
	ok = r.Dict(appendResultKeys, func(k int) (ok bool) {
		switch k {
		case 0:
			a.FirstPos, ok = r.Uint()
		case 1:
			a.FirstSeq, ok = r.Uint()
		case 2:
			a.Head, ok = r.Uint()
		case 3:
			a.LastPos, ok = r.Uint()
		default:
			a.Stream, ok = r.String()
		}
		return ok
	})
	return a, ok
}

func (r *answerReader) kvResult() (x ops.KvResult, ok bool) {
	ok = r.Dict(kvResultKeys, func(k int) (ok bool) {
		switch k {
		case 0:
			x.Existed, ok = r.Bool()
		case 1:
			x.Key, ok = r.String()
		default:
			x.Revision, ok = r.Uint()
		}
		return ok
	})
	return x, ok
}

// kvEntry reads an entry, or nil (null) for a key with none.
func (r *answerReader) kvEntry() (any, bool) {
	if r.nil() {
		return (*ops.KvEntry)(nil), true
	}
	var x ops.KvEntry
	ok := r.Dict(kvEntryKeys, func(k int) (ok bool) {
		switch k {
		case 0:
			x.Key, ok = r.String()
		case 1:
			x.Revision, ok = r.Uint()
		default:
			x.Value, ok = r.Data()
		}
		return ok
	})
	return &x, ok
}

func (r *answerReader) commitResult() (any, bool) {
	var x ops.CommitResult
	ok := r.Dict(commitResultKeys, func(k int) (ok bool) {
		switch k {
		case 0:
			return r.Vector(func() bool {
				a, ok := r.appendResult()
				x.Appends = append(x.Appends, a)
				return ok
			})
		case 1:
			return r.Vector(func() bool {
				k, ok := r.kvResult()
				x.Kv = append(x.Kv, k)
				return ok
			})
		default:
			x.Revision, ok = r.Uint()
		}
		return ok
	})
	return x, ok
}

// nil reads nil (SX) or null (JSON) when it is next.
func (r *answerReader) nil() bool {
	w := "nil"
	if r.JSON {
		w = "null"
	}
	if len(r.S)-r.I < len(w) || string(r.S[r.I:r.I+len(w)]) != w {
		return false
	}
	r.I += len(w)
	if !r.Ended() {
		r.I -= len(w)
		return false
	}
	return true
}

// time and uuid read a string as the generic decoder does, by the type's
// UnmarshalText, and give up where it refuses the text.
func (r *answerReader) time() (time.Time, bool) {
	b, ok := r.Bytes()
	var t time.Time
	if !ok || t.UnmarshalText(b) != nil {
		return time.Time{}, false
	}
	return t, true
}

func (r *answerReader) uuid() (uuid.UUID, bool) {
	b, ok := r.Bytes()
	var id uuid.UUID
	if !ok || id.UnmarshalText(b) != nil {
		return uuid.Nil, false
	}
	return id, true
}
