package file

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"rose-ash.com/persist/backends/mock"
	"rose-ash.com/persist/effect"
	"rose-ash.com/persist/ops"
)

// kvBufferCommit is commit i of the crash test of the kv budget: 10 new
// keys, and from the third on a delete of a key of the first.
func kvBufferCommit(i int) []ops.KvChange {
	var ch []ops.KvChange
	for j := range 10 {
		ch = append(ch, ops.KvChange{Key: fmt.Sprintf("b%03d-%d", i, j), Value: fmt.Appendf(nil, "%d-%d-%s", i, j, strings.Repeat("v", 40))})
	}
	if i >= 2 && i < 12 {
		ch = append(ch, ops.KvChange{Key: fmt.Sprintf("b000-%d", i-2), Delete: true})
	}
	return ch
}

// kvBufferModel is the keys of commits 0..n-1.
func kvBufferModel(n int) map[string]string {
	m := map[string]string{}
	for i := range n {
		for _, c := range kvBufferCommit(i) {
			if c.Delete {
				delete(m, c.Key)
			} else {
				m[c.Key] = string(c.Value)
			}
		}
	}
	return m
}

// A crash at every IO effect of the commit whose kv changes took the
// budget (Options.KvBufferBytes) over, which writes the checkpoint it
// made due (a kv run, then the checkpoint) before it returns, under
// every crash fault: the reopened store holds every key the commits
// before it acknowledged and the commit's own all or none (all once it
// was acknowledged), Verify finds nothing wrong, and a second crash
// after the recovery changes nothing.
func TestCrashKvBufferCheckpoint(t *testing.T) {
	// Twice over the budget: the second checkpoint it makes due folds
	// the first's run.
	opts := Options{SegmentSize: 64 << 10, CheckpointBytes: 1 << 30,
		KvBufferBytes: 5 * 10 * kvEntryBytes("b000-0", make([]byte, 45))}
	open := func(fs *mock.FS) *Store { return kvTierOpen(t, fs, opts) }
	commit := func(s *Store, fs *mock.FS, i int) error {
		_, err := effect.Perform(effect.Handle(context.Background(), s, fs), ops.Commit{Kv: kvBufferCommit(i)})
		return err
	}
	for _, due := range []int{1, 2} {
		t.Run(fmt.Sprintf("checkpoint%d", due), func(t *testing.T) {
			// Find the commit that makes checkpoint due due, and its effects.
			probe := mock.New(1, mock.Options{Record: true})
			s := open(probe)
			d := -1
			var trace []mock.TraceEntry
			for i := 0; d < 0; i++ {
				require.Less(t, i, 100, "no checkpoint made due")
				from := len(probe.Trace())
				require.NoError(t, commit(s, probe, i))
				if s.Stats().Checkpoints == uint64(due) {
					d, trace = i, probe.Trace()[from:]
				}
			}
			require.NoError(t, s.Close(effect.Handle(context.Background(), probe)))
			runWrites := 0
			for _, e := range trace {
				if e.Name == "io/write-at" && strings.Contains(e.Path, "/kv-") {
					runWrites++
				}
			}
			require.Positive(t, runWrites, "the due checkpoint writes a run")

			before, with := kvBufferModel(d), kvBufferModel(d+1)
			cases, lost := 0, 0
			defer func() { t.Logf("commit %d: %d effects, %d crashes, %d lost the commit", d, len(trace), cases, lost) }()
			for k := range trace {
				for _, after := range []bool{false, true} {
					for _, f := range mock.FaultKinds() {
						what := fmt.Sprintf("crash at effect %d (%s, after %v) of commit %d under %s", k, trace[k], after, d, f)
						fs := mock.New(1, mock.Options{})
						s := open(fs)
						for i := range d {
							require.NoError(t, commit(s, fs, i), what)
						}
						fs.Inject(mock.Fail(k, mock.Any(), mock.Action{Kind: mock.ActCrash, After: after}))
						acked := commit(s, fs, d) == nil
						cases++
						_ = s.Close(effect.Handle(context.Background(), fs))
						disk, _ := fs.Crash(mock.Fault{Kind: f, Seed: uint64(k)}, 2)

						_, verr := Verify(effect.Handle(context.Background(), disk.Clone(3)), "/data")
						require.NoError(t, verr, what)
						s2 := open(disk)
						got := kvBufferHeld(t, s2, disk, what)
						switch {
						case acked:
							require.Equal(t, with, got, what+": an acknowledged commit")
						case len(got) == len(before):
							require.Equal(t, before, got, what)
							lost++
						default:
							require.Equal(t, with, got, what+": the commit all or none")
						}
						_, err := effect.Perform(effect.Handle(context.Background(), s2, disk), ops.KvPut{Key: "after", Value: []byte("1")})
						require.NoError(t, err, what)
						got["after"] = "1"
						again, _ := disk.Crash(mock.Fault{Kind: mock.Drop}, 3)
						s3 := open(again)
						require.Equal(t, got, kvBufferHeld(t, s3, again, what), what+", then a crash after the recovery")
						require.NoError(t, s3.Close(effect.Handle(context.Background(), again)), what)
					}
				}
			}
		})
	}
}

// kvBufferHeld is every key s holds, by listing and by getting each.
func kvBufferHeld(t *testing.T, s *Store, fs *mock.FS, what string) map[string]string {
	t.Helper()
	p := effect.Handle(context.Background(), s, fs)
	l, err := effect.Perform(p, ops.KvList{Limit: 1000})
	require.NoError(t, err, what)
	require.False(t, l.More, what)
	m := map[string]string{}
	for _, e := range l.Entries {
		m[e.Key] = string(e.Value)
		g, err := effect.Perform(p, ops.KvGet{Key: e.Key})
		require.NoError(t, err, what)
		require.NotNil(t, g, "%s: key %s listed", what, e.Key)
		require.Equal(t, e.Value, g.Value, "%s: key %s", what, e.Key)
	}
	require.Equal(t, len(m), s.Stats().KvKeys, what)
	return m
}
