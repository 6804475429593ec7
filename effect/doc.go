// Package effect is persist's effect runtime: programs perform operations as
// plain values, and handlers answer them.
//
// An operation is an [Effect]: a struct with exported fields and no behaviour
// that names one operation ("persist/append", "io/fsync"). Embedding
// [Returns] fixes the type of its answer, so [Perform] is typed:
//
//	type KvGet struct {
//		effect.Returns[KvEntry]
//		Key string
//	}
//
//	entry, err := effect.Perform(p, KvGet{Key: "a"}) // entry is a KvEntry
//
// A program is an ordinary Go function of a perform handle [*P]. It never
// imports a backend, never reads the clock, never draws randomness and never
// starts goroutines: everything it needs from the world it performs.
//
// There are two ways to interpret a program, with one meaning:
//
//   - In place ([Handle] and [Call]): the handlers answer on the program's own
//     stack. Performing an effect costs about an interface method call.
//   - Stepped ([Start]): the program is suspended at each effect that its own
//     handlers do not answer, and the host receives a [Suspension] holding the
//     pending effect. The host answers with [Suspension.Resume] or ends the
//     program with [Suspension.Abort]. A suspension is one-shot: resuming or
//     aborting it a second time panics.
//
// Handlers form a stack, innermost first. A handler that does not know an
// effect returns [ErrUnhandled] and the effect goes to the next handler out;
// when no handler answers, [Perform] returns an [*UnhandledError] naming the
// effect (or, in a stepped program, the host is asked). A handler may itself
// perform effects while answering one: the handle it receives sends them to
// the handlers further out, which is how the file backend answers
// persist/append by performing io/write and io/fsync.
//
// Contract for hosts: a panic in a program or a handler comes back as a
// [*PanicError] carrying the value and the stack; a cancelled context makes
// every later Perform return the context's error; a stepped program must be
// resumed to completion or aborted, or its coroutine is never released.
package effect
