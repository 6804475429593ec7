package interp

import (
	"errors"
	"fmt"
	"io"
	"strings"
	"sync"

	"rose-ash.com/persist/effect"
	"rose-ash.com/persist/sx"
)

// Trace returns a handler that forwards every effect outward and writes one
// line to w for each, once it is answered, as [FormatStep] prints it. Each
// line is one Write, made under a lock, so concurrent programs sharing a
// Trace never interleave within a line. A failed Write is ignored: tracing
// never changes what a program sees.
func Trace(w io.Writer) effect.Handler { return &tracer{w: w} }

type tracer struct {
	mu sync.Mutex
	w  io.Writer
}

func (t *tracer) Handle(p *effect.P, e effect.Effect) (any, error) {
	v, err := p.Send(e)
	line := FormatStep(e, v, err) + "\n"
	t.mu.Lock()
	_, _ = io.WriteString(t.w, line)
	t.mu.Unlock()
	return v, err
}

// FormatStep prints an effect and its answer on one line in SX notation:
//
//	(persist/head {:stream "orders"}) => 3
//	(persist/append {...}) !! persist: conflict on stream "orders": expected head 2, actual head 3
//
// The effect is printed as [FormatEffect] does, the answer (v, when err is
// nil) as sx.FromGo converts it, the error as its message, on one line.
func FormatStep(e effect.Effect, v any, err error) string {
	if err != nil {
		return FormatEffect(e) + " !! " + errorLine(err)
	}
	return FormatEffect(e) + " => " + formatValue(v)
}

// FormatEffect prints an effect as a list of its name and its fields:
// (persist/head {:stream "orders"}); an effect without fields prints as
// (persist/now).
func FormatEffect(e effect.Effect) string {
	if e == nil {
		return "(nil)"
	}
	var head sx.Value = sx.Symbol(e.EffectName())
	if !sx.Symbol(e.EffectName()).Valid() {
		head = e.EffectName()
	}
	body, err := sx.FromGo(e)
	if err != nil {
		return sx.Print(sx.List{head, unconvertible(e, err)})
	}
	if d, ok := body.(*sx.Dict); ok && d.Len() == 0 {
		return sx.Print(sx.List{head})
	}
	return sx.Print(sx.List{head, body})
}

// formatValue prints an answer in SX notation.
func formatValue(v any) string {
	s, err := sx.FromGo(v)
	if err != nil {
		return sx.Print(unconvertible(v, err))
	}
	return sx.Print(s)
}

// unconvertible stands for a value that sx.FromGo cannot convert (a
// descriptor holding a func, say): the list (go "<Go syntax>" "<why>").
func unconvertible(v any, err error) sx.Value {
	return sx.List{sx.Symbol("go"), fmt.Sprintf("%+v", v), err.Error()}
}

// errorLine gives an error's message on one line: a panic without its stack,
// and the lines of a longer message joined by " | ".
func errorLine(err error) string {
	var pe *effect.PanicError
	if errors.As(err, &pe) {
		return fmt.Sprintf("effect: panic: %v", pe.Value)
	}
	msg := err.Error()
	if !strings.Contains(msg, "\n") {
		return msg
	}
	lines := strings.Split(strings.TrimSpace(msg), "\n")
	return strings.Join(lines, " | ")
}
