package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"slices"
	"sort"
	"strings"
)

func main() { os.Exit(run(os.Stdin, os.Stdout, os.Stderr)) }

// rosterPrefix starts a roster line; see the package doc.
const rosterPrefix = "conformance roster:"

// event is one line of `go test -json`.
type event struct {
	Action      string
	Package     string
	ImportPath  string // build-output and build-fail events
	Test        string
	Output      string
	FailedBuild string
}

// caseKey names one case of one backend, as one top-level test reported
// it. A backend whose package has several conformance tests (a client run
// over several stores) reports each case once per test; the board counts
// the case once, passed only when every test passed it.
type caseKey struct {
	backend, suite, name string
	test                 string
}

type board struct {
	// status is "pass", "fail" or "skip" for a case that reported, and ""
	// for a case a roster named that never did.
	status map[caseKey]string
	output map[string]*strings.Builder // top-level tests' output, by package and test
	build  map[string]*strings.Builder // build output, by package
	failed []string                    // packages that failed
}

func newBoard() *board {
	return &board{
		status: map[caseKey]string{},
		output: map[string]*strings.Builder{},
		build:  map[string]*strings.Builder{},
	}
}

// backendOf is the last element of a package's import path.
func backendOf(pkg string) string {
	pkg, _, _ = strings.Cut(pkg, " ") // "a/b [a/b.test]"
	return pkg[strings.LastIndexByte(pkg, '/')+1:]
}

func appendTo(m map[string]*strings.Builder, key, text string) {
	w := m[key]
	if w == nil {
		w = &strings.Builder{}
		m[key] = w
	}
	w.WriteString(text)
}

func (b *board) add(ev event) {
	switch ev.Action {
	case "build-output":
		appendTo(b.build, ev.ImportPath, ev.Output)
		return
	case "build-fail":
		b.failed = append(b.failed, backendOf(ev.ImportPath)+": build failed")
		return
	}
	if ev.Test == "" {
		if ev.Action == "fail" && ev.FailedBuild == "" {
			b.failed = append(b.failed, fmt.Sprintf("%s: package %s failed", backendOf(ev.Package), ev.Package))
		}
		return
	}
	parts := strings.Split(ev.Test, "/")
	if !strings.HasPrefix(parts[0], "TestConformance") {
		return
	}
	switch {
	case len(parts) == 1 && ev.Action == "output":
		appendTo(b.output, ev.Package+"\x00"+parts[0], ev.Output)
	case len(parts) == 3 && (ev.Action == "pass" || ev.Action == "fail" || ev.Action == "skip"):
		b.status[caseKey{backendOf(ev.Package), parts[1], parts[2], parts[0]}] = ev.Action
	}
}

// rosters adds the cases named by roster lines that never reported, and
// returns the suites in the order the rosters name them.
func (b *board) rosters() []string {
	keys := make([]string, 0, len(b.output))
	for k := range b.output {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var order []string
	for _, k := range keys {
		pkg, test, _ := strings.Cut(k, "\x00")
		for _, line := range strings.Split(b.output[k].String(), "\n") {
			_, list, ok := strings.Cut(line, rosterPrefix)
			if !ok {
				continue
			}
			for _, full := range strings.Fields(list) {
				suite, name, ok := strings.Cut(full, "/")
				if !ok || suite == "" || name == "" {
					continue
				}
				if !slices.Contains(order, suite) {
					order = append(order, suite)
				}
				key := caseKey{backendOf(pkg), suite, name, test}
				if _, reported := b.status[key]; !reported {
					b.status[key] = ""
				}
			}
		}
	}
	return order
}

// layout orders the suites as the rosters name them (cases report in the
// order they finish, which parallel subtests make arbitrary), then any
// others by name, and the backends by name.
func (b *board) layout(rosterOrder []string) (suites, backends []string) {
	var others []string
	for k := range b.status {
		if !slices.Contains(rosterOrder, k.suite) && !slices.Contains(others, k.suite) {
			others = append(others, k.suite)
		}
		if !slices.Contains(backends, k.backend) {
			backends = append(backends, k.backend)
		}
	}
	sort.Strings(others)
	sort.Strings(backends)
	return append(slices.Clone(rosterOrder), others...), backends
}

// merge counts each case of a backend once, whichever tests reported it:
// it passes only when every report passed, and otherwise takes the first
// status that is not a pass, in the order fail, skip, missing.
func (b *board) merge() {
	rank := map[string]int{"pass": 0, "": 1, "skip": 2, "fail": 3}
	out := make(map[caseKey]string, len(b.status))
	for k, st := range b.status {
		k.test = ""
		if prev, seen := out[k]; !seen || rank[st] > rank[prev] {
			out[k] = st
		}
	}
	b.status = out
}

func run(in io.Reader, stdout, stderr io.Writer) int {
	b := newBoard()
	sc := bufio.NewScanner(in)
	sc.Buffer(make([]byte, 1<<20), 64<<20)
	for sc.Scan() {
		line := sc.Bytes()
		if len(line) == 0 || line[0] != '{' {
			continue // not an event: a message of go test itself
		}
		var ev event
		if err := json.Unmarshal(line, &ev); err != nil {
			fmt.Fprintf(stderr, "scoreboard: bad event %.80q: %v\n", line, err)
			return 2
		}
		b.add(ev)
	}
	if err := sc.Err(); err != nil {
		fmt.Fprintf(stderr, "scoreboard: read: %v\n", err)
		return 2
	}
	suites, backends := b.layout(b.rosters())
	b.merge()

	var passed, total int
	var notPassed []string
	badBackend := map[string]bool{}
	for _, suite := range suites {
		for _, backend := range backends {
			p, n := 0, 0
			for k, st := range b.status {
				if k.suite != suite || k.backend != backend {
					continue
				}
				n++
				if st == "pass" {
					p++
					continue
				}
				badBackend[backend] = true
				notPassed = append(notPassed, fmt.Sprintf("%s %s %s/%s", verdict(st), backend, suite, k.name))
			}
			if n > 0 {
				fmt.Fprintf(stdout, "%s %s %d/%d\n", suite, backend, p, n)
			}
			passed += p
			total += n
		}
	}
	fmt.Fprintf(stdout, "total %d/%d\n", passed, total)

	sort.Strings(notPassed)
	for _, s := range notPassed {
		fmt.Fprintln(stderr, s)
	}
	bad := passed < total
	if total == 0 {
		fmt.Fprintln(stderr, "scoreboard: no conformance case ran")
		bad = true
	}
	builds := make([]string, 0, len(b.build))
	for pkg := range b.build {
		builds = append(builds, pkg)
	}
	sort.Strings(builds)
	for _, pkg := range builds {
		fmt.Fprint(stderr, b.build[pkg].String())
	}
	for _, f := range b.failed {
		// A package whose cases failed fails too: that is news only when
		// none of its cases did.
		backend, _, _ := strings.Cut(f, ":")
		if strings.HasSuffix(f, ": build failed") || !badBackend[backend] {
			fmt.Fprintln(stderr, f)
			bad = true
		}
	}
	if bad {
		return 1
	}
	return 0
}

func verdict(status string) string {
	switch status {
	case "fail":
		return "FAIL"
	case "skip":
		return "SKIP"
	}
	return "MISSING"
}
