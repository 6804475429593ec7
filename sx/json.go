package sx

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"strconv"
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
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	v, err := fromJSONTokens(dec, 0)
	if err != nil {
		return nil, fmt.Errorf("sx: JSON: %w", err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, errors.New("sx: JSON: more than one value")
	}
	return v, nil
}

func fromJSONTokens(dec *json.Decoder, depth int) (Value, error) {
	tok, err := dec.Token()
	if err != nil {
		return nil, err
	}
	switch t := tok.(type) {
	case nil, bool, string:
		return t, nil
	case json.Number:
		return jsonNumber(t)
	case json.Delim:
		if depth >= MaxDepth {
			return nil, fmt.Errorf("nests deeper than %d", MaxDepth)
		}
		switch t {
		case '[':
			vs := Vector{}
			for dec.More() {
				v, err := fromJSONTokens(dec, depth+1)
				if err != nil {
					return nil, err
				}
				vs = append(vs, v)
			}
			_, err := dec.Token()
			return vs, err
		case '{':
			d := NewDict()
			for dec.More() {
				k, err := dec.Token()
				if err != nil {
					return nil, err
				}
				key := k.(string) // the decoder gives only strings as keys
				v, err := fromJSONTokens(dec, depth+1)
				if err != nil {
					return nil, err
				}
				if _, dup := d.Get(key); dup {
					return nil, fmt.Errorf("key %q twice in one object", key)
				}
				d.Set(key, v)
			}
			_, err := dec.Token()
			return d, err
		}
	}
	return nil, fmt.Errorf("unexpected token %v", tok)
}

func jsonNumber(n json.Number) (Value, error) {
	s := n.String()
	if !bytes.ContainsAny([]byte(s), ".eE") {
		if i, err := strconv.ParseInt(s, 10, 64); err == nil {
			return i, nil
		}
	}
	f, err := strconv.ParseFloat(s, 64)
	if err != nil {
		return nil, fmt.Errorf("number %s is out of range", s)
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
