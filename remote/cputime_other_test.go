//go:build !unix

package remote_test

import "time"

// cpuTime is not measured here; the cpu-µs/op figures read 0.
func cpuTime() time.Duration { return 0 }
