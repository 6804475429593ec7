package file

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"

	"rose-ash.com/persist/effect"
	"rose-ash.com/persist/platform"
)

// Small helpers over the platform effects. Every IO of this package goes
// through them, performed on the handle it is given.

func openFile(p *effect.P, path string, flag int) (platform.FD, error) {
	return effect.Perform(p, platform.Open{Path: path, Flag: flag, Perm: 0o644})
}

func closeFile(p *effect.P, fd platform.FD) error {
	_, err := effect.Perform(p, platform.Close{FD: fd})
	return err
}

func writeAt(p *effect.P, fd platform.FD, off int64, b []byte) error {
	_, err := effect.Perform(p, platform.WriteAt{FD: fd, Off: off, Data: b})
	return err
}

// readFull reads len(b) bytes at off, or fewer when the file ends.
func readFull(p *effect.P, fd platform.FD, off int64, b []byte) (int, error) {
	return effect.Perform(p, platform.ReadAt{FD: fd, Off: off, Buf: b})
}

func fdatasync(p *effect.P, fd platform.FD) error {
	_, err := effect.Perform(p, platform.Fdatasync{FD: fd})
	return err
}

func fsync(p *effect.P, fd platform.FD) error {
	_, err := effect.Perform(p, platform.Fsync{FD: fd})
	return err
}

func syncDir(p *effect.P, dir string) error {
	_, err := effect.Perform(p, platform.SyncDir{Path: dir})
	return err
}

func fileSize(p *effect.P, path string) (int64, error) {
	fi, err := effect.Perform(p, platform.Stat{Path: path})
	return fi.Size, err
}

func exists(p *effect.P, path string) (bool, error) {
	_, err := effect.Perform(p, platform.Stat{Path: path})
	if errors.Is(err, fs.ErrNotExist) {
		return false, nil
	}
	return err == nil, err
}

func mkdirIfMissing(p *effect.P, path string) (bool, error) {
	_, err := effect.Perform(p, platform.Mkdir{Path: path, Perm: 0o755})
	if errors.Is(err, fs.ErrExist) {
		return false, nil
	}
	return err == nil, err
}

func listDir(p *effect.P, dir string) ([]platform.DirEntry, error) {
	return effect.Perform(p, platform.List{Dir: dir})
}

func remove(p *effect.P, path string) error {
	_, err := effect.Perform(p, platform.Remove{Path: path})
	return err
}

// writeFileAtomic makes path hold data, durably and all or nothing: write
// path.tmp, fsync it, rename it over path, fsync the directory.
func writeFileAtomic(p *effect.P, path string, data []byte) error {
	tmp := path + ".tmp"
	if err := writeFileSynced(p, tmp, data); err != nil {
		return err
	}
	if _, err := effect.Perform(p, platform.Rename{From: tmp, To: path}); err != nil {
		return err
	}
	return syncDir(p, filepath.Dir(path))
}

// writeFileSynced creates (or empties) path, writes data and fsyncs it.
func writeFileSynced(p *effect.P, path string, data []byte) error {
	fd, err := openFile(p, path, os.O_RDWR|os.O_CREATE|os.O_TRUNC)
	if err != nil {
		return err
	}
	err = writeAt(p, fd, 0, data)
	if err == nil {
		err = fsync(p, fd)
	}
	if cerr := closeFile(p, fd); err == nil {
		err = cerr
	}
	return err
}

// readFile reads a whole file.
func readFile(p *effect.P, path string) ([]byte, error) {
	size, err := fileSize(p, path)
	if err != nil {
		return nil, err
	}
	fd, err := openFile(p, path, os.O_RDONLY)
	if err != nil {
		return nil, err
	}
	defer func() { _ = closeFile(p, fd) }()
	b := make([]byte, size)
	n, err := readFull(p, fd, 0, b)
	return b[:n], err
}
