package remote

import (
	"strconv"

	"rose-ash.com/persist/effect"
	"rose-ash.com/persist/ops"
)

// The fast encoder writes the operations a client sends most
// (persist/append, persist/commit, persist/kv-put and persist/kv-get) by
// appending their text to a buffer, without building the generic SX value
// with sx.FromGoForm. It writes exactly the bytes the generic path
// (sx.FromGoForm, then sx.AppendPrint or sx.ToJSON) writes: the keys in
// the order of their names, an event's :id left out when it is zero,
// expectations by their String form, strings in quotes with " and \
// escaped. Where the generic path would write anything else (a string or
// a byte string with a byte outside printable ASCII, or one of JSON's
// HTML escapes) it gives up and the generic path writes the operation.
// TestFastEncodeRandom and FuzzFastEncode compare the two.

// appendFastOp appends e in SX, or JSON when asJSON; ok false means it
// appended nothing and the generic path must write e.
func appendFastOp(dst []byte, e effect.Effect, asJSON bool) (out []byte, ok bool) {
	if !fastEncodable(e) {
		return dst, false
	}
	return writeFastOp(dst, e, asJSON), true
}

// writeFastOp appends e, which fastEncodable accepts.
func writeFastOp(dst []byte, e effect.Effect, asJSON bool) []byte {
	w := opWriter{buf: dst, json: asJSON}
	w.head(e.EffectName())
	switch o := e.(type) {
	case ops.Append:
		w.append(o)
	case ops.Commit:
		w.open()
		w.key("appends", true)
		w.list(len(o.Appends), func(i int) { w.append(o.Appends[i]) })
		w.key("kv", false)
		w.list(len(o.Kv), func(i int) { w.change(o.Kv[i]) })
		w.close()
	case ops.KvPut:
		w.open()
		w.key("expect", true)
		w.expect(o.Expect)
		w.key("key", false)
		w.string(o.Key)
		w.key("value", false)
		w.bytes(o.Value)
		w.close()
	case ops.KvGet:
		w.open()
		w.key("key", true)
		w.string(o.Key)
		w.close()
	}
	if asJSON {
		w.buf = append(w.buf, ']')
	} else {
		w.buf = append(w.buf, ')')
	}
	return w.buf
}

// fastEncodable reports whether the fast encoder writes e.
func fastEncodable(e effect.Effect) bool {
	switch o := e.(type) {
	case ops.Append:
		return plainAppend(o)
	case ops.Commit:
		for _, a := range o.Appends {
			if !plainAppend(a) {
				return false
			}
		}
		for _, k := range o.Kv {
			if !plainString(k.Key) || !plainString(k.Value) {
				return false
			}
		}
		return true
	case ops.KvPut:
		return plainString(o.Key) && plainString(o.Value)
	case ops.KvGet:
		return plainString(o.Key)
	}
	return false
}

func plainAppend(a ops.Append) bool {
	if !plainString(a.Stream) {
		return false
	}
	for _, ev := range a.Events {
		if !plainString(ev.Type) || !plainString(ev.Data) {
			return false
		}
	}
	return true
}

// plainString reports whether s prints the same in SX and JSON with only
// " and \ escaped: printable ASCII other than JSON's HTML escapes (<, >
// and &, which sx.ToJSON writes as \u003c, \u003e and \u0026).
func plainString[T string | []byte](s T) bool {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c >= 0x7f || c == '<' || c == '>' || c == '&' {
			return false
		}
	}
	return true
}

// opWriter appends an operation in SX or JSON to buf.
type opWriter struct {
	buf  []byte
	json bool
}

// head writes the opening of the form and its name, and the separator
// before its fields.
func (w *opWriter) head(name string) {
	if w.json {
		w.buf = append(w.buf, '[', '"')
		w.buf = append(w.buf, name...)
		w.buf = append(w.buf, '"', ',')
		return
	}
	w.buf = append(w.buf, '(')
	w.buf = append(w.buf, name...)
	w.buf = append(w.buf, ' ')
}

func (w *opWriter) open()  { w.buf = append(w.buf, '{') }
func (w *opWriter) close() { w.buf = append(w.buf, '}') }

// key writes a dict key, after a separator unless it is the first.
func (w *opWriter) key(name string, first bool) {
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

// string writes a plain string (see plainString).
func (w *opWriter) string(s string) { w.buf = appendQuoted(w.buf, s) }

// bytes writes plain bytes as the string they print as.
func (w *opWriter) bytes(b []byte) { w.buf = appendQuoted(w.buf, b) }

// expect writes an expectation in its String form without building it.
func (w *opWriter) expect(e ops.Expect) {
	switch e.Kind {
	case ops.ExpectAny:
		w.buf = append(w.buf, `"any"`...)
	case ops.ExpectNoStream:
		w.buf = append(w.buf, `"no-stream"`...)
	case ops.ExpectExists:
		w.buf = append(w.buf, `"exists"`...)
	case ops.ExpectExact:
		w.buf = append(w.buf, '"')
		w.buf = strconv.AppendUint(w.buf, e.N, 10)
		w.buf = append(w.buf, '"')
	default:
		w.string(e.String())
	}
}

// appendQuoted appends plain s in quotes with " and \ escaped.
func appendQuoted[T string | []byte](buf []byte, s T) []byte {
	buf = append(buf, '"')
	start := 0
	for i := 0; i < len(s); i++ {
		if c := s[i]; c == '"' || c == '\\' {
			buf = append(buf, s[start:i]...)
			buf = append(buf, '\\', c)
			start = i + 1
		}
	}
	buf = append(buf, s[start:]...)
	return append(buf, '"')
}

func (w *opWriter) list(n int, item func(int)) {
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

func (w *opWriter) append(a ops.Append) {
	w.open()
	w.key("events", true)
	w.list(len(a.Events), func(i int) {
		ev := a.Events[i]
		w.open()
		w.key("data", true)
		w.bytes(ev.Data)
		if ev.ID != ([16]byte{}) {
			w.key("id", false)
			w.buf = append(w.buf, '"')
			w.uuid(ev.ID)
			w.buf = append(w.buf, '"')
		}
		w.key("type", false)
		w.string(ev.Type)
		w.close()
	})
	w.key("expect", false)
	w.expect(a.Expect)
	w.key("stream", false)
	w.string(a.Stream)
	w.close()
}

// uuid writes id in its canonical form, as uuid.UUID's String does.
func (w *opWriter) uuid(id [16]byte) {
	const hex = "0123456789abcdef"
	for i, b := range id {
		if i == 4 || i == 6 || i == 8 || i == 10 {
			w.buf = append(w.buf, '-')
		}
		w.buf = append(w.buf, hex[b>>4], hex[b&0xf])
	}
}

func (w *opWriter) change(k ops.KvChange) {
	w.open()
	w.key("delete", true)
	w.buf = strconv.AppendBool(w.buf, k.Delete)
	w.key("expect", false)
	w.expect(k.Expect)
	w.key("key", false)
	w.string(k.Key)
	w.key("value", false)
	w.bytes(k.Value)
	w.close()
}
