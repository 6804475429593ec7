package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"
	"unicode/utf8"

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

// marshalJSON gives r as one JSON object: the object encoding/json writes
// for jsonRecord(r) with HTML escaping off (keys in snake_case and sorted,
// as encoding/json writes a map), written here by appending, without the
// map and reflection, since every event printed in JSON passes through it.
// A value of a kind the appender does not know goes through encoding/json.
func marshalJSON(r record) ([]byte, error) {
	out, err := appendJSONRecord(make([]byte, 0, 256), r)
	if err != nil {
		return nil, fmt.Errorf("print JSON: %w", err)
	}
	return out, nil
}

// jsonField is a record's field ready for JSON: its key, and its value or
// the JSON text of stored data.
type jsonField struct {
	key string
	val any
	raw []byte // stored data as compact JSON text; val is unused then
}

func appendJSONRecord(buf []byte, r record) ([]byte, error) {
	fields := make([]jsonField, 0, len(r))
	for _, f := range r {
		key := f.key
		if strings.IndexByte(key, '-') >= 0 {
			key = strings.ReplaceAll(key, "-", "_")
		}
		if b, ok := f.val.(blob); ok {
			suffix, v := jsonData(b)
			if raw, ok := v.(json.RawMessage); ok {
				fields = append(fields, jsonField{key: key + suffix, raw: raw})
				continue
			}
			fields = append(fields, jsonField{key: key + suffix, val: v})
			continue
		}
		fields = append(fields, jsonField{key: key, val: f.val})
	}
	// Sorted by key; of two fields with one key the later wins, as it
	// does in a map.
	slices.SortStableFunc(fields, func(a, b jsonField) int { return strings.Compare(a.key, b.key) })
	buf = append(buf, '{')
	first := true
	for i, f := range fields {
		if i+1 < len(fields) && fields[i+1].key == f.key {
			continue
		}
		if !first {
			buf = append(buf, ',')
		}
		first = false
		buf = appendJSONString(buf, f.key)
		buf = append(buf, ':')
		if f.raw != nil {
			buf = append(buf, f.raw...)
			continue
		}
		var err error
		if buf, err = appendJSONValue(buf, f.val); err != nil {
			return nil, err
		}
	}
	return append(buf, '}'), nil
}

// appendJSONValue appends a field's value (other than a blob) as
// encoding/json writes what jsonValue gives for it.
func appendJSONValue(buf []byte, v any) ([]byte, error) {
	switch x := v.(type) {
	case string:
		return appendJSONString(buf, x), nil
	case int:
		return strconv.AppendInt(buf, int64(x), 10), nil
	case int64:
		return strconv.AppendInt(buf, x, 10), nil
	case uint64:
		return strconv.AppendUint(buf, x, 10), nil
	case uint32:
		return strconv.AppendUint(buf, uint64(x), 10), nil
	case bool:
		return strconv.AppendBool(buf, x), nil
	case nil:
		return append(buf, "null"...), nil
	case time.Time:
		buf = append(buf, '"')
		buf = x.UTC().AppendFormat(buf, time.RFC3339Nano)
		return append(buf, '"'), nil
	case time.Duration:
		return appendJSONString(buf, x.String()), nil
	case []string:
		buf = append(buf, '[')
		for i, s := range x {
			if i > 0 {
				buf = append(buf, ',')
			}
			buf = appendJSONString(buf, s)
		}
		return append(buf, ']'), nil
	case record:
		return appendJSONRecord(buf, x)
	case records:
		buf = append(buf, '[')
		for i, r := range x {
			if i > 0 {
				buf = append(buf, ',')
			}
			var err error
			if buf, err = appendJSONRecord(buf, r); err != nil {
				return nil, err
			}
		}
		return append(buf, ']'), nil
	}
	out, err := json.Marshal(jsonValue(v))
	if err != nil {
		return nil, err
	}
	return append(buf, out...), nil
}

// appendJSONString appends s as a JSON string, escaped as encoding/json
// escapes it with HTML escaping off: quote, backslash and control
// characters escaped (\b, \f, \n, \r and \t by name), U+2028 and U+2029
// as \u escapes, and each byte that is not UTF-8 as U+FFFD.
func appendJSONString(buf []byte, s string) []byte {
	const hex = "0123456789abcdef"
	buf = append(buf, '"')
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c >= 0x20 && c != '"' && c != '\\' && c < utf8.RuneSelf {
			i++
			continue
		}
		if c < utf8.RuneSelf {
			buf = append(buf, s[start:i]...)
			switch c {
			case '"', '\\':
				buf = append(buf, '\\', c)
			case '\b':
				buf = append(buf, '\\', 'b')
			case '\f':
				buf = append(buf, '\\', 'f')
			case '\n':
				buf = append(buf, '\\', 'n')
			case '\r':
				buf = append(buf, '\\', 'r')
			case '\t':
				buf = append(buf, '\\', 't')
			default:
				buf = append(buf, '\\', 'u', '0', '0', hex[c>>4], hex[c&0xf])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			buf = append(buf, s[start:i]...)
			buf = append(buf, "\\ufffd"...)
			i += size
			start = i
			continue
		}
		if r == '\u2028' || r == '\u2029' {
			buf = append(buf, s[start:i]...)
			buf = append(buf, '\\', 'u', '2', '0', '2', hex[r&0xf])
			i += size
			start = i
			continue
		}
		i += size
	}
	buf = append(buf, s[start:]...)
	return append(buf, '"')
}

// jsonRecord is r as the map encoding/json writes as marshalJSON's object;
// values of kinds the appender does not know pass through it.
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
