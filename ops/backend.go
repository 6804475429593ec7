package ops

import "rose-ash.com/persist/effect"

// Backend is what a storage backend provides: a handler that answers every
// operation of this package, and a way to release it.
//
// Contract:
//   - Handle is safe for concurrent use by many programs. It answers each
//     operation of this package with the result type the descriptor declares,
//     and ErrUnhandled for effects it does not know (so it composes in a
//     handler stack).
//   - It calls Validate before anything else; an invalid operation is an
//     *InvalidError and writes nothing.
//   - Every commit (Append, KvPut, KvDelete, Commit) is atomic: all of it is
//     stored or none. A failed expectation is a *Conflict and writes nothing.
//     An acknowledged commit is visible to every later operation, and, for a
//     durable backend, survives a crash.
//   - Results never alias the backend's memory, and the backend never keeps
//     the caller's slices: bytes are copied in and out.
//   - Wait and KvWait honour the context of the handle they are given.
//   - Stream metadata and deletion are decided by CheckMeta and
//     CheckDelete, and appends by Check against a View that is a
//     StreamView; reads leave out what StreamState.Hides. The retention
//     operations (stream metadata and deletion, kv history, watch and
//     wait, snapshot generations, stat) are answered by a backend that
//     keeps them (its conformance run sets backendtest's Retention);
//     another answers them with ErrUnhandled until it does.
//   - After Close, every operation returns ErrClosed.
type Backend interface {
	effect.Handler
	Close() error
}
