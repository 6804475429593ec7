package main

import (
	"context"
	"flag"
	"fmt"
	"strings"
	"sync"
	"time"

	"rose-ash.com/persist/backends/crashtest"
)

var crashtestCmd = &command{
	name:     "crashtest",
	fileOnly: "crashtest runs the file backend on a simulated disk and has no use for another store",
	args:     "[--seed S] [--runs N] [--workload W] [--fault F] [--at K [--after] [--draw D]]",
	summary:  "crash the file backend at every IO effect on a simulated disk and check what survives",
	detail: `
Runs the crash test of the file backend on the mock platform, in memory (no
data directory is touched): each workload runs once without faults, then is
crashed at every IO effect k, before and after it, under several draws of
every fault (lost, reordered, torn or garbage writes, reverted directory
operations, fsync and write errors, full disk, read errors, misdirected IO,
bit flips at rest, a crash during recovery). The store is reopened on each
disk and checked against the ten invariants of RELIABILITY.md.

A failing case prints its seed, workload, crash point and fault, and the one
line that replays it: the same flags with --at, --fault and --draw. With
--runs N the campaign repeats with seeds S, S+1, ..., S+N-1. Exits 1 when any
case fails.

Workloads: ` + strings.Join(crashtest.WorkloadNames(), ", ") + `.
Faults: ` + strings.Join(crashtest.Faults(), ", ") + `.`,
	example: `  persist crashtest --seed 7 --runs 20
  persist crashtest --seed 1 --workload roll --at 43 --after --fault torn --draw 1`,
	flags: func(fs *flag.FlagSet) func(context.Context, *Main, *globals, []string) error {
		var (
			seed     uint64
			runs     int
			workload string
			fault    string
			at       int
			after    bool
			draw     int
			draws    int
			sample   float64
			verbose  bool
		)
		fs.Uint64Var(&seed, "seed", 1, "seed `S` of the first run: every fault draw comes from it")
		fs.IntVar(&runs, "runs", 1, "number of runs `N`, each with the next seed")
		fs.StringVar(&workload, "workload", "", "run only workload `W` (comma-separated list)")
		fs.StringVar(&fault, "fault", "", "use only fault `F` (comma-separated list)")
		fs.IntVar(&at, "at", -1, "replay one case: crash point `K`")
		fs.BoolVar(&after, "after", false, "with --at: crash after effect K rather than before it")
		fs.IntVar(&draw, "draw", 0, "with --at: fault draw `D`")
		fs.IntVar(&draws, "draws", 2, "fault draws `N` per crash point and fault")
		fs.Float64Var(&sample, "sample", 0.25, "share `P` of the crash points checked in the large workloads (1: all)")
		fs.BoolVar(&verbose, "v", false, "print every case, not only the failures")
		return func(ctx context.Context, m *Main, g *globals, args []string) error {
			if len(args) != 0 {
				return usagef("crashtest", "unexpected argument %q", args[0])
			}
			if runs < 1 || draws < 1 || sample <= 0 || sample > 1 {
				return usagef("crashtest", "--runs and --draws must be positive, --sample in (0, 1]")
			}
			cfg := crashtest.Config{Seed: seed, Draws: draws, Sample: sample}
			if workload != "" {
				cfg.Workloads = strings.Split(workload, ",")
			}
			if fault != "" {
				cfg.Faults = strings.Split(fault, ",")
			}
			if at >= 0 {
				if len(cfg.Workloads) != 1 || len(cfg.Faults) != 1 || runs != 1 {
					return usagef("crashtest", "--at replays one case: give one --workload and one --fault, and no --runs")
				}
				cfg = crashtest.Single(crashtest.Case{Seed: seed, Workload: workload, At: at, After: after, Fault: fault, Draw: draw})
			}
			prog := m.newProgress(fmt.Sprintf("crashtest: seed %d", seed), "cases")
			defer prog.done()
			var outMu sync.Mutex
			cfg.OnResult = func(r crashtest.Result) {
				prog.add(1)
				if r.Err == nil && !verbose && at < 0 {
					return
				}
				outMu.Lock()
				defer outMu.Unlock()
				prog.clear()
				if r.Err != nil {
					fmt.Fprintln(m.Stdout, r.Report())
				} else {
					fmt.Fprintf(m.Stdout, "ok %s: %s (%s)\n", r.Case.Name(), r.Outcome, r.Detail)
				}
			}
			total := crashtest.Summary{PerFault: map[string]int{}, Outcomes: map[string]int{}}
			start := time.Now()
			for i := range runs {
				cfg.Seed = seed + uint64(i)
				prog.describe(fmt.Sprintf("crashtest: seed %d (run %d of %d)", cfg.Seed, i+1, runs))
				sum, err := crashtest.Run(ctx, cfg)
				if err != nil {
					return err
				}
				total.Cases += sum.Cases
				total.Failed = append(total.Failed, sum.Failed...)
				for k, v := range sum.PerFault {
					total.PerFault[k] += v
				}
				for k, v := range sum.Outcomes {
					total.Outcomes[k] += v
				}
				if ctx.Err() != nil {
					break
				}
			}
			total.Elapsed = time.Since(start)
			prog.done()
			total.Print(m.Stdout)
			if at >= 0 && total.Cases == 0 {
				return fmt.Errorf("crashtest: no case at %d: the workload has fewer IO effects, or the fault does not strike that effect", at)
			}
			if n := len(total.Failed); n > 0 {
				return fmt.Errorf("crashtest: %d of %d cases failed", n, total.Cases)
			}
			return ctx.Err()
		}
	},
}
