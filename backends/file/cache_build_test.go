package file

import (
	"os"
	"os/exec"
	"testing"
)

// The ring's bound on its size is a constant wider than a 32-bit int:
// the package, its tests with it, must still build where int is 32 bits
// (and where the ring lives on the heap, no mapping to be had).
func TestCacheBuildsElsewhere(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the package for other platforms")
	}
	if _, err := exec.LookPath("go"); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal("no go command to build the package for other platforms with")
		}
		t.Skip("no go command")
	}
	// vet checks the tests as well; the darwin build leaves the tests
	// out, whose benchmarks use Linux system calls.
	for _, target := range [][3]string{{"linux", "386", "vet"}, {"darwin", "arm64", "build"}} {
		cmd := exec.Command("go", target[2], ".")
		cmd.Env = append(os.Environ(), "GOOS="+target[0], "GOARCH="+target[1], "CGO_ENABLED=0")
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Errorf("go %s for %s/%s: %v\n%s", target[2], target[0], target[1], err, out)
		}
	}
}
