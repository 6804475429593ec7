package file

import (
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"rose-ash.com/persist/ops"
)

func ckSortedNames(t *testing.T, v *ckptView, what string) []string {
	t.Helper()
	names := ckViewNames(v)
	got := make([]string, len(v.streams))
	for i := range v.streams {
		got[i] = v.streams[i].name
	}
	require.Equal(t, names, got, "%s: streams in name order", what)
	return got
}

// A capture after a checkpoint takes the list of streams in the name
// order that checkpoint sorted (ckOrder), the streams added since after
// them; the sort merges those in. An order that does not fit the list
// (here one reversed) leaves the list whole and is sorted whole; one
// that is no permutation of it is not taken.
func TestCkptCaptureKeepsTheNameOrder(t *testing.T) {
	e := newEnv(t, Options{CheckpointBytes: -1})
	heads := map[string]uint64{}
	add := func(name string) {
		t.Helper()
		_, err := perform(e, ops.Append{Stream: name, Events: []ops.EventData{{Type: "t", Data: []byte(name)}}})
		require.NoError(t, err)
		heads[name]++
	}
	for i := range 3000 {
		add(fmt.Sprintf("s%05d", (i*7919)%3000*2)) // even numbers, out of order
	}
	write := func(what string) *ckptView {
		t.Helper()
		v := e.s.captureCheckpoint(true)
		require.NotNil(t, v, what)
		require.NoError(t, e.s.writeCheckpoint(e.p(), v), what)
		ckListCheck(t, e.s.st)
		return v
	}
	v := write("first") // the first capture walks every stream: no order
	ckSortedNames(t, v, "first")
	require.Len(t, e.s.ckOrd.perm, 3000)

	// New streams between and after the old, and old ones again.
	for i := range 40 {
		add(fmt.Sprintf("s%05d", i*150+1))
		add(fmt.Sprintf("s%05d", i*2))
	}
	add("t-last")
	add("a-first")
	v = e.s.captureCheckpoint(true)
	require.NotNil(t, v)
	require.Equal(t, 3000, v.pre, "the old streams in the order the last checkpoint sorted")
	require.Len(t, v.streams, 3042)
	prefix := make([]string, v.pre)
	for i := range prefix {
		prefix[i] = v.streams[i].name
	}
	require.True(t, slices.IsSorted(prefix))
	require.NoError(t, e.s.writeCheckpoint(e.p(), v))
	got := ckSortedNames(t, v, "merged")
	require.Len(t, got, 3042)
	ckListCheck(t, e.s.st)

	// An order that is a permutation of the list but not its name order,
	// with no stream added since and with one.
	slices.Reverse(e.s.ckOrd.perm)
	add("s00000")
	v = write("reversed")
	require.Equal(t, 3042, v.pre)
	ckSortedNames(t, v, "reversed")
	slices.Reverse(e.s.ckOrd.perm)
	add("s00000")
	add("m-middle")
	v = write("reversed, one added")
	got = ckSortedNames(t, v, "reversed, one added")
	require.Len(t, got, 3043)

	// An order that is no permutation (a place twice) is not taken: the
	// list keeps every stream.
	e.s.ckOrd.perm[1] = e.s.ckOrd.perm[0]
	add("s00000")
	v = write("not a permutation")
	require.Zero(t, v.pre)
	got = ckSortedNames(t, v, "not a permutation")
	require.Len(t, got, 3043)
	require.Equal(t, len(heads), len(got))
	for _, name := range got {
		require.Contains(t, heads, name)
	}

	e.reopen(Options{CheckpointBytes: -1})
	for name, head := range heads {
		if !strings.HasPrefix(name, "s000") && name[0] == 's' {
			continue // a sample
		}
		res := must(t, e, ops.Read{Stream: name})
		require.Len(t, res.Events, int(head), name)
	}
	res := must(t, e, ops.Streams{Limit: 10000})
	require.Len(t, res.Streams, len(heads))
}
