package main

import (
	"bytes"
	"encoding/json"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"rose-ash.com/persist/ops"
)

// encodingJSON is what marshalJSON must give: encoding/json's encoding of
// the record's map, HTML escaping off.
func encodingJSON(t testing.TB, r record) []byte {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	require.NoError(t, enc.Encode(jsonRecord(r)))
	return bytes.TrimSuffix(buf.Bytes(), []byte("\n"))
}

func TestMarshalJSONAsEncodingJSON(t *testing.T) {
	at := time.Date(2026, 12, 2, 1, 2, 3, 456789000, time.FixedZone("x", 3600))
	ev := ops.Event{Stream: "orders", Seq: 17, Pos: 170, Type: "placed", At: at, ID: uuid.New()}
	for _, r := range []record{
		{},
		eventRecord(ev),
		eventRecord(func() ops.Event { e := ev; e.Data = []byte(`{"order": 17, "items": [1, 2.5, "x"]}`); return e }()),
		eventRecord(func() ops.Event { e := ev; e.Data = []byte(`{:order 17 :items ["a" :b]}`); return e }()),
		eventRecord(func() ops.Event { e := ev; e.Data = []byte("\xff\x00binary"); return e }()),
		eventRecord(func() ops.Event { e := ev; e.Data = []byte(`{:x ##NaN}`); return e }()),
		eventRecord(func() ops.Event { e := ev; e.Type = "<a & \"b\">\t\u2028\u2029\b\f\x01\x7f caf\xe9"; return e }()),
		{{"last-write", at}, {"took", 1500 * time.Millisecond}, {"ok", true}, {"n", 3}, {"u32", uint32(7)}, {"i64", int64(-9)}},
		{{"names", []string(nil)}, {"more", []string{"a", "b\n"}}, {"none", nil}, {"ratio", 0.25}},
		{{"inner", record{{"b", 2}, {"a", 1}}}, {"list", records{{{"x", "1"}}, {{"y-z", "2"}}}}, {"empty", records{}}},
		{{"same", 1}, {"same", 2}, {"a-b", 3}, {"a_b", 4}},
	} {
		got, err := marshalJSON(r)
		require.NoError(t, err)
		assert.Equal(t, string(encodingJSON(t, r)), string(got), "%v", r)
	}
}

func FuzzJSONString(f *testing.F) {
	for _, s := range []string{"", "plain", "\"\\/", "\x00\x1f\x7f", "\b\f\n\r\t", "\u2028\u2029", "caf\xe9", "\xed\xa0\x80", "<&>", "日本"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		var buf bytes.Buffer
		enc := json.NewEncoder(&buf)
		enc.SetEscapeHTML(false)
		require.NoError(t, enc.Encode(s))
		want := bytes.TrimSuffix(buf.Bytes(), []byte("\n"))
		if got := appendJSONString(nil, s); !bytes.Equal(got, want) {
			t.Fatalf("appendJSONString(%q) = %s, encoding/json gives %s", s, got, want)
		}
	})
}
