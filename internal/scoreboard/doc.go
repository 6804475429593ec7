// Command scoreboard reads the output of `go test -json` for persist's
// conformance tests on standard input and prints the scoreboard: one line
// "SUITE BACKEND PASSED/TOTAL" per suite and backend, then "total
// PASSED/TOTAL". conformance.sh at the repository root runs it.
//
// A conformance test is a top-level test whose name starts with
// TestConformance (TestConformance, TestConformanceCrash, …). Its subtests
// two levels down, TestConformanceX/SUITE/CASE, are the cases; deeper
// subtests belong to their case and are not counted. The backend is the
// last element of the package's import path. A case passes when its
// subtest passes; a failed or skipped case does not. A package may have
// several conformance tests that run the same cases (a client run against
// several stores: TestConformanceMem, TestConformanceFile): each case is
// then counted once for the backend, and passes only when it passed in
// every test that ran it or named it on its roster.
//
// A suite may print, from its top-level test in verbose mode, a roster
// line "conformance roster: SUITE/CASE SUITE/CASE …" naming every case it
// is about to run (backendtest.Run does). Cases on the roster that never
// report (the test binary crashed or timed out) count as not passed, so the
// totals do not shrink when a run dies halfway.
//
// Suites print in the order the rosters name them, then any others by
// name; backends by name. Every case that did not pass is named on standard
// error ("FAIL mem log/read", "SKIP …", "MISSING …"), with the output of
// any failed build. It exits with status 1 when any case did not pass, when
// no case ran, or when a package failed to build or its test binary failed
// outside any case, and 2 when its input is not `go test -json` output.
package main
