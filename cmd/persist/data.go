package main

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"unicode/utf8"

	"rose-ash.com/persist/sx"
)

// parseLiteral turns a DATA or VALUE argument into the bytes to store. The
// argument is an SX literal or a JSON literal; "@FILE" reads the literal from
// a file and "@-" from stdin. The bytes stored are the literal exactly as
// given, once it is known to parse.
func parseLiteral(arg string, stdin io.Reader) ([]byte, error) {
	var b []byte
	switch {
	case arg == "@-":
		if stdin == nil {
			return nil, errors.New("no standard input")
		}
		var err error
		if b, err = io.ReadAll(stdin); err != nil {
			return nil, fmt.Errorf("read standard input: %w", err)
		}
	case strings.HasPrefix(arg, "@"):
		var err error
		if b, err = os.ReadFile(arg[1:]); err != nil {
			return nil, err
		}
	default:
		b = []byte(arg)
	}
	if err := checkLiteral(b); err != nil {
		return nil, err
	}
	return b, nil
}

// checkLiteral accepts b when it is one JSON value or one SX value that
// the command can show again (a JSON number beyond float64, say, is not).
func checkLiteral(b []byte) error {
	if form, _ := classify(b); form != formBase64 {
		return nil
	}
	if !utf8.Valid(b) {
		return errors.New("not an SX or JSON literal: invalid UTF-8")
	}
	if json.Valid(b) {
		if _, err := jsonToSX(b); err != nil {
			return fmt.Errorf("JSON literal out of range: %v", err)
		}
	}
	_, err := sx.Read(string(b))
	if err == nil {
		return errors.New("not an SX or JSON literal")
	}
	return fmt.Errorf("not an SX or JSON literal: %s", strings.TrimPrefix(err.Error(), "sx: "))
}

// dataForm says how stored bytes are shown.
type dataForm int

const (
	formJSON   dataForm = iota // a JSON literal
	formSX                     // an SX literal that is not JSON
	formBase64                 // anything else, written by a program
)

// classify says what the stored bytes are and, for JSON and SX, their SX
// value.
func classify(b []byte) (dataForm, sx.Value) {
	if json.Valid(b) {
		if v, err := jsonToSX(b); err == nil {
			return formJSON, v
		}
	}
	if utf8.Valid(b) {
		if v, err := sx.Read(string(b)); err == nil {
			return formSX, v
		}
	}
	return formBase64, base64.StdEncoding.EncodeToString(b)
}

// jsonToSX reads one JSON value as SX: objects become dicts with string
// keys, arrays vectors, integral numbers int64 (others float64), null nil.
func jsonToSX(b []byte) (sx.Value, error) {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil, err
	}
	return fromJSON(v, 0)
}

func fromJSON(v any, depth int) (sx.Value, error) {
	if depth > sx.MaxDepth {
		return nil, fmt.Errorf("JSON value nests deeper than %d", sx.MaxDepth)
	}
	switch v := v.(type) {
	case nil, bool, string:
		return v, nil
	case json.Number:
		if i, err := v.Int64(); err == nil {
			return i, nil
		}
		f, err := v.Float64()
		if err != nil {
			return nil, err
		}
		return f, nil
	case []any:
		out := make(sx.Vector, len(v))
		for i, x := range v {
			y, err := fromJSON(x, depth+1)
			if err != nil {
				return nil, err
			}
			out[i] = y
		}
		return out, nil
	case map[string]any:
		d := sx.NewDict()
		for k, x := range v {
			y, err := fromJSON(x, depth+1)
			if err != nil {
				return nil, err
			}
			d.Set(k, y)
		}
		return d, nil
	}
	return nil, fmt.Errorf("unexpected JSON value %T", v)
}

// jsonData gives the JSON key suffix and value for stored bytes: the JSON
// literal itself (compacted onto one line), the SX text as a string under
// "<name>_sx", or base64 under "<name>_base64".
func jsonData(b []byte) (suffix string, raw json.RawMessage) {
	if json.Valid(b) {
		var buf bytes.Buffer
		if err := json.Compact(&buf, b); err == nil {
			return "", buf.Bytes()
		}
	}
	form, v := classify(b)
	if form == formSX {
		s, _ := json.Marshal(sx.Print(v))
		return "_sx", s
	}
	s, _ := json.Marshal(base64.StdEncoding.EncodeToString(b))
	return "_base64", s
}
