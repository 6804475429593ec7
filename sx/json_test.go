package sx

import (
	"encoding/json"
	"math"
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
