package postgres_test

import (
	"fmt"
	"os"
	"testing"
)

// TestMain runs the test binary as a child process when a test asks it to
// (see child_test.go): a writer in another process.
func TestMain(m *testing.M) {
	if role := os.Getenv(childEnv); role != "" {
		if err := runChild(role); err != nil {
			fmt.Fprintln(os.Stderr, "child:", err)
			os.Exit(1)
		}
		os.Exit(0)
	}
	os.Exit(m.Run())
}
