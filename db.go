package persist

import (
	"context"
	"sync/atomic"
	"time"

	"rose-ash.com/persist/backends/file"
	"rose-ash.com/persist/backends/mem"
	"rose-ash.com/persist/backends/postgres"
	"rose-ash.com/persist/effect"
	"rose-ash.com/persist/interp"
	"rose-ash.com/persist/ops"
	"rose-ash.com/persist/programs"
	"rose-ash.com/persist/remote"
)

// DB is a store opened for use: a backend handler, the middleware in front
// of it, and the hub of its subscriptions. Every method performs its
// operations on that handler stack, as a program run against it would, so
// the method and the program see one store. A DB is safe for concurrent
// use by many goroutines.
type DB struct {
	hs      []effect.Handler // innermost first; the backend is last
	backend ops.Backend
	hub     *programs.Hub
	closed  atomic.Bool
}

// Option configures a DB as it is opened. Each option says which
// constructors it applies to; the others ignore it.
type Option func(*config)

type config struct {
	clock      func() time.Time
	file       file.Options
	middleware []effect.Handler
	pg         []postgres.Option
	remote     remote.Options
}

func configure(opts []Option) config {
	var c config
	for _, o := range opts {
		if o != nil {
			o(&c)
		}
	}
	return c
}

// WithClock sets the clock of the in-memory or PostgreSQL store, which stamps events
// (their At) and answers persist/now, instead of the system clock: for
// reproducible tests and examples. OpenMem and OpenPostgres use it; Open
// and New ignore it (a file store reads the operating system's clock, and
// a backend made by hand brings its own).
func WithClock(now func() time.Time) Option {
	return func(c *config) { c.clock = now }
}

// WithFileOptions tunes the file store (segment size, group commit,
// checkpoints; see file.Options). Open and OpenReadOnly use it; OpenMem and
// New, which have no files, ignore it.
func WithFileOptions(o file.Options) Option {
	return func(c *config) { c.file = o }
}

// WithMiddleware puts handlers in front of the backend, innermost first,
// for every operation the DB performs: interp.Trace(os.Stderr) to print
// each operation and its answer, interp.Record to journal them. Every
// constructor uses it.
func WithMiddleware(hs ...effect.Handler) Option {
	return func(c *config) { c.middleware = append(c.middleware, hs...) }
}

// Open opens the durable file store in dir, creating it when absent, on
// the real operating system. It recovers the store first (see the file
// backend's doc); ctx bounds the recovery only. The process holds the
// store's lock until Close: a second Open of the same dir fails.
func Open(ctx context.Context, dir string, opts ...Option) (*DB, error) {
	return openFile(ctx, "open", dir, opts, file.OpenDir)
}

// OpenReadOnly opens the file store in dir for reading only: it takes no
// lock, so it works beside the process that has the store open, and its
// reads follow what that process writes. Every write answers
// file.ErrReadOnly.
func OpenReadOnly(ctx context.Context, dir string, opts ...Option) (*DB, error) {
	return openFile(ctx, "open read-only", dir, opts, file.OpenDirReadOnly)
}

func openFile(ctx context.Context, verb, dir string, opts []Option, open func(context.Context, string, file.Options) (*file.DB, error)) (*DB, error) {
	if ctx == nil {
		return nil, nilContext(verb)
	}
	c := configure(opts)
	b, err := open(ctx, dir, c.file)
	if err != nil {
		return nil, err
	}
	return newDB(b, c), nil
}

// OpenMem opens an empty in-memory store (backends/mem, the reference
// backend): nothing survives Close or the process. It is the store for
// tests and for state that may be lost.
func OpenMem(opts ...Option) *DB {
	c := configure(opts)
	var mopts []mem.Option
	if c.clock != nil {
		mopts = append(mopts, mem.WithClock(c.clock))
	}
	return newDB(mem.New(mopts...), c)
}

// New makes a DB of any backend: the constructor every backend's opener
// ends in, and the way to use a backend built by hand. The DB owns the
// backend from then on: DB.Close closes it.
func New(b ops.Backend, opts ...Option) *DB {
	return newDB(b, configure(opts))
}

func newDB(b ops.Backend, c config) *DB {
	hs := make([]effect.Handler, 0, len(c.middleware)+1)
	hs = append(append(hs, c.middleware...), b)
	return &DB{hs: hs, backend: b, hub: programs.NewHub()}
}

// Handlers gives the DB's handler stack, innermost first, the backend
// last: what to run a program on by hand, stepped or in place
// (interp.RunStepped(ctx, prog, db.Handlers()...)). The slice is a copy.
func (db *DB) Handlers() []effect.Handler {
	return append([]effect.Handler(nil), db.hs...)
}

// Backend gives the backend the DB was made of (a *mem.Store, a *file.DB,
// …), for what only it offers, such as the file store's Stats.
func (db *DB) Backend() ops.Backend { return db.backend }

// Close closes the backend and releases what it holds (the file store's
// lock and files). Operations that are running finish or answer
// ops.ErrClosed; every later call of every method answers ops.ErrClosed,
// a second Close included.
func (db *DB) Close() error {
	if db.closed.Swap(true) {
		return ops.ErrClosed
	}
	return db.backend.Close()
}

// Run runs a program in place on the DB's handlers (interp.Run): the way
// to do what no method does, or several operations as one program. A
// panic in the program comes back as an *effect.PanicError. For a program
// with a result, use the function Run.
func (db *DB) Run(ctx context.Context, prog func(p *effect.P) error) error {
	_, err := Run(ctx, db, func(p *effect.P) (struct{}, error) { return struct{}{}, prog(p) })
	return err
}

// Run runs a program with a result in place on db's handlers, as DB.Run
// does: the generic form, since a method cannot have type parameters.
func Run[R any](ctx context.Context, db *DB, prog func(p *effect.P) (R, error)) (R, error) {
	var zero R
	if ctx == nil {
		return zero, nilContext("run")
	}
	if prog == nil {
		return zero, &ops.InvalidError{Op: "run", Field: "program", Reason: "nil"}
	}
	return interp.Run(ctx, prog, db.hs...)
}

// handle is the perform handle of one call: the call's context and the
// DB's handlers.
func (db *DB) handle(ctx context.Context, op string) (*effect.P, error) {
	if ctx == nil {
		return nil, nilContext(op)
	}
	return effect.Handle(ctx, db.hs...), nil
}

// call runs a program of package programs on the DB's handlers, a panic
// in a caller's function coming back as an *effect.PanicError.
func call[R any](ctx context.Context, db *DB, op string, prog func(p *effect.P) (R, error)) (R, error) {
	p, err := db.handle(ctx, op)
	if err != nil {
		var zero R
		return zero, err
	}
	return effect.Call(p, prog)
}

// nilContext is the error of a call made with a nil context.
func nilContext(op string) error {
	return &ops.InvalidError{Op: op, Field: "ctx", Reason: "nil context"}
}
