package file

import (
	"os"
	"strconv"
	"testing"
)

// benchIDOpts is opts with Options.IDFilterBytes set from
// PERSIST_ID_FILTER_BYTES when it is set: the bound on the ID filters
// kept whole that BenchmarkOpenIDs and BenchmarkScaleOpen measure under.
func benchIDOpts(t testing.TB, opts Options) Options {
	v := os.Getenv("PERSIST_ID_FILTER_BYTES")
	if v == "" {
		return opts
	}
	n, err := strconv.Atoi(v)
	if err != nil {
		t.Fatalf("PERSIST_ID_FILTER_BYTES: %v", err)
	}
	opts.IDFilterBytes = n
	return opts
}
