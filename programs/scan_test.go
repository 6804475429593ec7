package programs_test

import (
	"fmt"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"rose-ash.com/persist/ops"
	"rose-ash.com/persist/programs"
)

// Scan and ScanAll yield what Events and AllEvents yield, page after
// page, each event lent until the next step.
func TestScanMatchesEvents(t *testing.T) {
	store := newStore(t)
	p := handle(t, store)
	n := ops.DefaultPage*2 + 5
	evs := make([]ops.EventData, n)
	for i := range evs {
		evs[i] = programs.Event("e", fmt.Appendf(nil, "%d", i+1))
	}
	_, err := programs.Append(p, "s", ops.NoStream(), evs...)
	require.NoError(t, err)
	_, err = programs.Append(p, "other", ops.NoStream(), programs.Event("x", []byte("y")))
	require.NoError(t, err)

	var want, got []ops.Event
	var lent []byte
	for ev, err := range programs.Events(p, "s", 3) {
		require.NoError(t, err)
		want = append(want, ev)
	}
	for ev, err := range programs.Scan(p, "s", 3) {
		require.NoError(t, err)
		if ev.Seq == 3 {
			lent = ev.Data
		}
		got = append(got, ops.CloneEvent(ev))
	}
	assert.Equal(t, want, got)
	assert.NotEqual(t, "3", string(lent), "the page was reused for later events")

	want, got = nil, nil
	for ev, err := range programs.AllEvents(p, 2) {
		require.NoError(t, err)
		want = append(want, ev)
	}
	for ev, err := range programs.ScanAll(p, 2) {
		require.NoError(t, err)
		got = append(got, ops.CloneEvent(ev))
	}
	assert.Equal(t, want, got)
	require.Len(t, got, n)

	// Stopping early stops the reads; an invalid stream is yielded once.
	count := 0
	for range programs.Scan(p, "s", 1) {
		count++
		if count == 2 {
			break
		}
	}
	assert.Equal(t, 2, count)
	var errs []error
	for _, err := range programs.Scan(p, "", 1) {
		errs = append(errs, err)
	}
	require.Len(t, errs, 1)
	assert.ErrorIs(t, errs[0], ops.ErrInvalid)
}
