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

	"rose-ash.com/persist/ops"
	"rose-ash.com/persist/sx"
)

// errOverLimit is the error of a literal read from a file or standard
// input that is larger than an event's data or a kv value may be.
var errOverLimit = fmt.Errorf("over the limit of %d bytes", ops.MaxDataBytes)

// parseLiteral turns a DATA or VALUE argument into the bytes to store. The
// argument is an SX literal or a JSON literal; "@FILE" reads the literal from
// a file and "@-" from stdin, at most ops.MaxDataBytes of it (one byte more
// is an error matching errOverLimit, and nothing more is read). The bytes
// stored are the literal exactly as given, once it is known to parse.
func parseLiteral(arg string, stdin io.Reader) ([]byte, error) {
	var b []byte
	switch {
	case arg == "@-":
		if stdin == nil {
			return nil, errors.New("no standard input")
		}
		var err error
		if b, err = readLimited(stdin); err != nil {
			return nil, fmt.Errorf("standard input: %w", err)
		}
	case strings.HasPrefix(arg, "@"):
		f, err := os.Open(arg[1:])
		if err != nil {
			return nil, err
		}
		b, err = readLimited(f)
		_ = f.Close() // read only
		if err != nil {
			return nil, fmt.Errorf("%s: %w", arg[1:], err)
		}
	default:
		b = []byte(arg)
	}
	if err := checkLiteral(b); err != nil {
		return nil, err
	}
	return b, nil
}

// readLimited reads r to its end, or to one byte past ops.MaxDataBytes.
func readLimited(r io.Reader) ([]byte, error) {
	b, err := io.ReadAll(io.LimitReader(r, ops.MaxDataBytes+1))
	if err != nil {
		return nil, err
	}
	if len(b) > ops.MaxDataBytes {
		return nil, errOverLimit
	}
	return b, nil
}

// checkLiteral accepts b when it is one JSON value or one SX value that
// the command can show again (a JSON number beyond float64, say, is not).
// Text that is not valid UTF-8 is neither, even inside a JSON string.
func checkLiteral(b []byte) error {
	if !utf8.Valid(b) {
		return errors.New("not an SX or JSON literal: invalid UTF-8")
	}
	if form, _ := classify(b); form != formBase64 {
		return nil
	}
	if json.Valid(b) {
		if _, err := sx.FromJSON(b); err != nil {
			return fmt.Errorf("JSON literal refused: %s", strings.TrimPrefix(err.Error(), "sx: JSON: "))
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
// value (sx.FromJSON for JSON); for anything else their base64.
func classify(b []byte) (dataForm, sx.Value) {
	if json.Valid(b) {
		if v, err := sx.FromJSON(b); err == nil {
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

// jsonData gives the JSON key suffix and value for stored bytes: JSON as
// stored (compacted) and SX as its JSON form (sx.ToJSON), both under the key
// itself; SX that has no JSON form as its text under "<name>_sx"; anything
// else as base64 under "<name>_base64".
func jsonData(b []byte) (suffix string, v any) {
	switch form, val := classify(b); form {
	case formJSON:
		var buf bytes.Buffer
		if err := json.Compact(&buf, b); err == nil {
			return "", json.RawMessage(buf.Bytes())
		}
		return "_sx", sx.Print(val)
	case formSX:
		if out, err := sx.ToJSON(val); err == nil {
			return "", json.RawMessage(out)
		}
		return "_sx", sx.Print(val)
	default:
		return "_base64", val
	}
}
