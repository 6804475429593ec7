package file

import (
	"context"
	"os"

	"rose-ash.com/persist/effect"
	"rose-ash.com/persist/ops"
	"rose-ash.com/persist/platform"
)

// DB is a Store running on the real operating system: an ops.Backend.
type DB struct {
	store *Store
	os    *platform.OS
}

var _ ops.Backend = (*DB)(nil)

// OpenDir opens (creating when absent) the store in dir on the real
// operating system. ctx bounds the recovery only. The LOCK file records the
// process's pid (Options.HolderPID) unless opts sets another, and a
// background compaction (Options.CompactInterval) runs on the operating
// system unless opts sets Options.Background.
func OpenDir(ctx context.Context, dir string, opts Options) (*DB, error) {
	if opts.HolderPID == 0 {
		opts.HolderPID = os.Getpid()
	}
	h := &platform.OS{}
	if opts.Background == nil {
		opts.Background = h
	}
	s, err := Open(effect.Handle(ctx, h), dir, opts)
	if err != nil {
		return nil, err
	}
	return &DB{store: s, os: h}, nil
}

// OpenDirReadOnly opens the store in dir on the real operating system for
// reading only (see OpenReadOnly): it takes no lock, so it works beside
// the process that has the store open, and follows what that process
// writes. ctx bounds the recovery only.
func OpenDirReadOnly(ctx context.Context, dir string, opts Options) (*DB, error) {
	h := &platform.OS{}
	s, err := OpenReadOnly(effect.Handle(ctx, h), dir, opts)
	if err != nil {
		return nil, err
	}
	return &DB{store: s, os: h}, nil
}

// Handle answers the operations of package ops. The store's IO goes to the
// operating system. Only Wait honours the context of p: a commit, once
// queued, runs to its end (a cancelled write would leave the store failed).
func (db *DB) Handle(p *effect.P, e effect.Effect) (any, error) {
	ctx := context.Background()
	if _, ok := e.(ops.Wait); ok && p != nil {
		ctx = p.Context()
	}
	return db.store.Handle(effect.Handle(ctx, db.os), e)
}

// Close closes the store.
func (db *DB) Close() error {
	return db.store.Close(effect.Handle(context.Background(), db.os))
}

// Reopen closes the store and opens it again from its directory with the
// same options, as a restart of the process would: the DB then answers
// from what was durable. It must not run beside other operations on the
// DB. When the open fails the DB stays closed.
func (db *DB) Reopen() error {
	p := effect.Handle(context.Background(), db.os)
	old := db.store
	if err := old.Close(p); err != nil {
		return err
	}
	open := Open
	if old.readOnly {
		open = OpenReadOnly
	}
	s, err := open(p, old.dir, old.opts)
	if err != nil {
		return err
	}
	db.store = s
	return nil
}

// Store gives the store, for Stats and Recovery.
func (db *DB) Store() *Store { return db.store }

// Stats summarises the store.
func (db *DB) Stats() Stats { return db.store.Stats() }

// Recovery reports what opening the store did.
func (db *DB) Recovery() RecoveryReport { return db.store.Recovery() }
