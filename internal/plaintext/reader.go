package plaintext

import "bytes"

// The reading half: the plain subset of both notations that the writing
// half writes and the generic printers write for the common values. The
// fields of a dict have known keys, each once; strings escape only \" and
// \\ and hold only printable ASCII; integers are plain digits; tokens are
// separated by space, tab or line breaks. A reader gives up on anything
// else (a comment, a comma in SX, another escape, a non-ASCII byte, an
// unknown or repeated key, a value of another kind), and its caller hands
// the text to the generic decoder, so every error, and every answer to
// text outside the subset, is the generic decoder's own.

// MaxDigits bounds the integers a Reader reads: 18 digits always fit in
// an int64, so it never has to decide an overflow.
const MaxDigits = 18

// Reader reads the plain subset of SX or JSON from S at I, in JSON when
// JSON is set. Each method reads one token or value at I and reports
// false where the text leaves the subset, at which point the caller gives
// the whole text to its generic decoder.
type Reader struct {
	S    []byte
	I    int
	JSON bool
}

// Space skips white space and reports whether there was any.
func (r *Reader) Space() bool {
	start := r.I
	for r.I < len(r.S) {
		switch r.S[r.I] {
		case ' ', '\t', '\n', '\r':
			r.I++
		default:
			return r.I > start
		}
	}
	return r.I > start
}

func (r *Reader) Byte(c byte) bool {
	if r.I < len(r.S) && r.S[r.I] == c {
		r.I++
		return true
	}
	return false
}

// ended reports whether the token just read is followed by white space, a
// closing bracket or the end: no other token may touch it.
func (r *Reader) Ended() bool {
	if r.I == len(r.S) {
		return true
	}
	switch r.S[r.I] {
	case ' ', '\t', '\n', '\r', ')', ']', '}':
		return true
	case ',':
		return r.JSON
	}
	return false
}

// Symbol reads an SX symbol of lower-case letters, digits, '-' and '/'.
func (r *Reader) Symbol() ([]byte, bool) {
	start := r.I
	for r.I < len(r.S) {
		c := r.S[r.I]
		if ('a' <= c && c <= 'z') || c == '-' || c == '/' || ('0' <= c && c <= '9' && r.I > start) {
			r.I++
			continue
		}
		break
	}
	if r.I == start || !r.Ended() {
		return nil, false
	}
	return r.S[start:r.I], true
}

// PlainString reads a string without escapes: a key or a name.
func (r *Reader) PlainString() ([]byte, bool) {
	if !r.Byte('"') {
		return nil, false
	}
	start := r.I
	for r.I < len(r.S) {
		c := r.S[r.I]
		if c == '"' {
			out := r.S[start:r.I]
			r.I++
			return out, r.Ended() || r.JSON
		}
		if c < 0x20 || c >= 0x7f || c == '\\' {
			return nil, false
		}
		r.I++
	}
	return nil, false
}

// Bytes reads a string as its bytes: a slice of the text when it has no
// escape, else a fresh copy with \" and \\ decoded.
func (r *Reader) Bytes() ([]byte, bool) {
	b, _, ok := r.Text()
	return b, ok
}

// Text reads a string as bytes; fresh reports a copy, which the caller may
// keep.
func (r *Reader) Text() (b []byte, fresh, ok bool) {
	if !r.Byte('"') {
		return nil, false, false
	}
	start := r.I
	escapes := 0
	for r.I < len(r.S) {
		if !textStop[r.S[r.I]] {
			r.I++
			continue
		}
		c := r.S[r.I]
		switch {
		case c == '"':
			raw := r.S[start:r.I]
			r.I++
			if !r.Ended() {
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
			if r.I+1 >= len(r.S) || (r.S[r.I+1] != '"' && r.S[r.I+1] != '\\') {
				return nil, false, false
			}
			escapes++
			r.I += 2
		case c < 0x20 || c >= 0x7f:
			return nil, false, false
		default:
			r.I++
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

func (r *Reader) String() (string, bool) {
	b, ok := r.Bytes()
	return string(b), ok
}

// Data reads bytes as sx.ToGo stores a string in a []byte: a copy, and nil
// for the empty string.
func (r *Reader) Data() ([]byte, bool) {
	b, fresh, ok := r.Text()
	if !ok || len(b) == 0 {
		return nil, ok
	}
	if fresh {
		return b, true
	}
	return append([]byte(nil), b...), true
}

// Uint reads plain digits: no sign, no leading zero, at most
// MaxDigits.
func (r *Reader) Uint() (uint64, bool) {
	start := r.I
	var n uint64
	for r.I < len(r.S) && '0' <= r.S[r.I] && r.S[r.I] <= '9' {
		n = n*10 + uint64(r.S[r.I]-'0')
		r.I++
	}
	d := r.I - start
	if d == 0 || d > MaxDigits || (d > 1 && r.S[start] == '0') || !r.Ended() {
		return 0, false
	}
	return n, true
}

func (r *Reader) Int() (int, bool) {
	n, ok := r.Uint()
	return int(n), ok && uint64(int(n)) == n
}

func (r *Reader) Bool() (bool, bool) {
	for _, w := range [...]string{"false", "true"} {
		if len(r.S)-r.I >= len(w) && string(r.S[r.I:r.I+len(w)]) == w {
			r.I += len(w)
			return w == "true", r.Ended()
		}
	}
	return false, false
}

// Dict reads a dict, calling entry with each key; entry reads the value
// and reports false to give up. A key read twice gives up: keys index
// seen, at most 64 of them.
func (r *Reader) Dict(keys []string, entry func(k int) bool) bool {
	if !r.Byte('{') {
		return false
	}
	var seen uint64
	for first := true; ; first = false {
		r.Space()
		if r.Byte('}') {
			return r.Ended()
		}
		if r.JSON && !first {
			if !r.Byte(',') {
				return false
			}
			r.Space()
		}
		var key []byte
		var ok bool
		if r.JSON {
			key, ok = r.PlainString()
			r.Space()
			ok = ok && r.Byte(':')
		} else {
			ok = r.Byte(':')
			if ok {
				key, ok = r.Symbol()
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
		r.Space()
		if !entry(k) {
			return false
		}
		if !r.JSON && r.I < len(r.S) && r.S[r.I] != '}' && !r.Space() {
			return false
		}
	}
}

// Vector reads a vector, calling item at each element; an empty vector is
// nil, as the generic decoder stores it.
func (r *Reader) Vector(item func() bool) bool {
	if !r.Byte('[') {
		return false
	}
	for first := true; ; first = false {
		r.Space()
		if r.Byte(']') {
			return r.Ended()
		}
		if r.JSON && !first {
			if !r.Byte(',') {
				return false
			}
			r.Space()
		}
		if !item() {
			return false
		}
		if !r.JSON && r.I < len(r.S) && r.S[r.I] != ']' && !r.Space() {
			return false
		}
	}
}
