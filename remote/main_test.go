package remote_test

import (
	"fmt"
	"os"
	"testing"
)

// TestMain runs the followers' process of BenchmarkFollowers when the
// benchmark starts this binary with followersEnv set, and the tests
// otherwise.
func TestMain(m *testing.M) {
	if env := os.Getenv(followersEnv); env != "" {
		if err := followersHost(env); err != nil {
			fmt.Fprintln(os.Stderr, "followers:", err)
			os.Exit(1)
		}
		os.Exit(0)
	}
	os.Exit(m.Run())
}
