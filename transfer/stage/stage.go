// Package stage makes a fresh store to import or migrate into, on any
// backend, and publishes it only when the import succeeded, so that an
// import either completes or leaves its target empty (package transfer,
// Atomic imports): a file store in a temporary directory renamed onto the
// target, a PostgreSQL store in a schema of its own renamed to the
// target's in one transaction, or a store in memory.
package stage

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"time"

	"github.com/jackc/pgx/v5"

	"rose-ash.com/persist/backends/file"
	"rose-ash.com/persist/backends/mem"
	"rose-ash.com/persist/backends/postgres"
	"rose-ash.com/persist/effect"
	"rose-ash.com/persist/ops"
	"rose-ash.com/persist/platform"
	"rose-ash.com/persist/transfer"
)

// Staged is a fresh store being filled. Target is what to give
// transfer.Import or transfer.Migrate; Publish makes the store the
// target's and hands it over open (as an ops.Backend on its own clock),
// Abort throws it away. One of the two must be called.
type Staged struct {
	// Backend answers the staged store's operations.
	Backend ops.Backend
	Clock   *transfer.Clock
	// Where names the target, for messages.
	Where string

	publish func(ctx context.Context) (ops.Backend, error)
	abort   func() error
	done    bool
}

// Target is the staged store as an import target.
func (s *Staged) Target() transfer.Target {
	return transfer.Target{Handler: s.Backend, Clock: s.Clock}
}

// Publish makes the staged store the target and returns it open, ready
// for writers, with the real clock.
func (s *Staged) Publish(ctx context.Context) (ops.Backend, error) {
	if s.done {
		return nil, errors.New("stage: published or aborted already")
	}
	s.done = true
	b, err := s.publish(ctx)
	if err != nil {
		_ = s.abort()
		return nil, err
	}
	return b, nil
}

// Abort closes the staged store and removes it; the target is as it was.
func (s *Staged) Abort() error {
	if s.done {
		return nil
	}
	s.done = true
	return s.abort()
}

// Mem stages a store in memory; Publish hands over the same store.
func Mem() *Staged {
	clk := &transfer.Clock{}
	st := mem.New(mem.WithClock(clk.Now))
	s := &Staged{Backend: st, Clock: clk, Where: "memory"}
	s.publish = func(context.Context) (ops.Backend, error) { return st, nil }
	s.abort = st.Close
	return s
}

// FileStore is a file store on the real operating system as an
// ops.Backend.
type FileStore struct {
	Store *file.Store
	OS    []effect.Handler // the platform handlers, innermost first
}

// Handle answers through the store, with the OS underneath.
func (f *FileStore) Handle(p *effect.P, e effect.Effect) (any, error) {
	ctx := context.Background()
	if p != nil {
		ctx = p.Context()
	}
	return f.Store.Handle(effect.Handle(ctx, f.OS...), e)
}

// Close closes the store.
func (f *FileStore) Close() error { return f.Store.Close(effect.Handle(context.Background(), f.OS...)) }

// noSync answers the sync effects without syncing: a staged file store is
// made durable as a whole before it is published (see File).
var noSync = effect.HandlerFunc(func(p *effect.P, e effect.Effect) (any, error) {
	switch e.(type) {
	case platform.Fdatasync, platform.Fsync, platform.SyncDir:
		return struct{}{}, nil
	}
	return nil, effect.ErrUnhandled
})

// File stages a file store for dir, which must be absent or an empty
// directory: the store is made in a temporary directory beside it, with
// its syncs skipped while it fills (nothing is acknowledged to anyone
// meanwhile). Publish closes it, fsyncs every file and directory in it,
// renames it onto dir, fsyncs the parent and opens it again at dir with
// opts. A crash before the rename leaves a temporary directory, named
// .DIR.stage-*, and no target.
func File(ctx context.Context, dir string, opts file.Options) (*Staged, error) {
	if err := emptyOrAbsent(dir); err != nil {
		return nil, err
	}
	parent, base := filepath.Split(filepath.Clean(dir))
	if parent == "" {
		parent = "."
	}
	if err := os.MkdirAll(parent, 0o755); err != nil {
		return nil, fmt.Errorf("stage: %w", err)
	}
	tmp, err := os.MkdirTemp(parent, "."+base+".stage-")
	if err != nil {
		return nil, fmt.Errorf("stage: %w", err)
	}
	clk := &transfer.Clock{}
	osh := &platform.OS{Now: clk.Now}
	h := []effect.Handler{noSync, osh}
	st, err := file.Open(effect.Handle(ctx, h...), tmp, opts)
	if err != nil {
		_ = os.RemoveAll(tmp)
		return nil, err
	}
	fst := &FileStore{Store: st, OS: h}
	s := &Staged{Backend: fst, Clock: clk, Where: dir}
	s.abort = func() error {
		cerr := fst.Close()
		if err := os.RemoveAll(tmp); err != nil {
			return err
		}
		return cerr
	}
	s.publish = func(ctx context.Context) (ops.Backend, error) {
		if err := fst.Close(); err != nil {
			return nil, err
		}
		if err := syncTree(tmp); err != nil {
			return nil, err
		}
		if err := emptyOrAbsent(dir); err != nil {
			return nil, err
		}
		_ = os.Remove(dir) // an empty directory gives way; rename needs it gone
		if err := os.Rename(tmp, dir); err != nil {
			return nil, fmt.Errorf("stage: publish %s: %w", dir, err)
		}
		if err := syncPath(parent); err != nil {
			return nil, err
		}
		real := &platform.OS{}
		st, err := file.Open(effect.Handle(ctx, real), dir, opts)
		if err != nil {
			return nil, err
		}
		return &FileStore{Store: st, OS: []effect.Handler{real}}, nil
	}
	return s, nil
}

func emptyOrAbsent(dir string) error {
	ents, err := os.ReadDir(dir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("stage: %w", err)
	}
	if len(ents) > 0 {
		return fmt.Errorf("%w: %s holds %s", transfer.ErrNotEmpty, dir, ents[0].Name())
	}
	return nil
}

// syncTree fsyncs every file and directory under root, directories after
// what they hold.
func syncTree(root string) error {
	var dirs []string
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			dirs = append(dirs, path)
			return nil
		}
		return syncPath(path)
	})
	if err != nil {
		return fmt.Errorf("stage: sync %s: %w", root, err)
	}
	for i := len(dirs) - 1; i >= 0; i-- {
		if err := syncPath(dirs[i]); err != nil {
			return err
		}
	}
	return nil
}

func syncPath(path string) error {
	f, err := os.Open(path)
	if err != nil {
		return fmt.Errorf("stage: sync %s: %w", path, err)
	}
	defer f.Close()
	if err := f.Sync(); err != nil {
		return fmt.Errorf("stage: sync %s: %w", path, err)
	}
	return nil
}

// Postgres stages a PostgreSQL store for schema (default
// postgres.DefaultSchema) in a schema of its own, <schema>_stage_<hex>.
// Publish closes it and, in one transaction that locks the target's
// log_state row, checks that the target schema (if there is one) holds no
// event, kv entry or snapshot, drops it, renames the staged schema to the
// target's, and opens it again with opts. Abort drops the staged schema.
func Postgres(ctx context.Context, dsn, schema string, opts ...postgres.Option) (*Staged, error) {
	if schema == "" {
		schema = postgres.DefaultSchema
	}
	var b [4]byte
	_, _ = rand.Read(b[:])
	tmp := schema + "_stage_" + hex.EncodeToString(b[:])
	if len(tmp) > 63 {
		return nil, fmt.Errorf("stage: schema name %q is too long to stage beside", schema)
	}
	clk := &transfer.Clock{}
	st, err := postgres.Open(ctx, dsn, append(append([]postgres.Option(nil), opts...), postgres.WithSchema(tmp), postgres.WithClock(clk.Now))...)
	if err != nil {
		return nil, err
	}
	drop := func(ctx context.Context, name string) error {
		conn, err := pgx.Connect(ctx, dsn)
		if err != nil {
			return fmt.Errorf("stage: %w", err)
		}
		defer conn.Close(ctx)
		_, err = conn.Exec(ctx, "DROP SCHEMA IF EXISTS "+pgx.Identifier{name}.Sanitize()+" CASCADE")
		return err
	}
	s := &Staged{Backend: st, Clock: clk, Where: "PostgreSQL schema " + schema}
	s.abort = func() error {
		cerr := st.Close()
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if err := drop(ctx, tmp); err != nil {
			return err
		}
		return cerr
	}
	s.publish = func(ctx context.Context) (ops.Backend, error) {
		if err := st.Close(); err != nil {
			return nil, err
		}
		if err := swapSchema(ctx, dsn, tmp, schema); err != nil {
			return nil, err
		}
		return postgres.Open(ctx, dsn, append(append([]postgres.Option(nil), opts...), postgres.WithSchema(schema))...)
	}
	return s, nil
}

func swapSchema(ctx context.Context, dsn, tmp, schema string) error {
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		return fmt.Errorf("stage: %w", err)
	}
	defer conn.Close(ctx)
	tx, err := conn.Begin(ctx)
	if err != nil {
		return fmt.Errorf("stage: %w", err)
	}
	defer func() { _ = tx.Rollback(ctx) }()
	q := pgx.Identifier{schema}.Sanitize()
	var exists bool
	if err := tx.QueryRow(ctx, "SELECT EXISTS (SELECT 1 FROM pg_namespace WHERE nspname = $1)", schema).Scan(&exists); err != nil {
		return fmt.Errorf("stage: %w", err)
	}
	if exists {
		var tables int
		if err := tx.QueryRow(ctx, `SELECT count(*) FROM pg_tables WHERE schemaname = $1 AND tablename IN ('log_state', 'events', 'kv', 'snapshots')`, schema).Scan(&tables); err != nil {
			return fmt.Errorf("stage: %w", err)
		}
		var other int
		if err := tx.QueryRow(ctx, `SELECT count(*) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = $1 AND c.relkind = 'r' AND c.relname NOT IN ('log_state', 'events', 'kv', 'snapshots', 'streams', 'schema_version')`, schema).Scan(&other); err != nil {
			return fmt.Errorf("stage: %w", err)
		}
		if other > 0 {
			return fmt.Errorf("%w: schema %s holds tables persist did not make", transfer.ErrNotEmpty, schema)
		}
		if tables == 4 {
			if _, err := tx.Exec(ctx, "LOCK TABLE "+q+".log_state IN ACCESS EXCLUSIVE MODE"); err != nil {
				return fmt.Errorf("stage: %w", err)
			}
			var n int64
			if err := tx.QueryRow(ctx, "SELECT (SELECT count(*) FROM "+q+".events) + (SELECT count(*) FROM "+q+".kv) + (SELECT count(*) FROM "+q+".snapshots)").Scan(&n); err != nil {
				return fmt.Errorf("stage: %w", err)
			}
			if n > 0 {
				return fmt.Errorf("%w: schema %s holds %d rows", transfer.ErrNotEmpty, schema, n)
			}
		}
		if _, err := tx.Exec(ctx, "DROP SCHEMA "+q+" CASCADE"); err != nil {
			return fmt.Errorf("stage: drop the empty schema %s: %w", schema, err)
		}
	}
	if _, err := tx.Exec(ctx, "ALTER SCHEMA "+pgx.Identifier{tmp}.Sanitize()+" RENAME TO "+q); err != nil {
		return fmt.Errorf("stage: rename schema %s to %s: %w", tmp, schema, err)
	}
	if err := tx.Commit(ctx); err != nil {
		return fmt.Errorf("stage: publish schema %s: %w", schema, err)
	}
	return nil
}
