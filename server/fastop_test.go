package server

import (
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/google/uuid"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"rose-ash.com/persist/effect"
	"rose-ash.com/persist/ops"
)

// fastSeeds are bodies of the common operations, in both notations, as
// clients write them and with the variations the fast decoder must either
// read exactly as the generic one does or leave to it.
var fastSeeds = []string{
	`(persist/append {:events [{:data "{\"order\":17}" :type "t"}] :expect "41" :stream "w17"})`,
	`(persist/append {:stream "s" :events [{:id "7b1c3f1e-0000-4000-8000-000000000001" :type "t" :data ""}] :expect "no-stream"})`,
	`(persist/append {:stream "s" :events [{:id "00000000-0000-0000-0000-000000000000" :type "t"}]})`,
	`(persist/append {:stream "s" :events []})`, `(persist/append)`, `(persist/append {})`,
	`(persist/commit {:appends [{:stream "a" :events [{:type "t" :data "x\\y"}]}] :kv [{:key "k" :value "v" :delete true :expect "3"}]})`,
	`(persist/commit {:appends [] :kv []})`,
	`(persist/read {:from 3 :limit 0 :stream "s"})`, `(persist/read {:from 007 :stream "s"})`,
	`(persist/read {:from 18446744073709551615 :stream "s"})`, `(persist/read {:limit -1})`,
	`(persist/kv-get {:key "k"})`, `(persist/kv-get {:key "k" :key "k"})`, `(persist/kv-get {:key k})`,
	`(persist/kv-put {:expect "any" :key "k" :value "v"})`, `(persist/kv-put {:value (bytes "/wD+") :key "k"})`,
	`(persist/kv-get {:key "k"}) ; comment`, `(persist/kv-get {:key "k",})`, `(persist/kv-get{:key "k"})`,
	`(persist/kv-get {:key "k\n"})`, `(persist/kv-get {:key "é"})`, `(persist/kv-get {:key "k" :page 1})`,
	`["persist/append",{"events":[{"data":"{\"order\":17}","type":"t"}],"expect":"41","stream":"w17"}]`,
	`["persist/kv-put",{"key":"k","value":["bytes","AA=="],"expect":"exists"}]`,
	`["persist/kv-put",{"key":"k","value":"v","expect":"sometimes"}]`,
	`["persist/read",{"stream":"s","from":3,"limit":10}]`, `["persist/read",{"stream":"s","from":1e3}]`,
	`["persist/read",{"stream":"s","from":3,}]`, `["persist/kv-get",{"key":"k"},]`, `["persist/kv-get"]`,
	`["persist/commit",{"appends":[{"stream":"s","events":[{"id":"not-a-uuid","type":"t"}]}],"kv":[{"key":"k","delete":false}]}]`,
	`["persist/kv-get",{"key":"k","key":"j"}]`, `["persist/kv-get",{"key":null}]`, `["persist/kv-get" {"key":"k"}]`,
}

// FuzzFastDecode holds the fast decoder to the generic one: whatever text
// the fast decoder accepts, the generic decoder gives the same operation
// for, and DecodeOp gives exactly the generic decoder's answer, operation
// or error, for every input.
func FuzzFastDecode(f *testing.F) {
	for _, seed := range fastSeeds {
		f.Add([]byte(seed), false)
		f.Add([]byte(seed), true)
	}
	f.Fuzz(func(t *testing.T, body []byte, asJSON bool) {
		n := SX
		if asJSON {
			n = JSON
		}
		checkFastDecode(t, body, n)
	})
}

func checkFastDecode(t *testing.T, body []byte, n Notation) {
	t.Helper()
	want, werr := decodeGeneric(body, n)
	if fast, ok := fastDecodeOp(body, n); ok {
		require.NoError(t, werr, "the fast decoder accepted what the generic one refuses: %s", body)
		require.Equal(t, want, fast, "the decoders disagree on %s", body)
	}
	got, gerr := DecodeOp(body, n)
	require.Equal(t, want, got, "DecodeOp differs from the generic decoder on %s", body)
	require.Equal(t, fmt.Sprint(werr), fmt.Sprint(gerr), "DecodeOp's error differs from the generic decoder's on %s", body)
	pop, perr := decodePipeOp(body, n)
	if werr == nil {
		require.NoError(t, perr)
		require.Equal(t, want, pop)
	} else {
		require.Error(t, perr)
	}
}

// randomText is a string drawn to stress the escapes the fast decoder
// reads and the ones it leaves to the generic decoder.
func randomText(rng *rand.Rand) string {
	const alphabet = `ab-/: "\{}[](),;` + "\n\t\x00\x7f" + `é0`
	runes := []rune(alphabet)
	var sb strings.Builder
	for range rng.IntN(12) {
		if rng.IntN(3) == 0 {
			sb.WriteRune(runes[rng.IntN(len(runes))])
		} else {
			sb.WriteByte(byte('a' + rng.IntN(26)))
		}
	}
	return sb.String()
}

func randomExpect(rng *rand.Rand) ops.Expect {
	switch rng.IntN(4) {
	case 0:
		return ops.Any()
	case 1:
		return ops.NoStream()
	case 2:
		return ops.Exists()
	}
	return ops.Exact(rng.Uint64N(1 << 62))
}

func randomData(rng *rand.Rand) []byte {
	if rng.IntN(4) == 0 {
		return nil
	}
	if rng.IntN(8) == 0 {
		return []byte{0xff, 0, 0xfe}
	}
	return []byte(randomText(rng))
}

func randomAppend(rng *rand.Rand) ops.Append {
	ap := ops.Append{Stream: randomText(rng), Expect: randomExpect(rng)}
	for range rng.IntN(3) {
		ev := ops.EventData{Type: randomText(rng), Data: randomData(rng)}
		if rng.IntN(2) == 0 {
			ev.ID = uuid.New()
		}
		ap.Events = append(ap.Events, ev)
	}
	return ap
}

func randomOp(rng *rand.Rand) effect.Effect {
	switch rng.IntN(5) {
	case 0:
		return randomAppend(rng)
	case 1:
		var c ops.Commit
		for range rng.IntN(3) {
			c.Appends = append(c.Appends, randomAppend(rng))
		}
		for range rng.IntN(3) {
			c.Kv = append(c.Kv, ops.KvChange{Key: randomText(rng), Value: randomData(rng), Delete: rng.IntN(2) == 0, Expect: randomExpect(rng)})
		}
		return c
	case 2:
		return ops.Read{Stream: randomText(rng), From: rng.Uint64N(1 << 40), Limit: rng.IntN(1000)}
	case 3:
		return ops.KvGet{Key: randomText(rng)}
	}
	return ops.KvPut{Key: randomText(rng), Value: randomData(rng), Expect: randomExpect(rng)}
}

// TestFastDecodeRandom encodes random operations of the common kinds in
// both notations, mutates some of the texts, and checks the decoders
// agree on each; the texts EncodeOp writes of plain values take the fast
// path.
func TestFastDecodeRandom(t *testing.T) {
	rng := rand.New(rand.NewPCG(9, 9))
	fast := 0
	for i := range 3000 {
		op := randomOp(rng)
		for _, n := range []Notation{SX, JSON} {
			body, err := EncodeOp(op, n)
			if err != nil {
				continue
			}
			checkFastDecode(t, body, n)
			if _, ok := fastDecodeOp(body, n); ok {
				fast++
			}
			if i%3 == 0 {
				m := []byte(string(body))
				for range 1 + rng.IntN(3) {
					j := rng.IntN(len(m))
					switch rng.IntN(3) {
					case 0:
						m[j] = fastSeeds[0][rng.IntN(len(fastSeeds[0]))]
					case 1:
						m = append(m[:j], m[j+1:]...)
					default:
						const marks = " \"\\:,{}[]0"
						m = append(m[:j], append([]byte{marks[rng.IntN(len(marks))]}, m[j:]...)...)
					}
					if len(m) == 0 {
						break
					}
				}
				checkFastDecode(t, m, n)
			}
		}
	}
	assert.Greater(t, fast, 2000, "the fast path took too few of the plain encodings")
}

// TestFastDecodeCommon checks that the texts clients send of the common
// operations take the fast path.
func TestFastDecodeCommon(t *testing.T) {
	for _, op := range []effect.Effect{
		ops.Append{Stream: "w17", Expect: ops.Exact(41), Events: []ops.EventData{{ID: uuid.New(), Type: "t", Data: []byte(`{"a":"b\\c"}`)}}},
		ops.Commit{Appends: []ops.Append{{Stream: "a"}}, Kv: []ops.KvChange{{Key: "k", Delete: true}}},
		ops.Read{Stream: "s", From: 3, Limit: 100},
		ops.KvGet{Key: "k"},
		ops.KvPut{Key: "k", Value: []byte("v"), Expect: ops.NoStream()},
	} {
		for _, n := range []Notation{SX, JSON} {
			body, err := EncodeOp(op, n)
			require.NoError(t, err)
			got, ok := fastDecodeOp(body, n)
			require.True(t, ok, "the fast path left %s", body)
			assert.Equal(t, op, got)
		}
	}
}

// TestFastDecodeMalformed checks that malformed bodies of the common
// operations are refused with the generic decoder's clear errors, naming
// what was wrong.
func TestFastDecodeMalformed(t *testing.T) {
	for _, c := range []struct {
		body string
		n    Notation
		want string
	}{
		{`(persist/append {:stream 5})`, SX, `stream want string`},
		{`(persist/append {:stream "s" :expect "sometimes"})`, SX, `expect unmarshal`},
		{`(persist/append {:stream "s" :events [{:id "00000000-0000-0000-0000-000000000000" :type "t"}]})`, SX, `events[0].id`},
		{`(persist/append {:stream "s" :colour "red"})`, SX, `unknown key :colour`},
		{`(persist/kv-get {:key "k" :key "k"})`, SX, `body`},
		{`(persist/read {:stream "s" :from -1})`, SX, `from -1 out of range`},
		{`(persist/kv-get {:key "k"`, SX, `body`},
		{`["persist/kv-put",{"key":"k","value":3}]`, JSON, `value want string`},
		{`["persist/read",{"stream":"s","from":3,}]`, JSON, `body`},
		{`["persist/commit",{"appends":[{"stream":"s","events":[{"id":"not-a-uuid","type":"t"}]}]}]`, JSON, `appends[0].events[0].id`},
		{`["persist/kv-get" {"key":"k"}]`, JSON, `body`},
	} {
		_, err := DecodeOp([]byte(c.body), c.n)
		require.Error(t, err, c.body)
		var ie *ops.InvalidError
		require.ErrorAs(t, err, &ie, c.body)
		assert.Contains(t, ie.Field+" "+ie.Reason, c.want, c.body)
		checkFastDecode(t, []byte(c.body), c.n)
	}
}
