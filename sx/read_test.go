package sx

import (
	"errors"
	"math"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestRead(t *testing.T) {
	tests := []struct {
		name string
		text string
		want Value
	}{
		{"nil", "nil", nil},
		{"true", "true", true},
		{"false", "false", false},
		{"int", "42", int64(42)},
		{"negative int", "-42", int64(-42)},
		{"plus int", "+42", int64(42)},
		{"leading zeros", "007", int64(7)},
		{"minus zero", "-0", int64(0)},
		{"min int", "-9223372036854775808", int64(math.MinInt64)},
		{"float", "1.5", 1.5},
		{"negative float", "-0.25", -0.25},
		{"negative zero float", "-0.0", math.Copysign(0, -1)},
		{"exponent", "1.5e+20", 1.5e20},
		{"exponent no fraction", "1e3", 1000.0},
		{"upper exponent", "2E-2", 0.02},
		{"underflow", "1e-400", 0.0},
		{"NaN", "##NaN", math.NaN()},
		{"Inf", "##Inf", math.Inf(1)},
		{"-Inf", "##-Inf", math.Inf(-1)},
		{"string", `"hello"`, "hello"},
		{"empty string", `""`, ""},
		{"escapes", `"a\"b\\c\nd\te\rf"`, "a\"b\\c\nd\te\rf"},
		{"unicode escapes", `"\u{0}\u{1b}\u{2603}\u{10FFFF}\u{00041}"`, "\x00\x1b☃\U0010ffffA"},
		{"byte escapes", `"\x{ff}\x{0}\x{41}\x{c3}\x{a9}"`, "\xff\x00Aé"},
		{"raw newline", "\"a\nb\"", "a\nb"},
		{"raw unicode", `"日本 ☃"`, "日本 ☃"},
		{"keyword", ":first-seq", Keyword("first-seq")},
		{"keyword literal name", ":nil", Keyword("nil")},
		{"symbol", "persist/append", Symbol("persist/append")},
		{"symbol punct", "<=>?!*&%$#_.", Symbol("<=>?!*&%$#_.")},
		{"symbol minus", "-", Symbol("-")},
		{"symbol plus dot", "+.5", Symbol("+.5")},
		{"symbol dot", ".5", Symbol(".5")},
		{"symbol minus letter", "-x1", Symbol("-x1")},
		{"symbol unicode", "naïve", Symbol("naïve")},
		{"empty list", "()", List(nil)},
		{"list", `(1 "a" :b)`, List{int64(1), "a", Keyword("b")}},
		{"vector", "[1 [2] ()]", Vector{int64(1), Vector{int64(2)}, List{}}},
		{"dict", `{:stream "orders" :seq 3}`, NewDict(Keyword("seq"), int64(3), Keyword("stream"), "orders")},
		{"dict any keys", `{1 2 "a" :b [1] nil}`, NewDict(int64(1), int64(2), "a", Keyword("b"), Vector{int64(1)}, nil)},
		{"dict dict key", `{{:a 1} x}`, NewDict(NewDict(Keyword("a"), int64(1)), Symbol("x"))},
		{"commas", "[1,2 , 3,]", Vector{int64(1), int64(2), int64(3)}},
		{"no space needed", `(a"b"(c)[d]{:e f})`, List{Symbol("a"), "b", List{Symbol("c")}, Vector{Symbol("d")}, NewDict(Keyword("e"), Symbol("f"))}},
		{"comments", "; leading\n(1 ; inner\n 2) ; trailing", List{int64(1), int64(2)}},
		{"comment at end without newline", "x ;c", Symbol("x")},
		{"surrounding space", " \t\r\n 1 \n", int64(1)},
		{"unicode space", "\u00a0\u20031\u3000", int64(1)},
		{"crlf", "(1\r\n2)", List{int64(1), int64(2)}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Read(tt.text)
			require.NoError(t, err)
			assert.True(t, Equal(tt.want, got), "want %s, got %s", Print(tt.want), Print(got))
		})
	}
}

func TestReadAll(t *testing.T) {
	got, err := ReadAll("1 :a ; comment\n(b) \"c\"")
	require.NoError(t, err)
	require.Len(t, got, 4)
	assert.True(t, Equal(Vector(got), Vector{int64(1), Keyword("a"), List{Symbol("b")}, "c"}))

	for _, empty := range []string{"", "  ", "; just a comment", ",,\n;x\n"} {
		got, err := ReadAll(empty)
		require.NoError(t, err)
		assert.Empty(t, got)
	}

	_, err = ReadAll("1 2 )")
	var se *SyntaxError
	require.ErrorAs(t, err, &se)
	assert.Equal(t, "unexpected ')'", se.Msg)
	assert.Equal(t, 4, se.Offset)
}

func TestReadErrors(t *testing.T) {
	tests := []struct {
		name      string
		text      string
		msg       string
		line, col int
		offset    int
	}{
		{"empty", "", "want a value, found end of input", 1, 1, 0},
		{"only comment", "; nothing\n", "want a value, found end of input", 2, 1, 10},
		{"two values", "1 2", "want one value, found another after it", 1, 3, 2},
		{"unterminated string", `(a "bc`, "unterminated string", 1, 4, 3},
		{"unterminated list", "\n  (1 2", "unterminated list", 2, 3, 3},
		{"unterminated vector", "[", "unterminated vector", 1, 1, 0},
		{"unterminated dict", "{:a 1", "unterminated dict", 1, 1, 0},
		{"unexpected close", ")", "unexpected ')'", 1, 1, 0},
		{"close after value", "(1) ]", "unexpected ']'", 1, 5, 4},
		{"mismatched close", "{:a (1]}", "unexpected ']': the list opened at line 1, col 5 closes with ')'", 1, 7, 6},
		{"duplicate key", "{:a 1\n :b 2 :a 3}", "duplicate dict key :a", 2, 7, 12},
		{"duplicate equal key", "{[1 2] x (1) y [1 2] z}", "duplicate dict key [1 2]", 1, 16, 15},
		{"odd dict", "{:a 1 :b}", "dict key :b has no value", 1, 7, 6},
		{"bad escape", `"ab\q"`, `invalid escape \q`, 1, 4, 3},
		{"bad unicode escape", `"\u0041"`, `invalid escape: want \u{hex}`, 1, 2, 1},
		{"empty unicode escape", `"\u{}"`, `invalid escape: want \u{hex} with 1 to 6 hex digits`, 1, 2, 1},
		{"long unicode escape", `"\u{1234567}"`, `invalid escape: want \u{hex} with 1 to 6 hex digits`, 1, 2, 1},
		{"surrogate escape", `"\u{d800}"`, `invalid escape: \u{d800} is not a Unicode scalar value`, 1, 2, 1},
		{"big escape", `"\u{110000}"`, `invalid escape: \u{110000} is not a Unicode scalar value`, 1, 2, 1},
		{"non-hex escape", `"\x{zz}"`, `invalid escape: "zz" is not hexadecimal`, 1, 2, 1},
		{"unterminated escape", `"\`, `unterminated escape sequence`, 1, 2, 1},
		{"int too big", "[9223372036854775808]", "integer 9223372036854775808 out of range", 1, 2, 1},
		{"int too small", "-9223372036854775809", "integer -9223372036854775809 out of range", 1, 1, 0},
		{"float too big", "1e400", "float 1e400 out of range", 1, 1, 0},
		{"trailing dot", "1.", `invalid number "1."`, 1, 1, 0},
		{"letters in number", "12ab", `invalid number "12ab"`, 1, 1, 0},
		{"hex number", "0x1f", `invalid number "0x1f"`, 1, 1, 0},
		{"underscore number", "1_000", `invalid number "1_000"`, 1, 1, 0},
		{"bad exponent", "1e+", `invalid number "1e+"`, 1, 1, 0},
		{"empty keyword", ": a", `invalid keyword ":": empty name`, 1, 1, 0},
		{"digit keyword", ":1a", `invalid keyword ":1a": starts with a digit`, 1, 1, 0},
		{"number keyword", ":-1", `invalid keyword ":-1": reads as a number`, 1, 1, 0},
		{"double colon", "::a", `invalid character ':'`, 1, 2, 1},
		{"bad char in symbol", "ab@c", `invalid character '@'`, 1, 3, 2},
		{"quote", "'a", `invalid character '\''`, 1, 1, 0},
		{"unknown literal", "##nan", "unknown literal ##nan (want ##NaN, ##Inf or ##-Inf)", 1, 1, 0},
		{"invalid utf8", "(\"é\" \xff)", "invalid UTF-8 byte 0xff (write it in a string as \\x{ff})", 1, 6, 6},
		{"column counts characters", "日本 )", "unexpected ')'", 1, 4, 7},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			v, err := Read(tt.text)
			require.Error(t, err, "read %v", v)
			var se *SyntaxError
			require.True(t, errors.As(err, &se), "error %T is not a *SyntaxError", err)
			assert.Equal(t, tt.msg, se.Msg)
			assert.Equal(t, tt.line, se.Line, "line")
			assert.Equal(t, tt.col, se.Col, "col")
			assert.Equal(t, tt.offset, se.Offset, "offset")
			assert.Equal(t, "sx: line "+itoa(tt.line)+", col "+itoa(tt.col)+": "+tt.msg, err.Error())
		})
	}
}

func itoa(n int) string { return Print(int64(n)) }

func TestReadDepth(t *testing.T) {
	ok := strings.Repeat("[", MaxDepth) + strings.Repeat("]", MaxDepth)
	_, err := Read(ok)
	require.NoError(t, err)

	deep := strings.Repeat("(", MaxDepth+1) + strings.Repeat(")", MaxDepth+1)
	_, err = Read(deep)
	var se *SyntaxError
	require.ErrorAs(t, err, &se)
	assert.Equal(t, "nesting deeper than 1000", se.Msg)
	assert.Equal(t, MaxDepth, se.Offset)

	// Far deeper than any stack could take recursively, unterminated.
	_, err = Read(strings.Repeat("{:a ", 1_000_000))
	require.ErrorAs(t, err, &se)
	assert.Equal(t, "nesting deeper than 1000", se.Msg)
}

func TestReadLongErrorValuesAreShortened(t *testing.T) {
	long := strings.Repeat("x", 100)
	_, err := Read(`{"` + long + `" 1 "` + long + `" 2}`)
	var se *SyntaxError
	require.ErrorAs(t, err, &se)
	assert.Equal(t, `duplicate dict key "`+strings.Repeat("x", 39)+"…", se.Msg)
}
