package platform

import (
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"sort"
	"sync"
	"syscall"
	"time"

	"rose-ash.com/persist/effect"
)

// OS answers the effects of this package with the real operating system.
// The zero value is ready to use; an OS must not be copied after first use.
// It is safe for concurrent use.
type OS struct {
	// Now replaces time.Now as the answer to io/clock when set.
	Now func() time.Time
	// Rand replaces crypto/rand as the source of io/random when set.
	Rand io.Reader

	mu    sync.RWMutex
	next  FD
	files map[FD]*osFile
}

type osFile struct {
	f    *os.File
	path string
}

var _ effect.Handler = (*OS)(nil)

// Handle answers e, or effect.ErrUnhandled when e is not an effect of this
// package.
func (o *OS) Handle(_ *effect.P, e effect.Effect) (any, error) {
	switch op := e.(type) {
	case ReadAt:
		f, err := o.file(op.EffectName(), op.FD)
		if err != nil {
			return 0, err
		}
		n, err := f.f.ReadAt(op.Buf, op.Off)
		if err == io.EOF {
			err = nil
		}
		return n, wrap(op.EffectName(), f.path, err)
	case WriteAt:
		f, err := o.file(op.EffectName(), op.FD)
		if err != nil {
			return 0, err
		}
		n, err := f.f.WriteAt(op.Data, op.Off)
		if err == nil && n < len(op.Data) {
			err = io.ErrShortWrite
		}
		return n, wrap(op.EffectName(), f.path, err)
	case Fdatasync:
		f, err := o.file(op.EffectName(), op.FD)
		if err != nil {
			return struct{}{}, err
		}
		return struct{}{}, wrap(op.EffectName(), f.path, fdatasync(f.f))
	case Fsync:
		f, err := o.file(op.EffectName(), op.FD)
		if err != nil {
			return struct{}{}, err
		}
		return struct{}{}, wrap(op.EffectName(), f.path, f.f.Sync())
	case Open:
		f, err := os.OpenFile(op.Path, op.Flag, op.Perm)
		if err != nil {
			return FD(0), wrap(op.EffectName(), op.Path, err)
		}
		return o.add(f, op.Path), nil
	case Close:
		f, err := o.remove(op.EffectName(), op.FD)
		if err != nil {
			return struct{}{}, err
		}
		return struct{}{}, wrap(op.EffectName(), f.path, f.f.Close())
	case Truncate:
		f, err := o.file(op.EffectName(), op.FD)
		if err != nil {
			return struct{}{}, err
		}
		return struct{}{}, wrap(op.EffectName(), f.path, f.f.Truncate(op.Size))
	case Fallocate:
		f, err := o.file(op.EffectName(), op.FD)
		if err != nil {
			return struct{}{}, err
		}
		if op.Off < 0 || op.Len <= 0 {
			return struct{}{}, wrap(op.EffectName(), f.path, fmt.Errorf("invalid range off %d len %d: %w", op.Off, op.Len, fs.ErrInvalid))
		}
		return struct{}{}, wrap(op.EffectName(), f.path, fallocate(f.f, op.Off, op.Len))
	case Rename:
		return struct{}{}, wrap(op.EffectName(), op.From+" -> "+op.To, os.Rename(op.From, op.To))
	case Remove:
		return struct{}{}, wrap(op.EffectName(), op.Path, os.Remove(op.Path))
	case Mkdir:
		return struct{}{}, wrap(op.EffectName(), op.Path, os.Mkdir(op.Path, op.Perm))
	case SyncDir:
		return struct{}{}, wrap(op.EffectName(), op.Path, syncDir(op.Path))
	case List:
		ents, err := os.ReadDir(op.Dir)
		if err != nil {
			return []DirEntry(nil), wrap(op.EffectName(), op.Dir, err)
		}
		out := make([]DirEntry, len(ents))
		for i, d := range ents {
			out[i] = DirEntry{Name: d.Name(), IsDir: d.IsDir()}
		}
		sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
		return out, nil
	case Stat:
		fi, err := os.Stat(op.Path)
		if err != nil {
			return FileInfo{}, wrap(op.EffectName(), op.Path, err)
		}
		return FileInfo{Name: fi.Name(), Size: fi.Size(), IsDir: fi.IsDir(), Mode: fi.Mode(), ModTime: fi.ModTime()}, nil
	case Lock:
		f, err := os.OpenFile(op.Path, os.O_RDWR|os.O_CREATE, 0o644)
		if err != nil {
			return FD(0), wrap(op.EffectName(), op.Path, err)
		}
		if err := lockFile(f); err != nil {
			_ = f.Close()
			return FD(0), wrap(op.EffectName(), op.Path, err)
		}
		return o.add(f, op.Path), nil
	case Clock:
		if o.Now != nil {
			return o.Now(), nil
		}
		return time.Now(), nil
	case Random:
		if op.N < 0 {
			return []byte(nil), &Error{Op: op.EffectName(), Err: fmt.Errorf("negative length %d: %w", op.N, fs.ErrInvalid)}
		}
		b := make([]byte, op.N)
		var err error
		if o.Rand != nil {
			_, err = io.ReadFull(o.Rand, b)
		} else {
			_, err = rand.Read(b)
		}
		if err != nil {
			return []byte(nil), &Error{Op: op.EffectName(), Err: err}
		}
		return b, nil
	}
	return nil, effect.ErrUnhandled
}

// OpenFiles reports how many files are open through o; tests use it to
// find leaks.
func (o *OS) OpenFiles() int {
	o.mu.RLock()
	defer o.mu.RUnlock()
	return len(o.files)
}

func (o *OS) add(f *os.File, path string) FD {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.files == nil {
		o.files = make(map[FD]*osFile)
	}
	o.next++
	o.files[o.next] = &osFile{f: f, path: path}
	return o.next
}

func (o *OS) file(op string, fd FD) (*osFile, error) {
	o.mu.RLock()
	f := o.files[fd]
	o.mu.RUnlock()
	if f == nil {
		return nil, &Error{Op: op, Path: fmt.Sprintf("fd %d", fd), Err: fs.ErrClosed}
	}
	return f, nil
}

func (o *OS) remove(op string, fd FD) (*osFile, error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	f := o.files[fd]
	if f == nil {
		return nil, &Error{Op: op, Path: fmt.Sprintf("fd %d", fd), Err: fs.ErrClosed}
	}
	delete(o.files, fd)
	return f, nil
}

// wrap names op and path on err, replacing the os package's own wrapper so
// the underlying error (an errno) stays reachable by errors.Is.
func wrap(op, path string, err error) error {
	if err == nil {
		return nil
	}
	var pe *fs.PathError
	var le *os.LinkError
	var se *os.SyscallError
	switch {
	case errors.As(err, &pe):
		err = pe.Err
	case errors.As(err, &le):
		err = le.Err
	case errors.As(err, &se):
		err = se.Err
	}
	return &Error{Op: op, Path: path, Err: err}
}

func syncDir(path string) error {
	d, err := os.Open(path)
	if err != nil {
		return err
	}
	err = d.Sync()
	if cerr := d.Close(); err == nil {
		err = cerr
	}
	return err
}

// rawControl runs fn on f's descriptor, retrying on EINTR (the call did not
// happen), never on any other error.
func rawControl(f *os.File, fn func(fd int) error) error {
	rc, err := f.SyscallConn()
	if err != nil {
		return err
	}
	var opErr error
	if err := rc.Control(func(fd uintptr) {
		for {
			opErr = fn(int(fd))
			if opErr != syscall.EINTR {
				return
			}
		}
	}); err != nil {
		return err
	}
	return opErr
}
