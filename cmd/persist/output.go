package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"rose-ash.com/persist/ops"
	"rose-ash.com/persist/sx"
)

// field is one entry of an output record. Its value is a string, a number,
// a bool, a time.Time, a time.Duration, a []string, stored bytes (blob), a
// nested record or a list of records.
type field struct {
	key string
	val any
}

// blob is stored data or a kv value: shown as its SX or JSON value.
type blob []byte

type record []field

// records is a list of records, printed as a vector (an array in JSON).
type records []record

// Output formats, the values of -o.
const (
	outSX    = "sx"
	outJSON  = "json"
	outTable = "table"
)

// writer prints records, one per line: in SX notation, as JSON lines, or as
// the rows of a table under a header of the first record's keys.
type writer struct {
	w      *bufio.Writer
	format string

	tw      *tabwriter.Writer // the table, for -o table
	columns []string          // the table's columns, once its header is written
}

func newWriter(w io.Writer, g *globals) *writer {
	o := &writer{w: bufio.NewWriter(w), format: g.output}
	if o.format == outTable {
		o.tw = tabwriter.NewWriter(o.w, 0, 0, 2, ' ', 0)
	}
	return o
}

func (o *writer) write(r record) error {
	switch o.format {
	case outJSON:
		line, err := marshalJSON(r)
		if err != nil {
			return err
		}
		_, err = o.w.Write(append(line, '\n'))
		return err
	case outTable:
		return o.row(r)
	}
	_, err := o.w.Write(append(sx.AppendPrint(nil, toSX(r)), '\n'))
	return err
}

// flush writes out what is buffered; follow mode calls it after every batch.
func (o *writer) flush() error {
	if o.tw != nil {
		if err := o.tw.Flush(); err != nil {
			return err
		}
	}
	return o.w.Flush()
}

func toSX(r record) *sx.Dict {
	d := sx.NewDict()
	for _, f := range r {
		key, v := f.key, f.val
		if b, ok := v.(blob); ok {
			form, sv := classify(b)
			if form == formBase64 {
				key += "-base64"
			}
			d.Set(sx.Keyword(key), sv)
			continue
		}
		d.Set(sx.Keyword(key), sxValue(v))
	}
	return d
}

// sxValue is a field's value (other than a blob) as SX.
func sxValue(v any) sx.Value {
	switch x := v.(type) {
	case record:
		return toSX(x)
	case records:
		vs := make(sx.Vector, len(x))
		for i, r := range x {
			vs[i] = toSX(r)
		}
		return vs
	case int:
		return int64(x)
	case uint64:
		return int64(x)
	case uint32:
		return int64(x)
	case time.Time:
		return x.UTC().Format(time.RFC3339Nano)
	case time.Duration:
		return x.String()
	case []string:
		out := make(sx.Vector, len(x))
		for i, s := range x {
			out[i] = s
		}
		return out
	}
	return v
}

// marshalJSON gives r as one JSON object. Every value is a typed Go value
// that encoding/json encodes; keys are in snake_case and, as encoding/json
// writes a map, sorted, as in SX output.
func marshalJSON(r record) ([]byte, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(jsonRecord(r)); err != nil {
		return nil, fmt.Errorf("print JSON: %w", err)
	}
	return bytes.TrimSuffix(buf.Bytes(), []byte("\n")), nil
}

func jsonRecord(r record) map[string]any {
	out := make(map[string]any, len(r))
	for _, f := range r {
		key := strings.ReplaceAll(f.key, "-", "_")
		if b, ok := f.val.(blob); ok {
			suffix, v := jsonData(b)
			out[key+suffix] = v
			continue
		}
		out[key] = jsonValue(f.val)
	}
	return out
}

// jsonValue is a field's value (other than a blob) as a value encoding/json
// encodes.
func jsonValue(v any) any {
	switch x := v.(type) {
	case record:
		return jsonRecord(x)
	case records:
		vs := make([]map[string]any, len(x))
		for i, r := range x {
			vs[i] = jsonRecord(r)
		}
		return vs
	case time.Time:
		return x.UTC().Format(time.RFC3339Nano)
	case time.Duration:
		return x.String()
	case []string:
		if x == nil {
			return []string{}
		}
	}
	return v
}

// row writes r as a row of the table, after the header when it is the
// first. The header names the first record's fields; a later record shows
// its values under those names ("-" for one it lacks) and any other field
// after them as name=value. Nested values and data are shown in SX
// notation, text without quotes.
func (o *writer) row(r record) error {
	var line strings.Builder
	if o.columns == nil {
		for i, f := range r {
			if i > 0 {
				line.WriteByte('\t')
			}
			line.WriteString(strings.ToUpper(f.key))
			o.columns = append(o.columns, f.key)
		}
		line.WriteByte('\n')
	}
	byKey := make(map[string]any, len(r))
	for _, f := range r {
		byKey[f.key] = f.val
	}
	for i, k := range o.columns {
		if i > 0 {
			line.WriteByte('\t')
		}
		v, ok := byKey[k]
		if !ok {
			line.WriteByte('-')
			continue
		}
		line.WriteString(cell(v))
		delete(byKey, k)
	}
	for _, f := range r {
		if _, extra := byKey[f.key]; extra {
			line.WriteString("\t" + f.key + "=" + cell(f.val))
		}
	}
	line.WriteByte('\n')
	_, err := io.WriteString(o.tw, line.String())
	return err
}

// cell is a field's value as a table shows it.
func cell(val any) string {
	var v sx.Value
	if b, ok := val.(blob); ok {
		_, v = classify(b)
	} else {
		v = sxValue(val)
	}
	if s, ok := v.(string); ok && s != "" && !strings.ContainsAny(s, "\t\n\r\" ") {
		return s // plain text needs no quotes in a table
	}
	return sx.Print(v) // escapes tabs and new lines
}

func eventRecord(ev ops.Event) record {
	return record{
		{"stream", ev.Stream},
		{"seq", ev.Seq},
		{"pos", ev.Pos},
		{"type", ev.Type},
		{"at", ev.At},
		{"id", ev.ID.String()},
		{"data", blob(ev.Data)},
	}
}

func kvRecord(e ops.KvEntry) record {
	return record{
		{"key", e.Key},
		{"revision", e.Revision},
		{"value", blob(e.Value)},
	}
}
