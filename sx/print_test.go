package sx

import (
	"bytes"
	"errors"
	"math"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestPrint(t *testing.T) {
	tests := []struct {
		name string
		v    Value
		want string
	}{
		{"nil", nil, "nil"},
		{"true", true, "true"},
		{"false", false, "false"},
		{"zero", int64(0), "0"},
		{"int", int64(42), "42"},
		{"negative int", int64(-7), "-7"},
		{"min int", int64(math.MinInt64), "-9223372036854775808"},
		{"max int", int64(math.MaxInt64), "9223372036854775807"},
		{"whole float", 1.0, "1.0"},
		{"float", 1.5, "1.5"},
		{"negative float", -0.25, "-0.25"},
		{"zero float", 0.0, "0.0"},
		{"negative zero", math.Copysign(0, -1), "-0.0"},
		{"large float plain", 1e19, "10000000000000000000.0"},
		{"large float exponent", 1.5e20, "1.5e+20"},
		{"small float plain", 1e-6, "0.000001"},
		{"small float exponent", 1.5e-7, "1.5e-07"},
		{"max float", math.MaxFloat64, "1.7976931348623157e+308"},
		{"denormal", 5e-324, "5e-324"},
		{"NaN", math.NaN(), "##NaN"},
		{"Inf", math.Inf(1), "##Inf"},
		{"-Inf", math.Inf(-1), "##-Inf"},
		{"empty string", "", `""`},
		{"string", "hello", `"hello"`},
		{"letter escapes", "a\"b\\c\nd\te\rf", `"a\"b\\c\nd\te\rf"`},
		{"control chars", "\x00\x1b\x7f\u0085", `"\u{0}\u{1b}\u{7f}\u{85}"`},
		{"unicode", "héllo ☃ 日本", `"héllo ☃ 日本"`},
		{"invalid utf8", "a\xffb\xc3", `"a\x{ff}b\x{c3}"`},
		{"keyword", Keyword("first-seq"), ":first-seq"},
		{"keyword punct", Keyword("a.b/c?!*+<>=&%$#_"), ":a.b/c?!*+<>=&%$#_"},
		{"symbol", Symbol("persist/append"), "persist/append"},
		{"symbol minus", Symbol("-"), "-"},
		{"symbol unicode", Symbol("café"), "café"},
		{"empty list", List{}, "()"},
		{"nil list", List(nil), "()"},
		{"list", List{int64(1), "a", Keyword("b")}, `(1 "a" :b)`},
		{"empty vector", Vector{}, "[]"},
		{"vector", Vector{int64(1), Vector{int64(2)}, List{}}, "[1 [2] ()]"},
		{"empty dict", NewDict(), "{}"},
		{"nil dict", (*Dict)(nil), "{}"},
		{"dict sorted", NewDict(Keyword("seq"), int64(3), Keyword("stream"), "orders", Keyword("at"), nil),
			`{:at nil :seq 3 :stream "orders"}`},
		{"dict mixed keys", NewDict("b", int64(1), Keyword("a"), int64(2), int64(10), int64(3), int64(9), int64(4), List{}, true),
			`{"b" 1 () true 10 3 9 4 :a 2}`},
		{"nested", NewDict(Keyword("events"), Vector{NewDict(Keyword("type"), "x")}), `{:events [{:type "x"}]}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			assert.Equal(t, tt.want, Print(tt.v))
			var buf bytes.Buffer
			require.NoError(t, Fprint(&buf, tt.v))
			assert.Equal(t, tt.want, buf.String())
			assert.Equal(t, "x"+tt.want, string(AppendPrint([]byte("x"), tt.v)))

			back, err := Read(tt.want)
			require.NoError(t, err)
			assert.True(t, Equal(tt.v, back), "read back %s", Print(back))
		})
	}
}

func TestPrintPanics(t *testing.T) {
	tests := []struct {
		name string
		v    Value
		want string
	}{
		{"int", 1, "sx: int is not an SX value (convert it with FromGo)"},
		{"nested uint", List{uint(1)}, "sx: uint is not an SX value (convert it with FromGo)"},
		{"plain slice", []Value{}, "sx: []interface {} is not an SX value (convert it with FromGo)"},
		{"dict value", NewDict(Keyword("a"), int32(1)), "sx: int32 is not an SX value (convert it with FromGo)"},
		{"bad keyword", Keyword("a b"), `sx: invalid keyword name "a b": invalid character ' '`},
		{"empty keyword", Keyword(""), `sx: invalid keyword name "": empty name`},
		{"digit symbol", Symbol("1a"), `sx: invalid symbol name "1a": starts with a digit`},
		{"number symbol", Symbol("-1"), `sx: invalid symbol name "-1": reads as a number`},
		{"reserved symbol", Symbol("nil"), `sx: invalid symbol name "nil": reads as nil`},
		{"hash symbol", Symbol("##x"), `sx: invalid symbol name "##x": starts with ##`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			defer func() {
				r := recover()
				require.NotNil(t, r)
				err, ok := r.(error)
				require.True(t, ok, "panic value %v is not an error", r)
				assert.Equal(t, tt.want, err.Error())
			}()
			Print(tt.v)
		})
	}
}

func TestPrintDepth(t *testing.T) {
	var v Value = int64(1)
	for range MaxDepth {
		v = List{v}
	}
	text := Print(v)
	_, err := Read(text)
	require.NoError(t, err)

	assert.PanicsWithError(t, "sx: value nests deeper than 1000 (is it cyclic?)", func() { Print(Vector{v}) })

	cyclic := NewDict()
	cyclic.Set(Keyword("self"), cyclic)
	assert.Panics(t, func() { Print(cyclic) })
	assert.Panics(t, func() { Equal(cyclic, cyclic) })

	// A deep key counts toward the depth of the dict that holds it.
	var key Value = List{}
	for range MaxDepth - 1 {
		key = List{key}
	}
	d := NewDict(key, int64(1)) // key depth 1000 + 1 for the dict
	assert.PanicsWithError(t, "sx: value nests deeper than 1000 (is it cyclic?)", func() { Print(d) })
}

type failWriter struct{}

func (failWriter) Write([]byte) (int, error) { return 0, errors.New("disk full") }

func TestFprintError(t *testing.T) {
	assert.EqualError(t, Fprint(failWriter{}, int64(1)), "disk full")
}

func TestStringMethods(t *testing.T) {
	assert.Equal(t, ":a", Keyword("a").String())
	assert.Equal(t, "a/b", Symbol("a/b").String())
	assert.Equal(t, "(1)", List{int64(1)}.String())
	assert.Equal(t, "[1]", Vector{int64(1)}.String())
	assert.Equal(t, "{:a 1}", NewDict(Keyword("a"), int64(1)).String())
}

func TestNameValidity(t *testing.T) {
	for _, name := range []string{"a", "a1", "-", "+", "-a", "+.5", ".5", "a.b/c", "?", "#a", "ünïcödé", "A-Z"} {
		assert.True(t, Keyword(name).Valid(), "keyword %q", name)
		assert.True(t, Symbol(name).Valid(), "symbol %q", name)
	}
	for _, name := range []string{"", "1", "1a", "-1", "+1x", "a b", "a:b", "a,b", "(", "a'b", "a\\b", "a\"b", "\xff"} {
		assert.False(t, Keyword(name).Valid(), "keyword %q", name)
		assert.False(t, Symbol(name).Valid(), "symbol %q", name)
	}
	for _, name := range []string{"nil", "true", "false", "##NaN", "##x"} {
		assert.True(t, Keyword(name).Valid(), "keyword %q", name)
		assert.False(t, Symbol(name).Valid(), "symbol %q", name)
	}
}

func TestEqual(t *testing.T) {
	nan2 := math.Float64frombits(math.Float64bits(math.NaN()) ^ 1)
	require.True(t, math.IsNaN(nan2))
	tests := []struct {
		name string
		a, b Value
		want bool
	}{
		{"nils", nil, nil, true},
		{"nil false", nil, false, false},
		{"nil empty list", nil, List{}, false},
		{"ints", int64(1), int64(1), true},
		{"int float", int64(1), 1.0, false},
		{"floats", 1.5, 1.5, true},
		{"zero signs", 0.0, math.Copysign(0, -1), false},
		{"NaN", math.NaN(), math.NaN(), true},
		{"NaN payloads", math.NaN(), nan2, true},
		{"NaN number", math.NaN(), 1.0, false},
		{"strings", "a", "a", true},
		{"string keyword", "a", Keyword("a"), false},
		{"keyword symbol", Keyword("a"), Symbol("a"), false},
		{"list vector", List{int64(1)}, Vector{int64(1)}, false},
		{"lists", List{int64(1), List{"x"}}, List{int64(1), List{"x"}}, true},
		{"list lengths", List{int64(1)}, List{int64(1), int64(2)}, false},
		{"nil list empty list", List(nil), List{}, true},
		{"dicts any order", NewDict(Keyword("a"), int64(1), Keyword("b"), int64(2)),
			NewDict(Keyword("b"), int64(2), Keyword("a"), int64(1)), true},
		{"dict values", NewDict(Keyword("a"), int64(1)), NewDict(Keyword("a"), int64(2)), false},
		{"dict keys", NewDict(Keyword("a"), int64(1)), NewDict("a", int64(1)), false},
		{"dict sizes", NewDict(Keyword("a"), int64(1)), NewDict(), false},
		{"nil dict empty dict", (*Dict)(nil), NewDict(), true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			assert.Equal(t, tt.want, Equal(tt.a, tt.b))
			assert.Equal(t, tt.want, Equal(tt.b, tt.a))
			assert.Equal(t, tt.want, Print(tt.a) == Print(tt.b), "Equal agrees with printing")
		})
	}
	assert.PanicsWithError(t, "sx: int is not an SX value (convert it with FromGo)", func() { Equal(int64(1), 1) })
	assert.PanicsWithError(t, "sx: int is not an SX value (convert it with FromGo)", func() { Equal(1, int64(1)) })
}
