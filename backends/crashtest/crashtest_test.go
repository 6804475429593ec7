package crashtest

import (
	"context"
	"path"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"rose-ash.com/persist/backends/mock"
	"rose-ash.com/persist/effect"
	"rose-ash.com/persist/interp"
	"rose-ash.com/persist/platform"
)

func TestCampaignOneWorkload(t *testing.T) {
	sum, err := Run(context.Background(), Config{Seed: 1, Workloads: []string{"single"}, Draws: 1})
	require.NoError(t, err)
	for _, r := range sum.Failed {
		t.Error(r.Report())
	}
	assert.Greater(t, sum.Cases, 1000)
	for _, f := range Faults() {
		assert.Positive(t, sum.PerFault[f], "fault %s never drawn", f)
	}
	assert.Positive(t, sum.Outcomes[outIntact])
	assert.Positive(t, sum.Outcomes[outCorrupt], "damage at rest is detected")
	var b strings.Builder
	sum.Print(&b)
	assert.Contains(t, b.String(), "per fault: drop ")
}

func TestPlanIsWhatRunChecks(t *testing.T) {
	cfg := Config{Seed: 2, Workloads: []string{"empty", "kv"}, Faults: []string{"torn", "bitflip", "fsync-eio"}, Draws: 1, RunDraws: 2}
	plan, err := Plan(context.Background(), cfg)
	require.NoError(t, err)
	planned := map[string]bool{}
	for _, c := range plan {
		planned[c.Key()] = true
	}
	checked := map[string]bool{}
	cfg.OnResult = func(r Result) { checked[r.Case.Key()] = true }
	sum, err := Run(context.Background(), cfg)
	require.NoError(t, err)
	assert.Empty(t, sum.Failed)
	assert.Equal(t, planned, checked)
	assert.Equal(t, len(plan), sum.Cases)
}

func TestReplayOneCase(t *testing.T) {
	c := Case{Seed: 4, Workload: "kv", At: 30, After: true, Fault: "prefix", Draw: 1}
	assert.Equal(t, "go run ./cmd/persist crashtest --seed 4 --workload kv --at 30 --after --fault prefix --draw 1", c.Command())
	assert.Equal(t, "kv:k30-after:prefix:d1", c.Key())
	var got []Result
	cfg := Single(c)
	cfg.OnResult = func(r Result) { got = append(got, r) }
	_, err := Run(context.Background(), cfg)
	require.NoError(t, err)
	require.Len(t, got, 1)
	assert.Equal(t, c, got[0].Case)
	assert.NoError(t, got[0].Err)
	// Same seed, same run.
	var again []Result
	cfg.OnResult = func(r Result) { again = append(again, r) }
	_, err = Run(context.Background(), cfg)
	require.NoError(t, err)
	assert.Equal(t, got[0].Detail, again[0].Detail)
	assert.Equal(t, got[0].Outcome, again[0].Outcome)
}

func TestUnknownNames(t *testing.T) {
	_, err := Run(context.Background(), Config{Workloads: []string{"nope"}})
	assert.ErrorContains(t, err, `unknown workload "nope"`)
	_, err = Run(context.Background(), Config{Faults: []string{"nope"}})
	assert.ErrorContains(t, err, `unknown fault "nope"`)
}

// lyingDisk acknowledges every fdatasync without doing it: the
// acknowledged appends are not durable, and the checks must say so.
type lyingDisk struct{ disk effect.Handler }

func (l lyingDisk) Handle(p *effect.P, e effect.Effect) (any, error) {
	if _, ok := e.(platform.Fdatasync); ok {
		return struct{}{}, nil
	}
	return l.disk.Handle(p, e)
}

func TestChecksCatchALyingDisk(t *testing.T) {
	sum, err := Run(context.Background(), Config{
		Seed: 3, Workloads: []string{"single"}, Faults: []string{"drop"}, Draws: 1,
		Wrap: func(d effect.Handler) effect.Handler { return lyingDisk{d} },
	})
	require.NoError(t, err)
	require.NotEmpty(t, sum.Failed, "acknowledged appends lost in a crash must be reported")
	r := sum.Failed[0]
	assert.Contains(t, r.Err.Error(), "missing")
	assert.Contains(t, r.Report(), "replay: go run ./cmd/persist crashtest --seed 3 --workload single")
}

func TestProgramCrashRestart(t *testing.T) {
	ctx := context.Background()
	n, err := ProgramEffects(ctx, LedgerProgram, 7)
	require.NoError(t, err)
	require.Greater(t, n, 20)
	kinds := mock.FaultKinds()
	for k := range n {
		f := mock.Fault{Kind: kinds[k%len(kinds)], Seed: uint64(k)}
		out, err := RunProgram(ctx, LedgerProgram, 7, k, f)
		if !assert.NoError(t, err, "crash at %d under %s", k, f) {
			continue
		}
		assert.True(t, out.Crashed, "crash point %d is inside the run", k)
		assert.Equal(t, "total 150 over 5 credits", out.Result)
		assert.Positive(t, out.Live, "the re-run goes on live after the journal")
	}
}

// A program that loses an acknowledged step is reported with the step.
func TestProgramMissingStepIsNamed(t *testing.T) {
	ctx := context.Background()
	// On a disk that lies about fdatasync, a crash that drops everything
	// unsynced loses appends the program saw acknowledged.
	_, err := runProgramOn(ctx, LedgerProgram, 7, 30, mock.Fault{Kind: mock.Drop, Seed: 1}, func(d effect.Handler) effect.Handler { return lyingDisk{d} })
	require.Error(t, err)
	assert.Regexp(t, `acknowledged step \d+ is missing after the restart: \(persist/append`, err.Error())
}

func BenchmarkCampaign(b *testing.B) {
	for b.Loop() {
		_, err := Run(context.Background(), Config{Seed: 1, Workloads: []string{"kv"}, Draws: 1, Workers: 1})
		require.NoError(b, err)
	}
}

// The meta workload: metadata writes and deletes among appends, every
// crash point under every fault, with the invariant that what a stream's
// state hides stays hidden, nothing visible is lost and positions do not
// change (model.diff).
func TestCampaignMeta(t *testing.T) {
	sum, err := Run(context.Background(), Config{Seed: 5, Workloads: []string{"meta"}, Draws: 1, RunDraws: 1})
	require.NoError(t, err)
	for i, r := range sum.Failed {
		if i < 5 {
			t.Error(r.Report())
		}
	}
	assert.Empty(t, sum.Failed)
	assert.Greater(t, sum.Cases, 500)
	var b strings.Builder
	sum.Print(&b)
	t.Log(b.String())
}

// The max-age workload: limits by age among appends, every crash point
// under every fault; what age hides stays hidden after every recovery,
// and an ID whose event aged out takes a new seq.
func TestCampaignMaxAge(t *testing.T) {
	sum, err := Run(context.Background(), Config{Seed: 5, Workloads: []string{"max-age"}, Draws: 1, RunDraws: 1})
	require.NoError(t, err)
	for i, r := range sum.Failed {
		if i < 5 {
			t.Error(r.Report())
		}
	}
	assert.Empty(t, sum.Failed)
	assert.Greater(t, sum.Cases, 500)
	var b strings.Builder
	sum.Print(&b)
	t.Log(b.String())
}

// TestCampaignSnapshotGenerations crashes the snapshot workload, whose
// writes keep 2, 3 and 2 generations: after every crash, the generations a
// store lists and reads back by number are the newest Keep of the
// surviving writes.
func TestCampaignSnapshotGenerations(t *testing.T) {
	sum, err := Run(context.Background(), Config{Seed: 7, Workloads: []string{"snapshot"}, Draws: 1, RunDraws: 1, Sample: 0.25})
	require.NoError(t, err)
	for i, r := range sum.Failed {
		if i < 5 {
			t.Error(r.Report())
		}
	}
	assert.Empty(t, sum.Failed)
	assert.Greater(t, sum.Cases, 500)
	var b strings.Builder
	sum.Print(&b)
	t.Log(b.String())
}

// TestCampaignKvRunFaults strikes the kv run files a crash left (removed,
// torn, a bit flipped): the store rebuilds the kv keys from the log when
// Open finds the damage, and fails the reads of a damaged block with
// ErrCorrupt otherwise, so nothing may be lost or wrong, and some cases
// must find a run to strike.
func TestCampaignKvRunFaults(t *testing.T) {
	var mu sync.Mutex
	struck := 0
	cfg := Config{Seed: 11, Workloads: []string{"kv", "restart", "multi"}, Faults: []string{"kv-missing", "kv-torn", "kv-bitflip"}, Draws: 1, Sample: 0.5,
		OnResult: func(r Result) {
			mu.Lock()
			defer mu.Unlock()
			if !strings.Contains(r.Detail, "no kv run file to strike") {
				struck++
			}
		}}
	sum, err := Run(context.Background(), cfg)
	require.NoError(t, err)
	for i, r := range sum.Failed {
		if i < 5 {
			t.Error(r.Report())
		}
	}
	assert.Empty(t, sum.Failed)
	assert.Greater(t, struck, 50, "cases that found a kv run to strike")
	var b strings.Builder
	sum.Print(&b)
	t.Logf("%d cases struck a kv run; %s", struck, b.String())
}

// Stream run faults (a stream run file removed, its last sector zeroed
// or a bit flipped) on the workload that writes stream runs: Open falls
// back to an older checkpoint or the log, so nothing may be lost or
// wrong, and some cases must find a run to strike.
func TestCampaignStreamRunFaults(t *testing.T) {
	w, err := FindWorkload("streamrun")
	require.NoError(t, err)
	// The fault-free run writes a run at each of its three reopens, each
	// folding the one before into it (runs of a few heads): one is left.
	m := newMachine(context.Background(), w, 1)
	m.run()
	require.Empty(t, m.violations)
	runs := 0
	for _, f := range m.fs.Files() {
		if strings.HasPrefix(path.Base(f.Path), "st-") && strings.HasSuffix(f.Path, ".run") {
			runs++
		}
	}
	require.Equal(t, 1, runs, "stream runs written")
	var mu sync.Mutex
	struck := 0
	cfg := Config{Seed: 13, Workloads: []string{"streamrun"}, Faults: []string{"st-missing", "st-torn", "st-bitflip"}, Draws: 1, Sample: 0.3,
		OnResult: func(r Result) {
			mu.Lock()
			defer mu.Unlock()
			if !strings.Contains(r.Detail, "no stream run file to strike") {
				struck++
			}
		}}
	sum, err := Run(context.Background(), cfg)
	require.NoError(t, err)
	for i, r := range sum.Failed {
		if i < 5 {
			t.Error(r.Report())
		}
	}
	assert.Empty(t, sum.Failed)
	assert.Greater(t, struck, sum.Cases/2, "cases that found a stream run to strike")
	var b strings.Builder
	sum.Print(&b)
	t.Logf("%d cases struck a stream run; %s", struck, b.String())
}

// The compact workload: compactions of sealed segments among appends,
// limits, deletes and a reopen, every crash point under every fault,
// with the meta workload's invariant. The workload is sampled: a
// twentieth of its crash points run here, which keeps `go test -race
// ./...` within its budget (all of them took over eight minutes), a
// quarter in the crash suite of ./conformance.sh.
func TestCampaignCompact(t *testing.T) {
	sum, err := Run(context.Background(), Config{Seed: 5, Workloads: []string{"compact"}, Draws: 1, RunDraws: 1, Sample: 0.05})
	require.NoError(t, err)
	for i, r := range sum.Failed {
		if i < 5 {
			t.Error(r.Report())
		}
	}
	assert.Empty(t, sum.Failed)
	assert.Greater(t, sum.Cases, 500)
	var b strings.Builder
	sum.Print(&b)
	t.Log(b.String())
}

// The segment index files' faults on the workloads that seal segments
// under checkpoints, whose files hold their segments' ID entries and
// filter: every case, and the reuse of a stored ID after recovery, must
// answer as the model, the damaged file rebuilt from its segment.
func TestCampaignIndexFileFaults(t *testing.T) {
	var mu sync.Mutex
	struck := 0
	cfg := Config{Seed: 12, Workloads: []string{"rollckpt", "compact"}, Faults: []string{"idx-missing", "idx-torn", "idx-bitflip"}, Draws: 1, Sample: 0.25,
		OnResult: func(r Result) {
			mu.Lock()
			defer mu.Unlock()
			if !strings.Contains(r.Detail, "no index file to strike") {
				struck++
			}
		}}
	sum, err := Run(context.Background(), cfg)
	require.NoError(t, err)
	for i, r := range sum.Failed {
		if i < 5 {
			t.Error(r.Report())
		}
	}
	assert.Empty(t, sum.Failed)
	assert.Greater(t, struck, 50, "cases that found an index file to strike")
	t.Logf("%d of %d cases struck an index file", struck, sum.Cases)
}

// The kvtier workload: tiers of kv runs, folds and tombstones, a store
// checkpoint after every commit, crashed at a sample of its effects (the
// writes of a fold, the instant between a folded run's rename and its
// checkpoint's, the removal of the runs it replaced) under every fault,
// and every run fault at a sample of the effects it applies to.
func TestCampaignKvTier(t *testing.T) {
	w, err := FindWorkload("kvtier")
	require.NoError(t, err)
	// The fault-free run writes tiers and folds them: more runs renamed
	// into place than are left at its end.
	m := newMachine(context.Background(), w, 1)
	m.fs = mock.New(1, mock.Options{CrashErr: interp.ErrCrash, Record: true})
	m.run()
	require.Empty(t, m.violations)
	renamed := 0
	for _, e := range m.fs.Trace() {
		if e.Name == "io/rename" && strings.Contains(e.Path, "/kv-") && e.Err == "" {
			renamed++
		}
	}
	left := 0
	for _, f := range m.fs.Files() {
		if strings.HasSuffix(f.Path, ".run") {
			left++
		}
	}
	require.GreaterOrEqual(t, renamed, 6, "kv runs written")
	require.Less(t, left, renamed-2, "runs folded and removed")

	sum, err := Run(context.Background(), Config{Seed: 12, Workloads: []string{"kvtier"}, Draws: 1, RunDraws: 1, Sample: 0.15})
	require.NoError(t, err)
	for i, r := range sum.Failed {
		if i < 5 {
			t.Error(r.Report())
		}
	}
	assert.Empty(t, sum.Failed)
	assert.Greater(t, sum.Cases, 500)
	var b strings.Builder
	sum.Print(&b)
	t.Logf("%d kv runs renamed, %d left; %s", renamed, left, b.String())
}
