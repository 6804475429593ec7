package main

import (
	"bytes"
	"context"
	"flag"
	"fmt"
	"io"
	"strconv"
	"strings"
	"testing"

	"github.com/rogpeppe/go-internal/testscript"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"rose-ash.com/persist/backends/file"
	"rose-ash.com/persist/backends/mock"
	"rose-ash.com/persist/effect"
	"rose-ash.com/persist/ops"
)

// The crash scripts (testdata/scripts/crash_*.txtar) tell one crash each on
// the mock platform, whose disk lives in the test process: the in-process
// commands below keep it across the lines of a script.
//
//	sim ARGS...              run a persist subcommand in process, on the
//	                         store on the simulated disk (opened if needed)
//	fault [-k K] WHEN DO     fail the K-th (from 0) next effect named WHEN
//	                         (an effect name such as io/fdatasync, or any)
//	                         with DO: eio, enospc, short, misdirect, crash,
//	                         crash-after
//	fault bitflip|zero-sector FILE [SEED]
//	                         damage at rest the durable bytes of the file
//	                         whose path contains FILE
//	crash KIND [SEED]        the machine loses power: the disk keeps what
//	                         crash fault KIND (drop, prefix, subset, torn,
//	                         extend-zero, extend-garbage, dirs, keep) leaves
//	restart [-segment-size N]
//	                         the process starts again: opens the store on
//	                         the disk (recovery) and prints what it did
//	disk                     lists the simulated files: size, durable size
//	                         and unsynced changes

type simKey struct{}

// simWorld is the simulated machine of one script.
type simWorld struct {
	fs      *mock.FS
	store   *file.Store
	opts    file.Options
	crashes uint64
}

const simDir = "/data"

func setupSim(env *testscript.Env) {
	env.Values[simKey{}] = &simWorld{fs: mock.New(1, mock.Options{})}
}

func simOf(ts *testscript.TestScript) *simWorld {
	w, _ := ts.Value(simKey{}).(*simWorld)
	if w == nil {
		ts.Fatalf("the simulated machine is not set up")
	}
	return w
}

func (w *simWorld) io() *effect.P { return effect.Handle(context.Background(), w.fs) }

func (w *simWorld) open() error {
	s, err := file.Open(w.io(), simDir, w.opts)
	if err != nil {
		return err
	}
	w.store = s
	return nil
}

// simBackend is the store on the simulated disk as the command sees it;
// closing it leaves the store open for the next line of the script.
type simBackend struct{ w *simWorld }

func (b simBackend) Handle(_ *effect.P, e effect.Effect) (any, error) {
	return b.w.store.Handle(b.w.io(), e)
}

func (b simBackend) Close() error { return nil }

func cmdSim(ts *testscript.TestScript, neg bool, args []string) {
	w := simOf(ts)
	m := &Main{Stdout: ts.Stdout(), Stderr: ts.Stderr(), Getenv: ts.Getenv,
		Open: func(context.Context, string, bool) (ops.Backend, error) {
			if w.store == nil {
				if err := w.open(); err != nil {
					return nil, err
				}
			}
			return simBackend{w}, nil
		}}
	code := m.ExitCode(m.Run(context.Background(), append([]string{"--dir", ts.MkAbs(".")}, args...)))
	if neg != (code != 0) {
		ts.Fatalf("sim %s: exit status %d", strings.Join(args, " "), code)
	}
}

func cmdFault(ts *testscript.TestScript, neg bool, args []string) {
	if neg {
		ts.Fatalf("usage: fault cannot be negated")
	}
	w := simOf(ts)
	if len(args) >= 2 && (args[0] == "bitflip" || args[0] == "zero-sector") {
		kind := mock.BitFlip
		if args[0] == "zero-sector" {
			kind = mock.ZeroSector
		}
		seed := uint64(1)
		if len(args) > 2 {
			n, err := strconv.ParseUint(args[2], 10, 64)
			ts.Check(err)
			seed = n
		}
		d, ok := w.fs.Corrupt(kind, args[1], seed)
		if !ok {
			ts.Fatalf("fault %s: no file with data matches %q", args[0], args[1])
		}
		fmt.Fprintln(ts.Stdout(), d)
		return
	}
	fs := flag.NewFlagSet("fault", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	k := fs.Int("k", 0, "")
	if err := fs.Parse(args); err != nil || fs.NArg() != 2 {
		ts.Fatalf("usage: fault [-k K] WHEN DO | fault bitflip|zero-sector FILE [SEED]")
	}
	var when mock.Pred = mock.Named(fs.Arg(0))
	if fs.Arg(0) == "any" {
		when = mock.Any()
	}
	var act mock.Action
	switch fs.Arg(1) {
	case "eio":
		act.Kind = mock.ActEIO
	case "enospc":
		act.Kind = mock.ActENOSPC
	case "short":
		act.Kind = mock.ActShort
	case "misdirect":
		act.Kind = mock.ActMisdirect
	case "crash":
		act.Kind = mock.ActCrash
	case "crash-after":
		act = mock.Action{Kind: mock.ActCrash, After: true}
	default:
		ts.Fatalf("fault: unknown action %q", fs.Arg(1))
	}
	in := mock.Fail(*k, when, act)
	w.fs.Inject(in)
	fmt.Fprintln(ts.Stdout(), in)
}

func cmdCrash(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) < 1 || len(args) > 2 {
		ts.Fatalf("usage: crash KIND [SEED]")
	}
	w := simOf(ts)
	kind, err := mock.ParseFaultKind(args[0])
	ts.Check(err)
	w.crashes++
	seed := w.crashes
	if len(args) == 2 {
		seed, err = strconv.ParseUint(args[1], 10, 64)
		ts.Check(err)
	}
	next, rep := w.fs.Crash(mock.Fault{Kind: kind, Seed: seed}, seed)
	w.fs.Halt(nil)
	w.fs, w.store = next, nil
	fmt.Fprintln(ts.Stdout(), "crash", rep)
}

func cmdRestart(ts *testscript.TestScript, neg bool, args []string) {
	w := simOf(ts)
	fs := flag.NewFlagSet("restart", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	seg := fs.Int64("segment-size", w.opts.SegmentSize, "")
	if err := fs.Parse(args); err != nil || fs.NArg() != 0 {
		ts.Fatalf("usage: restart [-segment-size N]")
	}
	w.opts.SegmentSize = *seg
	// The process ends without closing anything; the disk is as it is.
	w.fs.CloseAll()
	w.store = nil
	err := w.open()
	if err != nil {
		fmt.Fprintf(ts.Stderr(), "restart: %v\n", err)
		if !neg {
			ts.Fatalf("restart: %v", err)
		}
		return
	}
	if neg {
		ts.Fatalf("restart succeeded")
	}
	r := w.store.Recovery()
	var b bytes.Buffer
	fmt.Fprintf(&b, "recovered: lsn %d, %d commits, %d events", r.LSN, r.Commits, r.Events)
	if t := r.Truncated; t != nil {
		fmt.Fprintf(&b, "; cut %d bytes of %s at offset %d (%s), kept in %s", t.Bytes, t.File, t.Offset, t.Reason, t.KeptIn)
	}
	if r.Rolled {
		b.WriteString("; finished a segment roll")
	}
	if len(r.RemovedTmp) > 0 {
		fmt.Fprintf(&b, "; removed %s", strings.Join(r.RemovedTmp, " "))
	}
	if r.Created {
		b.WriteString("; new store")
	}
	fmt.Fprintln(ts.Stdout(), b.String())
}

func cmdDisk(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 0 {
		ts.Fatalf("usage: disk")
	}
	for _, f := range simOf(ts).fs.Files() {
		if f.Dir {
			fmt.Fprintf(ts.Stdout(), "%s/ unsynced %d\n", f.Path, f.Unsynced)
			continue
		}
		fmt.Fprintf(ts.Stdout(), "%s size %d durable %d unsynced %d\n", f.Path, f.Size, f.Durable, f.Unsynced)
	}
}

func TestCrashtestCommandReplaysOneCase(t *testing.T) {
	var out, errb bytes.Buffer
	m := &Main{Stdout: &out, Stderr: &errb, Getenv: func(string) string { return "" }}
	err := m.Run(context.Background(), []string{"crashtest", "--seed", "3", "--workload", "single", "--at", "12", "--after", "--fault", "torn", "--draw", "1"})
	require.NoError(t, err, errb.String())
	assert.Contains(t, out.String(), "ok single/k12-after/torn/d1: ")
	assert.Contains(t, out.String(), "crash cases: 1 checked, 0 failed")
}

func TestCrashtestCommandCampaign(t *testing.T) {
	var out, errb bytes.Buffer
	m := &Main{Stdout: &out, Stderr: &errb, Getenv: func(string) string { return "" }}
	err := m.Run(context.Background(), []string{"crashtest", "--seed", "5", "--runs", "2", "--workload", "empty", "--fault", "drop,torn,dirs", "--draws", "1"})
	require.NoError(t, err, out.String())
	assert.Regexp(t, `crash cases: \d+ checked, 0 failed`, out.String())
	assert.Contains(t, out.String(), "per fault: drop ")
}

func TestCrashtestCommandUsage(t *testing.T) {
	var out, errb bytes.Buffer
	m := &Main{Stdout: &out, Stderr: &errb, Getenv: func(string) string { return "" }}
	err := m.Run(context.Background(), []string{"crashtest", "--at", "3"})
	var ue *UsageError
	require.ErrorAs(t, err, &ue)
	err = m.Run(context.Background(), []string{"crashtest", "--workload", "nope", "--draws", "1"})
	require.Error(t, err)
	assert.Contains(t, err.Error(), `unknown workload "nope"`)
}
