package sx

import (
	"bytes"
	"encoding/json"
	"math"
	"reflect"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestFromJSON(t *testing.T) {
	cases := []struct{ in, sx string }{
		{`{"order": 17, "total": 42.5}`, `{"order" 17 "total" 42.5}`},
		{`[1, 2.0, 1e3, -0, null, true, "x"]`, `[1 2.0 1000.0 0 nil true "x"]`},
		{`9223372036854775808`, `9223372036854776000.0`},
		{` "a<b>&" `, `"a<b>&"`},
		{`{}`, `{}`},
		{`[]`, `[]`},
	}
	for _, c := range cases {
		v, err := FromJSON([]byte(c.in))
		require.NoError(t, err, c.in)
		assert.Equal(t, c.sx, Print(v), c.in)
	}
	for _, bad := range []string{``, `{`, `1 2`, `{"a":1,"a":2}`, `1e400`, "\"\xff\"", `{:a 1}`, `[1,]`, strings.Repeat("[", MaxDepth+1) + strings.Repeat("]", MaxDepth+1)} {
		_, err := FromJSON([]byte(bad))
		assert.Error(t, err, bad)
	}
}

func TestToJSON(t *testing.T) {
	cases := []struct{ sx, json string }{
		{`{:order 17 :total 42.5}`, `{"order":17,"total":42.5}`},
		{`{"order" 17}`, `{"order":17}`},
		{`(carrier "ups")`, `["carrier","ups"]`},
		{`[1 2.0 nil true :k sym/x]`, `[1,2.0,null,true,"k","sym/x"]`},
		{`1e+20`, `1e+20`},
		{`"a<b>&\n"`, `"a<b>&\n"`},
		{`{:b {:c [[]]} :a 1}`, `{"a":1,"b":{"c":[[]]}}`},
	}
	for _, c := range cases {
		v, err := Read(c.sx)
		require.NoError(t, err, c.sx)
		got, err := ToJSON(v)
		require.NoError(t, err, c.sx)
		assert.Equal(t, c.json, string(got), c.sx)
	}
	for _, bad := range []Value{math.NaN(), math.Inf(1), "\xff", NewDict(int64(1), int64(2)), NewDict(Keyword("a"), int64(1), "a", int64(2)), NewDict(Vector{}, nil)} {
		_, err := ToJSON(bad)
		assert.Error(t, err, "%#v", bad)
	}
	_, err := ToJSON(struct{}{})
	assert.ErrorContains(t, err, "not an SX value")
}

// The same data appended as SX or as JSON gives the same JSON.
func TestSXAndJSONAgree(t *testing.T) {
	a, err := Read(`{:order 17 :items ["a" "b"]}`)
	require.NoError(t, err)
	b, err := FromJSON([]byte(`{"items": ["a", "b"], "order": 17}`))
	require.NoError(t, err)
	ja, err := ToJSON(a)
	require.NoError(t, err)
	jb, err := ToJSON(b)
	require.NoError(t, err)
	assert.Equal(t, string(ja), string(jb))
}

// FuzzJSON checks that what FromJSON reads prints as SX and goes back to
// JSON that reads back equal, and that ToJSON of any SX value that reads
// gives valid UTF-8 JSON or an error.
func FuzzJSON(f *testing.F) {
	for _, s := range []string{`{"a": [1, 2.5, null]}`, `1e400`, `-0`, `[[[]]]`, `"\ud800"`, `{"a":1,"a":2}`, "\"\xff\"", `{:a 1}`, `(x "y")`, `[1 2.0 :k]`, `{1 2}`, `##NaN`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		if v, err := FromJSON(b); err == nil {
			checkReprint(t, v)
			out, err := ToJSON(v)
			require.NoError(t, err, "%q", b)
			require.True(t, utf8.Valid(out) && json.Valid(out), "%q gives %q", b, out)
			back, err := FromJSON(out)
			require.NoError(t, err, "%q", out)
			require.True(t, Equal(v, back), "%q reads back as %s, not %s", out, Print(back), Print(v))
		}
		if utf8.Valid(b) {
			if v, err := Read(string(b)); err == nil {
				if out, err := ToJSON(v); err == nil {
					require.True(t, utf8.Valid(out) && json.Valid(out), "%q gives %q", b, out)
					_, err := FromJSON(out)
					require.NoError(t, err, "%q", out)
				}
			}
		}
	})
}

func TestDataJSON(t *testing.T) {
	// JSON comes back as it is, spacing and all.
	got, err := DataJSON([]byte(`{"order": 17}`))
	require.NoError(t, err)
	assert.Equal(t, `{"order": 17}`, string(got))
	// null is JSON's.
	got, err = DataJSON([]byte(`null`))
	require.NoError(t, err)
	assert.Equal(t, `null`, string(got))
	// SX is converted.
	got, err = DataJSON([]byte(`{:order 17}`))
	require.NoError(t, err)
	assert.Equal(t, `{"order":17}`, string(got))

	for _, bad := range []string{``, `{"order": 17`, `{:order}`, "\xff\x00"} {
		_, err := DataJSON([]byte(bad))
		assert.ErrorContains(t, err, "neither JSON", "%q", bad)
	}
	// encoding/json takes a string with a byte that is not UTF-8; DataJSON
	// does not pass it on.
	_, err = DataJSON([]byte("{\"name\": \"caf\xe9\"}"))
	assert.ErrorContains(t, err, "not valid UTF-8")
	var m map[string]string
	assert.ErrorContains(t, Unmarshal([]byte("{\"name\": \"caf\xe9\"}"), &m), "not valid UTF-8")
	assert.Nil(t, m, "nothing stored")
	// Equal keys are the writer's bytes and pass as they are.
	got, err = DataJSON([]byte(`{"a": 1, "a": 2}`))
	require.NoError(t, err)
	assert.Equal(t, `{"a": 1, "a": 2}`, string(got))
	_, err = DataJSON([]byte(`{:order}`))
	var de *DataError
	require.ErrorAs(t, err, &de)
	var se *SyntaxError
	assert.ErrorAs(t, err, &se, "the SX reading's error is reachable")
	assert.Error(t, de.JSON)
}

type order struct {
	Order  int      `json:"order"`
	Total  float64  `json:"total"`
	Status string   `json:"status"`
	Items  []string `json:"items"`
}

func TestUnmarshalSameStruct(t *testing.T) {
	want := order{Order: 17, Total: 42.5, Status: "placed", Items: []string{"a1", "b2"}}
	for _, data := range []string{
		`{"order": 17, "total": 42.5, "status": "placed", "items": ["a1", "b2"]}`,
		`{:order 17 :total 42.5 :status :placed :items ["a1" "b2"]}`,
		`{"order" 17, "total" 42.5, "status" "placed", "items" ("a1" "b2")}`,
	} {
		var got order
		require.NoError(t, Unmarshal([]byte(data), &got), data)
		assert.Equal(t, want, got, data)
	}
}

func TestUnmarshalErrors(t *testing.T) {
	var o order
	// The JSON decoder's errors come back as they are, for SX too.
	err := Unmarshal([]byte(`{"order": "x"}`), &o)
	var te *json.UnmarshalTypeError
	require.ErrorAs(t, err, &te)
	err = Unmarshal([]byte(`{:order "x"}`), &o)
	require.ErrorAs(t, err, &te)
	assert.Equal(t, "order", te.Field)

	o = order{Order: 5}
	err = Unmarshal([]byte(`{:order`), &o)
	require.ErrorContains(t, err, "neither JSON")
	assert.Equal(t, order{Order: 5}, o, "nothing stored on a syntax error")

	err = Unmarshal([]byte(`{:x ##NaN}`), &o)
	assert.ErrorContains(t, err, "##NaN has no JSON form")
}

// jsonMeaning is what encoding/json makes of the JSON form of an SX value
// when decoding into an any: written here from the rule in the doc, apart
// from the converter.
func jsonMeaning(v Value) any {
	switch x := v.(type) {
	case int64:
		return float64(x)
	case Keyword:
		return string(x)
	case Symbol:
		return string(x)
	case List:
		return jsonMeaning(Vector(x))
	case Vector:
		out := make([]any, len(x))
		for i, e := range x {
			out[i] = jsonMeaning(e)
		}
		return out
	case *Dict:
		out := map[string]any{}
		for k, e := range x.All() {
			out[jsonMeaning(k).(string)] = jsonMeaning(e)
		}
		return out
	}
	return v
}

// sxFromJSON reads JSON decoded with UseNumber as an SX value.
func sxFromJSON(t *testing.T, v any) Value {
	switch x := v.(type) {
	case json.Number:
		if i, err := x.Int64(); err == nil {
			return i
		}
		f, err := x.Float64()
		require.NoError(t, err)
		return f
	case []any:
		out := Vector{}
		for _, e := range x {
			out = append(out, sxFromJSON(t, e))
		}
		return out
	case map[string]any:
		d := NewDict()
		for k, e := range x {
			d.Set(k, sxFromJSON(t, e))
		}
		return d
	}
	return v
}

var jsonSeeds = []string{
	`{"order": 17}`, `{:order 17}`, `null`, `[1, 2.5, "x", true, null]`, `{"a": {"b": [{}]}}`,
	`(bytes "AAEC")`, `{:a 1 "a" 2}`, `##NaN`, `"\x{ff}"`, `1e400`, `9223372036854775808`, `{7 :x}`,
	`{"k": "\u00e9\n"}`, `[:a persist/append]`, `{[1] 2}`, `"\u{1}"`,
}

// FuzzDataJSON checks that whatever DataJSON accepts is JSON, that JSON
// comes back unchanged, and that SX converts to the JSON of its meaning.
func FuzzDataJSON(f *testing.F) {
	for _, s := range jsonSeeds {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		out, err := DataJSON([]byte(s))
		// Unmarshal, with its fast path for JSON, decodes as json.Unmarshal
		// of DataJSON does.
		var viaU, viaD any
		uerr := Unmarshal([]byte(s), &viaU)
		if err != nil {
			if uerr == nil {
				t.Fatalf("Unmarshal accepted %q, which DataJSON refuses: %v", s, err)
			}
			return
		}
		derr := json.Unmarshal(out, &viaD)
		if (uerr == nil) != (derr == nil) {
			t.Fatalf("Unmarshal(%q): %v; json.Unmarshal of its DataJSON %q: %v", s, uerr, out, derr)
		}
		if uerr == nil && !reflect.DeepEqual(viaU, viaD) {
			t.Fatalf("Unmarshal(%q) = %#v, json of DataJSON = %#v", s, viaU, viaD)
		}
		if !json.Valid(out) {
			t.Fatalf("DataJSON(%q) = %q, not JSON", s, out)
		}
		if json.Valid([]byte(s)) && utf8.ValidString(s) {
			if !bytes.Equal(out, []byte(s)) {
				t.Fatalf("JSON %q came back as %q", s, out)
			}
			return
		}
		v, err := Read(s)
		if err != nil {
			t.Fatalf("DataJSON accepted %q, which is neither JSON nor SX: %v", s, err)
		}
		var got any
		if err := json.Unmarshal(out, &got); err != nil {
			t.Fatalf("JSON %q of %q does not decode: %v", out, s, err)
		}
		if want := jsonMeaning(v); !reflect.DeepEqual(want, got) {
			t.Fatalf("%q converted to %q, which means %#v, want %#v", s, out, got, want)
		}
	})
}

// FuzzJSONThroughSX checks that JSON data written out as SX text reads
// back, by the rule, as the same JSON value.
func FuzzJSONThroughSX(f *testing.F) {
	for _, s := range jsonSeeds {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		var want any
		if json.Unmarshal([]byte(s), &want) != nil {
			return
		}
		dec := json.NewDecoder(bytes.NewReader([]byte(s)))
		dec.UseNumber()
		var num any
		require.NoError(t, dec.Decode(&num))
		text := Print(sxFromJSON(t, num))
		out, err := DataJSON([]byte(text))
		if err != nil {
			t.Fatalf("JSON %q printed as SX %q does not convert back: %v", s, text, err)
		}
		var got any
		require.NoError(t, json.Unmarshal(out, &got))
		if !reflect.DeepEqual(want, got) {
			t.Fatalf("JSON %q through SX %q came back as %q", s, text, out)
		}
	})
}
