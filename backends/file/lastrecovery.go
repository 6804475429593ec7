package file

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"path/filepath"
	"time"

	"rose-ash.com/persist/effect"
	"rose-ash.com/persist/platform"
)

// recoveryFile keeps the report of the newest recovery that changed
// something on disk, so that it can be read after the process that ran it
// has gone.
const recoveryFile = "RECOVERY"

// LastRecovery is the newest recovery that changed the data directory: cut
// a torn tail, finished or took back an interrupted segment roll, or removed leftover
// temporary files. At is the store clock when it ran.
type LastRecovery struct {
	At     time.Time
	Report RecoveryReport
}

// eventful reports whether r changed something on disk.
func eventful(r RecoveryReport) bool {
	return r.Truncated != nil || r.Rolled || r.RollUndone != "" || len(r.RemovedTmp) > 0
}

// keepRecovery writes the report of an eventful recovery to RECOVERY (tmp,
// fsync, rename, directory fsync). Its Duration is left out: the file says
// what recovery did, not how fast.
func (s *Store) keepRecovery(p *effect.P) error {
	if !eventful(s.report) {
		return nil
	}
	at, err := effect.Perform(p, platform.Clock{})
	if err != nil {
		return fmt.Errorf("file: clock: %w", err)
	}
	last := LastRecovery{At: at.UTC(), Report: s.report}
	last.Report.Duration = 0
	b, err := json.Marshal(last)
	if err != nil {
		return fmt.Errorf("file: encode recovery report: %w", err)
	}
	if err := writeFileAtomic(p, filepath.Join(s.dir, recoveryFile), b); err != nil {
		return fmt.Errorf("file: keep recovery report: %w", err)
	}
	return nil
}

// ReadLastRecovery reads the report of the newest recovery of dir that
// changed something on disk; found is false when none ever did.
func ReadLastRecovery(p *effect.P, dir string) (last LastRecovery, found bool, err error) {
	path := filepath.Join(dir, recoveryFile)
	b, err := readFile(p, path)
	if errors.Is(err, fs.ErrNotExist) {
		return LastRecovery{}, false, nil
	}
	if err != nil {
		return LastRecovery{}, false, fmt.Errorf("file: read %s: %w", path, err)
	}
	if err := json.Unmarshal(b, &last); err != nil {
		return LastRecovery{}, false, fmt.Errorf("file: %s: %w", path, err)
	}
	return last, true, nil
}
