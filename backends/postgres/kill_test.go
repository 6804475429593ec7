package postgres_test

import (
	"context"
	"fmt"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"rose-ash.com/persist/backends/postgres"
	"rose-ash.com/persist/effect"
	"rose-ash.com/persist/ops"
)

// TestKillClientMidCommit kills writer processes with SIGKILL while their
// commits are in flight, three rounds, and checks what the crash suite
// checks of a durable store: every acknowledged append is there at its
// positions, every batch is whole or absent, seqs and positions run
// without gap, and the store takes new appends after.
func TestKillClientMidCommit(t *testing.T) {
	t.Parallel()
	schema := freshSchema(t)
	ctx := context.Background()
	s, err := postgres.Open(ctx, testDSN(), postgres.WithSchema(schema))
	require.NoError(t, err)
	defer s.Close()
	p := effect.Handle(ctx, s)

	var acks []ack
	for round := range 3 {
		env := map[string]string{
			"SCHEMA": schema, "WRITERS": "8", "APPENDS": "100000",
			"PREFIX": fmt.Sprintf("r%d", round), "NOGROUP": fmt.Sprint(round % 2),
		}
		c := startChild(t, "writer", env)
		time.Sleep(time.Duration(300+200*round) * time.Millisecond)
		require.NoError(t, c.cmd.Process.Signal(syscall.SIGKILL))
		err := c.cmd.Wait()
		require.Error(t, err, "the writer was killed")
		got := parseAcks(t, c.out.String())
		t.Logf("round %d: killed after %d acknowledged appends", round, len(got))
		acks = append(acks, got...)
	}
	// The server ends a killed client's transaction when it sees the
	// connection gone, unless the whole commit had reached it: a commit
	// sent in one pipeline (BEGIN to COMMIT) may still commit after its
	// writer died, after this append too. Either way its appends are
	// whole or absent, and nothing takes a position twice.
	r, err := effect.Perform(p, ops.Append{Stream: "after", Events: []ops.EventData{{Type: "t"}}})
	require.NoError(t, err)
	require.Equal(t, uint64(1), r.Head)

	all := readAll(t, p)
	for i, ev := range all {
		require.Equal(t, uint64(i+1), ev.Pos, "position %d", i+1)
	}
	require.GreaterOrEqual(t, uint64(len(all)), r.LastPos, "positions 1..last")
	assert.Equal(t, "after", all[r.LastPos-1].Stream, "the append after the kills is at the position it was given")
	// Per stream: seqs 1..head; writers append batches of 1 to 3 events,
	// event j of append i carrying data "stream/i/j", so a batch cut short
	// shows as an append whose events are not all there.
	byStream := map[string][]ops.Event{}
	for _, ev := range all {
		byStream[ev.Stream] = append(byStream[ev.Stream], ev)
	}
	for name, evs := range byStream {
		if name == "after" {
			continue
		}
		var w, i, j int
		for k, ev := range evs {
			require.Equal(t, uint64(k+1), ev.Seq, "seq in %s", name)
			n, err := fmt.Sscanf(name, "r%d-%d", new(int), &w)
			require.NoError(t, err)
			require.Equal(t, 2, n)
			want := fmt.Sprintf("%s/%d/%d", name, i, j)
			require.Equal(t, want, string(ev.Data), "event %d of %s", k+1, name)
			j++
			if j == 1+(i+w)%3 {
				i, j = i+1, 0
			}
		}
		assert.Equal(t, 0, j, "stream %s ends inside a batch", name)
	}
	for _, a := range acks {
		evs := byStream[a.stream]
		require.GreaterOrEqual(t, uint64(len(evs)), a.head, "acknowledged append to %s at head %d", a.stream, a.head)
		assert.Equal(t, a.lastPos, evs[a.head-1].Pos, "position of %s seq %d", a.stream, a.head)
	}
}

// readAll reads the whole global log.
func readAll(t *testing.T, p *effect.P) []ops.Event {
	t.Helper()
	var out []ops.Event
	from := uint64(1)
	for {
		page, err := effect.Perform(p, ops.ReadAll{From: from, Limit: ops.MaxPage})
		require.NoError(t, err)
		if len(page.Events) == 0 {
			return out
		}
		out = append(out, page.Events...)
		from = page.Events[len(page.Events)-1].Pos + 1
	}
}
