// Package interp runs programs against stacks of handlers, in place or
// stepped, and provides the middleware that observe and steer them: trace,
// record, replay and inject.
//
// # Running
//
// [Run] runs a program in place: the handlers, innermost first, answer on the
// program's own stack. [RunStepped] starts the same program stepped
// (effect.Start) and [Drive]s it: the host sends each pending effect to the
// same handlers and resumes the program with the answer. Both give the same
// effects to the same handlers in the same order, so the same trace and the
// same result. A host that wants to decide step by step uses effect.Start
// and Suspension.Resume directly, and may hand the rest of the run to Drive
// at any point.
//
// # Crashes
//
// A handler that answers with an error matching [ErrCrash] crashes the run,
// as a power cut would: nothing more reaches any handler of the run (an
// effect that gets to one is answered with the crash error without it being
// asked), and the program is ended. Stepped, Drive aborts it; in place, its
// pending Perform and every later one return effect.ErrAborted, as in an
// aborted stepped program. Either way the run returns the crash error, which
// wraps ErrCrash, and not what the program returned. So a crash needs no
// cooperation from the handlers between the one that crashed and the
// program: a backend that wraps the crash in an error of its own still
// crashes the run. A panic in a handler ends the run the same way, with an
// *effect.PanicError.
//
// To do this Run and Drive wrap each handler of the stack in a small guard
// (and Run puts one more innermost); an in-place effect costs two or three
// interface calls more than a bare effect.Handle stack.
//
// # Middleware
//
// Middleware are handlers placed in the stack. Each observes what passes
// through it: placed innermost, the program's own effects; further out, the
// effects the handlers within it perform as well.
//
//   - [Trace] writes one line per answered effect, in SX notation
//     ([FormatStep]): (persist/head {:stream "orders"}) => 3, or
//     ... !! <error message>.
//   - [Record] appends each effect and its answer to a [Journal].
//   - [Replay] answers effects from a Journal without asking the handlers
//     further out, reports the first effect that differs from the journal as
//     a [*DivergenceError], and goes live when the journal runs out (or, with
//     [ReplayOnly], answers [ErrJournalExhausted]). A program that ends
//     before its journal does has diverged too: Run and Drive answer a
//     *DivergenceError naming the first step it did not perform.
//   - [Inject] fails the k-th effect it counts, before or after it reaches the
//     handlers further out, with ErrCrash or any error.
//
// # Decisions
//
//   - Steps and injection points count from 0: Journal.Steps[i] is step i,
//     and Inject{At: 0} fails the first effect it counts.
//   - A crashed effect is not recorded: its answer never reached the program,
//     so a re-run after a restart performs it again (replay the journal,
//     then go live).
//   - Replay compares descriptors deeply but treats a nil slice or map as
//     equal to an empty one, and times by instant, because a journal stored
//     as SX or JSON keeps neither distinction.
//   - Record and Replay deep-copy effects and answers (through exported
//     fields), so programs that reuse slices cannot change a journal.
//   - An error's message is printed on one line: a panic without its stack,
//     and the lines of a longer message joined by " | ".
package interp
