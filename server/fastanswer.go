package server

import (
	"math"
	"strconv"

	"rose-ash.com/persist/ops"
)

// The fast encoder writes the answers of the common operations
// (ops.AppendResult, ops.CommitResult, ops.KvResult and *ops.KvEntry)
// by appending their text to a buffer, without building the generic SX
// value with sx.FromGo. It writes exactly the bytes the generic path
// (sx.FromGo, then sx.Print or sx.ToJSON) writes: the keys in the order
// of their names, integers in decimal, strings in quotes with " and \
// escaped. Where the generic path would write anything else (a string
// with a byte outside printable ASCII, bytes that print as (bytes ...),
// a number above math.MaxInt64, which the generic path refuses) it gives
// up and the generic path writes the answer. TestFastAnswerRandom
// compares the two.

// appendFastAnswer appends v in notation n; ok false means it appended
// nothing and the generic path must write v.
func appendFastAnswer(dst []byte, v any, n Notation) (out []byte, ok bool) {
	if !fastAnswerable(v) {
		return dst, false
	}
	w := answerWriter{buf: dst, json: n == JSON}
	switch x := v.(type) {
	case ops.AppendResult:
		w.appendResult(x)
	case ops.KvResult:
		w.kvResult(x)
	case *ops.KvEntry:
		if x == nil {
			w.nil()
		} else {
			w.open()
			w.key("key", true)
			w.string(x.Key)
			w.key("revision", false)
			w.uint(x.Revision)
			w.key("value", false)
			w.string(string(x.Value))
			w.close()
		}
	case ops.CommitResult:
		w.open()
		w.key("appends", true)
		w.list(len(x.Appends), func(i int) { w.appendResult(x.Appends[i]) })
		w.key("kv", false)
		w.list(len(x.Kv), func(i int) { w.kvResult(x.Kv[i]) })
		w.key("revision", false)
		w.uint(x.Revision)
		w.close()
	}
	return w.buf, true
}

// appendFastFrame appends the pipe frame [id {:ok v}] and its newline, as
// appendPipeFrame writes it; ok false means it appended nothing.
func appendFastFrame(dst []byte, id int64, v any, n Notation) ([]byte, bool) {
	if !fastAnswerable(v) {
		return dst, false
	}
	dst = append(dst, '[')
	dst = strconv.AppendInt(dst, id, 10)
	if n == JSON {
		dst = append(dst, `,{"ok":`...)
	} else {
		dst = append(dst, " {:ok "...)
	}
	dst, _ = appendFastAnswer(dst, v, n)
	return append(dst, "}]\n"...), true
}

// fastAnswerable reports whether the fast encoder writes v.
func fastAnswerable(v any) bool {
	switch x := v.(type) {
	case ops.AppendResult:
		return plainAppendResult(x)
	case ops.KvResult:
		return plainKvResult(x)
	case *ops.KvEntry:
		return x == nil || (plainString(x.Key) && plainString(string(x.Value)) && x.Revision <= math.MaxInt64)
	case ops.CommitResult:
		if x.Revision > math.MaxInt64 {
			return false
		}
		for _, a := range x.Appends {
			if !plainAppendResult(a) {
				return false
			}
		}
		for _, k := range x.Kv {
			if !plainKvResult(k) {
				return false
			}
		}
		return true
	}
	return false
}

func plainAppendResult(a ops.AppendResult) bool {
	return plainString(a.Stream) && max(a.FirstSeq, a.Head, a.FirstPos, a.LastPos) <= math.MaxInt64
}

func plainKvResult(k ops.KvResult) bool {
	return plainString(k.Key) && k.Revision <= math.MaxInt64
}

// plainString reports whether s prints the same in SX and JSON with only
// " and \ escaped: printable ASCII.
func plainString(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < 0x20 || s[i] >= 0x7f {
			return false
		}
	}
	return true
}

// answerWriter appends a value in SX or JSON to buf.
type answerWriter struct {
	buf  []byte
	json bool
}

func (w *answerWriter) open()  { w.buf = append(w.buf, '{') }
func (w *answerWriter) close() { w.buf = append(w.buf, '}') }

func (w *answerWriter) nil() {
	if w.json {
		w.buf = append(w.buf, "null"...)
	} else {
		w.buf = append(w.buf, "nil"...)
	}
}

// key writes a dict key, after a separator unless it is the first.
func (w *answerWriter) key(name string, first bool) {
	switch {
	case w.json && first:
		w.buf = append(w.buf, '"')
	case w.json:
		w.buf = append(w.buf, ',', '"')
	case first:
		w.buf = append(w.buf, ':')
	default:
		w.buf = append(w.buf, ' ', ':')
	}
	w.buf = append(w.buf, name...)
	if w.json {
		w.buf = append(w.buf, '"', ':')
	} else {
		w.buf = append(w.buf, ' ')
	}
}

func (w *answerWriter) uint(n uint64) { w.buf = strconv.AppendUint(w.buf, n, 10) }

func (w *answerWriter) bool(b bool) { w.buf = strconv.AppendBool(w.buf, b) }

// string writes a plain string (see plainString).
func (w *answerWriter) string(s string) {
	w.buf = append(w.buf, '"')
	start := 0
	for i := 0; i < len(s); i++ {
		if c := s[i]; c == '"' || c == '\\' {
			w.buf = append(w.buf, s[start:i]...)
			w.buf = append(w.buf, '\\', c)
			start = i + 1
		}
	}
	w.buf = append(w.buf, s[start:]...)
	w.buf = append(w.buf, '"')
}

func (w *answerWriter) list(n int, item func(int)) {
	w.buf = append(w.buf, '[')
	for i := range n {
		if i > 0 {
			if w.json {
				w.buf = append(w.buf, ',')
			} else {
				w.buf = append(w.buf, ' ')
			}
		}
		item(i)
	}
	w.buf = append(w.buf, ']')
}

func (w *answerWriter) appendResult(a ops.AppendResult) {
	w.open()
	w.key("first-pos", true)
	w.uint(a.FirstPos)
	w.key("first-seq", false)
	w.uint(a.FirstSeq)
	w.key("head", false)
	w.uint(a.Head)
	w.key("last-pos", false)
	w.uint(a.LastPos)
	w.key("stream", false)
	w.string(a.Stream)
	w.close()
}

func (w *answerWriter) kvResult(k ops.KvResult) {
	w.open()
	w.key("existed", true)
	w.bool(k.Existed)
	w.key("key", false)
	w.string(k.Key)
	w.key("revision", false)
	w.uint(k.Revision)
	w.close()
}
