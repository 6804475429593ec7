package interp_test

import (
	"bytes"
	"context"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"rose-ash.com/persist/backends/mem"
	"rose-ash.com/persist/effect"
	"rose-ash.com/persist/interp"
	"rose-ash.com/persist/ops"
)

// A read that lends a page (ops.Read.Page) is recorded without the page
// and replays against whatever page the program lends the second time: the
// page is where the answer goes, not part of the question.
func TestPageIsNotPartOfTheEffect(t *testing.T) {
	store := mem.New()
	defer store.Close()
	p := effect.Handle(context.Background(), store)
	for i := range 3 {
		_, err := effect.Perform(p, ops.Append{Stream: "s", Events: []ops.EventData{{Type: "t", Data: []byte{'a' + byte(i)}}}})
		require.NoError(t, err)
	}
	// The program reads the stream twice into one page, keeping what it
	// saw of the first read as text before the page is reused.
	prog := func(p *effect.P) (string, error) {
		var pg ops.Page
		var seen strings.Builder
		for _, from := range []uint64{1, 3} {
			r, err := effect.Perform(p, ops.Read{Stream: "s", From: from, Page: &pg})
			if err != nil {
				return "", err
			}
			for _, ev := range r.Events {
				seen.Write(ev.Data)
			}
		}
		return seen.String(), nil
	}
	var j interp.Journal
	var trace bytes.Buffer
	got, err := interp.Run(context.Background(), prog, interp.Trace(&trace), interp.Record(&j), store)
	require.NoError(t, err)
	assert.Equal(t, "abcc", got)
	assert.NotContains(t, trace.String(), ":page", "the page is not printed")
	require.Equal(t, 2, j.Len())
	assert.Equal(t, "a", string(j.Steps[0].Value.(ops.ReadResult).Events[0].Data), "the journal keeps a copy of the answer, not the reused page")

	again, err := interp.Run(context.Background(), prog, interp.Replay(&j), forbidden(t))
	require.NoError(t, err)
	assert.Equal(t, got, again)
}
