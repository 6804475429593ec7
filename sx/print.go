package sx

import (
	"fmt"
	"io"
	"math"
	"strconv"
	"unicode"
	"unicode/utf8"
)

// Print returns the canonical text of v. It panics if v is or contains a
// value that is not an SX value, a [Keyword] or [Symbol] with an invalid name,
// or nests deeper than [MaxDepth]: convert Go values with [FromGo] first.
func Print(v Value) string {
	return string(AppendPrint(nil, v))
}

// AppendPrint appends the canonical text of v to buf and returns the result.
// It panics as [Print] does.
func AppendPrint(buf []byte, v Value) []byte {
	pr := printer{buf: buf}
	pr.value(v, 0)
	return pr.buf
}

// Fprint writes the canonical text of v to w. It panics as [Print] does and
// returns w's error.
func Fprint(w io.Writer, v Value) error {
	_, err := w.Write(AppendPrint(nil, v))
	return err
}

type printer struct {
	buf      []byte
	maxDepth int // the deepest container nesting seen
}

// value appends v, which sits inside depth containers.
func (pr *printer) value(v Value, depth int) {
	switch v := v.(type) {
	case nil:
		pr.buf = append(pr.buf, "nil"...)
	case bool:
		pr.buf = strconv.AppendBool(pr.buf, v)
	case int64:
		pr.buf = strconv.AppendInt(pr.buf, v, 10)
	case float64:
		pr.buf = appendFloat(pr.buf, v)
	case string:
		pr.buf = appendString(pr.buf, v)
	case Keyword:
		if !v.Valid() {
			panic(fmt.Errorf("sx: %w", badName("keyword", string(v))))
		}
		pr.buf = append(pr.buf, ':')
		pr.buf = append(pr.buf, v...)
	case Symbol:
		if !v.Valid() {
			panic(fmt.Errorf("sx: %w", badName("symbol", string(v))))
		}
		pr.buf = append(pr.buf, v...)
	case List:
		pr.seq('(', ')', v, depth)
	case Vector:
		pr.seq('[', ']', v, depth)
	case *Dict:
		d := pr.enter(depth)
		pr.buf = append(pr.buf, '{')
		for i := range v.Len() {
			e := &v.ents[i]
			if d+e.depth > MaxDepth {
				checkDepth(d + e.depth)
			}
			pr.maxDepth = max(pr.maxDepth, d+e.depth)
			if i > 0 {
				pr.buf = append(pr.buf, ' ')
			}
			pr.buf = append(pr.buf, e.p...)
			pr.buf = append(pr.buf, ' ')
			pr.value(e.Val, d)
		}
		pr.buf = append(pr.buf, '}')
	default:
		panic(notSX(v))
	}
}

func (pr *printer) enter(depth int) int {
	d := depth + 1
	checkDepth(d)
	pr.maxDepth = max(pr.maxDepth, d)
	return d
}

func (pr *printer) seq(open, close byte, vs []Value, depth int) {
	d := pr.enter(depth)
	pr.buf = append(pr.buf, open)
	for i, v := range vs {
		if i > 0 {
			pr.buf = append(pr.buf, ' ')
		}
		pr.value(v, d)
	}
	pr.buf = append(pr.buf, close)
}

func badName(kind, name string) error {
	problem := nameProblem(name)
	if kind == "symbol" {
		problem = symbolProblem(name)
	}
	return fmt.Errorf("invalid %s name %q: %s", kind, name, problem)
}

// appendFloat appends f so that it reads back as the same float64: plain
// decimal notation with a fraction for magnitudes in [1e-6, 1e20), exponent
// notation otherwise, and ##NaN, ##Inf, ##-Inf.
func appendFloat(buf []byte, f float64) []byte {
	switch {
	case math.IsNaN(f):
		return append(buf, "##NaN"...)
	case math.IsInf(f, 1):
		return append(buf, "##Inf"...)
	case math.IsInf(f, -1):
		return append(buf, "##-Inf"...)
	}
	abs := math.Abs(f)
	if abs != 0 && (abs < 1e-6 || abs >= 1e20) {
		return strconv.AppendFloat(buf, f, 'e', -1, 64)
	}
	start := len(buf)
	buf = strconv.AppendFloat(buf, f, 'f', -1, 64)
	for _, c := range buf[start:] {
		if c == '.' {
			return buf
		}
	}
	return append(buf, ".0"...)
}

const hexDigits = "0123456789abcdef"

// appendString appends s double-quoted. Quote, backslash, newline, tab and
// carriage return are escaped by letter, other control characters as
// \u{hex}, and bytes that are not valid UTF-8 as \x{hh}; everything else is
// written as it is, so the output is valid UTF-8.
func appendString(buf []byte, s string) []byte {
	buf = append(buf, '"')
	start := 0 // s[start:i] is pending, to be copied as is
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if c >= 0x20 && c != '"' && c != '\\' && c != 0x7f {
				i++
				continue
			}
			buf = append(buf, s[start:i]...)
			switch c {
			case '"':
				buf = append(buf, '\\', '"')
			case '\\':
				buf = append(buf, '\\', '\\')
			case '\n':
				buf = append(buf, '\\', 'n')
			case '\t':
				buf = append(buf, '\\', 't')
			case '\r':
				buf = append(buf, '\\', 'r')
			default:
				buf = appendRuneEscape(buf, rune(c))
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			buf = append(buf, s[start:i]...)
			buf = append(buf, '\\', 'x', '{', hexDigits[c>>4], hexDigits[c&0xf], '}')
			i++
			start = i
			continue
		}
		if unicode.IsControl(r) {
			buf = append(buf, s[start:i]...)
			buf = appendRuneEscape(buf, r)
			i += size
			start = i
			continue
		}
		i += size
	}
	buf = append(buf, s[start:]...)
	return append(buf, '"')
}

func appendRuneEscape(buf []byte, r rune) []byte {
	buf = append(buf, '\\', 'u', '{')
	buf = strconv.AppendInt(buf, int64(r), 16)
	return append(buf, '}')
}
