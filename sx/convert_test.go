package sx

import (
	"encoding/hex"
	"errors"
	"fmt"
	"math"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// Returns mirrors effect.Returns: a zero-size marker embedded in
// descriptors.
type Returns[R any] struct{}

// testID is a fixed-size identifier that marshals as hex text, like a UUID.
type testID [4]byte

func (id testID) MarshalText() ([]byte, error) { return []byte(hex.EncodeToString(id[:])), nil }

func (id *testID) UnmarshalText(b []byte) error {
	if len(b) != 8 {
		return fmt.Errorf("id %q: want 8 hex digits", b)
	}
	_, err := hex.Decode(id[:], b)
	return err
}

type testEvent struct {
	ID       testID
	Stream   string
	Seq      uint64
	Type     string
	At       time.Time
	Data     []byte
	internal int
}

type testExpect struct {
	Kind uint8
	N    uint64
}

type testAppend struct {
	Returns[testResult]
	Stream string
	Expect testExpect
	Events []testEvent
}

type testResult struct {
	FirstSeq uint64
	Head     uint64
}

func mustFromGo(t testing.TB, v any) Value {
	t.Helper()
	out, err := FromGo(v)
	require.NoError(t, err)
	return out
}

func TestFromGoDescriptor(t *testing.T) {
	at := time.Date(2025, 3, 4, 5, 6, 7, 8, time.UTC)
	op := testAppend{
		Stream: "orders",
		Expect: testExpect{Kind: 3, N: 7},
		Events: []testEvent{
			{ID: testID{1, 2, 3, 4}, Stream: "orders", Seq: 8, Type: "placed", At: at, Data: []byte(`{"n":1}`), internal: 5},
			{Type: "raw", Data: []byte{0xff, 0x00}},
		},
	}
	got := mustFromGo(t, op)
	want := `{:events [` +
		`{:at "2025-03-04T05:06:07.000000008Z" :data "{\"n\":1}" :id "01020304" :seq 8 :stream "orders" :type "placed"} ` +
		`{:at "0001-01-01T00:00:00Z" :data (bytes "/wA=") :id "00000000" :seq 0 :stream "" :type "raw"}] ` +
		`:expect {:kind 3 :n 7} :stream "orders"}`
	assert.Equal(t, want, Print(got))

	var back testAppend
	require.NoError(t, ToGo(got, &back))
	op.Events[0].internal = 0
	assert.Equal(t, op, back)
}

func TestFromGoScalars(t *testing.T) {
	type named string
	type flag bool
	tests := []struct {
		name string
		in   any
		want Value
	}{
		{"nil", nil, nil},
		{"int", 7, int64(7)},
		{"int8", int8(-8), int64(-8)},
		{"uint16", uint16(16), int64(16)},
		{"uint64 max int", uint64(math.MaxInt64), int64(math.MaxInt64)},
		{"uintptr", uintptr(3), int64(3)},
		{"float32", float32(1.5), 1.5},
		{"float64", 2.25, 2.25},
		{"duration", 3 * time.Second, int64(3e9)},
		{"named string", named("x"), "x"},
		{"named bool", flag(true), true},
		{"keyword", Keyword("k"), Keyword("k")},
		{"symbol", Symbol("s"), Symbol("s")},
		{"nil pointer", (*int)(nil), nil},
		{"pointer", ptr(5), int64(5)},
		{"pointer to pointer", ptr(ptr("x")), "x"},
		{"error", errors.New("boom"), "boom"},
		{"text marshaler", testID{0xa, 0xb, 0xc, 0xd}, "0a0b0c0d"},
		{"text marshaler pointer", &testID{1}, "01000000"},
		{"valid bytes", []byte("héllo"), "héllo"},
		{"nil bytes", []byte(nil), ""},
		{"invalid bytes", []byte{0xc3, 0x28}, List{Symbol("bytes"), "wyg="}},
		{"slice", []int{1, 2}, Vector{int64(1), int64(2)}},
		{"nil slice", []string(nil), Vector{}},
		{"array", [2]bool{true, false}, Vector{true, false}},
		{"any slice", []any{1, "a", nil, Keyword("k")}, Vector{int64(1), "a", nil, Keyword("k")}},
		{"map", map[string]int{"b": 2, "a": 1}, NewDict("a", int64(1), "b", int64(2))},
		{"nil map", map[string]int(nil), NewDict()},
		{"map keyword keys", map[Keyword]any{"x": []int{}}, NewDict(Keyword("x"), Vector{})},
		{"sx list with go values", List{1, "a", List{uint8(2)}}, List{int64(1), "a", List{int64(2)}}},
		{"sx dict with go values", NewDict(Keyword("a"), 1), NewDict(Keyword("a"), int64(1))},
		{"sx dict value", *NewDict(Keyword("a"), int64(1)), NewDict(Keyword("a"), int64(1))},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := FromGo(tt.in)
			require.NoError(t, err)
			assert.True(t, Equal(tt.want, got), "want %s, got %s", Print(tt.want), Print(got))
		})
	}
}

func ptr[T any](v T) *T { return &v }

type inner struct {
	A int
	B string
}

type tagged struct {
	Renamed   string `sx:"name"`
	Skipped   string `sx:"-"`
	Empty     string `sx:",omitempty"`
	EmptyList []int  `sx:"list,omitempty"`
	Zero      int    `sx:",omitempty"`
	Kept      int
	UserID    int
	HTTPCode  int
	Base64Raw string
	Snake_Key int
	hidden    int
}

type zeros struct {
	ID   [4]byte `sx:",omitzero"`
	Keep [4]byte `sx:",omitempty"` // an array is never empty
	N    int     `sx:",omitzero"`
}

func TestFromGoOmitZero(t *testing.T) {
	assert.Equal(t, `{:keep [0 0 0 0]}`, Print(mustFromGo(t, zeros{})))
	assert.Equal(t, `{:id [0 1 0 0] :keep [0 0 0 0] :n 2}`, Print(mustFromGo(t, zeros{ID: [4]byte{0, 1}, N: 2})))
}

type embedding struct {
	inner
	*Deep
	Returns[int]
	Own int
}

type Deep struct {
	A string // collides with inner.A when both are embedded at one depth
	C int
}

type shadowing struct {
	inner
	A string // hides inner.A
}

type conflict struct {
	inner
	Deep
}

type badTag struct {
	X int `sx:"no spaces"`
}

func TestFromGoStructs(t *testing.T) {
	got := mustFromGo(t, tagged{Renamed: "r", Skipped: "s", Kept: 0, UserID: 1, HTTPCode: 2, Base64Raw: "x", Snake_Key: 3, hidden: 4})
	assert.Equal(t, `{:base64-raw "x" :http-code 2 :kept 0 :name "r" :snake-key 3 :user-id 1}`, Print(got))

	got = mustFromGo(t, tagged{Empty: "e", EmptyList: []int{1}, Zero: 5})
	assert.Equal(t, `{:base64-raw "" :empty "e" :http-code 0 :kept 0 :list [1] :name "" :snake-key 0 :user-id 0 :zero 5}`, Print(got))

	got = mustFromGo(t, shadowing{inner: inner{A: 1, B: "b"}, A: "outer"})
	assert.Equal(t, `{:a "outer" :b "b"}`, Print(got))

	var back shadowing
	require.NoError(t, ToGo(got, &back))
	assert.Equal(t, shadowing{inner: inner{B: "b"}, A: "outer"}, back)
}

func TestFromGoEmbedded(t *testing.T) {
	type withDeep struct {
		*Deep
		Own int
	}
	got := mustFromGo(t, withDeep{Own: 1})
	assert.Equal(t, `{:own 1}`, Print(got), "a nil embedded pointer adds no keys")

	got = mustFromGo(t, withDeep{Deep: &Deep{A: "a", C: 2}, Own: 1})
	assert.Equal(t, `{:a "a" :c 2 :own 1}`, Print(got))

	var back withDeep
	require.NoError(t, ToGo(got, &back))
	assert.Equal(t, withDeep{Deep: &Deep{A: "a", C: 2}, Own: 1}, back, "ToGo allocates the embedded pointer")

	_, err := FromGo(conflict{})
	assert.EqualError(t, err, "sx: type sx.conflict: fields A and A both have key :a")
	_, err = FromGo(embedding{})
	assert.EqualError(t, err, "sx: type sx.embedding: fields A and A both have key :a")
	_, err = FromGo([]badTag{{}})
	assert.EqualError(t, err, `sx: [0]: type sx.badTag: field X: key "no spaces" is not a keyword name: invalid character ' '`)
}

func TestFromGoErrors(t *testing.T) {
	type holder struct {
		Events []testResult
		Fn     func()
	}
	type seqs struct{ Seqs map[string][]uint64 }
	tests := []struct {
		name string
		in   any
		want string
	}{
		{"uint64 overflow", holder{Events: []testResult{{}, {}, {Head: math.MaxUint64}}},
			"sx: events[2].head: uint64 18446744073709551615 overflows int64"},
		{"map path", seqs{Seqs: map[string][]uint64{"a": {1, math.MaxInt64 + 1}}},
			`sx: seqs["a"][1]: uint64 9223372036854775808 overflows int64`},
		{"func", holder{Fn: func() {}}, "sx: fn: cannot convert a func() to SX"},
		{"chan", make(chan int), "sx: cannot convert a chan int to SX"},
		{"complex", 1i, "sx: cannot convert a complex128 to SX"},
		{"bad keyword", Vector{Keyword("a b")}, `sx: [0]: invalid keyword name "a b": invalid character ' '`},
		{"bad symbol", Symbol("true"), `sx: invalid symbol name "true": reads as true`},
		{"key collision", map[any]int{1: 1, int64(1): 2}, "sx: two map keys convert to 1"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := FromGo(tt.in)
			require.Error(t, err)
			var ce *ConvertError
			require.ErrorAs(t, err, &ce)
			assert.Equal(t, tt.want, err.Error())
		})
	}
}

type node struct {
	Val  int
	Next *node
}

func TestFromGoCycles(t *testing.T) {
	n := &node{Val: 1}
	n.Next = n
	_, err := FromGo(n)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "nests deeper than 1000 (is it cyclic?)")

	var x any
	x = &x
	_, err = FromGo(x)
	assert.EqualError(t, err, "sx: pointers nest deeper than 1000 (is the value cyclic?)")

	// A long but finite chain within the depth limit converts and round-trips.
	var head *node
	for i := range 500 {
		head = &node{Val: i, Next: head}
	}
	v := mustFromGo(t, head)
	back, err := Read(Print(v))
	require.NoError(t, err)
	var got *node
	require.NoError(t, ToGo(back, &got))
	assert.Equal(t, head, got)
}

type failingText struct{}

func (failingText) MarshalText() ([]byte, error) { return nil, errors.New("no text") }

func TestFromGoMarshalError(t *testing.T) {
	_, err := FromGo(map[string]failingText{"k": {}})
	assert.EqualError(t, err, `sx: ["k"]: marshal sx.failingText: no text`)
	assert.ErrorContains(t, errors.Unwrap(err), "no text")
}

type ptrError struct{ Code int }

func (e *ptrError) Error() string { return fmt.Sprintf("code %d", e.Code) }

func TestFromGoErrorValues(t *testing.T) {
	type result struct {
		Err  error
		Last error
	}
	got := mustFromGo(t, result{Err: &ptrError{Code: 3}})
	assert.Equal(t, `{:err "code 3" :last nil}`, Print(got))

	var back result
	require.NoError(t, ToGo(got, &back))
	require.Error(t, back.Err)
	assert.Equal(t, "code 3", back.Err.Error())
	assert.NoError(t, back.Last)

	assert.Equal(t, "code 4", mustFromGo(t, ptrError{Code: 4}), "pointer-receiver Error on a value")
}

func TestToGoScalars(t *testing.T) {
	var i int
	require.NoError(t, ToGo(int64(-3), &i))
	assert.Equal(t, -3, i)

	var u8 uint8
	require.NoError(t, ToGo(int64(255), &u8))
	assert.Equal(t, uint8(255), u8)

	var f32 float32
	require.NoError(t, ToGo(int64(2), &f32))
	assert.Equal(t, float32(2), f32)

	var f float64
	require.NoError(t, ToGo(math.Inf(-1), &f))
	assert.True(t, math.IsInf(f, -1))

	var s string
	require.NoError(t, ToGo("x", &s))
	assert.Equal(t, "x", s)

	var b []byte
	require.NoError(t, ToGo(List{Symbol("bytes"), "/wA="}, &b))
	assert.Equal(t, []byte{0xff, 0}, b)
	require.NoError(t, ToGo("hi", &b))
	assert.Equal(t, []byte("hi"), b)
	require.NoError(t, ToGo("", &b))
	assert.Nil(t, b)

	var id testID
	require.NoError(t, ToGo("0a0b0c0d", &id))
	assert.Equal(t, testID{0xa, 0xb, 0xc, 0xd}, id)

	var at time.Time
	require.NoError(t, ToGo("2025-03-04T05:06:07Z", &at))
	assert.Equal(t, time.Date(2025, 3, 4, 5, 6, 7, 0, time.UTC), at)

	var v Value
	require.NoError(t, ToGo(Vector{Keyword("a")}, &v))
	assert.Equal(t, Vector{Keyword("a")}, v)

	var p *int
	require.NoError(t, ToGo(int64(4), &p))
	require.NotNil(t, p)
	assert.Equal(t, 4, *p)
	require.NoError(t, ToGo(nil, &p))
	assert.Nil(t, p)

	var arr [2]string
	require.NoError(t, ToGo(List{"a", "b"}, &arr))
	assert.Equal(t, [2]string{"a", "b"}, arr)

	var m map[Keyword][]int
	require.NoError(t, ToGo(NewDict(Keyword("a"), Vector{int64(1)}, Keyword("b"), Vector{}), &m))
	assert.Equal(t, map[Keyword][]int{"a": {1}, "b": nil}, m)

	var kw Keyword
	require.NoError(t, ToGo(Keyword("k"), &kw))
	assert.Equal(t, Keyword("k"), kw)

	var d *Dict
	require.NoError(t, ToGo(NewDict(Keyword("a"), int64(1)), &d))
	assert.Equal(t, 1, d.Len())

	var l List
	require.NoError(t, ToGo(List{int64(1)}, &l))
	assert.Equal(t, List{int64(1)}, l)
}

func TestToGoErrors(t *testing.T) {
	type ev struct {
		Type string
		Seq  uint32
		At   time.Time
		ID   testID
	}
	type batch struct {
		Events []ev
		Fixed  [2]int
		Data   []byte
		Err    error
		Labels map[string]int
	}
	read := func(s string) Value {
		v, err := Read(s)
		require.NoError(t, err)
		return v
	}
	tests := []struct {
		name string
		in   Value
		want string
	}{
		{"wrong type deep", read(`{:events [{} {} {:type 1}]}`), "sx: events[2].type: want string, got int64"},
		{"unknown key", read(`{:events [{:typo "x"}]}`), "sx: events[0]: unknown key :typo"},
		{"non-keyword key", read(`{"events" []}`), `sx: want keyword keys, got string "events"`},
		{"not a dict", read(`[1]`), "sx: want dict, got vector"},
		{"uint range", read(`{:events [{:seq 4294967296}]}`), "sx: events[0].seq: 4294967296 out of range for uint32"},
		{"negative uint", read(`{:events [{:seq -1}]}`), "sx: events[0].seq: -1 out of range for uint32"},
		{"float for int", read(`{:events [{:seq 1.0}]}`), "sx: events[0].seq: want int64, got float64"},
		{"nil for string", read(`{:events [{:type nil}]}`), "sx: events[0].type: want string, got nil"},
		{"bad time", read(`{:events [{:at "yesterday"}]}`),
			`sx: events[0].at: unmarshal time.Time: parsing time "yesterday" as "2006-01-02T15:04:05Z07:00": cannot parse "yesterday" as "2006"`},
		{"bad id", read(`{:events [{:id "abc"}]}`), `sx: events[0].id: unmarshal sx.testID: id "abc": want 8 hex digits`},
		{"id not string", read(`{:events [{:id 1}]}`), "sx: events[0].id: want string, got int64"},
		{"array length", read(`{:fixed [1 2 3]}`), "sx: fixed: want 2 elements, got 3"},
		{"array element", read(`{:fixed [1 :x]}`), "sx: fixed[1]: want int64, got keyword"},
		{"not a sequence", read(`{:events "x"}`), "sx: events: want vector or list, got string"},
		{"bad bytes form", read(`{:data (bytes 1)}`), `sx: data: want (bytes "<base64>"), got a int64 in it`},
		{"bad base64", read(`{:data (bytes "!!")}`), "sx: data: bytes: bad base64: illegal base64 data at input byte 0"},
		{"bytes wrong type", read(`{:data 5}`), `sx: data: want string or (bytes "<base64>"), got int64`},
		{"error not string", read(`{:err 5}`), "sx: err: want string, got int64"},
		{"map value", read(`{:labels {"a" 1 "b" "two"}}`), `sx: labels["b"]: want int64, got string`},
		{"map key", read(`{:labels {:a 1}}`), `sx: labels[:a]: want string, got keyword`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var b batch
			err := ToGo(tt.in, &b)
			require.Error(t, err)
			var ce *ConvertError
			require.ErrorAs(t, err, &ce)
			assert.Equal(t, tt.want, err.Error())
		})
	}

	var n int
	assert.EqualError(t, ToGo(int64(1), n), "sx: ToGo needs a non-nil pointer, got int")
	assert.EqualError(t, ToGo(int64(1), (*int)(nil)), "sx: ToGo needs a non-nil pointer, got *int")
	var kw Keyword
	assert.EqualError(t, ToGo("k", &kw), "sx: want keyword, got string")
	var st fmt.Stringer
	assert.EqualError(t, ToGo("k", &st), "sx: cannot store a string in interface type fmt.Stringer")
	var c complex128
	assert.EqualError(t, ToGo(int64(1), &c), "sx: cannot store SX in a complex128")
}

func TestToGoOverwrites(t *testing.T) {
	r := testResult{FirstSeq: 5, Head: 9}
	require.NoError(t, ToGo(NewDict(Keyword("head"), int64(2)), &r))
	assert.Equal(t, testResult{Head: 2}, r, "absent keys leave zero fields")
}

// TestRoundTripNested takes Go values through FromGo, Print, Read and ToGo.
func TestRoundTripNested(t *testing.T) {
	type leaf struct {
		Name  string
		Score float64
		Tags  []string
		Blob  []byte
	}
	type tree struct {
		ID       testID
		At       *time.Time
		Leaves   []leaf
		ByName   map[string]leaf
		Matrix   [][]int64
		Pairs    [2]leaf
		Extra    any
		Optional *leaf `sx:",omitempty"`
		Ratio    float32
		Small    int8
		Big      uint64
		Flag     bool
		Keys     map[int]bool
	}
	at := time.Date(2024, 12, 31, 23, 59, 59, 999, time.UTC)
	in := tree{
		ID: testID{9, 8, 7, 6},
		At: &at,
		Leaves: []leaf{
			{Name: "a", Score: 1, Tags: []string{"x", "y"}, Blob: []byte{0, 1, 2, 0xfe}},
			{Name: "ünï\n\"q\"", Score: math.Inf(1), Blob: []byte("text")},
		},
		ByName: map[string]leaf{"k": {Name: "k", Score: -0.5}},
		Matrix: [][]int64{{1, 2}, {math.MinInt64}},
		Pairs:  [2]leaf{{Name: "p"}, {Score: 1e-9}},
		Extra:  Vector{Keyword("free"), "form"},
		Ratio:  0.25,
		Small:  -128,
		Big:    math.MaxInt64,
		Flag:   true,
		Keys:   map[int]bool{3: true, -1: false},
	}
	v := mustFromGo(t, in)
	text := Print(v)
	back, err := Read(text)
	require.NoError(t, err)
	require.True(t, Equal(v, back))

	var out tree
	require.NoError(t, ToGo(back, &out))
	assert.Equal(t, in, out)
	assert.Equal(t, text, Print(mustFromGo(t, out)))
}

func TestKebab(t *testing.T) {
	tests := map[string]string{
		"ID":          "id",
		"Seq":         "seq",
		"FirstSeq":    "first-seq",
		"UserID":      "user-id",
		"HTTPServer":  "http-server",
		"Base64Data":  "base64-data",
		"V2":          "v2",
		"Stream_Name": "stream-name",
		"KvGet":       "kv-get",
		"ÜberName":    "über-name",
	}
	for in, want := range tests {
		assert.Equal(t, want, kebab(in), in)
	}
}

func TestFromGoForm(t *testing.T) {
	type head struct {
		Returns[uint64]
		Stream string
	}
	type now struct{ Returns[time.Time] }
	type bad struct{ F func() }

	v, err := FromGoForm("persist/head", head{Stream: "orders"})
	require.NoError(t, err)
	assert.Equal(t, `(persist/head {:stream "orders"})`, Print(v))

	v, err = FromGoForm("persist/now", now{})
	require.NoError(t, err)
	assert.Equal(t, `(persist/now)`, Print(v), "no fields: the name alone")

	v, err = FromGoForm("persist/head", head{})
	require.NoError(t, err)
	assert.Equal(t, `(persist/head {:stream ""})`, Print(v), "fields of zero value are still fields")

	_, err = FromGoForm("x/bad", bad{F: func() {}})
	var ce *ConvertError
	assert.ErrorAs(t, err, &ce, "a value FromGo cannot convert is its error")
}
