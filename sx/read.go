package sx

import (
	"fmt"
	"math"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"
)

// SyntaxError reports text that is not SX notation: where (Offset is a
// 0-based byte offset; Line and Col are 1-based, Col counting characters) and
// what.
type SyntaxError struct {
	Offset int
	Line   int
	Col    int
	Msg    string
}

func (e *SyntaxError) Error() string {
	return fmt.Sprintf("sx: line %d, col %d: %s", e.Line, e.Col, e.Msg)
}

// Read reads exactly one value from s. Whitespace, commas and ; comments may
// surround it. Errors are [*SyntaxError]s. Strings and dict keys in the
// result may share memory with s.
func Read(s string) (Value, error) {
	r := newReader(s)
	if err := r.checkUTF8(); err != nil {
		return nil, err
	}
	r.skipSpace()
	if r.pos == len(r.src) {
		return nil, r.errAt(r.pos, "want a value, found end of input")
	}
	v, err := r.value()
	if err != nil {
		return nil, err
	}
	r.skipSpace()
	if r.pos < len(r.src) {
		if err := r.stray(); err != nil {
			return nil, err
		}
		return nil, r.errAt(r.pos, "want one value, found another after it")
	}
	return v, nil
}

// ReadAll reads every value in s, in order. Input with only whitespace and
// comments reads as no values. Errors are [*SyntaxError]s.
func ReadAll(s string) ([]Value, error) {
	r := newReader(s)
	if err := r.checkUTF8(); err != nil {
		return nil, err
	}
	var out []Value
	for {
		r.skipSpace()
		if r.pos == len(r.src) {
			return out, nil
		}
		v, err := r.value()
		if err != nil {
			return nil, err
		}
		out = append(out, v)
	}
}

func newReader(s string) *reader {
	return &reader{src: s, stack: make([]Value, 0, 16), offs: make([]int, 0, 16)}
}

type reader struct {
	src   string
	pos   int
	depth int
	stack []Value // items of the containers being read, innermost last
	offs  []int   // where each item of the dicts being read starts
}

func (r *reader) errAt(off int, format string, args ...any) *SyntaxError {
	before := r.src[:off]
	line := strings.Count(before, "\n") + 1
	col := utf8.RuneCountInString(before[strings.LastIndexByte(before, '\n')+1:]) + 1
	return &SyntaxError{Offset: off, Line: line, Col: col, Msg: fmt.Sprintf(format, args...)}
}

func (r *reader) checkUTF8() error {
	if utf8.ValidString(r.src) {
		return nil
	}
	for i := 0; i < len(r.src); {
		c, size := utf8.DecodeRuneInString(r.src[i:])
		if c == utf8.RuneError && size == 1 {
			return r.errAt(i, "invalid UTF-8 byte 0x%02x (write it in a string as \\x{%02x})", r.src[i], r.src[i])
		}
		i += size
	}
	return nil
}

// isSpaceRune reports whether r separates values: Unicode white space or a
// comma.
func isSpaceRune(r rune) bool {
	return r == ',' || unicode.IsSpace(r)
}

// isDelim reports whether r ends a symbol, keyword or number.
func isDelim(r rune) bool {
	switch r {
	case '(', ')', '[', ']', '{', '}', '"', ';':
		return true
	}
	return isSpaceRune(r)
}

func (r *reader) skipSpace() {
	for r.pos < len(r.src) {
		c := r.src[r.pos]
		switch {
		case c == ' ' || c == '\n' || c == '\t' || c == '\r' || c == ',':
			r.pos++
		case c == ';':
			if i := strings.IndexByte(r.src[r.pos:], '\n'); i >= 0 {
				r.pos += i + 1
			} else {
				r.pos = len(r.src)
			}
		case c < utf8.RuneSelf:
			if !isSpaceRune(rune(c)) {
				return
			}
			r.pos++
		default:
			rn, size := utf8.DecodeRuneInString(r.src[r.pos:])
			if !isSpaceRune(rn) {
				return
			}
			r.pos += size
		}
	}
}

// stray reports a closing bracket at r.pos, or returns nil.
func (r *reader) stray() error {
	switch c := r.src[r.pos]; c {
	case ')', ']', '}':
		return r.errAt(r.pos, "unexpected %q", c)
	}
	return nil
}

var openName = map[byte]string{'(': "list", '[': "vector", '{': "dict"}

// value reads one value starting at r.pos, which is not space or end of
// input.
func (r *reader) value() (Value, error) {
	start := r.pos
	switch c := r.src[start]; c {
	case '"':
		return r.str()
	case '(', '[', '{':
		r.depth++
		defer func() { r.depth-- }()
		if r.depth > MaxDepth {
			return nil, r.errAt(start, "nesting deeper than %d", MaxDepth)
		}
		r.pos++
		base, obase := len(r.stack), len(r.offs)
		if err := r.items(c, start); err != nil {
			return nil, err
		}
		items := r.stack[base:]
		var v Value
		var err error
		switch c {
		case '(':
			v = List(clone(items))
		case '[':
			v = Vector(clone(items))
		default:
			v, err = r.dict(items, r.offs[obase:])
		}
		clear(items)
		r.stack, r.offs = r.stack[:base], r.offs[:obase]
		return v, err
	case ')', ']', '}':
		return nil, r.stray()
	}
	return r.atom()
}

func closer(open byte) byte {
	switch open {
	case '(':
		return ')'
	case '[':
		return ']'
	}
	return '}'
}

func clone(items []Value) []Value {
	if len(items) == 0 {
		return nil
	}
	return append(make([]Value, 0, len(items)), items...)
}

// items reads values up to the bracket closing open, which is at start,
// pushing them on r.stack and, for a dict, where each starts on r.offs.
func (r *reader) items(open byte, start int) error {
	close := closer(open)
	for {
		r.skipSpace()
		if r.pos == len(r.src) {
			return r.errAt(start, "unterminated %s", openName[open])
		}
		switch c := r.src[r.pos]; c {
		case close:
			r.pos++
			return nil
		case ')', ']', '}':
			at := r.errAt(start, "")
			return r.errAt(r.pos, "unexpected %q: the %s opened at line %d, col %d closes with %q",
				c, openName[open], at.Line, at.Col, close)
		}
		if open == '{' {
			r.offs = append(r.offs, r.pos)
		}
		v, err := r.value()
		if err != nil {
			return err
		}
		r.stack = append(r.stack, v)
	}
}

// dict builds a dict from alternating keys and values, read at offs.
func (r *reader) dict(items []Value, offs []int) (Value, error) {
	if len(items)%2 != 0 {
		last := offs[len(offs)-1]
		return nil, r.errAt(last, "dict key %s has no value", brief(Print(items[len(items)-1])))
	}
	d := &Dict{ents: make([]dictEntry, 0, len(items)/2)}
	for i := 0; i < len(items); i += 2 {
		var p string
		var depth int
		if k, ok := items[i].(Keyword); ok {
			p = r.src[offs[i] : offs[i]+1+len(k)] // a keyword reads as it prints
		} else {
			p, depth = printKey(items[i])
		}
		d.ents = append(d.ents, dictEntry{Entry: Entry{Key: items[i], Val: items[i+1]}, p: p, depth: depth})
	}
	if d.sort() {
		seen := make(map[string]bool, len(items)/2)
		for i := 0; i < len(items); i += 2 {
			p, _ := printKey(items[i])
			if seen[p] {
				return nil, r.errAt(offs[i], "duplicate dict key %s", brief(p))
			}
			seen[p] = true
		}
	}
	return d, nil
}

// str reads a string starting at the quote at r.pos.
func (r *reader) str() (Value, error) {
	start := r.pos
	i := start + 1
	// Fast path: no escapes.
	for i < len(r.src) {
		c := r.src[i]
		if c == '"' {
			r.pos = i + 1
			return r.src[start+1 : i], nil
		}
		if c == '\\' {
			break
		}
		i++
	}
	// An escape is never shorter than what it decodes to, so the raw text
	// up to the closing quote bounds the string: one allocation, no
	// growing.
	end := i
	for end < len(r.src) && r.src[end] != '"' {
		if r.src[end] == '\\' {
			end++
		}
		end++
	}
	buf := make([]byte, 0, min(end, len(r.src))-start)
	buf = append(buf, r.src[start+1:i]...)
	for i < len(r.src) {
		c := r.src[i]
		switch c {
		case '"':
			r.pos = i + 1
			return string(buf), nil
		case '\\':
			var err error
			buf, i, err = r.escape(buf, i)
			if err != nil {
				return nil, err
			}
		default:
			buf = append(buf, c)
			i++
		}
	}
	return nil, r.errAt(start, "unterminated string")
}

// escape decodes the escape sequence at the backslash at i, appends it to
// buf and returns the offset after it.
func (r *reader) escape(buf []byte, i int) ([]byte, int, error) {
	if i+1 >= len(r.src) {
		return nil, 0, r.errAt(i, "unterminated escape sequence")
	}
	switch c := r.src[i+1]; c {
	case '"', '\\':
		return append(buf, c), i + 2, nil
	case 'n':
		return append(buf, '\n'), i + 2, nil
	case 't':
		return append(buf, '\t'), i + 2, nil
	case 'r':
		return append(buf, '\r'), i + 2, nil
	case 'u', 'x':
		maxDigits := 6
		if c == 'x' {
			maxDigits = 2
		}
		j := i + 2
		if j >= len(r.src) || r.src[j] != '{' {
			return nil, 0, r.errAt(i, "invalid escape: want \\%c{hex}", c)
		}
		j++
		end := strings.IndexByte(r.src[j:], '}')
		if end < 0 || end == 0 || end > maxDigits {
			return nil, 0, r.errAt(i, "invalid escape: want \\%c{hex} with 1 to %d hex digits", c, maxDigits)
		}
		digits := r.src[j : j+end]
		n, err := strconv.ParseUint(digits, 16, 32)
		if err != nil || strings.ContainsAny(digits, "+-_xX") {
			return nil, 0, r.errAt(i, "invalid escape: %q is not hexadecimal", digits)
		}
		next := j + end + 1
		if c == 'x' {
			return append(buf, byte(n)), next, nil
		}
		if n > unicode.MaxRune || 0xd800 <= n && n <= 0xdfff {
			return nil, 0, r.errAt(i, "invalid escape: \\u{%s} is not a Unicode scalar value", digits)
		}
		return utf8.AppendRune(buf, rune(n)), next, nil
	}
	rn, _ := utf8.DecodeRuneInString(r.src[i+1:])
	return nil, 0, r.errAt(i, "invalid escape \\%c", rn)
}

// atom reads a number, keyword, symbol or literal starting at r.pos.
func (r *reader) atom() (Value, error) {
	start := r.pos
	end := start
	for end < len(r.src) {
		rn, size := rune(r.src[end]), 1
		if rn >= utf8.RuneSelf {
			rn, size = utf8.DecodeRuneInString(r.src[end:])
		}
		if isDelim(rn) {
			break
		}
		end += size
	}
	r.pos = end
	tok := r.src[start:end]
	c := tok[0]
	switch {
	case isDigit(c) || (c == '+' || c == '-') && len(tok) > 1 && isDigit(tok[1]):
		return r.number(tok, start)
	case c == ':':
		if err := r.checkChars(tok[1:], start+1); err != nil {
			return nil, err
		}
		if p := nameProblem(tok[1:]); p != "" {
			return nil, r.errAt(start, "invalid keyword %q: %s", tok, p)
		}
		return Keyword(tok[1:]), nil
	case strings.HasPrefix(tok, "##"):
		switch tok {
		case "##NaN":
			return math.NaN(), nil
		case "##Inf":
			return math.Inf(1), nil
		case "##-Inf":
			return math.Inf(-1), nil
		}
		return nil, r.errAt(start, "unknown literal %s (want ##NaN, ##Inf or ##-Inf)", tok)
	}
	if err := r.checkChars(tok, start); err != nil {
		return nil, err
	}
	switch tok {
	case "nil":
		return nil, nil
	case "true":
		return true, nil
	case "false":
		return false, nil
	}
	return Symbol(tok), nil
}

// checkChars reports the first character of tok, at offset off, that may not
// appear in a name.
func (r *reader) checkChars(tok string, off int) error {
	for i, rn := range tok {
		if !isNameRune(rn) {
			return r.errAt(off+i, "invalid character %q", rn)
		}
	}
	return nil
}

// number reads an integer or float token at offset off.
func (r *reader) number(tok string, off int) (Value, error) {
	isFloat, ok := scanNumber(tok)
	if !ok {
		return nil, r.errAt(off, "invalid number %q", tok)
	}
	if !isFloat {
		n, err := strconv.ParseInt(tok, 10, 64)
		if err != nil {
			return nil, r.errAt(off, "integer %s out of range", tok)
		}
		return n, nil
	}
	f, err := strconv.ParseFloat(tok, 64)
	if err != nil {
		return nil, r.errAt(off, "float %s out of range", tok)
	}
	return f, nil
}

// scanNumber checks tok against [+-]?D+(.D+)?([eE][+-]?D+)? and reports
// whether it has a fraction or an exponent.
func scanNumber(tok string) (isFloat, ok bool) {
	i := 0
	if tok[0] == '+' || tok[0] == '-' {
		i++
	}
	digits := func() bool {
		j := i
		for i < len(tok) && isDigit(tok[i]) {
			i++
		}
		return i > j
	}
	if !digits() {
		return false, false
	}
	if i < len(tok) && tok[i] == '.' {
		i++
		isFloat = true
		if !digits() {
			return false, false
		}
	}
	if i < len(tok) && (tok[i] == 'e' || tok[i] == 'E') {
		i++
		isFloat = true
		if i < len(tok) && (tok[i] == '+' || tok[i] == '-') {
			i++
		}
		if !digits() {
			return false, false
		}
	}
	return isFloat, i == len(tok)
}

// brief shortens printed text for an error message.
func brief(s string) string {
	const limit = 40
	if utf8.RuneCountInString(s) <= limit {
		return s
	}
	return string([]rune(s)[:limit]) + "…"
}
