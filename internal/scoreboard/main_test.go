package main

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// stream builds `go test -json` output from events.
func stream(t *testing.T, evs ...event) string {
	t.Helper()
	var sb strings.Builder
	for _, ev := range evs {
		b, err := json.Marshal(ev)
		require.NoError(t, err)
		sb.Write(b)
		sb.WriteByte('\n')
	}
	return sb.String()
}

func res(pkg, test, action string) event { return event{Action: action, Package: pkg, Test: test} }

func out(pkg, test, text string) event {
	return event{Action: "output", Package: pkg, Test: test, Output: text}
}

func score(t *testing.T, in string) (stdout, stderr string, code int) {
	t.Helper()
	var o, e bytes.Buffer
	code = run(strings.NewReader(in), &o, &e)
	return o.String(), e.String(), code
}

const mem = "rose-ash.com/persist/backends/mem"
const file = "rose-ash.com/persist/backends/file"

func TestAllPass(t *testing.T) {
	in := stream(t,
		out(mem, "TestConformance", "    conformance_test.go:9: conformance roster: log/read log/head kv/get\n"),
		res(mem, "TestConformance/kv/get", "pass"),
		res(mem, "TestConformance/log/head", "pass"),
		res(mem, "TestConformance/log/read", "pass"),
		res(mem, "TestConformance/log", "pass"),
		res(mem, "TestConformance", "pass"),
		res(mem, "", "pass"),
	)
	stdout, stderr, code := score(t, in)
	assert.Equal(t, "log mem 2/2\nkv mem 1/1\ntotal 3/3\n", stdout, "suites in roster order")
	assert.Empty(t, stderr)
	assert.Equal(t, 0, code)
}

func TestFailSkipAndMissing(t *testing.T) {
	in := stream(t,
		// The roster arrives split over two output events.
		out(mem, "TestConformance", "    x.go:1: conformance roster: log/read log/he"),
		out(mem, "TestConformance", "ad log/gone\n"),
		res(mem, "TestConformance/log/read", "fail"),
		res(mem, "TestConformance/log/head", "skip"),
		res(mem, "TestConformance/log", "fail"),
		res(mem, "TestConformance", "fail"),
		res(mem, "", "fail"),
	)
	stdout, stderr, code := score(t, in)
	assert.Equal(t, "log mem 0/3\ntotal 0/3\n", stdout)
	assert.Contains(t, stderr, "FAIL mem log/read")
	assert.Contains(t, stderr, "SKIP mem log/head")
	assert.Contains(t, stderr, "MISSING mem log/gone")
	assert.NotContains(t, stderr, "package", "a package failing because of its cases is not reported again")
	assert.Equal(t, 1, code)
}

func TestBackendsSuitesAndOtherTests(t *testing.T) {
	in := stream(t,
		res(mem, "TestConformance/log/read", "pass"),
		res(mem, "TestConformance/log/read/sub", "fail"), // deeper: not a case
		res(mem, "TestOther/log/read", "fail"),           // not a conformance test
		res(file, "TestConformance/log/read", "pass"),
		res(file, "TestConformanceCrash/crash/torn-tail", "pass"),
		res(file, "TestConformanceCrash/crash/cut-every-write", "fail"),
	)
	stdout, _, code := score(t, in)
	assert.Equal(t, "crash file 1/2\nlog file 1/1\nlog mem 1/1\ntotal 3/4\n", stdout, "suites without a roster by name")
	assert.Equal(t, 1, code)
}

func TestBuildFailure(t *testing.T) {
	in := stream(t,
		event{Action: "build-output", ImportPath: file + " [" + file + ".test]", Output: "# " + file + "\nfile.go:3: undefined: x\n"},
		event{Action: "build-fail", ImportPath: file + " [" + file + ".test]"},
		event{Action: "fail", Package: file, FailedBuild: file + " [" + file + ".test]"},
		res(mem, "TestConformance/log/read", "pass"),
	)
	stdout, stderr, code := score(t, in)
	assert.Equal(t, "log mem 1/1\ntotal 1/1\n", stdout)
	assert.Contains(t, stderr, "undefined: x")
	assert.Contains(t, stderr, "file: build failed")
	assert.Equal(t, 1, code)
}

func TestPackageFailureOutsideCases(t *testing.T) {
	in := stream(t,
		res(mem, "TestConformance/log/read", "pass"),
		res(mem, "", "fail"), // e.g. the binary panicked after the cases
	)
	_, stderr, code := score(t, in)
	assert.Contains(t, stderr, "mem: package "+mem+" failed")
	assert.Equal(t, 1, code)
}

func TestNothingRan(t *testing.T) {
	stdout, stderr, code := score(t, "no test files\n")
	assert.Equal(t, "total 0/0\n", stdout)
	assert.Contains(t, stderr, "no conformance case ran")
	assert.Equal(t, 1, code)
}

func TestBadInput(t *testing.T) {
	_, stderr, code := score(t, "{not json\n")
	assert.Contains(t, stderr, "bad event")
	assert.Equal(t, 2, code)
}

// FuzzRun feeds arbitrary input: the scoreboard never panics, and whenever
// it reads the input through it ends with the total line.
func FuzzRun(f *testing.F) {
	f.Add(`{"Action":"pass","Package":"a/mem","Test":"TestConformance/log/read"}` + "\n")
	f.Add(`{"Action":"output","Package":"a/mem","Test":"TestConformance","Output":"conformance roster: a/b c/d x\n"}` + "\n")
	f.Add(`{"Action":"build-fail","ImportPath":"a/file [a/file.test]"}` + "\n")
	f.Add("{}\n{\"Test\":\"TestConformance//\"}\n")
	f.Fuzz(func(t *testing.T, in string) {
		var o, e bytes.Buffer
		code := run(strings.NewReader(in), &o, &e)
		if code == 2 {
			return
		}
		lines := strings.Split(strings.TrimSuffix(o.String(), "\n"), "\n")
		if !strings.HasPrefix(lines[len(lines)-1], "total ") {
			t.Fatalf("last line %q is not the total", lines[len(lines)-1])
		}
	})
}

func TestOneCaseSeveralTests(t *testing.T) {
	// A client package runs the suite over two stores: each case counts
	// once, and fails when it failed, or never reported, in either test.
	const remote = "rose-ash.com/persist/remote"
	in := stream(t,
		out(remote, "TestConformanceMem", "conformance roster: log/read log/head kv/get\n"),
		out(remote, "TestConformanceFile", "conformance roster: log/read log/head kv/get\n"),
		res(remote, "TestConformanceMem/log/read", "pass"),
		res(remote, "TestConformanceFile/log/read", "pass"),
		res(remote, "TestConformanceMem/log/head", "fail"),
		res(remote, "TestConformanceFile/log/head", "pass"),
		res(remote, "TestConformanceMem/kv/get", "pass"),
		// TestConformanceFile/kv/get never reported.
	)
	stdout, stderr, code := score(t, in)
	assert.Equal(t, "log remote 1/2\nkv remote 0/1\ntotal 1/3\n", stdout)
	assert.Contains(t, stderr, "FAIL remote log/head")
	assert.Contains(t, stderr, "MISSING remote kv/get")
	assert.Equal(t, 1, code)
}
