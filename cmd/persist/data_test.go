package main

import (
	"encoding/json"
	"testing"
	"unicode/utf8"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"rose-ash.com/persist/sx"
)

func TestClassify(t *testing.T) {
	cases := []struct {
		in      string
		form    dataForm
		sxText  string
		jsonOut string
	}{
		{`{"a": 1, "b": [true, null, 2.5]}`, formJSON, `{"a" 1 "b" [true nil 2.5]}`, `{"a":1,"b":[true,null,2.5]}`},
		{`{:a 1}`, formSX, `{:a 1}`, `{"a":1}`},
		{`(x "y")`, formSX, `(x "y")`, `["x","y"]`},
		{`{1 2}`, formSX, `{1 2}`, `"{1 2}"`},
		{`##NaN`, formSX, `##NaN`, `"##NaN"`},
		{"\"\xff\"", formBase64, `"Iv8i"`, `"Iv8i"`},
		{`[1, 2]`, formJSON, `[1 2]`, `[1,2]`},
		{`"text"`, formJSON, `"text"`, `"text"`},
		{"\xff\x00", formBase64, `"/wA="`, `"/wA="`},
	}
	for _, c := range cases {
		form, v := classify([]byte(c.in))
		assert.Equal(t, c.form, form, c.in)
		assert.Equal(t, c.sxText, sx.Print(v), c.in)
		_, jv := jsonData([]byte(c.in))
		raw, err := json.Marshal(jv)
		require.NoError(t, err, c.in)
		assert.Equal(t, c.jsonOut, string(raw), c.in)
	}
}

func TestCheckLiteral(t *testing.T) {
	for _, ok := range []string{`{:a 1}`, `{"a": 1}`, `nil`, `null`, `-5`, `[1 2]`, ` "x" `} {
		assert.NoError(t, checkLiteral([]byte(ok)), ok)
	}
	for _, bad := range []string{"\"\xff\"", "{\"a\": \"\xc3\"}", ``, `{:a`, `(1 2`, `1 2`, "\xff", `{"a": }`} {
		assert.Error(t, checkLiteral([]byte(bad)), bad)
	}
}

// FuzzLiteral checks that whatever the command accepts as a literal it can
// show again: as an SX value that reads back equal, and as valid JSON.
func FuzzLiteral(f *testing.F) {
	for _, s := range []string{`{:a 1}`, `{"a": [1, 2.5, null]}`, `(x y)`, `"s"`, `1e400`, `-0`, `[[[]]]`, `{"a":{"b":{}}}`, "\xff"} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		accepted := checkLiteral(b) == nil
		form, v := classify(b)
		if accepted {
			require.NotEqual(t, formBase64, form, "an accepted literal %q shows as a value", b)
		}
		text := sx.Print(v)
		back, err := sx.Read(text)
		require.NoError(t, err, "printed %q", text)
		require.True(t, sx.Equal(v, back), "%q reads back as %q", text, sx.Print(back))
		line, err := marshalJSON(record{{"data", blob(b)}})
		require.NoError(t, err)
		require.True(t, json.Valid(line) && utf8.Valid(line), "record %q", line)
	})
}
