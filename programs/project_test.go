package programs_test

import (
	"errors"
	"fmt"
	"strconv"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"rose-ash.com/persist/effect"
	"rose-ash.com/persist/ops"
	"rose-ash.com/persist/programs"
)

// ledger is a projection value whose fold depends on event order.
type ledger struct {
	Balance int    `json:"balance"`
	Count   int    `json:"count"`
	Trail   string `json:"trail"`
}

// applyLedger is a pure step: deposits add, withdrawals subtract, and the
// trail records the order the events came in.
func applyLedger(l ledger, ev ops.Event) (ledger, error) {
	n, _ := strconv.Atoi(string(ev.Data))
	switch ev.Type {
	case "deposit":
		l.Balance += n
	case "withdraw":
		l.Balance -= n
	case "double":
		l.Balance *= 2
	}
	l.Count++
	l.Trail += fmt.Sprintf("%s%d;", ev.Type[:1], ev.Seq)
	return l, nil
}

var ledgerEvents = []ops.EventData{
	{Type: "deposit", Data: []byte("10")},
	{Type: "double"},
	{Type: "withdraw", Data: []byte("3")},
	{Type: "deposit", Data: []byte("7")},
	{Type: "double"},
	{Type: "withdraw", Data: []byte("20")},
	{Type: "deposit", Data: []byte("1")},
	{Type: "double"},
	{Type: "deposit", Data: []byte("5")},
	{Type: "withdraw", Data: []byte("2")},
	{Type: "double"},
}

func TestProject(t *testing.T) {
	st, err := both(t, func(p *effect.P) {
		_, err := programs.Append(p, "acct", ops.Any(), ledgerEvents...)
		require.NoError(t, err)
	}, func(p *effect.P) (programs.State[ledger], error) {
		return programs.Project(p, "acct", applyLedger, ledger{Trail: ">"})
	})
	require.NoError(t, err)
	assert.Equal(t, uint64(len(ledgerEvents)), st.Seq)
	// The events in order: deposit 10, double, withdraw 3, and so on.
	assert.Equal(t, ((((10*2-3+7)*2-20+1)*2 + 5 - 2) * 2), st.Value.Balance)
	assert.Equal(t, len(ledgerEvents), st.Value.Count)
	assert.Equal(t, ">d1;d2;w3;d4;d5;w6;d7;d8;d9;w10;d11;", st.Value.Trail)

	empty, err := programs.Project(handle(t, newStore(t)), "acct", applyLedger, ledger{Trail: ">"})
	require.NoError(t, err)
	assert.Equal(t, programs.State[ledger]{Value: ledger{Trail: ">"}}, empty, "an empty stream gives the seed at seq 0")
}

// TestProjectResumeEveryCut checks that resuming from the state at every cut
// point gives the full fold.
func TestProjectResumeEveryCut(t *testing.T) {
	store := newStore(t)
	p := handle(t, store)
	seed := ledger{Trail: ">"}
	cuts := []programs.State[ledger]{{Value: seed}}
	for i, ev := range ledgerEvents {
		_, err := programs.Append(p, "acct", ops.Exact(uint64(i)), ev)
		require.NoError(t, err)
		st, err := programs.Project(p, "acct", applyLedger, seed)
		require.NoError(t, err)
		require.Equal(t, uint64(i+1), st.Seq)
		cuts = append(cuts, st)
	}
	evs, err := programs.ReadStream(p, "acct")
	require.NoError(t, err)
	full, err := programs.Project(p, "acct", applyLedger, seed)
	require.NoError(t, err)

	for k, cut := range cuts {
		// The cut is the pure fold of the first k events.
		v := seed
		for _, ev := range evs[:k] {
			v, _ = applyLedger(v, ev)
		}
		require.Equal(t, programs.State[ledger]{Value: v, Seq: uint64(k)}, cut)

		got, trace, err := inPlace(t, store, func(p *effect.P) (programs.State[ledger], error) {
			return programs.ProjectResume(p, "acct", applyLedger, cut)
		})
		require.NoError(t, err)
		assert.Equal(t, full, got, "resume from cut %d", k)
		assert.Equal(t, []string{fmt.Sprintf("persist/read acct@%d", k+1)}, trace, "only the tail is read")
		sgot, _, err := stepped(t, store, func(p *effect.P) (programs.State[ledger], error) {
			return programs.ProjectResume(p, "acct", applyLedger, cut)
		})
		require.NoError(t, err)
		assert.Equal(t, full, sgot, "stepped resume from cut %d", k)
	}
}

func TestProjectResumeAhead(t *testing.T) {
	store := newStore(t)
	p := handle(t, store)
	mustAppend(t, p, "acct", "deposit", "deposit")
	st := programs.State[ledger]{Value: ledger{Count: 9}, Seq: 9}
	got, err := programs.ProjectResume(p, "acct", applyLedger, st)
	require.ErrorIs(t, err, programs.ErrAhead)
	assert.Equal(t, st, got, "st comes back unchanged")

	at := programs.State[ledger]{Value: ledger{Count: 2}, Seq: 2}
	got, err = programs.ProjectResume(p, "acct", applyLedger, at)
	require.NoError(t, err)
	assert.Equal(t, at, got, "nothing new: the state as it was")
}

func TestProjectErrors(t *testing.T) {
	p := handle(t, newStore(t))
	_, err := programs.Project[int](p, "s", nil, 0)
	require.Error(t, err)
	var inv *ops.InvalidError
	require.ErrorAs(t, err, &inv)
	assert.Equal(t, "step", inv.Field)
	_, err = programs.Project(p, "", func(n int, _ ops.Event) (int, error) { return n + 1, nil }, 0)
	require.ErrorAs(t, err, &inv)
	assert.Equal(t, "stream", inv.Field)
}

// FuzzProjectResume checks resume == full fold for arbitrary event data and
// cut points.
func FuzzProjectResume(f *testing.F) {
	f.Add([]byte("d10,x,w3,d7"), uint8(2))
	f.Add([]byte(""), uint8(0))
	f.Add([]byte("a,,b,c,d,e,f,g"), uint8(200))
	f.Fuzz(func(t *testing.T, data []byte, cut uint8) {
		var evs []ops.EventData
		start := 0
		for i := 0; i <= len(data); i++ {
			if i == len(data) || data[i] == ',' {
				evs = append(evs, ops.EventData{Type: "e", Data: data[start:i]})
				start = i + 1
			}
		}
		if len(evs) > 200 {
			evs = evs[:200]
		}
		step := func(h uint64, ev ops.Event) (uint64, error) {
			for _, b := range ev.Data {
				h = h*1099511628211 ^ uint64(b)
			}
			return h*31 + ev.Seq, nil
		}
		p := handle(t, newStore(t))
		k := int(cut) % (len(evs) + 1)
		if k > 0 {
			_, err := programs.Append(p, "s", ops.NoStream(), evs[:k]...)
			require.NoError(t, err)
		}
		mid, err := programs.Project(p, "s", step, 7)
		require.NoError(t, err)
		if k < len(evs) {
			_, err = programs.Append(p, "s", ops.Exact(uint64(k)), evs[k:]...)
			require.NoError(t, err)
		}
		full, err := programs.Project(p, "s", step, 7)
		require.NoError(t, err)
		resumed, err := programs.ProjectResume(p, "s", step, mid)
		require.NoError(t, err)
		require.Equal(t, full, resumed)
		require.Equal(t, uint64(len(evs)), full.Seq)
	})
}

// TestProjectStepError: a step that fails stops the fold at that event; the
// error names the stream and seq, and Load passes it on.
func TestProjectStepError(t *testing.T) {
	store := newStore(t)
	p := handle(t, store)
	_, err := programs.Append(p, "acct", ops.NoStream(), ledgerEvents...)
	require.NoError(t, err)
	bad := errors.New("cannot fold")
	step := func(l ledger, ev ops.Event) (ledger, error) {
		if ev.Seq == 3 {
			return l, bad
		}
		return applyLedger(l, ev)
	}
	seed := ledger{Trail: ">"}
	st, err := programs.Project(p, "acct", step, seed)
	var se *programs.StepError
	require.ErrorAs(t, err, &se)
	assert.Equal(t, programs.StepError{Stream: "acct", Seq: 3, Type: "withdraw", Err: bad}, *se)
	assert.ErrorIs(t, err, bad)
	assert.EqualError(t, err, `project "acct": step at seq 3 (withdraw): cannot fold`)
	assert.Equal(t, programs.State[ledger]{Value: seed}, st, "no partial state")

	proj := programs.Projection[ledger]{Name: "acct-view", Stream: "acct", Version: 1, Seed: seed, Step: step}
	_, err = programs.Load(p, proj)
	require.ErrorAs(t, err, &se)
	assert.Equal(t, uint64(3), se.Seq)
	assert.Contains(t, err.Error(), `load "acct-view"`)
}

// TestProjectStepKeepsEvents: a step may keep the events it is given, Data
// included, across pages of the fold's reads; nothing it kept is written
// over by a later page.
func TestProjectStepKeepsEvents(t *testing.T) {
	p := handle(t, newStore(t))
	const n = 2345 // three pages of ops.DefaultPage
	evs := make([]ops.EventData, n)
	for i := range evs {
		evs[i] = ops.EventData{Type: "t", Data: []byte(fmt.Sprintf("event %04d", i+1))}
	}
	_, err := programs.Append(p, "kept", ops.Any(), evs...)
	require.NoError(t, err)
	keep := func(kept [][]byte, ev ops.Event) ([][]byte, error) { return append(kept, ev.Data), nil }
	st, err := programs.Project(p, "kept", keep, nil)
	require.NoError(t, err)
	require.Len(t, st.Value, n)
	for i, d := range st.Value {
		require.Equal(t, fmt.Sprintf("event %04d", i+1), string(d), "event %d", i+1)
	}
}
