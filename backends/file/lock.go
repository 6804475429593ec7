package file

import (
	"errors"
	"fmt"
	"io/fs"
	"path/filepath"
	"strconv"
	"strings"

	"rose-ash.com/persist/effect"
	"rose-ash.com/persist/platform"
)

// The LOCK file's content names its holder: "pid <decimal>\n", written
// after the lock is taken when Options.HolderPID is set, and emptied by
// Close. It is advisory, for messages: the lock itself is the flock.

// recordHolder writes pid into the LOCK file held by fd. It is advice for a
// later opener's message only, so a failure to write it is not the open's
// failure.
func recordHolder(p *effect.P, fd platform.FD, pid int) {
	if pid <= 0 {
		return
	}
	b := []byte("pid " + strconv.Itoa(pid) + "\n")
	if _, err := effect.Perform(p, platform.Truncate{FD: fd, Size: 0}); err != nil {
		return
	}
	_, _ = effect.Perform(p, platform.WriteAt{FD: fd, Off: 0, Data: b})
}

// clearHolder empties the LOCK file before its lock is released, so that no
// stale pid names a process that no longer holds it.
func clearHolder(p *effect.P, fd platform.FD) {
	_, _ = effect.Perform(p, platform.Truncate{FD: fd, Size: 0})
}

// LockHolder reads the pid that the process holding the lock of the store in
// dir recorded (see Options.HolderPID). It answers 0 when none is recorded
// (the holder did not set it, or the store is not open); the pid may be
// stale when the holder died without closing the store.
func LockHolder(p *effect.P, dir string) (int, error) {
	b, err := readFile(p, filepath.Join(dir, lockFile))
	if errors.Is(err, fs.ErrNotExist) {
		return 0, nil
	}
	if err != nil {
		return 0, fmt.Errorf("file: read %s: %w", lockFile, err)
	}
	s, ok := strings.CutPrefix(strings.TrimSpace(string(b)), "pid ")
	if !ok {
		return 0, nil
	}
	pid, err := strconv.Atoi(s)
	if err != nil || pid <= 0 {
		return 0, nil
	}
	return pid, nil
}
