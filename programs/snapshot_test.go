package programs_test

import (
	"encoding/json"
	"errors"
	"fmt"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"rose-ash.com/persist/effect"
	"rose-ash.com/persist/ops"
	"rose-ash.com/persist/programs"
)

func ledgerProjection(version uint64) programs.Projection[ledger] {
	enc, dec := programs.JSONCodec[ledger]()
	return programs.Projection[ledger]{
		Name: "acct-ledger", Stream: "acct", Version: version,
		Seed: ledger{Trail: ">"}, Step: applyLedger, Encode: enc, Decode: dec,
	}
}

func appendLedger(t testing.TB, p *effect.P, evs []ops.EventData) {
	t.Helper()
	_, err := programs.Append(p, "acct", ops.Any(), evs...)
	require.NoError(t, err)
}

func TestLoadWithoutSnapshotReplaysAll(t *testing.T) {
	proj := ledgerProjection(1)
	st, err := both(t, func(p *effect.P) { appendLedger(t, p, ledgerEvents) }, func(p *effect.P) (programs.State[ledger], error) {
		return programs.Load(p, proj)
	})
	require.NoError(t, err)
	p := handle(t, newStore(t))
	appendLedger(t, p, ledgerEvents)
	full, err := programs.Project(p, "acct", applyLedger, proj.Seed)
	require.NoError(t, err)
	assert.Equal(t, full, st)
	assert.Equal(t, uint64(len(ledgerEvents)), st.Seq)
}

// TestLoadIsSnapshotPlusTail checkpoints at every cut point, appends the
// rest, and checks Load reads only the tail and equals the full fold.
func TestLoadIsSnapshotPlusTail(t *testing.T) {
	proj := ledgerProjection(3)
	for k := 0; k <= len(ledgerEvents); k++ {
		store := newStore(t)
		p := handle(t, store)
		if k > 0 {
			appendLedger(t, p, ledgerEvents[:k])
		}
		st, err := programs.Load(p, proj)
		require.NoError(t, err)
		require.NoError(t, programs.Checkpoint(p, proj, st))
		if k < len(ledgerEvents) {
			appendLedger(t, p, ledgerEvents[k:])
		}
		full, err := programs.Project(p, "acct", applyLedger, proj.Seed)
		require.NoError(t, err)

		got, trace, err := inPlace(t, store, func(p *effect.P) (programs.State[ledger], error) { return programs.Load(p, proj) })
		require.NoError(t, err)
		assert.Equal(t, full, got, "cut %d", k)
		assert.Equal(t, []string{ops.NameSnapshotRead, fmt.Sprintf("persist/read acct@%d", k+1)}, trace, "cut %d", k)

		sgot, strace, err := stepped(t, store, func(p *effect.P) (programs.State[ledger], error) { return programs.Load(p, proj) })
		require.NoError(t, err)
		assert.Equal(t, got, sgot)
		assert.Equal(t, trace, strace)
	}
}

func TestCheckpointWritesSnapshot(t *testing.T) {
	store := newStore(t)
	p := handle(t, store)
	proj := ledgerProjection(2)
	appendLedger(t, p, ledgerEvents[:4])
	st, err := programs.Load(p, proj)
	require.NoError(t, err)
	require.NoError(t, programs.Checkpoint(p, proj, st))

	snap, err := store.SnapshotRead(ops.SnapshotRead{Name: "acct-ledger"})
	require.NoError(t, err)
	require.True(t, snap.Found)
	assert.Equal(t, "acct-ledger", snap.Snapshot.Name)
	assert.Equal(t, uint64(2), snap.Snapshot.Version)
	assert.Equal(t, uint64(4), snap.Snapshot.Seq)
	var v ledger
	require.NoError(t, json.Unmarshal(snap.Snapshot.Value, &v))
	assert.Equal(t, st.Value, v)
}

// TestLoadIgnoresOtherVersion plants a snapshot of another version whose
// value would be wrong (and does not even decode): Load must replay in full
// and never look at it.
func TestLoadIgnoresOtherVersion(t *testing.T) {
	store := newStore(t)
	p := handle(t, store)
	appendLedger(t, p, ledgerEvents)
	_, err := store.SnapshotWrite(ops.SnapshotWrite{Snapshot: ops.Snapshot{
		Name: "acct-ledger", Version: 1, Seq: 5, Value: []byte("not json"),
	}})
	require.NoError(t, err)

	proj := ledgerProjection(2)
	decoded := 0
	dec := proj.Decode
	proj.Decode = func(b []byte) (ledger, error) { decoded++; return dec(b) }
	got, trace, err := inPlace(t, store, func(p *effect.P) (programs.State[ledger], error) { return programs.Load(p, proj) })
	require.NoError(t, err)
	full, err := programs.Project(p, "acct", applyLedger, proj.Seed)
	require.NoError(t, err)
	assert.Equal(t, full, got)
	assert.Zero(t, decoded, "a snapshot of another version is never decoded")
	assert.Equal(t, []string{ops.NameSnapshotRead, "persist/read acct@1"}, trace)

	// A decodable but wrong value of another version is not misapplied.
	bogus, err := json.Marshal(ledger{Balance: -999, Count: 5, Trail: "bogus"})
	require.NoError(t, err)
	_, err = store.SnapshotWrite(ops.SnapshotWrite{Snapshot: ops.Snapshot{Name: "acct-ledger", Version: 1, Seq: 5, Value: bogus}})
	require.NoError(t, err)
	got, err = programs.Load(p, proj)
	require.NoError(t, err)
	assert.Equal(t, full, got)

	// The same snapshot under the projection's own version is applied:
	// that is what a version is for.
	proj.Version = 1
	got, err = programs.Load(p, proj)
	require.NoError(t, err)
	assert.Equal(t, "bogus", got.Value.Trail[:5])
}

func TestLoadErrors(t *testing.T) {
	store := newStore(t)
	p := handle(t, store)
	appendLedger(t, p, ledgerEvents[:3])
	proj := ledgerProjection(1)

	_, err := store.SnapshotWrite(ops.SnapshotWrite{Snapshot: ops.Snapshot{Name: proj.Name, Version: 1, Seq: 2, Value: []byte("{broken")}})
	require.NoError(t, err)
	_, err = programs.Load(p, proj)
	var syn *json.SyntaxError
	require.ErrorAs(t, err, &syn, "a same-version snapshot that does not decode is an error")
	assert.Contains(t, err.Error(), `load "acct-ledger": decode snapshot`)

	_, err = store.SnapshotWrite(ops.SnapshotWrite{Snapshot: ops.Snapshot{Name: proj.Name, Version: 1, Seq: 9, Value: []byte("{}")}})
	require.NoError(t, err)
	_, err = programs.Load(p, proj)
	require.ErrorIs(t, err, programs.ErrAhead)

	bad := proj
	bad.Name = ""
	_, err = programs.Load(p, bad)
	var inv *ops.InvalidError
	require.ErrorAs(t, err, &inv)
	assert.Equal(t, "name", inv.Field)
	err = programs.Checkpoint(p, bad, programs.State[ledger]{})
	require.ErrorAs(t, err, &inv)

	bad = proj
	bad.Stream = ""
	bad.Name = "other"
	_, err = programs.Load(p, bad)
	require.ErrorAs(t, err, &inv)

	refused := errors.New("cannot encode")
	bad = proj
	bad.Encode = func(ledger) ([]byte, error) { return nil, refused }
	err = programs.Checkpoint(p, bad, programs.State[ledger]{Seq: 3})
	require.ErrorIs(t, err, refused)
	assert.Contains(t, err.Error(), "encode state at seq 3")
}

// TestProjectionDefaultsToJSON leaves Encode and Decode nil.
func TestProjectionDefaultsToJSON(t *testing.T) {
	store := newStore(t)
	p := handle(t, store)
	appendLedger(t, p, ledgerEvents[:5])
	proj := programs.Projection[ledger]{Name: "plain", Stream: "acct", Version: 1, Step: applyLedger}
	st, err := programs.Load(p, proj)
	require.NoError(t, err)
	require.NoError(t, programs.Checkpoint(p, proj, st))
	appendLedger(t, p, ledgerEvents[5:])
	got, err := programs.Load(p, proj)
	require.NoError(t, err)
	full, err := programs.Project(p, "acct", applyLedger, ledger{})
	require.NoError(t, err)
	assert.Equal(t, full, got)
}

// TestCustomCodec stores a counter as text.
func TestCustomCodec(t *testing.T) {
	store := newStore(t)
	p := handle(t, store)
	mustAppend(t, p, "clicks", "c", "c", "c")
	proj := programs.Projection[int]{
		Name: "clicks", Stream: "clicks", Version: 7,
		Step:   func(n int, _ ops.Event) (int, error) { return n + 1, nil },
		Encode: func(n int) ([]byte, error) { return fmt.Appendf(nil, "n=%d", n), nil },
		Decode: func(b []byte) (int, error) {
			var n int
			_, err := fmt.Sscanf(string(b), "n=%d", &n)
			return n, err
		},
	}
	st, err := programs.Load(p, proj)
	require.NoError(t, err)
	require.NoError(t, programs.Checkpoint(p, proj, st))
	snap, err := store.SnapshotRead(ops.SnapshotRead{Name: "clicks"})
	require.NoError(t, err)
	assert.Equal(t, "n=3", string(snap.Snapshot.Value))
	mustAppend(t, p, "clicks", "c")
	st, err = programs.Load(p, proj)
	require.NoError(t, err)
	assert.Equal(t, programs.State[int]{Value: 4, Seq: 4}, st)
}
