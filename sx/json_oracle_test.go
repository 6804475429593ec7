package sx

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"strconv"
	"testing"
	"unicode/utf8"
)

// fromJSONDecoder is FromJSON written on encoding/json's token decoder:
// the reading FromJSON's own reader must agree with, on what it accepts
// and on the value it gives.
func fromJSONDecoder(b []byte) (Value, error) {
	if !utf8.Valid(b) {
		return nil, fmt.Errorf("not UTF-8")
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	v, err := decoderValue(dec, 0)
	if err != nil {
		return nil, err
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, fmt.Errorf("more than one value")
	}
	return v, nil
}

func decoderValue(dec *json.Decoder, depth int) (Value, error) {
	tok, err := dec.Token()
	if err != nil {
		return nil, err
	}
	switch t := tok.(type) {
	case nil, bool, string:
		return t, nil
	case json.Number:
		s := t.String()
		if !bytes.ContainsAny([]byte(s), ".eE") {
			if i, err := strconv.ParseInt(s, 10, 64); err == nil {
				return i, nil
			}
		}
		f, err := strconv.ParseFloat(s, 64)
		if err != nil {
			return nil, err
		}
		return f, nil
	case json.Delim:
		if depth >= MaxDepth {
			return nil, fmt.Errorf("too deep")
		}
		switch t {
		case '[':
			vs := Vector{}
			for dec.More() {
				v, err := decoderValue(dec, depth+1)
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
				v, err := decoderValue(dec, depth+1)
				if err != nil {
					return nil, err
				}
				if _, dup := d.Get(k.(string)); dup {
					return nil, fmt.Errorf("dup")
				}
				d.Set(k.(string), v)
			}
			_, err := dec.Token()
			return d, err
		}
	}
	return nil, fmt.Errorf("unexpected %v", tok)
}

var jsonReaderSeeds = []string{
	``, ` `, `0`, `-0`, `01`, `-`, `1.`, `.5`, `1e`, `1e+`, `1E-2`, `-12.5e3`, `9223372036854775807`, `-9223372036854775808`, `9223372036854775808`, `1e400`, `1e-400`,
	`true`, `tru`, `truex`, `null`, `nul`, `false`,
	`""`, `"a"`, `"\""`, `"\\\/\b\f\n\r\t"`, `"\u00e9\u2028"`, `"\ud83d\ude00"`, `"\ud800"`, `"\udc00"`, `"\ud800\u0041"`, `"\ud800\ud800\udc00"`, `"\u12"`, `"\u12g4"`, `"\x"`, "\"a\tb\"", "\"a\x01\"", `"abc`, `"\`,
	`[]`, `[ ]`, `[1,]`, `[,1]`, `[1 2]`, `[1,2]`, `[[[]]]`, `[`, `]`,
	`{}`, `{ }`, `{"a":1}`, `{"a" : 1 , "b":[2]}`, `{"a":1,}`, `{"a"}`, `{"a":}`, `{1:2}`, `{"a":1,"a":2}`, `{"b":1,"a":2,"b":3}`, `{"a":1 "b":2}`, `{`, `}`,
	`1 2`, `{} x`, "\t\n\r 1 \r\n", `{"":null}`, "\"caf\xc3\xa9\"",
}

func TestJSONReaderAgreesWithDecoder(t *testing.T) {
	for _, s := range jsonReaderSeeds {
		checkJSONReader(t, []byte(s))
	}
}

func FuzzJSONReader(f *testing.F) {
	for _, s := range jsonReaderSeeds {
		f.Add([]byte(s))
	}
	f.Fuzz(checkJSONReader)
}

func checkJSONReader(t *testing.T, b []byte) {
	got, err := FromJSON(b)
	want, werr := fromJSONDecoder(b)
	if (err == nil) != (werr == nil) {
		t.Fatalf("FromJSON(%q): %v, %v; encoding/json's reading: %v, %v", b, got, err, want, werr)
	}
	if err == nil && !Equal(got, want) {
		t.Fatalf("FromJSON(%q) = %s; encoding/json's reading = %s", b, Print(got), Print(want))
	}
}

// BenchmarkFromJSON reads a typical event's JSON data by FromJSON and by
// the token decoder it replaced, side by side.
func BenchmarkFromJSON(b *testing.B) {
	data := []byte(`{"order": 17, "total": 42.5, "customer": {"id": "c-981", "name": "Ana Lima"}, "items": [{"sku": "a1", "qty": 2}, {"sku": "b2", "qty": 1}], "note": "leave at the door \u00e9"}`)
	for _, r := range []struct {
		name string
		read func([]byte) (Value, error)
	}{{"reader", FromJSON}, {"decoder", fromJSONDecoder}} {
		b.Run(r.name, func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(int64(len(data)))
			for b.Loop() {
				if _, err := r.read(data); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
