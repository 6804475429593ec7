package server

import (
	"strconv"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// FuzzPipeFrame feeds the pipe's frame reader arbitrary lines in both
// notations: it never panics; a line it splits has an ID that frames back
// to the same ID, and its operation either decodes or is refused with an
// error of that frame alone.
func FuzzPipeFrame(f *testing.F) {
	for _, seed := range []string{
		`[1 (persist/append {:stream "orders" :events [{:type "placed" :data "{:order 17}"}]})]`,
		`[2,["persist/kv-get",{"key":"cfg"}]]`,
		`[ 3   (persist/now)]`, `[4 (persist/nope)]`, `[5]`, `[-1 (persist/now)]`, `[nil {:error "x"}]`,
		`[99999999999999999999 (persist/now)]`, `(persist/now)`, `[`, `[]`, `[7 (]`, `[8,]`,
	} {
		f.Add([]byte(seed), false)
		f.Add([]byte(seed), true)
	}
	f.Fuzz(func(t *testing.T, line []byte, asJSON bool) {
		n := SX
		if asJSON {
			n = JSON
		}
		id, text, err := splitPipeFrame(line, n)
		if err != nil {
			assert.NotEmpty(t, err.Error())
			return
		}
		require.GreaterOrEqual(t, id, int64(0))
		sep := " "
		if asJSON {
			sep = ","
		}
		again, rest, err := splitPipeFrame([]byte("["+strconv.FormatInt(id, 10)+sep+string(text)+"]"), n)
		require.NoError(t, err)
		assert.Equal(t, id, again)
		assert.Equal(t, string(text), string(rest))
		op, err := decodePipeOp(text, n)
		if err == nil {
			assert.NotNil(t, op)
		} else {
			assert.NotEmpty(t, err.Error())
		}
	})
}
