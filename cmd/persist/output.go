package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"time"

	"rose-ash.com/persist/ops"
	"rose-ash.com/persist/sx"
)

// field is one entry of an output record. Its value is a string, a number,
// a bool, a time.Time, stored bytes (blob), a nested record or an SX value.
type field struct {
	key string
	val any
}

// blob is stored data or a kv value: shown as its SX or JSON value.
type blob []byte

type record []field

// records is a list of records, printed as a vector (an array in JSON).
type records []record

// writer prints records, one per line, in SX notation or as JSON lines.
type writer struct {
	w    *bufio.Writer
	json bool
}

func newWriter(w io.Writer, g *globals) *writer {
	return &writer{w: bufio.NewWriter(w), json: g.output == "json"}
}

func (o *writer) write(r record) error {
	var line []byte
	if o.json {
		line = appendJSON(nil, r)
	} else {
		line = sx.AppendPrint(nil, toSX(r))
	}
	line = append(line, '\n')
	_, err := o.w.Write(line)
	return err
}

// flush writes out what is buffered; follow mode calls it after every batch.
func (o *writer) flush() error { return o.w.Flush() }

func toSX(r record) *sx.Dict {
	d := sx.NewDict()
	for _, f := range r {
		key, v := f.key, f.val
		switch x := v.(type) {
		case blob:
			form, sv := classify(x)
			if form == formBase64 {
				key += "-base64"
			}
			v = sv
		case record:
			v = toSX(x)
		case records:
			vs := make(sx.Vector, len(x))
			for i, r := range x {
				vs[i] = toSX(r)
			}
			v = vs
		default:
			v = sxScalar(x)
		}
		d.Set(sx.Keyword(key), v)
	}
	return d
}

func sxScalar(v any) sx.Value {
	switch x := v.(type) {
	case int:
		return int64(x)
	case uint64:
		return int64(x)
	case uint32:
		return int64(x)
	case int64:
		return x
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

func appendJSON(buf []byte, r record) []byte {
	buf = append(buf, '{')
	for i, f := range r {
		if i > 0 {
			buf = append(buf, ',')
		}
		key := strings.ReplaceAll(f.key, "-", "_")
		var val []byte
		switch x := f.val.(type) {
		case blob:
			suffix, raw := jsonData(x)
			key += suffix
			val = raw
		case record:
			val = appendJSON(nil, x)
		case records:
			val = append(val, '[')
			for i, r := range x {
				if i > 0 {
					val = append(val, ',')
				}
				val = appendJSON(val, r)
			}
			val = append(val, ']')
		default:
			v := sxScalar(x)
			if vv, ok := v.(sx.Value); ok {
				if s, isSX := sxOnly(vv); isSX {
					v = s
				}
			}
			var err error
			if val, err = json.Marshal(v); err != nil {
				val, _ = json.Marshal(fmt.Sprint(v))
			}
		}
		k, _ := json.Marshal(key)
		buf = append(buf, k...)
		buf = append(buf, ':')
		buf = append(buf, val...)
	}
	return append(buf, '}')
}

// sxOnly gives the printed form of SX values that have no JSON spelling
// (keywords, symbols, lists, dicts).
func sxOnly(v sx.Value) (string, bool) {
	switch v.(type) {
	case sx.Keyword, sx.Symbol, sx.List, sx.Vector, *sx.Dict:
		return sx.Print(v), true
	}
	return "", false
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
