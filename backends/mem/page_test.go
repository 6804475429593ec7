package mem_test

import (
	"context"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"rose-ash.com/persist/backends/mem"
	"rose-ash.com/persist/effect"
	"rose-ash.com/persist/ops"
)

// A read that lends a page answers the copying read's events, with their
// data in the page, reused by the next read into it.
func TestReadIntoPage(t *testing.T) {
	s := mem.New()
	defer s.Close()
	p := effect.Handle(context.Background(), s)
	for _, d := range []string{"a", "", "c"} {
		_, err := effect.Perform(p, ops.Append{Stream: "s", Events: []ops.EventData{{Type: "t", Data: []byte(d)}}})
		require.NoError(t, err)
	}
	var pg ops.Page
	want, err := effect.Perform(p, ops.Read{Stream: "s"})
	require.NoError(t, err)
	got, err := effect.Perform(p, ops.Read{Stream: "s", Page: &pg})
	require.NoError(t, err)
	assert.Equal(t, want, got)
	all, err := effect.Perform(p, ops.ReadAll{From: 2, Page: &pg})
	require.NoError(t, err)
	assert.Equal(t, want.Events[1:], all.Events)
	assert.Equal(t, uint64(2), got.Events[0].Seq, "the first read's page was reused by the second")
	assert.Equal(t, "a", string(want.Events[0].Data))
}
