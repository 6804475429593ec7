package file_test

import (
	"context"
	"fmt"
	"os"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"rose-ash.com/persist/backends/crashtest"
	"rose-ash.com/persist/backends/mock"
)

// crashConfig is the crash campaign of the conformance run: every workload,
// every crash point of the small ones and a quarter of the large ones'
// (seeded), before and after each, one draw of every crash and disk fault
// and three of every run fault. Under the race detector, or with -short,
// a smaller campaign (the six small workloads, a tenth of the restart
// workload's crash points) keeps `go test -race -timeout 30m ./...` within its budget:
// ./conformance.sh, which runs without the race detector, is where the
// full one runs.
func crashConfig() crashtest.Config {
	cfg := crashtest.Config{Seed: 20261126, Draws: 1, RunDraws: 3, Sample: 0.25}
	if raceEnabled || testing.Short() {
		cfg.Workloads = []string{"single", "multi", "expect", "kv", "empty", "restart"}
		cfg.Sample = 0.1
	}
	return cfg
}

// programCase crashes the ledger program at IO effect at, under fault,
// restarts it and re-runs it from its journal (crashtest.RunProgram).
type programCase struct {
	at    int
	fault mock.Fault
}

func (c programCase) key() string { return fmt.Sprintf("program:k%d:%s", c.at, c.fault.Kind) }

// programCases lists every crash point of the ledger program under every
// crash fault (one fault per point under the race detector or -short).
func programCases(ctx context.Context, seed uint64) ([]programCase, error) {
	n, err := crashtest.ProgramEffects(ctx, crashtest.LedgerProgram, seed)
	if err != nil {
		return nil, err
	}
	kinds := mock.FaultKinds()
	var out []programCase
	for k := range n {
		for i, kind := range kinds {
			if (raceEnabled || testing.Short()) && i != k%len(kinds) {
				continue
			}
			out = append(out, programCase{at: k, fault: mock.Fault{Kind: kind, Seed: seed + uint64(k)}})
		}
	}
	return out, nil
}

// TestConformanceCrash crashes the store at every IO effect of the crash
// workloads and checks the ten invariants of RELIABILITY.md on what
// survives. Each (workload, crash point, fault draw) is one case, a
// subtest crash/<case> that fails with the one-line command replaying it;
// so is each crash point of the ledger program, crashed, restarted and
// re-run from its journal.
func TestConformanceCrash(t *testing.T) {
	ctx := context.Background()
	cfg := crashConfig()
	plan, err := crashtest.Plan(ctx, cfg)
	require.NoError(t, err)
	require.NotEmpty(t, plan)
	progs, err := programCases(ctx, cfg.Seed)
	require.NoError(t, err)
	if testing.Verbose() {
		names := make([]string, 0, len(plan)+len(progs))
		for _, c := range plan {
			names = append(names, "crash/"+c.Key())
		}
		for _, c := range progs {
			names = append(names, "crash/"+c.key())
		}
		t.Logf("conformance roster: %s", strings.Join(names, " "))
	}
	results := map[string]crashtest.Result{}
	var extra []crashtest.Result
	cfg.OnResult = func(r crashtest.Result) {
		if _, dup := results[r.Case.Key()]; dup || r.Case.At < 0 {
			extra = append(extra, r)
			return
		}
		results[r.Case.Key()] = r
	}
	sum, err := crashtest.Run(ctx, cfg)
	require.NoError(t, err)
	var b strings.Builder
	sum.Print(&b)
	t.Log(strings.TrimSpace(b.String()))
	if os.Getenv("PERSIST_CRASH_SUMMARY") != "" {
		fmt.Print(b.String())
	}
	t.Run("crash", func(t *testing.T) {
		for _, c := range plan {
			t.Run(c.Key(), func(t *testing.T) {
				r, ok := results[c.Key()]
				switch {
				case !ok:
					t.Fatalf("case %s was planned but not checked; replay: %s", c, c.Command())
				case r.Err != nil:
					t.Fatal(r.Report())
				}
			})
		}
		for _, c := range progs {
			t.Run(c.key(), func(t *testing.T) {
				out, err := crashtest.RunProgram(ctx, crashtest.LedgerProgram, cfg.Seed, c.at, c.fault)
				require.NoError(t, err)
				require.True(t, out.Crashed, "crash point %d is inside the run", c.at)
			})
		}
		for _, r := range extra {
			t.Run(r.Case.Key(), func(t *testing.T) {
				if r.Err != nil {
					t.Fatal(r.Report())
				}
			})
		}
	})
}
