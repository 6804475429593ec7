package main

import (
	"errors"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/rogpeppe/go-internal/testscript"

	"rose-ash.com/persist/platform"
)

// TestMain makes the test binary the persist command (and the kill test's
// writer) when the scripts or the kill test run it under those names.
func TestMain(m *testing.M) {
	testscript.Main(m, map[string]func(){
		"persist":        func() { os.Exit(run()) },
		"persist-writer": func() { os.Exit(writerMain(os.Args[1:])) },
	})
}

var update = flag.Bool("update", false, "rewrite the golden files of testdata/scripts that differ")

// TestScripts runs the scenarios in testdata/scripts. Each runs in its own
// work directory with PERSIST_DIR=$WORK/data and a fixed clock, so output
// is reproducible.
func TestScripts(t *testing.T) {
	testscript.Run(t, testscript.Params{
		Dir:           "../../testdata/scripts",
		UpdateScripts: *update,
		Setup: func(env *testscript.Env) error {
			env.Setenv("PERSIST_DIR", "data")
			env.Setenv(envTestClock, "2026-01-02T03:04:05Z")
			setupSim(env)
			setupPG(env)
			return nil
		},
		Condition: func(cond string) (bool, error) {
			if cond == "postgres" {
				return pgCondition()
			}
			return false, fmt.Errorf("unknown condition %q", cond)
		},
		Cmds: map[string]func(ts *testscript.TestScript, neg bool, args []string){
			"truncate":   cmdTruncate,
			"flipbyte":   cmdFlipbyte,
			"genliteral": cmdGenliteral,
			"waitlocked": cmdWaitlocked,
			"exitcode":   cmdExitcode,
			"sim":        cmdSim,
			"fault":      cmdFault,
			"crash":      cmdCrash,
			"restart":    cmdRestart,
			"disk":       cmdDisk,
			"waitserve":  cmdWaitserve,
			"waitgrep":   cmdWaitgrep,
			"post":       cmdPost,
			"get":        cmdGet,
		},
	})
}

// cmdTruncate is "truncate FILE SIZE" (set the size) or "truncate FILE -N"
// (cut N bytes off the end).
func cmdTruncate(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 2 {
		ts.Fatalf("usage: truncate FILE SIZE|-N")
	}
	path := ts.MkAbs(args[0])
	n, err := strconv.ParseInt(args[1], 10, 64)
	ts.Check(err)
	size := n
	if strings.HasPrefix(args[1], "-") {
		fi, err := os.Stat(path)
		ts.Check(err)
		size = fi.Size() + n
		if size < 0 {
			ts.Fatalf("%s has only %d bytes", args[0], fi.Size())
		}
	}
	ts.Check(os.Truncate(path, size))
}

// cmdFlipbyte is "flipbyte FILE OFFSET": inverts every bit of the byte at
// OFFSET.
func cmdFlipbyte(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 2 {
		ts.Fatalf("usage: flipbyte FILE OFFSET")
	}
	path := ts.MkAbs(args[0])
	off, err := strconv.ParseInt(args[1], 10, 64)
	ts.Check(err)
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	ts.Check(err)
	defer f.Close()
	b := make([]byte, 1)
	if _, err := f.ReadAt(b, off); err != nil {
		ts.Fatalf("read %s at %d: %v", args[0], off, err)
	}
	b[0] ^= 0xff
	_, err = f.WriteAt(b, off)
	ts.Check(err)
}

// cmdGenliteral is "genliteral FILE BYTES": writes an SX string literal of
// exactly BYTES bytes (quotes included).
func cmdGenliteral(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 2 {
		ts.Fatalf("usage: genliteral FILE BYTES")
	}
	n, err := strconv.Atoi(args[1])
	ts.Check(err)
	if n < 2 {
		ts.Fatalf("a literal needs at least 2 bytes")
	}
	ts.Check(os.WriteFile(ts.MkAbs(args[0]), []byte(fmt.Sprintf("%q", strings.Repeat("z", n-2))), 0o644))
}

// cmdWaitlocked is "waitlocked DIR": waits (up to 20s) until another
// process holds the lock of the data directory DIR.
func cmdWaitlocked(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 1 {
		ts.Fatalf("usage: waitlocked DIR")
	}
	lock := ts.MkAbs(args[0] + "/LOCK")
	h := &platform.OS{}
	for deadline := time.Now().Add(20 * time.Second); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		if _, err := os.Stat(lock); err != nil {
			continue
		}
		fd, err := h.Handle(nil, platform.Lock{Path: lock})
		if errors.Is(err, platform.ErrLocked) {
			return
		}
		ts.Check(err)
		_, err = h.Handle(nil, platform.Close{FD: fd.(platform.FD)})
		ts.Check(err)
	}
	ts.Fatalf("%s was not locked within 20s", args[0])
}

// cmdExitcode is "exitcode N [<FILE] COMMAND [ARGS...]": runs the command
// as exec does (its output becomes stdout and stderr for the lines that
// follow), with FILE as its standard input if given, and fails unless it
// exits with status N.
func cmdExitcode(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) < 2 {
		ts.Fatalf("usage: exitcode N [<FILE] COMMAND [ARGS...]")
	}
	want, err := strconv.Atoi(args[0])
	ts.Check(err)
	var stdin *os.File
	if strings.HasPrefix(args[1], "<") {
		stdin, err = os.Open(ts.MkAbs(args[1][1:]))
		ts.Check(err)
		defer stdin.Close()
		args = args[1:]
		if len(args) < 2 {
			ts.Fatalf("usage: exitcode N [<FILE] COMMAND [ARGS...]")
		}
	}
	cmd := exec.Command(args[1], args[2:]...)
	if stdin != nil {
		cmd.Stdin = stdin
	}
	cmd.Dir = ts.MkAbs(".")
	cmd.Env = os.Environ()
	for _, k := range []string{"PATH", "HOME", "TMPDIR", "PERSIST_DIR", envTestClock, envLockWait, envPG, envPGSchema, envServer, envToken} {
		cmd.Env = append(cmd.Env, k+"="+ts.Getenv(k))
	}
	cmd.Stdout, cmd.Stderr = ts.Stdout(), ts.Stderr()
	err = cmd.Run()
	got := 0
	var exitErr *exec.ExitError
	switch {
	case errors.As(err, &exitErr):
		got = exitErr.ExitCode()
	case err != nil:
		ts.Fatalf("%s: %v", args[1], err)
	}
	if got != want {
		ts.Fatalf("%s exited with status %d, want %d", args[1], got, want)
	}
}
