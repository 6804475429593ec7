package main

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"time"

	"rose-ash.com/persist/backends/file"
	"rose-ash.com/persist/backends/postgres"
	"rose-ash.com/persist/effect"
	"rose-ash.com/persist/ops"
	"rose-ash.com/persist/platform"
	"rose-ash.com/persist/remote"
	"rose-ash.com/persist/transfer"
)

// envTestClock, when set to an RFC 3339 time, is the clock of the file
// backend: every event is stamped with it. Script tests set it so that
// their output is reproducible.
const envTestClock = "PERSIST_TEST_CLOCK"

// fileStore is the file backend on the real operating system: an
// ops.Backend that also summarises itself for stat.
type fileStore struct {
	store *file.Store
	os    *platform.OS
}

var _ ops.Backend = (*fileStore)(nil)

// platformOS is the operating system as the command sees it: the real one,
// with the test clock when envTestClock is set.
func platformOS(getenv func(string) string) (*platform.OS, error) {
	h := &platform.OS{}
	if s := getenv(envTestClock); s != "" {
		t, err := time.Parse(time.RFC3339Nano, s)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", envTestClock, err)
		}
		h.Now = func() time.Time { return t }
	}
	return h, nil
}

// openFile opens the file backend in dir; opts come from the global flags.
func openFile(ctx context.Context, dir string, opts file.Options, getenv func(string) string) (*fileStore, error) {
	h, err := platformOS(getenv)
	if err != nil {
		return nil, err
	}
	return openFileOS(ctx, dir, opts, h)
}

// holdable makes clk, when set, the clock of h, so that the command can
// hold the store's clock (persist export, persist migrate).
func holdable(h *platform.OS, clk *transfer.Clock) {
	if clk != nil {
		clk.Fallback, h.Now = h.Now, clk.Now
	}
}

// openFileOS opens the file backend in dir on h.
func openFileOS(ctx context.Context, dir string, opts file.Options, h *platform.OS) (*fileStore, error) {
	if opts.HolderPID == 0 {
		opts.HolderPID = os.Getpid()
	}
	if opts.Background == nil {
		// Checkpoints that commits make due are written in the
		// background, as OpenDir has them.
		opts.Background = h
	}
	s, err := file.Open(effect.Handle(ctx, h), dir, opts)
	if err != nil {
		return nil, err
	}
	return &fileStore{store: s, os: h}, nil
}

// openPG opens the PostgreSQL store at --pg, in --pg-schema when given,
// creating or migrating its schema. Its errors name the DSN without its
// password.
func (m *Main) openPG(ctx context.Context, g *globals) (ops.Backend, error) {
	var opts []postgres.Option
	if g.pgSchema != "" {
		opts = append(opts, postgres.WithSchema(g.pgSchema))
	}
	h, err := platformOS(m.getenv)
	if err != nil {
		return nil, err
	}
	holdable(h, g.clock)
	if h.Now != nil {
		opts = append(opts, postgres.WithClock(h.Now))
	}
	return postgres.Open(ctx, g.pg, opts...)
}

// openServer makes a client of the server at --server; it connects with
// the first operation.
func openServer(g *globals) (ops.Backend, error) {
	return remote.Dial(g.server, remote.Options{Token: g.token})
}

// lockPoll bounds the pause between two tries for a writer's lock.
const lockPoll = 50 * time.Millisecond

// openWriter opens the file store in g.dir for writing, waiting up to
// g.lockWait while another process holds it: it tries again after pauses
// that grow from 1 ms to lockPoll, with jitter so that waiting writers do
// not move in step. Out of time, the error names the holder's pid when the
// holder recorded it (file.LockHolder) and matches platform.ErrLocked.
func (m *Main) openWriter(ctx context.Context, g *globals, opts file.Options) (*fileStore, error) {
	if err := checkMoved(g.dir); err != nil {
		return nil, err
	}
	h, err := platformOS(m.getenv)
	if err != nil {
		return nil, err
	}
	holdable(h, g.clock)
	deadline := time.Now().Add(g.lockWait)
	pause := time.Millisecond
	for {
		b, err := openFileOS(ctx, g.dir, opts, h)
		if !errors.Is(err, platform.ErrLocked) {
			return b, err
		}
		left := time.Until(deadline)
		if left <= 0 {
			return nil, m.lockedError(ctx, g)
		}
		d := min(pause/2+rand.N(pause), left)
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(d):
		}
		pause = min(2*pause, lockPoll)
	}
}

// lockedError says who holds the lock of g.dir, when that is known.
func (m *Main) lockedError(ctx context.Context, g *globals) error {
	holder := "another process"
	if pid, err := file.LockHolder(effect.Handle(ctx, &platform.OS{}), g.dir); err == nil && pid > 0 {
		holder = fmt.Sprintf("another process (pid %d)", pid)
	}
	msg := "in use by " + holder
	if g.lockWait > 0 {
		msg += fmt.Sprintf(", its lock not free within %s", g.lockWait)
	}
	return &lockedErr{msg: msg + " (one process at a time opens a data directory for writing; see --lock-wait)"}
}

// lockedErr is the error of a writer that did not get the lock in time.
type lockedErr struct{ msg string }

func (e *lockedErr) Error() string { return e.msg }

// Is makes errors.Is(err, platform.ErrLocked) match.
func (e *lockedErr) Is(target error) bool { return target == platform.ErrLocked }

// openFileReadOnly opens the file backend in dir for reading only
// (file.OpenReadOnly): no lock, nothing written, beside a writer.
func openFileReadOnly(ctx context.Context, dir string, opts file.Options, getenv func(string) string) (*fileStore, error) {
	h, err := platformOS(getenv)
	if err != nil {
		return nil, err
	}
	s, err := file.OpenReadOnly(effect.Handle(ctx, h), dir, opts)
	if err != nil {
		return nil, err
	}
	return &fileStore{store: s, os: h}, nil
}

// Handle answers the operations of package ops, the store's IO going to the
// operating system. Only a wait (of the log or of kv) follows the
// caller's context: a commit, once queued, runs to its end.
func (f *fileStore) Handle(p *effect.P, e effect.Effect) (any, error) {
	ctx := context.Background()
	switch e.(type) {
	case ops.Wait, ops.KvWait:
		if p != nil {
			ctx = p.Context()
		}
	}
	return f.store.Handle(effect.Handle(ctx, f.os), e)
}

// Close closes the store and releases the data directory.
func (f *fileStore) Close() error {
	return f.store.Close(effect.Handle(context.Background(), f.os))
}

func (f *fileStore) statRecord() record {
	st := f.store.Stats()
	rec := record{
		{"streams", st.Streams},
		{"events", st.Events},
		{"commits", st.Commits},
		{"kv-keys", st.KvKeys},
		{"revision", st.Revision},
		{"lsn", st.LSN},
		{"segments", st.Segments},
		{"bytes", st.LogBytes},
		{"snapshots", st.Snapshots},
		{"failed", st.Failed},
		{"recovery", recoveryRecord(f.store.Recovery())},
	}
	last, found, err := file.ReadLastRecovery(effect.Handle(context.Background(), f.os), f.store.Dir())
	switch {
	case err != nil:
		rec = append(rec, field{"last-recovery", err.Error()})
	case found:
		rec = append(rec, field{"last-recovery", append(record{{"at", last.At.Format(time.RFC3339Nano)}}, recoveryRecord(last.Report)...)})
	}
	return rec
}

func recoveryRecord(r file.RecoveryReport) record {
	rec := record{
		{"created", r.Created},
		{"segments", r.Segments},
		{"records", r.Records},
		{"commits", r.Commits},
		{"events", r.Events},
		{"lsn", r.LSN},
		{"removed-tmp", r.RemovedTmp},
		{"rolled", r.Rolled},
		{"checkpoint", r.Checkpoint},
	}
	if r.Truncated != nil {
		rec = append(rec, field{"truncated", tornRecord(r.Truncated)})
	}
	return rec
}

func tornRecord(t *file.TornTail) record {
	return record{
		{"file", t.File},
		{"offset", t.Offset},
		{"bytes", t.Bytes},
		{"kept-in", t.KeptIn},
		{"reason", t.Reason},
	}
}

// errNoDir is the error of a command that reads a data directory that is
// not there.
var errNoDir = errors.New("no data directory (append something first, or set --dir)")

// errNoStore is the error of a command that reads a data directory that
// holds no store.
var errNoStore = errors.New("no store in the data directory (append something first, or set --dir)")

// requireDir refuses a data directory that is missing or not a directory.
func requireDir(dir string) error {
	fi, err := os.Stat(dir)
	switch {
	case os.IsNotExist(err):
		return fmt.Errorf("open %s: %w", dir, errNoDir)
	case err != nil:
		return fmt.Errorf("open %s: %w", dir, err)
	case !fi.IsDir():
		return fmt.Errorf("open %s: not a directory", dir)
	}
	return nil
}

// withStore opens the data directory's store (creating it when create is
// set), runs fn on a perform handle that reaches it, and closes it. An error
// from closing is the answer when fn succeeded.
func (m *Main) withStore(ctx context.Context, g *globals, create bool, fn func(p *effect.P, b ops.Backend) error) (err error) {
	b, err := m.open(ctx, g, create)
	if err != nil {
		return err
	}
	defer func() {
		if cerr := b.Close(); err == nil && cerr != nil {
			err = fmt.Errorf("close %s: %w", g.where(), cerr)
		}
	}()
	return fn(effect.Handle(ctx, b), b)
}

// printAll runs fn with a writer on standard output and flushes it, also
// after fn failed, so that what was printed before the failure shows.
func (m *Main) printAll(g *globals, fn func(w *writer) error) error {
	w := newWriter(m.Stdout, g)
	err := fn(w)
	if ferr := w.flush(); err == nil {
		err = ferr
	}
	return err
}
