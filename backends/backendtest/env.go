package backendtest

import (
	"bytes"
	"context"
	"fmt"
	"runtime"
	"runtime/debug"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"

	"rose-ash.com/persist/effect"
	"rose-ash.com/persist/interp"
	"rose-ash.com/persist/ops"
)

// Mode is a way of interpreting a program.
type Mode int

const (
	// InPlace runs programs with interp.Run: handlers answer on the
	// program's own stack.
	InPlace Mode = iota
	// Stepped runs programs with interp.RunStepped: the program suspends at
	// every effect and a driver answers it.
	Stepped
)

func (m Mode) String() string {
	if m == Stepped {
		return "stepped"
	}
	return "in place"
}

// caseTimeout bounds one run of one case: its programs' context ends then,
// and a case still running a little later is reported and abandoned.
const caseTimeout = 60 * time.Second

// Env is what a case body works with in one mode: a fresh backend, the way
// to run programs on it, and the record of failed checks. Its check methods
// are safe for concurrent use.
type Env struct {
	mode Mode
	b    ops.Backend
	ctx  context.Context

	mu      sync.Mutex
	trace   bytes.Buffer
	fails   []string
	results []result
	closed  bool
	// retention relaxes the consistency check for cases whose hidden
	// events leave gaps in positions and seqs.
	retention bool
}

// result is the answer of one program a case ran, kept to compare the two
// modes. Values are compared deeply and printed only when they differ.
type result struct {
	at    string // the case code that ran the program
	value any
	err   string
}

func (r result) String() string {
	return fmt.Sprintf("%s: %s, err %q", r.at, clip(fmt.Sprintf("%+v", r.value), 400), r.err)
}

func sameResults(a, b []result) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i].at != b[i].at || a[i].err != b[i].err || !assert.ObjectsAreEqual(a[i].value, b[i].value) {
			return false
		}
	}
	return true
}

// clip shortens s to about n bytes for a failure message.
func clip(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return fmt.Sprintf("%s…(%d bytes)…%s", s[:n/2], len(s)-n, s[len(s)-n/2:])
}

// Mode is the mode the case runs in.
func (e *Env) Mode() Mode { return e.mode }

// Backend is the backend under test.
func (e *Env) Backend() ops.Backend { return e.b }

// Context is the context programs run with unless a case gives another.
func (e *Env) Context() context.Context { return e.ctx }

// Close closes the backend; the suite will not close it again.
func (e *Env) Close() error {
	e.mu.Lock()
	e.closed = true
	e.mu.Unlock()
	return e.b.Close()
}

// Reopener is a durable backend that can close its store and open it again
// from what it made durable, in place (the same value keeps answering).
// Cases that reopen do so only on a Reopener; on other backends
// [Env.Reopen] does nothing and the case checks the same answers without.
type Reopener interface {
	Reopen() error
}

// Reopen closes and reopens the backend when it is a [Reopener].
func (e *Env) Reopen() error {
	if r, ok := e.b.(Reopener); ok {
		return r.Reopen()
	}
	return nil
}

// traceWriter appends trace lines under the Env's lock, so that concurrent
// programs may share it.
type traceWriter struct{ e *Env }

func (w traceWriter) Write(b []byte) (int, error) {
	w.e.mu.Lock()
	defer w.e.mu.Unlock()
	return w.e.trace.Write(b)
}

// Do runs prog on the backend in the Env's mode, with extra handlers (inner
// first) in front of a trace middleware in front of the backend, and records
// its answer for the comparison of the two modes.
func Do[R any](e *Env, prog func(*effect.P) (R, error), extra ...effect.Handler) (R, error) {
	return DoContext(e, e.ctx, prog, extra...)
}

// DoContext is Do with the context ctx.
func DoContext[R any](e *Env, ctx context.Context, prog func(*effect.P) (R, error), extra ...effect.Handler) (R, error) {
	hs := make([]effect.Handler, 0, len(extra)+2)
	hs = append(hs, extra...)
	hs = append(hs, interp.Trace(traceWriter{e}), e.b)
	var (
		r   R
		err error
	)
	switch e.mode {
	case Stepped:
		r, err = interp.RunStepped(ctx, prog, hs...)
	default:
		r, err = interp.Run(ctx, prog, hs...)
	}
	res := result{at: where(), value: r}
	if err != nil {
		res.err = err.Error()
	}
	e.mu.Lock()
	e.results = append(e.results, res)
	e.mu.Unlock()
	return r, err
}

// perform performs one operation as a program of its own.
func perform[R any](e *Env, op effect.Op[R]) (R, error) {
	return Do(e, func(p *effect.P) (R, error) { return effect.Perform(p, op) })
}

// harnessFiles are the files of this package whose frames a failure's
// location skips, and harnessPkgs the packages.
var (
	harnessFiles = map[string]bool{"env.go": true, "check.go": true, "helpers.go": true}
	harnessPkgs  = []string{"rose-ash.com/persist/effect.", "rose-ash.com/persist/interp.", "runtime.", "iter.", "testing."}
)

// where is the file:line of the case code that called into the harness:
// the first frame that is neither the harness nor the machinery that runs
// programs (which differs between the two modes).
func where() string {
	pcs := make([]uintptr, 64)
	n := runtime.Callers(2, pcs)
	frames := runtime.CallersFrames(pcs[:n])
	for {
		f, more := frames.Next()
		dir, file := "", f.File
		if i := strings.LastIndexByte(f.File, '/'); i >= 0 {
			dir, file = f.File[:i], f.File[i+1:]
		}
		skip := strings.HasSuffix(dir, "/backendtest") && harnessFiles[file]
		for _, p := range harnessPkgs {
			skip = skip || strings.HasPrefix(f.Function, p)
		}
		if !skip && f.Function != "" {
			return fmt.Sprintf("%s:%d", file, f.Line)
		}
		if !more {
			return "?"
		}
	}
}

// Errorf records a failed check at the caller's location. The case goes on.
func (e *Env) Errorf(format string, args ...any) {
	msg := where() + ": " + fmt.Sprintf(format, args...)
	e.mu.Lock()
	e.fails = append(e.fails, msg)
	e.mu.Unlock()
}

// Fatalf records a failed check and ends the case body. Call it only from
// the case body's own goroutine, never inside a program.
func (e *Env) Fatalf(format string, args ...any) {
	e.Errorf(format, args...)
	runtime.Goexit()
}

// run is one run of a case in one mode.
type run struct {
	mode    Mode
	fails   []string
	results []result
	trace   string
}

// report is the outcome of a case: its runs in both modes.
type report struct {
	c    Case
	runs []run
}

// execute runs c in both modes, each on a fresh backend, and checks the
// backend's consistency after each. It reports nothing to t itself.
func execute(t *testing.T, c Case, open Factory) report {
	rep := report{c: c}
	for _, m := range []Mode{InPlace, Stepped} {
		rep.runs = append(rep.runs, runOnce(t, c, m, open))
	}
	return rep
}

func runOnce(t *testing.T, c Case, m Mode, open Factory) run {
	ctx, cancel := context.WithTimeout(t.Context(), caseTimeout)
	defer cancel()
	e := &Env{mode: m, b: open(t), ctx: ctx, retention: c.Retention}
	done := make(chan struct{})
	go func() {
		defer close(done)
		defer func() {
			if v := recover(); v != nil {
				e.Errorf("case panicked: %v\n%s", v, debug.Stack())
			}
		}()
		c.Run(e)
	}()
	timer := time.NewTimer(caseTimeout + 10*time.Second)
	defer timer.Stop()
	select {
	case <-done:
		if !e.closed {
			consistent(e)
			if err := e.b.Close(); err != nil {
				e.Errorf("close: %v", err)
			}
		}
	case <-timer.C:
		e.Errorf("case did not finish within %s; abandoned", caseTimeout+10*time.Second)
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	return run{mode: m, fails: append([]string(nil), e.fails...), results: e.results, trace: e.trace.String()}
}

// failures lists what went wrong with the case: the failed checks of each
// mode (once when both modes agree), and for a deterministic case any
// difference of answers or traces between the modes.
func (r report) failures() []string {
	var out []string
	a, b := r.runs[0], r.runs[1]
	if equalStrings(firstLines(a.fails), firstLines(b.fails)) {
		out = append(out, a.fails...)
	} else {
		for _, run := range r.runs {
			for _, f := range run.fails {
				out = append(out, fmt.Sprintf("[%s] %s", run.mode, f))
			}
		}
	}
	if r.c.Concurrent {
		return out
	}
	if !sameResults(a.results, b.results) {
		out = append(out, "programs answered differently in the two modes:\n"+diffLines(a.mode, resultLines(a.results), b.mode, resultLines(b.results)))
	}
	if a.trace != b.trace {
		out = append(out, "traces differ between the two modes:\n"+diffLines(a.mode, traceLines(a.trace), b.mode, traceLines(b.trace)))
	}
	return out
}

func (r report) report(t *testing.T) {
	t.Helper()
	for _, f := range r.failures() {
		t.Error(strings.TrimRight(f, "\n"))
	}
}

func traceLines(trace string) []string {
	if trace == "" {
		return nil
	}
	return strings.Split(strings.TrimSuffix(trace, "\n"), "\n")
}

func resultLines(rs []result) []string {
	out := make([]string, len(rs))
	for i, r := range rs {
		out[i] = r.String()
	}
	return out
}

// diffLines shows where two sequences of lines part: the first differing
// line of each, with up to diffContext lines before it, clipped.
func diffLines(am Mode, a []string, bm Mode, b []string) string {
	i := 0
	for i < len(a) && i < len(b) && a[i] == b[i] {
		i++
	}
	var sb strings.Builder
	from := max(0, i-diffContext)
	fmt.Fprintf(&sb, "first difference at line %d of %d (%s) and %d (%s)\n", i+1, len(a), am, len(b), bm)
	for j := from; j < i; j++ {
		fmt.Fprintf(&sb, "    %s\n", clip(a[j], 300))
	}
	// The first differing lines are shown around their first differing
	// byte; later lines are clipped.
	at := 0
	if i < len(a) && i < len(b) {
		for at < len(a[i]) && at < len(b[i]) && a[i][at] == b[i][at] {
			at++
		}
	}
	for _, side := range []struct {
		m     Mode
		lines []string
	}{{am, a}, {bm, b}} {
		for j := i; j < min(i+diffContext, len(side.lines)); j++ {
			line := clip(side.lines[j], 300)
			if j == i {
				line = around(side.lines[j], at, 150)
			}
			fmt.Fprintf(&sb, "  %-9s %s\n", side.m.String()+":", line)
		}
	}
	return sb.String()
}

// around shows s within n bytes either side of offset at.
func around(s string, at, n int) string {
	from, to := max(0, at-n), min(len(s), at+n)
	out := s[from:to]
	if from > 0 {
		out = "…" + out
	}
	if to < len(s) {
		out += "…"
	}
	return out
}

// diffContext is how many lines around the first difference a diff shows.
const diffContext = 3

// firstLines gives each failure's first line: the check and its location,
// without details such as a stack, which differ between the modes.
func firstLines(fails []string) []string {
	out := make([]string, len(fails))
	for i, f := range fails {
		out[i], _, _ = strings.Cut(f, "\n")
	}
	return out
}

func equalStrings(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}
