package plaintext

import (
	"bytes"
	"testing"
)

// TestReaderSubset holds each primitive of Reader to the subset: what it
// reads, and where it gives up, in both notations.
func TestReaderSubset(t *testing.T) {
	for _, tc := range []struct {
		text string
		json bool
		read func(r *Reader) (any, bool)
		want any // nil when the reader must give up
	}{
		{`17`, false, uintOf, uint64(17)},
		{`0`, true, uintOf, uint64(0)},
		{`017`, false, uintOf, nil},
		{`-1`, false, uintOf, nil},
		{`1234567890123456789`, false, uintOf, nil}, // past MaxDigits
		{`123456789012345678`, true, uintOf, uint64(123456789012345678)},
		{`17x`, false, uintOf, nil},
		{`"a\"b\\c"`, false, textOf, `a"b\c`},
		{`"plain"`, true, textOf, `plain`},
		{`"a\nb"`, false, textOf, nil},    // an escape outside the subset
		{"\"a\x01b\"", true, textOf, nil}, // a control byte
		{"\"\xc3\xa9\"", false, textOf, nil},
		{`"open`, false, textOf, nil},
		{`"a""b"`, false, textOf, nil}, // a token touching the string
		{`true`, false, boolOf, true},
		{`false`, true, boolOf, false},
		{`truex`, false, boolOf, nil},
		{`persist/append`, false, symbolOf, "persist/append"},
		{`Persist`, false, symbolOf, nil},
		{`{:a 1 :b "x"}`, false, dictOf, "a=1 b=x "},
		{`{"a":1,"b":"x"}`, true, dictOf, "a=1 b=x "},
		{`{:b "x"}`, false, dictOf, "b=x "},
		{`{:a 1 :a 2}`, false, dictOf, nil}, // a key twice
		{`{:c 1}`, false, dictOf, nil},      // an unknown key
		{`{:a 1, :b "x"}`, false, dictOf, nil},
		{`{"a":1 "b":"x"}`, true, dictOf, nil},
		{`{:a 1:b "x"}`, false, dictOf, nil},
		{`[1 2 3]`, false, vectorOf, "1,2,3,"},
		{`[1,2,3]`, true, vectorOf, "1,2,3,"},
		{`[]`, false, vectorOf, ""},
		{`[1 2,3]`, false, vectorOf, nil},
		{`[1 2`, false, vectorOf, nil},
	} {
		r := Reader{S: []byte(tc.text), JSON: tc.json}
		got, ok := tc.read(&r)
		switch {
		case tc.want == nil && ok:
			t.Errorf("%s (json %v): read %#v, want it to give up", tc.text, tc.json, got)
		case tc.want != nil && !ok:
			t.Errorf("%s (json %v): gave up, want %#v", tc.text, tc.json, tc.want)
		case tc.want != nil && got != tc.want:
			t.Errorf("%s (json %v): read %#v, want %#v", tc.text, tc.json, got, tc.want)
		case ok && r.I != len(r.S):
			t.Errorf("%s (json %v): stopped at %d of %d", tc.text, tc.json, r.I, len(r.S))
		}
	}
}

// TestReaderData holds Data to what the generic conversion stores: a copy
// the caller may keep, and nil for the empty string.
func TestReaderData(t *testing.T) {
	text := []byte(`"abc"`)
	r := Reader{S: text}
	b, ok := r.Data()
	if !ok || string(b) != "abc" {
		t.Fatalf("Data = %q, %v", b, ok)
	}
	text[1] = 'x'
	if string(b) != "abc" {
		t.Fatalf("Data shares the text: %q", b)
	}
	r = Reader{S: []byte(`""`)}
	if b, ok := r.Data(); !ok || b != nil {
		t.Fatalf("Data of \"\" = %#v, %v, want nil", b, ok)
	}
}

func uintOf(r *Reader) (any, bool) { return r.Uint() }
func boolOf(r *Reader) (any, bool) { return r.Bool() }

func textOf(r *Reader) (any, bool) {
	s, ok := r.String()
	return s, ok
}

func symbolOf(r *Reader) (any, bool) {
	b, ok := r.Symbol()
	return string(b), ok
}

// dictOf reads a dict of keys a (a number) and b (a string) and gives
// what it read as "a=1 b=x ".
func dictOf(r *Reader) (any, bool) {
	var out bytes.Buffer
	ok := r.Dict([]string{"a", "b"}, func(k int) bool {
		if k == 0 {
			n, ok := r.Uint()
			out.WriteString("a=" + string(rune('0'+n)) + " ")
			return ok
		}
		s, ok := r.String()
		out.WriteString("b=" + s + " ")
		return ok
	})
	return out.String(), ok
}

func vectorOf(r *Reader) (any, bool) {
	var out bytes.Buffer
	ok := r.Vector(func() bool {
		n, ok := r.Uint()
		out.WriteString(string(rune('0'+n)) + ",")
		return ok
	})
	return out.String(), ok
}
