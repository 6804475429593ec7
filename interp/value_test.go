package interp

import (
	"errors"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"rose-ash.com/persist/ops"
)

func TestSameValue(t *testing.T) {
	now := time.Now()
	type inner struct {
		B []byte
		M map[string]int
		P *int
		A any
	}
	one, also := 1, 1
	cases := []struct {
		name string
		a, b any
		want bool
	}{
		{"nil and nil", nil, nil, true},
		{"nil and value", nil, 1, false},
		{"different types", int64(1), int32(1), false},
		{"nil bytes and empty", ops.KvPut{Key: "k"}, ops.KvPut{Key: "k", Value: []byte{}}, true},
		{"different bytes", ops.KvPut{Key: "k", Value: []byte("a")}, ops.KvPut{Key: "k", Value: []byte("b")}, false},
		{"nil slice and empty", ops.Commit{}, ops.Commit{Appends: []ops.Append{}}, true},
		{"nil map and empty", inner{}, inner{M: map[string]int{}}, true},
		{"maps", inner{M: map[string]int{"a": 1}}, inner{M: map[string]int{"a": 1}}, true},
		{"maps differ", inner{M: map[string]int{"a": 1}}, inner{M: map[string]int{"b": 1}}, false},
		{"pointers to equal", inner{P: &one}, inner{P: &also}, true},
		{"nil pointer", inner{P: &one}, inner{}, false},
		{"interfaces", inner{A: []byte(nil)}, inner{A: []byte{}}, true},
		{"interfaces of different types", inner{A: 1}, inner{A: "1"}, false},
		{"same instant", now, now.Round(0).In(time.FixedZone("x", 3600)), true},
		{"other instant", now, now.Add(time.Nanosecond), false},
		{"expectations", ops.Append{Stream: "s", Expect: ops.Exact(1)}, ops.Append{Stream: "s", Expect: ops.Exact(2)}, false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			assert.Equal(t, c.want, sameValue(c.a, c.b))
			assert.Equal(t, c.want, sameValue(c.b, c.a), "symmetric")
		})
	}
}

func TestDeepCopySharesNothing(t *testing.T) {
	orig := ops.Commit{
		Appends: []ops.Append{{Stream: "s", Events: []ops.EventData{{Type: "t", Data: []byte("abc")}}}},
		Kv:      []ops.KvChange{{Key: "k", Value: []byte("v")}},
	}
	c := deepCopy(orig)
	require.True(t, sameValue(orig, c))
	orig.Appends[0].Events[0].Data[0] = 'X'
	orig.Appends[0].Stream = "changed"
	orig.Kv[0].Value[0] = 'X'
	assert.Equal(t, "abc", string(c.Appends[0].Events[0].Data))
	assert.Equal(t, "s", c.Appends[0].Stream)
	assert.Equal(t, "v", string(c.Kv[0].Value))

	// Through an interface, a map and a pointer.
	n := 5
	v := any(map[string]*int{"n": &n})
	cv := deepCopy(v)
	n = 6
	assert.Equal(t, 5, *cv.(map[string]*int)["n"])

	// Errors keep their identity; nil stays nil; times stay equal.
	err := &ops.Conflict{Stream: "s"}
	assert.Same(t, err, deepCopy[any](err))
	assert.Nil(t, deepCopy[any](nil))
	now := time.Now()
	assert.True(t, deepCopy(now).Equal(now))
	assert.Nil(t, deepCopy(ops.KvPut{}).Value, "nil slices stay nil")
}

func TestDiff(t *testing.T) {
	assert.Equal(t, "- (a 1)\n+ (a 2)\n     ^", diff("(a 1)", "(a 2)"))
	assert.Equal(t, "- (a)\n+ (a b)\n    ^", diff("(a)", "(a b)"))
	assert.Equal(t, "- (é 1)\n+ (é 2)\n     ^", diff("(é 1)", "(é 2)"), "columns count characters")
	// A difference inside a multi-byte character is shown from its start.
	assert.Equal(t, "- é\n+ è\n  ^", diff("é", "è"))
	long := strings.Repeat("x", 100)
	got := diff(long+"1"+long, long+"2"+long)
	lines := strings.Split(got, "\n")
	require.Len(t, lines, 3)
	assert.Equal(t, "- …"+strings.Repeat("x", 24)+"1"+strings.Repeat("x", 24)+"…", lines[0])
	caret := utf8.RuneCountInString(lines[2]) - 1
	assert.Equal(t, '2', []rune(lines[1])[caret], "the caret is under the difference")
}

func FuzzDiff(f *testing.F) {
	f.Add("(a 1)", "(a 2)")
	f.Add("", "x")
	f.Add("é"+strings.Repeat("y", 60), "è"+strings.Repeat("y", 60))
	f.Add(strings.Repeat("ab", 40), strings.Repeat("ab", 41))
	f.Fuzz(func(t *testing.T, a, b string) {
		if !utf8.ValidString(a) || !utf8.ValidString(b) || strings.Contains(a+b, "\n") {
			t.Skip("printed effects are valid UTF-8 on one line")
		}
		d := diff(a, b)
		lines := strings.Split(d, "\n")
		if len(lines) != 3 || !strings.HasPrefix(lines[0], "- ") || !strings.HasPrefix(lines[1], "+ ") {
			t.Fatalf("malformed diff %q", d)
		}
		if !utf8.ValidString(d) {
			t.Fatalf("diff cut a character: %q", d)
		}
		if !strings.HasSuffix(lines[2], "^") || strings.Trim(lines[2], " ^") != "" {
			t.Fatalf("bad caret line %q", lines[2])
		}
		// Untrimmed, the caret sits at the first differing character.
		if len(a) <= 2*diffContext && len(b) <= 2*diffContext && a != b {
			col := utf8.RuneCountInString(lines[2]) - 1
			wr, gr := []rune(lines[0]), []rune(lines[1])
			if col < len(wr) && col < len(gr) && wr[col] == gr[col] {
				t.Fatalf("caret at %d is not under a difference in %q", col, d)
			}
		}
	})
}

func TestErrorLine(t *testing.T) {
	assert.Equal(t, "a | b", errorLine(errors.Join(errors.New("a"), errors.New("b"))))
}
