package server

import (
	"math"
	"strconv"

	"rose-ash.com/persist/internal/plaintext"
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
	w := answerWriter{plaintext.Writer{Buf: dst, JSON: n == JSON}}
	switch x := v.(type) {
	case ops.AppendResult:
		w.appendResult(x)
	case ops.KvResult:
		w.kvResult(x)
	case *ops.KvEntry:
		if x == nil {
			w.Nil()
		} else {
			w.Open()
			w.Key("key", true)
			w.String(x.Key)
			w.Key("revision", false)
			w.Uint(x.Revision)
			w.Key("value", false)
			w.String(string(x.Value))
			w.Close()
		}
	case ops.CommitResult:
		w.Open()
		w.Key("appends", true)
		w.List(len(x.Appends), func(i int) { w.appendResult(x.Appends[i]) })
		w.Key("kv", false)
		w.List(len(x.Kv), func(i int) { w.kvResult(x.Kv[i]) })
		w.Key("revision", false)
		w.Uint(x.Revision)
		w.Close()
	}
	return w.Buf, true
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
type answerWriter struct{ plaintext.Writer }

func (w *answerWriter) appendResult(a ops.AppendResult) {
	w.Open()
	w.Key("first-pos", true)
	w.Uint(a.FirstPos)
	w.Key("first-seq", false)
	w.Uint(a.FirstSeq)
	w.Key("head", false)
	w.Uint(a.Head)
	w.Key("last-pos", false)
	w.Uint(a.LastPos)
	w.Key("stream", false)
	w.String(a.Stream)
	w.Close()
}

func (w *answerWriter) kvResult(k ops.KvResult) {
	w.Open()
	w.Key("existed", true)
	w.Bool(k.Existed)
	w.Key("key", false)
	w.String(k.Key)
	w.Key("revision", false)
	w.Uint(k.Revision)
	w.Close()
}
