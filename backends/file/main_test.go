package file

import (
	"os"
	"testing"
)

// TestMain runs the writer process of TestVerifyDumpBesideWriter when
// that test starts this binary with liveWriterEnv set, and the tests
// otherwise.
func TestMain(m *testing.M) {
	if dir := os.Getenv(liveWriterEnv); dir != "" {
		liveWriter(dir) // appends until it is killed
		os.Exit(1)
	}
	os.Exit(m.Run())
}
