package server

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"rose-ash.com/persist/ops"
	"rose-ash.com/persist/sx"
)

// genericAnswer is the answer and the pipe frame as the generic path
// writes them.
func genericAnswer(t *testing.T, v any, n Notation) (answer, frame []byte, ok bool) {
	t.Helper()
	val, err := sx.FromGo(v)
	if err != nil {
		return nil, nil, false
	}
	answer, err = EncodeValue(val, n)
	require.NoError(t, err)
	frame, err = appendPipeFrame(nil, int64(7), sx.NewDict(sx.Keyword("ok"), val), n)
	require.NoError(t, err)
	return answer, frame, true
}

func checkFastAnswer(t *testing.T, v any) (fast bool) {
	t.Helper()
	for _, n := range []Notation{SX, JSON} {
		want, wantFrame, ok := genericAnswer(t, v, n)
		got, fok := appendFastAnswer([]byte("prefix"), v, n)
		frame, frok := appendFastFrame(nil, 7, v, n)
		require.Equal(t, fok, frok)
		if !fok {
			assert.Equal(t, "prefix", string(got), "a refusal appended")
			continue
		}
		require.True(t, ok, "the fast encoder wrote %s, which the generic path refuses", got)
		assert.Equal(t, "prefix"+string(want), string(got), "answer of %#v", v)
		assert.Equal(t, string(wantFrame), string(frame), "frame of %#v", v)
		fast = true
	}
	return fast
}

func randomNumber(rng *rand.Rand) uint64 {
	switch rng.IntN(6) {
	case 0:
		return 0
	case 1:
		return math.MaxInt64
	case 2:
		return math.MaxInt64 + uint64(rng.IntN(2))
	}
	return rng.Uint64N(1 << 40)
}

func randomAppendResult(rng *rand.Rand) ops.AppendResult {
	return ops.AppendResult{Stream: randomText(rng), FirstSeq: randomNumber(rng), Head: randomNumber(rng), FirstPos: randomNumber(rng), LastPos: randomNumber(rng)}
}

func randomKvResult(rng *rand.Rand) ops.KvResult {
	return ops.KvResult{Key: randomText(rng), Revision: randomNumber(rng), Existed: rng.IntN(2) == 0}
}

// TestFastAnswerRandom checks that the fast encoder writes random answers
// of the common operations byte for byte as the generic path does, or
// leaves them to it.
func TestFastAnswerRandom(t *testing.T) {
	rng := rand.New(rand.NewPCG(9, 10))
	fast := 0
	for range 5000 {
		var v any
		switch rng.IntN(5) {
		case 0:
			v = randomAppendResult(rng)
		case 1:
			v = randomKvResult(rng)
		case 2:
			v = &ops.KvEntry{Key: randomText(rng), Value: randomData(rng), Revision: randomNumber(rng)}
		case 3:
			v = (*ops.KvEntry)(nil)
		default:
			var c ops.CommitResult
			for range rng.IntN(3) {
				c.Appends = append(c.Appends, randomAppendResult(rng))
			}
			for range rng.IntN(3) {
				c.Kv = append(c.Kv, randomKvResult(rng))
			}
			c.Revision = randomNumber(rng)
			v = c
		}
		if checkFastAnswer(t, v) {
			fast++
		}
	}
	assert.Greater(t, fast, 1000, "the fast path wrote too few of the answers")
}

// TestFastAnswerCommon checks the usual answers take the fast path, and
// that other results are left to the generic one.
func TestFastAnswerCommon(t *testing.T) {
	for _, v := range []any{
		ops.AppendResult{Stream: "w17", FirstSeq: 42, Head: 42, FirstPos: 1 << 20, LastPos: 1 << 20},
		ops.KvResult{Key: `a"b\c`, Revision: 3, Existed: true},
		&ops.KvEntry{Key: "k", Value: []byte(`{"a":1}`), Revision: 9},
		(*ops.KvEntry)(nil),
		ops.CommitResult{},
		ops.CommitResult{Appends: []ops.AppendResult{{Stream: "a", FirstSeq: 1, Head: 1}}, Kv: []ops.KvResult{{Key: "k"}}, Revision: 4},
	} {
		assert.True(t, checkFastAnswer(t, v), "%#v", v)
	}
	for _, v := range []any{ops.ReadResult{}, &ops.KvEntry{Key: "k", Value: []byte{0xff}}, ops.KvResult{Key: "é"}, ops.AppendResult{Head: math.MaxUint64}} {
		assert.False(t, checkFastAnswer(t, v), "%#v", v)
	}
}
