// Package plaintext writes and reads the plain form of SX and JSON values:
// dicts with keys in the order the caller writes them, lists, unsigned
// integers, booleans, nil and strings in which only " and \ need
// escaping. Writer appends it to a byte buffer and Reader reads it back.
// They are the direct paths of package server (it reads the common
// operations and writes their answers) and package remote (it writes the
// operations and reads their answers and events), which handle the common
// values byte for byte as the generic sx printer and reader would and
// leave everything else to them; what counts as plain (which strings and
// numbers they hand over) is each caller's rule, since they print through
// different generic encoders.
package plaintext

import "strconv"

// Writer appends to Buf, in JSON when JSON is set and in SX otherwise.
type Writer struct {
	Buf  []byte
	JSON bool
}

// Open and Close write the braces of a dict.
func (w *Writer) Open()  { w.Buf = append(w.Buf, '{') }
func (w *Writer) Close() { w.Buf = append(w.Buf, '}') }

// Nil writes nil (SX) or null (JSON).
func (w *Writer) Nil() {
	if w.JSON {
		w.Buf = append(w.Buf, "null"...)
	} else {
		w.Buf = append(w.Buf, "nil"...)
	}
}

// Key writes a dict key, after a separator unless it is the first.
func (w *Writer) Key(name string, first bool) {
	switch {
	case w.JSON && first:
		w.Buf = append(w.Buf, '"')
	case w.JSON:
		w.Buf = append(w.Buf, ',', '"')
	case first:
		w.Buf = append(w.Buf, ':')
	default:
		w.Buf = append(w.Buf, ' ', ':')
	}
	w.Buf = append(w.Buf, name...)
	if w.JSON {
		w.Buf = append(w.Buf, '"', ':')
	} else {
		w.Buf = append(w.Buf, ' ')
	}
}

// Uint writes n in decimal.
func (w *Writer) Uint(n uint64) { w.Buf = strconv.AppendUint(w.Buf, n, 10) }

// Bool writes true or false.
func (w *Writer) Bool(b bool) { w.Buf = strconv.AppendBool(w.Buf, b) }

// String writes a plain string in quotes, with " and \ escaped.
func (w *Writer) String(s string) { w.Buf = AppendQuoted(w.Buf, s) }

// Bytes writes plain bytes as the string they print as.
func (w *Writer) Bytes(b []byte) { w.Buf = AppendQuoted(w.Buf, b) }

// List writes a list of n items, each written by item.
func (w *Writer) List(n int, item func(int)) {
	w.Buf = append(w.Buf, '[')
	for i := range n {
		if i > 0 {
			if w.JSON {
				w.Buf = append(w.Buf, ',')
			} else {
				w.Buf = append(w.Buf, ' ')
			}
		}
		item(i)
	}
	w.Buf = append(w.Buf, ']')
}

// AppendQuoted appends s in quotes with " and \ escaped; it is for plain
// strings only (no control or non-ASCII bytes, which the two notations
// print differently).
func AppendQuoted[T string | []byte](buf []byte, s T) []byte {
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
