package sx

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestDictBasics(t *testing.T) {
	var d Dict // the zero Dict is ready to use
	assert.Equal(t, 0, d.Len())
	_, ok := d.Get(Keyword("a"))
	assert.False(t, ok)

	d.Set(Keyword("b"), int64(2))
	d.Set(Keyword("a"), int64(1))
	d.Set("a", "string key")
	require.Equal(t, 3, d.Len())

	v, ok := d.Get(Keyword("a"))
	assert.True(t, ok)
	assert.Equal(t, int64(1), v)
	v, ok = d.Get("a")
	assert.True(t, ok)
	assert.Equal(t, "string key", v)
	_, ok = d.Get(Symbol("a"))
	assert.False(t, ok, "a symbol is not a keyword")

	d.Set(Keyword("a"), nil)
	v, ok = d.Get(Keyword("a"))
	assert.True(t, ok, "a nil value is still an entry")
	assert.Nil(t, v)
	assert.Equal(t, 3, d.Len())

	d.Delete(Keyword("a"))
	d.Delete(Keyword("absent"))
	_, ok = d.Get(Keyword("a"))
	assert.False(t, ok)
	assert.Equal(t, `{"a" "string key" :b 2}`, Print(&d))
}

func TestDictNilIsEmpty(t *testing.T) {
	var d *Dict
	assert.Equal(t, 0, d.Len())
	assert.Nil(t, d.Entries())
	_, ok := d.Get(Keyword("a"))
	assert.False(t, ok)
	d.Delete(Keyword("a"))
	for range d.All() {
		t.Fatal("nil dict yields entries")
	}
	assert.Equal(t, "{}", Print(d))
}

func TestDictCompositeKeys(t *testing.T) {
	d := NewDict()
	d.Set(List{int64(1), int64(2)}, "list")
	d.Set(Vector{int64(1), int64(2)}, "vector")
	d.Set(NewDict(Keyword("x"), int64(1), Keyword("y"), int64(2)), "dict")
	d.Set(math.NaN(), "nan")

	v, ok := d.Get(List{int64(1), int64(2)})
	assert.True(t, ok)
	assert.Equal(t, "list", v)
	v, ok = d.Get(NewDict(Keyword("y"), int64(2), Keyword("x"), int64(1)))
	assert.True(t, ok, "dict keys match regardless of insertion order")
	assert.Equal(t, "dict", v)
	v, ok = d.Get(math.Float64frombits(math.Float64bits(math.NaN()) | 1))
	assert.True(t, ok, "every NaN is the same key")
	assert.Equal(t, "nan", v)
	_, ok = d.Get(int64(1))
	assert.False(t, ok)

	assert.Equal(t, `{##NaN "nan" (1 2) "list" [1 2] "vector" {:x 1 :y 2} "dict"}`, Print(d))
}

func TestDictCanonicalOrder(t *testing.T) {
	keys := []Value{
		Keyword("stream"), Keyword("seq"), Keyword("at"), Keyword("a"), Keyword("a-b"), Keyword("ab"),
		"s", "", int64(-1), int64(10), int64(9), 1.5, nil, true, false, Symbol("sym"),
		List{}, Vector{int64(1)}, NewDict(),
	}
	want := []string{`""`, `"s"`, "()", "-1", "1.5", "10", "9",
		":a", ":a-b", ":ab", ":at", ":seq", ":stream", "[1]", "false", "nil", "sym", "true", "{}"}

	rng := rand.New(rand.NewPCG(1, 2))
	var first string
	for range 20 {
		perm := rng.Perm(len(keys))
		d := NewDict()
		for _, i := range perm {
			d.Set(keys[i], int64(i))
		}
		var got []string
		for _, e := range d.Entries() {
			got = append(got, Print(e.Key))
		}
		assert.Equal(t, want, got)
		text := Print(d)
		if first == "" {
			first = text
		}
		assert.Equal(t, first, text, "printing does not depend on insertion order")
	}
}

func TestNewDict(t *testing.T) {
	d := NewDict(Keyword("a"), int64(1), Keyword("b"), int64(2), Keyword("a"), int64(3))
	assert.Equal(t, 2, d.Len())
	v, _ := d.Get(Keyword("a"))
	assert.Equal(t, int64(3), v, "a later duplicate wins")

	assert.PanicsWithValue(t, "sx: NewDict: odd number of arguments (want key, value pairs)", func() {
		NewDict(Keyword("a"))
	})
	assert.PanicsWithError(t, "sx: int is not an SX value (convert it with FromGo)", func() {
		NewDict(1, 2)
	})
	assert.PanicsWithError(t, `sx: invalid keyword name "a b": invalid character ' '`, func() {
		NewDict().Set(Keyword("a b"), nil)
	})
}

func TestDictEntriesIsACopy(t *testing.T) {
	d := NewDict(Keyword("a"), int64(1))
	es := d.Entries()
	es[0].Val = int64(99)
	v, _ := d.Get(Keyword("a"))
	assert.Equal(t, int64(1), v)
}

func TestDictAll(t *testing.T) {
	d := NewDict(Keyword("c"), int64(3), Keyword("a"), int64(1), Keyword("b"), int64(2))
	var keys []Value
	var sum int64
	for k, v := range d.All() {
		keys = append(keys, k)
		sum += v.(int64)
	}
	assert.Equal(t, []Value{Keyword("a"), Keyword("b"), Keyword("c")}, keys)
	assert.Equal(t, int64(6), sum)

	n := 0
	for range d.All() {
		n++
		break
	}
	assert.Equal(t, 1, n)
}

func TestDictManyKeys(t *testing.T) {
	d := NewDict()
	rng := rand.New(rand.NewPCG(3, 4))
	want := map[int64]bool{}
	for range 2000 {
		k := rng.Int64N(1000)
		if rng.IntN(4) == 0 {
			d.Delete(k)
			delete(want, k)
		} else {
			d.Set(k, k)
			want[k] = true
		}
	}
	require.Equal(t, len(want), d.Len())
	for k := range want {
		v, ok := d.Get(k)
		require.True(t, ok)
		require.Equal(t, k, v)
	}
	back, err := Read(Print(d))
	require.NoError(t, err)
	assert.True(t, Equal(d, back))
}
