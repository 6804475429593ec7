//go:build unix

package remote_test

import (
	"syscall"
	"time"
)

// cpuTime is the CPU time the process (server and clients alike) has used.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
