// Package mem is persist's in-memory backend: the reference handler that
// defines correct behaviour for every operation of package ops, and the
// default in tests.
//
// A Store answers every persist operation as ops documents it. It is safe
// for concurrent programs: one mutex orders all commits, readers share it.
// Bytes are copied in on write and out on read, so no caller ever aliases
// the store's memory. Commits are atomic because they are decided (by
// ops.Check) and applied under one lock. Wait blocks on a channel that every
// commit closes and replaces, so it wakes on append and honours the
// context of the handle it is answered on; its timeout is measured by the
// real clock. The clock that stamps events and answers persist/now is
// injectable (WithClock), and so is the source of event IDs (WithIDs), so
// a test can make every answer deterministic.
//
// Nothing is durable: the state lives as long as the Store.
package mem
