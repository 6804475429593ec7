package sx

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"strconv"
	"unicode/utf16"
	"unicode/utf8"
)

// FromJSON reads one JSON value (RFC 8259) as SX: an object becomes a
// *Dict with string keys, an array a Vector, a number without fraction or
// exponent that fits in int64 an int64 and any other number a float64, a
// string a string, true and false bools, null nil. Text that is not valid
// UTF-8, a number beyond float64, two equal keys in one object, nesting
// deeper than MaxDepth and anything after the value are errors.
func FromJSON(b []byte) (Value, error) {
	if !utf8.Valid(b) {
		return nil, errors.New("sx: JSON text is not valid UTF-8")
	}
	r := jsonReader{s: b}
	r.space()
	v, err := r.value(0)
	if err != nil {
		return nil, fmt.Errorf("sx: JSON: %w", err)
	}
	r.space()
	if r.off < len(r.s) {
		return nil, fmt.Errorf("sx: JSON: more than one value (offset %d)", r.off)
	}
	return v, nil
}

// jsonReader reads JSON text (RFC 8259) by hand, one byte at a time, into
// SX values: a third of the allocations of encoding/json's token decoder,
// which every JSON datum and JSON request went through. Its errors name
// the byte offset. Strings decode as encoding/json decodes them: a lone
// surrogate escape becomes U+FFFD.
type jsonReader struct {
	s   []byte
	off int
}

func (r *jsonReader) space() {
	for r.off < len(r.s) {
		switch r.s[r.off] {
		case ' ', '\t', '\n', '\r':
			r.off++
		default:
			return
		}
	}
}

func (r *jsonReader) errf(format string, args ...any) error {
	return fmt.Errorf("offset %d: %s", r.off, fmt.Sprintf(format, args...))
}

// unexpected describes the byte at the offset, or the end of the text.
func (r *jsonReader) unexpected(want string) error {
	if r.off >= len(r.s) {
		return r.errf("text ends where %s should be", want)
	}
	c, _ := utf8.DecodeRune(r.s[r.off:])
	return r.errf("%q where %s should be", c, want)
}

func (r *jsonReader) value(depth int) (Value, error) {
	if r.off >= len(r.s) {
		return nil, r.unexpected("a value")
	}
	switch c := r.s[r.off]; {
	case c == '{' || c == '[':
		if depth >= MaxDepth {
			return nil, fmt.Errorf("nests deeper than %d", MaxDepth)
		}
		if c == '{' {
			return r.object(depth)
		}
		return r.array(depth)
	case c == '"':
		return r.string()
	case c == '-' || (c >= '0' && c <= '9'):
		return r.number()
	case c == 't':
		return r.literal("true", true)
	case c == 'f':
		return r.literal("false", false)
	case c == 'n':
		return r.literal("null", nil)
	}
	return nil, r.unexpected("a value")
}

func (r *jsonReader) literal(word string, v Value) (Value, error) {
	if !bytes.HasPrefix(r.s[r.off:], []byte(word)) {
		return nil, r.unexpected(word)
	}
	r.off += len(word)
	return v, nil
}

// empty reads the close of an empty array or object, if it is next.
func (r *jsonReader) empty(close byte) bool {
	r.space()
	if r.off < len(r.s) && r.s[r.off] == close {
		r.off++
		return true
	}
	return false
}

// more reads what follows an element of an array or an object: true after
// a comma, false after close.
func (r *jsonReader) more(close byte) (bool, error) {
	r.space()
	if r.off < len(r.s) {
		switch r.s[r.off] {
		case ',':
			r.off++
			return true, nil
		case close:
			r.off++
			return false, nil
		}
	}
	return false, r.unexpected(fmt.Sprintf("',' or '%c'", close))
}

func (r *jsonReader) array(depth int) (Value, error) {
	r.off++ // [
	vs := Vector{}
	if r.empty(']') {
		return vs, nil
	}
	for more := true; more; {
		r.space()
		v, err := r.value(depth + 1)
		if err != nil {
			return nil, err
		}
		vs = append(vs, v)
		if more, err = r.more(']'); err != nil {
			return nil, err
		}
	}
	return vs, nil
}

func (r *jsonReader) object(depth int) (Value, error) {
	r.off++ // {
	d := &Dict{}
	if r.empty('}') {
		return d, nil
	}
	for more := true; more; {
		r.space()
		if r.off >= len(r.s) || r.s[r.off] != '"' {
			return nil, r.unexpected("a string key")
		}
		k, err := r.string()
		if err != nil {
			return nil, err
		}
		key := k.(string)
		r.space()
		if r.off >= len(r.s) || r.s[r.off] != ':' {
			return nil, r.unexpected("':'")
		}
		r.off++
		r.space()
		v, err := r.value(depth + 1)
		if err != nil {
			return nil, err
		}
		p, _ := printKey(key)
		d.ents = append(d.ents, dictEntry{Entry: Entry{Key: key, Val: v}, p: p})
		if more, err = r.more('}'); err != nil {
			return nil, err
		}
	}
	if d.sort() {
		for i := 1; i < len(d.ents); i++ {
			if d.ents[i].p == d.ents[i-1].p {
				return nil, fmt.Errorf("key %q twice in one object", d.ents[i].Key)
			}
		}
	}
	return d, nil
}

// string reads a string at the offset, its opening quote included. The
// text is valid UTF-8 (FromJSON checked), so only escapes and control
// characters need a look.
func (r *jsonReader) string() (Value, error) {
	r.off++ // "
	start := r.off
	for r.off < len(r.s) {
		c := r.s[r.off]
		if c == '"' {
			s := string(r.s[start:r.off])
			r.off++
			return s, nil
		}
		if c == '\\' {
			return r.escaped(start)
		}
		if c < 0x20 {
			return nil, r.errf("control character %q in a string", c)
		}
		r.off++
	}
	return nil, r.unexpected("the end of the string")
}

// escaped goes on reading a string that started at start and holds an
// escape at the offset.
func (r *jsonReader) escaped(start int) (Value, error) {
	buf := append([]byte(nil), r.s[start:r.off]...)
	for r.off < len(r.s) {
		c := r.s[r.off]
		switch {
		case c == '"':
			r.off++
			return string(buf), nil
		case c < 0x20:
			return nil, r.errf("control character %q in a string", c)
		case c != '\\':
			buf = append(buf, c)
			r.off++
			continue
		}
		if r.off+1 >= len(r.s) {
			r.off++
			return nil, r.unexpected("an escape")
		}
		e := r.s[r.off+1]
		switch e {
		case '"', '\\', '/':
			buf = append(buf, e)
		case 'b':
			buf = append(buf, '\b')
		case 'f':
			buf = append(buf, '\f')
		case 'n':
			buf = append(buf, '\n')
		case 'r':
			buf = append(buf, '\r')
		case 't':
			buf = append(buf, '\t')
		case 'u':
			r.off += 2
			c1, ok := r.hex4()
			if !ok {
				return nil, r.errf("a \\u escape wants four hex digits")
			}
			r.off += 4
			if utf16.IsSurrogate(c1) {
				if r.off+6 <= len(r.s) && r.s[r.off] == '\\' && r.s[r.off+1] == 'u' {
					r.off += 2
					c2, ok := r.hex4()
					if !ok {
						return nil, r.errf("a \\u escape wants four hex digits")
					}
					if dec := utf16.DecodeRune(c1, c2); dec != utf8.RuneError {
						buf = utf8.AppendRune(buf, dec)
						r.off += 4
						continue
					}
					r.off -= 2 // not a pair: the second escape stands alone
				}
				c1 = utf8.RuneError
			}
			buf = utf8.AppendRune(buf, c1)
			continue
		default:
			r.off++
			return nil, r.errf("escape \\%c is not JSON", e)
		}
		r.off += 2
	}
	return nil, r.unexpected("the end of the string")
}

func (r *jsonReader) hex4() (rune, bool) {
	if r.off+4 > len(r.s) {
		return 0, false
	}
	var v rune
	for _, c := range r.s[r.off : r.off+4] {
		switch {
		case c >= '0' && c <= '9':
			c -= '0'
		case c >= 'a' && c <= 'f':
			c -= 'a' - 10
		case c >= 'A' && c <= 'F':
			c -= 'A' - 10
		default:
			return 0, false
		}
		v = v<<4 | rune(c)
	}
	return v, true
}

// number reads a number: an int64 when it has no fraction or exponent and
// fits, else a float64; beyond float64 it is an error.
func (r *jsonReader) number() (Value, error) {
	start := r.off
	if r.s[r.off] == '-' {
		r.off++
	}
	digits := func() int {
		n := 0
		for r.off < len(r.s) && r.s[r.off] >= '0' && r.s[r.off] <= '9' {
			r.off++
			n++
		}
		return n
	}
	switch {
	case r.off < len(r.s) && r.s[r.off] == '0':
		r.off++
	case digits() == 0:
		return nil, r.unexpected("a digit")
	}
	integer := true
	if r.off < len(r.s) && r.s[r.off] == '.' {
		integer = false
		r.off++
		if digits() == 0 {
			return nil, r.unexpected("a digit")
		}
	}
	if r.off < len(r.s) && (r.s[r.off] == 'e' || r.s[r.off] == 'E') {
		integer = false
		r.off++
		if r.off < len(r.s) && (r.s[r.off] == '+' || r.s[r.off] == '-') {
			r.off++
		}
		if digits() == 0 {
			return nil, r.unexpected("a digit")
		}
	}
	text := string(r.s[start:r.off])
	if integer {
		if i, err := strconv.ParseInt(text, 10, 64); err == nil {
			return i, nil
		}
	}
	f, err := strconv.ParseFloat(text, 64)
	if err != nil {
		return nil, fmt.Errorf("number %s is out of range", text)
	}
	return f, nil
}

// ToJSON writes v as one line of JSON: nil as null, bools, int64s and
// float64s as numbers (floats with a fraction or an exponent, as Print
// writes them, so they read back as floats), strings as strings, Keywords
// and Symbols as strings of their names (:order is "order"), Lists and
// Vectors as arrays, and a *Dict as an object, its keys strings or
// Keywords (by name), in the order Print sorts them. NaN and infinities,
// strings that are not valid UTF-8, other dict keys, and two keys with the
// same name (:a and "a") have no JSON form and are errors.
//
// For a v that FromJSON gives, FromJSON(ToJSON(v)) is Equal to v.
func ToJSON(v Value) ([]byte, error) {
	g, err := toJSONValue(v, 0)
	if err != nil {
		return nil, err
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(g); err != nil {
		return nil, fmt.Errorf("sx: to JSON: %w", err)
	}
	return bytes.TrimSuffix(buf.Bytes(), []byte("\n")), nil
}

// jsonObject is a dict as JSON: encoding/json writes a map's keys sorted,
// and so the order of the keys is that of their names.
type jsonObject = map[string]any

func toJSONValue(v Value, depth int) (any, error) {
	switch x := v.(type) {
	case nil, bool, int64:
		return x, nil
	case float64:
		if math.IsNaN(x) || math.IsInf(x, 0) {
			return nil, fmt.Errorf("sx: to JSON: %s has no JSON form", Print(x))
		}
		return json.Number(appendFloat(nil, x)), nil
	case string:
		if !utf8.ValidString(x) {
			return nil, fmt.Errorf("sx: to JSON: string %s is not valid UTF-8", Print(x))
		}
		return x, nil
	case Keyword:
		return string(x), nil
	case Symbol:
		return string(x), nil
	case List:
		return toJSONSeq(x, depth)
	case Vector:
		return toJSONSeq(x, depth)
	case *Dict:
		if depth >= MaxDepth {
			return nil, tooDeepJSON()
		}
		out := make(jsonObject, x.Len())
		for k, val := range x.All() {
			var name string
			switch kk := k.(type) {
			case string:
				if !utf8.ValidString(kk) {
					return nil, fmt.Errorf("sx: to JSON: key %s is not valid UTF-8", Print(kk))
				}
				name = kk
			case Keyword:
				name = string(kk)
			default:
				return nil, fmt.Errorf("sx: to JSON: dict key %s is neither a string nor a keyword", Print(k))
			}
			if _, dup := out[name]; dup {
				return nil, fmt.Errorf("sx: to JSON: two keys named %q", name)
			}
			g, err := toJSONValue(val, depth+1)
			if err != nil {
				return nil, err
			}
			out[name] = g
		}
		return out, nil
	}
	return nil, notSX(v)
}

func toJSONSeq(vs []Value, depth int) (any, error) {
	if depth >= MaxDepth {
		return nil, tooDeepJSON()
	}
	out := make([]any, len(vs))
	for i, v := range vs {
		g, err := toJSONValue(v, depth+1)
		if err != nil {
			return nil, err
		}
		out[i] = g
	}
	return out, nil
}

func tooDeepJSON() error {
	return fmt.Errorf("sx: to JSON: nests deeper than %d", MaxDepth)
}

// DataJSON gives data, the bytes of an event or a value, as JSON text: data
// that is valid JSON comes back as it is, and data that is SX text is read
// and converted with [ToJSON]. JSON is tried first, so text that is both
// (17, "a", [1, 2], true) keeps its JSON meaning, which is also its SX
// meaning; null is JSON's null, never the SX symbol. Data that is neither
// is an error naming both problems. Data that is not valid UTF-8 is an
// error even where encoding/json would take it, so what DataJSON gives is
// always JSON text a strict reader accepts. Two equal keys in one object
// pass as they are: the bytes are the writer's, and RFC 8259 leaves them
// to the reader.
func DataJSON(data []byte) ([]byte, error) {
	if utf8.Valid(data) && json.Valid(data) {
		return data, nil
	}
	return sxToJSON(data)
}

// Unmarshal decodes data, JSON or SX text, into the value v points to, as
// encoding/json decodes the JSON form (json.Unmarshal of [DataJSON]): so
// {:order 17} and {"order": 17} decode to the same struct, by the struct's
// JSON field names and tags. Errors of the JSON decoder (a field of the
// wrong type) are returned as they are. Data that is not valid UTF-8 is an
// error, as it is for DataJSON, and v is untouched.
func Unmarshal(data []byte, v any) error {
	if !utf8.Valid(data) {
		return errors.New("sx: data is neither JSON nor SX: not valid UTF-8")
	}
	err := json.Unmarshal(data, v)
	var syn *json.SyntaxError
	if err == nil || !errors.As(err, &syn) {
		return err
	}
	// Not JSON: json.Unmarshal checks the whole text before it stores
	// anything, so v is untouched.
	j, err := sxToJSON(data)
	if err != nil {
		return err
	}
	return json.Unmarshal(j, v)
}

func sxToJSON(data []byte) ([]byte, error) {
	jerr := json.Unmarshal(data, new(json.RawMessage))
	if !utf8.Valid(data) {
		return nil, fmt.Errorf("sx: data is neither JSON nor SX: not valid UTF-8")
	}
	v, err := Read(string(data))
	if err != nil {
		return nil, &DataError{JSON: jerr, SX: err}
	}
	return ToJSON(v)
}

// DataError is data that is neither JSON nor SX text: it carries why each
// reading failed.
type DataError struct {
	JSON error // from encoding/json
	SX   error // a *SyntaxError from Read
}

func (e *DataError) Error() string {
	return fmt.Sprintf("sx: data is neither JSON (%v) nor SX (%v)", e.JSON, e.SX)
}

// Unwrap gives both errors, so errors.As reaches a *json.SyntaxError and
// an SX *SyntaxError alike.
func (e *DataError) Unwrap() []error { return []error{e.JSON, e.SX} }
