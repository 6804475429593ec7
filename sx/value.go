package sx

import (
	"fmt"
	"math"
	"unicode"
	"unicode/utf8"
)

// Value is an SX value. Exactly these Go types are SX values: nil, bool,
// int64, float64, string, [Keyword], [Symbol], [List], [Vector] and [*Dict].
// Everything that prints, reads or compares values panics on any other type;
// [FromGo] converts ordinary Go values first.
type Value = any

// Keyword is a keyword, printed with a leading colon: Keyword("first-seq")
// prints as :first-seq. Its name must satisfy [Keyword.Valid].
type Keyword string

// Symbol is a bare name such as persist/append. Its name must satisfy
// [Symbol.Valid].
type Symbol string

// List is a parenthesised sequence: (a b c).
type List []Value

// Vector is a bracketed sequence: [a b c]. A Vector never equals a List.
type Vector []Value

// MaxDepth is how deeply lists, vectors and dicts may nest. [Read] rejects
// deeper input with a [*SyntaxError]; [Print] and [Equal] panic on a deeper
// (or cyclic) value, and [FromGo] and [ToGo] return an error, so that no
// value prints which does not read back and no input can exhaust the stack.
const MaxDepth = 1000

// Valid reports whether k is a well-formed keyword name: not empty, made of
// letters, the digits 0-9 and the characters -_./?!*+<>=&%$#, not starting
// with a digit, and not starting with + or - followed by a digit.
func (k Keyword) Valid() bool { return validName(string(k)) }

// Valid reports whether s is a well-formed symbol name: the rules of
// [Keyword.Valid], and in addition not nil, true or false, and not starting
// with ## (those spellings are literals).
func (s Symbol) Valid() bool { return symbolProblem(string(s)) == "" }

// symbolProblem says what is wrong with a symbol name, or "" when nothing
// is.
func symbolProblem(s string) string {
	switch s {
	case "nil", "true", "false":
		return "reads as " + s
	}
	if len(s) >= 2 && s[0] == '#' && s[1] == '#' {
		return "starts with ##"
	}
	return nameProblem(s)
}

// String returns the printed form, :name.
func (k Keyword) String() string { return Print(k) }

// String returns the printed form, the bare name.
func (s Symbol) String() string { return Print(s) }

// String returns the printed form.
func (l List) String() string { return Print(l) }

// String returns the printed form.
func (v Vector) String() string { return Print(v) }

func isDigit(c byte) bool { return '0' <= c && c <= '9' }

// isNamePunct reports whether c is one of the punctuation characters allowed
// in symbol and keyword names.
func isNamePunct(c byte) bool {
	switch c {
	case '-', '_', '.', '/', '?', '!', '*', '+', '<', '>', '=', '&', '%', '$', '#':
		return true
	}
	return false
}

// isNameRune reports whether r may appear in a symbol or keyword name.
func isNameRune(r rune) bool {
	if r < utf8.RuneSelf {
		c := byte(r)
		return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || isDigit(c) || isNamePunct(c)
	}
	return unicode.IsLetter(r)
}

// nameProblem says what is wrong with a keyword or symbol name, or "" when
// nothing is.
func nameProblem(s string) string {
	if s == "" {
		return "empty name"
	}
	if isDigit(s[0]) {
		return "starts with a digit"
	}
	if (s[0] == '+' || s[0] == '-') && len(s) > 1 && isDigit(s[1]) {
		return "reads as a number"
	}
	for i, r := range s {
		if r == utf8.RuneError {
			if _, size := utf8.DecodeRuneInString(s[i:]); size == 1 {
				return "invalid UTF-8"
			}
		}
		if !isNameRune(r) {
			return fmt.Sprintf("invalid character %q", r)
		}
	}
	return ""
}

func validName(s string) bool { return nameProblem(s) == "" }

// Equal reports whether a and b are the same SX value: the same type and, for
// containers, Equal elements. A List never equals a Vector, int64 1 never
// equals float64 1.0, floats compare by their bits except that every NaN
// equals every NaN (so 0.0 and -0.0 differ), and dicts compare as sets of
// entries regardless of how they were built. Two values are Equal exactly
// when they print the same.
//
// Equal panics if either value is not an SX value or nests deeper than
// [MaxDepth].
func Equal(a, b Value) bool { return equal(a, b, 0) }

// same reports whether b is an SX value of a's type equal to a.
func same[T comparable](a T, b Value) bool {
	checkSX(b)
	bb, ok := b.(T)
	return ok && a == bb
}

func equal(a, b Value, depth int) bool {
	switch a := a.(type) {
	case nil:
		checkSX(b)
		return b == nil
	case bool:
		return same(a, b)
	case int64:
		return same(a, b)
	case float64:
		checkSX(b)
		bb, ok := b.(float64)
		if !ok {
			return false
		}
		if math.IsNaN(a) || math.IsNaN(bb) {
			return math.IsNaN(a) && math.IsNaN(bb)
		}
		return math.Float64bits(a) == math.Float64bits(bb)
	case string:
		return same(a, b)
	case Keyword:
		return same(a, b)
	case Symbol:
		return same(a, b)
	case List:
		checkSX(b)
		bb, ok := b.(List)
		return ok && equalSeq(a, bb, depth)
	case Vector:
		checkSX(b)
		bb, ok := b.(Vector)
		return ok && equalSeq(a, bb, depth)
	case *Dict:
		checkSX(b)
		bb, ok := b.(*Dict)
		if !ok {
			return false
		}
		checkDepth(depth + 1)
		if a.Len() != bb.Len() {
			return false
		}
		if a.Len() == 0 {
			return true
		}
		for i := range a.ents {
			ea, eb := &a.ents[i], &bb.ents[i]
			if ea.p != eb.p || !equal(ea.Val, eb.Val, depth+1) {
				return false
			}
		}
		return true
	}
	panic(notSX(a))
}

func equalSeq(a, b []Value, depth int) bool {
	checkDepth(depth + 1)
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if !equal(a[i], b[i], depth+1) {
			return false
		}
	}
	return true
}

// checkSX panics unless v is of an SX type. It does not look inside
// containers.
func checkSX(v Value) {
	switch v.(type) {
	case nil, bool, int64, float64, string, Keyword, Symbol, List, Vector, *Dict:
		return
	}
	panic(notSX(v))
}

func notSX(v Value) error {
	return fmt.Errorf("sx: %T is not an SX value (convert it with FromGo)", v)
}

func checkDepth(d int) {
	if d > MaxDepth {
		panic(fmt.Errorf("sx: value nests deeper than %d (is it cyclic?)", MaxDepth))
	}
}

// kindName names the SX type of v for error messages.
func kindName(v Value) string {
	switch v.(type) {
	case nil:
		return "nil"
	case bool:
		return "bool"
	case int64:
		return "int64"
	case float64:
		return "float64"
	case string:
		return "string"
	case Keyword:
		return "keyword"
	case Symbol:
		return "symbol"
	case List:
		return "list"
	case Vector:
		return "vector"
	case *Dict:
		return "dict"
	}
	return fmt.Sprintf("non-SX type %T", v)
}
