package sx

import (
	"encoding/binary"
	"errors"
	"math"
	"strings"
	"testing"
	"unicode/utf8"
)

var readSeeds = []string{
	"nil", "true", "-42", "+7", "1.5e+20", "-0.0", "##NaN", "##-Inf", `"a\"b\\\n\t\r\u{1b}\x{ff}"`,
	":first-seq", "persist/append", `(1 "a" :b)`, "[1 [2] ()]", `{:stream "orders" :seq 3 :data {"k" [1.0]}}`,
	"; c\n(1 ; d\n 2)", "{:a 1 :a 2}", "{:a}", "(]", `"\u{d800}"`, "1e400", "9223372036854775808", ":1", "##x",
	"{{:a 1} [nil] (x) 2.5}", "\u00a0x\u3000", "a@b", "'x", "((((((", "\"unterminated",
}

func FuzzRead(f *testing.F) {
	for _, s := range readSeeds {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		v, err := Read(s)
		checkReadError(t, s, err)
		if err == nil {
			checkReprint(t, v)
		}
		vs, err := ReadAll(s)
		checkReadError(t, s, err)
		for _, v := range vs {
			checkReprint(t, v)
		}
	})
}

func checkReadError(t *testing.T, s string, err error) {
	t.Helper()
	if err == nil {
		return
	}
	var se *SyntaxError
	if !errors.As(err, &se) {
		t.Fatalf("error %T is not a *SyntaxError: %v", err, err)
	}
	if se.Offset < 0 || se.Offset > len(s) || se.Line < 1 || se.Col < 1 || se.Msg == "" {
		t.Fatalf("bad error position or message for %q: %+v", s, se)
	}
}

// checkReprint asserts that v prints as valid UTF-8, that its print reads
// back Equal, and that the value read back prints identically.
func checkReprint(t *testing.T, v Value) {
	t.Helper()
	text := Print(v)
	if !utf8.ValidString(text) {
		t.Fatalf("print is not valid UTF-8: %q", text)
	}
	back, err := Read(text)
	if err != nil {
		t.Fatalf("printed text %q does not read back: %v", text, err)
	}
	if !Equal(v, back) {
		t.Fatalf("%q read back as %q", text, Print(back))
	}
	if again := Print(back); again != text {
		t.Fatalf("printed %q, then %q", text, again)
	}
}

func FuzzRoundTrip(f *testing.F) {
	f.Add([]byte{})
	f.Add([]byte{9, 3, 5, 1, 2, 3, 4, 7, 2, 2, 8, 1, 2, 3, 4, 5, 6, 7, 8})
	f.Add([]byte{7, 4, 4, 5, 0xff, 0xfe, 'a', '"', '\\', 3, 0x7f, 0xf8, 0, 0, 0, 0, 0, 1})
	f.Add([]byte("\x09\x05\x05\x03abc\x06\x02zz\x0b\x03\x00\xe9\x26\x03"))
	f.Fuzz(func(t *testing.T, data []byte) {
		g := &gen{b: data}
		v := g.value(0)
		checkReprint(t, v)
		// The dict, list and vector built from the same value agree too.
		checkReprint(t, Vector{v, List{v}, NewDict(v, v)})
	})
}

// gen builds an SX value from fuzz bytes, reading zeros once they run out.
type gen struct{ b []byte }

func (g *gen) byte() byte {
	if len(g.b) == 0 {
		return 0
	}
	c := g.b[0]
	g.b = g.b[1:]
	return c
}

func (g *gen) uint64() uint64 {
	var buf [8]byte
	for i := range buf {
		buf[i] = g.byte()
	}
	return binary.LittleEndian.Uint64(buf[:])
}

const (
	nameStart = "abcXYZ-_./?!*+<>=&%$#éж日"
	nameRest  = nameStart + "0123456789"
)

func (g *gen) name() string {
	var b strings.Builder
	start := []rune(nameStart)
	rest := []rune(nameRest)
	b.WriteRune(start[int(g.byte())%len(start)])
	for n := int(g.byte() % 6); n > 0; n-- {
		b.WriteRune(rest[int(g.byte())%len(rest)])
	}
	s := b.String()
	if !validName(s) { // + or - then a digit
		s = "x" + s
	}
	return s
}

func (g *gen) value(depth int) Value {
	kind := g.byte() % 13
	if depth >= 12 && kind >= 7 {
		kind %= 7
	}
	switch kind {
	case 0:
		return nil
	case 1:
		return g.byte()%2 == 1
	case 2:
		return int64(g.uint64())
	case 3:
		return math.Float64frombits(g.uint64()) // any bits: NaNs, infinities, -0, denormals
	case 4:
		n := int(g.byte() % 16)
		b := make([]byte, 0, n)
		for range n {
			b = append(b, g.byte()) // arbitrary bytes, often invalid UTF-8
		}
		return string(b)
	case 5:
		return Keyword(g.name())
	case 6:
		s := Symbol(g.name())
		if !s.Valid() {
			s = "s" + s
		}
		return s
	case 7, 8:
		n := int(g.byte() % 5)
		vs := make([]Value, n)
		for i := range vs {
			vs[i] = g.value(depth + 1)
		}
		if kind == 7 {
			return List(vs)
		}
		return Vector(vs)
	case 9:
		d := NewDict()
		for n := int(g.byte() % 5); n > 0; n-- {
			d.Set(g.value(depth+1), g.value(depth+1))
		}
		return d
	case 10:
		return float64(int8(g.byte())) / 4 // small, exact floats
	case 11:
		var b strings.Builder
		for n := int(g.byte() % 6); n > 0; n-- {
			r := rune(g.byte())<<8 | rune(g.byte())
			b.WriteRune(r) // control characters, surrogates (as U+FFFD) and more
		}
		return b.String()
	default:
		return int64(int8(g.byte()))
	}
}
