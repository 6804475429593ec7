package mock

import (
	"fmt"
	"strings"
	"sync/atomic"

	"rose-ash.com/persist/effect"
	"rose-ash.com/persist/platform"
)

// Op is one effect as injectors see it: its index among the effects the
// filesystem received (from 0), its name, the path it concerns (for an
// effect on an FD, the path the FD was opened with) and the effect itself.
type Op struct {
	Index  int
	Name   string
	Path   string
	Effect effect.Effect
}

// Pred chooses effects. Its String is part of an injector's reproducer.
type Pred interface {
	Match(op Op) bool
	String() string
}

type namePred []string

func (p namePred) Match(op Op) bool {
	for _, n := range p {
		if op.Name == n {
			return true
		}
	}
	return false
}

func (p namePred) String() string {
	q := make([]string, len(p))
	for i, n := range p {
		q[i] = fmt.Sprintf("%q", n)
	}
	return "(op " + strings.Join(q, " ") + ")"
}

// Named matches effects with one of the names.
func Named(names ...string) Pred { return namePred(names) }

// Writes matches io/write-at.
func Writes() Pred { return Named(platform.NameWriteAt) }

// Reads matches io/read-at.
func Reads() Pred { return Named(platform.NameReadAt) }

// Syncs matches io/fsync and io/fdatasync.
func Syncs() Pred { return Named(platform.NameFsync, platform.NameFdatasync) }

// Growths match what may need new space: io/write-at and io/fallocate.
func Growths() Pred { return Named(platform.NameWriteAt, platform.NameFallocate) }

type pathPred string

func (p pathPred) Match(op Op) bool { return strings.Contains(op.Path, string(p)) }
func (p pathPred) String() string   { return fmt.Sprintf("(path %q)", string(p)) }

// PathContains matches effects whose path contains s.
func PathContains(s string) Pred { return pathPred(s) }

type indexPred int

func (p indexPred) Match(op Op) bool { return op.Index == int(p) }
func (p indexPred) String() string   { return fmt.Sprintf("(index %d)", int(p)) }

// Index matches the effect with index i (from 0, counted by the
// filesystem).
func Index(i int) Pred { return indexPred(i) }

type anyPred struct{}

func (anyPred) Match(Op) bool  { return true }
func (anyPred) String() string { return "any" }

// Any matches every effect.
func Any() Pred { return anyPred{} }

type andPred []Pred

func (p andPred) Match(op Op) bool {
	for _, q := range p {
		if !q.Match(op) {
			return false
		}
	}
	return true
}

func (p andPred) String() string { return compose("and", p) }

// And matches what every one of ps matches.
func And(ps ...Pred) Pred { return andPred(ps) }

type orPred []Pred

func (p orPred) Match(op Op) bool {
	for _, q := range p {
		if q.Match(op) {
			return true
		}
	}
	return false
}

func (p orPred) String() string { return compose("or", p) }

// Or matches what any of ps matches.
func Or(ps ...Pred) Pred { return orPred(ps) }

type notPred struct{ p Pred }

func (p notPred) Match(op Op) bool { return !p.p.Match(op) }
func (p notPred) String() string   { return "(not " + p.p.String() + ")" }

// Not matches what p does not.
func Not(p Pred) Pred { return notPred{p} }

func compose(word string, ps []Pred) string {
	s := make([]string, len(ps))
	for i, p := range ps {
		s[i] = p.String()
	}
	return "(" + word + " " + strings.Join(s, " ") + ")"
}

// ActKind is what an injector does to the effect it chooses.
type ActKind uint8

const (
	// ActEIO fails the effect with EIO; on io/fsync or io/fdatasync it also
	// drops the file's unsynced changes, which no later sync brings back.
	// On io/sync-dir the directory's unsynced changes stay in doubt: a
	// later sync or crash may still keep them.
	ActEIO ActKind = iota + 1
	// ActENOSPC fails the effect with ENOSPC, changing nothing.
	ActENOSPC
	// ActShort writes only the first N bytes (a random count when N is 0)
	// of an io/write-at and answers io.ErrShortWrite.
	ActShort
	// ActMisdirect carries an io/write-at or io/read-at out N bytes away
	// from its offset (one sector when N is 0) and reports success.
	ActMisdirect
	// ActCrash halts the filesystem before the effect, or after it with
	// After, and answers the crash error.
	ActCrash
)

var actNames = map[ActKind]string{ActEIO: "eio", ActENOSPC: "enospc", ActShort: "short", ActMisdirect: "misdirect", ActCrash: "crash"}

// Action is an injector's action.
type Action struct {
	Kind  ActKind
	N     int  // bytes kept by ActShort, offset moved by ActMisdirect
	After bool // ActCrash: after the effect happened
}

func (a Action) String() string {
	s := actNames[a.Kind]
	if s == "" {
		s = fmt.Sprintf("action-%d", a.Kind)
	}
	if a.N != 0 || a.After {
		parts := []string{s}
		if a.N != 0 {
			parts = append(parts, fmt.Sprintf(":n %d", a.N))
		}
		if a.After {
			parts = append(parts, ":after true")
		}
		return "(" + strings.Join(parts, " ") + ")"
	}
	return s
}

// Injector fails the K-th (from 0) effect that When matches, with Do. It
// counts from when it is given to FS.Inject and fires once. Its String is a
// one-line reproducer.
type Injector struct {
	K    int
	When Pred // nil matches every effect
	Do   Action

	seen  int
	fired atomic.Bool
}

// Fail returns an injector that does do to the k-th effect when matches.
func Fail(k int, when Pred, do Action) *Injector { return &Injector{K: k, When: when, Do: do} }

// count counts op if it matches and reports whether the injector fires on
// it; the filesystem's lock is held.
func (in *Injector) count(op Op) bool {
	if in.fired.Load() || (in.When != nil && !in.When.Match(op)) {
		return false
	}
	n := in.seen
	in.seen++
	if n != in.K {
		return false
	}
	in.fired.Store(true)
	return true
}

// Fired reports whether the injector has fired.
func (in *Injector) Fired() bool { return in.fired.Load() }

func (in *Injector) String() string {
	when := "any"
	if in.When != nil {
		when = in.When.String()
	}
	return fmt.Sprintf("(fail :k %d :when %s :do %s)", in.K, when, in.Do)
}

// InjectedError is the error an injector answers with, inside a
// *platform.Error; it wraps the injected condition (syscall.EIO,
// syscall.ENOSPC, io.ErrShortWrite, the crash error).
type InjectedError struct {
	Injector string
	Err      error
}

func (e *InjectedError) Error() string { return fmt.Sprintf("%v (injected by %s)", e.Err, e.Injector) }

// Unwrap gives the injected condition.
func (e *InjectedError) Unwrap() error { return e.Err }
