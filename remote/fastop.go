package remote

import (
	"strconv"

	"rose-ash.com/persist/effect"
	"rose-ash.com/persist/internal/plaintext"
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
	w := opWriter{plaintext.Writer{Buf: dst, JSON: asJSON}}
	w.head(e.EffectName())
	switch o := e.(type) {
	case ops.Append:
		w.append(o)
	case ops.Commit:
		w.Open()
		w.Key("appends", true)
		w.List(len(o.Appends), func(i int) { w.append(o.Appends[i]) })
		w.Key("kv", false)
		w.List(len(o.Kv), func(i int) { w.change(o.Kv[i]) })
		w.Close()
	case ops.KvPut:
		w.Open()
		w.Key("expect", true)
		w.expect(o.Expect)
		w.Key("key", false)
		w.String(o.Key)
		w.Key("value", false)
		w.Bytes(o.Value)
		w.Close()
	case ops.KvGet:
		w.Open()
		w.Key("key", true)
		w.String(o.Key)
		w.Close()
	}
	if asJSON {
		w.Buf = append(w.Buf, ']')
	} else {
		w.Buf = append(w.Buf, ')')
	}
	return w.Buf
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
type opWriter struct{ plaintext.Writer }

// head writes the opening of the form and its name, and the separator
// before its fields.
func (w *opWriter) head(name string) {
	if w.JSON {
		w.Buf = append(w.Buf, '[', '"')
		w.Buf = append(w.Buf, name...)
		w.Buf = append(w.Buf, '"', ',')
		return
	}
	w.Buf = append(w.Buf, '(')
	w.Buf = append(w.Buf, name...)
	w.Buf = append(w.Buf, ' ')
}

// expect writes an expectation in its String form without building it.
func (w *opWriter) expect(e ops.Expect) {
	switch e.Kind {
	case ops.ExpectAny:
		w.Buf = append(w.Buf, `"any"`...)
	case ops.ExpectNoStream:
		w.Buf = append(w.Buf, `"no-stream"`...)
	case ops.ExpectExists:
		w.Buf = append(w.Buf, `"exists"`...)
	case ops.ExpectExact:
		w.Buf = append(w.Buf, '"')
		w.Buf = strconv.AppendUint(w.Buf, e.N, 10)
		w.Buf = append(w.Buf, '"')
	default:
		w.String(e.String())
	}
}

func (w *opWriter) append(a ops.Append) {
	w.Open()
	w.Key("events", true)
	w.List(len(a.Events), func(i int) {
		ev := a.Events[i]
		w.Open()
		w.Key("data", true)
		w.Bytes(ev.Data)
		if ev.ID != ([16]byte{}) {
			w.Key("id", false)
			w.Buf = append(w.Buf, '"')
			w.uuid(ev.ID)
			w.Buf = append(w.Buf, '"')
		}
		w.Key("type", false)
		w.String(ev.Type)
		w.Close()
	})
	w.Key("expect", false)
	w.expect(a.Expect)
	w.Key("stream", false)
	w.String(a.Stream)
	w.Close()
}

// uuid writes id in its canonical form, as uuid.UUID's String does.
func (w *opWriter) uuid(id [16]byte) {
	const hex = "0123456789abcdef"
	for i, b := range id {
		if i == 4 || i == 6 || i == 8 || i == 10 {
			w.Buf = append(w.Buf, '-')
		}
		w.Buf = append(w.Buf, hex[b>>4], hex[b&0xf])
	}
}

func (w *opWriter) change(k ops.KvChange) {
	w.Open()
	w.Key("delete", true)
	w.Buf = strconv.AppendBool(w.Buf, k.Delete)
	w.Key("expect", false)
	w.expect(k.Expect)
	w.Key("key", false)
	w.String(k.Key)
	w.Key("value", false)
	w.Bytes(k.Value)
	w.Close()
}
