package interp

import (
	"errors"
	"fmt"
	"strings"
	"sync"
	"unicode/utf8"

	"rose-ash.com/persist/effect"
)

var (
	// ErrDiverged matches every *DivergenceError.
	ErrDiverged = errors.New("interp: replay diverged")
	// ErrJournalExhausted is what a replay made with ReplayOnly answers when
	// the program performs more effects than its journal holds.
	ErrJournalExhausted = errors.New("interp: journal exhausted")
)

// DivergenceError reports that a replayed program performed an effect other
// than the one its journal holds at that step, or (Ended) that it ended
// with steps of its journal not performed. Want (the journal's) and Got
// (the program's) are the effects' SX printed forms, as [FormatEffect]
// gives them; when Ended, Got is empty and Left counts the steps not
// performed, Step the first of them.
type DivergenceError struct {
	Step      int // index in Journal.Steps, from 0
	Want, Got string
	Ended     bool // the program ended before the journal did
	Left      int  // when Ended: the journal's steps not performed
	Steps     int  // when Ended: the journal's length
}

// Error names the step and shows want (-) against got (+), trimmed to the
// part around the first difference, with a caret under it; for a program
// that ended early it names the step and shows the effect not performed.
func (d *DivergenceError) Error() string {
	if d.Ended {
		return fmt.Sprintf("interp: replay diverged at step %d: the program ended with %d of the journal's %d steps not performed, the next\n- %s",
			d.Step, d.Left, d.Steps, d.Want)
	}
	return fmt.Sprintf("interp: replay diverged at step %d (- journal, + program)\n%s", d.Step, diff(d.Want, d.Got))
}

// Is makes errors.Is(err, ErrDiverged) match.
func (d *DivergenceError) Is(target error) bool { return target == ErrDiverged }

// ReplayOption changes how [Replay] behaves.
type ReplayOption func(*Replayer)

// ReplayOnly makes a replay answer ErrJournalExhausted, rather than going
// live, when the program performs more effects than the journal holds.
func ReplayOnly() ReplayOption { return func(r *Replayer) { r.only = true } }

// Replayer is the handler [Replay] returns.
type Replayer struct {
	j    *Journal
	only bool

	mu   sync.Mutex
	next int
	live int
	div  *DivergenceError
}

// Replay returns a handler that answers effects from j in order, without
// asking the handlers further out. At step i it checks that the performed
// effect equals the journal's step i (deeply, a nil slice or map equal to an
// empty one, times equal when they are the same instant); if it does not, it
// answers a *DivergenceError, and the same error to every later effect.
//
// A program that ends before its journal does has diverged too: [Run],
// [RunStepped] and [Drive] call [Replayer.Finish] on every Replayer among
// their handlers when the program has returned, and answer its
// *DivergenceError (Ended) instead of the program's result. A host that
// drives a program itself calls Finish when it ends.
//
// When the journal is exhausted the replay goes live: it forwards every
// further effect outward, as a program re-run after a crash continues past
// the point its journal reaches. With [ReplayOnly] it answers
// ErrJournalExhausted instead.
//
// Answers are deep copies of the journal's values, so a journal can be
// replayed many times. The journal is not changed. A Replayer is safe for
// concurrent use, but the order of steps is only meaningful for one program.
func Replay(j *Journal, opts ...ReplayOption) *Replayer {
	r := &Replayer{j: j}
	for _, o := range opts {
		o(r)
	}
	return r
}

var _ effect.Handler = (*Replayer)(nil)

// Handle answers e from the journal, or forwards it once the journal is
// exhausted.
func (r *Replayer) Handle(p *effect.P, e effect.Effect) (any, error) {
	r.mu.Lock()
	if r.div != nil {
		defer r.mu.Unlock()
		return nil, r.div
	}
	i := r.next
	st, ok := r.j.step(i)
	if !ok {
		r.live++
		r.mu.Unlock()
		if r.only {
			return nil, fmt.Errorf("%w after %d steps, at %s", ErrJournalExhausted, i, FormatEffect(e))
		}
		return p.Send(e)
	}
	defer r.mu.Unlock()
	if !sameValue(st.Effect, e) {
		r.div = &DivergenceError{Step: i, Want: FormatEffect(st.Effect), Got: FormatEffect(e)}
		return nil, r.div
	}
	r.next++
	return deepCopy(st.Value), st.Err
}

// Finish says whether the program, now ended, used its whole journal: nil
// when it did (or went past it), the divergence found when there was one,
// and otherwise a *DivergenceError with Ended set naming the first step not
// performed, which later calls and Divergence return too.
func (r *Replayer) Finish() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.div != nil {
		return r.div
	}
	n := r.j.Len()
	if r.next >= n {
		return nil
	}
	st, _ := r.j.step(r.next)
	r.div = &DivergenceError{Step: r.next, Want: FormatEffect(st.Effect), Ended: true, Left: n - r.next, Steps: n}
	return r.div
}

// Replayed returns how many effects were answered from the journal.
func (r *Replayer) Replayed() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.next
}

// Live returns how many effects came after the journal was exhausted
// (forwarded, or answered ErrJournalExhausted).
func (r *Replayer) Live() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.live
}

// Divergence returns the divergence found, or nil.
func (r *Replayer) Divergence() *DivergenceError {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.div
}

// diffContext is how many characters of the common part diff keeps on each
// side of the difference.
const diffContext = 24

// diff shows want and got (each one line, as SX prints) as two lines, - and
// +, trimmed to the part around their first difference, with a caret under
// it.
func diff(want, got string) string {
	pre := commonPrefix(want, got)
	suf := commonSuffix(want[pre:], got[pre:])
	trim := func(s string) string {
		start, lead := 0, ""
		if pre > diffContext {
			start = runeStart(s, pre-diffContext)
			lead = "…"
		}
		end, tail := len(s), ""
		if suf > diffContext {
			end = runeStart(s, len(s)-suf+diffContext)
			tail = "…"
		}
		return lead + s[start:end] + tail
	}
	col := utf8.RuneCountInString(want[:pre])
	if pre > diffContext {
		col = 1 + utf8.RuneCountInString(want[runeStart(want, pre-diffContext):pre])
	}
	return "- " + trim(want) + "\n+ " + trim(got) + "\n  " + strings.Repeat(" ", col) + "^"
}

// commonPrefix returns the length in bytes of the longest common prefix of
// a and b that ends on a rune boundary.
func commonPrefix(a, b string) int {
	n := 0
	for n < len(a) && n < len(b) && a[n] == b[n] {
		n++
	}
	return runeStart(a, n)
}

// commonSuffix returns the length in bytes of the longest common suffix of
// a and b that starts on a rune boundary.
func commonSuffix(a, b string) int {
	n := 0
	for n < len(a) && n < len(b) && a[len(a)-1-n] == b[len(b)-1-n] {
		n++
	}
	for n > 0 && !utf8.RuneStart(a[len(a)-n]) {
		n--
	}
	return n
}

// runeStart moves i back to the start of the rune it falls in.
func runeStart(s string, i int) int {
	for i > 0 && i < len(s) && !utf8.RuneStart(s[i]) {
		i--
	}
	return i
}
